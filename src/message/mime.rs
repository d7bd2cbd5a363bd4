//! MIME scrubbing of SPEC 6 for messages that are neither signed nor
//! encrypted: mail-parser finds the parts and their byte offsets, and every
//! change is an edit on a byte range of the original, so what no rule
//! touches stays byte for byte. The rules are in docs/message.md.

use super::edit::{apply, Edit};
use super::policy::is_kept_field;
use super::random_id::boundary;
use super::MessageError;
use mail_parser::{
    ContentType, Encoding, HeaderName, Message, MessageParser, MimeHeaders, PartType,
};
use rand_core::CryptoRng;
use std::borrow::Cow;

/// Content types whose presence anywhere makes a message signed or
/// encrypted (SPEC 6, plus the older `x-pkcs7-signature` spelling).
const SIGNED_OR_ENCRYPTED: [(&str, &str); 6] = [
    ("multipart", "signed"),
    ("multipart", "encrypted"),
    ("application", "pkcs7-mime"),
    ("application", "x-pkcs7-mime"),
    ("application", "pkcs7-signature"),
    ("application", "x-pkcs7-signature"),
];

/// Parameters removed from Content-Type and Content-Disposition: RFC 2183
/// dates say when a file was made, changed or read on the author's machine.
const DATE_PARAMETERS: [&str; 3] = ["creation-date", "modification-date", "read-date"];

/// Multipart regions nest; scanning them for delimiter lines may cost at
/// most this many times the message (16 levels of nesting).
const MAX_SCAN_FACTOR: usize = 16;

/// Parameters that name a file; only their last path element is kept.
const FILE_PARAMETERS: [&str; 2] = ["filename", "name"];

fn parser() -> MessageParser {
    MessageParser::new().with_mime_headers()
}

/// mail-parser's reading of a whole message, or `None` if it cannot read
/// it. mail-parser 0.11 has `debug_assert!`s that malformed MIME can reach
/// (found by the `outgoing` fuzz target, fuzz/findings/): in a build with
/// debug assertions they panic, where a release build reads on. A message
/// must never panic the library, so such a message is simply unreadable.
fn parse_message(text: &[u8]) -> Option<mail_parser::Message<'_>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser().parse(text)))
        .ok()
        .flatten()
}

/// Applies `header_edits` (the caller's edits of the top-level header) to
/// the CRLF message `text` and, unless the message is signed or encrypted
/// anywhere, scrubs its MIME parts too; the scrubbed result is read again
/// and checked (see [`verify`]) before it is returned.
pub(crate) fn scrub_message<R: CryptoRng + ?Sized>(
    text: &[u8],
    header_edits: Vec<Edit>,
    rng: &mut R,
) -> Result<Vec<u8>, MessageError> {
    let unreadable = MessageError::UnscrubbablePart {
        offset: 0,
        reason: "mail-parser cannot read the message",
    };
    check_nesting_budget(text)?;
    let parsed = parse_message(text).ok_or(unreadable.clone())?;
    if is_signed_or_encrypted(&parsed) {
        return apply(text, header_edits);
    }
    let mut scrub = Scrub {
        text,
        edits: header_edits,
        multiparts: Vec::new(),
        parts: 0,
    };
    scrub.walk(&parsed, 0, rng)?;
    scrub.check_boundaries()?;
    let new_boundaries: Vec<String> = scrub.multiparts.iter().map(|m| m.new.clone()).collect();
    for multipart in std::mem::take(&mut scrub.multiparts) {
        scrub.rewrite_delimiters(&multipart)?;
    }
    let out = apply(text, scrub.edits)?;
    let reparsed = parse_message(&out).ok_or(unreadable)?;
    verify(&reparsed, scrub.parts, &new_boundaries)?;
    Ok(out)
}

