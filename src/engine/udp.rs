//! The UDP worker: one named thread, one mio loop around one socket. Receiving never waits for
//! sending and sending never waits for receiving; datagrams go up in batches, and whatever
//! had to be dropped (by Sockpit when the UI falls behind, or by the kernel) is counted.

use rust_i18n::t;
use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use crate::engine::session::job::{JobSink, Turn};
use crate::engine::session::{
    Framer, JobSpec, JobState, JobStatus, Origin, PeerFramers, Pipeline, PipelineSpec, SendJob,
    TapCommand, TapHandoff,
};
use crate::engine::worker::{Outbox, SessionId, Wake, WorkerHandle};
use crate::net::udp::{self, IcmpError, Membership, MulticastSend, UdpBindOptions};
use crate::net::{NetError, resolve};
use crate::traffic::{Check, now_us};

const SOCKET: Token = Token(1);
/// Largest UDP payload (65,535 minus the 8-byte UDP header); a buffer this size never cuts a
/// datagram short.
const MAX_DATAGRAM: usize = 65_536;
/// Datagrams read per system call (recvmmsg).
const RECV_BATCH: usize = 32;
/// Most datagrams read per loop turn before commands are looked at again.
const TURN_BUDGET: usize = 4096;
/// Most datagrams in one event.
const BATCH_MAX: usize = 1024;
/// Datagram bytes (each counted with `DATAGRAM_OVERHEAD`) between socket and owner beyond
/// which new datagrams are dropped and counted. Counted in bytes, not events, so that the
/// owner's share of small events (a Sent per auto-reply) cannot make room for received
/// datagrams run out: about 250,000 small datagrams fit.
const IN_FLIGHT_LIMIT_BYTES: usize = 32 * 1024 * 1024;
/// What one datagram costs beside its payload (address, time, vector), for the limit above.
const DATAGRAM_OVERHEAD: usize = 64;
/// Datagram bytes (each counted with `DATAGRAM_OVERHEAD`) waiting for room in the socket's
/// send buffer. A send beyond it is refused with a sentence, and a reply beyond it is counted
/// as not sent: a peer flood that asks for replies cannot fill memory.
pub const PENDING_LIMIT_BYTES: usize = 8 * 1024 * 1024;
const COMMAND_CAPACITY: usize = 256;
const EVENT_CAPACITY: usize = 256;
const STATS_EVERY: Duration = Duration::from_millis(250);
const BACKPRESSURE_RETRY: Duration = Duration::from_millis(2);
/// After a turn that emptied the socket with fewer than one batch read, the worker pauses this
/// long before waiting again, so that a fast stream is read in batches rather than woken for
/// every datagram or two (interrupt moderation). The window draws about ten times a second,
/// and the socket's buffer holds far more than arrives in this time.
const COALESCE: Duration = Duration::from_micros(250);
/// How soon datagrams waiting for room in the send buffer are tried again without an event.
const PENDING_RETRY: Duration = Duration::from_millis(10);

/// One received datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub from: SocketAddr,
    pub time_us: u64,
    pub bytes: Vec<u8>,
    /// The checksum verdict, where the session verifies one.
    pub check: Check,
}

