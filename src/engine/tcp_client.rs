//! The TCP Client worker: one named thread per tab, a mio readiness loop over the connection
//! and a waker for commands, so it never blocks on the socket and never spins.

use rust_i18n::t;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::engine::session::job::{self, JobSink, Turn};
use crate::engine::session::{
    Framer, JobSpec, JobState, JobStatus, Pipeline, PipelineSpec, SendJob, TapCommand, TapHandoff,
};
use crate::engine::worker::{Outbox, SessionId, Wake, WorkerHandle};
use crate::net::{self, NetError, RecvBuffer, recv_spare};
use crate::traffic::Check;

const STREAM: Token = Token(1);

/// Chunks sent to the UI hold up to this many bytes.
const CHUNK_BYTES: usize = 256 * 1024;
/// Most bytes read per loop turn before commands are looked at again.
const READ_BUDGET_BYTES: usize = 4 * 1024 * 1024;
const COMMAND_CAPACITY: usize = 64;
/// Room for a read's worth of framed records: a 512 KiB read of 100-byte lines is 5,000
/// records, one event each; with room for 128 the worker waited for the UI after every 128
/// (about 60,000 records/s). Bytes in flight stay bounded by `IN_FLIGHT_LIMIT_BYTES`.
const EVENT_CAPACITY: usize = 16 * 1024;
/// How long to wait before retrying when the UI's event channel is full.
/// Most received bytes between socket and screen before the worker stops reading.
const IN_FLIGHT_LIMIT_BYTES: usize = 32 * 1024 * 1024;
const BACKPRESSURE_RETRY: Duration = Duration::from_millis(2);
/// Most bytes queued for the peer before further sends are refused (and said so): a peer that
/// never reads cannot make the worker buffer without end. The CLI stays under it by waiting
/// for its own bytes to be written before it reads more input.
pub const PENDING_LIMIT_BYTES: usize = 16 * 1024 * 1024;
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Long connections stay open; short ones open for each send and close after the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ConnectionMode {
    #[default]
    Long,
    Short,
}

/// Everything a session needs to know about where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub connect_timeout: Duration,
    pub mode: ConnectionMode,
    /// Short mode: close after this long without data from the peer.
    pub idle_timeout: Duration,
    pub auto_reconnect: bool,
    pub nodelay: bool,
    pub keepalive: bool,
    /// After Disconnect, how long to keep writing queued bytes to a peer that takes none,
    /// counted from the last byte it took; then the rest is dropped and the count reported.
    pub linger: Duration,
    /// The stages received and sent bytes pass through (default: raw, none).
    pub pipeline: PipelineSpec,
}

impl ConnectOptions {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            connect_timeout: Duration::from_secs(5),
            mode: ConnectionMode::Long,
            idle_timeout: Duration::from_secs(2),
            auto_reconnect: false,
            nodelay: false,
            keepalive: false,
            linger: Duration::from_secs(5),
            pipeline: PipelineSpec::default(),
        }
    }
}

/// UI → worker.
#[derive(Debug, Clone)]
pub enum Command {
    /// Start a session: long mode connects now; short mode waits for the first send.
    Connect {
        session: SessionId,
        options: ConnectOptions,
    },
    /// Send bytes in the given session (queued while connecting).
    Send { session: SessionId, bytes: Vec<u8> },
    /// Start sending by itself: a repeated payload or a file, through the outbound chain
    /// like a Send; replaces a running one. Progress comes as [`EventKind::Job`].
    StartJob { session: SessionId, job: JobSpec },
    /// Stop the running job at once (bytes already queued still go).
    StopJob { session: SessionId },
    /// End the session: bytes already queued are written first (for up to the linger time
    /// without progress), then the connection closes. A second Disconnect closes at once.
    Disconnect { session: SessionId },
    /// Puts a tap (a capture) on this worker's sessions, this one and those after it, or
    /// with `None` takes it off (which ends its file).
    SetTap { tap: Option<TapHandoff> },
    /// Makes the worker panic, for tests that check what a tab does when its worker dies
    /// (debug builds only: a release build has no such command).
    #[cfg(debug_assertions)]
    #[doc(hidden)]
    InjectPanic,
}

