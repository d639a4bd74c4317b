//! One pipeline per session: the chain of stages every byte of a session passes through in
//! its worker, written once for every tab and the CLI.
//!
//! ```text
//!   socket read ──► Framer ──────────────► Stages ───────────────────► Outbox event to owner
//!   (TCP read,      one state per stream:   per session: each sees     (Received. TCP stops
//!    UDP datagram)  the connection, each    peer, direction, time and   reading while bytes
//!                   server client, each     bytes of every record, in   are in flight; UDP
//!                   UDP peer. Raw: each     order, before the owner;    drops what finds no
//!                   read is one record,     a responder may queue       room, after the stages
//!                   moved, never copied     replies to the same peer    saw it, and counts it)
//!                                                     │
//!                                                     │ replies (to the record's peer)
//!                                                     ▼
//!   owner Command::Send ─────────────────► Outbound chain ──► socket write ──► Stages see the
//!   (one client, all, UDP SendTo;          per session, once     (queued,         bytes as Sent
//!    TCP Server echo)                      per payload and        back-pressured   when the kernel
//!                                          peer; then the         as before)       took them
//!                                          chosen checksum
//! ```
//!
//! A received record goes up with the verdict of the session's checksum, if one is chosen
//! ([`PipelineSpec::verify_checksum`]); sends get it appended after the outbound chain
//! ([`PipelineSpec::append_checksum`]).
//!
//! The owner describes the chain in a [`PipelineSpec`] (cloneable, comparable) and hands it
//! to the worker with the session: `ConnectOptions::pipeline` (TCP Client),
//! `ServerOptions::pipeline` (TCP Server), `udp::Command::BindWith` (UDP). The worker builds
//! one [`Pipeline`] per session from it and one framer state per stream.
//!
//! A new receive- or send-side tool plugs in as one of three traits, with no change to any
//! worker:
//! - [`Framer`] (in [`PipelineSpec::framer`]): cuts a stream into records. The rules users
//!   choose are in [`framing`] (delimiter, fixed length, length prefix, idle gap, each with a
//!   frame limit); what a framer has to say (bytes waiting for a frame's end, a frame cut at
//!   the limit) goes to the owner as each worker's `Framing` event, after the records it
//!   concerns ([`Pipeline::take_notices`]).
//! - [`Stage`] (in [`PipelineSpec::stages`]): sees every record both ways; checksum checks,
//!   capture-to-file taps, and responders (auto-reply rules) that queue [`Replies`].
//! - [`OutboundStage`] (in [`PipelineSpec::outbound`]): transforms each payload on its way
//!   out (macros, appended checksums).

mod framer;
pub mod framing;
pub mod job;
pub mod mock;
pub mod rules;
pub mod script;
pub mod sequence;
mod stage;

pub use framer::{Framer, FramerSpec, PEER_FRAMERS_MAX, PeerFramers, Raw};
pub use framing::{FrameNotice, FrameRule, Framing};
pub use job::{JobSpec, JobState, JobStatus, SendJob};
pub use stage::{AutoReply, Direction, OutboundStage, Record, Replies, Stage};

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::codec::checksum::ChecksumSpec;
use crate::traffic::{Check, now_us};

/// Makes one fresh instance of a stage (or framer) for each session (or stream). Compared by
/// identity: two specs are equal when they name the same factories, which is what an owner
/// asking "did the settings change?" needs, as closures cannot be compared.
pub struct Factory<T: ?Sized> {
    name: &'static str,
    make: Arc<dyn Fn() -> Box<T> + Send + Sync>,
}

impl<T: ?Sized> Factory<T> {
    /// `name` is what `Debug` shows (e.g. "crc-check").
    pub fn new(name: &'static str, make: impl Fn() -> Box<T> + Send + Sync + 'static) -> Self {
        Self {
            name,
            make: Arc::new(make),
        }
    }

    pub fn build(&self) -> Box<T> {
        (self.make)()
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<T: ?Sized> Clone for Factory<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            make: Arc::clone(&self.make),
        }
    }
}