/// UI → worker.
#[derive(Debug, Clone)]
pub enum Command {
    /// [`Command::BindWith`] the default pipeline (each datagram one record, no stages).
    Bind {
        session: SessionId,
        options: UdpBindOptions,
        multicast: MulticastSend,
    },
    /// Starts a session whose datagrams pass through `pipeline`: with a framer other than
    /// raw, one framer state per sender address (at most `session::PEER_FRAMERS_MAX`).
    BindWith {
        session: SessionId,
        options: UdpBindOptions,
        multicast: MulticastSend,
        pipeline: PipelineSpec,
    },
    Close {
        session: SessionId,
    },
    /// Send to a host name or literal and port; the worker resolves it.
    Send {
        session: SessionId,
        host: String,
        port: u16,
        bytes: Vec<u8>,
    },
    /// Start sending by itself to `host:port` (resolved once, at the start): a repeated
    /// payload or a file in datagrams; replaces a running one. Progress comes as
    /// [`EventKind::Job`].
    StartJob {
        session: SessionId,
        host: String,
        port: u16,
        job: JobSpec,
    },
    /// Stop the running job at once (datagrams already queued still go).
    StopJob {
        session: SessionId,
    },
    Join {
        session: SessionId,
        membership: Membership,
    },
    Leave {
        session: SessionId,
        membership: Membership,
    },
    SetMulticast {
        session: SessionId,
        multicast: MulticastSend,
    },
    /// Answer every datagram received with these bytes, to its sender, from the worker as it
    /// reads (no round trip through the owner, so a burst is answered at reading speed);
    /// `None` stops answering. It is the pipeline's first responder: it sees every record
    /// read, also those dropped for want of room, and its replies pass the outbound chain.
    SetAutoReply {
        session: SessionId,
        reply: Option<Vec<u8>>,
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

#[derive(Debug, Clone)]
pub struct Event {
    pub session: SessionId,
    pub kind: EventKind,
}

/// Drop and error counters, cumulative for the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Datagrams Sockpit read but had to discard because the UI was behind.
    pub dropped_by_app: u64,
    /// Datagrams the kernel dropped (socket buffer full, or a datagram larger than it);
    /// `None` where the OS does not say.
    pub dropped_by_kernel: Option<u64>,
    pub received: u64,
    pub sent: u64,
    /// Datagrams queued that were never sent: replies that found the send queue full, and
    /// what was still waiting for the socket when the session closed.
    pub unsent: u64,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Bound {
        local: SocketAddr,
    },
    BindFailed(NetError),
    Received(Vec<Datagram>),
    /// What a sender's framer has to say (bytes waiting for a frame's end, a frame cut at the
    /// limit), after the records it concerns.
    Framing {
        peer: SocketAddr,
        notice: crate::engine::session::FrameNotice,
    },
    Sent {
        to: SocketAddr,
        time_us: u64,
        bytes: Vec<u8>,
    },
    SendFailed {
        /// What the user asked to send to, as typed.
        target: String,
        error: NetError,
    },
    /// A repeat's or file send's progress, at most every `job::REPORT_EVERY`, and its end.
    Job(JobStatus),
    /// A job could not start (not bound, the target does not resolve, a file cannot be read…).
    JobRefused {
        reason: String,
    },
    /// The kernel reported an ICMP error for a datagram we sent (port unreachable…).
    Icmp(IcmpError),
    Joined(Membership),
    Left(Membership),
    MembershipFailed {
        membership: Membership,
        join: bool,
        error: String,
    },
    MulticastFailed {
        error: String,
    },
    Stats(UdpStats),
    Closed,
    WorkerFailed {
        message: String,
    },
}

crate::engine::worker::impl_worker_event!(Event, EventKind);

/// The UI's end of the worker; dropping it stops and joins the thread.
pub type UdpHandle = WorkerHandle<Command, Event>;

impl UdpHandle {
    pub fn spawn(wake: Wake) -> io::Result<Self> {
        Self::start(
            "udp",
            (COMMAND_CAPACITY, EVENT_CAPACITY),
            wake,
            |poll, commands, outbox| Worker::new(poll, commands, outbox).run(),
        )
    }
}

/// A job's way out of the UDP socket: every payload to `to` (resolved at the start).
struct UdpJobSink<'a> {
    worker: &'a mut Worker,
    target: &'a str,
    to: SocketAddr,
}

impl JobSink for UdpJobSink<'_> {
    fn blocked(&self) -> Result<bool, String> {
        Ok(self.worker.job_blocked())
    }

    fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        self.worker.send_to(self.to, self.target.to_owned(), bytes);
        Ok(())
    }
}

