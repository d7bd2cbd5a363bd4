//! Signature acceptance (SPEC 1): at least `threshold` distinct trusted
//! authorities must have signed the exact signed part of the document.

use super::parse::SignatureLine;
use super::{DirectoryError, DirectoryErrorKind as Kind};
use ed25519_dalek::{Signature, VerifyingKey};
use std::collections::HashMap;

/// The reader's trusted authority keys, checked and de-duplicated.
pub(crate) struct Trusted(HashMap<[u8; 32], VerifyingKey>);

impl Trusted {
    /// Checks the caller's arguments before any document is read: a
    /// threshold of 0 would accept anything, one above the number of
    /// distinct keys nothing, and a weak key would "sign" almost anything.
    pub(crate) fn new(keys: &[[u8; 32]], threshold: usize) -> Result<Self, DirectoryError> {
        if threshold == 0 {
            return Err(DirectoryError::whole(Kind::ZeroThreshold));
        }
        let mut trusted = HashMap::new();
        for (index, bytes) in keys.iter().enumerate() {
            let key = VerifyingKey::from_bytes(bytes)
                .ok()
                .filter(|k| !k.is_weak())
                .ok_or(DirectoryError::whole(Kind::InvalidTrustedKey { index }))?;
            trusted.insert(*bytes, key);
        }
        if threshold > trusted.len() {
            return Err(DirectoryError::whole(Kind::ThresholdAboveTrusted {
                threshold,
                trusted: trusted.len(),
            }));
        }
        Ok(Trusted(trusted))
    }

    /// The authority keys whose valid signatures count toward `threshold`.
    /// Lines by untrusted keys are skipped without being verified; a trusted
    /// key's bad signature is an error, since it means tampering or a broken
    /// authority rather than a stranger's opinion.
    pub(crate) fn check(
        &self,
        signed: &[u8],
        signatures: &[SignatureLine],
        threshold: usize,
    ) -> Result<Vec<[u8; 32]>, DirectoryError> {
        let mut signers = Vec::new();
        for line in signatures {
            if let Some(key) = self.0.get(&line.authority) {
                verify(key, signed, line)?;
                signers.push(line.authority);
            }
        }
        if signers.len() < threshold {
            return Err(DirectoryError::whole(Kind::NotEnoughSignatures {
                valid: signers.len(),
                needed: threshold,
            }));
        }
        Ok(signers)
    }
}

/// Checks a signature line against its own key, trusted or not (used before
/// adding another authority's signature to a document).
pub(crate) fn check_self_consistent(
    signed: &[u8],
    line: &SignatureLine,
) -> Result<(), DirectoryError> {
    let key = VerifyingKey::from_bytes(&line.authority)
        .map_err(|_| DirectoryError::at(line.line, Kind::InvalidSignature))?;
    verify(&key, signed, line)
}

/// `verify_strict` refuses weak keys and non-canonical or small-order R, so
/// one signature cannot be valid for several documents or keys.
fn verify(key: &VerifyingKey, signed: &[u8], line: &SignatureLine) -> Result<(), DirectoryError> {
    key.verify_strict(signed, &Signature::from_bytes(&line.signature))
        .map_err(|_| DirectoryError::at(line.line, Kind::InvalidSignature))
}
