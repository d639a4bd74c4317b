//! The byte-capped ring of traffic records.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Default history cap: 64 MiB of records.
pub const DEFAULT_CAP_BYTES: usize = 64 * 1024 * 1024;

/// Bytes a stored record costs beyond its payload: its fixed metadata (time, place in its
/// block, an IPv4 peer, direction and check). An IPv6 peer costs
/// [`IPV6_PEER_BYTES`] more, kept beside the payload. Counted against the cap, so a flood of
/// tiny records is capped as honestly as a few large ones.
pub const RECORD_OVERHEAD_BYTES: usize = std::mem::size_of::<Meta>();

/// An IPv6 peer as stored before its record's payload: address, port, flow info and scope id.
pub const IPV6_PEER_BYTES: usize = 16 + 2 + 4 + 4;

/// Payload bytes per storage block. Records are copied into large shared blocks instead of one
/// heap allocation each (an allocation cost ~16 bytes of bookkeeping plus rounding, and the
/// old record struct 64 more); a block is freed when its last record is evicted, so memory
/// beyond the cap is at most one block.
const BLOCK_BYTES: usize = 1 << 20;
/// A payload at least this long keeps its own allocation as its block (see `adopt`).
const ADOPT_BYTES: usize = 64 * 1024;

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Bytes that arrived from the peer.
    Received,
    /// Bytes we wrote to the peer.
    Sent,
    /// A state change worth keeping in the history (connected, closed, …); payload is UTF-8.
    Info,
    /// A failure; payload is a UTF-8 sentence.
    Error,
}

impl Direction {
    /// Short marker for the log's direction column.
    pub fn marker(self) -> &'static str {
        match self {
            Self::Received => "RX",
            Self::Sent => "TX",
            Self::Info => "--",
            Self::Error => "!!",
        }
    }
}

/// What a received record's checksum said, where the session verifies one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Check {
    /// Not verified (no checksum chosen, or not a received record).
    #[default]
    Unchecked,
    Good,
    /// Wrong, or the record is too short to hold one.
    Bad,
}

/// One entry of the traffic log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Microseconds since the Unix epoch.
    pub time_us: u64,
    pub direction: Direction,
    /// The checksum verdict of a received record.
    pub check: Check,
    /// The remote end, when the record concerns one.
    pub peer: Option<SocketAddr>,
    pub bytes: Box<[u8]>,
}

impl Record {
    pub fn new(
        direction: Direction,
        peer: Option<SocketAddr>,
        bytes: impl Into<Box<[u8]>>,
    ) -> Self {
        Self {
            time_us: super::now_us(),
            direction,
            check: Check::Unchecked,
            peer,
            bytes: bytes.into(),
        }
    }

    /// A record stamped with the time the worker saw it.
    pub fn at(
        time_us: u64,
        direction: Direction,
        peer: Option<SocketAddr>,
        bytes: impl Into<Box<[u8]>>,
    ) -> Self {
        Self {
            time_us,
            direction,
            check: Check::Unchecked,
            peer,
            bytes: bytes.into(),
        }
    }

    /// The record with its checksum verdict.
    #[must_use]
    pub fn checked(mut self, check: Check) -> Self {
        self.check = check;
        self
    }

    /// A message record (info or error) holding a UTF-8 sentence.
    pub fn message(direction: Direction, peer: Option<SocketAddr>, text: &str) -> Self {
        Self::new(direction, peer, text.as_bytes())
    }

    /// What this record costs against the cap once stored.
    pub fn cost_bytes(&self) -> usize {
        let peer = if matches!(self.peer, Some(SocketAddr::V6(_))) {
            IPV6_PEER_BYTES
        } else {
            0
        };
        self.bytes.len() + peer + RECORD_OVERHEAD_BYTES
    }
}

/// Traffic totals; never reduced by eviction, only by an explicit clear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    /// Received records whose checksum was wrong.
    pub bad_checks: u64,
}

/// A stored record, borrowed from the log: what [`TrafficLog::get`] and
/// [`TrafficLog::iter`] give. Its payload points into the log's storage, so reading costs no
/// copy; [`RecordRef::to_record`] makes an owned one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Microseconds since the Unix epoch.
    pub time_us: u64,
    pub direction: Direction,
    pub check: Check,
    pub peer: Option<SocketAddr>,
    pub bytes: &'a [u8],
}

