//! Carrier emails (SPEC 5): one packet per ordinary email, base64 in an
//! armored block so any MTA carries it unchanged.

use crate::message::Mailbox;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::time::SystemTime;

const BEGIN: &str = "-----BEGIN MIXMAILER PACKET-----";
const END: &str = "-----END MIXMAILER PACKET-----";
const PERIOD: &str = "Period: ";
/// SPEC 5: base64 lines of 76 characters.
const LINE: usize = 76;

/// Why a carrier email could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CarrierError {
    /// No `-----BEGIN MIXMAILER PACKET-----` line in the body.
    #[error("no '-----BEGIN MIXMAILER PACKET-----' line in the email body")]
    NoPacket,
    /// The armored block has no END line.
    #[error("the packet block starting on line {begin_line} has no '-----END MIXMAILER PACKET-----' line")]
    Unterminated {
        /// Line of the BEGIN marker (1-based, counting from the email's first line).
        begin_line: usize,
    },
    /// A line inside the block is not base64.
    #[error("line {line} of the email is not valid base64 inside the packet block")]
    BadBase64 {
        /// 1-based line of the email.
        line: usize,
    },
    /// The block does not start with a `Period: <P>` line (SPEC 5, version 2).
    #[error("line {line}: the packet block must start with 'Period: <key period>' (a version 2 carrier); found {found:?}")]
    MissingPeriod {
        /// 1-based line of the email where the Period line should be.
        line: usize,
        /// The start of what was there instead.
        found: String,
    },
    /// The `Period:` value is not a canonical decimal number.
    #[error("line {line}: 'Period:' must be a decimal number without sign or leading zero, found {found:?}")]
    BadPeriod {
        /// 1-based line of the email.
        line: usize,
        /// The value as written (shortened).
        found: String,
    },
    /// The decoded packet is not 348 + p bytes.
    #[error("the packet is {actual} bytes, expected {expected} (348 + payload size)")]
    WrongLength {
        /// 348 + p
        expected: usize,
        /// what was decoded
        actual: usize,
    },
}

/// A packet read from a carrier email, with the key period it names.
#[derive(Clone, PartialEq, Eq)]
pub struct CarrierPacket {
    /// The key period of the packet (SPEC 2, 5).
    pub period: u64,
    /// The packet bytes (348 + p).
    pub packet: Vec<u8>,
}

impl std::fmt::Debug for CarrierPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarrierPacket")
            .field("period", &self.period)
            .field("packet_len", &self.packet.len())
            .finish()
    }
}

/// Writes the carrier email for `packet` of key period `period`, from
/// `from` to `to`, sent at `now`, with `message_id` (without angle
/// brackets) as its Message-ID. The mailboxes are checked types, so no
/// caller can smuggle a line break into the header.
pub fn write_carrier(
    from: &Mailbox,
    to: &Mailbox,
    now: SystemTime,
    message_id: &str,
    period: u64,
    packet: &[u8],
) -> Vec<u8> {
    let encoded = STANDARD.encode(packet);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE * 2 + 512);
    out.push_str(&format!("From: {from}\r\n"));
    out.push_str(&format!("To: {to}\r\n"));
    out.push_str(&format!("Date: {}\r\n", crate::time::format_rfc5322(now)));
    out.push_str(&format!("Message-ID: <{message_id}>\r\n"));
    out.push_str("Subject: mixmailer packet\r\n");
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Type: text/plain; charset=us-ascii\r\n");
    out.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
    out.push_str(BEGIN);
    out.push_str(&format!("\r\n{PERIOD}{period}\r\n\r\n"));
    // base64 output is ASCII, so byte chunks are character chunks.
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out.push_str(END);
    out.push_str("\r\n");
    out.into_bytes()
}

/// Reads the packet out of a carrier email: the first armored block of
/// the body, whatever header fields or other text MTAs added. The block
/// starts with its `Period:` line and a blank line; the decoded packet must
/// be `expected_len` bytes.
pub fn read_carrier(email: &[u8], expected_len: usize) -> Result<CarrierPacket, CarrierError> {
    let mut lines = email
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    // Skip the header: the armor must be in the body, not in a header field.
    for (_, line) in lines.by_ref() {
        if line.is_empty() {
            break;
        }
    }
    let begin_line = lines
        .by_ref()
        .find(|(_, l)| trim(l) == BEGIN.as_bytes())
        .map(|(n, _)| n)
        .ok_or(CarrierError::NoPacket)?;
    let period = read_period(&mut lines, begin_line)?;
    let mut packet = Vec::with_capacity(expected_len);
    let mut buf = Vec::with_capacity(expected_len / 3 * 4 + 8);
    for (n, line) in lines {
        let line = trim(line);
        if line == END.as_bytes() {
            STANDARD
                .decode_vec(&buf, &mut packet)
                .map_err(|_| CarrierError::BadBase64 { line: n - 1 })?;
            if packet.len() != expected_len {
                return Err(CarrierError::WrongLength {
                    expected: expected_len,
                    actual: packet.len(),
                });
            }
            return Ok(CarrierPacket { period, packet });
        }
        if !line
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        {
            return Err(CarrierError::BadBase64 { line: n });
        }
        // Refuse to buffer more than a packet's worth: a block that is too
        // long is wrong, however long it goes on.
        if buf.len() + line.len() > expected_len / 3 * 4 + 4 {
            return Err(CarrierError::WrongLength {
                expected: expected_len,
                actual: (buf.len() + line.len()) / 4 * 3,
            });
        }
        buf.extend_from_slice(line);
    }
    Err(CarrierError::Unterminated { begin_line })
}

