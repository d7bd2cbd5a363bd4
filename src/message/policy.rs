//! The parts of SPEC 6 both passes share: reading the header, the list of
//! kept fields, what makes a message an encrypted pEp message, and the
//! envelope taken from To, Cc and Bcc.

use super::address::{check_mailbox, mailbox_key};
use super::header::{check_header_limits, split_header, to_crlf, Field};
use super::mailbox::check_deliverable;
use super::MessageError;
use mail_parser::{Addr, Address, HeaderName, HeaderValue, MessageParser};
use std::borrow::Cow;
use std::collections::HashSet;

/// Fields kept by SPEC 6, lower case. Message-ID is kept by the old
/// [`super::sanitize`] pass only; the SPEC 6 passes replace it.
pub(crate) const KEPT_FIELDS: [&str; 15] = [
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

/// Fields an encrypted pEp message loses: the real ones travel inside the
/// encryption (SPEC 6).
const REMOVED_FROM_ENCRYPTED_PEP: [&str; 7] = [
    "from",
    "reply-to",
    "autocrypt",
    "to",
    "cc",
    "in-reply-to",
    "references",
];

/// pEp's marker for messages its engine consumes without showing them;
/// an `In-Reply-To` of exactly this stays on an encrypted pEp message.
pub(crate) const PEP_AUTO_CONSUME: &str = "<pEp-auto-consume@pEp.foundation>";

/// Whether SPEC 6 keeps a field of this name.
pub fn is_kept_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    KEPT_FIELDS.contains(&lower.as_str())
        || KEPT_PREFIXES.iter().any(|prefix| lower.starts_with(prefix))
}

/// A header split into fields, with mail-parser's reading of each.
pub(crate) struct Head<'t> {
    pub(crate) fields: Vec<Field>,
    pub(crate) values: Vec<HeaderValue<'t>>,
    pub(crate) body_start: Option<usize>,
}

impl Head<'_> {
    /// Indices of the fields named `name` (case-insensitive).
    pub(crate) fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.fields
            .iter()
            .enumerate()
            .filter(move |(_, f)| f.name.eq_ignore_ascii_case(name))
            .map(|(i, _)| i)
    }
}

/// The message in canonical CRLF form, after the checks that must come
/// before anything is copied: not empty, header within
/// [`super::MAX_HEADER_BYTES`] and [`super::MAX_HEADER_FIELDS`].
pub(crate) fn canonical(message: &[u8]) -> Result<Cow<'_, [u8]>, MessageError> {
    if message.is_empty() {
        return Err(MessageError::Empty);
    }
    check_header_limits(message)?;
    Ok(to_crlf(message))
}

/// Splits and parses the header of `text` (from [`canonical`]).
pub(crate) fn read_head(text: &[u8]) -> Result<Head<'_>, MessageError> {
    let header = split_header(text)?;
    let values = parse_values(text, &header.fields)?;
    Ok(Head {
        fields: header.fields,
        values,
        body_start: header.body_start,
    })
}

/// The bytes of a field after its colon, folding and final CRLF included.
pub(crate) fn value_bytes<'t>(text: &'t [u8], field: &Field) -> &'t [u8] {
    let bytes = text.get(field.start..field.end).unwrap_or_default();
    let colon = bytes.iter().position(|&b| b == b':').map_or(0, |c| c + 1);
    bytes.get(colon..).unwrap_or_default()
}

/// SPEC 6: a field whose name begins with `X-pEp-`, every `X-pEp-Version`
/// 2.0 or later, and top-level Content-Type `multipart/encrypted`.
pub(crate) fn is_encrypted_pep(text: &[u8], head: &Head<'_>) -> bool {
    let has_pep_field = head
        .fields
        .iter()
        .any(|f| f.name.to_ascii_lowercase().starts_with("x-pep-"));
    let versions_ok = head.named("x-pep-version").all(|i| {
        head.fields
            .get(i)
            .is_some_and(|f| version_at_least_2(value_bytes(text, f)))
    });
    let encrypted = head
        .named("content-type")
        .next()
        .and_then(|i| head.values.get(i))
        .and_then(|v| v.as_content_type())
        .is_some_and(|ct| {
            ct.c_type.eq_ignore_ascii_case("multipart")
                && ct
                    .c_subtype
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("encrypted"))
        });
    has_pep_field && versions_ok && encrypted
}