impl RecordRef<'_> {
    /// An owned copy, to keep or to push into another log.
    pub fn to_record(&self) -> Record {
        Record {
            time_us: self.time_us,
            direction: self.direction,
            check: self.check,
            peer: self.peer,
            bytes: self.bytes.into(),
        }
    }
}

impl Record {
    /// The record as the log would give it back.
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            time_us: self.time_us,
            direction: self.direction,
            check: self.check,
            peer: self.peer,
            bytes: &self.bytes,
        }
    }
}

/// What the log keeps of a record beside its payload: 16 bytes. Its length is where the next
/// record of its block starts (or the block's end), so it is not stored.
#[derive(Debug, Clone, Copy)]
struct Meta {
    /// Microseconds from its block's base time (a block ends where this would not fit).
    time_delta_us: i32,
    /// Where the record starts in its block: its IPv6 peer if it has one, then the payload.
    start: u32,
    /// An IPv4 peer's address (with `port`), so the common case costs nothing in the block.
    v4: [u8; 4],
    port: u16,
    /// Direction (bits 0–1), check (bits 2–3) and where the peer is (bits 4–5).
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<Meta>() == 16);

const PEER_NONE: u8 = 0;
const PEER_V4: u8 = 1;
const PEER_V6: u8 = 2;

/// The longest payload one stored record holds; a longer one is kept as several records (a
/// 4 GiB record does not occur, this only keeps the 32-bit lengths honest).
const MAX_STORED_PAYLOAD: usize = (u32::MAX as usize) - 64;

impl Meta {
    fn direction(self) -> Direction {
        match self.flags & 0b11 {
            0 => Direction::Received,
            1 => Direction::Sent,
            2 => Direction::Info,
            _ => Direction::Error,
        }
    }

    fn check(self) -> Check {
        match (self.flags >> 2) & 0b11 {
            1 => Check::Good,
            2 => Check::Bad,
            _ => Check::Unchecked,
        }
    }

    fn peer_kind(self) -> u8 {
        (self.flags >> 4) & 0b11
    }

    fn peer_bytes(self) -> usize {
        if self.peer_kind() == PEER_V6 {
            IPV6_PEER_BYTES
        } else {
            0
        }
    }
}

fn flags(direction: Direction, check: Check, peer_kind: u8) -> u8 {
    let d = match direction {
        Direction::Received => 0,
        Direction::Sent => 1,
        Direction::Info => 2,
        Direction::Error => 3,
    };
    let c = match check {
        Check::Unchecked => 0,
        Check::Good => 1,
        Check::Bad => 2,
    };
    d | (c << 2) | (peer_kind << 4)
}

fn encode_v6(peer: &SocketAddrV6) -> [u8; IPV6_PEER_BYTES] {
    let mut out = [0u8; IPV6_PEER_BYTES];
    out[..16].copy_from_slice(&peer.ip().octets());
    out[16..18].copy_from_slice(&peer.port().to_le_bytes());
    out[18..22].copy_from_slice(&peer.flowinfo().to_le_bytes());
    out[22..26].copy_from_slice(&peer.scope_id().to_le_bytes());
    out
}

fn decode_v6(bytes: &[u8]) -> Option<SocketAddr> {
    let bytes: &[u8; IPV6_PEER_BYTES] = bytes.get(..IPV6_PEER_BYTES)?.try_into().ok()?;
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&bytes[..16]);
    let port = u16::from_le_bytes([bytes[16], bytes[17]]);
    let flowinfo = u32::from_le_bytes([bytes[18], bytes[19], bytes[20], bytes[21]]);
    let scope = u32::from_le_bytes([bytes[22], bytes[23], bytes[24], bytes[25]]);
    Some(SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::from(ip),
        port,
        flowinfo,
        scope,
    )))
}

/// Metadata per chunk of the ring: 64 KiB, so the ring's unused room is at most one chunk
/// (a `VecDeque` doubles and kept up to twice the room the records needed).
const METAS_PER_CHUNK: usize = 4096;

/// The records' metadata in fixed chunks. Every chunk but the last is full, counted from the
/// first chunk's first id, so finding a record is a division; the front chunk is dropped when
/// eviction has passed all of it.
#[derive(Debug, Default)]
struct MetaRing {
    chunks: VecDeque<Vec<Meta>>,
    /// Entries of the front chunk already evicted.
    skipped: usize,
    len: usize,
}

