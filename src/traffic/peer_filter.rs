//! An incrementally maintained list of the log records that match a filter (one peer, bad
//! checksums, or both), so a filtered view costs only the new records each frame, not a scan
//! of the whole history.

use std::net::SocketAddr;

use crate::traffic::{Check, Direction, RecordRef, TrafficLog};

/// Which records a filtered view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFilter {
    Peer(SocketAddr),
    BadCheck,
    PeerBadCheck(SocketAddr),
    Direction(Direction),
    /// Any port of one address.
    Ip(std::net::IpAddr),
}

impl RowFilter {
    fn matches(self, record: &RecordRef<'_>) -> bool {
        match self {
            Self::Peer(peer) => record.peer == Some(peer),
            Self::BadCheck => record.check == Check::Bad,
            Self::PeerBadCheck(peer) => record.peer == Some(peer) && record.check == Check::Bad,
            Self::Direction(direction) => record.direction == direction,
            Self::Ip(ip) => record.peer.is_some_and(|p| p.ip() == ip),
        }
    }
}

#[derive(Debug, Default)]
pub struct PeerFilter {
    filter: Option<RowFilter>,
    ids: Vec<u64>,
    scanned_to: u64,
}

impl PeerFilter {
    /// Ids of stored records whose peer is `peer`, oldest first.
    pub fn ids(&mut self, log: &TrafficLog, peer: SocketAddr) -> &[u64] {
        self.ids_where(log, RowFilter::Peer(peer))
    }

    /// Lends the list out (for a frame's table) without a copy; [`PeerFilter::put_ids`]
    /// gives it back.
    pub fn take_ids(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.ids)
    }

    pub fn put_ids(&mut self, ids: Vec<u64>) {
        self.ids = ids;
    }

    /// Ids of stored records that match `filter`, oldest first.
    pub fn ids_where(&mut self, log: &TrafficLog, filter: RowFilter) -> &[u64] {
        if self.filter != Some(filter) || self.scanned_to > log.end_id() {
            self.filter = Some(filter);
            self.ids.clear();
            self.scanned_to = log.first_id();
        }
        // Forget records the ring evicted.
        let first = log.first_id();
        let gone = self.ids.partition_point(|id| *id < first);
        self.ids.drain(..gone);
        let start = self.scanned_to.max(first);
        for id in start..log.end_id() {
            if log.get_by_id(id).is_some_and(|r| filter.matches(&r)) {
                self.ids.push(id);
            }
        }
        self.scanned_to = log.end_id();
        &self.ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{Direction, Record};

    #[test]
    fn follows_new_and_evicted_records() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let rec = |p| Record::new(Direction::Received, Some(p), vec![0u8; 10]);
        let mut log = TrafficLog::with_cap(rec(a).cost_bytes() * 4);
        let mut f = PeerFilter::default();
        log.push(rec(a));
        log.push(rec(b));
        log.push(rec(a));
        assert_eq!(f.ids(&log, a), [0, 2]);
        log.push(rec(b));
        log.push(rec(a)); // evicts id 0
        assert_eq!(f.ids(&log, a), [2, 4]);
        assert_eq!(f.ids(&log, b), [1, 3]);
        log.clear();
        assert!(f.ids(&log, b).is_empty());
    }

    #[test]
    fn bad_checksums_alone_or_of_one_peer() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let rec = |p, check| Record::new(Direction::Received, Some(p), vec![0u8; 4]).checked(check);
        let mut log = TrafficLog::default();
        log.push(rec(a, Check::Good));
        log.push(rec(a, Check::Bad));
        log.push(rec(b, Check::Bad));
        log.push(rec(b, Check::Unchecked));
        let mut f = PeerFilter::default();
        assert_eq!(f.ids_where(&log, RowFilter::BadCheck), [1, 2]);
        assert_eq!(f.ids_where(&log, RowFilter::PeerBadCheck(b)), [2]);
        log.push(rec(b, Check::Bad));
        assert_eq!(f.ids_where(&log, RowFilter::PeerBadCheck(b)), [2, 4]);
    }
}