/// `2.0`, `3.3`, `10`, `2.1.5` are 2.0 or later; `1.0` and `x` are not.
fn version_at_least_2(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    let mut parts = text.trim().split('.');
    let major = parts.next().and_then(|m| m.parse::<u64>().ok());
    let minor_ok = parts
        .next()
        .is_none_or(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    major.is_some_and(|m| m >= 2) && minor_ok
}

/// Whether an encrypted pEp message loses this field (SPEC 6).
pub(crate) fn removed_from_encrypted_pep(text: &[u8], field: &Field) -> bool {
    let lower = field.name.to_ascii_lowercase();
    if lower == "in-reply-to" && is_auto_consume_marker(value_bytes(text, field)) {
        return false;
    }
    REMOVED_FROM_ENCRYPTED_PEP.contains(&lower.as_str())
}

fn is_auto_consume_marker(value: &[u8]) -> bool {
    value
        .trim_ascii()
        .eq_ignore_ascii_case(PEP_AUTO_CONSUME.as_bytes())
}

/// Checks that there is exactly one From naming at least one mailbox and
/// returns its index.
pub(crate) fn the_from(head: &Head<'_>) -> Result<usize, MessageError> {
    let froms: Vec<usize> = head.named("from").collect();
    let &[index] = froms.as_slice() else {
        return Err(match froms.len() {
            0 => MessageError::MissingFrom,
            count => MessageError::MultipleFrom { count },
        });
    };
    let has_address = head
        .values
        .get(index)
        .is_some_and(|v| addresses(v).any(|a| a.address.is_some()));
    if !has_address {
        return Err(MessageError::FromWithoutAddress);
    }
    Ok(index)
}

/// The author as the recipient should see it: the display name of the
/// first mailbox of From, or its address when it has none.
pub(crate) fn author_name(head: &Head<'_>, from: usize) -> String {
    head.values
        .get(from)
        .and_then(|v| addresses(v).find(|a| a.address.is_some()))
        .and_then(|a| {
            a.name
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .or(a.address.as_deref())
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// The envelope from To, Cc and Bcc: bare addresses, de-duplicated, in
/// order. With `deliverable`, addresses an exit must refuse (SPEC 6) are
/// errors too.
pub(crate) fn envelope(head: &Head<'_>, deliverable: bool) -> Result<Vec<String>, MessageError> {
    let mut recipients = Vec::new();
    // A set: a hostile To of 100 000 addresses must cost a pass, not 10^10 comparisons.
    let mut seen = HashSet::new();
    for (field, value) in head.fields.iter().zip(&head.values) {
        if ["to", "cc", "bcc"]
            .iter()
            .any(|r| field.name.eq_ignore_ascii_case(r))
        {
            collect_recipients(&field.name, value, deliverable, &mut recipients, &mut seen)?;
        }
    }
    Ok(recipients)
}

fn collect_recipients(
    field: &str,
    value: &HeaderValue<'_>,
    deliverable: bool,
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
        if deliverable {
            check_deliverable(address).map_err(|reason| MessageError::UndeliverableRecipient {
                origin: field.to_owned(),
                address: address.to_owned(),
                reason,
            })?;
        }
        if seen.insert(mailbox_key(address)) {
            recipients.push(address.to_owned());
        }
    }
    Ok(())
}

/// Every mailbox of an address field, groups flattened.
pub(crate) fn addresses<'a, 't>(
    value: &'a HeaderValue<'t>,
) -> Box<dyn Iterator<Item = &'a Addr<'t>> + 'a> {
    match value {
        HeaderValue::Address(Address::List(list)) => Box::new(list.iter()),
        HeaderValue::Address(Address::Group(groups)) => {
            Box::new(groups.iter().flat_map(|g| g.addresses.iter()))
        }
        _ => Box::new(std::iter::empty()),
    }
}

/// Parses the header with mail-parser (From, To, Cc and Bcc as address
/// lists, Content-Type as a content type, the rest raw) and returns one
/// value per field of `fields`. mail-parser is lenient (it skips lines it
/// cannot read), so its offsets must match the line structure
/// `split_header` checked; otherwise a value could belong to the wrong field.
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
        .header_address(HeaderName::Bcc)
        .header_content_type(HeaderName::ContentType);
    let headers = parser
        .parse_headers(head)
        .and_then(|m| m.parts.into_iter().next())
        .map(|root| root.headers)
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
    fn pep_versions_from_2_0_on_count() {
        for yes in ["2.0", " 3.3\r\n", "2.1", "10", "2.1.5"] {
            assert!(version_at_least_2(yes.as_bytes()), "{yes}");
        }
        for no in ["1.0", "1.99", "", "x", "2.x", "-3"] {
            assert!(!version_at_least_2(no.as_bytes()), "{no}");
        }
    }
}