impl MetaRing {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn get(&self, index: usize) -> Option<&Meta> {
        if index >= self.len {
            return None;
        }
        let at = index + self.skipped;
        self.chunks
            .get(at / METAS_PER_CHUNK)?
            .get(at % METAS_PER_CHUNK)
    }

    fn push_back(&mut self, meta: Meta) {
        match self.chunks.back_mut() {
            Some(chunk) if chunk.len() < METAS_PER_CHUNK => chunk.push(meta),
            _ => {
                let mut chunk = Vec::with_capacity(METAS_PER_CHUNK);
                chunk.push(meta);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    fn pop_front(&mut self) -> Option<Meta> {
        let meta = *self.get(0)?;
        self.len -= 1;
        self.skipped += 1;
        if self.skipped == METAS_PER_CHUNK || self.len == 0 {
            self.chunks.pop_front();
            self.skipped = 0;
        }
        Some(meta)
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    /// Bytes the chunks hold room for.
    #[cfg(test)]
    fn capacity_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum::<usize>() * RECORD_OVERHEAD_BYTES
    }
}

/// Payload bytes of consecutive records; `first_id` is the id of the first record in it, and
/// its records' times are counted from `base_time_us`.
#[derive(Debug)]
struct Block {
    first_id: u64,
    base_time_us: u64,
    data: Vec<u8>,
}

impl Block {
    /// The record `meta` describes, whose bytes end at `end`.
    fn view(&self, meta: Meta, end: usize) -> RecordRef<'_> {
        let start = meta.start as usize;
        let (peer, payload) = match meta.peer_kind() {
            PEER_V4 => (
                Some(SocketAddr::from((Ipv4Addr::from(meta.v4), meta.port))),
                start,
            ),
            PEER_V6 => (
                self.data.get(start..).and_then(decode_v6),
                start + IPV6_PEER_BYTES,
            ),
            _ => (None, start),
        };
        RecordRef {
            time_us: self
                .base_time_us
                .saturating_add_signed(i64::from(meta.time_delta_us)),
            direction: meta.direction(),
            check: meta.check(),
            peer,
            bytes: self.data.get(payload..end).unwrap_or_default(),
        }
    }
}

/// A ring of records capped by total bytes. Records have stable ids (their position since the
/// log was created), so selections survive eviction of older records.
///
/// Storage is compact: 16 bytes of metadata per record in one ring, payloads copied into
/// shared 1 MiB blocks (so a 64 MiB cap holds about 840,000 datagrams of 64 bytes, where a
/// heap allocation per record held 466,000).
#[derive(Debug)]
pub struct TrafficLog {
    metas: MetaRing,
    blocks: VecDeque<Block>,
    /// Id of `metas[0]`.
    first_id: u64,
    stored_bytes: usize,
    cap_bytes: usize,
    evicted_records: u64,
    evicted_bytes: u64,
    counters: Counters,
}

impl Default for TrafficLog {
    fn default() -> Self {
        Self::with_cap(DEFAULT_CAP_BYTES)
    }
}

impl TrafficLog {
    pub fn with_cap(cap_bytes: usize) -> Self {
        Self {
            metas: MetaRing::default(),
            blocks: VecDeque::new(),
            first_id: 0,
            stored_bytes: 0,
            cap_bytes: cap_bytes.max(1),
            evicted_records: 0,
            evicted_bytes: 0,
            counters: Counters::default(),
        }
    }

    /// Appends a record, counting its bytes, and evicts the oldest records beyond the cap.
    /// The payload is copied into the log's blocks; the record is taken because callers hand
    /// over what they no longer need.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "callers give their record away; log.push(Record::new(..)) reads as it does"
    )]
    pub fn push(&mut self, record: Record) {
        match record.direction {
            Direction::Received => {
                self.counters.rx_bytes += record.bytes.len() as u64;
                self.counters.rx_packets += 1;
                if record.check == Check::Bad {
                    self.counters.bad_checks += 1;
                }
            }
            Direction::Sent => {
                self.counters.tx_bytes += record.bytes.len() as u64;
                self.counters.tx_packets += 1;
            }
            Direction::Info | Direction::Error => {}
        }
        let adopt = (ADOPT_BYTES..=MAX_STORED_PAYLOAD).contains(&record.bytes.len())
            && !matches!(record.peer, Some(SocketAddr::V6(_)));
        if adopt {
            self.adopt(record);
        } else {
            let mut pieces = record.bytes.chunks(MAX_STORED_PAYLOAD);
            let first = pieces.next().unwrap_or_default();
            self.store(&record, first);
            for piece in pieces {
                self.store(&record, piece);
            }
        }
        self.evict_to_cap();
    }