impl<T: ?Sized> fmt::Debug for Factory<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Factory({})", self.name) // i18n-exempt: a developer's debug output
    }
}

impl<T: ?Sized> PartialEq for Factory<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.make, &other.make)
    }
}

impl<T: ?Sized> Eq for Factory<T> {}

/// A tap on its way to a worker inside a command. Commands are cloneable and a tap (a
/// capture writing a file) is not, so it travels in a shared slot: the worker that carries
/// the command out takes it; a clone finds the slot empty.
#[derive(Clone)]
pub struct TapHandoff(Arc<std::sync::Mutex<Option<Box<dyn Stage>>>>);

impl TapHandoff {
    pub fn new(tap: Box<dyn Stage>) -> Self {
        Self(Arc::new(std::sync::Mutex::new(Some(tap))))
    }

    /// The tap, to the first caller only.
    pub fn take(&self) -> Option<Box<dyn Stage>> {
        match self.0.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

impl fmt::Debug for TapHandoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TapHandoff")
    }
}

/// A worker command that puts an owner's tap on the worker's sessions (or with `None` takes
/// it off): what a window or CLI needs to start and stop a capture on any session.
pub trait TapCommand: Sized {
    fn set_tap(tap: Option<TapHandoff>) -> Self;
}

/// What a session's pipeline is made of. The default is today's behaviour: each read is one
/// record (raw), no stages, payloads sent as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineSpec {
    pub framer: FramerSpec,
    /// Run in this order on every record, received and sent.
    pub stages: Vec<Factory<dyn Stage>>,
    /// Run in this order on every payload before it is queued for the socket.
    pub outbound: Vec<Factory<dyn OutboundStage>>,
    /// Appended to every payload sent, after the outbound chain.
    pub append_checksum: Option<ChecksumSpec>,
    /// Verified at the end of every received record; the verdict goes up with the record.
    pub verify_checksum: Option<ChecksumSpec>,
}

/// Where received bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The address the owner sees (IPv4 peers of a dual-stack UDP socket as IPv4).
    pub peer: SocketAddr,
    /// Where replies go: `peer`, or on a dual-stack UDP socket its IPv4-mapped form.
    pub reply_to: SocketAddr,
    /// See [`Record::time_us`].
    pub time_us: u64,
}

/// One session's running pipeline, owned by its worker. Framer states live with the streams
/// (see [`Pipeline::new_framer`]); everything else here is per session.
pub struct Pipeline {
    framer: FramerSpec,
    /// The UDP worker's built-in responder (`SetAutoReply`), run before `stages`; kept apart
    /// so the owner can change it while the session runs.
    auto_reply: Option<AutoReply>,
    stages: Vec<Box<dyn Stage>>,
    /// A tap the owner starts and stops while the session runs (capture to a file). Unlike
    /// `stages` it sees received bytes as each read gave them, before the framer, so it keeps
    /// what crossed the wire; sent bytes and closes as the stages do.
    tap: Option<Box<dyn Stage>>,
    /// This end's address, stamped on every record the stages see.
    local: SocketAddr,
    outbound: Vec<Box<dyn OutboundStage>>,
    append_checksum: Option<ChecksumSpec>,
    verify_checksum: Option<ChecksumSpec>,
    replies: Replies,
    /// What the framers had to say, by peer, in order, until the worker takes it.
    notices: Vec<(SocketAddr, FrameNotice)>,
    /// Bytes each peer's framer holds, where that changed since the worker last took it: one
    /// notice per peer per turn, however many reads changed it.
    pending: HashMap<SocketAddr, usize>,
    /// Replies waiting for their delay, with when they are due (at most [`DELAYED_REPLIES_MAX`]).
    later: Vec<(Instant, SocketAddr, Vec<u8>)>,
}

/// Most delayed replies waiting at once; one more is not sent, and said.
pub const DELAYED_REPLIES_MAX: usize = 4096;