/// mail-parser nests each attached message inside its parent, and such a
/// tree is built and dropped recursively: a message of a million nested
/// `message/rfc822` parts would overflow the stack. Every attached message
/// needs a `message/` in some Content-Type (or a `multipart/digest` around
/// it), so counting those words bounds the nesting before parsing. Real
/// mail has a handful; a digest of many messages counts once.
fn check_nesting_budget(text: &[u8]) -> Result<(), MessageError> {
    let ends_with = |end: usize, word: &[u8]| {
        end.checked_sub(word.len())
            .and_then(|start| text.get(start..end))
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    let words = text
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'/')
        .filter(|&(i, _)| {
            ends_with(i + 1, MESSAGE_WORD) || ends_with(i + 1 + DIGEST_TAIL, DIGEST_WORD)
        })
        .count();
    if words > MAX_MESSAGE_WORDS {
        return Err(MessageError::UnscrubbablePart {
            offset: 0,
            reason: "too many attached messages",
        });
    }
    Ok(())
}

const MESSAGE_WORD: &[u8] = b"message/";
const DIGEST_WORD: &[u8] = b"multipart/digest";
/// Bytes of [`DIGEST_WORD`] after its `/`.
const DIGEST_TAIL: usize = 6;
/// At most this many `message/` and `multipart/digest` words in a message
/// to scrub (see [`check_nesting_budget`]).
const MAX_MESSAGE_WORDS: usize = 1000;
/// Attached messages nested deeper than this are refused.
const MAX_NESTED_MESSAGES: usize = 32;

/// Whether any part, attached messages included, is signed or encrypted.
fn is_signed_or_encrypted(message: &Message<'_>) -> bool {
    let mut pending = vec![message];
    while let Some(message) = pending.pop() {
        for part in &message.parts {
            let sealed = part.content_type().is_some_and(|ct| {
                SIGNED_OR_ENCRYPTED.iter().any(|(t, s)| {
                    ct.ctype().eq_ignore_ascii_case(t)
                        && ct.subtype().is_some_and(|sub| sub.eq_ignore_ascii_case(s))
                })
            });
            if sealed {
                return true;
            }
            if let PartType::Message(inner) = &part.body {
                pending.push(inner);
            }
        }
    }
    false
}

/// A multipart whose boundary is replaced.
struct Multipart {
    /// Its body (preamble to close delimiter and epilogue), where its
    /// delimiter lines are looked for: `[body, end)`.
    body: usize,
    end: usize,
    old: String,
    new: String,
}

struct Scrub<'t> {
    text: &'t [u8],
    edits: Vec<Edit>,
    multiparts: Vec<Multipart>,
    /// Parts seen, attached messages' parts included.
    parts: usize,
}

