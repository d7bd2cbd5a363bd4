//! Fragments of SPEC 3: the Sphinx payload plaintext, erasure coded.
//!
//! The erasure code is the Reed-Solomon code of `reed-solomon-simd` 3.x
//! (Leopard-RS: GF(2^16), FFT-based); `docs/erasure-code.md` specifies it
//! for other implementations.

use super::MessageError;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
use std::collections::BTreeMap;

/// Bytes before the shard in a fragment (version, id, k, n, index, L).
pub const FRAGMENT_HEADER_LEN: usize = 24;
/// The only fragment format version (SPEC 3).
pub const FRAGMENT_VERSION: u8 = 1;
/// Sphinx payload bytes that are not plaintext (SPEC 3: C = p - 17).
const PAYLOAD_OVERHEAD: usize = 17;
/// Shards are a multiple of this, as SIMD erasure codecs want.
const SHARD_ALIGN: usize = 64;
/// Fragment counts are one byte.
const MAX_FRAGMENTS: usize = 255;

/// How many parity fragments to add for k data fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redundancy {
    /// ceil(k/3) parity fragments (n = k + ceil(k/3)), as many as fit when
    /// that would make n exceed 255. A single-fragment message gets one
    /// parity fragment, so it survives the loss of one packet.
    Default,
    /// Exactly this many parity fragments (0 = no erasure coding).
    Parity(u8),
}

impl Redundancy {
    /// Parity fragments for `k` data fragments (`k` in 1..=255).
    pub fn parity_for(self, k: usize) -> Result<usize, MessageError> {
        match self {
            Redundancy::Default => Ok(k.div_ceil(3).min(MAX_FRAGMENTS.saturating_sub(k))),
            Redundancy::Parity(m) => {
                let parity = usize::from(m);
                if k + parity > MAX_FRAGMENTS {
                    return Err(MessageError::TooManyFragments { k, parity });
                }
                Ok(parity)
            }
        }
    }
}

/// One fragment as carried in a Sphinx payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Random id shared by all fragments of one message.
    pub message_id: [u8; 16],
    /// Data fragments.
    pub k: u8,
    /// All fragments.
    pub n: u8,
    /// This fragment's index, 0..n.
    pub index: u8,
    /// Body length in bytes.
    pub body_len: u32,
    /// S bytes of shard.
    pub shard: Vec<u8>,
}

/// S for a payload size p: (p - 17 - 24) rounded down to a multiple of 64
/// (0 if p is too small to carry any shard).
pub fn shard_size(payload_size: usize) -> usize {
    let room = payload_size.saturating_sub(PAYLOAD_OVERHEAD + FRAGMENT_HEADER_LEN);
    room - room % SHARD_ALIGN
}

/// The largest body, in bytes, that fits into 255 data fragments at payload size p.
pub fn max_body_len(payload_size: usize) -> usize {
    MAX_FRAGMENTS * shard_size(payload_size)
}

impl Fragment {
    /// The C = p - 17 byte Sphinx payload plaintext of this fragment.
    ///
    /// The shard must be S = [`shard_size`]`(payload_size)` bytes, as
    /// [`fragment_body`] makes it for the same payload size; a longer one
    /// would be cut at C.
    pub fn to_plaintext(&self, payload_size: usize) -> Vec<u8> {
        let capacity = payload_size.saturating_sub(PAYLOAD_OVERHEAD);
        let mut out = Vec::with_capacity(capacity.max(FRAGMENT_HEADER_LEN + self.shard.len()));
        out.push(FRAGMENT_VERSION);
        out.extend_from_slice(&self.message_id);
        out.extend_from_slice(&[self.k, self.n, self.index]);
        out.extend_from_slice(&self.body_len.to_be_bytes());
        out.extend_from_slice(&self.shard);
        out.resize(capacity, 0);
        out
    }

    /// Parses a payload plaintext; checks version, k, n, index, L against S.
    pub fn from_plaintext(plaintext: &[u8], payload_size: usize) -> Result<Fragment, MessageError> {
        let capacity = payload_size.saturating_sub(PAYLOAD_OVERHEAD);
        let shard_len = shard_size(payload_size);
        if shard_len == 0 {
            return Err(MessageError::PayloadTooSmall { payload_size });
        }
        if plaintext.len() != capacity {
            return Err(MessageError::FragmentLength {
                expected: capacity,
                actual: plaintext.len(),
            });
        }
        // C >= 24 + S by the definition of S, so these splits always succeed.
        let wrong_length = MessageError::FragmentLength {
            expected: capacity,
            actual: plaintext.len(),
        };
        let (header, rest) = plaintext
            .split_at_checked(FRAGMENT_HEADER_LEN)
            .ok_or_else(|| wrong_length.clone())?;
        let (shard, tail) = rest
            .split_at_checked(shard_len)
            .ok_or_else(|| wrong_length.clone())?;
        let [version, id @ .., k, n, index, l0, l1, l2, l3] =
            <[u8; FRAGMENT_HEADER_LEN]>::try_from(header).map_err(|_| wrong_length)?;
        if version != FRAGMENT_VERSION {
            return Err(MessageError::UnsupportedVersion(version));
        }
        let body_len = u32::from_be_bytes([l0, l1, l2, l3]);
        check_counts(k, n, index, body_len, shard_len)?;
        if let Some(at) = tail.iter().position(|&b| b != 0) {
            return Err(MessageError::NonZeroTail {
                offset: FRAGMENT_HEADER_LEN + shard_len + at,
            });
        }
        let message_id: [u8; 16] = id;
        Ok(Fragment {
            message_id,
            k,
            n,
            index,
            body_len,
            shard: shard.to_vec(),
        })
    }
}

