//! Framers cut what a stream delivers into records. One framer state per stream: the TCP
//! Client's connection, each TCP Server client, each UDP peer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use super::Factory;
use super::framing::{FrameNotice, Framing};

/// Cuts a stream into records. Bytes a record still waits for stay in the framer, which must
/// bound them (a maximum frame size) and say what it dropped beyond that.
pub trait Framer: Send {
    /// Takes the bytes of one read, in stream order, and hands each complete record to
    /// `emit`, in order.
    fn push(&mut self, bytes: Vec<u8>, emit: &mut dyn FnMut(Vec<u8>));

    /// Bytes held for a record not yet complete.
    fn pending_bytes(&self) -> usize {
        0
    }

    /// The stream ended: hands what is held to `emit` as a last, partial record.
    fn finish(&mut self, emit: &mut dyn FnMut(Vec<u8>)) {
        let _ = emit;
    }

    /// When what is held becomes a record with no more input (an idle gap), if ever.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Hands what is held to `emit` if its [`Framer::deadline`] is at or before `now`.
    fn expire(&mut self, now: Instant, emit: &mut dyn FnMut(Vec<u8>)) {
        let _ = (now, emit);
    }

    /// What the user should be told since the last call (a frame cut at the limit, a bad
    /// length field), in order.
    fn take_notices(&mut self) -> Vec<FrameNotice> {
        Vec::new()
    }
}

/// Each read is one record as it came: the read's own buffer moves on, nothing is copied or
/// held.
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw;

impl Framer for Raw {
    fn push(&mut self, bytes: Vec<u8>, emit: &mut dyn FnMut(Vec<u8>)) {
        if !bytes.is_empty() {
            emit(bytes);
        }
    }
}

/// Which framer a session's streams use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FramerSpec {
    /// One record per read (TCP) or per datagram (UDP).
    #[default]
    Raw,
    /// A rule the user chose (delimiter, fixed length, length prefix, idle gap).
    Framed(Framing),
    /// A framer from outside the engine, one instance per stream.
    Custom(Factory<dyn Framer>),
}

impl FramerSpec {
    pub fn build(&self) -> Box<dyn Framer> {
        match self {
            // A zero-sized value: the box allocates nothing.
            Self::Raw => Box::new(Raw),
            Self::Framed(framing) => framing.build(),
            Self::Custom(factory) => factory.build(),
        }
    }

    pub fn is_raw(&self) -> bool {
        matches!(self, Self::Raw)
    }

    /// Whether its framers end records by time, so workers must wake for their deadlines.
    pub fn has_timer(&self) -> bool {
        match self {
            Self::Raw => false,
            Self::Framed(framing) => framing.has_timer(),
            // Unknown: ask the framers.
            Self::Custom(_) => true,
        }
    }
}

/// Most UDP peers with a framer state at once. Anyone can send from any number of ports, so
/// the map is bounded; a new peer beyond it evicts the one heard from least recently.
pub const PEER_FRAMERS_MAX: usize = 1024;

/// A peer's framer state pushed out of a full [`PeerFramers`], still to be finished.
pub type Evicted = (SocketAddr, Box<dyn Framer>);

/// The framer states of a UDP session, one per peer address, at most [`PEER_FRAMERS_MAX`].
pub struct PeerFramers {
    framers: HashMap<SocketAddr, (u64, Box<dyn Framer>)>,
    /// Counts uses, so the least recently used entry is the one with the smallest mark.
    tick: u64,
    max: usize,
}

impl Default for PeerFramers {
    fn default() -> Self {
        Self::with_max(PEER_FRAMERS_MAX)
    }
}

impl PeerFramers {
    pub fn with_max(max: usize) -> Self {
        Self {
            framers: HashMap::new(),
            tick: 0,
            max: max.max(1),
        }
    }

