//! The body of SPEC 4: recipients and message, raw DEFLATE.

use super::address::{check_mailbox, same_mailbox};
use super::MessageError;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use std::io::{Read, Write};

/// Readers refuse bodies that inflate beyond this (SPEC 4).
pub const MAX_INFLATED_BODY: usize = 32 * 1024 * 1024;
/// At most this many envelope recipients (SPEC 4).
pub const MAX_RECIPIENTS: usize = 100;

const RCPT: &[u8] = b"rcpt ";

/// Builds the compressed body from envelope recipients and a sanitized message.
///
/// The recipients are checked as a reader would check them (1..=100
/// distinct plain mailboxes), so no body is built that an exit refuses.
pub fn encode_body(recipients: &[String], message: &[u8]) -> Result<Vec<u8>, MessageError> {
    check_recipient_count(recipients.len())?;
    let mut plain = Vec::with_capacity(message.len() + recipients.len() * 32 + 1);
    for (i, address) in recipients.iter().enumerate() {
        check_recipient(address, "envelope", recipients.get(..i).unwrap_or_default())?;
        plain.extend_from_slice(RCPT);
        plain.extend_from_slice(address.as_bytes());
        plain.push(b'\n');
    }
    plain.push(b'\n');
    plain.extend_from_slice(message);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail; the error type is io's, so map it anyway.
    encoder
        .write_all(&plain)
        .and_then(|()| encoder.finish())
        .map_err(|e| MessageError::NotDeflate(e.to_string()))
}

/// Inflates (bounded) and splits a body into recipients and message.
///
/// Never holds more than [`MAX_INFLATED_BODY`] inflated bytes, so a small
/// body that would inflate to gigabytes costs no more than that.
pub fn decode_body(body: &[u8]) -> Result<(Vec<String>, Vec<u8>), MessageError> {
    let plain = inflate_bounded(body)?;
    let mut recipients: Vec<String> = Vec::new();
    let mut pos = 0;
    let mut line = 0;
    loop {
        line += 1;
        let rest = plain.get(pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(MessageError::MissingSeparator)?;
        let content = rest.get(..len).unwrap_or_default();
        pos += len + 1;
        if content.is_empty() {
            break;
        }
        let address = content
            .strip_prefix(RCPT)
            .and_then(|a| std::str::from_utf8(a).ok())
            .ok_or(MessageError::BadRcptLine { line })?;
        check_recipient(address, &format!("rcpt line {line}"), &recipients)?;
        recipients.push(address.to_owned());
        // Checked per line so a body of a million rcpt lines stops early.
        if recipients.len() > MAX_RECIPIENTS {
            return Err(MessageError::TooManyRecipients {
                count: recipients.len(),
                max: MAX_RECIPIENTS,
            });
        }
    }
    check_recipient_count(recipients.len())?;
    let message = plain.get(pos..).unwrap_or_default().to_vec();
    Ok((recipients, message))
}

/// Inflates at most [`MAX_INFLATED_BODY`] bytes. Reads in small chunks
/// and grows the buffer itself, because `read_to_end` doubles its capacity
/// and would reserve 64 MiB on the way to noticing a 32 MiB overrun.
fn inflate_bounded(body: &[u8]) -> Result<Vec<u8>, MessageError> {
    let mut decoder = DeflateDecoder::new(body);
    let mut plain: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let read = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(plain),
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(MessageError::NotDeflate(e.to_string())),
        };
        let needed = plain.len().saturating_add(read);
        if needed > MAX_INFLATED_BODY {
            return Err(MessageError::InflatedTooLarge {
                max: MAX_INFLATED_BODY,
            });
        }
        if plain.capacity() < needed {
            let target = plain
                .capacity()
                .saturating_mul(2)
                .clamp(needed, MAX_INFLATED_BODY);
            plain.reserve_exact(target - plain.len());
        }
        plain.extend_from_slice(chunk.get(..read).unwrap_or_default());
    }
}

fn check_recipient_count(count: usize) -> Result<(), MessageError> {
    if count == 0 {
        return Err(MessageError::NoRecipient);
    }
    if count > MAX_RECIPIENTS {
        return Err(MessageError::TooManyRecipients {
            count,
            max: MAX_RECIPIENTS,
        });
    }
    Ok(())
}

fn check_recipient(address: &str, origin: &str, earlier: &[String]) -> Result<(), MessageError> {
    check_mailbox(address).map_err(|reason| MessageError::InvalidRecipient {
        origin: origin.to_owned(),
        address: address.to_owned(),
        reason,
    })?;
    if earlier.iter().any(|e| same_mailbox(e, address)) {
        return Err(MessageError::DuplicateRecipient {
            origin: origin.to_owned(),
            address: address.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate(plain: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(plain).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn body_is_rcpt_lines_blank_line_and_message() {
        let body =
            encode_body(&["a@b.c".into(), "d@e.f".into()], b"From: x@y.z\r\n\r\nhi").unwrap();
        let mut plain = Vec::new();
        DeflateDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(
            plain,
            b"rcpt a@b.c\nrcpt d@e.f\n\nFrom: x@y.z\r\n\r\nhi".to_vec()
        );
    }

    #[test]
    fn malformed_rcpt_sections_are_refused() {
        let cases: [(&[u8], MessageError); 6] = [
            (b"\nmessage", MessageError::NoRecipient),
            (
                b"rcpt a@b.c\nmessage\n\n",
                MessageError::BadRcptLine { line: 2 },
            ),
            (b"rcpt a@b.c\n", MessageError::MissingSeparator),
            (
                b"rcpt  a@b.c\n\n",
                MessageError::InvalidRecipient {
                    origin: "rcpt line 1".into(),
                    address: " a@b.c".into(),
                    reason: "contains white space or a control character",
                },
            ),
            (b"RCPT a@b.c\n\n", MessageError::BadRcptLine { line: 1 }),
            (
                b"rcpt a@b.c\nrcpt a@B.C\n\n",
                MessageError::DuplicateRecipient {
                    origin: "rcpt line 2".into(),
                    address: "a@B.C".into(),
                },
            ),
        ];
        for (plain, expected) in cases {
            assert_eq!(
                decode_body(&deflate(plain)),
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(plain)
            );
        }
    }

    #[test]
    fn a_body_of_exactly_the_limit_is_accepted() {
        let mut plain = b"rcpt a@b.c\n\n".to_vec();
        plain.resize(MAX_INFLATED_BODY, b'x');
        let (_, message) = decode_body(&deflate(&plain)).unwrap();
        assert_eq!(message.len(), MAX_INFLATED_BODY - 12);
    }
}
