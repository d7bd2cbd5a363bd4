//! Arbitrary bytes as the message a pEp client hands over: the v1
//! sanitizer passes (still public), then the whole trip when the sender's
//! SPEC 6 pass accepts it: wrapped for the two-layer sample network,
//! carried as email through layer 1 to the exit, delivered by the exit.

#![no_main]

use fixtures::{exit_mailbox, node, now, route, EXIT, LAYER1};
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{
    check_delivery_cost, encode_body, prepare_delivery_with, prepare_outgoing, sanitize,
    sanitize_for_delivery, Mailbox, MessageError,
};
use mixmailer::node::Outcome;
use mixmailer::{mix_wrap_with, Error, WrapOptions};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::sync::OnceLock;

fn sender() -> &'static Mailbox {
    static SENDER: OnceLock<Mailbox> = OnceLock::new();
    SENDER.get_or_init(|| Mailbox::parse("alice@example.org").expect("valid mailbox"))
}

fn layer1_mailbox() -> &'static Mailbox {
    static MAILBOX: OnceLock<Mailbox> = OnceLock::new();
    MAILBOX.get_or_init(|| {
        Mailbox::parse(fixtures::directory().nodes()[LAYER1].address()).expect("sample mailbox")
    })
}

fuzz_target!(|data: &[u8]| {
    fixtures::let_the_library_catch_mail_parser_asserts();
    v1_passes(data);

    let seed = data.len() as u64;
    // mix_wrap_with draws the sender's pass first from its generator, so
    // the same seed gives the Outgoing it wraps (MIME boundaries included).
    let Ok(outgoing) =
        prepare_outgoing(data, exit_mailbox(), &mut ChaCha20Rng::seed_from_u64(seed))
    else {
        return;
    };
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let wrapped = match mix_wrap_with(data, route(), &WrapOptions::default(), now(), &mut rng) {
        Ok(wrapped) => wrapped,
        Err(Error::Message(
            MessageError::MessageTooLarge { .. } | MessageError::InflatedTooLarge { .. },
        )) => return,
        Err(e) => panic!("prepared but not wrapped: {e}"),
    };
    assert_eq!(wrapped.message_id(), outgoing.message_id);

    let mut layer1 = node(LAYER1);
    let mut exit = node(EXIT);
    let mut delivered = Vec::new();
    for onion in wrapped.onions() {
        let email = onion.to_email_at(sender(), now(), &[0; 16]);
        let Outcome::Forward { onion, .. } = layer1
            .process(&email, now())
            .expect("a wrapped packet is processed")
        else {
            panic!("layer 1 did not forward");
        };
        let email = onion.to_email_at(layer1_mailbox(), now(), &[1; 16]);
        match exit.process(&email, now()) {
            Ok(Outcome::Deliver {
                recipients,
                message,
                ..
            }) => delivered.push(Ok((recipients, message))),
            Ok(Outcome::FragmentHeld { .. } | Outcome::Dropped(_)) => {}
            Ok(Outcome::Forward { .. }) => panic!("the exit forwarded"),
            Err(e) => delivered.push(Err(e.to_string())),
        }
    }
    let body = encode_body(&outgoing.recipients, &outgoing.message).expect("wrapped, so encodes");
    if check_delivery_cost(
        outgoing.message.len(),
        outgoing.recipients.len(),
        body.len(),
    )
    .is_err()
    {
        // A documented limit of the exit, not checked by the sender.
        assert!(delivered.iter().all(Result::is_err), "{delivered:?}");
        return;
    }
    // Delivered once, to the sender's envelope, as the exit's SPEC 6 pass
    // makes the message the sender prepared (it keeps the sender's
    // Message-ID, so its own random draw does not matter). Whatever the
    // sender accepts, the exit must deliver: nothing accepted is lost.
    let expected = prepare_delivery_with(
        &outgoing.message,
        &outgoing.recipients,
        exit_mailbox(),
        &mut ChaCha20Rng::seed_from_u64(0),
    )
    .expect("what the sender prepared, the exit delivers");
    assert_eq!(delivered, vec![Ok((outgoing.recipients, expected))]);
});

/// The v1 passes: both agree on the message, and a sanitized message is a
/// fixed point of the exit's pass.
fn v1_passes(data: &[u8]) {
    let for_delivery = sanitize_for_delivery(data);
    let Ok(clean) = sanitize(data) else {
        return;
    };
    assert_eq!(
        for_delivery.as_ref().map(|d| &d.message),
        Ok(&clean.message)
    );
    // (Only the exit's pass: Bcc recipients are gone from the header.)
    let again = sanitize_for_delivery(&clean.message).expect("a sanitized message sanitizes");
    assert_eq!(again.message, clean.message);
    assert!(again.removed.is_empty(), "{:?}", again.removed);
}
