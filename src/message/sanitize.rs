//! The v1 header policy, kept while callers move to [`super::prepare_outgoing`]
//! and [`super::prepare_delivery`]: keep a fixed set of fields byte for
//! byte (Message-ID included), drop the rest, take the envelope from To,
//! Cc and Bcc.

use super::policy::{canonical, envelope, is_kept_field, read_head, the_from};
use super::{MessageError, MAX_RECIPIENTS};
use std::time::SystemTime;

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

/// Applies the v1 header policy to `message` (the sender's pass). Use
/// [`super::prepare_outgoing`], which does all of SPEC 6.
///
/// Bare LF line endings become CRLF first, the canonical form; from then on
/// kept fields and the body are copied byte for byte. Errors if the header
/// is over the limits or not RFC 5322, there is not exactly one From, or
/// the envelope (To, Cc and Bcc together) has no recipient, more than
/// [`MAX_RECIPIENTS`], or an address unfit for SMTP.
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

/// Applies the v1 header policy at the exit, where the envelope comes from
/// the body's `rcpt` lines. Use [`super::prepare_delivery`], which does all
/// of SPEC 6. `recipients` of the result is always empty.
pub fn sanitize_for_delivery(message: &[u8]) -> Result<Sanitized, MessageError> {
    apply_policy(message, false)
}

/// Prepends `Date: <now in RFC 5322 form, +0000>` to a delivered message
/// (the exit's step when it hands the message to its MTA).
pub fn add_date(message: &[u8], now: SystemTime) -> Vec<u8> {
    let date = format!("Date: {}\r\n", crate::time::format_rfc5322(now));
    let mut out = Vec::with_capacity(date.len() + message.len());
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(message);
    out
}

fn apply_policy(message: &[u8], with_envelope: bool) -> Result<Sanitized, MessageError> {
    let text = canonical(message)?;
    let head = read_head(&text)?;
    let mut out = Vec::with_capacity(text.len());
    let mut removed = Vec::new();
    for field in &head.fields {
        if is_kept_field(&field.name) {
            out.extend_from_slice(text.get(field.start..field.end).unwrap_or_default());
        } else {
            removed.push(field.name.clone());
        }
    }
    let recipients = if with_envelope {
        envelope(&head, false)?
    } else {
        Vec::new()
    };
    the_from(&head)?;
    if let Some(body_start) = head.body_start {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(text.get(body_start..).unwrap_or_default());
    }
    Ok(Sanitized {
        message: out,
        recipients,
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