    /// Keeps a large record's own allocation as a block of its own instead of copying it
    /// (a TCP flood's 512 KiB reads): no copy, no fresh pages to fault in.
    fn adopt(&mut self, record: Record) {
        let (peer_kind, v4, port) = match record.peer {
            Some(SocketAddr::V4(a)) => (PEER_V4, a.ip().octets(), a.port()),
            _ => (PEER_NONE, [0; 4], 0),
        };
        let len = record.bytes.len();
        let meta = Meta {
            time_delta_us: 0,
            start: 0,
            v4,
            port,
            flags: flags(record.direction, record.check, peer_kind),
        };
        self.seal_back_block();
        self.blocks.push_back(Block {
            first_id: self.end_id(),
            base_time_us: record.time_us,
            // A boxed slice's vector is full, so the next record starts a block of its own.
            data: record.bytes.into_vec(),
        });
        self.stored_bytes += len + RECORD_OVERHEAD_BYTES;
        self.metas.push_back(meta);
    }

    /// Copies one record's peer and payload into the newest block (a new one when it is
    /// full) and its metadata into the ring.
    fn store(&mut self, record: &Record, payload: &[u8]) {
        let (peer_kind, v4, port, v6) = match record.peer {
            None => (PEER_NONE, [0; 4], 0, None),
            Some(SocketAddr::V4(a)) => (PEER_V4, a.ip().octets(), a.port(), None),
            Some(SocketAddr::V6(a)) => (PEER_V6, [0; 4], 0, Some(encode_v6(&a))),
        };
        let need = payload.len() + v6.map_or(0, |p| p.len());
        let id = self.end_id();
        let delta = |b: &Block| {
            i64::try_from(record.time_us)
                .ok()
                .zip(i64::try_from(b.base_time_us).ok())
                .and_then(|(t, base)| i32::try_from(t - base).ok())
        };
        let fits = self
            .blocks
            .back()
            .is_some_and(|b| b.data.capacity() - b.data.len() >= need && delta(b).is_some());
        if !fits {
            self.seal_back_block();
            self.blocks.push_back(Block {
                first_id: id,
                base_time_us: record.time_us,
                data: Vec::with_capacity(need.max(BLOCK_BYTES)),
            });
        }
        let Some(block) = self.blocks.back_mut() else {
            return;
        };
        let time_delta_us = delta(block).unwrap_or(0);
        let start = u32::try_from(block.data.len()).unwrap_or(u32::MAX);
        if let Some(peer) = v6 {
            block.data.extend_from_slice(&peer);
        }
        block.data.extend_from_slice(payload);
        let meta = Meta {
            time_delta_us,
            start,
            v4,
            port,
            flags: flags(record.direction, record.check, peer_kind),
        };
        self.stored_bytes += payload.len() + meta.peer_bytes() + RECORD_OVERHEAD_BYTES;
        self.metas.push_back(meta);
    }

    /// The newest block takes no more records: give back the room it did not use (records
    /// large enough to keep their own allocation can follow a block after one small record).
    fn seal_back_block(&mut self) {
        if let Some(b) = self.blocks.back_mut()
            && b.data.capacity() > b.data.len()
        {
            b.data.shrink_to_fit();
        }
    }

    fn evict_to_cap(&mut self) {
        // The newest record always stays, even if it alone exceeds the cap.
        while self.stored_bytes > self.cap_bytes && self.metas.len() > 1 {
            let Some(old) = self.get(0) else {
                break;
            };
            let len = old.bytes.len();
            let traffic = matches!(old.direction, Direction::Received | Direction::Sent);
            let Some(meta) = self.metas.pop_front() else {
                break;
            };
            self.stored_bytes -= len + meta.peer_bytes() + RECORD_OVERHEAD_BYTES;
            self.evicted_records += 1;
            if traffic {
                self.evicted_bytes += len as u64;
            }
            self.first_id += 1;
        }
        self.free_blocks();
    }

    /// Frees the oldest blocks whose records have all been evicted.
    fn free_blocks(&mut self) {
        while self.blocks.len() > 1 && self.blocks[1].first_id <= self.first_id {
            self.blocks.pop_front();
        }
    }

