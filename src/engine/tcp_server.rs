//! The TCP Server worker: one named thread, one mio loop for the listener and every client,
//! woken for commands by a waker. No thread per client.

use rust_i18n::t;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Socket, Type};

use crate::engine::session::job::{self, JobSink, Turn};
use crate::engine::session::{
    Framer, JobSpec, JobState, JobStatus, Pipeline, PipelineSpec, SendJob, TapCommand, TapHandoff,
};
use crate::engine::worker::{Outbox, SessionId, WAKER_TOKEN, Wake, WorkerHandle};
use crate::net::{NetError, RecvBuffer, recv_spare};
use crate::traffic::Check;

const LISTENER: Token = Token(1);
const FIRST_CLIENT: usize = 2;

/// Most bytes read from one client per loop turn, so a flooding client cannot starve others.
/// Each turn's read becomes one record. With 100 flooding clients, 512 KiB records take as much
/// per second as one client (256 KiB: about 0.8 of it, from twice the events); 1 MiB records
/// were no faster and left more of the allocator's heaps resident after a long flood.
const PER_CLIENT_BUDGET_BYTES: usize = 512 * 1024;
/// Most bytes read from all clients per loop turn before commands are looked at again.
const TURN_BUDGET_BYTES: usize = 8 * 1024 * 1024;
/// In echo mode, a client with this many bytes still to be written back is not read until it
/// takes some: a peer that sends but never reads cannot make the server buffer without end.
const ECHO_BACKLOG_BYTES: usize = 4 * 1024 * 1024;
/// Most connections accepted per loop turn.
const ACCEPT_BUDGET: usize = 1024;
const COMMAND_CAPACITY: usize = 256;
/// Room for a turn's worth of framed records (one event each), as in the TCP Client; bytes in
/// flight stay bounded by `IN_FLIGHT_LIMIT_BYTES`.
const EVENT_CAPACITY: usize = 16 * 1024;
/// Most received bytes between socket and screen; beyond it the worker stops reading and TCP
/// pushes back on the peers, so a flood cannot grow memory past the history cap plus this.
const IN_FLIGHT_LIMIT_BYTES: usize = 32 * 1024 * 1024;
/// Most bytes queued for one client before further sends to it are refused (and said so).
pub const PENDING_LIMIT_BYTES: usize = 8 * 1024 * 1024;
/// After Disconnect, how long queued bytes may take to reach a client that reads nothing,
/// counted from the last byte it took; then the rest is dropped and counted.
const LINGER: Duration = Duration::from_secs(5);
/// A client that finished sending (half-close) is kept for replies, but one that neither
/// sends nor takes anything for this long is closed: most such peers have closed for good,
/// and their kernel forgets the connection after about as long (Linux's `tcp_fin_timeout` is
/// 60 s), so a server that many clients connect to and leave does not run out of
/// descriptors.
const HALF_CLOSED_HOLD: Duration = Duration::from_mins(1);
const BACKPRESSURE_RETRY: Duration = Duration::from_millis(2);
const IDLE_CHECK: Duration = Duration::from_millis(100);

/// A client's id, unique within the worker's lifetime.
pub type ClientId = u64;

/// How and where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    pub bind: SocketAddr,
    pub backlog: i32,
    pub reuse_addr: bool,
    pub echo: bool,
    pub max_clients: Option<usize>,
    pub max_per_ip: Option<usize>,
    pub idle_timeout: Option<Duration>,
    /// The stages every client's received and sent bytes pass through (default: raw, none).
    pub pipeline: PipelineSpec,
}

impl ServerOptions {
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            backlog: 1024,
            reuse_addr: true,
            echo: false,
            max_clients: None,
            max_per_ip: None,
            idle_timeout: None,
            pipeline: PipelineSpec::default(),
        }
    }
}

/// Which clients a send or disconnect concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    All,
    Clients(Vec<ClientId>),
}

