//! Header policy of SPEC 6: keep a fixed set of fields byte for byte, drop
//! the rest, and take the envelope from To, Cc and Bcc.

use super::address::{check_mailbox, mailbox_key};
use super::header::{split_header, to_crlf, Field};
use super::{MessageError, MAX_RECIPIENTS};
use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};
use std::collections::HashSet;
use std::time::SystemTime;

/// Fields kept by SPEC 6, lower case.
const KEPT_FIELDS: [&str; 15] = [
    "from",
    "to",
    "cc",
    "reply-to",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-language",
    "autocrypt",
    "x-encstatus",
];

/// Name prefixes kept by SPEC 6, lower case.
const KEPT_PREFIXES: [&str; 2] = ["x-pep-", "pep-"];

/// A message after the header policy: what is sent, to whom, and what was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sanitized {
    /// The message with only the kept fields, CRLF line endings, body byte for byte.
    pub message: Vec<u8>,
    /// Envelope recipients from To, Cc and Bcc (bare addresses, de-duplicated, in order).
    pub recipients: Vec<String>,
    /// Names of the removed fields, in order of appearance (for the demo's trace).
    pub removed: Vec<String>,
}

/// Whether SPEC 6 keeps a field of this name.
pub fn is_kept_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    KEPT_FIELDS.contains(&lower.as_str())
        || KEPT_PREFIXES.iter().any(|prefix| lower.starts_with(prefix))
}

/// Applies SPEC 6 to `message` (the sender's pass).
///
/// Bare LF line endings become CRLF first, the canonical form; from then on
/// kept fields and the body are copied byte for byte. Errors if the header
/// is not RFC 5322, there is not exactly one From, or the envelope (To, Cc
/// and Bcc together) has no recipient, more than [`MAX_RECIPIENTS`], or an
/// address unfit for SMTP.
pub fn sanitize(message: &[u8]) -> Result<Sanitized, MessageError> {
    let sanitized = apply_policy(message, true)?;
    if sanitized.recipients.is_empty() {
        return Err(MessageError::NoRecipient);
    }
    if sanitized.recipients.len() > MAX_RECIPIENTS {
        return Err(MessageError::TooManyRecipients {
            count: sanitized.recipients.len(),
            max: MAX_RECIPIENTS,
        });
    }
    Ok(sanitized)
}

/// Applies SPEC 6 at the exit, where the envelope comes from the body's
/// `rcpt` lines: the same header policy and From rule as [`sanitize`], but
/// To and Cc are neither required nor checked, so a message whose only
/// recipients were in Bcc (and so has none left in its header) is delivered.
/// `recipients` of the result is always empty.
pub fn sanitize_for_delivery(message: &[u8]) -> Result<Sanitized, MessageError> {
    apply_policy(message, false)
}

/// Prepends `Date: <now in RFC 5322 form, +0000>` to a sanitized message (the exit's step).
pub fn add_date(message: &[u8], now: SystemTime) -> Vec<u8> {
    let date = format!("Date: {}\r\n", crate::time::format_rfc5322(now));
    let mut out = Vec::with_capacity(date.len() + message.len());
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(message);
    out
}

fn apply_policy(message: &[u8], with_envelope: bool) -> Result<Sanitized, MessageError> {
    if message.is_empty() {
        return Err(MessageError::Empty);
    }
    let text = to_crlf(message);
    let header = split_header(&text)?;
    let values = parse_values(&text, &header.fields)?;

    let mut out = Vec::with_capacity(text.len());
    let mut removed = Vec::new();
    let mut from_count = 0;
    let mut from_has_address = false;
    let mut recipients: Vec<String> = Vec::new();
    // A set: a hostile To of 100 000 addresses must cost a pass, not 10^10 comparisons.
    let mut seen: HashSet<String> = HashSet::new();
    for (field, value) in header.fields.iter().zip(&values) {
        let bytes = text.get(field.start..field.end).unwrap_or_default();
        if is_kept_field(&field.name) {
            out.extend_from_slice(bytes);
        } else {
            removed.push(field.name.clone());
        }
        let role = Role::of(&field.name);
        if role == Role::From {
            from_count += 1;
            from_has_address |= addresses(value).any(|a| a.address.is_some());
        }
        if with_envelope && role == Role::Recipient {
            collect_recipients(&field.name, value, &mut recipients, &mut seen)?;
        }
    }
    match from_count {
        0 => return Err(MessageError::MissingFrom),
        1 => {}
        count => return Err(MessageError::MultipleFrom { count }),
    }
    if !from_has_address {
        return Err(MessageError::FromWithoutAddress);
    }
    if let Some(body_start) = header.body_start {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(text.get(body_start..).unwrap_or_default());
    }
    Ok(Sanitized {
        message: out,
        recipients,
        removed,
    })
}