struct Bound {
    socket: UdpSocket,
    local: SocketAddr,
    memberships: BTreeSet<Membership>,
    pending: SendQueue,
    writable_registered: bool,
}

/// Datagrams waiting for room in the socket's send buffer, bounded by
/// [`PENDING_LIMIT_BYTES`].
#[derive(Default)]
struct SendQueue {
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    bytes: usize,
}

impl SendQueue {
    fn cost(bytes: &[u8]) -> usize {
        bytes.len() + DATAGRAM_OVERHEAD
    }

    /// Queues the datagram, or hands it back when the queue is full.
    fn push_back(&mut self, to: SocketAddr, bytes: Vec<u8>) -> Result<(), Vec<u8>> {
        if self.bytes + Self::cost(&bytes) > PENDING_LIMIT_BYTES {
            return Err(bytes);
        }
        self.bytes += Self::cost(&bytes);
        self.queue.push_back((to, bytes));
        Ok(())
    }

    /// Puts back a datagram the socket did not take (it was the front one).
    fn push_front(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.bytes += Self::cost(&bytes);
        self.queue.push_front((to, bytes));
    }

    fn pop_front(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        let (to, bytes) = self.queue.pop_front()?;
        self.bytes -= Self::cost(&bytes);
        Some((to, bytes))
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

struct Worker {
    poll: Poll,
    commands: Receiver<Command>,
    outbox: Outbox<Event>,
    session: SessionId,
    bound: Option<Bound>,
    readable: bool,
    stats: UdpStats,
    stats_sent: UdpStats,
    kernel_drops_at_bind: u64,
    last_stats: Instant,
    receiver: udp::BatchReceiver,
    /// The session's stages (and the auto-reply), built at Bind.
    pipeline: Pipeline,
    /// Per-sender framer states; unused while the framer is raw.
    framers: PeerFramers,
    /// What the session sends by itself (a repeat, a file), to where, as typed and resolved.
    job: Option<(String, SocketAddr, SendJob)>,
}

impl Worker {
    fn new(poll: Poll, commands: Receiver<Command>, outbox: Outbox<Event>) -> Self {
        Self {
            poll,
            commands,
            outbox,
            session: SessionId::default(),
            bound: None,
            readable: false,
            stats: UdpStats::default(),
            stats_sent: UdpStats::default(),
            kernel_drops_at_bind: 0,
            last_stats: Instant::now(),
            receiver: udp::BatchReceiver::new(RECV_BATCH, MAX_DATAGRAM),
            pipeline: Pipeline::new(&PipelineSpec::default()),
            job: None,
            framers: PeerFramers::default(),
        }
    }

    fn emit(&mut self, kind: EventKind) {
        self.outbox.push(Event {
            session: self.session,
            kind,
        });
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        loop {
            let timeout = if self.readable && self.has_room() {
                Some(Duration::ZERO)
            } else if !self.outbox.is_empty() {
                Some(BACKPRESSURE_RETRY)
            } else if self.bound.is_some() {
                Some(
                    [
                        self.framer_wait(),
                        self.reply_wait(),
                        self.job_wait(),
                        self.pending_wait(),
                    ]
                    .into_iter()
                    .flatten()
                    .fold(STATS_EVERY, Duration::min),
                )
            } else {
                None
            };
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                self.emit(EventKind::WorkerFailed {
                    message: t!("engine.worker.poll_failed", error = e).into_owned(),
                });
                let _ = self.outbox.flush();
                return;
            }
            let mut errored = false;
            for event in &events {
                if event.token() == SOCKET {
                    if event.is_readable() {
                        self.readable = true;
                    }
                    if event.is_error() {
                        errored = true;
                    }
                    if event.is_writable() {
                        self.flush_pending();
                    }
                }
            }
            if !self.drain_commands() {
                return;
            }
            if errored {
                self.report_icmp();
            }
            // Datagrams waiting for room are retried every turn too, not only on a writable
            // event: a wake-up missed under load must not leave replies queued after a burst.
            if self.bound.as_ref().is_some_and(|b| !b.pending.is_empty()) {
                self.flush_pending();
            }
            let read = if self.readable { self.read_round() } else { 0 };
            self.expire_framers();
            if self.reply_wait().is_some_and(|w| w.is_zero()) {
                self.queue_replies();
            }
            self.run_job();
            if self.last_stats.elapsed() >= STATS_EVERY {
                self.emit_stats();
            }
            if !self.outbox.flush() {
                return;
            }
            if (1..RECV_BATCH).contains(&read) && !self.readable {
                std::thread::sleep(COALESCE);
            }
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
            Command::Bind {
                session,
                options,
                multicast,
            } => self.start_session(session, &options, &multicast, &PipelineSpec::default()),
            Command::BindWith {
                session,
                options,
                multicast,
                pipeline,
            } => self.start_session(session, &options, &multicast, &pipeline),
            Command::Close { session } if session == self.session => {
                self.close();
                self.emit(EventKind::Closed);
            }
            Command::Send {
                session,
                host,
                port,
                bytes,
            } if session == self.session => self.send(&host, port, bytes),
            Command::StartJob {
                session,
                host,
                port,
                job,
            } if session == self.session => self.start_job(&host, port, job),
            Command::StartJob { session, .. } => self.outbox.push(Event {
                session,
                kind: EventKind::JobRefused {
                    reason: t!("engine.udp.not_bound").into_owned(),
                },
            }),
            Command::StopJob { session } if session == self.session => {
                self.end_job(JobState::Stopped);
            }
            Command::Join {
                session,
                membership,
            } if session == self.session => self.membership(membership, true),
            Command::Leave {
                session,
                membership,
            } if session == self.session => self.membership(membership, false),
            Command::SetAutoReply { session, reply } if session == self.session => {
                self.pipeline.set_auto_reply(reply);
            }
            Command::SetTap { tap } => self.pipeline.set_tap(tap.and_then(|t| t.take())),
            Command::SetMulticast { session, multicast } if session == self.session => {
                if let Some(b) = &self.bound
                    && let Err(e) =
                        udp::apply_multicast_send(&b.socket, b.local.is_ipv6(), &multicast)
                {
                    self.emit(EventKind::MulticastFailed {
                        error: e.to_string(),
                    });
                }
            }
            _ => {}
        }
    }

    fn start_session(
        &mut self,
        session: SessionId,
        options: &UdpBindOptions,
        multicast: &MulticastSend,
        pipeline: &PipelineSpec,
    ) {
        self.close();
        self.session = session;
        self.stats = UdpStats::default();
        self.stats_sent = UdpStats::default();
        self.pipeline.renew(pipeline);
        self.bind(options, multicast);
    }

    fn bind(&mut self, options: &UdpBindOptions, multicast: &MulticastSend) {
        let mut socket = match udp::bind_udp(options) {
            Ok(s) => s,
            Err(e) => {
                self.emit(EventKind::BindFailed(NetError::from_io(&e, options.bind)));
                return;
            }
        };
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut socket, SOCKET, Interest::READABLE)
        {
            self.emit(EventKind::BindFailed(NetError::from_io(&e, options.bind)));
            return;
        }
        let local = socket.local_addr().unwrap_or(options.bind);
        self.pipeline.set_local(local);
        if let Err(e) = udp::apply_multicast_send(&socket, local.is_ipv6(), multicast) {
            self.emit(EventKind::MulticastFailed {
                error: e.to_string(),
            });
        }
        self.kernel_drops_at_bind = udp::kernel_drops(&socket).unwrap_or(0);
        self.bound = Some(Bound {
            socket,
            local,
            memberships: BTreeSet::new(),
            pending: SendQueue::default(),
            writable_registered: false,
        });
        self.readable = true;
        self.emit(EventKind::Bound { local });
    }

