//! Current transfer rate from periodic samples of running totals.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Keeps (time, total) samples over a short window and reports the rate across it.
#[derive(Debug, Clone)]
pub struct RateMeter {
    window: Duration,
    samples: VecDeque<(Instant, u64, u64)>,
}

impl Default for RateMeter {
    fn default() -> Self {
        Self::new(Duration::from_secs(2))
    }
}

impl RateMeter {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Records the running totals of received and sent bytes at `now`.
    pub fn sample(&mut self, now: Instant, rx_total: u64, tx_total: u64) {
        if let Some(&(last, _, _)) = self.samples.back()
            && now.saturating_duration_since(last) < Duration::from_millis(100)
        {
            return;
        }
        self.samples.push_back((now, rx_total, tx_total));
        while let Some(&(first, _, _)) = self.samples.front() {
            if self.samples.len() > 2 && now.saturating_duration_since(first) > self.window {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// Bytes per second received and sent across the window, `(rx, tx)`.
    pub fn rates_bytes_per_sec(&self) -> (f64, f64) {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, rx0, tx0)), Some(&(t1, rx1, tx1))) if t1 > t0 => {
                let secs = (t1 - t0).as_secs_f64();
                (
                    rx1.saturating_sub(rx0) as f64 / secs,
                    tx1.saturating_sub(tx0) as f64 / secs,
                )
            }
            _ => (0.0, 0.0),
        }
    }

    pub fn reset(&mut self) {
        self.samples.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_window() {
        let mut m = RateMeter::new(Duration::from_secs(2));
        let t = Instant::now();
        m.sample(t, 0, 0);
        m.sample(t + Duration::from_millis(500), 500, 50);
        m.sample(t + Duration::from_secs(1), 1000, 100);
        let (rx, tx) = m.rates_bytes_per_sec();
        assert!((rx - 1000.0).abs() < 1e-6, "{rx}");
        assert!((tx - 100.0).abs() < 1e-6, "{tx}");
        // Old samples fall out of the window.
        m.sample(t + Duration::from_secs(10), 1000, 100);
        m.sample(t + Duration::from_secs(11), 1000, 100);
        assert_eq!(m.rates_bytes_per_sec(), (0.0, 0.0));
    }
}
