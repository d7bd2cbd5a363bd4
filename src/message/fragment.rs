//! Fragments of SPEC 3: the Sphinx payload plaintext, erasure coded.

use super::MessageError;

/// Bytes before the shard in a fragment (version, id, k, n, index, L).
pub const FRAGMENT_HEADER_LEN: usize = 24;

/// How many parity fragments to add for k data fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redundancy {
    /// n = k + ceil(k/3) (the default).
    Default,
    /// Exactly this many parity fragments.
    Parity(u8),
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

/// S for a payload size p: (p - 17 - 24) rounded down to a multiple of 64.
pub fn shard_size(payload_size: usize) -> usize {
    unimplemented!()
}

impl Fragment {
    /// The C = p - 17 byte Sphinx payload plaintext of this fragment.
    pub fn to_plaintext(&self, payload_size: usize) -> Vec<u8> {
        unimplemented!()
    }
    /// Parses a payload plaintext; checks version, k, n, index, L against S.
    pub fn from_plaintext(plaintext: &[u8], payload_size: usize) -> Result<Fragment, MessageError> {
        unimplemented!()
    }
}

/// Cuts `body` into n fragments, any k of which rebuild it.
pub fn fragment_body(
    body: &[u8],
    message_id: [u8; 16],
    payload_size: usize,
    redundancy: Redundancy,
) -> Result<Vec<Fragment>, MessageError> {
    unimplemented!()
}

/// Rebuilds the body from at least k fragments of one message.
pub fn reassemble(fragments: &[Fragment]) -> Result<Vec<u8>, MessageError> {
    unimplemented!()
}