/// UI → worker.
#[derive(Debug, Clone)]
pub enum Command {
    Start {
        session: SessionId,
        options: ServerOptions,
    },
    Stop {
        session: SessionId,
    },
    Send {
        session: SessionId,
        target: Target,
        bytes: Vec<u8>,
    },
    /// Start sending by itself to `target` (a repeated payload or a file), through the
    /// outbound chain like a Send; replaces a running one. With `Target::All` each payload
    /// goes to every client connected then; with no client the job waits for one.
    StartJob {
        session: SessionId,
        target: Target,
        job: JobSpec,
    },
    /// Stop the running job at once (bytes already queued still go).
    StopJob {
        session: SessionId,
    },
    /// Closes the clients; bytes already queued for them are written first (for up to
    /// 5 s without progress). A second Disconnect closes at once.
    Disconnect {
        session: SessionId,
        target: Target,
    },
    SetEcho {
        session: SessionId,
        echo: bool,
    },
    /// Puts a tap (a capture) on this worker's sessions, this one and those after it, or
    /// with `None` takes it off (which ends its file).
    SetTap {
        tap: Option<TapHandoff>,
    },
}

impl TapCommand for Command {
    fn set_tap(tap: Option<TapHandoff>) -> Self {
        Self::SetTap { tap }
    }
}

/// Why a client went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCloseReason {
    ClosedByPeer,
    Reset,
    /// We disconnected it (Disconnect or Stop).
    ByUs,
    IdleTimeout,
    /// Refused at accept because a limit was reached; the text names the limit.
    LimitReached(String),
    Error(NetError),
}

/// The words the window and the CLI both use.
impl std::fmt::Display for ClientCloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClosedByPeer => f.write_str(&t!("engine.close.closed_by_peer")),
            Self::Reset => f.write_str(&t!("engine.close.reset_by_peer")),
            Self::ByUs => f.write_str(&t!("engine.close.disconnected_by_us")),
            Self::IdleTimeout => f.write_str(&t!("engine.close.idle_timeout")),
            Self::LimitReached(why) => f.write_str(&t!("engine.close.refused", why = why)),
            Self::Error(e) => f.write_str(&t!("engine.close.error", error = e)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub session: SessionId,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Listening {
        local: SocketAddr,
    },
    StartFailed(NetError),
    Accepted {
        client: ClientId,
        peer: SocketAddr,
    },
    /// A record from a client (a read, or a frame), with its checksum verdict.
    Received {
        client: ClientId,
        peer: SocketAddr,
        bytes: Vec<u8>,
        check: Check,
    },
    Sent {
        client: ClientId,
        peer: SocketAddr,
        bytes: Vec<u8>,
    },
    /// What a client's framer has to say (bytes waiting for a frame's end, a frame cut at the
    /// limit), after the records it concerns.
    Framing {
        client: ClientId,
        peer: SocketAddr,
        notice: crate::engine::session::FrameNotice,
    },
    /// The client finished sending (it shut down its write side, a half-close); it stays
    /// connected for sending until it is disconnected or resets.
    ClientFinished {
        client: ClientId,
        peer: SocketAddr,
    },
    ClientClosed {
        client: ClientId,
        peer: SocketAddr,
        reason: ClientCloseReason,
        /// Bytes accepted for this client that never reached the kernel.
        unsent_bytes: usize,
    },
    /// A repeat's or file send's progress, at most every `job::REPORT_EVERY`, and its end.
    Job(JobStatus),
    /// A job could not start (the server is not running, a file cannot be read…).
    JobRefused {
        reason: String,
    },
    /// A send to this client was refused; nothing of it was queued.
    SendRefused {
        client: ClientId,
        peer: SocketAddr,
        len: usize,
        reason: String,
    },
    /// Accepting failed (e.g. out of file descriptors); the server keeps listening.
    AcceptError {
        message: String,
    },
    /// The server stopped; `clients_closed` clients were disconnected.
    Stopped {
        clients_closed: usize,
    },
    WorkerFailed {
        message: String,
    },
}

crate::engine::worker::impl_worker_event!(Event, EventKind);

/// The UI's end of the worker; dropping it stops and joins the thread.
pub type TcpServerHandle = WorkerHandle<Command, Event>;

impl TcpServerHandle {
    /// Starts the worker thread. `wake` is called whenever events are waiting.
    pub fn spawn(wake: Wake) -> io::Result<Self> {
        Self::start(
            "tcp-server",
            (COMMAND_CAPACITY, EVENT_CAPACITY),
            wake,
            |poll, commands, outbox| Server::new(poll, commands, outbox).run(),
        )
    }
}

struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    /// This end of the connection (the listener's address, with the interface the client
    /// came in on where the listener is bound to all).
    local: SocketAddr,
    pending_writes: VecDeque<Vec<u8>>,
    /// Bytes in `pending_writes` not yet written.
    pending_bytes: usize,
    front_written: usize,
    /// Left out of the read queue until its echo backlog drains.
    stalled: bool,
    last_activity: Instant,
    readable: bool,
    /// The peer shut down its write side: not read any more.
    finished: bool,
    /// A Disconnect waits for the queued bytes; the time of the last progress.
    closing_since: Option<Instant>,
    /// This client's framer state: no client's bytes end up in another's records.
    framer: Box<dyn Framer>,
}

struct Server {
    poll: Poll,
    commands: Receiver<Command>,
    outbox: Outbox<Event>,
    session: SessionId,
    options: Option<ServerOptions>,
    /// The session's stages, built at Start from `ServerOptions::pipeline`.
    pipeline: Pipeline,
    listener: Option<TcpListener>,
    accept_pending: bool,
    clients: HashMap<ClientId, Client>,
    per_ip: HashMap<IpAddr, usize>,
    next_id: ClientId,
    /// Clients with unread data, in the order they will be served (round robin).
    ready: VecDeque<ClientId>,
    recv_buf: RecvBuffer,
    /// What the session sends by itself (a repeat, a file), and to whom.
    job: Option<(Target, SendJob)>,
}

/// A job's way to the server's clients: every client of `target` gets each payload.
struct ServerJobSink<'a> {
    server: &'a mut Server,
    target: &'a Target,
}

impl JobSink for ServerJobSink<'_> {
    fn blocked(&self) -> Result<bool, String> {
        self.server.job_blocked(self.target)
    }

    fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        for id in self.server.targets(self.target) {
            self.server.queue_payload(id, bytes.clone());
        }
        Ok(())
    }
}

fn token_of(id: ClientId) -> Token {
    Token(id as usize + FIRST_CLIENT)
}

fn bind_listener(options: &ServerOptions) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(options.bind), Type::STREAM, None)?;
    socket.set_reuse_address(options.reuse_addr)?;
    if options.bind.is_ipv6() && options.bind.ip().is_unspecified() {
        // Dual stack where the OS allows: IPv4 clients appear as ::ffff:a.b.c.d.
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&options.bind.into())?;
    socket.listen(options.backlog.max(1))?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

impl Server {
    fn new(poll: Poll, commands: Receiver<Command>, outbox: Outbox<Event>) -> Self {
        Self {
            poll,
            commands,
            outbox,
            session: SessionId::default(),
            options: None,
            pipeline: Pipeline::new(&PipelineSpec::default()),
            listener: None,
            accept_pending: false,
            clients: HashMap::new(),
            per_ip: HashMap::new(),
            next_id: 1,
            ready: VecDeque::new(),
            recv_buf: RecvBuffer::new(PER_CLIENT_BUDGET_BYTES),
            job: None,
        }
    }

