//! Reading a directory document: the byte-level rules, the fixed line order
//! and the fields of each line. Values are checked by [`super::rules`];
//! signatures are only decoded here and verified by [`super::verify`].

use super::error::excerpt;
use super::rules::{self, NodeRules};
use super::{DirectoryError, DirectoryParams, NodeEntry};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::HashMap;
use std::iter::Peekable;
use std::str::SplitTerminator;

pub(crate) const MAGIC: &str = "mixmailer-directory";
pub(crate) const VERSION: &str = "1";
pub(crate) const NODE: &str = "node";
pub(crate) const SIGNATURE: &str = "signature";

/// A structurally valid document whose signatures are not yet verified.
pub(crate) struct Document {
    pub(crate) params: DirectoryParams,
    pub(crate) nodes: Vec<NodeEntry>,
    /// Length of the signed part: through the LF ending the last node line.
    pub(crate) signed_len: usize,
    pub(crate) signatures: Vec<SignatureLine>,
}

/// One `signature` line, decoded.
pub(crate) struct SignatureLine {
    pub(crate) line: usize,
    pub(crate) authority: [u8; 32],
    pub(crate) signature: [u8; 64],
}

/// Reads `text` and checks every rule of SPEC 1 except the signatures'
/// validity and the time window.
pub(crate) fn document(text: &[u8]) -> Result<Document, DirectoryError> {
    rules::document_size(text.len())?;
    // Counted before anything costly, so an oversized list is refused cheaply.
    count_node_lines(text)?;
    let text = std::str::from_utf8(text).map_err(|e| DirectoryError::NotUtf8 {
        line: line_of(text, e.valid_up_to()),
    })?;
    if let Some(at) = text.find('\r') {
        return Err(DirectoryError::CarriageReturn {
            line: line_of(text.as_bytes(), at),
        });
    }
    if text.is_empty() {
        return Err(DirectoryError::MissingLine {
            line: 1,
            expected: MAGIC,
        });
    }
    if !text.ends_with('\n') {
        return Err(DirectoryError::MissingFinalNewline {
            line: line_of(text.as_bytes(), text.len()),
        });
    }

    let mut lines = Lines::new(text);
    let (params, hops_line) = header(&mut lines)?;

    let mut node_rules = NodeRules::new(params.hops);
    let mut nodes = Vec::new();
    while let Some(fields) = lines.next_if_keyword(NODE)? {
        nodes.push(node(&fields, &mut node_rules)?);
    }
    let signed_len = lines.consumed;

    let mut signatures: Vec<SignatureLine> = Vec::new();
    // A map, not a scan: 8 MiB holds some 60 000 signature lines.
    let mut signature_lines: HashMap<[u8; 32], usize> = HashMap::new();
    while let Some(fields) = lines.next_if_keyword(SIGNATURE)? {
        let signature = signature(&fields)?;
        if let Some(&first_line) = signature_lines.get(&signature.authority) {
            return Err(DirectoryError::DuplicateSignature {
                line: signature.line,
                first_line,
            });
        }
        signature_lines.insert(signature.authority, signature.line);
        signatures.push(signature);
    }
    if let Some(fields) = lines.next()? {
        if signatures.is_empty() {
            return Err(DirectoryError::UnexpectedLine {
                line: fields.line,
                expected: "node or signature",
                found: excerpt(fields.keyword()),
            });
        }
        return Err(DirectoryError::TextAfterSignatures {
            line: fields.line,
            found: excerpt(fields.keyword()),
        });
    }
    if signatures.is_empty() {
        return Err(DirectoryError::NoSignatures {
            line: lines.next_number,
        });
    }
    // Layer coverage is a property of the whole node list, checked once the
    // line structure is known to be sound.
    node_rules.finish(hops_line, lines.next_number)?;
    Ok(Document {
        params,
        nodes,
        signed_len,
        signatures,
    })
}

/// The seven fixed lines before the nodes, and the number of the hops line.
fn header(lines: &mut Lines<'_>) -> Result<(DirectoryParams, usize), DirectoryError> {
    let first = lines.next()?.ok_or(DirectoryError::MissingLine {
        line: 1,
        expected: MAGIC,
    })?;
    if first.keyword() != MAGIC {
        return Err(DirectoryError::BadMagic {
            line: first.line,
            found: excerpt(first.keyword()),
        });
    }
    let [_, version] = first.exactly::<2>(MAGIC)?;
    if version != VERSION {
        return Err(DirectoryError::UnsupportedVersion {
            line: first.line,
            found: excerpt(version),
        });
    }

    let network = lines.expect("network")?;
    let [_, name] = network.exactly::<2>("network")?;
    rules::network(network.line, name)?;

    let after = lines.expect("valid-after")?;
    let [_, text] = after.exactly::<2>("valid-after")?;
    let valid_after = rules::time(after.line, "valid-after", text)?;

    let until = lines.expect("valid-until")?;
    let [_, text] = until.exactly::<2>("valid-until")?;
    let valid_until = rules::time(until.line, "valid-until", text)?;
    rules::validity(until.line, valid_after, valid_until)?;

    let hops_line = lines.expect("hops")?;
    let [_, text] = hops_line.exactly::<2>("hops")?;
    let hops = rules::hops(hops_line.line, number(hops_line.line, "hops", text)?)?;

    let size = lines.expect("payload-size")?;
    let [_, text] = size.exactly::<2>("payload-size")?;
    let payload_size = rules::payload_size(size.line, number(size.line, "payload-size", text)?)?;

    let delay = lines.expect("mean-delay")?;
    let [_, text] = delay.exactly::<2>("mean-delay")?;
    let mean_delay = rules::mean_delay(delay.line, number(delay.line, "mean-delay", text)?)?;

    if lines.peek_keyword() != Some(NODE) {
        return match lines.next()? {
            Some(other) if other.keyword() != SIGNATURE => Err(DirectoryError::UnexpectedLine {
                line: other.line,
                expected: NODE,
                found: excerpt(other.keyword()),
            }),
            _ => Err(DirectoryError::NoNodes {
                line: delay.line + 1,
            }),
        };
    }

    let params = DirectoryParams {
        network: name.to_owned(),
        valid_after,
        valid_until,
        hops,
        payload_size,
        mean_delay,
    };
    Ok((params, hops_line.line))
}