/// What a field means for the envelope.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    From,
    Recipient,
    Other,
}

impl Role {
    fn of(name: &str) -> Role {
        if name.eq_ignore_ascii_case("from") {
            Role::From
        } else if ["to", "cc", "bcc"]
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r))
        {
            Role::Recipient
        } else {
            Role::Other
        }
    }
}

/// Parses the header with mail-parser, reading From, To, Cc and Bcc as
/// address lists and everything else raw, and returns one value per field
/// of `fields`. mail-parser is lenient (it skips lines it cannot read), so
/// its offsets must match the line structure `split_header` checked;
/// otherwise a value could belong to the wrong field.
fn parse_values<'t>(
    text: &'t [u8],
    fields: &[Field],
) -> Result<Vec<HeaderValue<'t>>, MessageError> {
    let Some(last) = fields.last() else {
        return Err(MessageError::MissingFrom);
    };
    let head = text.get(..last.end).unwrap_or_default();
    let parser = MessageParser::new()
        .header_address(HeaderName::From)
        .header_address(HeaderName::To)
        .header_address(HeaderName::Cc)
        .header_address(HeaderName::Bcc);
    let headers = parser
        .parse_headers(head)
        .map(|m| m.root_part().headers.clone())
        .unwrap_or_default();
    let mut values = Vec::with_capacity(fields.len());
    let mut parsed = headers.into_iter();
    for field in fields {
        match parsed.next() {
            Some(h)
                if h.offset_field as usize == field.start && h.offset_end as usize == field.end =>
            {
                values.push(h.value)
            }
            _ => return Err(MessageError::UnparsableField { line: field.line }),
        }
    }
    if parsed.next().is_some() {
        return Err(MessageError::UnparsableField { line: last.line });
    }
    Ok(values)
}

/// Every mailbox of an address field, groups flattened.
fn addresses<'a, 't>(
    value: &'a HeaderValue<'t>,
) -> Box<dyn Iterator<Item = &'a mail_parser::Addr<'t>> + 'a> {
    match value {
        HeaderValue::Address(Address::List(list)) => Box::new(list.iter()),
        HeaderValue::Address(Address::Group(groups)) => {
            Box::new(groups.iter().flat_map(|g| g.addresses.iter()))
        }
        _ => Box::new(std::iter::empty()),
    }
}

fn collect_recipients(
    field: &str,
    value: &HeaderValue<'_>,
    recipients: &mut Vec<String>,
    seen: &mut HashSet<String>,
) -> Result<(), MessageError> {
    let invalid = |address: &str, reason| MessageError::InvalidRecipient {
        origin: field.to_owned(),
        address: address.to_owned(),
        reason,
    };
    for addr in addresses(value) {
        let Some(address) = addr.address.as_deref() else {
            let name = addr.name.as_deref().unwrap_or_default();
            return Err(invalid(name, "no address"));
        };
        check_mailbox(address).map_err(|reason| invalid(address, reason))?;
        if seen.insert(mailbox_key(address)) {
            recipients.push(address.to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_names_ignore_case() {
        assert!(is_kept_field("SUBJECT"));
        assert!(is_kept_field("x-PEP-version"));
        assert!(is_kept_field("pEp-Wrapped-Message-Info"));
        assert!(!is_kept_field("X-pEpVersion"));
        assert!(!is_kept_field("Bcc"));
        assert!(!is_kept_field("Date"));
    }

    #[test]
    fn date_goes_first_in_utc() {
        let t = crate::time::parse_directory_time("2026-11-29T05:12:37Z").unwrap();
        let dated = add_date(b"From: a@b.c\r\n\r\nhi", t);
        assert_eq!(
            dated,
            b"Date: Sun, 29 Nov 2026 05:12:37 +0000\r\nFrom: a@b.c\r\n\r\nhi".to_vec()
        );
    }
}
