//! The Broadcast worker: bind a source port on the chosen interface, send the probe (again
//! every N ms if asked), and collect replies until the listen time is over or the user cancels.

pub mod plan;
pub mod presets;
pub mod responders;

pub use plan::{PlanError, PlanInput, TargetKind};
pub use presets::Preset;
pub use responders::{Responder, Responders};

use rust_i18n::t;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use crate::engine::worker::{Outbox, SessionId, Wake, WorkerHandle};
use crate::net::NetError;
use crate::net::udp::{self, MulticastSend, UdpBindOptions};
use crate::traffic::now_us;

const SOCKET: Token = Token(1);
const COMMAND_CAPACITY: usize = 64;
const EVENT_CAPACITY: usize = 1024;
const READ_BUDGET: usize = 4096;

/// One discovery run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The interface's address and the source port (0 = any).
    pub source: SocketAddr,
    /// The interface name, to pin sends to it where the OS allows (`SO_BINDTODEVICE`).
    pub interface: Option<String>,
    pub target: SocketAddr,
    pub payload: Vec<u8>,
    /// How long to listen after the last send.
    pub listen: Duration,
    /// Send again this often; `None` sends once.
    pub repeat_every: Option<Duration>,
    /// How many sends in all (at least 1).
    pub sends: u32,
    pub ttl: u32,
}

#[derive(Debug, Clone)]
pub enum Command {
    Run { session: SessionId, probe: Probe },
    Cancel { session: SessionId },
}

#[derive(Debug, Clone)]
pub struct Event {
    pub session: SessionId,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Started {
        local: SocketAddr,
        time_us: u64,
    },
    Sent {
        to: SocketAddr,
        time_us: u64,
        bytes: Vec<u8>,
        round: u32,
    },
    SendFailed(NetError),
    Reply {
        from: SocketAddr,
        time_us: u64,
        /// Since the send before it.
        rtt_us: u64,
        bytes: Vec<u8>,
    },
    /// The ICMP error for a probe sent to a unicast address (nobody listens there).
    Unreachable(udp::IcmpError),
    /// Binding failed; nothing was sent.
    Failed(NetError),
    Finished {
        cancelled: bool,
        sends: u32,
    },
    WorkerFailed {
        message: String,
    },
}

crate::engine::worker::impl_worker_event!(Event, EventKind);

pub type BroadcastHandle = WorkerHandle<Command, Event>;

impl BroadcastHandle {
    pub fn spawn(wake: Wake) -> io::Result<Self> {
        Self::start(
            "broadcast",
            (COMMAND_CAPACITY, EVENT_CAPACITY),
            wake,
            |poll, commands, outbox| Worker::new(poll, commands, outbox).run(),
        )
    }
}

/// What a probe run to its end found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub local: Option<SocketAddr>,
    pub sends: u32,
    pub responders: Responders,
}

/// Runs one probe to its end on a worker of its own, without a window (the CLI's way), and
/// returns who answered. An error is the sentence to show: binding or sending failed, or the
/// run did not end within `timeout`.
pub fn run_probe(probe: Probe, preset: Preset, timeout: Duration) -> Result<Outcome, String> {
    let handle = BroadcastHandle::spawn(crate::engine::worker::no_wake())
        .map_err(|e| t!("engine.worker.cannot_start", error = e).into_owned())?;
    let session = SessionId::default().next();
    handle
        .send(Command::Run { session, probe })
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let mut outcome = Outcome::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(event) = handle.events().recv_timeout(left) else {
            return Err(t!("engine.broadcast.run_unfinished").into_owned());
        };
        if event.session != session && !matches!(event.kind, EventKind::WorkerFailed { .. }) {
            continue;
        }
        match event.kind {
            EventKind::Started { local, .. } => outcome.local = Some(local),
            EventKind::Reply {
                from,
                time_us,
                rtt_us,
                bytes,
            } => outcome
                .responders
                .record(from, &bytes, time_us, Some(rtt_us), preset),
            EventKind::SendFailed(e) => {
                return Err(t!(
                    "engine.broadcast.send_failed",
                    error = e,
                    explanation = crate::net::explain::broadcast_explanation(&e)
                )
                .into_owned());
            }
            EventKind::Failed(e) => {
                return Err(t!(
                    "engine.broadcast.start_failed",
                    error = e,
                    explanation = crate::net::explain::broadcast_explanation(&e)
                )
                .into_owned());
            }
            EventKind::WorkerFailed { message } => return Err(message),
            EventKind::Finished { sends, .. } => {
                outcome.sends = sends;
                return Ok(outcome);
            }
            EventKind::Sent { .. } | EventKind::Unreachable(_) => {}
        }
    }
}

struct Run {
    probe: Probe,
    socket: UdpSocket,
    local: SocketAddr,
    sends: u32,
    last_send: Instant,
    next_send: Option<Instant>,
    listen_until: Instant,
}

struct Worker {
    poll: Poll,
    commands: Receiver<Command>,
    outbox: Outbox<Event>,
    session: SessionId,
    run: Option<Run>,
    buf: Vec<u8>,
}

