//! The body of SPEC 4: recipients and message, raw DEFLATE.

use super::address::{check_mailbox, same_mailbox};
use super::error::{DeflateError, InflateError};
use super::MessageError;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

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
    deflate(&plain)
}

/// Raw DEFLATE (no zlib header) at flate2's default level.
fn deflate(plain: &[u8]) -> Result<Vec<u8>, MessageError> {
    let mut compress = Compress::new(Compression::default(), false);
    // Incompressible input grows by a few bytes per 16 KiB block.
    let mut out = Vec::with_capacity(plain.len() / 2 + 64);
    loop {
        let consumed = usize::try_from(compress.total_in()).unwrap_or(usize::MAX);
        let rest = plain.get(consumed..).unwrap_or_default();
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let status = compress
            .compress_vec(rest, &mut out, FlushCompress::Finish)
            .map_err(|e| MessageError::Deflate(DeflateError(e)))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
    }
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
    // In place: a copy would hold the inflated body twice (64 MiB at the limit).
    let mut message = plain;
    message.drain(..pos.min(message.len()));
    Ok((recipients, message))
}

/// Inflates at most [`MAX_INFLATED_BODY`] bytes, in 16 KiB steps, growing
/// the buffer itself: `read_to_end` doubles its capacity and would reserve
/// 64 MiB on the way to noticing a 32 MiB overrun. The stream must end
/// exactly where the body ends: a cut-off stream or bytes after it are
/// refused, so a body means one thing only.
fn inflate_bounded(body: &[u8]) -> Result<Vec<u8>, MessageError> {
    let mut decompress = Decompress::new(false);
    let mut plain: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let consumed = usize::try_from(decompress.total_in()).unwrap_or(usize::MAX);
        let rest = body.get(consumed..).unwrap_or_default();
        let before_out = decompress.total_out();
        let status = decompress
            .decompress(rest, &mut chunk, FlushDecompress::None)
            .map_err(|e| MessageError::NotDeflate(InflateError(e)))?;
        let read = usize::try_from(decompress.total_out() - before_out).unwrap_or(usize::MAX);
        let now_consumed = usize::try_from(decompress.total_in()).unwrap_or(usize::MAX);
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
        if status == Status::StreamEnd {
            let trailing = body.len().saturating_sub(now_consumed);
            if trailing > 0 {
                return Err(MessageError::TrailingBytes { count: trailing });
            }
            return Ok(plain);
        }
        if read == 0 && now_consumed == consumed {
            // No progress with all input offered: the stream is cut off.
            return Err(MessageError::TruncatedBody);
        }
    }
}

/// An exit sends at most this many bytes for one message: its inflated
/// size times its recipients (SPEC 4 allows 32 MiB and 100 recipients,
/// which made 61 KB of carriers cost an exit 3.36 GB). 128 MiB lets a
/// 1.3 MB message reach 100 recipients and the largest message 4.
pub const MAX_DELIVERY_BYTES: usize = 128 * 1024 * 1024;
/// A body larger than [`RATIO_FREE_SIZE`] may inflate at most this many
/// times. Mail compresses 1.3x (attachments, already compressed and in
/// base64) to about 8x (long plain text, HTML); a bomb of repeated bytes
/// compresses 1000x.
pub const MAX_INFLATION_RATIO: usize = 20;
/// Below this inflated size the ratio is not checked: such a message
/// costs little even to 100 recipients, and DEFLATE's ratio on small
/// repetitive text (signatures, quoted lines) is erratic.
pub const RATIO_FREE_SIZE: usize = 64 * 1024;

/// The exit's check after [`decode_body`], before anything is spooled:
/// refuses a message whose delivery would cost more than
/// [`MAX_DELIVERY_BYTES`] (`inflated_len * recipients`) or whose body
/// inflated more than [`MAX_INFLATION_RATIO`] times (above
/// [`RATIO_FREE_SIZE`]). `compressed_len` is the reassembled body's length.
pub fn check_delivery_cost(
    inflated_len: usize,
    recipients: usize,
    compressed_len: usize,
) -> Result<(), MessageError> {
    if inflated_len.saturating_mul(recipients) > MAX_DELIVERY_BYTES {
        return Err(MessageError::DeliveryTooCostly {
            inflated: inflated_len,
            recipients,
            max: MAX_DELIVERY_BYTES,
        });
    }
    if inflated_len > RATIO_FREE_SIZE
        && inflated_len > compressed_len.saturating_mul(MAX_INFLATION_RATIO)
    {
        return Err(MessageError::InflationRatioTooHigh {
            inflated: inflated_len,
            compressed: compressed_len,
            max_ratio: MAX_INFLATION_RATIO,
        });
    }
    Ok(())
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
    use flate2::read::DeflateDecoder;
    use std::io::Read;

    fn deflate(plain: &[u8]) -> Vec<u8> {
        super::deflate(plain).unwrap()
    }

    #[test]
    fn cut_off_and_padded_streams_are_refused() {
        let body = deflate(b"rcpt a@b.cd\n\nFrom: x@y.z\r\n\r\nhello hello hello");
        assert_eq!(
            decode_body(&body[..body.len() - 2]),
            Err(MessageError::TruncatedBody)
        );
        assert_eq!(
            decode_body(&[body.clone(), vec![0, 0]].concat()),
            Err(MessageError::TrailingBytes { count: 2 })
        );
        assert!(decode_body(&body).is_ok());
    }

    #[test]
    fn delivery_cost_is_bounded_by_size_times_recipients_and_ratio() {
        let mib = 1024 * 1024;
        assert!(matches!(
            check_delivery_cost(32 * mib, 100, 49_000),
            Err(MessageError::DeliveryTooCostly { .. })
        ));
        assert_eq!(check_delivery_cost(32 * mib, 4, 24 * mib), Ok(()));
        assert!(matches!(
            check_delivery_cost(32 * mib, 1, 49_000),
            Err(MessageError::InflationRatioTooHigh { .. })
        ));
        assert_eq!(check_delivery_cost(RATIO_FREE_SIZE, 100, 10), Ok(()));
        assert_eq!(check_delivery_cost(40_000, 100, 30_000), Ok(()));
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
