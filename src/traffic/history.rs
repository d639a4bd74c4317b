//! Per-second history of a session's traffic, for the live plots: bytes and records each way
//! over the last ten minutes, and bytes per peer (the TCP Server's clients, one line each).
//!
//! It is fed running totals (the log's counters, which eviction never lowers) whenever the
//! window looks; each whole second keeps what the totals grew by in it. Seconds in which
//! nothing was sampled count as quiet.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use super::Counters;

/// Seconds of history kept: the longest plot window.
pub const HISTORY_SECONDS: u64 = 600;
/// Peers with a line of their own: the first this many seen; later ones are left out of the
/// plot and counted ([`TrafficHistory::peers_left_out`]).
pub const PEERS_MAX: usize = 16;

/// What one second carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    /// Whole seconds since the history started.
    pub at: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// What the plot shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Metric {
    #[default]
    Bytes,
    Packets,
}

#[derive(Debug, Default)]
struct PeerLine {
    last: (u64, u64),
    /// (second, bytes in, bytes out).
    seconds: VecDeque<(u64, u64, u64)>,
}

/// The history of one session.
#[derive(Debug, Default)]
pub struct TrafficHistory {
    start: Option<Instant>,
    last: Counters,
    seconds: VecDeque<Second>,
    peers: BTreeMap<SocketAddr, PeerLine>,
    /// Peers left out because [`PEERS_MAX`] lines were taken (at most a few thousand kept).
    left_out: HashSet<SocketAddr>,
}

/// Most left-out peers remembered, to count them.
const LEFT_OUT_MAX: usize = 4096;

impl TrafficHistory {
    fn second_of(&mut self, now: Instant) -> u64 {
        let start = *self.start.get_or_insert(now);
        now.saturating_duration_since(start).as_secs()
    }

    /// Takes the session's running totals at `now`.
    pub fn sample(&mut self, now: Instant, totals: Counters) {
        let at = self.second_of(now);
        if totals.rx_bytes < self.last.rx_bytes || totals.tx_bytes < self.last.tx_bytes {
            // The log was cleared: start counting from here.
            self.last = totals;
            return;
        }
        let grew = Second {
            at,
            rx_bytes: totals.rx_bytes - self.last.rx_bytes,
            tx_bytes: totals.tx_bytes - self.last.tx_bytes,
            rx_packets: totals.rx_packets.saturating_sub(self.last.rx_packets),
            tx_packets: totals.tx_packets.saturating_sub(self.last.tx_packets),
        };
        self.last = totals;
        match self.seconds.back_mut() {
            Some(s) if s.at == at => {
                s.rx_bytes += grew.rx_bytes;
                s.tx_bytes += grew.tx_bytes;
                s.rx_packets += grew.rx_packets;
                s.tx_packets += grew.tx_packets;
            }
            _ => self.seconds.push_back(grew),
        }
        while self
            .seconds
            .front()
            .is_some_and(|s| s.at + HISTORY_SECONDS < at)
        {
            self.seconds.pop_front();
        }
    }

    /// Takes one peer's running byte totals (in, out) at `now`.
    pub fn sample_peer(&mut self, now: Instant, peer: SocketAddr, rx_total: u64, tx_total: u64) {
        let at = self.second_of(now);
        if !self.peers.contains_key(&peer) && self.peers.len() >= PEERS_MAX {
            if self.left_out.len() < LEFT_OUT_MAX {
                self.left_out.insert(peer);
            }
            return;
        }
        let line = self.peers.entry(peer).or_default();
        let (rx, tx) = (
            rx_total.saturating_sub(line.last.0),
            tx_total.saturating_sub(line.last.1),
        );
        line.last = (rx_total, tx_total);
        match line.seconds.back_mut() {
            Some(s) if s.0 == at => {
                s.1 += rx;
                s.2 += tx;
            }
            _ => line.seconds.push_back((at, rx, tx)),
        }
        while line
            .seconds
            .front()
            .is_some_and(|s| s.0 + HISTORY_SECONDS < at)
        {
            line.seconds.pop_front();
        }
    }

    /// Forgets a peer's line (a client that left), making room for another.
    pub fn forget_peer(&mut self, peer: &SocketAddr) {
        self.peers.remove(peer);
        self.left_out.remove(peer);
    }

    /// How many peers have no line because [`PEERS_MAX`] were taken.
    pub fn peers_left_out(&self) -> usize {
        self.left_out.len()
    }

