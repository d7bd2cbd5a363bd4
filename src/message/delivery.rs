//! The exit's side of SPEC 6: what reaches the recipient's provider.

use super::address::{check_mailbox, mailbox_key};
use super::edit::{apply, Edit};
use super::mailbox::{check_deliverable, Mailbox};
use super::policy::{
    author_name, canonical, is_encrypted_pep, is_kept_field, read_head, removed_from_encrypted_pep,
    the_from, value_bytes, Head,
};
use super::random_id::{is_spec_message_id, message_id};
use super::{MessageError, MAX_RECIPIENTS};
use base64::Engine;
use rand::rngs::SysRng;
use rand_core::CryptoRng;
use std::collections::HashSet;

/// Longest author display name the exit writes (characters); longer ones
/// are cut. It keeps the rewritten From on one line of a few hundred octets.
pub const MAX_AUTHOR_NAME: usize = 64;

/// Applies SPEC 6 at the exit to a decoded message and its envelope
/// (`rcpt` lines), with a Message-ID from the operating system's random
/// generator when one must be made. See [`prepare_delivery_with`].
pub fn prepare_delivery(
    message: &[u8],
    recipients: &[String],
    exit: &Mailbox,
) -> Result<Vec<u8>, MessageError> {
    let mut random = [0u8; 16];
    rand_core::TryRng::try_fill_bytes(&mut SysRng, &mut random)
        .map_err(MessageError::Randomness)?;
    deliver(message, recipients, exit, &random)
}

/// Applies SPEC 6 at the exit whose mailbox is `exit`:
///
/// - the header policy again (limits, RFC 5322 framing, the list of kept
///   fields), so an old or careless sender cannot leak more;
/// - every recipient again: a plain mailbox, no address literal, no
///   localhost, a dot in the domain, 1 to [`MAX_RECIPIENTS`], no duplicate;
///   one bad recipient refuses the whole message;
/// - a Message-ID not of the SPEC 6 form under the exit's domain (or
///   missing, or repeated) is replaced by a random one;
/// - an encrypted pEp message gets `From: <exit>` and
///   `To: undisclosed-recipients:;`, and loses whatever author, recipient
///   and thread fields an old sender left;
/// - any other message gets `From: "<author> via <exit domain>" <exit>`
///   and, when it has no Reply-To, `Reply-To:` with the original From
///   value; it must have exactly one From naming a mailbox.
///
/// No Date is added: [`super::add_date`] does that when the message is
/// really handed to the MTA. Any error means nothing is delivered.
pub fn prepare_delivery_with<R: CryptoRng + ?Sized>(
    message: &[u8],
    recipients: &[String],
    exit: &Mailbox,
    rng: &mut R,
) -> Result<Vec<u8>, MessageError> {
    let mut random = [0u8; 16];
    rng.fill_bytes(&mut random);
    deliver(message, recipients, exit, &random)
}

fn deliver(
    message: &[u8],
    recipients: &[String],
    exit: &Mailbox,
    random: &[u8; 16],
) -> Result<Vec<u8>, MessageError> {
    check_envelope(recipients)?;
    let text = canonical(message)?;
    let head = read_head(&text)?;
    let encrypted_pep = is_encrypted_pep(&text, &head);

    let mut edits = message_id_edits(&text, &head, exit, random);
    if encrypted_pep {
        for field in &head.fields {
            if !field.name.eq_ignore_ascii_case("message-id")
                && (!is_kept_field(&field.name) || removed_from_encrypted_pep(&text, field))
            {
                edits.push(Edit::delete(field.start, field.end));
            }
        }
        edits.push(Edit::insert(
            0,
            format!("From: <{exit}>\r\nTo: undisclosed-recipients:;\r\n"),
        ));
    } else {
        let from = the_from(&head)?;
        let has_reply_to = head.named("reply-to").next().is_some();
        for (i, field) in head.fields.iter().enumerate() {
            if i == from {
                let mut new = rewritten_from(&author_name(&head, from), exit).into_bytes();
                if !has_reply_to {
                    new.extend_from_slice(b"Reply-To:");
                    new.extend_from_slice(value_bytes(&text, field));
                }
                edits.push(Edit::replace(field.start, field.end, new));
            } else if !field.name.eq_ignore_ascii_case("message-id") && !is_kept_field(&field.name)
            {
                edits.push(Edit::delete(field.start, field.end));
            }
        }
    }
    apply(&text, edits)
}

