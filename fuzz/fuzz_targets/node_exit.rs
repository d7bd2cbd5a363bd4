//! The exit node past the Sphinx layer: fuzzed fragments wrapped into
//! valid packets for the one-node network, so that the fragment parser,
//! the store, reassembly, inflation and the delivery sanitizer all see
//! hostile input that random packet bytes (which fail the MAC) never get to.
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
use mixmailer::message::{decode_body, fragment_body, sanitize_for_delivery, Fragment, Redundancy};
use mixmailer::node::Outcome;
use mixmailer::sphinx::{build_packet_to, payload_capacity, InitialSecret, PacketHop};
use mixmailer::MixNode;
use std::io::Write;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        fragments_of_a_body(rest);
    } else {
        raw_plaintexts(rest);
    }
});

fn fragments_of_a_body(data: &[u8]) {
    let [parity, lost, plain @ ..] = data else {
        return;
    };
    let payload_size = fixtures::exit_route().payload_size();
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(plain).expect("deflate into memory");
    let body = encoder.finish().expect("deflate into memory");
    let Ok(fragments) = fragment_body(&body, [1; 16], payload_size, Redundancy::Parity(parity % 4))
    else {
        return;
    };
    let sent: Vec<&Fragment> = fragments
        .iter()
        .filter(|f| f.index >= 8 || lost & (1 << f.index) == 0)
        .collect();
    let plaintexts = sent.iter().map(|f| f.to_plaintext(payload_size));
    let deliveries = process_all(plaintexts);
    // Delivered exactly when enough fragments came and the content is a
    // deliverable message; then with the body's recipients.
    let enough = sent.len() >= usize::from(fragments[0].k);
    let expected = decode_body(&body)
        .ok()
        .filter(|(_, message)| sanitize_for_delivery(message).is_ok())
        .map(|(recipients, _)| recipients);
    match (enough, expected) {
        (true, Some(recipients)) => assert_eq!(deliveries, vec![recipients]),
        _ => assert!(deliveries.is_empty()),
    }
}

fn raw_plaintexts(data: &[u8]) {
    let capacity = payload_capacity(fixtures::exit_route().payload_size());
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
    let net = fixtures::one_hop_network();
    let mut exit = MixNode::new(
        *net.node_keys[0].to_bytes(), // v2-compile-fix: to_bytes() gives Zeroizing
        fixtures::one_hop_directory().clone(),
    )
    .expect("sample exit");
    let mut deliveries = Vec::new();
    for (i, plaintext) in plaintexts.enumerate() {
        let secret = InitialSecret::from_bytes([i as u8 + 1; 32]);
        let route = fixtures::exit_route();
        let hops: Vec<PacketHop<'_>> = route
            .hops()
            .iter()
            .map(|hop| PacketHop {
                id: hop.id(),
                key: hop.key(),
                table: None,
            })
            .collect();
        let packet = build_packet_to(
            &secret,
            &hops,
            route.payload_size(),
            &[Duration::ZERO],
            &plaintext,
        )
        .expect("a plaintext of capacity C fits");
        if let Ok(Outcome::Deliver { recipients, .. }) = exit.process_packet(&packet, net.now) {
            deliveries.push(recipients);
        }
    }
    deliveries
}
