//! The UDP worker: one named thread, one mio loop around one socket. Receiving never waits for
//! sending and sending never waits for receiving; datagrams go up in batches, and whatever
//! had to be dropped (by Sockpit when the UI falls behind, or by the kernel) is counted.

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use crate::net::udp::{self, IcmpError, Membership, MulticastSend, UdpBindOptions};
use crate::net::{NetError, resolve};
use crate::traffic::now_us;
use crate::worker::{Outbox, SessionId, Wake, WorkerHandle};

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
/// Events waiting for the UI beyond which new datagrams are dropped and counted.
const OUTBOX_LIMIT: usize = 64;
const COMMAND_CAPACITY: usize = 256;
const EVENT_CAPACITY: usize = 256;
const STATS_EVERY: Duration = Duration::from_millis(250);
const BACKPRESSURE_RETRY: Duration = Duration::from_millis(2);
/// After a turn that emptied the socket with fewer than one batch read, the worker pauses this
/// long before waiting again, so that a fast stream is read in batches rather than woken for
/// every datagram or two (interrupt moderation). The UI draws at most every 16 ms, and the
/// socket's buffer holds far more than arrives in this time.
const COALESCE: Duration = Duration::from_micros(250);

/// One received datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub from: SocketAddr,
    pub time_us: u64,
    pub bytes: Vec<u8>,
}

/// UI → worker.
#[derive(Debug, Clone)]
pub enum Command {
    Bind {
        session: SessionId,
        options: UdpBindOptions,
        multicast: MulticastSend,
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
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Bound {
        local: SocketAddr,
    },
    BindFailed(NetError),
    Received(Vec<Datagram>),
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

/// The UI's end of the worker; dropping it stops and joins the thread.
pub type UdpHandle = WorkerHandle<Command, Event>;

impl UdpHandle {
    pub fn spawn(wake: Wake) -> io::Result<Self> {
        Self::start(
            "udp",
            (COMMAND_CAPACITY, EVENT_CAPACITY),
            wake,
            |poll, commands, outbox| Worker::new(poll, commands, outbox).run(),
            |message| Event {
                session: SessionId(u64::MAX),
                kind: EventKind::WorkerFailed { message },
            },
        )
    }
}

struct Bound {
    socket: UdpSocket,
    local: SocketAddr,
    memberships: BTreeSet<Membership>,
    pending: VecDeque<(SocketAddr, Vec<u8>)>,
    writable_registered: bool,
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
            let timeout = if self.readable && self.outbox.len() < OUTBOX_LIMIT {
                Some(Duration::ZERO)
            } else if !self.outbox.is_empty() {
                Some(BACKPRESSURE_RETRY)
            } else if self.bound.is_some() {
                Some(STATS_EVERY)
            } else {
                None
            };
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                self.emit(EventKind::WorkerFailed {
                    message: format!("poll failed: {e}"),
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
            let read = if self.readable { self.read_round() } else { 0 };
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
            } => {
                self.close();
                self.session = session;
                self.stats = UdpStats::default();
                self.stats_sent = UdpStats::default();
                self.bind(&options, &multicast);
            }
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
            Command::Join {
                session,
                membership,
            } if session == self.session => self.membership(membership, true),
            Command::Leave {
                session,
                membership,
            } if session == self.session => self.membership(membership, false),
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
            pending: VecDeque::new(),
            writable_registered: false,
        });
        self.readable = true;
        self.emit(EventKind::Bound { local });
    }

    fn close(&mut self) {
        if let Some(mut b) = self.bound.take() {
            self.emit_stats_of(&b);
            let _ = self.poll.registry().deregister(&mut b.socket);
        }
        self.readable = false;
    }

    fn send(&mut self, host: &str, port: u16, bytes: Vec<u8>) {
        let Some(local) = self.bound.as_ref().map(|b| b.local) else {
            return;
        };
        let target = format!("{host}:{port}");
        let addrs = match resolve(host, port) {
            Ok(a) => a,
            Err(error) => {
                self.emit(EventKind::SendFailed { target, error });
                return;
            }
        };
        let Some(to) = udp::pick_destination(&addrs, local) else {
            let first = addrs[0];
            self.emit(EventKind::SendFailed {
                target,
                error: NetError::Other {
                    addr: first,
                    message: format!(
                        "this socket is bound to {} and cannot send to {}; bind an address of the same IP version (or :: for both)",
                        local.ip(),
                        if first.is_ipv6() { "IPv6" } else { "IPv4" }
                    ),
                },
            });
            return;
        };
        if let Some(b) = &mut self.bound {
            b.pending.push_back((to, bytes));
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
                    b.pending.push_front((to, bytes));
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
            self.stats.sent += 1;
            self.emit(EventKind::Sent {
                to: udp::unmap(to),
                time_us,
                bytes,
            });
        }
        for (to, error) in failed {
            self.emit(EventKind::SendFailed {
                target: udp::unmap(to).to_string(),
                error,
            });
        }
    }

    /// Reads until the socket is empty or the turn budget is spent; returns datagrams read.
    fn read_round(&mut self) -> usize {
        let Some(b) = &self.bound else {
            self.readable = false;
            return 0;
        };
        let keep = self.outbox.len() < OUTBOX_LIMIT;
        let mut batch: Vec<Datagram> = Vec::new();
        let mut batches = Vec::new();
        let mut icmp = false;
        let mut dropped = 0;
        let mut read = 0;
        while read < TURN_BUDGET {
            // Each datagram carries the kernel's arrival time; the read time stands in where
            // the OS gives none.
            let read_at = now_us();
            let result = self.receiver.recv(&b.socket, |from, bytes, arrived| {
                if keep {
                    batch.push(Datagram {
                        from: udp::unmap(from),
                        time_us: arrived.unwrap_or(read_at),
                        bytes: bytes.to_vec(),
                    });
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
        for batch in batches {
            self.stats.received += batch.len() as u64;
            self.emit(EventKind::Received(batch));
        }
        if icmp {
            self.report_icmp();
        }
        read
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