impl TapCommand for Command {
    fn set_tap(tap: Option<TapHandoff>) -> Self {
        Self::SetTap { tap }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed its side (read returned 0).
    ClosedByPeer,
    /// The peer reset the connection.
    Reset,
    /// We closed it (Disconnect, or a new Connect).
    ByUser,
    /// Short mode: the peer was silent for the idle timeout.
    IdleTimeout,
    /// Reading or writing failed.
    Error(NetError),
}

/// The words the window and the CLI both use.
impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClosedByPeer => f.write_str(&t!("engine.close.closed_by_peer")),
            Self::Reset => f.write_str(&t!("engine.close.reset_by_peer")),
            Self::ByUser => f.write_str(&t!("engine.close.closed_by_you")),
            Self::IdleTimeout => f.write_str(&t!("engine.close.idle_closed")),
            Self::Error(e) => write!(f, "{e}"),
        }
    }
}

/// Worker → UI. Every event names the session it belongs to.
#[derive(Debug, Clone)]
pub struct Event {
    pub session: SessionId,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    /// Short mode is armed: each send will open a connection.
    Ready,
    /// Connecting to one resolved address, from `local` (the port the kernel picked, when it
    /// says: the connection's `SYN_SENT` can be watched from here on).
    Connecting {
        remote: SocketAddr,
        local: Option<SocketAddr>,
    },
    Connected {
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// A record from the peer (a read, or a frame), with its checksum verdict.
    Received {
        peer: SocketAddr,
        bytes: Vec<u8>,
        check: Check,
    },
    /// Bytes fully handed to the kernel.
    Sent { peer: SocketAddr, bytes: Vec<u8> },
    /// What the session's framer has to say (bytes waiting for a frame's end, a frame cut at
    /// the limit), after the records it concerns.
    Framing {
        peer: SocketAddr,
        notice: crate::engine::session::FrameNotice,
    },
    /// The peer finished sending (it shut down its write side, a half-close). The connection
    /// stays open for sending until the user disconnects or the peer resets it.
    PeerFinished { remote: SocketAddr },
    Closed {
        remote: SocketAddr,
        reason: CloseReason,
        /// Bytes accepted for sending that never reached the kernel (0 after a clean close).
        unsent_bytes: usize,
    },
    /// The connection could not be made (refused, timed out, not resolved, …).
    ConnectFailed(NetError),
    /// A send could not be done (not connected).
    SendRejected { reason: String },
    /// A repeat's or file send's progress, at most every `job::REPORT_EVERY`, and its end.
    Job(JobStatus),
    /// Auto-reconnect will try again after `delay`.
    ReconnectScheduled { delay: Duration, attempt: u32 },
    /// The session ended; the worker is idle.
    Stopped,
    /// The worker thread panicked; it must be restarted.
    WorkerFailed { message: String },
}

crate::engine::worker::impl_worker_event!(Event, EventKind);

/// The UI's end of the worker; dropping it stops and joins the thread.
pub type TcpClientHandle = WorkerHandle<Command, Event>;

impl TcpClientHandle {
    /// Starts the worker thread. `wake` is called whenever events are waiting.
    pub fn spawn(wake: Wake) -> io::Result<Self> {
        Self::start(
            "tcp-client",
            (COMMAND_CAPACITY, EVENT_CAPACITY),
            wake,
            |poll, commands, outbox| Worker::new(poll, commands, outbox).run(),
        )
    }
}

enum Conn {
    Idle,
    Connecting {
        stream: TcpStream,
        remote: SocketAddr,
        /// Addresses still to try if this one fails.
        rest: Vec<SocketAddr>,
        deadline: Instant,
    },
    Connected {
        stream: TcpStream,
        remote: SocketAddr,
        readable: bool,
        writable: bool,
        /// The peer shut down its write side: nothing more to read, sending goes on.
        peer_finished: bool,
        /// This connection's framer state; a new connection starts a new stream.
        framer: Box<dyn Framer>,
    },
}

struct Worker {
    poll: Poll,
    commands: Receiver<Command>,
    outbox: Outbox<Event>,
    session: SessionId,
    options: Option<ConnectOptions>,
    /// The session's stages, built at Connect from `ConnectOptions::pipeline`.
    pipeline: Pipeline,
    conn: Conn,
    /// Bytes waiting to be written, front first, with how much of the front is written.
    pending_writes: VecDeque<Vec<u8>>,
    /// Bytes in `pending_writes`, the written part of the front included.
    pending_bytes: usize,
    front_written: usize,
    /// A Disconnect is waiting for the queued bytes to be written; the time of the last
    /// progress, from which the linger time runs.
    closing_since: Option<Instant>,
    idle_deadline: Option<Instant>,
    reconnect_at: Option<Instant>,
    reconnect_attempt: u32,
    recv_buf: RecvBuffer,
    /// What the session sends by itself (a repeat, a file).
    job: Option<SendJob>,
}

impl Worker {
    fn new(poll: Poll, commands: Receiver<Command>, outbox: Outbox<Event>) -> Self {
        Self {
            poll,
            commands,
            outbox,
            session: SessionId::default(),
            options: None,
            pipeline: Pipeline::new(&PipelineSpec::default()),
            conn: Conn::Idle,
            pending_writes: VecDeque::new(),
            pending_bytes: 0,
            front_written: 0,
            closing_since: None,
            idle_deadline: None,
            reconnect_at: None,
            reconnect_attempt: 0,
            recv_buf: RecvBuffer::new(CHUNK_BYTES),
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
        let mut events = Events::with_capacity(16);
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
                if event.token() == STREAM {
                    self.on_stream_event(
                        event.is_readable() || event.is_read_closed() || event.is_error(),
                        event.is_writable() || event.is_write_closed() || event.is_error(),
                        event.is_error() || event.is_write_closed(),
                    );
                }
            }
            if !self.drain_commands() {
                return;
            }
            self.on_timers();
            self.progress_connection();
            self.run_job();
            if !self.outbox.flush() {
                return;
            }
        }
    }