impl Scrub<'_> {
    /// `depth` is 0 for the message itself, 1 for an attached message, ...
    fn walk<R: CryptoRng + ?Sized>(
        &mut self,
        message: &Message<'_>,
        depth: usize,
        rng: &mut R,
    ) -> Result<(), MessageError> {
        let nested = depth > 0;
        for (i, part) in message.parts.iter().enumerate() {
            self.parts += 1;
            let offset = part.offset_header as usize;
            let refuse = |reason| MessageError::UnscrubbablePart { offset, reason };
            let content_types = part
                .headers
                .iter()
                .filter(|h| h.name == HeaderName::ContentType)
                .count();
            if content_types > 1 {
                return Err(refuse("more than one Content-Type"));
            }
            let old_boundary = match &part.body {
                PartType::Multipart(_) => {
                    part.content_type().and_then(|ct| ct.attribute("boundary"))
                }
                _ => None,
            };
            let new_boundary = old_boundary.map(|_| {
                let mut random = [0u8; 20];
                rng.fill_bytes(&mut random);
                boundary(&random)
            });
            for header in &part.headers {
                let name = header.name.as_str();
                let (start, end) = (header.offset_field as usize, header.offset_end as usize);
                // The header of an attached message: what the top-level
                // policy removes, plus Message-ID (Date is not kept anyway).
                if nested
                    && i == 0
                    && (!is_kept_field(name) || name.eq_ignore_ascii_case("message-id"))
                {
                    self.edits.push(Edit::delete(start, end));
                    continue;
                }
                let is_type = header.name == HeaderName::ContentType;
                if !is_type && header.name != HeaderName::ContentDisposition {
                    continue;
                }
                let raw_value = self
                    .text
                    .get(header.offset_start as usize..end)
                    .unwrap_or_default();
                let windows_read = windows_paths_literal(raw_value);
                let ct = match windows_read.as_ref().and_then(|m| read_content_type(m)) {
                    Some(literal) => literal,
                    None => match header.value.as_content_type() {
                        Some(ct) => ct.clone(),
                        None => continue,
                    },
                };
                let boundary = if is_type {
                    new_boundary.as_deref()
                } else {
                    None
                };
                if let Some(value) = scrubbed_value(&ct, boundary) {
                    let canonical = if is_type {
                        "Content-Type"
                    } else {
                        "Content-Disposition"
                    };
                    self.edits.push(Edit::replace(
                        start,
                        end,
                        format!("{canonical}: {value}\r\n"),
                    ));
                }
            }
            if let (Some(old), Some(new)) = (old_boundary, new_boundary) {
                let body = part.offset_body as usize;
                let end = match part.offset_end as usize {
                    end if end > body && end <= self.text.len() => end,
                    _ => self.text.len(),
                };
                self.multiparts.push(Multipart {
                    body,
                    end,
                    old: old.to_owned(),
                    new,
                });
            }
            let says_message = part.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("message")
                    && ct.subtype().is_some_and(|s| {
                        s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
                    })
            });
            match &part.body {
                PartType::Message(_) if depth >= MAX_NESTED_MESSAGES => {
                    return Err(refuse("attached messages nested too deeply"));
                }
                PartType::Message(inner) if part.encoding == Encoding::None => {
                    self.walk(inner, depth + 1, rng)?;
                }
                PartType::Message(_) => {
                    // RFC 2046 5.2.1 allows only 7bit, 8bit and binary for
                    // message/rfc822; a decoded copy has its own offsets.
                    return Err(refuse("attached message in base64 or quoted-printable"));
                }
                _ if says_message => return Err(refuse("attached message cannot be read")),
                _ => {}
            }
        }
        Ok(())
    }

    /// Delimiter lines are found by exact match of the boundary, so no
    /// boundary may equal or begin another one. Sorted, a string that
    /// begins another one sorts right before it or before a string that
    /// it also begins, so neighbours suffice (a message of many multiparts
    /// costs n log n, not n^2). Each multipart's delimiter lines are
    /// looked for in its own region; regions nest, so the scans are bounded
    /// by [`MAX_SCAN_FACTOR`] times the message, refused beyond.
    fn check_boundaries(&self) -> Result<(), MessageError> {
        let mut sorted: Vec<&Multipart> = self.multiparts.iter().collect();
        sorted.sort_by(|a, b| a.old.cmp(&b.old));
        for pair in sorted.windows(2) {
            if let [a, b] = pair {
                if b.old.starts_with(&a.old) {
                    return Err(MessageError::UnscrubbablePart {
                        offset: b.body,
                        reason: "a multipart boundary equals or extends another one",
                    });
                }
            }
        }
        let scanned: usize = self
            .multiparts
            .iter()
            .map(|m| m.end.saturating_sub(m.body))
            .sum();
        if scanned > self.text.len().saturating_mul(MAX_SCAN_FACTOR) {
            return Err(MessageError::UnscrubbablePart {
                offset: 0,
                reason: "multiparts nested too deeply",
            });
        }
        Ok(())
    }

    /// Replaces the boundary in every delimiter line `--old` and the close
    /// delimiter `--old--` (RFC 2046 5.1.1, trailing white space allowed)
    /// from the multipart's body to its close delimiter.
    fn rewrite_delimiters(&mut self, multipart: &Multipart) -> Result<(), MessageError> {
        let text = self.text;
        let old = multipart.old.as_bytes();
        let mut pos = multipart.body;
        let mut found = false;
        while pos < multipart.end {
            let rest = text.get(pos..multipart.end).unwrap_or_default();
            let len = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(rest.len());
            let line = rest.get(..len).unwrap_or_default();
            if let Some(after) = line.strip_prefix(b"--").and_then(|l| l.strip_prefix(old)) {
                let (closing, padding) = match after.strip_prefix(b"--") {
                    Some(padding) => (true, padding),
                    None => (false, after),
                };
                if padding.iter().all(|&b| b == b' ' || b == b'\t') {
                    let start = pos + 2;
                    self.edits.push(Edit::replace(
                        start,
                        start + old.len(),
                        multipart.new.as_bytes(),
                    ));
                    found = true;
                    if closing {
                        return Ok(());
                    }
                }
            }
            pos += len + 2;
        }
        if found {
            Ok(())
        } else {
            Err(MessageError::UnscrubbablePart {
                offset: multipart.body,
                reason: "no delimiter line of the multipart's boundary",
            })
        }
    }
}

