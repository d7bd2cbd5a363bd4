//! The exit's SPEC 6 pass (`prepare_delivery_with`) on an arbitrary
//! message and envelope, as a body could carry them past every earlier
//! check. The input is the inflated body's shape (SPEC 4): envelope lines
//! (`rcpt <address>`, the prefix optional here so that any string reaches
//! the envelope check), an empty line, then the message. Seeds are real
//! client messages behind an envelope.
//!
//! When the pass accepts, every recipient is one an exit may deliver to,
//! and the result:
//! - has only fields SPEC 6 keeps, and exactly one Message-ID of the SPEC 6
//!   form under the exit's domain (the message's own when it had exactly
//!   one such);
//! - is from the exit: `From: <exit>` and `To: undisclosed-recipients:;`
//!   with no author, recipient or thread field for an encrypted pEp
//!   message; otherwise a From naming the author "via" the exit's domain
//!   and a Reply-To;
//! - keeps the body (everything after the header) byte for byte, CRLF;
//! - passes the exit's pass again with the same Message-ID (unless the
//!   exit's own fields took it over the header limits).

#![no_main]

use fixtures::{body_of, exit_mailbox, header_fields, is_spec_message_id};
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{
    check_deliverable, is_kept_field, prepare_delivery_with, MessageError, MAX_RECIPIENTS,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Fields an encrypted pEp message must not carry out of the exit.
const NOT_ON_ENCRYPTED_PEP: [&str; 6] = [
    "reply-to",
    "autocrypt",
    "cc",
    "in-reply-to",
    "references",
    "bcc",
];

fuzz_target!(|data: &[u8]| {
    fixtures::let_the_library_catch_mail_parser_asserts();
    let (recipients, message) = split_input(data);
    let exit = exit_mailbox();
    let mut rng = ChaCha20Rng::seed_from_u64(data.len() as u64);
    let Ok(delivered) = prepare_delivery_with(message, &recipients, exit, &mut rng) else {
        return;
    };
    assert!((1..=MAX_RECIPIENTS).contains(&recipients.len()));
    for recipient in &recipients {
        assert_eq!(check_deliverable(recipient), Ok(()), "{recipient}");
    }

    let fields = header_fields(&delivered);
    let named = |wanted: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_str())
            .collect()
    };
    for (name, _) in &fields {
        assert!(is_kept_field(name), "{name} is left in the header");
    }
    let ids = named("message-id");
    let [id] = ids.as_slice() else {
        panic!("Message-ID fields: {ids:?}");
    };
    assert!(is_spec_message_id(id, exit.domain()), "{id}");
    let own_ids = header_fields(&to_crlf(message))
        .into_iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("message-id"))
        .map(|(_, value)| value)
        .collect::<Vec<_>>();
    if let [own] = own_ids.as_slice() {
        if is_spec_message_id(own, exit.domain()) {
            assert_eq!(id, own);
        }
    }

    let froms = named("from");
    let [from] = froms.as_slice() else {
        panic!("From fields: {froms:?}");
    };
    let exit_angle = format!("<{exit}>");
    if *from == exit_angle {
        // The encrypted pEp form: nobody but the exit is named.
        assert_eq!(named("to"), ["undisclosed-recipients:;"]);
        for name in NOT_ON_ENCRYPTED_PEP {
            for value in named(name) {
                assert!(
                    name == "in-reply-to"
                        && value.eq_ignore_ascii_case("<pEp-auto-consume@pEp.foundation>"),
                    "{name}: {value} is left on an encrypted pEp message"
                );
            }
        }
    } else {
        assert!(from.ends_with(&exit_angle), "From: {from}");
        assert!(!named("reply-to").is_empty(), "no Reply-To");
    }

    assert_eq!(body_of(&delivered), body_of(&to_crlf(message)));

    match prepare_delivery_with(&delivered, &recipients, exit, &mut rng) {
        Ok(again) => assert_eq!(
            header_fields(&again)
                .into_iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("message-id"))
                .map(|(_, value)| value)
                .collect::<Vec<_>>(),
            [id.to_string()]
        ),
        // The exit's own fields (From, To, Reply-To) can take a header at
        // the limits over them; what it delivers goes to its MTA, never
        // through this pass again.
        Err(MessageError::TooManyHeaderFields { .. } | MessageError::HeaderTooLarge { .. }) => {}
        Err(e) => panic!("a delivered message fails the exit's pass again: {e}"),
    }
});

/// Envelope lines up to the first empty line (`rcpt ` stripped when
/// present), then the message.
fn split_input(data: &[u8]) -> (Vec<String>, &[u8]) {
    let mut recipients = Vec::new();
    let mut rest = data;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..end];
        rest = &rest[end + 1..];
        if line.is_empty() {
            break;
        }
        let address = line.strip_prefix(b"rcpt ").unwrap_or(line);
        recipients.push(String::from_utf8_lossy(address).into_owned());
    }
    (recipients, rest)
}

/// Bare LF become CRLF, as every SPEC 6 pass does first.
fn to_crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut previous = 0u8;
    for &b in message {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}
