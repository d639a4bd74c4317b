//! The clock every record's timestamp comes from: wall-clock microseconds since the Unix
//! epoch that never go backwards.
//!
//! The wall clock can be stepped (by hand, by NTP at start-up, after a suspend): a log stamped
//! straight from it would then show a reply before its request, and a capture would have
//! Wireshark sort frames out of order. So a record's time is the monotonic clock's, anchored to
//! the wall clock: when the wall clock steps forward the anchor follows (times jump forward,
//! still in order); when it steps back the anchor stays (times go on from where they were, and
//! catch up with the wall clock when it passes them again).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A step forward of more than this re-anchors; smaller differences are the two clocks'
/// reading jitter.
const STEP_US: i64 = 1_000_000;

/// Monotonic time anchored to wall time (see the module's text). Pure arithmetic over the two
/// readings given, so a test can step the wall clock.
#[derive(Debug)]
pub struct AnchoredClock {
    /// Wall time minus monotonic time, in µs; only ever raised.
    offset_us: AtomicI64,
}

impl AnchoredClock {
    /// Anchored at these readings.
    pub fn new(wall_us: i64, mono_us: i64) -> Self {
        Self {
            offset_us: AtomicI64::new(wall_us - mono_us),
        }
    }

    /// The time for these readings of the wall clock and of the monotonic clock (µs since the
    /// epoch; µs since any fixed start).
    pub fn at(&self, wall_us: i64, mono_us: i64) -> u64 {
        let offset = self.offset_us.load(Ordering::Relaxed);
        let offset = if wall_us - (offset + mono_us) > STEP_US {
            // Stepped forward: follow it (never lower, whatever another thread did).
            let wanted = wall_us - mono_us;
            self.offset_us
                .fetch_max(wanted, Ordering::Relaxed)
                .max(wanted)
        } else {
            offset
        };
        u64::try_from(offset + mono_us).unwrap_or(0)
    }

    /// The time of something the kernel stamped at `stamped_wall_us` (a datagram's arrival),
    /// seen now at these readings: now minus its age on the wall clock, so a wall-clock step
    /// between the two cannot put it before what was stamped earlier. The age is taken as
    /// zero when the stamp is later than the wall clock now.
    pub fn stamped(&self, stamped_wall_us: u64, wall_us: i64, mono_us: i64) -> u64 {
        let now = self.at(wall_us, mono_us);
        let age = u64::try_from(wall_us)
            .unwrap_or(0)
            .saturating_sub(stamped_wall_us);
        now.saturating_sub(age)
    }
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn readings() -> (i64, i64) {
    let mono = i64::try_from(base().elapsed().as_micros()).unwrap_or(i64::MAX / 2);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2));
    (wall, mono)
}

fn clock() -> &'static AnchoredClock {
    static CLOCK: OnceLock<AnchoredClock> = OnceLock::new();
    CLOCK.get_or_init(|| {
        let (wall, mono) = readings();
        AnchoredClock::new(wall, mono)
    })
}

/// Microseconds since the Unix epoch, the timestamp every record carries; never earlier than
/// one it gave before.
pub fn now_us() -> u64 {
    let (wall, mono) = readings();
    clock().at(wall, mono)
}

/// The record time for a kernel timestamp (µs since the epoch on the wall clock), on the same
/// line as [`now_us`].
/// Never earlier than a kernel-stamped time it gave before: where the kernel's clock and this
/// process's disagree (a step between the stamp and its read), the order still holds.
pub fn from_kernel_us(stamped_wall_us: u64) -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let (wall, mono) = readings();
    let t = clock().stamped(stamped_wall_us, wall, mono);
    LAST.fetch_max(t, Ordering::Relaxed).max(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;
    const T0: i64 = 1_780_000_000_000_000;

    #[test]
    fn a_step_back_keeps_times_in_order_and_spaced_as_they_happened() {
        let c = AnchoredClock::new(T0, 0);
        let before = c.at(T0 + 1_000, 1_000);
        // The wall clock goes back an hour 2 ms later.
        let after = c.at(T0 + 2_000 - HOUR, 2_000);
        assert_eq!(before, (T0 + 1_000) as u64);
        assert_eq!(
            after,
            (T0 + 2_000) as u64,
            "the monotonic clock's 1 ms later"
        );
        let later = c.at(T0 + 3_000 - HOUR, 3_000);
        assert!(later > after);
    }

    #[test]
    fn a_step_forward_is_followed() {
        let c = AnchoredClock::new(T0, 0);
        let before = c.at(T0 + 1_000, 1_000);
        let after = c.at(T0 + 2_000 + HOUR, 2_000);
        assert!(after > before);
        assert_eq!(after, (T0 + 2_000 + HOUR) as u64);
        // And then it goes on from there.
        assert_eq!(c.at(T0 + 3_000 + HOUR, 3_000), (T0 + 3_000 + HOUR) as u64);
    }

    #[test]
    fn jitter_between_the_two_readings_does_not_re_anchor() {
        let c = AnchoredClock::new(T0, 0);
        // The wall clock read 0.5 s ahead (slewed or read late): no step, the monotonic line.
        assert_eq!(c.at(T0 + 500_000 + 10, 10), (T0 + 10) as u64);
    }

    #[test]
    fn kernel_stamps_keep_their_age_across_a_step_back() {
        let c = AnchoredClock::new(T0, 0);
        // A datagram arrived at T0 + 1 ms and was read 0.5 ms later.
        let first = c.stamped((T0 + 1_000) as u64, T0 + 1_500, 1_500);
        assert_eq!(first, (T0 + 1_000) as u64);
        // The clock steps back an hour; the next datagram arrives 1 ms after the first (stamped
        // by the kernel on the stepped clock) and is read 0.5 ms later.
        let second = c.stamped((T0 + 2_000 - HOUR) as u64, T0 + 2_500 - HOUR, 2_500);
        assert_eq!(second, (T0 + 2_000) as u64);
        // A stamp from the future (clock stepped back between arrival and read) counts as now.
        let third = c.stamped((T0 + 10 * HOUR) as u64, T0 + 3_000 - HOUR, 3_000);
        assert_eq!(third, (T0 + 3_000) as u64);
    }

    #[test]
    fn now_never_goes_backwards() {
        let mut last = now_us();
        for _ in 0..10_000 {
            let t = now_us();
            assert!(t >= last);
            last = t;
        }
    }
}
