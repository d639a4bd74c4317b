//! The byte-capped ring of traffic records.

use std::collections::VecDeque;
use std::net::SocketAddr;

/// Default history cap: 64 MiB of records.
pub const DEFAULT_CAP_BYTES: usize = 64 * 1024 * 1024;

/// Bytes a record costs beyond its payload (the struct and allocator bookkeeping), so a flood
/// of tiny records is capped as honestly as a few large ones.
pub const RECORD_OVERHEAD_BYTES: usize = std::mem::size_of::<Record>() + 16;

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

    /// What this record costs against the cap.
    pub fn cost_bytes(&self) -> usize {
        self.bytes.len() + RECORD_OVERHEAD_BYTES
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

/// A ring of records capped by total bytes. Records have stable ids (their position since the
/// log was created), so selections survive eviction of older records.
#[derive(Debug)]
pub struct TrafficLog {
    records: VecDeque<Record>,
    /// Id of `records[0]`.
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
            records: VecDeque::new(),
            first_id: 0,
            stored_bytes: 0,
            cap_bytes: cap_bytes.max(1),
            evicted_records: 0,
            evicted_bytes: 0,
            counters: Counters::default(),
        }
    }

    /// Appends a record, counting its bytes, and evicts the oldest records beyond the cap.
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
        self.stored_bytes += record.cost_bytes();
        self.records.push_back(record);
        self.evict_to_cap();
    }

    fn evict_to_cap(&mut self) {
        // The newest record always stays, even if it alone exceeds the cap.
        while self.stored_bytes > self.cap_bytes && self.records.len() > 1 {
            if let Some(old) = self.records.pop_front() {
                self.stored_bytes -= old.cost_bytes();
                self.evicted_records += 1;
                if matches!(old.direction, Direction::Received | Direction::Sent) {
                    self.evicted_bytes += old.bytes.len() as u64;
                }
                self.first_id += 1;
            }
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
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Id of the oldest stored record.
    pub fn first_id(&self) -> u64 {
        self.first_id
    }

    /// Id the next pushed record will get.
    pub fn end_id(&self) -> u64 {
        self.first_id + self.records.len() as u64
    }

    /// The record at position `index` (0 = oldest stored).
    pub fn get(&self, index: usize) -> Option<&Record> {
        self.records.get(index)
    }

    /// The record with stable id `id`, if it is still stored.
    pub fn get_by_id(&self, id: u64) -> Option<&Record> {
        let index = usize::try_from(id.checked_sub(self.first_id)?).ok()?;
        self.records.get(index)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Record> + ExactSizeIterator {
        self.records.iter()
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
        self.first_id += self.records.len() as u64;
        self.records.clear();
        self.stored_bytes = 0;
        self.evicted_records = 0;
        self.evicted_bytes = 0;
        self.counters = Counters::default();
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
}