impl Pipeline {
    pub fn new(spec: &PipelineSpec) -> Self {
        Self {
            framer: spec.framer.clone(),
            auto_reply: None,
            stages: spec.stages.iter().map(Factory::build).collect(),
            tap: None,
            local: SocketAddr::from(([0, 0, 0, 0], 0)),
            outbound: spec.outbound.iter().map(Factory::build).collect(),
            append_checksum: spec.append_checksum,
            verify_checksum: spec.verify_checksum,
            replies: Replies::default(),
            notices: Vec::new(),
            pending: HashMap::new(),
            later: Vec::new(),
        }
    }

    /// Whether the framers end records by time: the worker must then wake at
    /// [`Framer::deadline`] and call [`Pipeline::expire`].
    pub fn has_timer(&self) -> bool {
        self.framer.has_timer()
    }

    /// The framer state for a new stream (a connection, a server client, a UDP peer).
    pub fn new_framer(&self) -> Box<dyn Framer> {
        self.framer.build()
    }

    /// Whether each read is one record as it is, so a worker may skip per-stream state.
    pub fn is_raw(&self) -> bool {
        self.framer.is_raw()
    }

    /// Whether any stage wants to see records; when not, a worker may skip work done only
    /// for them (timestamps, copies of datagrams it drops anyway).
    pub fn has_stages(&self) -> bool {
        self.auto_reply.is_some() || !self.stages.is_empty() || self.tap.is_some()
    }

    /// Sets (or with `None` removes) the owner's tap; the one it replaces is dropped, which
    /// for a capture ends its file.
    pub fn set_tap(&mut self, tap: Option<Box<dyn Stage>>) {
        self.tap = tap;
    }

    /// Takes the owner's tap out, to carry it into the next session's pipeline.
    pub fn take_tap(&mut self) -> Option<Box<dyn Stage>> {
        self.tap.take()
    }

    /// Builds the pipeline for a new session of the same worker: the owner's tap (a
    /// capture running across reconnects) moves over from the old one.
    pub fn renew(&mut self, spec: &PipelineSpec) {
        let tap = self.take_tap();
        *self = Self::new(spec);
        self.tap = tap;
    }

    /// This end's address, as the stages will see it on every record from now on (a TCP
    /// connection's local address, a UDP socket's bound one).
    pub fn set_local(&mut self, local: SocketAddr) {
        self.local = local;
    }

    /// Tells the stages that the stream with `peer` ended (after its last record).
    pub fn see_closed(&mut self, peer: SocketAddr) {
        if self.stages.is_empty() && self.tap.is_none() {
            return;
        }
        let time_us = now_us();
        let local = self.local;
        for stage in self.stages.iter_mut().chain(self.tap.as_mut()) {
            stage.on_closed(local, peer, time_us);
        }
    }

    /// Tells the stages that a stream with `peer` began (a TCP connection, a server's
    /// client), before its first record; greetings they queue wait in
    /// [`Pipeline::take_replies`].
    pub fn see_opened(&mut self, peer: SocketAddr) {
        if self.stages.is_empty() {
            return;
        }
        let local = self.local;
        self.replies.address(peer);
        for stage in &mut self.stages {
            stage.on_opened(local, peer, &mut self.replies);
        }
    }

    /// Gives the stages whose timer passed their tick; what they queue joins the replies.
    fn tick(&mut self, now: Instant) {
        for stage in &mut self.stages {
            if stage.next_tick().is_some_and(|due| due <= now) {
                stage.on_tick(now, &mut self.replies);
            }
        }
    }

    /// Sets (or with `None` removes) the built-in responder answering every received record.
    pub fn set_auto_reply(&mut self, reply: Option<Vec<u8>>) {
        self.auto_reply = reply.map(AutoReply::new);
    }

    /// Where received bytes come from, with the time stamped on them. The clock is read only
    /// when a stage will look at it.
    pub fn origin_now(&self, peer: SocketAddr) -> Origin {
        Origin {
            peer,
            reply_to: peer,
            time_us: if self.has_stages() { now_us() } else { 0 },
        }
    }

