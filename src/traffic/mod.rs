//! The traffic log: a byte-capped ring of records shared by every tab, with counters and rate.
//!
//! The log lives on the UI side; workers send chunks that become records here. History beyond
//! the cap is evicted from the front and counted, so the user always knows what is gone.

mod clock;
pub mod history;
mod log;
pub mod peer_filter;
mod rate;
pub mod search;

pub use log::{
    Check, Counters, DEFAULT_CAP_BYTES, Direction, IPV6_PEER_BYTES, Iter, RECORD_OVERHEAD_BYTES,
    Record, RecordRef, TrafficLog,
};
pub use rate::RateMeter;

pub use clock::{from_kernel_us, now_us};

/// Formats a record timestamp as local wall-clock `HH:MM:SS.mmm` (UTC offset applied when known).
pub fn format_time_us(time_us: u64, offset_seconds: i64) -> String {
    let total_ms = i64::try_from(time_us / 1000).unwrap_or(i64::MAX / 2) + offset_seconds * 1000;
    let ms = total_ms.rem_euclid(1000);
    let secs = total_ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Human-readable byte count (`1.5 MiB`).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_time_and_bytes() {
        assert_eq!(format_time_us(3_723_004_000, 0), "01:02:03.004");
        assert_eq!(format_time_us(3_723_004_000, 3600), "02:02:03.004");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(64 * 1024 * 1024), "64.0 MiB");
    }
}
