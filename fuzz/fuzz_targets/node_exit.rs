//! The exit node past the Sphinx layer: fuzzed fragments wrapped into
//! valid packets for the exit of the sample network, so that the fragment
//! parser, the store, reassembly, inflation, the delivery cost check and
//! the exit's SPEC 6 pass all see hostile input that random packet bytes
//! (which fail the MAC) never get to.
//!
//! First byte even: `[0][parity][lost][plain...]`: `plain` (rcpt lines,
//! blank line, message) is deflated, cut into fragments with `parity`
//! parity fragments, and the fragments whose index is a set bit of `lost`
//! are not sent. First byte odd: the rest is cut into payload plaintexts
//! as they are (the last one zero-padded) and each sent as one packet.

#![no_main]

use flate2::write::DeflateEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{
    check_delivery_cost, decode_body, fragment_body, prepare_delivery_with, Fragment, Redundancy,
};
use mixmailer::node::Outcome;
use mixmailer::sphinx::payload_capacity;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    fixtures::let_the_library_catch_mail_parser_asserts();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        fragments_of_a_body(rest);
    } else {
        raw_plaintexts(rest);
    }
});

fn payload_size() -> usize {
    fixtures::directory().params().payload_size
}

fn fragments_of_a_body(data: &[u8]) {
    let [parity, lost, plain @ ..] = data else {
        return;
    };
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(plain).expect("deflate into memory");
    let body = encoder.finish().expect("deflate into memory");
    let Ok(fragments) = fragment_body(
        &body,
        [1; 16],
        payload_size(),
        Redundancy::Parity(parity % 4),
    ) else {
        return;
    };
    let sent: Vec<&Fragment> = fragments
        .iter()
        .filter(|f| f.index >= 8 || lost & (1 << f.index) == 0)
        .collect();
    let plaintexts = sent.iter().map(|f| f.to_plaintext(payload_size()));
    let deliveries = process_all(plaintexts);
    // Delivered exactly when enough fragments came and the content is a
    // message the exit may deliver at its cost; then to the body's
    // recipients, as the exit's SPEC 6 pass makes it.
    let enough = sent.len() >= usize::from(fragments[0].k);
    let expected = decode_body(&body).ok().and_then(|(recipients, message)| {
        check_delivery_cost(message.len(), recipients.len(), body.len()).ok()?;
        let mut rng = ChaCha20Rng::seed_from_u64(0);
        prepare_delivery_with(&message, &recipients, fixtures::exit_mailbox(), &mut rng).ok()?;
        Some(recipients)
    });
    match (enough, expected) {
        (true, Some(recipients)) => assert_eq!(deliveries, vec![recipients]),
        _ => assert!(deliveries.is_empty()),
    }
}

fn raw_plaintexts(data: &[u8]) {
    let capacity = payload_capacity(payload_size());
    let plaintexts = data.chunks(capacity).map(|chunk| {
        let mut plaintext = chunk.to_vec();
        plaintext.resize(capacity, 0);
        plaintext
    });
    process_all(plaintexts);
}

/// Wraps each plaintext into a packet for the exit and has one exit node
/// process them in order; returns the recipients of every delivery.
fn process_all(plaintexts: impl Iterator<Item = Vec<u8>>) -> Vec<Vec<String>> {
    let mut exit = fixtures::node(fixtures::EXIT);
    let mut deliveries = Vec::new();
    for (i, plaintext) in plaintexts.enumerate() {
        let packet = fixtures::exit_packet(i as u8 + 1, &plaintext);
        if let Ok(Outcome::Deliver { recipients, .. }) =
            exit.process_packet(fixtures::period(), &packet, fixtures::now())
        {
            deliveries.push(recipients);
        }
    }
    deliveries
}
