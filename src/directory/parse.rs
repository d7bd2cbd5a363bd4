//! Reading a directory document (SPEC 1, version 2): the fixed line order
//! and the fields of each line. Lexical rules live in [`super::text`],
//! values in [`super::rules`]; signatures are only decoded here and
//! verified by [`super::verify`].

use super::error::excerpt;
use super::rules::{self, FirstSeen, NodeRules, PendingKeys, MAX_DOCUMENT_SIZE};
use super::text::{base64_array, checked_text, number, Fields, Lines};
use super::{DirectoryError, DirectoryErrorKind as Kind, DirectoryParams, NodeEntry, PeriodKey};

pub(crate) const MAGIC: &str = "mixmailer-directory";
pub(crate) const VERSION: &str = "2";
pub(crate) const FIRST_LINE: &str = "mixmailer-directory 2";
pub(crate) const NODE: &str = "node";
pub(crate) const KEY: &str = "key";
pub(crate) const SIGNATURE: &str = "signature";

/// A structurally valid document whose signatures are not yet verified.
pub(crate) struct Document {
    pub(crate) params: DirectoryParams,
    pub(crate) nodes: Vec<NodeEntry>,
    /// Length of the signed part: through the LF ending the last key line.
    pub(crate) signed_len: usize,
    pub(crate) signatures: Vec<SignatureLine>,
    /// The X25519 keys' subgroup check, the one costly rule, which the
    /// caller runs once the signatures have verified.
    pub(crate) pending_keys: PendingKeys,
}

/// One `signature` line, decoded.
pub(crate) struct SignatureLine {
    pub(crate) line: usize,
    pub(crate) authority: [u8; 32],
    pub(crate) signature: [u8; 64],
}

/// The signed part: header, nodes and their keys.
struct SignedPart {
    params: DirectoryParams,
    nodes: Vec<NodeEntry>,
    rules: NodeRules,
    hops_line: usize,
}

/// Reads `text` and checks every rule of SPEC 1 except the signatures'
/// validity, the time window and the keys' subgroup check
/// ([`Document::pending_keys`]).
pub(crate) fn document(text: &[u8]) -> Result<Document, DirectoryError> {
    let mut lines = open(text)?;
    let signed = signed_part(&mut lines)?;
    let signed_len = lines.consumed;

    let mut signatures: Vec<SignatureLine> = Vec::new();
    // A map, not a scan: 8 MiB holds some 60 000 signature lines.
    let mut authorities = FirstSeen::new();
    while let Some(fields) = lines.next_if_keyword(SIGNATURE)? {
        let signature = signature(&fields)?;
        authorities
            .insert(signature.authority, signature.line)
            .map_err(|first_line| {
                DirectoryError::at(signature.line, Kind::DuplicateSignature { first_line })
            })?;
        signatures.push(signature);
    }
    if let Some(fields) = lines.next()? {
        let found = excerpt(fields.keyword());
        let kind = if signatures.is_empty() {
            Kind::UnexpectedLine {
                expected: "node, key or signature",
                found,
            }
        } else {
            Kind::TextAfterSignatures { found }
        };
        return Err(DirectoryError::at(fields.line, kind));
    }
    if signatures.is_empty() {
        return Err(DirectoryError::at(lines.next_number, Kind::NoSignatures));
    }
    // Layer coverage is a property of the whole node list, checked once the
    // line structure is known to be sound.
    signed.rules.finish(signed.hops_line)?;
    Ok(Document {
        params: signed.params,
        nodes: signed.nodes,
        signed_len,
        signatures,
        pending_keys: signed.rules.pending_keys(),
    })
}

/// Checks an unsigned document (the signed part alone) against every rule
/// that does not concern signatures, except the keys' subgroup check
/// ([`Document::pending_keys`]): what the writer runs before signing.
pub(crate) fn unsigned(text: &[u8]) -> Result<Document, DirectoryError> {
    let mut lines = open(text)?;
    let signed = signed_part(&mut lines)?;
    let signed_len = lines.consumed;
    if let Some(fields) = lines.next()? {
        return Err(DirectoryError::at(
            fields.line,
            Kind::UnexpectedLine {
                expected: "node or key",
                found: excerpt(fields.keyword()),
            },
        ));
    }
    signed.rules.finish(signed.hops_line)?;
    Ok(Document {
        params: signed.params,
        nodes: signed.nodes,
        signed_len,
        signatures: Vec::new(),
        pending_keys: signed.rules.pending_keys(),
    })
}