    fn poll_timeout(&mut self) -> Option<Duration> {
        let now = Instant::now();
        if !self.outbox.is_empty() || self.outbox.bytes_in_flight() >= IN_FLIGHT_LIMIT_BYTES {
            return Some(BACKPRESSURE_RETRY);
        }
        if let Conn::Connected {
            readable: true,
            peer_finished: false,
            ..
        } = self.conn
        {
            return Some(Duration::ZERO);
        }
        let deadlines = [
            match &self.conn {
                Conn::Connecting { deadline, .. } => Some(*deadline),
                _ => None,
            },
            self.idle_deadline,
            self.reconnect_at,
            self.linger_deadline(),
            self.framer_deadline(),
            self.pipeline.next_reply_due(),
            self.job_due(),
        ];
        deadlines
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.saturating_duration_since(now))
    }

    /// When the connection's framer ends a record by time (an idle gap).
    fn framer_deadline(&self) -> Option<Instant> {
        match &self.conn {
            Conn::Connected { framer, .. } if self.pipeline.has_timer() => framer.deadline(),
            _ => None,
        }
    }

    /// Ends the framer's record if its idle gap passed.
    fn expire_framer(&mut self, now: Instant) {
        if self.framer_deadline().is_none_or(|d| d > now) {
            return;
        }
        let Conn::Connected { framer, remote, .. } = &mut self.conn else {
            return;
        };
        let (peer, session, outbox) = (*remote, self.session, &mut self.outbox);
        let origin = self.pipeline.origin_now(peer);
        self.pipeline
            .expire(framer.as_mut(), origin, now, |record, check| {
                push_record(outbox, session, peer, record, check);
            });
        self.emit_framing_notices();
        self.send_replies();
    }

    /// Passes on what the framer said, after the records it concerns.
    fn emit_framing_notices(&mut self) {
        for (peer, notice) in self.pipeline.take_notices() {
            self.emit(EventKind::Framing { peer, notice });
        }
    }

    fn linger_deadline(&self) -> Option<Instant> {
        let linger = self.options.as_ref().map_or(Duration::ZERO, |o| o.linger);
        self.closing_since.map(|since| since + linger)
    }

    fn on_stream_event(&mut self, readable: bool, writable: bool, failed: bool) {
        if let Conn::Connected {
            peer_finished: true,
            stream,
            remote,
            ..
        } = &self.conn
            && failed
        {
            // Not read any more, so a reset shows only here.
            let reason = match stream.take_error() {
                Ok(Some(e))
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    CloseReason::Error(NetError::from_io(&e, *remote))
                }
                _ => CloseReason::Reset,
            };
            self.close(reason);
            return;
        }
        match &mut self.conn {
            Conn::Connected {
                readable: r,
                writable: w,
                ..
            } => {
                *r |= readable;
                *w |= writable;
            }
            Conn::Connecting { .. } => {
                if readable || writable {
                    self.check_connect();
                }
            }
            Conn::Idle => {}
        }
    }

    /// Handles every waiting command. Returns false when the UI hung up (shutdown).
    fn drain_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(command) => self.on_command(command),
                Err(crossbeam_channel::TryRecvError::Empty) => return true,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    self.close(CloseReason::ByUser);
                    return false;
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Connect { session, options } => {
                if !matches!(self.conn, Conn::Idle) {
                    self.close(CloseReason::ByUser);
                }
                self.end_job(JobState::Stopped);
                self.session = session;
                self.clear_pending();
                self.closing_since = None;
                self.reconnect_attempt = 0;
                self.reconnect_at = None;
                let mode = options.mode;
                self.pipeline.renew(&options.pipeline);
                self.options = Some(options);
                match mode {
                    ConnectionMode::Long => self.start_connect(),
                    ConnectionMode::Short => self.emit(EventKind::Ready),
                }
            }
            Command::Send { session, bytes } => {
                if session != self.session || self.options.is_none() {
                    self.emit_for(
                        session,
                        EventKind::SendRejected {
                            reason: t!("engine.tcp_client.not_connected").into_owned(),
                        },
                    );
                    return;
                }
                if let Err(reason) = self.queue_send(bytes) {
                    self.emit(EventKind::SendRejected { reason });
                }
            }
            Command::StartJob { session, job } => {
                if session != self.session || self.options.is_none() {
                    self.emit_for(
                        session,
                        EventKind::SendRejected {
                            reason: t!("engine.tcp_client.not_connected").into_owned(),
                        },
                    );
                    return;
                }
                self.end_job(JobState::Stopped);
                match SendJob::start(job, Instant::now()) {
                    Ok(job) => self.job = Some(job),
                    Err(reason) => self.emit(EventKind::SendRejected { reason }),
                }
            }
            Command::StopJob { session } => {
                if session == self.session {
                    self.end_job(JobState::Stopped);
                }
            }
            Command::Disconnect { session } => {
                if session != self.session {
                    return;
                }
                let draining = matches!(self.conn, Conn::Connected { .. })
                    && !self.pending_writes.is_empty()
                    && self.closing_since.is_none();
                self.end_job(JobState::Stopped);
                if draining {
                    self.closing_since = Some(Instant::now());
                } else {
                    self.finish_session();
                }
            }
            Command::SetTap { tap } => {
                self.pipeline.set_tap(tap.and_then(|t| t.take()));
            }
            #[cfg(debug_assertions)]
            #[allow(clippy::panic)]
            Command::InjectPanic => {
                let message = "a panic injected by a test"; // i18n-exempt: a test's own fault
                panic!("{message}");
            }
        }
    }

    /// Queues `bytes` for the peer through the outbound chain, or says why not (nothing of
    /// it is then queued).
    fn queue_send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Some(reason) = self.refusal() {
            return Err(reason);
        }
        // After the refusal: a refused payload must not advance a stage's state.
        let bytes = self.pipeline.outbound(bytes);
        if bytes.is_empty() {
            return Ok(());
        }
        self.pending_bytes += bytes.len();
        let short = self.is_short();
        match self.conn {
            Conn::Connected { .. } => {
                self.pending_writes.push_back(bytes);
                self.write_pending();
            }
            Conn::Connecting { .. } => self.pending_writes.push_back(bytes),
            Conn::Idle if short => {
                self.pending_writes.push_back(bytes);
                self.start_connect();
            }
            Conn::Idle => {
                self.pending_bytes -= bytes.len();
                return Err(if self.reconnect_at.is_some() {
                    t!("engine.tcp_client.waiting_to_reconnect").into_owned()
                } else {
                    t!("engine.tcp_client.not_connected").into_owned()
                });
            }
        }
        Ok(())
    }

    /// Whether the job must wait: the connection is not up yet, or the peer has not read
    /// what is queued (so a file is never read far ahead of the socket).
    fn job_blocked(&self) -> bool {
        match self.conn {
            Conn::Connecting { .. } => true,
            Conn::Connected { .. } => self.pending_bytes >= job::QUEUE_AHEAD_BYTES,
            Conn::Idle => self.reconnect_at.is_some(),
        }
    }

    /// When the loop must wake for the job (never while it waits for the socket: the
    /// socket's writability wakes it then).
    fn job_due(&self) -> Option<Instant> {
        if self.job_blocked() {
            return None;
        }
        self.job.as_ref().and_then(SendJob::due)
    }

    /// Sends what the job has due, as far as the socket has room.
    fn run_job(&mut self) {
        let Some(mut job) = self.job.take() else {
            return;
        };
        match job.turn(Instant::now(), self) {
            Turn::Quiet => self.job = Some(job),
            Turn::Report(status) => {
                self.job = Some(job);
                self.emit(EventKind::Job(status));
            }
            Turn::Ended(status) => self.emit(EventKind::Job(status)),
        }
    }

    /// Ends the running job, if any, and says how it ended.
    fn end_job(&mut self, state: JobState) {
        if let Some(job) = self.job.take() {
            self.emit(EventKind::Job(job.status(state)));
        }
    }

    /// Why a send must be refused now, if it must.
    fn refusal(&self) -> Option<String> {
        if self.closing_since.is_some() {
            return Some(t!("engine.tcp_client.closing").into_owned());
        }
        if self.pending_bytes >= PENDING_LIMIT_BYTES {
            return Some(
                t!(
                    "engine.tcp_client.peer_not_reading",
                    mib = self.pending_bytes / (1024 * 1024)
                )
                .into_owned(),
            );
        }
        None
    }

    /// Ends the session: closes the connection (reporting what was left unsent) and goes idle.
    fn finish_session(&mut self) {
        self.end_job(JobState::Stopped);
        self.close(CloseReason::ByUser);
        self.options = None;
        self.reconnect_at = None;
        self.closing_since = None;
        self.clear_pending();
        self.emit(EventKind::Stopped);
    }

    /// Drops the queued bytes; returns how many had not been written.
    fn clear_pending(&mut self) -> usize {
        let unsent = self.pending_bytes - self.front_written;
        self.pending_writes.clear();
        self.pending_bytes = 0;
        self.front_written = 0;
        unsent
    }

    fn emit_for(&mut self, session: SessionId, kind: EventKind) {
        self.outbox.push(Event { session, kind });
    }

    fn is_short(&self) -> bool {
        self.options
            .as_ref()
            .is_some_and(|o| o.mode == ConnectionMode::Short)
    }

    fn start_connect(&mut self) {
        let Some(options) = self.options.clone() else {
            return;
        };
        self.reconnect_at = None;
        match net::resolve(&options.host, options.port) {
            Ok(addrs) => self.try_addresses(addrs),
            Err(e) => self.connect_failed(e),
        }
    }

    /// Starts a non-blocking connect to the first address that accepts one.
    fn try_addresses(&mut self, mut addrs: Vec<SocketAddr>) {
        let timeout = self
            .options
            .as_ref()
            .map_or(Duration::from_secs(5), |o| o.connect_timeout);
        addrs.reverse();
        let mut last_error = None;
        while let Some(remote) = addrs.pop() {
            match TcpStream::connect(remote) {
                Ok(mut stream) => {
                    if let Err(e) = self.poll.registry().register(
                        &mut stream,
                        STREAM,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        last_error = Some(NetError::from_io(&e, remote));
                        continue;
                    }
                    let local = stream.local_addr().ok();
                    self.emit(EventKind::Connecting { remote, local });
                    addrs.reverse();
                    self.conn = Conn::Connecting {
                        stream,
                        remote,
                        rest: addrs,
                        deadline: Instant::now() + timeout,
                    };
                    return;
                }
                Err(e) => last_error = Some(NetError::from_io(&e, remote)),
            }
        }
        if let Some(e) = last_error {
            self.connect_failed(e);
        }
    }

    /// Called when the connecting socket reports readiness: finished, failed or spurious.
    fn check_connect(&mut self) {
        let Conn::Connecting { stream, remote, .. } = &self.conn else {
            return;
        };
        let remote = *remote;
        let outcome = match stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match stream.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok(()) => self.on_connected(),
            Err(e) => self.next_address_or_fail(NetError::from_io(&e, remote)),
        }
    }

    fn next_address_or_fail(&mut self, error: NetError) {
        let conn = std::mem::replace(&mut self.conn, Conn::Idle);
        if let Conn::Connecting {
            mut stream, rest, ..
        } = conn
        {
            let _ = self.poll.registry().deregister(&mut stream);
            if !rest.is_empty() {
                self.try_addresses(rest);
                if !matches!(self.conn, Conn::Idle) {
                    return;
                }
            }
        }
        self.connect_failed(error);
    }

    fn on_connected(&mut self) {
        let conn = std::mem::replace(&mut self.conn, Conn::Idle);
        let Conn::Connecting { stream, remote, .. } = conn else {
            return;
        };
        if let Some(options) = &self.options {
            let _ = stream.set_nodelay(options.nodelay);
            let _ = socket2::SockRef::from(&stream).set_keepalive(options.keepalive);
        }
        let local = stream.local_addr().unwrap_or(remote);
        self.pipeline.set_local(local);
        self.reconnect_attempt = 0;
        self.emit(EventKind::Connected { local, remote });
        self.conn = Conn::Connected {
            stream,
            remote,
            readable: true,
            writable: true,
            peer_finished: false,
            framer: self.pipeline.new_framer(),
        };
        self.touch_idle();
        // A responder may greet (a script's on_connect), after what the owner queued.
        self.pipeline.see_opened(remote);
        self.send_replies();
        self.write_pending();
    }

    fn connect_failed(&mut self, error: NetError) {
        self.conn = Conn::Idle;
        self.emit(EventKind::ConnectFailed(error));
        self.clear_pending();
        self.schedule_reconnect();
    }

    fn schedule_reconnect(&mut self) {
        let wanted = self
            .options
            .as_ref()
            .is_some_and(|o| o.auto_reconnect && o.mode == ConnectionMode::Long);
        if !wanted {
            return;
        }
        let factor = 1u32 << self.reconnect_attempt.min(16);
        let delay = BACKOFF_START.saturating_mul(factor).min(BACKOFF_MAX);
        self.reconnect_attempt += 1;
        self.reconnect_at = Some(Instant::now() + delay);
        self.emit(EventKind::ReconnectScheduled {
            delay,
            attempt: self.reconnect_attempt,
        });
    }

    fn touch_idle(&mut self) {
        self.idle_deadline = self
            .options
            .as_ref()
            .filter(|o| o.mode == ConnectionMode::Short)
            .map(|o| Instant::now() + o.idle_timeout);
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        if let Conn::Connecting {
            deadline, remote, ..
        } = &self.conn
            && now >= *deadline
        {
            let timeout_ms = self
                .options
                .as_ref()
                .map_or(0, |o| o.connect_timeout.as_millis() as u64);
            let remote = *remote;
            self.next_address_or_fail(NetError::TimedOut {
                addr: remote,
                timeout_ms,
            });
        }
        if self.idle_deadline.is_some_and(|d| now >= d) {
            self.idle_deadline = None;
            if matches!(self.conn, Conn::Connected { .. }) {
                self.close(CloseReason::IdleTimeout);
            }
        }
        if self.linger_deadline().is_some_and(|d| now >= d) {
            // The peer took nothing for the linger time: give up on the rest.
            self.finish_session();
        }
        self.expire_framer(now);
        if self.pipeline.next_reply_due().is_some_and(|d| d <= now) {
            self.send_replies();
        }
        if self.reconnect_at.is_some_and(|d| now >= d) {
            self.reconnect_at = None;
            if matches!(self.conn, Conn::Idle) {
                self.start_connect();
            }
        }
    }

    fn progress_connection(&mut self) {
        let (readable, writable) = match &self.conn {
            Conn::Connected {
                readable,
                writable,
                peer_finished,
                ..
            } => (*readable && !*peer_finished, *writable),
            _ => return,
        };
        if writable && !self.pending_writes.is_empty() {
            self.write_pending();
        }
        if readable
            && self.outbox.is_empty()
            && self.outbox.bytes_in_flight() < IN_FLIGHT_LIMIT_BYTES
        {
            self.read_available();
        }
    }

    /// Reads until the socket is drained or the budget is spent, sending large chunks. Reads
    /// go straight into the chunk that becomes the record.
    fn read_available(&mut self) {
        let mut chunk = self.recv_buf.fresh();
        let mut total = 0;
        let outcome = loop {
            if total >= READ_BUDGET_BYTES {
                break None;
            }
            if chunk.len() == chunk.capacity() {
                let full = std::mem::replace(&mut chunk, self.recv_buf.fresh());
                self.push_received(full);
            }
            let Conn::Connected {
                stream, readable, ..
            } = &mut self.conn
            else {
                return;
            };
            match recv_spare(stream, &mut chunk) {
                Ok(0) => break Some(CloseReason::ClosedByPeer),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    *readable = false;
                    break None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    break Some(match e.kind() {
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                            CloseReason::Reset
                        }
                        _ => {
                            CloseReason::Error(NetError::from_io(&e, self.remote_or_unspecified()))
                        }
                    });
                }
            }
        };
        // Also when empty: the buffer goes back for the next read.
        self.push_received(chunk);
        self.send_replies();
        if total > 0 {
            self.touch_idle();
        }
        match outcome {
            Some(CloseReason::ClosedByPeer) => self.on_peer_finished(),
            Some(reason) => self.close(reason),
            None => {}
        }
    }

    /// The peer shut down its write side. A half-close, not a close: the peer may still read,
    /// so sending goes on. Short connections end here (the reply is complete), and so do
    /// connections that reconnect by themselves (the server went away).
    fn on_peer_finished(&mut self) {
        let reconnects = self.options.as_ref().is_some_and(|o| o.auto_reconnect);
        if self.is_short() || reconnects {
            self.close(CloseReason::ClosedByPeer);
            return;
        }
        self.finish_stream();
        self.send_replies();
        let Conn::Connected {
            stream,
            remote,
            readable,
            peer_finished,
            ..
        } = &mut self.conn
        else {
            return;
        };
        *readable = false;
        *peer_finished = true;
        let remote = *remote;
        // Readable would fire again and again at end of stream; errors still show.
        let _ = self
            .poll
            .registry()
            .reregister(stream, STREAM, Interest::WRITABLE);
        self.emit(EventKind::PeerFinished { remote });
    }

    fn remote_or_unspecified(&self) -> SocketAddr {
        match &self.conn {
            Conn::Connected { remote, .. } | Conn::Connecting { remote, .. } => *remote,
            Conn::Idle => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// Hands one read to the pipeline (framer, then stages); its records go to the owner.
    fn push_received(&mut self, filled: Vec<u8>) {
        let bytes = self.recv_buf.into_record(filled);
        if bytes.is_empty() {
            return;
        }
        if let Some(job) = &mut self.job
            && job.wants_received()
        {
            job.observe(&bytes);
        }
        let Conn::Connected { framer, remote, .. } = &mut self.conn else {
            return;
        };
        let (peer, session, outbox) = (*remote, self.session, &mut self.outbox);
        let origin = self.pipeline.origin_now(peer);
        self.pipeline
            .receive(framer.as_mut(), origin, bytes, |record, check| {
                push_record(outbox, session, peer, record, check);
            });
        self.emit_framing_notices();
    }

    /// The connection's stream ended: what its framer holds goes up as a last record.
    fn finish_stream(&mut self) {
        let Conn::Connected { framer, remote, .. } = &mut self.conn else {
            return;
        };
        let (peer, session, outbox) = (*remote, self.session, &mut self.outbox);
        let origin = self.pipeline.origin_now(peer);
        self.pipeline
            .finish(framer.as_mut(), origin, |record, check| {
                push_record(outbox, session, peer, record, check);
            });
        self.emit_framing_notices();
    }

    /// Queues the responders' replies like the owner's sends (outbound chain, limits), on
    /// the connection they answer; if it is gone, says how many were not sent.
    fn send_replies(&mut self) {
        let mut lost = 0;
        for (_, bytes) in self.pipeline.take_replies() {
            if !matches!(self.conn, Conn::Connected { .. }) {
                lost += 1;
                continue;
            }
            if let Some(reason) = self.refusal() {
                self.emit(EventKind::SendRejected { reason });
                continue;
            }
            let bytes = self.pipeline.outbound(bytes);
            if bytes.is_empty() {
                continue;
            }
            self.pending_bytes += bytes.len();
            self.pending_writes.push_back(bytes);
            self.write_pending();
        }
        if lost > 0 {
            self.emit(EventKind::SendRejected {
                reason: t!("engine.tcp_client.replies_lost", count = lost).into_owned(),
            });
        }
    }

    /// Writes queued bytes until done or the socket is full.
    fn write_pending(&mut self) {
        let mut failure = None;
        let mut done = Vec::new();
        {
            let Conn::Connected {
                stream,
                writable,
                remote,
                ..
            } = &mut self.conn
            else {
                return;
            };
            while let Some(front) = self.pending_writes.front() {
                match stream.write(&front[self.front_written..]) {
                    Ok(n) => {
                        self.front_written += n;
                        if n > 0 && self.closing_since.is_some() {
                            self.closing_since = Some(Instant::now());
                        }
                        if self.front_written == front.len() {
                            self.front_written = 0;
                            if let Some(sent) = self.pending_writes.pop_front() {
                                self.pending_bytes -= sent.len();
                                done.push(sent);
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        *writable = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        failure = Some(match e.kind() {
                            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                                CloseReason::Reset
                            }
                            _ => CloseReason::Error(NetError::from_io(&e, *remote)),
                        });
                        break;
                    }
                }
            }
        }
        let peer = self.remote_or_unspecified();
        for bytes in done {
            self.pipeline.see_sent_now(peer, &bytes);
            self.emit(EventKind::Sent { peer, bytes });
        }
        if !self.pending_writes.is_empty() || failure.is_none() {
            self.touch_idle();
        }
        if let Some(reason) = failure {
            self.close(reason);
        } else if self.closing_since.is_some() && self.pending_writes.is_empty() {
            self.finish_session();
        }
    }

    /// Closes the current connection (if any), reports why, and arranges a reconnect when
    /// the session wants one.
    fn close(&mut self, reason: CloseReason) {
        if !matches!(self.conn, Conn::Idle) && !self.is_short() {
            let state = if reason == CloseReason::ByUser {
                JobState::Stopped
            } else {
                JobState::Failed(
                    t!("engine.tcp_client.connection_ended", reason = reason).into_owned(),
                )
            };
            self.end_job(state);
        }
        // The last records go up before the close is said.
        self.finish_stream();
        let conn = std::mem::replace(&mut self.conn, Conn::Idle);
        self.idle_deadline = None;
        match conn {
            Conn::Idle => {}
            Conn::Connecting {
                mut stream, remote, ..
            } => {
                let _ = self.poll.registry().deregister(&mut stream);
                let unsent_bytes = self.clear_pending();
                self.emit(EventKind::Closed {
                    remote,
                    reason,
                    unsent_bytes,
                });
            }
            Conn::Connected {
                mut stream, remote, ..
            } => {
                let _ = self.poll.registry().deregister(&mut stream);
                drop(stream);
                self.pipeline.see_closed(remote);
                let by_user = reason == CloseReason::ByUser;
                let unsent_bytes = self.clear_pending();
                self.emit(EventKind::Closed {
                    remote,
                    reason,
                    unsent_bytes,
                });
                // Replies to the last records have no connection left to go to.
                self.send_replies();
                if !by_user {
                    self.schedule_reconnect();
                }
            }
        }
    }
}

impl JobSink for Worker {
    fn blocked(&self) -> Result<bool, String> {
        Ok(self.job_blocked())
    }

    fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        self.queue_send(bytes)
    }
}

/// Queues one received record for the owner, counted for back-pressure until it is taken.
fn push_record(
    outbox: &mut Outbox<Event>,
    session: SessionId,
    peer: SocketAddr,
    bytes: Vec<u8>,
    check: Check,
) {
    let len = bytes.len();
    outbox.push_payload(
        Event {
            session,
            kind: EventKind::Received { peer, bytes, check },
        },
        len,
    );
}