    /// Changes the cap, evicting at once if the log is now over it.
    pub fn set_cap_bytes(&mut self, cap_bytes: usize) {
        self.cap_bytes = cap_bytes.max(1);
        self.evict_to_cap();
    }

    pub fn cap_bytes(&self) -> usize {
        self.cap_bytes
    }

    /// Bytes the stored records cost against the cap (payload plus per-record overhead).
    pub fn stored_bytes(&self) -> usize {
        self.stored_bytes
    }

    pub fn len(&self) -> usize {
        self.metas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    /// Id of the oldest stored record.
    pub fn first_id(&self) -> u64 {
        self.first_id
    }

    /// Id the next pushed record will get.
    pub fn end_id(&self) -> u64 {
        self.first_id + self.metas.len() as u64
    }

    /// The record at position `index` (0 = oldest stored).
    pub fn get(&self, index: usize) -> Option<RecordRef<'_>> {
        let id = self.first_id + index as u64;
        let block = self
            .blocks
            .partition_point(|b| b.first_id <= id)
            .checked_sub(1)?;
        self.view_in(index, block)
    }

    /// The record at `index`, which is in block `block`.
    fn view_in(&self, index: usize, block: usize) -> Option<RecordRef<'_>> {
        let meta = *self.metas.get(index)?;
        let id = self.first_id + index as u64;
        let here = self.blocks.get(block)?;
        let next_here = index + 1 < self.metas.len()
            && self
                .blocks
                .get(block + 1)
                .is_none_or(|next| next.first_id > id + 1);
        let end = if next_here {
            self.metas.get(index + 1)?.start as usize
        } else {
            here.data.len()
        };
        Some(here.view(meta, end))
    }

    /// The record with stable id `id`, if it is still stored.
    pub fn get_by_id(&self, id: u64) -> Option<RecordRef<'_>> {
        let index = usize::try_from(id.checked_sub(self.first_id)?).ok()?;
        self.get(index)
    }

    /// Every stored record, oldest first.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            log: self,
            front: 0,
            back: self.metas.len(),
            front_block: 0,
            back_block: self.blocks.len().saturating_sub(1),
        }
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Records evicted to respect the cap since the last clear.
    pub fn evicted_records(&self) -> u64 {
        self.evicted_records
    }

    /// Traffic bytes (received and sent payload) of evicted records since the last clear.
    pub fn evicted_bytes(&self) -> u64 {
        self.evicted_bytes
    }

    /// Drops every record and resets counters; ids keep increasing.
    pub fn clear(&mut self) {
        self.first_id += self.metas.len() as u64;
        self.metas.clear();
        self.blocks.clear();
        self.stored_bytes = 0;
        self.evicted_records = 0;
        self.evicted_bytes = 0;
        self.counters = Counters::default();
    }
}