/// The whole-document checks, cheapest first, and the line reader.
fn open(text: &[u8]) -> Result<Lines<'_>, DirectoryError> {
    rules::document_size(text.len(), MAX_DOCUMENT_SIZE)?;
    // Counted before anything costly, so an oversized list is refused cheaply.
    count_node_lines(text)?;
    Ok(Lines::new(checked_text(text)?))
}

fn signed_part(lines: &mut Lines<'_>) -> Result<SignedPart, DirectoryError> {
    let (params, hops_line) = header(lines)?;
    let mut rules = NodeRules::new(params.hops, params.periods());
    let mut nodes = Vec::new();
    while let Some(fields) = lines.next_if_keyword(NODE)? {
        nodes.push(node(lines, &fields, &mut rules)?);
    }
    Ok(SignedPart {
        params,
        nodes,
        rules,
        hops_line,
    })
}

/// The eight fixed lines before the nodes, and the number of the hops line.
fn header(lines: &mut Lines<'_>) -> Result<(DirectoryParams, usize), DirectoryError> {
    lines.magic(MAGIC, VERSION, FIRST_LINE)?;

    let network = lines.expect("network")?;
    let name = network.value("network")?;
    rules::network(network.line, name)?;

    let after = lines.expect("valid-after")?;
    let valid_after = rules::time(after.line, "valid-after", after.value("valid-after")?)?;

    let until = lines.expect("valid-until")?;
    let valid_until = rules::time(until.line, "valid-until", until.value("valid-until")?)?;
    rules::validity(until.line, valid_after, valid_until)?;

    let hops_line = lines.expect("hops")?;
    let hops = rules::hops(
        hops_line.line,
        number(hops_line.line, "hops", hops_line.value("hops")?)?,
    )?;

    let size = lines.expect("payload-size")?;
    let payload_size = rules::payload_size(
        size.line,
        number(size.line, "payload-size", size.value("payload-size")?)?,
    )?;

    let delay = lines.expect("mean-delay")?;
    let mean_delay = rules::mean_delay(
        delay.line,
        number(delay.line, "mean-delay", delay.value("mean-delay")?)?,
    )?;

    let period = lines.expect("key-period")?;
    let key_period = rules::key_period(
        period.line,
        number(period.line, "key-period", period.value("key-period")?)?,
    )?;
    rules::delays_fit(period.line, hops, mean_delay, key_period)?;
    rules::periods(period.line, valid_after, valid_until, key_period)?;

    if lines.peek_keyword() != Some(NODE) {
        let next_line = lines.next_number;
        return match lines.next()? {
            Some(other) if other.keyword() != SIGNATURE => Err(DirectoryError::at(
                other.line,
                Kind::UnexpectedLine {
                    expected: NODE,
                    found: excerpt(other.keyword()),
                },
            )),
            _ => Err(DirectoryError::at(next_line, Kind::NoNodes)),
        };
    }

    let params = DirectoryParams {
        network: name.to_owned(),
        valid_after,
        valid_until,
        hops,
        payload_size,
        mean_delay,
        key_period,
    };
    Ok((params, hops_line.line))
}

/// A node line and the key lines that follow it.
fn node(
    lines: &mut Lines<'_>,
    fields: &Fields<'_>,
    rules: &mut NodeRules,
) -> Result<NodeEntry, DirectoryError> {
    let line = fields.line;
    let [_, nickname, layer, address, identity] = fields.exactly::<5>(NODE)?;
    let layer = rules.node(line, nickname, number(line, "layer", layer)?, address)?;
    let identity = base64_array::<32>(line, "identity", identity)?;
    rules.identity(line, &identity)?;

    let mut keys = Vec::new();
    while let Some(fields) = lines.next_if_keyword(KEY)? {
        let [_, period, key] = fields.exactly::<3>(KEY)?;
        let period = number(fields.line, "period", period)?;
        let key = base64_array::<32>(fields.line, "x25519-key", key)?;
        rules.key(fields.line, period, &key)?;
        keys.push(PeriodKey { period, key });
    }
    rules.end_node(lines.next_number)?;
    Ok(NodeEntry::new(nickname, layer, address, identity, keys))
}

fn signature(fields: &Fields<'_>) -> Result<SignatureLine, DirectoryError> {
    let [_, authority, signature] = fields.exactly::<3>(SIGNATURE)?;
    Ok(SignatureLine {
        line: fields.line,
        authority: base64_array::<32>(fields.line, "authority-key", authority)?,
        signature: base64_array::<64>(fields.line, "sig", signature)?,
    })
}

fn count_node_lines(text: &[u8]) -> Result<(), DirectoryError> {
    let mut count = 0;
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.starts_with(b"node ") {
            count += 1;
            rules::node_count(index + 1, count)?;
        }
    }
    Ok(())
}