/// Binds the probe's socket: broadcast allowed, multicast out of the chosen interface.
pub fn bind_probe_socket(probe: &Probe) -> io::Result<UdpSocket> {
    let mut options = UdpBindOptions::new(probe.source);
    options.broadcast = true;
    let socket = udp::bind_udp(&options)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = &probe.interface {
        // Needs privileges on Linux; binding to the interface's address already picks the
        // interface for broadcast and multicast, so a refusal here is not an error.
        let _ = socket2::SockRef::from(&socket).bind_device(Some(name.as_bytes()));
    }
    let interface_v4 = match probe.source.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
        _ => None,
    };
    let multicast = MulticastSend {
        ttl: probe.ttl,
        loopback: true,
        interface_v4,
        interface_v6: None,
    };
    udp::apply_multicast_send(&socket, probe.source.is_ipv6(), &multicast)?;
    Ok(socket)
}

impl Worker {
    fn new(poll: Poll, commands: Receiver<Command>, outbox: Outbox<Event>) -> Self {
        Self {
            poll,
            commands,
            outbox,
            session: SessionId::default(),
            run: None,
            buf: vec![0; 65_536],
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
            let timeout = self.timeout();
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
            let mut readable = false;
            for event in &events {
                if event.token() == SOCKET {
                    readable |= event.is_readable();
                    errored |= event.is_error();
                }
            }
            if !self.drain_commands() {
                return;
            }
            if readable || errored {
                self.read_replies();
            }
            self.tick();
            if !self.outbox.flush() {
                return;
            }
        }
    }

    fn timeout(&self) -> Option<Duration> {
        if !self.outbox.is_empty() {
            return Some(Duration::from_millis(2));
        }
        let run = self.run.as_ref()?;
        let next = run
            .next_send
            .map_or(run.listen_until, |n| n.min(run.listen_until));
        Some(next.saturating_duration_since(Instant::now()))
    }

    fn drain_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Run { session, probe }) => {
                    self.finish(true);
                    self.session = session;
                    self.start(probe);
                }
                Ok(Command::Cancel { session }) if session == self.session => self.finish(true),
                Ok(Command::Cancel { .. }) => {}
                Err(crossbeam_channel::TryRecvError::Empty) => return true,
                Err(crossbeam_channel::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn start(&mut self, probe: Probe) {
        let mut socket = match bind_probe_socket(&probe) {
            Ok(s) => s,
            Err(e) => {
                self.emit(EventKind::Failed(NetError::from_io(&e, probe.source)));
                return;
            }
        };
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut socket, SOCKET, Interest::READABLE)
        {
            self.emit(EventKind::Failed(NetError::from_io(&e, probe.source)));
            return;
        }
        let local = socket.local_addr().unwrap_or(probe.source);
        self.emit(EventKind::Started {
            local,
            time_us: now_us(),
        });
        let now = Instant::now();
        self.run = Some(Run {
            listen_until: now + probe.listen,
            probe,
            socket,
            local,
            sends: 0,
            last_send: now,
            next_send: Some(now),
        });
    }

    /// Sends when a send is due; finishes when listening is over.
    fn tick(&mut self) {
        let now = Instant::now();
        let Some(run) = &mut self.run else {
            return;
        };
        if let Some(at) = run.next_send
            && at <= now
        {
            run.sends += 1;
            run.last_send = now;
            let round = run.sends;
            let more = round < run.probe.sends.max(1);
            run.next_send = match (more, run.probe.repeat_every) {
                (true, Some(every)) => Some(now + every),
                _ => None,
            };
            run.listen_until = run.next_send.unwrap_or(now) + run.probe.listen;
            let to = run.probe.target;
            let result = run.socket.send_to(&run.probe.payload, to);
            let bytes = run.probe.payload.clone();
            match result {
                Ok(_) => self.emit(EventKind::Sent {
                    to,
                    time_us: now_us(),
                    bytes,
                    round,
                }),
                Err(e) => self.emit(EventKind::SendFailed(NetError::from_io(&e, to))),
            }
            return;
        }
        if run.next_send.is_none() && now >= run.listen_until {
            self.finish(false);
        }
    }

    fn read_replies(&mut self) {
        let Some(run) = &self.run else {
            return;
        };
        let mut replies = Vec::new();
        let mut icmp = false;
        for _ in 0..READ_BUDGET {
            match run.socket.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    let from = udp::unmap(from);
                    let bytes = &self.buf[..n];
                    // Our own broadcast, looped back to us, is not an answer.
                    if is_own_echo(from, run.local, bytes, &run.probe.payload) {
                        continue;
                    }
                    replies.push(EventKind::Reply {
                        from,
                        time_us: now_us(),
                        rtt_us: u64::try_from(run.last_send.elapsed().as_micros())
                            .unwrap_or(u64::MAX),
                        bytes: bytes.to_vec(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    icmp = true;
                    break;
                }
            }
        }
        if icmp {
            for e in udp::take_icmp_errors(&run.socket) {
                replies.push(EventKind::Unreachable(e));
            }
        }
        for r in replies {
            self.emit(r);
        }
    }

    fn finish(&mut self, cancelled: bool) {
        if let Some(mut run) = self.run.take() {
            let _ = self.poll.registry().deregister(&mut run.socket);
            self.emit(EventKind::Finished {
                cancelled,
                sends: run.sends,
            });
        }
    }
}

fn is_own_echo(from: SocketAddr, local: SocketAddr, bytes: &[u8], payload: &[u8]) -> bool {
    if from.port() != local.port() || bytes != payload {
        return false;
    }
    from == local
        || local.ip().is_unspecified()
        || crate::net::local_addresses()
            .iter()
            .any(|a| a.ip == from.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_echo_is_recognised() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(is_own_echo(local, local, b"x", b"x"));
        assert!(!is_own_echo(local, local, b"y", b"x"));
        let other: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        assert!(!is_own_echo(other, local, b"x", b"x"));
    }
}
