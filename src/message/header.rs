//! The line structure of an RFC 5322 header: which lines form which field,
//! and where the body starts. mail-parser reads field values but silently
//! skips lines it cannot make sense of; this is where such lines become
//! errors instead of being glued to a neighbouring field.

use super::MessageError;
use std::borrow::Cow;

/// Largest header (everything before the first empty line) a message may
/// have. Postfix keeps at most 100 KiB of a header (`header_size_limit`),
/// Exim refuses above 1 MiB (`header_maxsize`); real headers are a few
/// KiB, the largest seen in practice (Exchange with many Received and
/// X-MS- fields, a big Autocrypt key) stay below 64 KiB. 256 KiB leaves
/// room and keeps one header pass well under a megabyte of memory.
pub const MAX_HEADER_BYTES: usize = 256 * 1024;
/// Most header fields a message may have. Postfix refuses more than 50
/// Received fields (`hopcount_limit`); whole real headers have 10 to 100
/// fields.
pub const MAX_HEADER_FIELDS: usize = 1000;

/// Checks [`MAX_HEADER_BYTES`] and [`MAX_HEADER_FIELDS`] on the raw
/// message (LF or CRLF line endings), before anything is copied or parsed:
/// 32 MiB of `X:a` lines is refused after reading 256 KiB, allocating nothing.
pub(crate) fn check_header_limits(message: &[u8]) -> Result<(), MessageError> {
    let mut pos = 0;
    let mut fields = 0;
    while pos < message.len() {
        if pos > MAX_HEADER_BYTES {
            return Err(MessageError::HeaderTooLarge {
                max: MAX_HEADER_BYTES,
            });
        }
        let rest = message.get(pos..).unwrap_or_default();
        let line_len = rest
            .iter()
            .take(MAX_HEADER_BYTES + 1)
            .position(|&b| b == b'\n')
            .map_or(rest.len().min(MAX_HEADER_BYTES + 1), |lf| lf + 1);
        let line = rest.get(..line_len).unwrap_or_default();
        if line == b"\n" || line == b"\r\n" {
            return Ok(());
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            fields += 1;
            if fields > MAX_HEADER_FIELDS {
                return Err(MessageError::TooManyHeaderFields {
                    max: MAX_HEADER_FIELDS,
                });
            }
        }
        pos += line_len;
    }
    if pos > MAX_HEADER_BYTES {
        return Err(MessageError::HeaderTooLarge {
            max: MAX_HEADER_BYTES,
        });
    }
    Ok(())
}

/// One header field: its bytes `[start, end)` including folded
/// continuation lines and the final CRLF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Line (from 1) where the field starts.
    pub(crate) line: usize,
    /// The name as written, without the colon and any white space before it.
    pub(crate) name: String,
}

/// A header split into fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) fields: Vec<Field>,
    /// Offset of the first body byte, after the blank line; `None` when the
    /// message is only a header (RFC 5322 makes the body optional).
    pub(crate) body_start: Option<usize>,
}

/// Turns every LF not preceded by CR into CRLF. CRLF is the canonical form
/// of a message on the wire (RFC 5322 2.1, RFC 5321 2.3.8); a lone CR is
/// left alone here and refused later if it is in the header. A message
/// that already has only CRLF is borrowed, not copied.
pub(crate) fn to_crlf(message: &[u8]) -> Cow<'_, [u8]> {
    let mut previous = 0u8;
    let bare_lf = message.iter().any(|&b| {
        let bare = b == b'\n' && previous != b'\r';
        previous = b;
        bare
    });
    if !bare_lf {
        return Cow::Borrowed(message);
    }
    let extra = message.iter().filter(|&&b| b == b'\n').count();
    let mut out = Vec::with_capacity(message.len() + extra);
    let mut previous = 0u8;
    for &b in message {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    Cow::Owned(out)
}

/// Splits the header of a CRLF message into fields and checks that every
/// line is a field start (`name:`) or a folded continuation.
pub(crate) fn split_header(text: &[u8]) -> Result<Header, MessageError> {
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = 0;
    let mut line = 0;
    loop {
        line += 1;
        let rest = text.get(pos..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(Header {
                fields,
                body_start: None,
            });
        }
        let Some(len) = rest.windows(2).position(|w| w == b"\r\n") else {
            check_line_bytes(rest, line)?;
            return Err(MessageError::UnterminatedHeader { line });
        };
        let content = rest.get(..len).unwrap_or_default();
        let end = pos + len + 2;
        if content.is_empty() {
            return Ok(Header {
                fields,
                body_start: Some(end),
            });
        }
        check_line_bytes(content, line)?;
        if content.starts_with(b" ") || content.starts_with(b"\t") {
            let field = fields
                .last_mut()
                .ok_or(MessageError::ContinuationWithoutField { line })?;
            field.end = end;
        } else {
            let name = field_name(content, line)?;
            fields.push(Field {
                start: pos,
                end,
                line,
                name,
            });
        }
        pos = end;
    }
}