    /// Passes one read of a stream (a TCP read, a datagram of a framed UDP peer) through the
    /// stream's framer and the stages, and hands each record to `deliver`, in order. Replies
    /// the stages queue wait in [`Pipeline::take_replies`], addressed to `origin.reply_to`.
    pub fn receive(
        &mut self,
        framer: &mut dyn Framer,
        origin: Origin,
        bytes: Vec<u8>,
        mut deliver: impl FnMut(Vec<u8>, Check),
    ) {
        self.tap_received(origin, &bytes);
        let before = framer.pending_bytes();
        let verify = self.verify_checksum;
        let (mut stages, replies) = self.stages_and_replies();
        framer.push(bytes, &mut |record: Vec<u8>| {
            stages.received(origin, &record, replies);
            let check = check_with(verify.as_ref(), &record);
            deliver(record, check);
        });
        self.note_framer(framer, origin.peer, before);
    }

    /// Ends the record a framer holds if its deadline passed (an idle gap): it goes through
    /// the stages and to `deliver` like any record.
    pub fn expire(
        &mut self,
        framer: &mut dyn Framer,
        origin: Origin,
        now: Instant,
        mut deliver: impl FnMut(Vec<u8>, Check),
    ) {
        let before = framer.pending_bytes();
        let verify = self.verify_checksum;
        let (mut stages, replies) = self.stages_and_replies();
        framer.expire(now, &mut |record: Vec<u8>| {
            stages.received(origin, &record, replies);
            let check = check_with(verify.as_ref(), &record);
            deliver(record, check);
        });
        self.note_framer(framer, origin.peer, before);
    }

    /// Keeps what a framer has to say after it was given bytes (or time).
    fn note_framer(&mut self, framer: &mut dyn Framer, peer: SocketAddr, before: usize) {
        if self.framer.is_raw() {
            return;
        }
        for notice in framer.take_notices() {
            self.notices.push((peer, notice));
        }
        let after = framer.pending_bytes();
        if after != before {
            self.pending.insert(peer, after);
        }
    }

    /// What the framers said since the last call, each with its peer: notices in order, then
    /// the bytes each peer's framer now holds where that changed ([`FrameNotice::Pending`]).
    pub fn take_notices(&mut self) -> Vec<(SocketAddr, FrameNotice)> {
        if self.notices.is_empty() && self.pending.is_empty() {
            return Vec::new();
        }
        let mut notices = std::mem::take(&mut self.notices);
        let mut pending: Vec<_> = self.pending.drain().collect();
        pending.sort_unstable();
        notices.extend(
            pending
                .into_iter()
                .map(|(peer, bytes)| (peer, FrameNotice::Pending { bytes })),
        );
        notices
    }

    /// Ends a stream: what its framer still holds (a partial record) goes through the stages
    /// and to `deliver` like any record.
    pub fn finish(
        &mut self,
        framer: &mut dyn Framer,
        origin: Origin,
        mut deliver: impl FnMut(Vec<u8>, Check),
    ) {
        let before = framer.pending_bytes();
        let verify = self.verify_checksum;
        let (mut stages, replies) = self.stages_and_replies();
        framer.finish(&mut |record: Vec<u8>| {
            stages.received(origin, &record, replies);
            let check = check_with(verify.as_ref(), &record);
            deliver(record, check);
        });
        if before > 0 {
            self.notices
                .push((origin.peer, FrameNotice::EndedInside { bytes: before }));
        }
        self.note_framer(framer, origin.peer, before);
    }

    /// Shows the stages one record the worker framed itself: a raw UDP datagram, still in
    /// the receive buffer, so a datagram the owner will not get costs no copy.
    pub fn see_received(&mut self, origin: Origin, bytes: &[u8]) {
        self.tap_received(origin, bytes);
        let (mut stages, replies) = self.stages_and_replies();
        stages.received(origin, bytes, replies);
    }

    /// Shows the owner's tap the bytes as they came off the socket, before any framer: a
    /// capture keeps what crossed the wire, delimiters and partial frames included.
    fn tap_received(&mut self, origin: Origin, bytes: &[u8]) {
        if let Some(tap) = self.tap.as_mut() {
            let record = Record {
                peer: origin.peer,
                local: self.local,
                direction: Direction::Received,
                time_us: origin.time_us,
                bytes,
            };
            tap.on_received(&record, &mut self.replies);
        }
    }