/// Keeps one Message-ID of the SPEC 6 form under the exit's domain;
/// anything else is replaced in place (or added first) by a new one.
fn message_id_edits(text: &[u8], head: &Head<'_>, exit: &Mailbox, random: &[u8; 16]) -> Vec<Edit> {
    let ids: Vec<usize> = head.named("message-id").collect();
    let keep = ids.len() == 1
        && ids
            .first()
            .and_then(|&i| head.fields.get(i))
            .is_some_and(|f| is_spec_message_id(value_bytes(text, f), exit.domain()));
    if keep {
        return Vec::new();
    }
    let new_field = format!("Message-ID: {}\r\n", message_id(random, exit.domain()));
    let mut edits = Vec::new();
    for (n, field) in ids.iter().filter_map(|&i| head.fields.get(i)).enumerate() {
        if n == 0 {
            edits.push(Edit::replace(field.start, field.end, new_field.as_bytes()));
        } else {
            edits.push(Edit::delete(field.start, field.end));
        }
    }
    if edits.is_empty() {
        edits.push(Edit::insert(0, new_field.into_bytes()));
    }
    edits
}

/// The envelope from the body's `rcpt` lines, checked again at the exit.
fn check_envelope(recipients: &[String]) -> Result<(), MessageError> {
    if recipients.is_empty() {
        return Err(MessageError::NoRecipient);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(MessageError::TooManyRecipients {
            count: recipients.len(),
            max: MAX_RECIPIENTS,
        });
    }
    let mut seen = HashSet::new();
    for address in recipients {
        check_mailbox(address).map_err(|reason| MessageError::InvalidRecipient {
            origin: "envelope".into(),
            address: address.clone(),
            reason,
        })?;
        check_deliverable(address).map_err(|reason| MessageError::UndeliverableRecipient {
            origin: "envelope".into(),
            address: address.clone(),
            reason,
        })?;
        if !seen.insert(mailbox_key(address)) {
            return Err(MessageError::DuplicateRecipient {
                origin: "envelope".into(),
                address: address.clone(),
            });
        }
    }
    Ok(())
}

/// `From: "<author> via <exit domain>" <exit>` (RFC 5322 quoted-string),
/// or the same phrase as RFC 2047 encoded-words when the author's name is
/// not ASCII. Control characters in the decoded name (an encoded CR LF
/// would otherwise start a new field) become spaces.
fn rewritten_from(author: &str, exit: &Mailbox) -> String {
    let cleaned: String = author
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let name: String = cleaned.chars().take(MAX_AUTHOR_NAME).collect();
    let phrase = format!("{name} via {}", exit.domain());
    if phrase.is_ascii() {
        let quoted = phrase.replace('\\', "\\\\").replace('"', "\\\"");
        format!("From: \"{quoted}\" <{exit}>\r\n")
    } else {
        format!("From: {}\r\n <{exit}>\r\n", encoded_words(&phrase))
    }
}

/// RFC 2047 `=?utf-8?b?...?=` words of at most 75 characters (45 bytes of
/// UTF-8 each, cut between characters), folded one per line.
fn encoded_words(phrase: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in phrase.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_author_is_named_in_a_quoted_string_or_encoded_words() {
        let exit = Mailbox::parse("relay@exit.example").unwrap();
        assert_eq!(
            rewritten_from("Alice \"Al\" \\o/", &exit),
            "From: \"Alice \\\"Al\\\" \\\\o/ via exit.example\" <relay@exit.example>\r\n"
        );
        assert_eq!(
            rewritten_from("J\u{f6}rg", &exit),
            "From: =?utf-8?b?SsO2cmcgdmlhIGV4aXQuZXhhbXBsZQ==?=\r\n <relay@exit.example>\r\n"
        );
        assert_eq!(
            rewritten_from("Eve\r\nBcc: x@y.z", &exit),
            "From: \"Eve Bcc: x@y.z via exit.example\" <relay@exit.example>\r\n"
        );
        let long = rewritten_from(&"\u{e9}".repeat(100), &exit);
        assert!(long.lines().all(|l| l.len() <= 78), "{long}");
    }
}