    fn close(&mut self) {
        self.end_job(JobState::Stopped);
        self.finish_framers();
        // What the socket takes now still goes; the rest is counted, not dropped in silence.
        self.flush_pending();
        if let Some(mut b) = self.bound.take() {
            self.stats.unsent += b.pending.len() as u64;
            self.emit_stats_of(&b);
            let _ = self.poll.registry().deregister(&mut b.socket);
        }
        self.readable = false;
    }

    /// Where `host:port` goes from this socket, or why it cannot.
    fn destination(&self, host: &str, port: u16) -> Option<Result<SocketAddr, NetError>> {
        let local = self.bound.as_ref().map(|b| b.local)?;
        let addrs = match resolve(host, port) {
            Ok(a) => a,
            Err(error) => return Some(Err(error)),
        };
        Some(udp::pick_destination(&addrs, local).ok_or_else(|| {
            let first = addrs[0];
            NetError::Other {
                addr: first,
                message: t!(
                    "engine.udp.wrong_version",
                    local = local.ip(),
                    version = if first.is_ipv6() { "IPv6" } else { "IPv4" }
                )
                .into_owned(),
            }
        }))
    }

    fn send(&mut self, host: &str, port: u16, bytes: Vec<u8>) {
        let target = format!("{host}:{port}");
        match self.destination(host, port) {
            None => {}
            Some(Err(error)) => self.emit(EventKind::SendFailed { target, error }),
            Some(Ok(to)) => self.send_to(to, target, bytes),
        }
    }

