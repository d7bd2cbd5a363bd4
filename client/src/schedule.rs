//! When to fetch next (docs/authority.md section 9): inside the second and
//! third quarter of the document's validity, at a random point so that
//! millions of clients do not ask the mirrors in the same second.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wait after a failed fetch: uniform in this range.
pub const RETRY_MIN: Duration = Duration::from_secs(60);
/// Upper end of the wait after a failed fetch.
pub const RETRY_MAX: Duration = Duration::from_secs(300);

/// Due time after fetching a document valid in [valid_after, valid_until):
/// valid_after + u * (valid_until - valid_after), u uniform in [1/2, 3/4]
/// (`fraction` is u's position in that range, in [0, 1)). Never before `now`
/// plus the shortest retry wait, so a late fetch does not loop.
pub fn after_success(
    valid_after: SystemTime,
    valid_until: SystemTime,
    now: SystemTime,
    fraction: f64,
) -> SystemTime {
    let validity = valid_until.duration_since(valid_after).unwrap_or_default();
    let u = 0.5 + 0.25 * fraction.clamp(0.0, 1.0);
    let due = valid_after + validity.mul_f64(u);
    whole_seconds(due.max(now + RETRY_MIN))
}

/// Due time after every mirror failed: now + 60..300 s, but not after the
/// cached document expires (then the next call fetches anyway).
pub fn after_failure(
    now: SystemTime,
    valid_until: Option<SystemTime>,
    fraction: f64,
) -> SystemTime {
    let spread = (RETRY_MAX - RETRY_MIN).mul_f64(fraction.clamp(0.0, 1.0));
    let due = now + RETRY_MIN + spread;
    whole_seconds(match valid_until {
        Some(until) if until < due => until.max(now),
        _ => due,
    })
}

/// Due times are kept on disk in whole seconds; returning the same value
/// means a caller sees one due time whether it came from the disk or not.
fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A uniform fraction in [0, 1) from the OS generator (0.5 if it fails:
/// jitter is a courtesy to mirrors, not a security property).
pub fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if rand_core::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn next_fetch_falls_in_the_middle_quarter_of_the_validity() {
        let (after, until) = (t(10_000), t(10_000 + 4 * 3600));
        assert_eq!(
            after_success(after, until, t(10_000), 0.0),
            t(10_000 + 2 * 3600)
        );
        assert_eq!(
            after_success(after, until, t(10_000), 1.0),
            t(10_000 + 3 * 3600)
        );
        let mid = after_success(after, until, t(10_000), 0.5);
        assert_eq!(mid.duration_since(UNIX_EPOCH).unwrap().subsec_nanos(), 0);
        assert!(mid > t(10_000 + 2 * 3600) && mid < t(10_000 + 3 * 3600));
    }

    #[test]
    fn a_late_fetch_is_not_due_again_at_once() {
        let (after, until) = (t(10_000), t(20_000));
        assert_eq!(after_success(after, until, t(19_000), 0.0), t(19_060));
    }

    #[test]
    fn retry_after_failure_is_jittered_and_capped_by_expiry() {
        assert_eq!(after_failure(t(1000), None, 0.0), t(1060));
        assert_eq!(after_failure(t(1000), None, 1.0), t(1300));
        assert_eq!(after_failure(t(1000), Some(t(1100)), 1.0), t(1100));
    }

    #[test]
    fn random_fractions_stay_in_range_and_vary() {
        let draws: Vec<f64> = (0..64).map(|_| random_fraction()).collect();
        assert!(draws.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(draws.iter().any(|f| *f != draws[0]));
    }
}