fn node(fields: &Fields<'_>, node_rules: &mut NodeRules) -> Result<NodeEntry, DirectoryError> {
    let line = fields.line;
    node_rules.begin_node(line)?;
    let [_, nickname, layer, address, key] = fields.exactly::<5>(NODE)?;
    node_rules.nickname(line, nickname)?;
    let layer = node_rules.layer(line, number(line, "layer", layer)?)?;
    node_rules.address(line, address)?;
    let key = base64_array::<32>(line, "key", key)?;
    node_rules.key(line, &key)?;
    Ok(NodeEntry::new(nickname, layer, address, key))
}

fn signature(fields: &Fields<'_>) -> Result<SignatureLine, DirectoryError> {
    let [_, authority, signature] = fields.exactly::<3>(SIGNATURE)?;
    Ok(SignatureLine {
        line: fields.line,
        authority: base64_array::<32>(fields.line, "authority-key", authority)?,
        signature: base64_array::<64>(fields.line, "sig", signature)?,
    })
}

/// A decimal number as the directory spells it: ASCII digits only, no sign,
/// no leading zero (so each value has exactly one spelling).
fn number(line: usize, field: &'static str, text: &str) -> Result<u64, DirectoryError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DirectoryError::InvalidNumber {
            line,
            field,
            found: excerpt(text),
        });
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(DirectoryError::LeadingZero {
            line,
            field,
            found: excerpt(text),
        });
    }
    text.parse().map_err(|_| DirectoryError::NumberTooLarge {
        line,
        field,
        found: excerpt(text),
    })
}

/// Canonical standard base64 with padding, decoding to exactly `N` bytes.
fn base64_array<const N: usize>(
    line: usize,
    field: &'static str,
    text: &str,
) -> Result<[u8; N], DirectoryError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| DirectoryError::BadBase64 {
            line,
            field,
            found: excerpt(text),
        })?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| DirectoryError::WrongLength {
        line,
        field,
        expected: N,
        found: bytes.len(),
    })
}

/// The 1-based line holding byte `offset`.
fn line_of(text: &[u8], offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or(text);
    before.iter().filter(|&&b| b == b'\n').count() + 1
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

/// One line, split into its space-separated fields on demand (no
/// allocation, so a hostile line of millions of fields costs nothing extra).
struct Fields<'a> {
    line: usize,
    text: &'a str,
}

impl<'a> Fields<'a> {
    fn keyword(&self) -> &'a str {
        self.text.split(' ').next().unwrap_or_default()
    }

    /// The fields of a `keyword` line that must have exactly `N` of them.
    fn exactly<const N: usize>(
        &self,
        keyword: &'static str,
    ) -> Result<[&'a str; N], DirectoryError> {
        let mut fields = [""; N];
        let mut found = 0;
        for field in self.text.split(' ') {
            if let Some(slot) = fields.get_mut(found) {
                *slot = field;
            }
            found += 1;
        }
        if found != N {
            return Err(DirectoryError::FieldCount {
                line: self.line,
                keyword,
                expected: N,
                found,
            });
        }
        Ok(fields)
    }
}

/// The document's lines in order, with the line number and byte offset
/// reached (the text is known to end in LF).
struct Lines<'a> {
    inner: Peekable<SplitTerminator<'a, char>>,
    /// Number of the next line.
    next_number: usize,
    /// Bytes consumed so far, LFs included.
    consumed: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            inner: text.split_terminator('\n').peekable(),
            next_number: 1,
            consumed: 0,
        }
    }

    fn next(&mut self) -> Result<Option<Fields<'a>>, DirectoryError> {
        let Some(text) = self.inner.next() else {
            return Ok(None);
        };
        let line = self.next_number;
        self.next_number += 1;
        self.consumed += text.len() + 1;
        if let Some(column) = bad_space(text) {
            return Err(DirectoryError::BadSpacing { line, column });
        }
        Ok(Some(Fields { line, text }))
    }

    fn peek_keyword(&mut self) -> Option<&'a str> {
        let text: &'a str = self.inner.peek()?;
        text.split(' ').next()
    }

    fn next_if_keyword(&mut self, keyword: &str) -> Result<Option<Fields<'a>>, DirectoryError> {
        if self.peek_keyword() == Some(keyword) {
            self.next()
        } else {
            Ok(None)
        }
    }

    /// The next line, which must start with `keyword`.
    fn expect(&mut self, keyword: &'static str) -> Result<Fields<'a>, DirectoryError> {
        let line = self.next_number;
        let fields = self.next()?.ok_or(DirectoryError::MissingLine {
            line,
            expected: keyword,
        })?;
        if fields.keyword() != keyword {
            return Err(DirectoryError::UnexpectedLine {
                line,
                expected: keyword,
                found: excerpt(fields.keyword()),
            });
        }
        Ok(fields)
    }
}

/// 1-based column of a space that does not separate two fields: leading,
/// trailing or doubled.
fn bad_space(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b' ') {
        return Some(1);
    }
    if let Some(at) = text.find("  ") {
        return Some(at + 2);
    }
    if bytes.last() == Some(&b' ') {
        return Some(bytes.len());
    }
    None
}
