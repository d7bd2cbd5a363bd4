//! Writing a directory in canonical form and signing it. Values go through
//! the same [`super::rules`] the parser applies, in the same order, so a
//! document this module signs is one [`super::parse`] accepts.

use super::parse::{self, MAGIC, NODE, SIGNATURE, VERSION};
use super::rules::{self, NodeRules};
use super::verify;
use super::{DirectoryError, DirectoryParams, NodeEntry};
use crate::keys::AuthoritySigningKey;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signer;
use std::collections::HashMap;
use std::fmt::Write;

const NETWORK_LINE: usize = 2;
const VALID_AFTER_LINE: usize = 3;
const VALID_UNTIL_LINE: usize = 4;
const HOPS_LINE: usize = 5;
const PAYLOAD_SIZE_LINE: usize = 6;
const MEAN_DELAY_LINE: usize = 7;
const FIRST_NODE_LINE: usize = 8;

/// The signed part: every line up to and including the last node line.
pub(crate) fn unsigned_document(
    params: &DirectoryParams,
    nodes: &[NodeEntry],
) -> Result<String, DirectoryError> {
    rules::network(NETWORK_LINE, &params.network)?;
    let valid_after = rules::time_text(VALID_AFTER_LINE, "valid-after", params.valid_after)?;
    let valid_until = rules::time_text(VALID_UNTIL_LINE, "valid-until", params.valid_until)?;
    rules::validity(VALID_UNTIL_LINE, params.valid_after, params.valid_until)?;
    let hops = rules::hops(HOPS_LINE, params.hops.into())?;
    let payload_size = rules::payload_size(
        PAYLOAD_SIZE_LINE,
        u64::try_from(params.payload_size).unwrap_or(u64::MAX),
    )?;
    let mean_delay = rules::mean_delay_secs(MEAN_DELAY_LINE, params.mean_delay)?;

    let mut node_rules = NodeRules::new(hops);
    for (line, node) in (FIRST_NODE_LINE..).zip(nodes) {
        node_rules.begin_node(line)?;
        node_rules.nickname(line, node.nickname())?;
        node_rules.layer(line, node.layer().into())?;
        node_rules.address(line, node.address())?;
        node_rules.key(line, node.key())?;
    }
    node_rules.finish(HOPS_LINE, FIRST_NODE_LINE + nodes.len())?;

    let mut text = format!(
        "{MAGIC} {VERSION}\n\
         network {}\n\
         valid-after {valid_after}\n\
         valid-until {valid_until}\n\
         hops {hops}\n\
         payload-size {payload_size}\n\
         mean-delay {mean_delay}\n",
        params.network
    );
    for node in nodes {
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "{NODE} {} {} {} {}",
            node.nickname(),
            node.layer(),
            node.address(),
            STANDARD.encode(node.key())
        );
    }
    rules::document_size(text.len())?;
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
    let first_signature_line = FIRST_NODE_LINE + nodes.len();
    if authorities.is_empty() {
        return Err(DirectoryError::NoSignatures {
            line: first_signature_line,
        });
    }
    let mut document = signed.clone().into_bytes();
    let mut lines_by_key = HashMap::new();
    for (line, authority) in (first_signature_line..).zip(authorities) {
        if let Some(&first_line) = lines_by_key.get(&authority.public_key()) {
            return Err(DirectoryError::DuplicateSignature { line, first_line });
        }
        lines_by_key.insert(authority.public_key(), line);
        document.extend_from_slice(signature_line(signed.as_bytes(), authority).as_bytes());
    }
    rules::document_size(document.len())?;
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
            return Err(DirectoryError::DuplicateSignature {
                line: new_line,
                first_line: line.line,
            });
        }
    }
    let mut out = text.to_vec();
    out.extend_from_slice(signature_line(signed, authority).as_bytes());
    rules::document_size(out.len())?;
    Ok(out)
}
