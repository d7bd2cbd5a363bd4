//! Arbitrary bytes as the message a pEp client hands over, through the
//! sender's SPEC 6 pass (`prepare_outgoing`) for a fixed exit (the sample
//! network's). Seeds are real client messages (tests/data/clients and the
//! pEp engine 3.3 samples).
//!
//! When the pass accepts the message, its result:
//! - has only fields SPEC 6 keeps (no Bcc, Date, Received, ...), and for
//!   an encrypted pEp message none of the author, recipient and thread
//!   fields but pEp's auto-consume In-Reply-To;
//! - has exactly one Message-ID, the one returned, of the SPEC 6 form
//!   under the exit's domain;
//! - has 1..=100 recipients an exit may deliver to;
//! - is a fixed point: the pass applied again removes only the Message-ID;
//! - is delivered by the exit's pass: nothing the sender accepts is lost.

#![no_main]

use fixtures::{exit_mailbox, header_fields, is_spec_message_id};
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{
    check_deliverable, is_kept_field, prepare_delivery_with, prepare_outgoing, MAX_RECIPIENTS,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Fields an encrypted pEp message loses at the sender (SPEC 6).
const REMOVED_FROM_ENCRYPTED_PEP: [&str; 7] = [
    "from",
    "reply-to",
    "autocrypt",
    "to",
    "cc",
    "in-reply-to",
    "references",
];

fuzz_target!(|data: &[u8]| {
    fixtures::let_the_library_catch_mail_parser_asserts();
    let exit = exit_mailbox();
    let mut rng = ChaCha20Rng::seed_from_u64(data.len() as u64);
    let Ok(outgoing) = prepare_outgoing(data, exit, &mut rng) else {
        return;
    };
    let fields = header_fields(&outgoing.message);
    for (name, value) in &fields {
        assert!(is_kept_field(name), "{name} is left in the header");
        let lower = name.to_ascii_lowercase();
        if outgoing.encrypted_pep && REMOVED_FROM_ENCRYPTED_PEP.contains(&lower.as_str()) {
            assert!(
                lower == "in-reply-to"
                    && value.eq_ignore_ascii_case("<pEp-auto-consume@pEp.foundation>"),
                "{name}: {value} is left on an encrypted pEp message"
            );
        }
    }
    let ids: Vec<&str> = fields
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("message-id"))
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(ids, [outgoing.message_id.as_str()]);
    assert!(
        is_spec_message_id(&outgoing.message_id, exit.domain()),
        "{}",
        outgoing.message_id
    );
    assert!((1..=MAX_RECIPIENTS).contains(&outgoing.recipients.len()));
    for recipient in &outgoing.recipients {
        assert_eq!(check_deliverable(recipient), Ok(()), "{recipient}");
    }

    if let Ok(again) = prepare_outgoing(&outgoing.message, exit, &mut rng) {
        assert!(
            again
                .removed
                .iter()
                .all(|name| name.eq_ignore_ascii_case("message-id")),
            "a second pass removed {:?}",
            again.removed
        );
        assert_eq!(again.encrypted_pep, outgoing.encrypted_pep);
    }
    if let Err(e) = prepare_delivery_with(&outgoing.message, &outgoing.recipients, exit, &mut rng) {
        panic!("the sender accepted what the exit refuses: {e}");
    }
});
