//! The sender's side of SPEC 6: what leaves the author's machine.

use super::edit::Edit;
use super::header::check_header_limits;
use super::mailbox::Mailbox;
use super::mime::scrub_message;
use super::policy::{
    canonical, envelope, is_encrypted_pep, is_kept_field, read_head, removed_from_encrypted_pep,
    the_from, Head,
};
use super::random_id::message_id;
use super::{MessageError, MAX_RECIPIENTS};
use rand_core::CryptoRng;

/// A message ready to be wrapped (SPEC 6, sender side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The message to send: CRLF, kept fields byte for byte, the new
    /// Message-ID, MIME parts scrubbed unless signed or encrypted.
    pub message: Vec<u8>,
    /// Envelope recipients from To, Cc and Bcc (bare addresses,
    /// de-duplicated, in order): 1 to [`MAX_RECIPIENTS`].
    pub recipients: Vec<String>,
    /// Names of the removed top-level fields in order (Message-ID included,
    /// as it was replaced), for the demo's trace.
    pub removed: Vec<String>,
    /// The new Message-ID, `<...@exit domain>` with the angle brackets: the
    /// caller stores its sent copy under it.
    pub message_id: String,
    /// Whether SPEC 6 treats it as an encrypted pEp message (From, To, Cc,
    /// Reply-To, Autocrypt, In-Reply-To and References were removed).
    pub encrypted_pep: bool,
}

/// Applies SPEC 6 before wrapping, for a route whose exit is `exit`.
///
/// - Bare LF become CRLF; the header must be RFC 5322 within
///   [`super::MAX_HEADER_BYTES`] and [`super::MAX_HEADER_FIELDS`], with
///   exactly one From naming a mailbox.
/// - The envelope is To, Cc and Bcc: 1 to [`MAX_RECIPIENTS`] plain
///   mailboxes an exit may deliver to (no address literal, no localhost,
///   a dot in the domain); Bcc is removed from the header.
/// - Fields outside the SPEC 6 list are removed; Message-ID is replaced by
///   a random one under the exit's domain (added if there was none).
/// - An encrypted pEp message also loses From, Reply-To, Autocrypt, To,
///   Cc, In-Reply-To (unless it is pEp's auto-consume marker) and References.
/// - A message neither signed nor encrypted has its MIME parts scrubbed
///   (docs/message.md lists the rules); a signed or encrypted one keeps
///   its body byte for byte.
///
/// Any error means nothing is to be sent.
pub fn prepare_outgoing<R: CryptoRng + ?Sized>(
    message: &[u8],
    exit: &Mailbox,
    rng: &mut R,
) -> Result<Outgoing, MessageError> {
    let text = canonical(message)?;
    let head = read_head(&text)?;
    let recipients = envelope(&head, true)?;
    the_from(&head)?;
    if recipients.is_empty() {
        return Err(MessageError::NoRecipient);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(MessageError::TooManyRecipients {
            count: recipients.len(),
            max: MAX_RECIPIENTS,
        });
    }
    let encrypted_pep = is_encrypted_pep(&text, &head);

    let mut random = [0u8; 16];
    rng.fill_bytes(&mut random);
    let message_id = message_id(&random, exit.domain());
    let (edits, removed) = header_edits(&text, &head, encrypted_pep, &message_id);
    let message = scrub_message(&text, edits, rng)?;
    // Fuzz finding (fuzz target `outgoing`): the new Message-ID (a field
    // more when there was none, a longer value otherwise) and CRLF line
    // endings can take a header that was within the limits over them. The
    // exit checks the limits on what it receives and would drop the
    // message after the sender was told it was sent: refuse it here.
    check_header_limits(&message)?;
    Ok(Outgoing {
        message,
        recipients,
        removed,
        message_id,
        encrypted_pep,
    })
}

/// Removes what SPEC 6 removes and puts `Message-ID: <id>` where the first
/// Message-ID was, or first when there was none.
fn header_edits(
    text: &[u8],
    head: &Head<'_>,
    encrypted_pep: bool,
    message_id: &str,
) -> (Vec<Edit>, Vec<String>) {
    let mut edits = Vec::new();
    let mut removed = Vec::new();
    let new_field = format!("Message-ID: {message_id}\r\n");
    let mut placed = false;
    for field in &head.fields {
        if field.name.eq_ignore_ascii_case("message-id") {
            removed.push(field.name.clone());
            if placed {
                edits.push(Edit::delete(field.start, field.end));
            } else {
                edits.push(Edit::replace(field.start, field.end, new_field.as_bytes()));
                placed = true;
            }
        } else if !is_kept_field(&field.name)
            || (encrypted_pep && removed_from_encrypted_pep(text, field))
        {
            removed.push(field.name.clone());
            edits.push(Edit::delete(field.start, field.end));
        }
    }
    if !placed {
        edits.push(Edit::insert(0, new_field.into_bytes()));
    }
    (edits, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn prepare(message: &[u8]) -> Result<Outgoing, MessageError> {
        let exit = Mailbox::parse("relay@exit.example").unwrap();
        prepare_outgoing(message, &exit, &mut ChaCha20Rng::seed_from_u64(1))
    }

    #[test]
    fn a_header_the_new_message_id_takes_over_the_field_limit_is_refused() {
        let with_fields = |fields: usize| {
            let mut message = b"From: a@example.org\r\nTo: b@example.net\r\n".to_vec();
            message.extend(b"Subject: x\r\n".repeat(fields - 2));
            message.extend(b"\r\nbody\r\n");
            message
        };
        assert_eq!(
            prepare(&with_fields(MAX_HEADER_FIELDS)),
            Err(MessageError::TooManyHeaderFields {
                max: MAX_HEADER_FIELDS
            })
        );
        // One field fewer leaves room for the Message-ID.
        assert!(prepare(&with_fields(MAX_HEADER_FIELDS - 1)).is_ok());
    }

    #[test]
    fn a_header_crlf_takes_over_the_byte_limit_is_refused() {
        let mut message = b"From: a@example.org\nTo: b@example.net\n".to_vec();
        let line = [b"X-pEp-F: ".as_slice(), &[b'a'; 254], b"\n"].concat();
        while message.len() + line.len() < MAX_HEADER_BYTES - 2 {
            message.extend_from_slice(&line);
        }
        message.extend(b"\nbody\n");
        assert_eq!(
            prepare(&message),
            Err(MessageError::HeaderTooLarge {
                max: MAX_HEADER_BYTES
            })
        );
    }
}