    fn start_job(&mut self, host: &str, port: u16, spec: JobSpec) {
        self.end_job(JobState::Stopped);
        let target = format!("{host}:{port}");
        let to = match self.destination(host, port) {
            None => Err(t!("engine.udp.not_bound").into_owned()),
            Some(Err(error)) => {
                Err(t!("engine.udp.cannot_send", target = target, error = error).into_owned())
            }
            Some(Ok(to)) => Ok(to),
        };
        let started = to.and_then(|to| Ok((to, SendJob::start(spec, Instant::now())?)));
        match started {
            Ok((to, job)) => self.job = Some((target, to, job)),
            Err(reason) => self.emit(EventKind::JobRefused { reason }),
        }
    }

    /// While datagrams wait for room, the loop looks again this soon whatever it hears.
    fn pending_wait(&self) -> Option<Duration> {
        self.bound
            .as_ref()
            .filter(|b| !b.pending.is_empty())
            .map(|_| PENDING_RETRY)
    }

    /// The job waits while datagrams wait for room in the socket's buffer.
    fn job_blocked(&self) -> bool {
        self.bound.as_ref().is_none_or(|b| !b.pending.is_empty())
    }

    fn job_wait(&self) -> Option<Duration> {
        if self.job_blocked() {
            return None;
        }
        let due = self.job.as_ref().and_then(|(_, _, j)| j.due())?;
        Some(due.saturating_duration_since(Instant::now()))
    }

    /// Sends what the job has due, as far as the socket has room.
    fn run_job(&mut self) {
        let Some((target, to, mut job)) = self.job.take() else {
            return;
        };
        let turn = job.turn(
            Instant::now(),
            &mut UdpJobSink {
                worker: self,
                target: &target,
                to,
            },
        );
        match turn {
            Turn::Quiet => self.job = Some((target, to, job)),
            Turn::Report(status) => {
                self.job = Some((target, to, job));
                self.emit(EventKind::Job(status));
            }
            Turn::Ended(status) => self.emit(EventKind::Job(status)),
        }
    }

    /// Ends the running job, if any, and says how it ended.
    fn end_job(&mut self, state: JobState) {
        if let Some((_, _, job)) = self.job.take() {
            self.emit(EventKind::Job(job.status(state)));
        }
    }

