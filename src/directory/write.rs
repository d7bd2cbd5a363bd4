//! Writing a directory in canonical form and signing it. The values that
//! could break the line structure (names, times, durations) are checked
//! first with the parser's own rules; the written text then goes through
//! the parser itself ([`parse::unsigned`]) before anything is signed, so a
//! document this module signs is one [`super::Directory::parse`] accepts.

use super::parse::{self, FIRST_LINE, KEY, NODE, SIGNATURE};
use super::rules::{self, FirstSeen, MAX_DOCUMENT_SIZE};
use super::verify;
use super::{DirectoryError, DirectoryErrorKind as Kind, DirectoryParams, NodeEntry};
use crate::keys::AuthoritySigningKey;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signer;
use std::fmt::Write;

const NETWORK_LINE: usize = 2;
const VALID_AFTER_LINE: usize = 3;
const VALID_UNTIL_LINE: usize = 4;
const MEAN_DELAY_LINE: usize = 7;
const KEY_PERIOD_LINE: usize = 8;
const FIRST_NODE_LINE: usize = 9;

/// The signed part: every line up to and including the last key line,
/// checked against every rule of SPEC 1 that does not concern signatures.
pub(crate) fn unsigned_document(
    params: &DirectoryParams,
    nodes: &[NodeEntry],
) -> Result<String, DirectoryError> {
    rules::network(NETWORK_LINE, &params.network)?;
    let valid_after = rules::time_text(VALID_AFTER_LINE, "valid-after", params.valid_after)?;
    let valid_until = rules::time_text(VALID_UNTIL_LINE, "valid-until", params.valid_until)?;
    let mean_delay = rules::mean_delay_secs(MEAN_DELAY_LINE, params.mean_delay)?;
    let key_period = rules::key_period_secs(KEY_PERIOD_LINE, params.key_period)?;

    let mut text = format!(
        "{FIRST_LINE}\n\
         network {}\n\
         valid-after {valid_after}\n\
         valid-until {valid_until}\n\
         hops {}\n\
         payload-size {}\n\
         mean-delay {mean_delay}\n\
         key-period {key_period}\n",
        params.network, params.hops, params.payload_size,
    );
    let mut line = FIRST_NODE_LINE;
    for node in nodes {
        // A space or LF inside these would change the lines themselves.
        rules::nickname(line, node.nickname())?;
        rules::address(line, node.address())?;
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "{NODE} {} {} {} {}",
            node.nickname(),
            node.layer(),
            node.address(),
            STANDARD.encode(node.identity())
        );
        for key in node.keys() {
            let _ = writeln!(text, "{KEY} {} {}", key.period, STANDARD.encode(key.key));
        }
        line += 1 + node.keys().len();
    }
    parse::unsigned(text.as_bytes())?.pending_keys.check()?;
    Ok(text)
}

/// The `signature` line `authority` adds to a document whose signed part is `signed`.
pub(crate) fn signature_line(signed: &[u8], authority: &AuthoritySigningKey) -> String {
    let signature = authority.signing_key().sign(signed);
    format!(
        "{SIGNATURE} {} {}\n",
        STANDARD.encode(authority.public_key()),
        STANDARD.encode(signature.to_bytes())
    )
}

/// Writes and signs; see [`super::Directory::sign`].
pub(crate) fn sign(
    params: &DirectoryParams,
    nodes: &[NodeEntry],
    authorities: &[&AuthoritySigningKey],
) -> Result<Vec<u8>, DirectoryError> {
    let signed = unsigned_document(params, nodes)?;
    let first_signature_line = signed.bytes().filter(|&b| b == b'\n').count() + 1;
    if authorities.is_empty() {
        return Err(DirectoryError::at(first_signature_line, Kind::NoSignatures));
    }
    let mut document = signed.clone().into_bytes();
    let mut lines_by_key = FirstSeen::new();
    for (line, authority) in (first_signature_line..).zip(authorities) {
        lines_by_key
            .insert(authority.public_key(), line)
            .map_err(|first_line| {
                DirectoryError::at(line, Kind::DuplicateSignature { first_line })
            })?;
        document.extend_from_slice(signature_line(signed.as_bytes(), authority).as_bytes());
    }
    rules::document_size(document.len(), MAX_DOCUMENT_SIZE)?;
    Ok(document)
}

/// Appends `authority`'s signature; see [`super::Directory::add_signature`].
pub(crate) fn add_signature(
    text: &[u8],
    authority: &AuthoritySigningKey,
) -> Result<Vec<u8>, DirectoryError> {
    let document = parse::document(text)?;
    let signed = text.get(..document.signed_len).unwrap_or(text);
    let key = authority.public_key();
    let new_line = document.signatures.last().map_or(0, |s| s.line) + 1;
    for line in &document.signatures {
        verify::check_self_consistent(signed, line)?;
        if line.authority == key {
            return Err(DirectoryError::at(
                new_line,
                Kind::DuplicateSignature {
                    first_line: line.line,
                },
            ));
        }
    }
    document.pending_keys.check()?;
    let mut out = text.to_vec();
    out.extend_from_slice(signature_line(signed, authority).as_bytes());
    rules::document_size(out.len(), MAX_DOCUMENT_SIZE)?;
    Ok(out)
}
