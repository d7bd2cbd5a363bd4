//! Arbitrary bytes as the message a pEp client hands over: both sanitizer
//! passes, then the whole trip when the sender's pass accepts it: wrapped
//! for the one-node network, carried as email, delivered by its exit.

#![no_main]

use fixtures::{exit_route, one_hop_directory, one_hop_network};
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{add_date, sanitize, sanitize_for_delivery, MessageError};
use mixmailer::node::Outcome;
use mixmailer::{mix_wrap_with, Error, MixNode, WrapOptions};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let for_delivery = sanitize_for_delivery(data);
    let Ok(clean) = sanitize(data) else {
        return;
    };
    // Both passes agree on the message; a sanitized message is a fixed point.
    assert_eq!(
        for_delivery.as_ref().map(|d| &d.message),
        Ok(&clean.message)
    );
    // (Only the exit's pass: Bcc recipients are gone from the header.)
    let again = sanitize_for_delivery(&clean.message).expect("a sanitized message sanitizes");
    assert_eq!(again.message, clean.message);
    assert!(again.removed.is_empty(), "{:?}", again.removed);

    let mut rng = ChaCha20Rng::seed_from_u64(data.len() as u64);
    let onions = match mix_wrap_with(data, exit_route(), &WrapOptions::default(), &mut rng) {
        Ok(onions) => onions,
        Err(Error::Message(MessageError::MessageTooLarge { .. })) => return,
        Err(e) => panic!("sanitized but not wrapped: {e}"),
    };
    let net = one_hop_network();
    // v2-compile-fix: to_bytes() gives Zeroizing since the keys commit
    let mut exit = MixNode::new(*net.node_keys[0].to_bytes(), one_hop_directory().clone())
        .expect("sample exit");
    let mut delivered = Vec::new();
    for onion in &onions {
        let email = onion.to_email_at("alice@example.org", net.now, &[0; 16]);
        match exit
            .process(&email, net.now)
            .expect("a wrapped packet is processed")
        {
            Outcome::Deliver {
                recipients,
                message,
            } => delivered.push((recipients, message)),
            Outcome::FragmentHeld { .. } | Outcome::Dropped(_) => {}
            Outcome::Forward { .. } => panic!("the exit forwarded"),
        }
    }
    assert_eq!(
        delivered,
        vec![(clean.recipients, add_date(&clean.message, net.now))]
    );
});