    /// Shows bytes the kernel took for `peer` to the stages (capture sees both ways).
    pub fn see_sent(&mut self, peer: SocketAddr, time_us: u64, bytes: &[u8]) {
        if self.stages.is_empty() && self.tap.is_none() {
            return;
        }
        let record = Record {
            peer,
            local: self.local,
            direction: Direction::Sent,
            time_us,
            bytes,
        };
        for stage in self.stages.iter_mut().chain(self.tap.as_mut()) {
            stage.on_sent(&record);
        }
    }

    /// [`Pipeline::see_sent`] for workers that have no timestamp of their own.
    pub fn see_sent_now(&mut self, peer: SocketAddr, bytes: &[u8]) {
        if !self.stages.is_empty() || self.tap.is_some() {
            self.see_sent(peer, now_us(), bytes);
        }
    }

    /// Runs a payload through the outbound chain. Every send path calls it exactly once per
    /// payload and peer, before the payload is queued.
    pub fn outbound(&mut self, payload: Vec<u8>) -> Vec<u8> {
        let payload = self
            .outbound
            .iter_mut()
            .fold(payload, |payload, stage| stage.apply(payload));
        match &self.append_checksum {
            Some(spec) if !payload.is_empty() => spec.append(payload),
            _ => payload,
        }
    }

    /// The checksum verdict for a received record the worker framed itself (a raw datagram).
    pub fn check(&self, record: &[u8]) -> Check {
        check_with(self.verify_checksum.as_ref(), record)
    }

    /// Replies queued by responders since the last call, each with the address to send it to,
    /// in the order they were queued. They still have to go through [`Pipeline::outbound`].
    /// Stages whose timer passed get their tick first ([`Stage::on_tick`]).
    pub fn take_replies(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        let now = Instant::now();
        self.tick(now);
        for (delay, to, bytes) in self.replies.take_delayed() {
            if self.later.len() >= DELAYED_REPLIES_MAX {
                self.notices.push((
                    to,
                    FrameNotice::ReplyDropped {
                        waiting: self.later.len(),
                    },
                ));
                continue;
            }
            self.later.push((now + delay, to, bytes));
        }
        let mut replies = self.replies.take();
        if self.later.iter().any(|(due, ..)| *due <= now) {
            // In the order they fall due (a stable sort keeps queue order among equals).
            self.later.sort_by_key(|(due, ..)| *due);
            let due = self.later.partition_point(|(due, ..)| *due <= now);
            replies.extend(self.later.drain(..due).map(|(_, to, bytes)| (to, bytes)));
        }
        replies
    }

    /// When the next delayed reply falls due, if one waits (also one still in the stages'
    /// queue: the worker takes replies right after each read).
    /// A stage's own timer ([`Stage::next_tick`]) counts too: the worker wakes for it the
    /// same way and calls [`Pipeline::take_replies`].
    pub fn next_reply_due(&self) -> Option<Instant> {
        self.later
            .iter()
            .map(|(due, ..)| *due)
            .chain(self.stages.iter().filter_map(|s| s.next_tick()))
            .min()
    }

    fn stages_and_replies(&mut self) -> (ReceiveStages<'_>, &mut Replies) {
        (
            ReceiveStages {
                auto_reply: self.auto_reply.as_mut(),
                stages: &mut self.stages,
                local: self.local,
            },
            &mut self.replies,
        )
    }
}

/// The verdict of `spec` (if any) on a received record.
fn check_with(spec: Option<&ChecksumSpec>, record: &[u8]) -> Check {
    match spec {
        None => Check::Unchecked,
        Some(spec) if spec.verify(record).is_good() => Check::Good,
        Some(_) => Check::Bad,
    }
}

/// The stages a received record passes, borrowed apart from the replies they fill.
struct ReceiveStages<'a> {
    auto_reply: Option<&'a mut AutoReply>,
    stages: &'a mut [Box<dyn Stage>],
    local: SocketAddr,
}

