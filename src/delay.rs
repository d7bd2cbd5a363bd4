//! Per-hop delays (SPEC 2), in one place so that `mix_wrap`, the exit and
//! the anonymity simulator draw them the same way and cannot drift apart.

use rand_core::CryptoRng;
use rand_distr::{Distribution, Exp};
use std::time::Duration;

/// SPEC 2: no delay may exceed half a key period, so a packet is always
/// processed under a key its node still has.
pub fn max_delay(key_period: Duration) -> Duration {
    key_period / 2
}

/// One exponential draw with mean `mean`; zero when the mean is zero.
fn draw<R: CryptoRng + ?Sized>(exp: Option<&Exp<f64>>, rng: &mut R) -> Duration {
    match exp {
        Some(exp) => Duration::try_from_secs_f64(exp.sample(rng)).unwrap_or(Duration::MAX),
        None => Duration::ZERO,
    }
}

fn exponential(mean: Duration) -> Option<Exp<f64>> {
    let mean = mean.as_secs_f64();
    Exp::new(1.0 / mean).ok().filter(|_| mean > 0.0)
}

/// The sender's delays for a route of `hops` nodes: `hops - 1` independent
/// exponential delays with mean `mean` for the mixing hops, drawn again
/// (all of them) while their sum exceeds T/2, then `Duration::ZERO` for the
/// exit, whose Sphinx header carries no delay (it draws its own, see
/// [`sample_exit_delay`]). Returns `hops` values.
///
/// A directory guarantees `hops * mean <= T/8`, so the redraw loop ends
/// after a few rounds at most; it is still bounded, and falls back to
/// scaling the last draw down, so no input can make it spin.
pub fn sample_hop_delays<R: CryptoRng + ?Sized>(
    mean: Duration,
    hops: usize,
    key_period: Duration,
    rng: &mut R,
) -> Vec<Duration> {
    let limit = max_delay(key_period);
    let exp = exponential(mean);
    let mixing = hops.saturating_sub(1);
    let mut delays = Vec::with_capacity(hops);
    for _ in 0..MAX_ROUNDS {
        delays.clear();
        delays.extend((0..mixing).map(|_| draw(exp.as_ref(), rng)));
        if total(&delays) <= limit {
            break;
        }
    }
    if total(&delays) > limit {
        // Unreachable for a valid directory (the chance of 1000 rounds
        // failing is below 2^-1000); keep the contract anyway.
        let share = limit / u32::try_from(mixing.max(1)).unwrap_or(u32::MAX);
        delays.iter_mut().for_each(|d| *d = (*d).min(share));
    }
    if hops > 0 {
        delays.push(Duration::ZERO);
    }
    delays
}

/// The exit's own delay before it delivers a completed message (SPEC 2):
/// exponential with mean `mean`, drawn again while above T/2.
pub fn sample_exit_delay<R: CryptoRng + ?Sized>(
    mean: Duration,
    key_period: Duration,
    rng: &mut R,
) -> Duration {
    let limit = max_delay(key_period);
    let exp = exponential(mean);
    for _ in 0..MAX_ROUNDS {
        let delay = draw(exp.as_ref(), rng);
        if delay <= limit {
            return delay;
        }
    }
    limit
}

/// Redraws before giving up on the exponential (see above).
const MAX_ROUNDS: usize = 1000;

fn total(delays: &[Duration]) -> Duration {
    delays
        .iter()
        .fold(Duration::ZERO, |sum, d| sum.saturating_add(*d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    const T: Duration = Duration::from_secs(3600);

    #[test]
    fn exit_hop_carries_no_delay() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let delays = sample_hop_delays(Duration::from_secs(60), 3, T, &mut rng);
        assert_eq!(delays.len(), 3);
        assert_eq!(delays[2], Duration::ZERO);
        assert!(delays[0] > Duration::ZERO && delays[1] > Duration::ZERO);
    }

    #[test]
    fn sums_never_exceed_half_a_period() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        // A mean of T/4 per hop over 4 mixing hops: most draws are redrawn.
        for _ in 0..2000 {
            let delays = sample_hop_delays(T / 4, 5, T, &mut rng);
            assert!(total(&delays) <= T / 2);
            assert!(sample_exit_delay(T, T, &mut rng) <= T / 2);
        }
    }

    #[test]
    fn zero_mean_means_no_delay() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        assert!(sample_hop_delays(Duration::ZERO, 4, T, &mut rng)
            .iter()
            .all(|d| d.is_zero()));
        assert_eq!(
            sample_exit_delay(Duration::ZERO, T, &mut rng),
            Duration::ZERO
        );
    }

    #[test]
    fn mean_is_the_directory_mean() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let n = 20_000;
        let sum: f64 = (0..n)
            .map(|_| sample_exit_delay(Duration::from_secs(10), T, &mut rng).as_secs_f64())
            .sum();
        let mean = sum / f64::from(n);
        assert!((9.5..10.5).contains(&mean), "{mean}");
    }
}