fn check_line_bytes(content: &[u8], line: usize) -> Result<(), MessageError> {
    if content.contains(&0) {
        return Err(MessageError::NulInHeader { line });
    }
    if content.contains(&b'\r') {
        return Err(MessageError::BareCarriageReturn { line });
    }
    Ok(())
}

/// RFC 5322 3.6.8: a field name is printable ASCII except `:`. White space
/// between name and colon is obsolete syntax (4.5) that readers must accept.
fn field_name(content: &[u8], line: usize) -> Result<String, MessageError> {
    let colon = content
        .iter()
        .position(|&b| b == b':')
        .ok_or(MessageError::MissingColon { line })?;
    let raw = content.get(..colon).unwrap_or_default();
    let name = raw
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .and_then(|last| raw.get(..=last))
        .unwrap_or_default();
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
        return Err(MessageError::InvalidFieldName {
            line,
            name: String::from_utf8_lossy(raw).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_stays() {
        assert_eq!(
            to_crlf(b"a\nb\r\nc\r\rd\n").as_ref(),
            b"a\r\nb\r\nc\r\rd\r\n"
        );
        assert!(matches!(to_crlf(b"a\r\nb\r\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn header_limits_count_fields_and_bytes_before_the_empty_line() {
        let many = "X: a\n".repeat(MAX_HEADER_FIELDS);
        assert_eq!(check_header_limits(many.as_bytes()), Ok(()));
        let folded = format!("{many} folded\n\nX: body lines do not count\n");
        assert_eq!(check_header_limits(folded.as_bytes()), Ok(()));
        assert_eq!(
            check_header_limits(format!("{many}X: a\r\n").as_bytes()),
            Err(MessageError::TooManyHeaderFields {
                max: MAX_HEADER_FIELDS
            })
        );
        let long = format!("X: {}\r\n\r\n", "a".repeat(MAX_HEADER_BYTES));
        assert_eq!(
            check_header_limits(long.as_bytes()),
            Err(MessageError::HeaderTooLarge {
                max: MAX_HEADER_BYTES
            })
        );
        let exact = format!("X: {}\r\n\r\nbody", "a".repeat(MAX_HEADER_BYTES - 5));
        assert_eq!(check_header_limits(exact.as_bytes()), Ok(()));
    }

    #[test]
    fn folded_lines_belong_to_their_field() {
        let text = b"Subject: a\r\n b\r\n\tc\r\nTo: x@y.z\r\n\r\nbody";
        let header = split_header(text).unwrap();
        assert_eq!(header.fields.len(), 2);
        assert_eq!(header.fields[0].name, "Subject");
        assert_eq!(
            &text[header.fields[0].start..header.fields[0].end],
            b"Subject: a\r\n b\r\n\tc\r\n"
        );
        assert_eq!(header.fields[1].line, 4);
        assert_eq!(header.body_start, Some(text.len() - 4));
    }

    #[test]
    fn white_space_before_the_colon_is_obsolete_but_accepted() {
        let header = split_header(b"Subject \t: x\r\n\r\n").unwrap();
        assert_eq!(header.fields[0].name, "Subject");
    }

    #[test]
    fn a_header_without_body_is_a_message() {
        let header = split_header(b"From: a@b.c\r\n").unwrap();
        assert_eq!(header.body_start, None);
        assert_eq!(header.fields.len(), 1);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let cases: [(&[u8], MessageError); 7] = [
            (
                b"From: a@b.c\r\nnonsense\r\n\r\n",
                MessageError::MissingColon { line: 2 },
            ),
            (
                b" folded: first\r\n\r\n",
                MessageError::ContinuationWithoutField { line: 1 },
            ),
            (
                b"From: a@b.c\r\nX: a\0b\r\n\r\n",
                MessageError::NulInHeader { line: 2 },
            ),
            (
                b"From: a\rb\r\n\r\n",
                MessageError::BareCarriageReturn { line: 1 },
            ),
            (
                b"From: a@b.c\r\nTo: x@y.z",
                MessageError::UnterminatedHeader { line: 2 },
            ),
            (
                b"Bad Name: x\r\n\r\n",
                MessageError::InvalidFieldName {
                    line: 1,
                    name: "Bad Name".into(),
                },
            ),
            (
                b": x\r\n\r\n",
                MessageError::InvalidFieldName {
                    line: 1,
                    name: String::new(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(split_header(text), Err(expected));
        }
    }
}