/// Windows programs write paths into quoted-strings unescaped
/// (`filename="C:\Users\alice\a.pdf"`); RFC 5322 reads `\U` as `U`, which
/// would hide the directory from [`base_name`] but keep its words. A
/// backslash before anything but `\` or `"` escapes nothing anyone means,
/// so such a field is read again with those backslashes taken literally.
/// Returns the field to read again, or `None` when there is no such backslash.
fn windows_paths_literal(raw_value: &[u8]) -> Option<Vec<u8>> {
    let mut out = b"Content-Type:".to_vec();
    let mut changed = false;
    let mut bytes = raw_value.iter().peekable();
    while let Some(&b) = bytes.next() {
        out.push(b);
        if b == b'\\' {
            match bytes.peek() {
                Some(&&next) if next == b'\\' || next == b'"' => {
                    out.push(next);
                    bytes.next();
                }
                _ => {
                    out.push(b'\\');
                    changed = true;
                }
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    changed.then_some(out)
}

/// mail-parser's reading of one `Content-Type:` field, owned.
fn read_content_type(field: &[u8]) -> Option<ContentType<'static>> {
    let parsed = parser().parse_headers(field)?;
    let root = parsed.parts.into_iter().next()?;
    let header = root.headers.into_iter().next()?;
    header.value.into_content_type().map(|ct| ContentType {
        c_type: Cow::Owned(ct.c_type.into_owned()),
        c_subtype: ct.c_subtype.map(|s| Cow::Owned(s.into_owned())),
        attributes: ct.attributes.map(|list| {
            list.into_iter()
                .map(|a| mail_parser::Attribute {
                    name: Cow::Owned(a.name.into_owned()),
                    value: Cow::Owned(a.value.into_owned()),
                })
                .collect()
        }),
    })
}

/// The value of a Content-Type or Content-Disposition field with dates
/// removed, file names cut to their last path element and the boundary
/// replaced, or `None` when nothing changes (the field then stays byte
/// for byte).
fn scrubbed_value(ct: &ContentType<'_>, new_boundary: Option<&str>) -> Option<String> {
    let mut changed = false;
    let mut value = ct.ctype().to_owned();
    if let Some(subtype) = ct.subtype() {
        value.push('/');
        value.push_str(subtype);
    }
    for attribute in ct.attributes().unwrap_or_default() {
        let name = attribute.name.to_ascii_lowercase();
        let original: &str = &attribute.value;
        let written: Cow<'_, str> = if DATE_PARAMETERS.contains(&name.as_str()) {
            changed = true;
            continue;
        } else if FILE_PARAMETERS.contains(&name.as_str()) {
            let base = base_name(original);
            changed |= base != original;
            Cow::Owned(base)
        } else if let (true, Some(new)) = (name == "boundary", new_boundary) {
            changed = true;
            Cow::Borrowed(new)
        } else {
            Cow::Borrowed(original)
        };
        value.push_str(";\r\n\t");
        value.push_str(&parameter(&name, &written));
    }
    changed.then_some(value)
}

/// The last element of a Unix or Windows path (`C:\Users\a\x.pdf` and
/// `/home/a/x.pdf` become `x.pdf`; a bare drive prefix `C:x.pdf` goes too).
fn base_name(path: &str) -> String {
    let last = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let mut chars = last.chars();
    let without_drive = match (chars.next(), chars.next()) {
        (Some(d), Some(':')) if d.is_ascii_alphabetic() => chars.as_str(),
        _ => last,
    };
    if without_drive.trim().is_empty() {
        "attachment".to_owned()
    } else {
        without_drive.to_owned()
    }
}

/// `name="value"` (RFC 2045 quoted-string) for short printable ASCII,
/// otherwise RFC 2231 `name*=utf-8''%XX...`, split into numbered
/// continuations of at most 60 characters.
fn parameter(name: &str, value: &str) -> String {
    if value.len() <= 200 && value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return format!(
            "{name}=\"{}\"",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        );
    }
    let is_attribute_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
    let mut pieces: Vec<String> = vec![String::from("utf-8''")];
    // Whole characters per piece: some readers decode each piece alone.
    for c in value.chars() {
        let mut utf8 = [0u8; 4];
        let encoded: String = c
            .encode_utf8(&mut utf8)
            .bytes()
            .map(|b| {
                if is_attribute_char(b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let fits = pieces.last().is_some_and(|p| p.len() + encoded.len() <= 60);
        match pieces.last_mut() {
            Some(last) if fits => last.push_str(&encoded),
            _ => pieces.push(encoded),
        }
    }
    if let [only] = pieces.as_slice() {
        return format!("{name}*={only}");
    }
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| format!("{name}*{i}*={piece}"))
        .collect::<Vec<_>>()
        .join(";\r\n\t")
}

/// Checks the scrubbed message as mail-parser reads it: as many parts as
/// before, no date parameter, no path in a file name, every multipart
/// boundary a new one, attached messages' headers down to kept fields.
/// A structure the edits got wrong is refused, never sent.
fn verify(message: &Message<'_>, parts: usize, boundaries: &[String]) -> Result<(), MessageError> {
    let mut seen = 0;
    verify_walk(message, false, boundaries, &mut seen)?;
    if seen != parts {
        return Err(MessageError::UnscrubbablePart {
            offset: 0,
            reason: "the scrubbed message has a different MIME structure",
        });
    }
    Ok(())
}

fn verify_walk(
    message: &Message<'_>,
    nested: bool,
    boundaries: &[String],
    seen: &mut usize,
) -> Result<(), MessageError> {
    for (i, part) in message.parts.iter().enumerate() {
        *seen += 1;
        let offset = part.offset_header as usize;
        let refuse = |reason| MessageError::UnscrubbablePart { offset, reason };
        for header in &part.headers {
            let name = header.name.as_str();
            if nested && i == 0 && (!is_kept_field(name) || name.eq_ignore_ascii_case("message-id"))
            {
                return Err(refuse("an attached message kept a removed field"));
            }
            let Some(ct) = header.value.as_content_type() else {
                continue;
            };
            for attribute in ct.attributes().unwrap_or_default() {
                let lower = attribute.name.to_ascii_lowercase();
                if DATE_PARAMETERS.contains(&lower.as_str()) {
                    return Err(refuse("a date parameter survived"));
                }
                if FILE_PARAMETERS.contains(&lower.as_str())
                    && attribute.value.contains(['/', '\\'])
                {
                    return Err(refuse("a path survived in a file name"));
                }
            }
        }
        if let PartType::Multipart(_) = part.body {
            let fresh = part
                .content_type()
                .and_then(|ct| ct.attribute("boundary"))
                .is_some_and(|b| boundaries.iter().any(|n| n == b));
            if !fresh {
                return Err(refuse("a multipart boundary was not replaced"));
            }
        }
        if let PartType::Message(inner) = &part.body {
            verify_walk(inner, true, boundaries, seen)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_their_directories() {
        for (path, base) in [
            (
                "C:\\Users\\alice\\Documents\\Q3 report.pdf",
                "Q3 report.pdf",
            ),
            ("/home/alice/photos/cat.jpg", "cat.jpg"),
            ("C:cat.jpg", "cat.jpg"),
            ("plain.txt", "plain.txt"),
            ("Re: notes.txt", "Re: notes.txt"),
            ("C:\\dir\\", "attachment"),
        ] {
            assert_eq!(base_name(path), base, "{path}");
        }
    }

    #[test]
    fn parameters_are_quoted_or_rfc_2231_encoded() {
        assert_eq!(
            parameter("filename", "a \"b\".pdf"),
            "filename=\"a \\\"b\\\".pdf\""
        );
        assert_eq!(
            parameter("filename", "\u{fc}.txt"),
            "filename*=utf-8''%C3%BC.txt"
        );
        let long = parameter("filename", &"\u{fc}".repeat(20));
        assert!(long.starts_with("filename*0*=utf-8''%C3%BC"), "{long}");
        assert!(long.contains(";\r\n\tfilename*1*=%C3%BC"), "{long}");
    }
}
