//! An incrementally maintained list of the log records that concern one peer, so a filtered
//! view costs only the new records each frame, not a scan of the whole history.

use std::net::SocketAddr;

use crate::traffic::TrafficLog;

#[derive(Debug, Default)]
pub struct PeerFilter {
    peer: Option<SocketAddr>,
    ids: Vec<u64>,
    scanned_to: u64,
}

impl PeerFilter {
    /// Ids of stored records whose peer is `peer`, oldest first.
    pub fn ids(&mut self, log: &TrafficLog, peer: SocketAddr) -> &[u64] {
        if self.peer != Some(peer) || self.scanned_to > log.end_id() {
            self.peer = Some(peer);
            self.ids.clear();
            self.scanned_to = log.first_id();
        }
        // Forget records the ring evicted.
        let first = log.first_id();
        let gone = self.ids.partition_point(|id| *id < first);
        self.ids.drain(..gone);
        let start = self.scanned_to.max(first);
        for id in start..log.end_id() {
            if log.get_by_id(id).is_some_and(|r| r.peer == Some(peer)) {
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
}
