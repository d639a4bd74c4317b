//! The stages after the framer: what sees records (taps, checks, responders) and what
//! transforms payloads on their way out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Which way a record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Received,
    Sent,
}

/// One record as a stage sees it: borrowed, so looking costs no copy.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The address the owner sees (on a dual-stack UDP socket, IPv4 peers as IPv4).
    pub peer: SocketAddr,
    /// This end of the conversation as the worker knows it: the connection's or socket's
    /// local address (an unspecified address such as `0.0.0.0:7000` for a socket bound to
    /// all interfaces; `0.0.0.0:0` before the worker said, see [`super::Pipeline::set_local`]).
    pub local: SocketAddr,
    pub direction: Direction,
    /// Microseconds since the Unix epoch: the kernel's arrival time for UDP where the OS
    /// gives one, else when the worker read (or the kernel took) the bytes.
    pub time_us: u64,
    pub bytes: &'a [u8],
}

/// Sees every record of a session, in order, each exactly once: received records after the
/// framer and before the owner (also those the owner is then too slow to take), sent bytes
/// when the kernel took them. Runs on the worker thread, so it must be quick; anything slow
/// (a file) belongs behind its own bounded queue that counts what it had to drop.
pub trait Stage: Send {
    /// A received record. A responder queues answers in `replies`; they go to the record's
    /// peer through the outbound chain, after the stages saw the record.
    fn on_received(&mut self, record: &Record<'_>, replies: &mut Replies);

    /// Bytes handed to the kernel for `record.peer` (after the outbound chain). Answering
    /// here is not offered: a reply to one's own send would never end.
    fn on_sent(&mut self, record: &Record<'_>) {
        let _ = record;
    }

    /// The stream with `peer` ended (a TCP connection closed; never called for UDP), at
    /// `time_us`, after its last record.
    fn on_closed(&mut self, local: SocketAddr, peer: SocketAddr, time_us: u64) {
        let _ = (local, peer, time_us);
    }

    /// A stream with `peer` began (a TCP connection made, a server's client accepted; never
    /// called for UDP), before its first record. A responder may greet: `replies` are
    /// addressed to `peer`.
    fn on_opened(&mut self, local: SocketAddr, peer: SocketAddr, replies: &mut Replies) {
        let _ = (local, peer, replies);
    }

    /// When this stage wants [`Stage::on_tick`] next (a timer of its own), if at all. The
    /// worker wakes for it like for a delayed reply.
    fn next_tick(&self) -> Option<Instant> {
        None
    }

    /// Called once [`Stage::next_tick`] has passed. Answers go where the stage says
    /// ([`Replies::push_to`]): there is no record, so no peer to answer by default.
    fn on_tick(&mut self, now: Instant, replies: &mut Replies) {
        let _ = (now, replies);
    }
}

/// Transforms each payload on its way out, before it is queued (so limits and counters see
/// what is really sent). Returning an empty payload sends nothing on a stream.
pub trait OutboundStage: Send {
    fn apply(&mut self, payload: Vec<u8>) -> Vec<u8>;
}

/// Answers queued by responders, each addressed to the peer of the record being seen. The
/// worker takes them after each read and sends them like the owner's sends, so the worker's
/// own limits (pending bytes per peer, refusals it reports) bound them.
#[derive(Debug)]
pub struct Replies {
    to: SocketAddr,
    queued: Vec<(SocketAddr, Vec<u8>)>,
    /// Answers to send after a delay, from when they were queued.
    delayed: Vec<(Duration, SocketAddr, Vec<u8>)>,
}

impl Default for Replies {
    fn default() -> Self {
        Self {
            to: SocketAddr::from(([0, 0, 0, 0], 0)),
            queued: Vec::new(),
            delayed: Vec::new(),
        }
    }
}

impl Replies {
    /// Queues `bytes` for the peer of the record being seen.
    pub fn push(&mut self, bytes: Vec<u8>) {
        self.queued.push((self.to, bytes));
    }

    /// Queues `bytes` for the peer of the record being seen, to go after `delay`.
    pub fn push_after(&mut self, bytes: Vec<u8>, delay: Duration) {
        if delay.is_zero() {
            self.push(bytes);
        } else {
            self.delayed.push((delay, self.to, bytes));
        }
    }

    /// Queues `bytes` for `to` (an address a stage kept from [`Replies::reply_address`]),
    /// after `delay` (zero: with the next replies).
    pub fn push_to(&mut self, to: SocketAddr, bytes: Vec<u8>, delay: Duration) {
        if delay.is_zero() {
            self.queued.push((to, bytes));
        } else {
            self.delayed.push((delay, to, bytes));
        }
    }

    /// Where answers to the record being seen go: its peer, or on a dual-stack UDP socket
    /// that peer's IPv4-mapped form. A stage that answers later (a timer) keeps this one.
    pub fn reply_address(&self) -> SocketAddr {
        self.to
    }

    pub(super) fn take_delayed(&mut self) -> Vec<(Duration, SocketAddr, Vec<u8>)> {
        std::mem::take(&mut self.delayed)
    }

    pub(super) fn address(&mut self, to: SocketAddr) {
        self.to = to;
    }

    pub(super) fn take(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        std::mem::take(&mut self.queued)
    }
}

/// The responder behind UDP's `SetAutoReply` (the CLI's `--reply`): the same bytes back to
/// every sender, at reading speed, with no round trip through the owner.
#[derive(Debug, Clone)]
pub struct AutoReply {
    reply: Vec<u8>,
}

impl AutoReply {
    pub fn new(reply: Vec<u8>) -> Self {
        Self { reply }
    }
}

impl Stage for AutoReply {
    fn on_received(&mut self, _record: &Record<'_>, replies: &mut Replies) {
        replies.push(self.reply.clone());
    }
}