/// The `Period: <P>` line right after BEGIN.
fn read_period<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a [u8])>,
    begin_line: usize,
) -> Result<u64, CarrierError> {
    let shown = |bytes: &[u8]| String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
    let (line, text) = lines.next().unwrap_or((begin_line + 1, b""));
    let text = trim(text);
    let Some(value) = text.strip_prefix(PERIOD.trim_end().as_bytes()) else {
        return Err(CarrierError::MissingPeriod {
            line,
            found: shown(text),
        });
    };
    let value = value.trim_ascii();
    let canonical = !value.is_empty()
        && value.iter().all(u8::is_ascii_digit)
        && (value.len() == 1 || value[0] != b'0');
    let period = std::str::from_utf8(value)
        .ok()
        .filter(|_| canonical)
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| CarrierError::BadPeriod {
            line,
            found: shown(value),
        })?;
    // The blank line after it is read as an empty base64 line.
    Ok(period)
}

fn trim(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let packet: Vec<u8> = (0..1372u32).map(|i| (i * 7) as u8).collect();
        write_carrier(
            &Mailbox::parse("a@example.org").unwrap(),
            &Mailbox::parse("b@example.net").unwrap(),
            SystemTime::UNIX_EPOCH,
            "x@y",
            493_080,
            &packet,
        )
    }

    #[test]
    fn carrier_round_trips_and_has_spec_lines() {
        let packet: Vec<u8> = (0..1372u32).map(|i| (i * 7) as u8).collect();
        let email = sample();
        let text = String::from_utf8(email.clone()).unwrap();
        assert!(text.starts_with(
            "From: a@example.org\r\nTo: b@example.net\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n"
        ));
        assert!(text.lines().all(|l| l.len() <= 78));
        assert!(!text.replace("\r\n", "").contains('\n'));
        assert!(text.contains("-----BEGIN MIXMAILER PACKET-----\r\nPeriod: 493080\r\n\r\n"));
        assert_eq!(
            read_carrier(&email, 1372).unwrap(),
            CarrierPacket {
                period: 493_080,
                packet
            }
        );
    }

    #[test]
    fn a_block_without_a_valid_period_is_refused() {
        let text = String::from_utf8(sample()).unwrap();
        let v1 = text.replace("Period: 493080\r\n", "");
        assert!(matches!(
            read_carrier(v1.as_bytes(), 1372),
            Err(CarrierError::MissingPeriod { line: 11, .. })
        ));
        for bad in ["-1", "0493080", "49x", "", "18446744073709551616"] {
            let broken = text.replace("Period: 493080", &format!("Period: {bad}"));
            assert!(
                matches!(
                    read_carrier(broken.as_bytes(), 1372),
                    Err(CarrierError::BadPeriod { line: 11, .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn mta_additions_are_ignored() {
        let mut email = b"Received: from x\r\nReturn-Path: <a@b>\r\n".to_vec();
        email.extend(sample());
        email.extend(b"\r\n-- \r\nsig\r\n");
        assert_eq!(read_carrier(&email, 1372).unwrap().packet.len(), 1372);
    }

    #[test]
    fn lf_only_line_endings_are_accepted() {
        let email = String::from_utf8(sample()).unwrap().replace("\r\n", "\n");
        assert_eq!(
            read_carrier(email.as_bytes(), 1372).unwrap().packet.len(),
            1372
        );
    }

    #[test]
    fn wrong_length_is_rejected() {
        assert_eq!(
            read_carrier(&sample(), 1371),
            Err(CarrierError::WrongLength {
                expected: 1371,
                actual: 1372
            })
        );
    }

    #[test]
    fn missing_and_broken_blocks_are_rejected() {
        assert_eq!(
            read_carrier(b"Subject: hi\r\n\r\nhello\r\n", 10),
            Err(CarrierError::NoPacket)
        );
        let text = String::from_utf8(sample()).unwrap();
        let cut = text.replace(END, "");
        assert!(matches!(
            read_carrier(cut.as_bytes(), 1372),
            Err(CarrierError::Unterminated { begin_line: 10 })
        ));
        let bad = text.replacen(
            "\r\n-----BEGIN MIXMAILER PACKET-----\r\n",
            "\r\n-----BEGIN MIXMAILER PACKET-----\r\nPeriod: 493080\r\n*\r\n",
            1,
        );
        let bad = bad.replacen("Period: 493080\r\n\r\n", "", 1);
        assert!(matches!(
            read_carrier(bad.as_bytes(), 1372),
            Err(CarrierError::BadBase64 { line: 12 })
        ));
    }

    #[test]
    fn armor_in_a_header_field_is_not_a_packet() {
        assert_eq!(
            read_carrier(b"X: -----BEGIN MIXMAILER PACKET-----\r\n\r\nbody\r\n", 10),
            Err(CarrierError::NoPacket)
        );
    }
}
