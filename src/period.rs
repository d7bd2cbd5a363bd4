//! Key periods (SPEC 2): time is cut into periods of T seconds, and every
//! node has one X25519 key per period. `P(t) = floor(unix seconds / T)`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far ahead of a period's start a node already accepts its packets,
/// so that a sender whose clock runs a little fast is not refused (SPEC 2).
pub const CLOCK_SKEW: Duration = Duration::from_secs(600);

/// Whole seconds of T, at least 1 (a parsed directory has 3600..=604800).
fn period_secs(key_period: Duration) -> u64 {
    key_period.as_secs().max(1)
}

/// `P(t)`: the key period holding `t`. Times before 1970 are period 0.
pub fn period_of(t: SystemTime, key_period: Duration) -> u64 {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    secs / period_secs(key_period)
}

/// The first second of `period`. Saturates far in the future rather than
/// overflow (a period number comes from the network).
pub fn period_start(period: u64, key_period: Duration) -> SystemTime {
    let secs = period.saturating_mul(period_secs(key_period));
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) << 16))
}

/// SPEC 2: a node accepts a packet of `packet_period` at `now` if
/// `P(now)` is that period or the next one, or, for clock skew, if the
/// packet's period starts within [`CLOCK_SKEW`] of `now`.
pub fn accepts(packet_period: u64, now: SystemTime, key_period: Duration) -> bool {
    let current = period_of(now, key_period);
    if current == packet_period || current == packet_period.saturating_add(1) {
        return true;
    }
    packet_period == current.saturating_add(1)
        && now
            .checked_add(CLOCK_SKEW)
            .is_some_and(|t| t >= period_start(packet_period, key_period))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(3600);

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn periods_are_floor_of_seconds_over_t() {
        assert_eq!(period_of(at(0), T), 0);
        assert_eq!(period_of(at(3599), T), 0);
        assert_eq!(period_of(at(3600), T), 1);
        assert_eq!(period_start(5, T), at(18_000));
        assert_eq!(period_of(period_start(123_456, T), T), 123_456);
    }

    #[test]
    fn current_and_previous_periods_are_accepted() {
        let now = at(10 * 3600 + 5);
        assert!(accepts(10, now, T));
        assert!(accepts(9, now, T));
        assert!(!accepts(8, now, T));
    }

    #[test]
    fn next_period_only_within_the_skew() {
        assert!(accepts(11, at(11 * 3600 - 600), T));
        assert!(!accepts(11, at(11 * 3600 - 601), T));
        assert!(!accepts(12, at(11 * 3600 - 1), T));
    }

    #[test]
    fn absurd_periods_do_not_overflow() {
        assert!(!accepts(u64::MAX, at(3600), T));
        let _ = period_start(u64::MAX, T);
    }
}