    fn emit(&mut self, kind: EventKind) {
        self.outbox.push(Event {
            session: self.session,
            kind,
        });
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                self.emit(EventKind::WorkerFailed {
                    message: t!("engine.worker.poll_failed", error = e).into_owned(),
                });
                let _ = self.outbox.flush();
                return;
            }
            for event in &events {
                match event.token() {
                    WAKER_TOKEN => {}
                    LISTENER => self.accept_pending = true,
                    Token(t) => {
                        let id = (t - FIRST_CLIENT) as ClientId;
                        if (event.is_error() || event.is_write_closed())
                            && self.clients.get(&id).is_some_and(|c| c.finished)
                        {
                            // No longer read, so a reset shows only here.
                            self.close_client(id, ClientCloseReason::Reset);
                            continue;
                        }
                        if event.is_writable() {
                            self.write_pending(id);
                        }
                        if (event.is_readable() || event.is_read_closed() || event.is_error())
                            && let Some(c) = self.clients.get_mut(&id)
                            && !c.readable
                            && !c.finished
                        {
                            c.readable = true;
                            self.ready.push_back(id);
                        }
                    }
                }
            }
            if !self.drain_commands() {
                self.stop_listening();
                return;
            }
            if self.accept_pending {
                self.accept_clients();
            }
            if self.outbox.is_empty() && self.outbox.bytes_in_flight() < IN_FLIGHT_LIMIT_BYTES {
                self.read_round();
            }
            self.check_idle();
            self.expire_framers();
            self.send_due_replies();
            self.run_job();
            if !self.outbox.flush() {
                return;
            }
        }
    }

    fn poll_timeout(&mut self) -> Option<Duration> {
        if !self.outbox.is_empty() || self.outbox.bytes_in_flight() >= IN_FLIGHT_LIMIT_BYTES {
            return Some(BACKPRESSURE_RETRY);
        }
        if !self.ready.is_empty() || self.accept_pending {
            return Some(Duration::ZERO);
        }
        let timed = self
            .options
            .as_ref()
            .is_some_and(|o| o.idle_timeout.is_some())
            || self
                .clients
                .values()
                .any(|c| c.finished || c.closing_since.is_some());
        let framer_due = [
            self.framer_deadline(),
            self.pipeline.next_reply_due(),
            self.job_due(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|d| d.saturating_duration_since(Instant::now()));
        match (timed.then_some(IDLE_CHECK), framer_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest time a client's framer ends a record by itself (an idle gap).
    fn framer_deadline(&self) -> Option<Instant> {
        if !self.pipeline.has_timer() {
            return None;
        }
        self.clients
            .values()
            .filter_map(|c| c.framer.deadline())
            .min()
    }

    /// Ends the records of clients whose idle gap passed.
    fn expire_framers(&mut self) {
        let now = Instant::now();
        if self.framer_deadline().is_none_or(|d| d > now) {
            return;
        }
        let due: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.framer.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(c) = self.clients.get_mut(&id) else {
                continue;
            };
            let (peer, session, outbox) = (c.peer, self.session, &mut self.outbox);
            let origin = self.pipeline.origin_now(peer);
            self.pipeline.set_local(c.local);
            self.pipeline
                .expire(c.framer.as_mut(), origin, now, |record, check| {
                    push_record(outbox, session, id, peer, record, check);
                });
            self.emit_framing_notices(id);
            self.send_replies(id);
        }
    }

    /// Passes on what a client's framer said, after the records it concerns.
    fn emit_framing_notices(&mut self, client: ClientId) {
        for (peer, notice) in self.pipeline.take_notices() {
            self.emit(EventKind::Framing {
                client,
                peer,
                notice,
            });
        }
    }

    fn drain_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(command) => self.on_command(command),
                Err(crossbeam_channel::TryRecvError::Empty) => return true,
                Err(crossbeam_channel::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Start { session, options } => {
                if self.listener.is_some() {
                    self.stop_listening();
                }
                self.session = session;
                match bind_listener(&options) {
                    Ok(mut listener) => {
                        if let Err(e) = self.poll.registry().register(
                            &mut listener,
                            LISTENER,
                            Interest::READABLE,
                        ) {
                            self.emit(EventKind::StartFailed(NetError::from_io(&e, options.bind)));
                            return;
                        }
                        let local = listener.local_addr().unwrap_or(options.bind);
                        self.pipeline.renew(&options.pipeline);
                        self.listener = Some(listener);
                        self.options = Some(options);
                        self.accept_pending = true;
                        self.emit(EventKind::Listening { local });
                    }
                    Err(e) => {
                        self.emit(EventKind::StartFailed(NetError::from_io(&e, options.bind)));
                    }
                }
            }
            Command::Stop { session } if session == self.session => self.stop_listening(),
            Command::Send {
                session,
                target,
                bytes,
            } if session == self.session && !bytes.is_empty() => {
                for id in self.targets(&target) {
                    if !self.refuse_send(id, bytes.len()) {
                        self.queue_payload(id, bytes.clone());
                    }
                }
            }
            Command::StartJob {
                session,
                target,
                job,
            } if session == self.session && self.listener.is_some() => {
                self.end_job(JobState::Stopped);
                match SendJob::start(job, Instant::now()) {
                    Ok(job) => self.job = Some((target, job)),
                    Err(reason) => self.emit(EventKind::JobRefused { reason }),
                }
            }
            Command::StartJob { session, .. } => self.outbox.push(Event {
                session,
                kind: EventKind::JobRefused {
                    reason: t!("engine.tcp_server.not_running").into_owned(),
                },
            }),
            Command::StopJob { session } if session == self.session => {
                self.end_job(JobState::Stopped);
            }
            Command::Disconnect { session, target } if session == self.session => {
                for id in self.targets(&target) {
                    let drain = self
                        .clients
                        .get_mut(&id)
                        .filter(|c| !c.pending_writes.is_empty() && c.closing_since.is_none());
                    if let Some(c) = drain {
                        c.closing_since = Some(Instant::now());
                    } else {
                        self.close_client(id, ClientCloseReason::ByUs);
                    }
                }
            }
            Command::SetEcho { session, echo } if session == self.session => {
                if let Some(o) = &mut self.options {
                    o.echo = echo;
                }
            }
            Command::SetTap { tap } => self.pipeline.set_tap(tap.and_then(|t| t.take())),
            _ => {} // a command for a session that was replaced
        }
    }

    /// Says why a send of `len` bytes to one client is refused, if it is; true also when
    /// the client is gone (a target that left).
    fn refuse_send(&mut self, id: ClientId, len: usize) -> bool {
        let Some(c) = self.clients.get_mut(&id) else {
            return true;
        };
        let refusal = if c.closing_since.is_some() {
            Some(t!("engine.tcp_server.client_disconnecting").into_owned())
        } else if c.pending_bytes >= PENDING_LIMIT_BYTES {
            Some(
                t!(
                    "engine.tcp_server.client_not_reading",
                    mib = c.pending_bytes / (1024 * 1024)
                )
                .into_owned(),
            )
        } else {
            None
        };
        if let Some(reason) = refusal {
            let peer = c.peer;
            self.emit(EventKind::SendRefused {
                client: id,
                peer,
                len,
                reason,
            });
            return true;
        }
        false
    }

    /// Queues a payload for one client through the outbound chain (once per client, so each
    /// gets it transformed exactly once) and writes what the socket takes.
    fn queue_payload(&mut self, id: ClientId, bytes: Vec<u8>) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let bytes = self.pipeline.outbound(bytes);
        if bytes.is_empty() {
            return;
        }
        c.pending_bytes += bytes.len();
        c.pending_writes.push_back(bytes);
        self.write_pending(id);
    }

    /// Queues the responders' replies to the client whose records they answer, like the
    /// owner's sends; if it is gone, each is reported as refused.
    fn send_replies(&mut self, id: ClientId) {
        let replies = self.pipeline.take_replies();
        // A timer's answers go to every client: look them up once, not once per reply.
        let by_peer: HashMap<SocketAddr, ClientId> = if replies.len() > 4 {
            self.clients.iter().map(|(id, c)| (c.peer, *id)).collect()
        } else {
            HashMap::new()
        };
        for (to, bytes) in replies {
            // Usually the client just read; a delayed reply may be another client's.
            let target = if self.clients.get(&id).is_some_and(|c| c.peer == to) {
                Some(id)
            } else if !by_peer.is_empty() {
                by_peer.get(&to).copied()
            } else {
                self.clients
                    .iter()
                    .find(|(_, c)| c.peer == to)
                    .map(|(id, _)| *id)
            };
            match target {
                Some(target) => {
                    if !self.refuse_send(target, bytes.len()) {
                        self.queue_payload(target, bytes);
                    }
                }
                None => self.emit(EventKind::SendRefused {
                    client: 0,
                    peer: to,
                    len: bytes.len(),
                    reason: t!("engine.tcp_server.closed_before_reply").into_owned(),
                }),
            }
        }
    }

    /// Sends the delayed replies that fell due.
    fn send_due_replies(&mut self) {
        if self
            .pipeline
            .next_reply_due()
            .is_some_and(|d| d <= Instant::now())
        {
            self.send_replies(0);
        }
    }

    /// The client's stream ended: what its framer holds goes up as a last record.
    fn finish_stream(&mut self, id: ClientId) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let (peer, session, outbox) = (c.peer, self.session, &mut self.outbox);
        let origin = self.pipeline.origin_now(peer);
        self.pipeline.set_local(c.local);
        self.pipeline
            .finish(c.framer.as_mut(), origin, |record, check| {
                push_record(outbox, session, id, peer, record, check);
            });
        self.emit_framing_notices(id);
    }

    /// Whether a job for `target` must wait: no client to send to yet, or one of them has
    /// not read what is queued for it. `Err` when the clients it was for have all left.
    fn job_blocked(&self, target: &Target) -> Result<bool, String> {
        let ids = self.targets(target);
        let present: Vec<&Client> = ids.iter().filter_map(|id| self.clients.get(id)).collect();
        if present.is_empty() {
            return match target {
                Target::All => Ok(true),
                Target::Clients(_) => Err(t!("engine.tcp_server.client_left").into_owned()),
            };
        }
        Ok(present
            .iter()
            .any(|c| c.closing_since.is_some() || c.pending_bytes >= job::QUEUE_AHEAD_BYTES))
    }

    /// When the loop must wake for the job (not while it waits for a client or a socket:
    /// their events wake it then).
    fn job_due(&self) -> Option<Instant> {
        let (target, job) = self.job.as_ref()?;
        if self.job_blocked(target).unwrap_or(false) {
            return None;
        }
        job.due()
    }

    /// Sends what the job has due to its clients, as far as their sockets have room.
    fn run_job(&mut self) {
        let Some((target, mut job)) = self.job.take() else {
            return;
        };
        let turn = job.turn(
            Instant::now(),
            &mut ServerJobSink {
                server: self,
                target: &target,
            },
        );
        match turn {
            Turn::Quiet => self.job = Some((target, job)),
            Turn::Report(status) => {
                self.job = Some((target, job));
                self.emit(EventKind::Job(status));
            }
            Turn::Ended(status) => self.emit(EventKind::Job(status)),
        }
    }

    /// Ends the running job, if any, and says how it ended.
    fn end_job(&mut self, state: JobState) {
        if let Some((_, job)) = self.job.take() {
            self.emit(EventKind::Job(job.status(state)));
        }
    }

    fn targets(&self, target: &Target) -> Vec<ClientId> {
        match target {
            Target::All => {
                let mut ids: Vec<_> = self.clients.keys().copied().collect();
                ids.sort_unstable();
                ids
            }
            Target::Clients(ids) => ids.clone(),
        }
    }

    fn stop_listening(&mut self) {
        self.end_job(JobState::Stopped);
        let Some(mut listener) = self.listener.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut listener);
        drop(listener);
        let ids = self.targets(&Target::All);
        let count = ids.len();
        for id in ids {
            self.close_client(id, ClientCloseReason::ByUs);
        }
        self.options = None;
        self.accept_pending = false;
        self.emit(EventKind::Stopped {
            clients_closed: count,
        });
    }

    fn limit_refusal(&self, peer: SocketAddr) -> Option<String> {
        let options = self.options.as_ref()?;
        if let Some(max) = options.max_clients
            && self.clients.len() >= max
        {
            return Some(t!("engine.tcp_server.max_clients", max = max).into_owned());
        }
        if let Some(max) = options.max_per_ip
            && self.per_ip.get(&peer.ip()).copied().unwrap_or(0) >= max
        {
            return Some(
                t!("engine.tcp_server.max_per_ip", max = max, ip = peer.ip()).into_owned(),
            );
        }
        None
    }

    fn accept_clients(&mut self) {
        for _ in 0..ACCEPT_BUDGET {
            let Some(listener) = &self.listener else {
                self.accept_pending = false;
                return;
            };
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    let id = self.next_id;
                    self.next_id += 1;
                    if let Some(limit) = self.limit_refusal(peer) {
                        drop(stream);
                        self.emit(EventKind::ClientClosed {
                            client: id,
                            peer,
                            reason: ClientCloseReason::LimitReached(limit),
                            unsent_bytes: 0,
                        });
                        continue;
                    }
                    if let Err(e) = self.poll.registry().register(
                        &mut stream,
                        token_of(id),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        self.emit(EventKind::AcceptError {
                            message: t!("engine.tcp_server.cannot_watch", peer = peer, error = e)
                                .into_owned(),
                        });
                        continue;
                    }
                    *self.per_ip.entry(peer.ip()).or_insert(0) += 1;
                    let local = stream
                        .local_addr()
                        .ok()
                        .or_else(|| self.options.as_ref().map(|o| o.bind))
                        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                    self.clients.insert(
                        id,
                        Client {
                            stream,
                            peer,
                            local,
                            pending_writes: VecDeque::new(),
                            pending_bytes: 0,
                            front_written: 0,
                            stalled: false,
                            last_activity: Instant::now(),
                            readable: true,
                            finished: false,
                            closing_since: None,
                            framer: self.pipeline.new_framer(),
                        },
                    );
                    self.ready.push_back(id);
                    self.emit(EventKind::Accepted { client: id, peer });
                    // A responder may greet (a script's on_connect), after the owner heard
                    // of the client.
                    self.pipeline.set_local(local);
                    self.pipeline.see_opened(peer);
                    self.send_replies(id);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: report and try again on the next turn.
                    self.emit(EventKind::AcceptError {
                        message: t!("engine.tcp_server.accept_failed", error = e).into_owned(),
                    });
                    return;
                }
            }
        }
    }

    /// Serves readable clients round robin, each up to its budget, all up to the turn budget.
    /// Records queue in the outbox and go to the UI in one flush at the end of the turn: the
    /// turn is only entered with an empty outbox and room under the in-flight limit, so what
    /// queues here is bounded by the turn budget, and 100 flooding clients cost one poll and
    /// one wake per turn instead of one per client.
    fn read_round(&mut self) {
        // The turn also stops where the bytes not yet taken by the UI would pass the limit.
        let budget = TURN_BUDGET_BYTES
            .min(IN_FLIGHT_LIMIT_BYTES.saturating_sub(self.outbox.bytes_in_flight()));
        let echo = self.options.as_ref().is_some_and(|o| o.echo);
        let mut turn_total = 0;
        let rounds = self.ready.len();
        for _ in 0..rounds {
            if turn_total >= budget {
                break;
            }
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            if echo
                && let Some(c) = self.clients.get_mut(&id)
                && c.pending_bytes >= ECHO_BACKLOG_BYTES
            {
                // Still readable; `write_pending` puts it back once the peer takes some.
                c.stalled = true;
                continue;
            }
            let (got, outcome, still_readable) = self.read_client(id);
            turn_total += got;
            if outcome == Some(ClientCloseReason::ClosedByPeer) {
                self.on_client_finished(id);
            } else if let Some(reason) = outcome {
                self.close_client(id, reason);
            } else if still_readable {
                self.ready.push_back(id);
            }
        }
    }

    /// The client shut down its write side. A half-close, not a close: it may still read, so
    /// it stays for sending (see `HALF_CLOSED_HOLD`).
    fn on_client_finished(&mut self, id: ClientId) {
        self.finish_stream(id);
        self.send_replies(id);
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        c.finished = true;
        c.readable = false;
        c.last_activity = Instant::now();
        let peer = c.peer;
        // Readable would fire again and again at end of stream; errors still show.
        let _ = self
            .poll
            .registry()
            .reregister(&mut c.stream, token_of(id), Interest::WRITABLE);
        self.emit(EventKind::ClientFinished { client: id, peer });
    }

    /// Reads one client up to its budget. Returns bytes read, a close reason if it ended, and
    /// whether it may still have data.
    fn read_client(&mut self, id: ClientId) -> (usize, Option<ClientCloseReason>, bool) {
        let echo = self.options.as_ref().is_some_and(|o| o.echo);
        let Some(client) = self.clients.get_mut(&id) else {
            return (0, None, false);
        };
        // Read into the receive buffer with as few calls as the data allows (`recv_spare`);
        // a large fill then becomes the record as it is (`RecvBuffer`).
        let mut chunk = self.recv_buf.fresh();
        let mut outcome = None;
        let mut more = true;
        while chunk.len() < PER_CLIENT_BUDGET_BYTES {
            match recv_spare(&client.stream, &mut chunk) {
                // Room is left: read again until the socket says it is empty.
                Ok(n) if n > 0 => {}
                // End of stream before the budget: the peer closed.
                Ok(_) => {
                    outcome = Some(ClientCloseReason::ClosedByPeer);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    client.readable = false;
                    more = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    outcome = Some(match e.kind() {
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                            ClientCloseReason::Reset
                        }
                        _ => ClientCloseReason::Error(NetError::from_io(&e, client.peer)),
                    });
                    break;
                }
            }
        }
        let got = chunk.len();
        let peer = client.peer;
        let chunk = self.recv_buf.into_record(chunk);
        if got > 0 {
            client.last_activity = Instant::now();
            // Echo sends back the bytes as they came, whatever the framer keeps of them.
            let echoes = if echo {
                vec![chunk.clone()]
            } else {
                Vec::new()
            };
            // A sequence waiting for a reply sees what its clients send.
            if let Some((target, job)) = &mut self.job
                && job.wants_received()
                && match target {
                    Target::All => true,
                    Target::Clients(ids) => ids.contains(&id),
                }
            {
                job.observe(&chunk);
            }
            let (session, outbox) = (self.session, &mut self.outbox);
            let origin = self.pipeline.origin_now(peer);
            self.pipeline.set_local(client.local);
            self.pipeline
                .receive(client.framer.as_mut(), origin, chunk, |record, check| {
                    push_record(outbox, session, id, peer, record, check);
                });
            if echo {
                // Echo is a send like any other: through the outbound chain. It is not
                // refused at the pending limit; reading stalls at the echo backlog instead.
                for bytes in echoes {
                    let bytes = self.pipeline.outbound(bytes);
                    client.pending_bytes += bytes.len();
                    client.pending_writes.push_back(bytes);
                }
                self.write_pending(id);
            }
            self.emit_framing_notices(id);
            self.send_replies(id);
        }
        (
            got,
            outcome,
            more && self.clients.get(&id).is_some_and(|c| c.readable),
        )
    }

    fn write_pending(&mut self, id: ClientId) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let mut done = Vec::new();
        let mut failure = None;
        while let Some(front) = client.pending_writes.front() {
            match client.stream.write(&front[client.front_written..]) {
                Ok(n) => {
                    client.front_written += n;
                    if n > 0 && client.closing_since.is_some() {
                        client.closing_since = Some(Instant::now());
                    }
                    if client.front_written == front.len() {
                        client.front_written = 0;
                        if let Some(sent) = client.pending_writes.pop_front() {
                            client.pending_bytes -= sent.len();
                            done.push(sent);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(match e.kind() {
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                            ClientCloseReason::Reset
                        }
                        _ => ClientCloseReason::Error(NetError::from_io(&e, client.peer)),
                    });
                    break;
                }
            }
        }
        let peer = client.peer;
        self.pipeline.set_local(client.local);
        if !done.is_empty() {
            client.last_activity = Instant::now();
        }
        let drained = client.closing_since.is_some() && client.pending_writes.is_empty();
        if client.stalled && client.pending_bytes < ECHO_BACKLOG_BYTES {
            client.stalled = false;
            self.ready.push_back(id);
        }
        for bytes in done {
            self.pipeline.see_sent_now(peer, &bytes);
            // Counted like received data: echoed bytes wait for the UI too.
            let len = bytes.len();
            self.outbox.push_payload(
                Event {
                    session: self.session,
                    kind: EventKind::Sent {
                        client: id,
                        peer,
                        bytes,
                    },
                },
                len,
            );
        }
        if let Some(reason) = failure {
            self.close_client(id, reason);
        } else if drained {
            self.close_client(id, ClientCloseReason::ByUs);
        }
    }

    /// Closes clients past their idle timeout, their linger time after Disconnect, or the
    /// hold time after they finished sending.
    fn check_idle(&mut self) {
        let limit = self.options.as_ref().and_then(|o| o.idle_timeout);
        let now = Instant::now();
        let due: Vec<(ClientId, ClientCloseReason)> = self
            .clients
            .iter()
            .filter_map(|(id, c)| {
                let quiet = now.saturating_duration_since(c.last_activity);
                if c.closing_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= LINGER)
                {
                    Some((*id, ClientCloseReason::ByUs))
                } else if limit.is_some_and(|l| quiet >= l) {
                    Some((*id, ClientCloseReason::IdleTimeout))
                } else if c.finished && quiet >= HALF_CLOSED_HOLD {
                    Some((*id, ClientCloseReason::ClosedByPeer))
                } else {
                    None
                }
            })
            .collect();
        for (id, reason) in due {
            self.close_client(id, reason);
        }
    }

    fn close_client(&mut self, id: ClientId, reason: ClientCloseReason) {
        // The last records go up before the close is said.
        self.finish_stream(id);
        let Some(mut client) = self.clients.remove(&id) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut client.stream);
        self.pipeline.set_local(client.local);
        self.pipeline.see_closed(client.peer);
        if let Some(n) = self.per_ip.get_mut(&client.peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&client.peer.ip());
            }
        }
        self.ready.retain(|r| *r != id);
        self.emit(EventKind::ClientClosed {
            client: id,
            peer: client.peer,
            reason,
            unsent_bytes: client.pending_bytes - client.front_written,
        });
        // Replies to its last records have nowhere to go; each is said.
        self.send_replies(id);
    }
}

/// Queues one received record for the owner, counted for back-pressure until it is taken.
fn push_record(
    outbox: &mut Outbox<Event>,
    session: SessionId,
    client: ClientId,
    peer: SocketAddr,
    bytes: Vec<u8>,
    check: Check,
) {
    let len = bytes.len();
    outbox.push_payload(
        Event {
            session,
            kind: EventKind::Received {
                client,
                peer,
                bytes,
                check,
            },
        },
        len,
    );
}