    /// The framer of `peer`, made with `make` if it has none. When that needs room, the
    /// least recently used peer's framer is handed back too, for the caller to finish (its
    /// partial record is delivered, not lost in silence).
    pub fn get(
        &mut self,
        peer: SocketAddr,
        make: impl FnOnce() -> Box<dyn Framer>,
    ) -> (&mut dyn Framer, Option<Evicted>) {
        self.tick += 1;
        let mut evicted = None;
        if !self.framers.contains_key(&peer) && self.framers.len() >= self.max {
            // A scan, but only when a new peer arrives with the map full.
            let oldest = self
                .framers
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(addr, _)| *addr);
            if let Some(addr) = oldest {
                evicted = self.framers.remove(&addr).map(|(_, f)| (addr, f));
            }
        }
        let entry = self.framers.entry(peer).or_insert_with(|| (0, make()));
        entry.0 = self.tick;
        (entry.1.as_mut(), evicted)
    }

    /// Every framer, for the caller to finish at the end of the session.
    pub fn take_all(&mut self) -> Vec<Evicted> {
        self.framers
            .drain()
            .map(|(addr, (_, f))| (addr, f))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.framers.len()
    }

    /// The earliest deadline of any peer's framer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.framers
            .values()
            .filter_map(|(_, framer)| framer.deadline())
            .min()
    }

    /// Every peer whose framer's deadline is due at `now`, with the framer, for the caller to
    /// expire.
    pub fn due(&mut self, now: Instant) -> impl Iterator<Item = (SocketAddr, &mut dyn Framer)> {
        self.framers
            .iter_mut()
            .filter_map(move |(addr, (_, framer))| {
                framer
                    .deadline()
                    .is_some_and(|due| due <= now)
                    .then_some((*addr, framer.as_mut() as &mut dyn Framer))
            })
    }

    pub fn is_empty(&self) -> bool {
        self.framers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Holds everything until finished: shows which state a peer's bytes went to.
    #[derive(Default)]
    struct Hold(Vec<u8>);

    impl Framer for Hold {
        fn push(&mut self, bytes: Vec<u8>, _emit: &mut dyn FnMut(Vec<u8>)) {
            self.0.extend_from_slice(&bytes);
        }

        fn pending_bytes(&self) -> usize {
            self.0.len()
        }

        fn finish(&mut self, emit: &mut dyn FnMut(Vec<u8>)) {
            emit(std::mem::take(&mut self.0));
        }
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn make() -> Box<dyn Framer> {
        Box::new(Hold::default())
    }

    #[test]
    fn raw_emits_each_read_as_it_is_and_nothing_for_an_empty_one() {
        let mut got = Vec::new();
        Raw.push(Vec::new(), &mut |r| got.push(r));
        Raw.push(b"ab".to_vec(), &mut |r| got.push(r));
        assert_eq!(got, vec![b"ab".to_vec()]);
    }

    #[test]
    fn peers_keep_their_own_state_and_the_least_recently_used_is_evicted() {
        let mut framers = PeerFramers::with_max(2);
        let mut sink = |_: Vec<u8>| {};
        framers
            .get(addr(1), make)
            .0
            .push(b"one".to_vec(), &mut sink);
        framers
            .get(addr(2), make)
            .0
            .push(b"two".to_vec(), &mut sink);
        // Peer 1 is used again, so peer 2 is now the least recently used.
        let (one, none) = framers.get(addr(1), make);
        assert_eq!(one.pending_bytes(), 3);
        assert!(none.is_none());
        let (three, evicted) = framers.get(addr(3), make);
        assert_eq!(three.pending_bytes(), 0);
        let (who, mut framer) = evicted.unwrap();
        assert_eq!(who, addr(2));
        let mut partial = Vec::new();
        framer.finish(&mut |r| partial.push(r));
        assert_eq!(partial, vec![b"two".to_vec()]);
        assert_eq!(framers.len(), 2);
        let mut left: Vec<_> = framers.take_all().into_iter().map(|(a, _)| a).collect();
        left.sort();
        assert_eq!(left, vec![addr(1), addr(3)]);
        assert!(framers.is_empty());
    }
}