    /// The last `window` whole seconds before `now` as points (seconds before now, rate),
    /// received and sent; quiet seconds are zero.
    pub fn series(
        &mut self,
        now: Instant,
        window: u64,
        metric: Metric,
    ) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
        let now_s = self.second_of(now);
        let from = now_s.saturating_sub(window);
        let mut rx = Vec::with_capacity(window as usize);
        let mut tx = Vec::with_capacity(window as usize);
        let mut it = self.seconds.iter().filter(|s| s.at >= from).peekable();
        for at in from..now_s {
            let x = at as f64 - now_s as f64;
            let s = match it.peek() {
                Some(s) if s.at == at => it.next().copied().unwrap_or_default(),
                _ => Second::default(),
            };
            let (r, t) = match metric {
                Metric::Bytes => (s.rx_bytes, s.tx_bytes),
                Metric::Packets => (s.rx_packets, s.tx_packets),
            };
            rx.push([x, r as f64]);
            tx.push([x, t as f64]);
        }
        (rx, tx)
    }

    /// Each peer's bytes per second in and out together, over the last `window` seconds.
    pub fn peer_series(&mut self, now: Instant, window: u64) -> Vec<(SocketAddr, Vec<[f64; 2]>)> {
        let now_s = self.second_of(now);
        let from = now_s.saturating_sub(window);
        self.peers
            .iter()
            .map(|(peer, line)| {
                let mut points = Vec::with_capacity(window as usize);
                let mut it = line.seconds.iter().filter(|s| s.0 >= from).peekable();
                for at in from..now_s {
                    let v = match it.peek() {
                        Some(s) if s.0 == at => it.next().map_or(0, |s| s.1 + s.2),
                        _ => 0,
                    };
                    points.push([at as f64 - now_s as f64, v as f64]);
                }
                (*peer, points)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn totals(rx: u64, tx: u64) -> Counters {
        Counters {
            rx_bytes: rx,
            rx_packets: rx / 10,
            tx_bytes: tx,
            tx_packets: tx / 10,
            bad_checks: 0,
        }
    }

    #[test]
    fn each_second_keeps_what_the_totals_grew_by_and_quiet_seconds_are_zero() {
        let t0 = Instant::now();
        let mut h = TrafficHistory::default();
        h.sample(t0, totals(0, 0));
        h.sample(t0 + Duration::from_millis(100), totals(100, 0));
        h.sample(t0 + Duration::from_millis(900), totals(300, 50));
        // Nothing sampled in second 1; second 2 carries 1000 more.
        h.sample(t0 + Duration::from_millis(2500), totals(1300, 50));
        let (rx, tx) = h.series(t0 + Duration::from_millis(3100), 3, Metric::Bytes);
        assert_eq!(rx, vec![[-3.0, 300.0], [-2.0, 0.0], [-1.0, 1000.0]]);
        assert_eq!(tx, vec![[-3.0, 50.0], [-2.0, 0.0], [-1.0, 0.0]]);
        let (rx, _) = h.series(t0 + Duration::from_millis(3100), 3, Metric::Packets);
        assert!((rx[0][1] - 30.0).abs() < 1e-9, "{rx:?}");
    }

    #[test]
    fn history_is_bounded_to_ten_minutes_and_a_cleared_log_does_not_go_negative() {
        let t0 = Instant::now();
        let mut h = TrafficHistory::default();
        for s in 0..2000u64 {
            h.sample(t0 + Duration::from_secs(s), totals(s * 10, 0));
        }
        assert!(h.seconds.len() <= HISTORY_SECONDS as usize + 1);
        h.sample(t0 + Duration::from_secs(2000), totals(0, 0));
        h.sample(t0 + Duration::from_secs(2001), totals(5, 0));
        let (rx, _) = h.series(t0 + Duration::from_secs(2002), 2, Metric::Bytes);
        assert_eq!(rx, vec![[-2.0, 0.0], [-1.0, 5.0]]);
    }

    #[test]
    fn the_first_peers_get_lines_and_the_rest_are_counted() {
        let t0 = Instant::now();
        let mut h = TrafficHistory::default();
        for i in 0..(PEERS_MAX as u64 + 2) {
            let peer: SocketAddr = format!("127.0.0.1:{}", 1000 + i).parse().unwrap();
            h.sample_peer(t0, peer, 0, 0);
            h.sample_peer(t0 + Duration::from_millis(10), peer, 100 * (i + 1), 0);
        }
        let lines = h.peer_series(t0 + Duration::from_secs(1), 1);
        assert_eq!(lines.len(), PEERS_MAX);
        assert_eq!(h.peers_left_out(), 2);
        let first = lines
            .iter()
            .find(|(p, _)| p.port() == 1000)
            .unwrap()
            .clone();
        assert_eq!(first.1, vec![[-1.0, 100.0]]);
        let last = lines
            .iter()
            .find(|(p, _)| usize::from(p.port()) == 1000 + PEERS_MAX - 1)
            .unwrap();
        assert_eq!(last.1, vec![[-1.0, 100.0 * PEERS_MAX as f64]]);
        // A client that left makes room for one more.
        h.forget_peer(&first.0);
        let late: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        h.sample_peer(t0 + Duration::from_millis(20), late, 7, 0);
        assert!(
            h.peer_series(t0 + Duration::from_secs(1), 1)
                .iter()
                .any(|(p, _)| *p == late)
        );
    }
}