impl ReceiveStages<'_> {
    fn received(&mut self, origin: Origin, bytes: &[u8], replies: &mut Replies) {
        if self.auto_reply.is_none() && self.stages.is_empty() {
            return;
        }
        let record = Record {
            peer: origin.peer,
            local: self.local,
            direction: Direction::Received,
            time_us: origin.time_us,
            bytes,
        };
        replies.address(origin.reply_to);
        if let Some(auto) = self.auto_reply.as_deref_mut() {
            auto.on_received(&record, replies);
        }
        for stage in self.stages.iter_mut() {
            stage.on_received(&record, replies);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Remembers what it saw, as text, for the assertions below.
    struct Log(Arc<std::sync::Mutex<Vec<String>>>);

    impl Stage for Log {
        fn on_received(&mut self, record: &Record<'_>, replies: &mut Replies) {
            self.0
                .lock()
                .unwrap()
                .push(format!("in {}", String::from_utf8_lossy(record.bytes)));
            replies.push(b"ack".to_vec());
        }

        fn on_sent(&mut self, record: &Record<'_>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("out {}", String::from_utf8_lossy(record.bytes)));
        }
    }

    struct Suffix(u8);

    impl OutboundStage for Suffix {
        fn apply(&mut self, mut payload: Vec<u8>) -> Vec<u8> {
            payload.push(self.0);
            payload
        }
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:9".parse().unwrap()
    }

    #[test]
    fn the_default_spec_is_raw_with_no_stages_and_moves_the_read() {
        let mut pipeline = Pipeline::new(&PipelineSpec::default());
        assert!(pipeline.is_raw());
        assert!(!pipeline.has_stages());
        let mut framer = pipeline.new_framer();
        let read = b"one read".to_vec();
        let at = read.as_ptr();
        let mut got = Vec::new();
        let origin = pipeline.origin_now(peer());
        pipeline.receive(framer.as_mut(), origin, read, |r, _| got.push(r));
        assert_eq!(got, vec![b"one read".to_vec()]);
        assert_eq!(
            got[0].as_ptr(),
            at,
            "a raw record is the read itself, not a copy"
        );
        assert_eq!(pipeline.outbound(b"x".to_vec()), b"x");
        assert!(pipeline.take_replies().is_empty());
    }

    #[test]
    fn stages_see_both_ways_and_replies_go_to_the_peer_after_the_auto_reply() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let for_factory = Arc::clone(&seen);
        let spec = PipelineSpec {
            stages: vec![Factory::new("log", move || {
                Box::new(Log(Arc::clone(&for_factory))) as Box<dyn Stage>
            })],
            outbound: vec![
                Factory::new("a", || Box::new(Suffix(b'a')) as Box<dyn OutboundStage>),
                Factory::new("b", || Box::new(Suffix(b'b')) as Box<dyn OutboundStage>),
            ],
            ..PipelineSpec::default()
        };
        assert_eq!(spec, spec.clone(), "clones name the same factories");
        assert_ne!(spec, PipelineSpec::default());
        let mut pipeline = Pipeline::new(&spec);
        pipeline.set_auto_reply(Some(b"auto".to_vec()));
        let mut framer = pipeline.new_framer();
        let mut got = Vec::new();
        let origin = pipeline.origin_now(peer());
        assert!(origin.time_us > 0, "stamped when a stage looks");
        pipeline.receive(framer.as_mut(), origin, b"hi".to_vec(), |r, _| got.push(r));
        pipeline.see_sent(peer(), 1, b"bye");
        assert_eq!(got, vec![b"hi".to_vec()]);
        assert_eq!(*seen.lock().unwrap(), vec!["in hi", "out bye"]);
        assert_eq!(
            pipeline.take_replies(),
            vec![(peer(), b"auto".to_vec()), (peer(), b"ack".to_vec())]
        );
        assert_eq!(
            pipeline.outbound(b"x".to_vec()),
            b"xab",
            "in order, once each"
        );
    }
}