/// The log's records in order; walks the blocks alongside instead of searching for each.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    log: &'a TrafficLog,
    front: usize,
    back: usize,
    front_block: usize,
    back_block: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = RecordRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let index = self.front;
        let id = self.log.first_id + index as u64;
        let blocks = &self.log.blocks;
        while blocks
            .get(self.front_block + 1)
            .is_some_and(|b| b.first_id <= id)
        {
            self.front_block += 1;
        }
        self.front += 1;
        self.log.view_in(index, self.front_block)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back.saturating_sub(self.front);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        let id = self.log.first_id + self.back as u64;
        let blocks = &self.log.blocks;
        while self.back_block > 0 && blocks.get(self.back_block).is_some_and(|b| b.first_id > id) {
            self.back_block -= 1;
        }
        self.log.view_in(self.back, self.back_block)
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a TrafficLog {
    type Item = RecordRef<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx(n: usize) -> Record {
        Record::new(Direction::Received, None, vec![0xAB; n])
    }

    #[test]
    fn counts_both_ways() {
        let mut log = TrafficLog::default();
        log.push(rx(10));
        log.push(rx(2).checked(Check::Bad));
        log.push(rx(2).checked(Check::Good));
        log.push(Record::new(Direction::Sent, None, vec![1, 2, 3]));
        log.push(Record::message(Direction::Info, None, "connected"));
        assert_eq!(
            log.counters(),
            Counters {
                rx_bytes: 14,
                rx_packets: 3,
                tx_bytes: 3,
                tx_packets: 1,
                bad_checks: 1,
            }
        );
        assert_eq!(log.len(), 5);
    }

    #[test]
    fn evicts_oldest_beyond_cap_and_counts() {
        let cost = rx(1000).cost_bytes();
        let mut log = TrafficLog::with_cap(cost * 5);
        for _ in 0..12 {
            log.push(rx(1000));
        }
        assert_eq!(log.len(), 5);
        assert_eq!(log.evicted_records(), 7);
        assert_eq!(log.evicted_bytes(), 7000);
        assert!(log.stored_bytes() <= log.cap_bytes());
        assert_eq!(log.first_id(), 7);
        assert_eq!(log.end_id(), 12);
        assert!(log.get_by_id(6).is_none());
        assert!(log.get_by_id(7).is_some());
        // Counters keep the full totals.
        assert_eq!(log.counters().rx_bytes, 12_000);
        // Shrinking the cap evicts at once.
        log.set_cap_bytes(cost * 2);
        assert_eq!(log.len(), 2);
        assert_eq!(log.evicted_records(), 10);
    }

    #[test]
    fn newest_record_survives_even_above_cap() {
        let mut log = TrafficLog::with_cap(100);
        log.push(rx(10));
        log.push(rx(5000));
        assert_eq!(log.len(), 1);
        assert_eq!(log.get(0).unwrap().bytes.len(), 5000);
    }

    #[test]
    fn tiny_records_are_capped_by_overhead_too() {
        let mut log = TrafficLog::with_cap(RECORD_OVERHEAD_BYTES * 100);
        for _ in 0..1000 {
            log.push(rx(0));
        }
        assert_eq!(log.len(), 100);
    }

    #[test]
    fn clear_resets_but_ids_advance() {
        let mut log = TrafficLog::default();
        log.push(rx(3));
        log.push(rx(3));
        log.clear();
        assert!(log.is_empty());
        assert_eq!(log.counters(), Counters::default());
        assert_eq!(log.first_id(), 2);
        log.push(rx(1));
        assert_eq!(log.get_by_id(2).unwrap().bytes.len(), 1);
    }

    fn peers() -> [Option<SocketAddr>; 4] {
        [
            None,
            Some("192.0.2.7:5020".parse().unwrap()),
            Some(SocketAddr::V6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                7001,
                0x12345,
                3,
            ))),
            Some("[::ffff:127.0.0.1]:9".parse().unwrap()),
        ]
    }

    #[test]
    fn every_field_comes_back_across_many_blocks() {
        let mut log = TrafficLog::with_cap(usize::MAX);
        let mut kept = Vec::new();
        // Sizes that leave block tails unused, and one record bigger than a block.
        for i in 0..6000usize {
            let len = if i == 3000 {
                3 * BLOCK_BYTES
            } else {
                (i * 37) % 1500
            };
            let bytes: Vec<u8> = (0..len).map(|k| (k + i) as u8).collect();
            let direction = [
                Direction::Received,
                Direction::Sent,
                Direction::Info,
                Direction::Error,
            ][i % 4];
            let check = [Check::Unchecked, Check::Good, Check::Bad][i % 3];
            let r = Record::at(i as u64 * 11, direction, peers()[i % 4], bytes).checked(check);
            kept.push(r.clone());
            log.push(r);
        }
        assert!(log.blocks.len() > 4, "the test must span blocks");
        assert_eq!(log.len(), kept.len());
        for (i, r) in kept.iter().enumerate() {
            assert_eq!(log.get(i).unwrap(), r.as_ref(), "record {i}");
        }
        let forward: Vec<Record> = log.iter().map(|r| r.to_record()).collect();
        assert_eq!(forward, kept);
        let mut backward: Vec<Record> = log.iter().rev().map(|r| r.to_record()).collect();
        backward.reverse();
        assert_eq!(backward, kept);
        // Both ends at once meet in the middle.
        let mut it = log.iter();
        let (first, last) = (it.next().unwrap(), it.next_back().unwrap());
        assert_eq!((first, last), (kept[0].as_ref(), kept[5999].as_ref()));
        assert_eq!(it.len(), 5998);
        let stored: usize = kept.iter().map(Record::cost_bytes).sum();
        assert_eq!(log.stored_bytes(), stored);
    }

    #[test]
    fn eviction_frees_whole_blocks_and_keeps_the_rest_readable() {
        let mut log = TrafficLog::with_cap(4 * BLOCK_BYTES);
        for i in 0..200_000u32 {
            let r = Record::at(
                u64::from(i),
                Direction::Received,
                peers()[1],
                i.to_le_bytes().repeat(16),
            );
            log.push(r);
        }
        // Memory held: the cap plus at most one partly evicted block (and the newest).
        assert!(log.blocks.len() <= 5, "{} blocks", log.blocks.len());
        assert!(log.stored_bytes() <= log.cap_bytes());
        let first = u32::try_from(log.first_id()).unwrap();
        for (k, r) in log.iter().enumerate() {
            let i = first + u32::try_from(k).unwrap();
            assert_eq!(r.bytes, &i.to_le_bytes().repeat(16)[..]);
            assert_eq!(r.time_us, u64::from(i));
        }
        assert_eq!(log.first_id() + log.len() as u64, 200_000);
    }

    #[test]
    fn large_records_keep_their_own_allocation_and_small_ones_between_them_waste_nothing() {
        let mut log = TrafficLog::with_cap(64 * ADOPT_BYTES);
        let big = |i: u32| {
            let mut v = i.to_le_bytes().repeat(ADOPT_BYTES / 4 + 100);
            v.truncate(ADOPT_BYTES + usize::try_from(i).unwrap());
            v
        };
        for i in 0..500u32 {
            let record = Record::at(u64::from(i), Direction::Received, peers()[1], big(i));
            let at = record.bytes.as_ptr();
            log.push(record);
            let newest = log.get(log.len() - 1).unwrap();
            assert_eq!(newest.bytes.as_ptr(), at, "record {i} was copied");
            // An event between two reads, as the TCP Server logs them.
            log.push(Record::at(
                u64::from(i),
                Direction::Info,
                None,
                b"note".to_vec(),
            ));
        }
        assert!(log.stored_bytes() <= log.cap_bytes());
        // Every block but the newest holds no more than its records need.
        let held: usize = log
            .blocks
            .iter()
            .rev()
            .skip(1)
            .map(|b| b.data.capacity())
            .sum();
        let used: usize = log.blocks.iter().rev().skip(1).map(|b| b.data.len()).sum();
        assert_eq!(held, used);
        let first = log.first_id();
        for (k, r) in log.iter().enumerate() {
            let id = first + k as u64;
            let i = u32::try_from(id / 2).unwrap();
            if id.is_multiple_of(2) {
                assert_eq!(r.bytes, &big(i)[..], "record {id}");
                assert_eq!(r.peer, peers()[1]);
                assert_eq!(r.direction, Direction::Received);
            } else {
                assert_eq!(r.bytes, b"note");
                assert_eq!(r.direction, Direction::Info);
            }
            assert_eq!(r.time_us, u64::from(i));
        }
    }

    #[test]
    fn a_history_of_small_datagrams_costs_16_bytes_each_beyond_the_payload() {
        // The same 64 MiB cap held 466,000 64-byte datagrams when each record was its own
        // allocation (144 bytes each); now 80.
        assert_eq!(RECORD_OVERHEAD_BYTES, 16);
        let mut log = TrafficLog::default();
        for i in 0..900_000u32 {
            log.push(Record::at(
                u64::from(i),
                Direction::Received,
                peers()[1],
                vec![0x5A; 64],
            ));
        }
        assert!(log.len() > 830_000, "{} records kept", log.len());
        let payload_capacity: usize = log.blocks.iter().map(|b| b.data.capacity()).sum();
        let held = payload_capacity + log.metas.capacity_bytes();
        // Beyond 80 bytes a record: at most one partly evicted block and one metadata chunk.
        let room = BLOCK_BYTES + METAS_PER_CHUNK * RECORD_OVERHEAD_BYTES;
        assert!(
            held <= log.len() * (64 + 16) + room,
            "{held} bytes hold {} records",
            log.len()
        );
    }

    #[test]
    fn times_that_jump_either_way_come_back_exactly() {
        // A clock set back, a jump of hours, an idle session: each starts a block if it must.
        let now = 1_764_000_000_000_000u64;
        let times = [
            now,
            now + 1,
            now - 3_600_000_000,
            now + 7_200_000_000,
            now + 7_200_000_000 - 5,
            0,
            u64::MAX,
            now,
        ];
        let mut log = TrafficLog::with_cap(usize::MAX);
        for (i, t) in times.iter().enumerate() {
            log.push(Record::at(*t, Direction::Received, None, vec![i as u8; i]));
        }
        let back: Vec<(u64, usize)> = log.iter().map(|r| (r.time_us, r.bytes.len())).collect();
        let want: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
        assert_eq!(back, want);
    }
}