    fn send_to(&mut self, to: SocketAddr, target: String, bytes: Vec<u8>) {
        let bytes = self.pipeline.outbound(bytes);
        let refused = self.bound.as_mut().and_then(|b| {
            b.pending
                .push_back(to, bytes)
                .err()
                .map(|_| b.pending.bytes)
        });
        if let Some(waiting) = refused {
            self.emit(EventKind::SendFailed {
                target,
                error: NetError::Other {
                    addr: to,
                    message: t!(
                        "engine.udp.buffer_full",
                        waiting = crate::traffic::format_bytes(waiting as u64)
                    )
                    .into_owned(),
                },
            });
        }
        self.flush_pending();
    }

    /// Sends queued datagrams until the socket buffer is full; then waits for writability.
    fn flush_pending(&mut self) {
        let Some(b) = &mut self.bound else {
            return;
        };
        let mut done = Vec::new();
        let mut failed = Vec::new();
        while let Some((to, bytes)) = b.pending.pop_front() {
            match b.socket.send_to(&bytes, to) {
                Ok(_) => done.push((to, now_us(), bytes)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    b.pending.push_front(to, bytes);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    // An ICMP error from an earlier datagram surfaced here; this one was not
                    // sent. Report both and try it once more.
                    failed.push((to, NetError::from_io(&e, to)));
                }
                Err(e) => failed.push((to, NetError::from_io(&e, to))),
            }
        }
        let want_writable = !b.pending.is_empty();
        if want_writable != b.writable_registered {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut b.socket, SOCKET, interest)
                .is_ok()
            {
                b.writable_registered = want_writable;
            }
        }
        for (to, time_us, bytes) in done {
            self.pipeline.see_sent(udp::unmap(to), time_us, &bytes);
            self.stats.sent += 1;
            let len = bytes.len() + DATAGRAM_OVERHEAD;
            self.outbox.push_payload(
                Event {
                    session: self.session,
                    kind: EventKind::Sent {
                        to: udp::unmap(to),
                        time_us,
                        bytes,
                    },
                },
                len,
            );
        }
        for (to, error) in failed {
            self.emit(EventKind::SendFailed {
                target: udp::unmap(to).to_string(),
                error,
            });
        }
    }

    fn has_room(&mut self) -> bool {
        self.outbox.bytes_in_flight() < IN_FLIGHT_LIMIT_BYTES
    }

    /// Reads until the socket is empty or the turn budget is spent; returns datagrams read.
    /// Every datagram passes the pipeline, also when there is no room for it (the stages see
    /// it, then it is dropped and counted).
    fn read_round(&mut self) -> usize {
        let keep = self.has_room();
        let Some(b) = &self.bound else {
            self.readable = false;
            return 0;
        };
        let mut batch: Vec<Datagram> = Vec::new();
        let mut batches = Vec::new();
        let mut icmp = false;
        let mut dropped = 0;
        let mut read = 0;
        let raw = self.pipeline.is_raw();
        let staged = self.pipeline.has_stages();
        let (pipeline, framers) = (&mut self.pipeline, &mut self.framers);
        // A sequence waiting for a reply sees every datagram that arrives.
        let mut job = self
            .job
            .as_mut()
            .map(|(_, _, j)| j)
            .filter(|j| j.wants_received());
        while read < TURN_BUDGET {
            // Each datagram carries the kernel's arrival time; the read time stands in where
            // the OS gives none.
            let read_at = now_us();
            let result = self.receiver.recv(&b.socket, |from, bytes, arrived| {
                let origin = Origin {
                    peer: udp::unmap(from),
                    reply_to: from,
                    time_us: arrived.map_or(read_at, crate::traffic::from_kernel_us),
                };
                if let Some(j) = job.as_mut() {
                    j.observe(bytes);
                }
                let mut deliver = |from: SocketAddr, record: Vec<u8>, check: Check| {
                    if keep {
                        batch.push(Datagram {
                            from,
                            time_us: origin.time_us,
                            bytes: record,
                            check,
                        });
                    } else {
                        dropped += 1;
                    }
                };
                if !raw {
                    // Framed: records need owned bytes, dropped or not.
                    receive_framed(pipeline, framers, origin, bytes.to_vec(), deliver);
                    return;
                }
                // Raw: the stages look at the datagram where it lies; only a kept one is
                // copied out of the receive buffer.
                if staged {
                    pipeline.see_received(origin, bytes);
                }
                if keep {
                    let check = pipeline.check(bytes);
                    deliver(origin.peer, bytes.to_vec(), check);
                } else {
                    dropped += 1;
                }
            });
            match result {
                Ok(n) => {
                    read += n.max(1);
                    if batch.len() >= BATCH_MAX {
                        batches.push(std::mem::take(&mut batch));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // A pending ICMP error is returned by the next receive; read the queue.
                    icmp = true;
                    break;
                }
            }
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        self.stats.dropped_by_app += dropped;
        // Replies go out before the records they answer go up, as they always did.
        self.queue_replies();
        for batch in batches {
            self.push_batch(batch);
        }
        self.emit_framing_notices();
        if icmp {
            self.report_icmp();
        }
        read
    }

    /// Queues the responders' replies (the auto-reply first) through the outbound chain, each
    /// to the sender of the record it answers, and sends what the socket takes.
    fn queue_replies(&mut self) {
        let replies = self.pipeline.take_replies();
        if replies.is_empty() {
            return;
        }
        let Some(b) = &mut self.bound else {
            return;
        };
        let pipeline = &mut self.pipeline;
        for (to, bytes) in replies {
            if b.pending.push_back(to, pipeline.outbound(bytes)).is_err() {
                self.stats.unsent += 1;
            }
        }
        self.flush_pending();
    }

    fn push_batch(&mut self, batch: Vec<Datagram>) {
        self.stats.received += batch.len() as u64;
        let bytes: usize = batch
            .iter()
            .map(|d| d.bytes.len() + DATAGRAM_OVERHEAD)
            .sum();
        self.outbox.push_payload(
            Event {
                session: self.session,
                kind: EventKind::Received(batch),
            },
            bytes,
        );
    }

    /// The session ends: what each sender's framer still holds goes up as a last record.
    fn finish_framers(&mut self) {
        let mut batch = Vec::new();
        let time_us = now_us();
        for (from, mut framer) in self.framers.take_all() {
            let origin = Origin {
                peer: udp::unmap(from),
                reply_to: from,
                time_us,
            };
            self.pipeline
                .finish(framer.as_mut(), origin, |bytes, check| {
                    batch.push(Datagram {
                        from: origin.peer,
                        time_us,
                        bytes,
                        check,
                    });
                });
        }
        // The socket is still open: replies to these last records go out like any.
        self.queue_replies();
        if !batch.is_empty() {
            self.push_batch(batch);
        }
        self.emit_framing_notices();
    }

    /// How long until a delayed reply falls due.
    fn reply_wait(&self) -> Option<Duration> {
        self.pipeline
            .next_reply_due()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// How long until a sender's framer ends a record by itself (an idle gap).
    fn framer_wait(&self) -> Option<Duration> {
        if !self.pipeline.has_timer() {
            return None;
        }
        self.framers
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Ends the records of senders whose idle gap passed; they go up like any.
    fn expire_framers(&mut self) {
        if !self.pipeline.has_timer() {
            return;
        }
        let now = Instant::now();
        let mut batch = Vec::new();
        let time_us = now_us();
        let pipeline = &mut self.pipeline;
        for (from, framer) in self.framers.due(now) {
            let origin = Origin {
                peer: udp::unmap(from),
                reply_to: from,
                time_us,
            };
            pipeline.expire(framer, origin, now, |bytes, check| {
                batch.push(Datagram {
                    from: origin.peer,
                    time_us,
                    bytes,
                    check,
                });
            });
        }
        self.queue_replies();
        if !batch.is_empty() {
            self.push_batch(batch);
        }
        self.emit_framing_notices();
    }

    /// Passes on what the framers said, after the records it concerns.
    fn emit_framing_notices(&mut self) {
        for (peer, notice) in self.pipeline.take_notices() {
            self.emit(EventKind::Framing {
                peer: udp::unmap(peer),
                notice,
            });
        }
    }

    fn report_icmp(&mut self) {
        let Some(b) = &self.bound else {
            return;
        };
        for e in udp::take_icmp_errors(&b.socket) {
            self.emit(EventKind::Icmp(IcmpError {
                destination: e.destination.map(udp::unmap),
                ..e
            }));
        }
    }

    fn membership(&mut self, membership: Membership, join: bool) {
        let Some(b) = &mut self.bound else {
            return;
        };
        let result = if join {
            udp::join(&b.socket, &membership)
        } else {
            udp::leave(&b.socket, &membership)
        };
        match result {
            Ok(()) => {
                if join {
                    b.memberships.insert(membership.clone());
                    self.emit(EventKind::Joined(membership));
                } else {
                    b.memberships.remove(&membership);
                    self.emit(EventKind::Left(membership));
                }
            }
            Err(e) => self.emit(EventKind::MembershipFailed {
                membership,
                join,
                error: e.to_string(),
            }),
        }
    }

    fn emit_stats(&mut self) {
        self.last_stats = Instant::now();
        if let Some(b) = self.bound.take() {
            self.emit_stats_of(&b);
            self.bound = Some(b);
        }
    }

    fn emit_stats_of(&mut self, b: &Bound) {
        self.stats.dropped_by_kernel =
            udp::kernel_drops(&b.socket).map(|d| d.saturating_sub(self.kernel_drops_at_bind));
        if self.stats != self.stats_sent {
            self.stats_sent = self.stats;
            self.emit(EventKind::Stats(self.stats));
        }
    }
}

/// Frames one datagram with its sender's framer state; a sender evicted to make room has its
/// partial record delivered first, so nothing it sent is lost in silence.
fn receive_framed(
    pipeline: &mut Pipeline,
    framers: &mut PeerFramers,
    origin: Origin,
    bytes: Vec<u8>,
    mut deliver: impl FnMut(SocketAddr, Vec<u8>, Check),
) {
    let (framer, evicted): (&mut dyn Framer, _) =
        framers.get(origin.reply_to, || pipeline.new_framer());
    if let Some((from, mut old)) = evicted {
        let old_origin = Origin {
            peer: udp::unmap(from),
            reply_to: from,
            ..origin
        };
        pipeline.finish(old.as_mut(), old_origin, |record, check| {
            deliver(old_origin.peer, record, check);
        });
    }
    pipeline.receive(framer, origin, bytes, |record, check| {
        deliver(origin.peer, record, check);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The send queue refuses what would take it past its byte limit, hands the datagram
    /// back, and counts what it takes back and hands out exactly.
    #[test]
    fn the_send_queue_is_bounded_in_bytes_and_hands_back_what_it_refuses() {
        let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut q = SendQueue::default();
        let datagram = vec![7u8; 64 * 1024 - DATAGRAM_OVERHEAD];
        let fits = PENDING_LIMIT_BYTES / (64 * 1024);
        for _ in 0..fits {
            q.push_back(to, datagram.clone()).unwrap();
        }
        assert_eq!(q.bytes, PENDING_LIMIT_BYTES);
        assert_eq!(q.push_back(to, vec![1]), Err(vec![1]));
        assert_eq!(q.len(), fits);
        let (_, front) = q.pop_front().unwrap();
        assert_eq!(q.bytes, PENDING_LIMIT_BYTES - 64 * 1024);
        q.push_front(to, front);
        assert_eq!(q.bytes, PENDING_LIMIT_BYTES);
        while q.pop_front().is_some() {}
        assert!(q.is_empty());
        assert_eq!(q.bytes, 0);
        q.push_back(to, vec![1]).unwrap();
    }
}
