//! What users send: how many messages, when, and how large, turned into
//! fragment counts with the library's own arithmetic.

use mixmailer::message::{encode_body, max_body_len, shard_size, Redundancy};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, LogNormal};

/// Message sizes (bytes of the MIME message the pEp engine hands over).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SizeModel {
    /// pEp mail: 85 % text messages with the sender's key attached,
    /// uniform in 15-45 KB (the range pEp messages with a key attached
    /// fall in); 15 % carry an attachment, log-normal with median 150 KB
    /// and sigma 1.0 (the shape mail-size studies report), cut at what 255
    /// fragments can carry.
    Pep,
    /// Every message fits one packet without parity: the Loopix setting,
    /// where a message is one packet.
    SinglePacket,
}

/// Share of pEp messages that carry an attachment.
const ATTACHMENT_SHARE: f64 = 0.15;
/// Median size of a message with an attachment, bytes.
const ATTACHMENT_MEDIAN: f64 = 150_000.0;

/// Compressed body bytes per message byte: measured once per run by
/// compressing a synthetic pEp message (ASCII-armoured ciphertext, as pEp
/// sends it) with the library's own `encode_body`.
#[derive(Clone, Copy, Debug)]
pub struct Compression {
    /// body length / message length for large messages.
    pub ratio: f64,
    /// Constant bytes (recipient line, DEFLATE framing).
    pub overhead: f64,
}

impl Compression {
    /// Measures the library's DEFLATE on armoured random data of two sizes
    /// and fits `body = ratio * size + overhead`.
    pub fn measure<R: Rng + ?Sized>(rng: &mut R) -> Compression {
        let small = 16_000;
        let large = 64_000;
        let measure = |size: usize, rng: &mut R| -> f64 {
            let message = synthetic_pep_message(size, rng);
            let body = encode_body(&["bob@example.net".to_owned()], &message);
            // A body the library cannot build would be a simulator bug;
            // fall back to no compression, which is pessimistic for nobody.
            body.map_or(message.len() as f64, |b| b.len() as f64)
        };
        let (a, b) = (measure(small, rng), measure(large, rng));
        let ratio = (b - a) / (large - small) as f64;
        Compression {
            ratio,
            overhead: (a - ratio * small as f64).max(0.0),
        }
    }

    /// Body length for a message of `size` bytes.
    pub fn body_len(&self, size: f64) -> usize {
        (self.ratio * size + self.overhead).ceil().max(1.0) as usize
    }
}

/// A pEp-encrypted message of about `size` bytes: outer header plus a
/// PGP/MIME body whose ciphertext is base64 of random bytes.
fn synthetic_pep_message<R: Rng + ?Sized>(size: usize, rng: &mut R) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = b"From: alice@example.org\r\nTo: bob@example.net\r\nX-pEp-Version: 3.2\r\n\
Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\
MIME-Version: 1.0\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n\
-----BEGIN PGP MESSAGE-----\r\n\r\n"
        .to_vec();
    let mut column = 0;
    while out.len() < size {
        let pick = rng.random_range(0..ALPHABET.len());
        out.push(ALPHABET.get(pick).copied().unwrap_or(b'A'));
        column += 1;
        if column == 76 {
            out.extend_from_slice(b"\r\n");
            column = 0;
        }
    }
    out.extend_from_slice(b"\r\n-----END PGP MESSAGE-----\r\n--b--\r\n");
    out
}

/// Fragments of one message as `mix_wrap` makes them: k data fragments of
/// S bytes (`shard_size`), plus the parity the redundancy asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragments {
    /// Data fragments (what the delivered size reveals).
    pub k: u16,
    /// All fragments (what the submission burst reveals).
    pub n: u16,
}