fn check_counts(
    k: u8,
    n: u8,
    index: u8,
    body_len: u32,
    shard_len: usize,
) -> Result<(), MessageError> {
    if k == 0 {
        return Err(MessageError::ZeroDataFragments);
    }
    if n < k {
        return Err(MessageError::FewerFragmentsThanData { k, n });
    }
    if index >= n {
        return Err(MessageError::IndexOutOfRange { index, n });
    }
    let max = usize::from(k) * shard_len;
    if usize::try_from(body_len).map_or(true, |l| l > max) {
        return Err(MessageError::BodyLengthTooLarge { body_len, max });
    }
    Ok(())
}

/// Cuts `body` into n fragments, any k of which rebuild it.
///
/// k = ceil(len / S), at least 1; the parity count comes from `redundancy`.
pub fn fragment_body(
    body: &[u8],
    message_id: [u8; 16],
    payload_size: usize,
    redundancy: Redundancy,
) -> Result<Vec<Fragment>, MessageError> {
    let shard_len = shard_size(payload_size);
    if shard_len == 0 {
        return Err(MessageError::PayloadTooSmall { payload_size });
    }
    let max = max_body_len(payload_size);
    let too_large = MessageError::MessageTooLarge {
        body_len: body.len(),
        max,
    };
    if body.len() > max {
        return Err(too_large);
    }
    let body_len = u32::try_from(body.len()).map_err(|_| too_large.clone())?;
    let k = body.len().div_ceil(shard_len).max(1);
    let parity = redundancy.parity_for(k)?;
    let n = k + parity;
    let (k8, n8) = match (u8::try_from(k), u8::try_from(n)) {
        (Ok(k8), Ok(n8)) => (k8, n8),
        _ => return Err(too_large),
    };

    let mut shards: Vec<Vec<u8>> = body.chunks(shard_len).map(<[u8]>::to_vec).collect();
    if shards.is_empty() {
        shards.push(Vec::new());
    }
    if let Some(last) = shards.last_mut() {
        last.resize(shard_len, 0);
    }
    if parity > 0 {
        let mut encoder = ReedSolomonEncoder::new(k, parity, shard_len).map_err(codec_error)?;
        for shard in &shards {
            encoder.add_original_shard(shard).map_err(codec_error)?;
        }
        let result = encoder.encode().map_err(codec_error)?;
        shards.extend(result.recovery_iter().map(<[u8]>::to_vec));
    }
    Ok(shards
        .into_iter()
        .zip(0..=n8)
        .map(|(shard, index)| Fragment {
            message_id,
            k: k8,
            n: n8,
            index,
            body_len,
            shard,
        })
        .collect())
}

/// Rebuilds the body from at least k fragments of one message.
///
/// All fragments must agree on message id, k, n and L and carry shards of
/// one length S; a repeated index is ignored. Returns exactly L bytes.
pub fn reassemble(fragments: &[Fragment]) -> Result<Vec<u8>, MessageError> {
    let first = fragments.first().ok_or(MessageError::NoFragments)?;
    let (k, n) = (usize::from(first.k), usize::from(first.n));
    let shard_len = first.shard.len();
    let mut by_index: BTreeMap<usize, &[u8]> = BTreeMap::new();
    for fragment in fragments {
        check_same_message(first, fragment)?;
        if fragment.shard.len() != shard_len {
            return Err(MessageError::ShardLength {
                index: fragment.index,
                expected: shard_len,
                actual: fragment.shard.len(),
            });
        }
        check_counts(
            fragment.k,
            fragment.n,
            fragment.index,
            fragment.body_len,
            shard_len,
        )?;
        by_index
            .entry(usize::from(fragment.index))
            .or_insert(&fragment.shard);
    }
    if by_index.len() < k {
        return Err(MessageError::NotEnoughFragments {
            have: by_index.len(),
            need: k,
        });
    }
    let mut body = Vec::with_capacity(k * shard_len);
    if by_index.range(..k).count() == k {
        for shard in by_index.range(..k).map(|(_, s)| s) {
            body.extend_from_slice(shard);
        }
    } else {
        let mut decoder = ReedSolomonDecoder::new(k, n - k, shard_len).map_err(codec_error)?;
        for (&index, shard) in &by_index {
            if index < k {
                decoder
                    .add_original_shard(index, shard)
                    .map_err(codec_error)?;
            } else {
                decoder
                    .add_recovery_shard(index - k, shard)
                    .map_err(codec_error)?;
            }
        }
        let result = decoder.decode().map_err(codec_error)?;
        for index in 0..k {
            let shard = by_index
                .get(&index)
                .copied()
                .or_else(|| result.restored_original(index))
                .ok_or_else(|| {
                    MessageError::ErasureCode(format!("data shard {index} not restored"))
                })?;
            body.extend_from_slice(shard);
        }
    }
    body.truncate(usize::try_from(first.body_len).unwrap_or(usize::MAX));
    Ok(body)
}

fn check_same_message(first: &Fragment, other: &Fragment) -> Result<(), MessageError> {
    let differ = |field, a: String, b: String| {
        Err(MessageError::InconsistentFragments {
            field,
            first: a,
            other: b,
        })
    };
    if first.message_id != other.message_id {
        let hex = |id: &[u8; 16]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
        return differ("message id", hex(&first.message_id), hex(&other.message_id));
    }
    if first.k != other.k {
        return differ("k", first.k.to_string(), other.k.to_string());
    }
    if first.n != other.n {
        return differ("n", first.n.to_string(), other.n.to_string());
    }
    if first.body_len != other.body_len {
        return differ(
            "body length",
            first.body_len.to_string(),
            other.body_len.to_string(),
        );
    }
    Ok(())
}

fn codec_error(e: reed_solomon_simd::Error) -> MessageError {
    MessageError::ErasureCode(e.to_string())
}