/// The fragment counts `mix_wrap` would produce for a body of `body_len`
/// bytes, or `None` when the body does not fit 255 fragments.
pub fn fragments_for(
    body_len: usize,
    payload_size: usize,
    redundancy: Redundancy,
) -> Option<Fragments> {
    let shard = shard_size(payload_size);
    if shard == 0 || body_len > max_body_len(payload_size) {
        return None;
    }
    let k = body_len.div_ceil(shard).max(1);
    let parity = redundancy.parity_for(k).ok()?;
    Some(Fragments {
        k: u16::try_from(k).ok()?,
        n: u16::try_from(k + parity).ok()?,
    })
}

/// Draws message sizes and turns them into fragment counts.
pub struct Sizes {
    model: SizeModel,
    compression: Compression,
    payload_size: usize,
    redundancy: Redundancy,
    attachment: Option<LogNormal<f64>>,
}

impl Sizes {
    /// A size source for one network.
    pub fn new(
        model: SizeModel,
        compression: Compression,
        payload_size: usize,
        redundancy: Redundancy,
    ) -> Sizes {
        // Median 150 KB, sigma 1: valid parameters, so this is always Some.
        let attachment = LogNormal::new(ATTACHMENT_MEDIAN.ln(), 1.0).ok();
        Sizes {
            model,
            compression,
            payload_size,
            redundancy,
            attachment,
        }
    }

    /// One message's fragments.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Fragments {
        match self.model {
            SizeModel::SinglePacket => Fragments { k: 1, n: 1 },
            SizeModel::Pep => {
                let size = if rng.random_bool(ATTACHMENT_SHARE) {
                    self.attachment.map_or(ATTACHMENT_MEDIAN, |d| d.sample(rng))
                } else {
                    rng.random_range(15_000.0..45_000.0)
                };
                let max = max_body_len(self.payload_size);
                let body = self.compression.body_len(size).min(max);
                fragments_for(body, self.payload_size, self.redundancy)
                    .unwrap_or(Fragments { k: 1, n: 1 })
            }
        }
    }
}

/// Diurnal rate factor at simulated second `t` (day starts at midnight):
/// `1 + a * sin`, peaking at 15:00 and lowest at 03:00, mean 1 over a day.
pub fn diurnal(t: f64, amplitude: f64) -> f64 {
    let phase = (t / 86_400.0 - 9.0 / 24.0) * std::f64::consts::TAU;
    1.0 + amplitude * phase.sin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn fragment_counts_follow_the_shard_size() {
        let shard = shard_size(2048);
        let f = fragments_for(shard * 3, 2048, Redundancy::Default);
        assert_eq!(f, Some(Fragments { k: 3, n: 4 }));
        let f = fragments_for(shard * 3 + 1, 2048, Redundancy::Parity(0));
        assert_eq!(f, Some(Fragments { k: 4, n: 4 }));
        assert_eq!(
            fragments_for(max_body_len(2048) + 1, 2048, Redundancy::Default),
            None
        );
    }

    #[test]
    fn armoured_ciphertext_compresses_to_about_three_quarters() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = Compression::measure(&mut rng);
        assert!((0.7..0.8).contains(&c.ratio), "{c:?}");
    }

    #[test]
    fn pep_messages_with_a_key_take_several_2k_fragments() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let c = Compression::measure(&mut rng);
        let sizes = Sizes::new(SizeModel::Pep, c, 2048, Redundancy::Default);
        let ks: Vec<u16> = (0..1000).map(|_| sizes.draw(&mut rng).k).collect();
        let median = {
            let mut s = ks.clone();
            s.sort_unstable();
            s[500]
        };
        assert!((5..=18).contains(&median), "{median}");
    }

    #[test]
    fn diurnal_factor_averages_one() {
        let mean: f64 = (0..86_400).map(|t| diurnal(f64::from(t), 0.5)).sum::<f64>() / 86_400.0;
        assert!((mean - 1.0).abs() < 1e-6);
        assert!(diurnal(15.0 * 3600.0, 0.5) > 1.49);
    }
}
