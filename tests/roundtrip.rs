//! A message goes through the whole mixnet in one process.

mod common;

use common::{body_of, header_of, network, pep_message};
use mixmailer::node::{DropReason, Outcome};
use mixmailer::sample::{InProcessMixnet, SampleNetwork};
use mixmailer::{mix_wrap_with, Error, Onion, WrapOptions};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn wrap(net: &SampleNetwork, message: &[u8], seed: u64) -> Vec<Onion> {
    let directory = net.directory().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let route = directory.random_route(&mut rng).unwrap();
    mix_wrap_with(message, &route, &WrapOptions::default(), net.now, &mut rng)
        .unwrap()
        .into_onions()
}

/// Sends the onions at `indices` through a fresh mixnet; returns every outcome.
fn send(net: &SampleNetwork, onions: &[Onion], indices: &[usize]) -> Vec<Outcome> {
    let mut mixnet = InProcessMixnet::new(net).unwrap();
    indices
        .iter()
        .map(|&i| {
            let onion = &onions[i];
            let email = onion.to_email(&common::alice());
            mixnet.carry(onion.first_hop(), &email, net.now).unwrap().1
        })
        .collect()
}

fn delivered(outcomes: Vec<Outcome>) -> Vec<(Vec<String>, Vec<u8>)> {
    outcomes.into_iter().filter_map(common::delivery).collect()
}

#[test]
fn a_message_goes_through_one_to_five_hops() {
    for hops in 2..=5 {
        let net = network(hops, 2048);
        let message = pep_message("Hello Bob,\r\nsee you at the mix.\r\n");
        let onions = wrap(&net, &message, u64::from(hops));
        let all: Vec<usize> = (0..onions.len()).collect();
        let got = delivered(send(&net, &onions, &all));
        assert_eq!(got.len(), 1, "{hops} hops: exactly one delivery");
        let (recipients, delivered) = &got[0];
        assert_eq!(
            recipients,
            &["bob@example.net", "carol@example.com", "dave@example.org"]
        );
        assert_eq!(body_of(delivered), body_of(&message));
    }
}

#[test]
fn delivered_header_is_sanitized_and_dated_by_the_exit() {
    let net = network(3, 2048);
    let message = pep_message("body\r\n");
    let onions = wrap(&net, &message, 7);
    // One data fragment: the first packet to arrive completes the message.
    let mut mixnet = InProcessMixnet::new(&net).unwrap();
    let email = onions[0].to_email(&common::alice());
    let (trip, outcome) = mixnet
        .carry(onions[0].first_hop(), &email, net.now)
        .unwrap();
    let Outcome::Deliver {
        message: delivered, ..
    } = outcome
    else {
        panic!("not delivered: {outcome:?}");
    };
    let header = header_of(&delivered);
    for gone in [
        "Received",
        "Bcc",
        "User-Agent",
        "X-Mailer",
        "+0100",
        "203.0.113.7",
        "pEp.1.2",
        "From: Alice <alice@example.org>",
    ] {
        assert!(!header.contains(gone), "{gone} leaked into:\n{header}");
    }
    // Not encrypted: the author stays visible, but DMARC-aligned with the
    // exit (SPEC 6), and replies still reach her.
    let exit = trip.last().unwrap().address.clone();
    for kept in [
        format!("From: \"Alice via sample.invalid\" <{exit}>\r\n"),
        "Reply-To: Alice <alice@example.org>\r\n".to_owned(),
        "To: Bob <bob@example.net>\r\n".to_owned(),
        "Cc: carol@example.com\r\n".to_owned(),
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n".to_owned(),
        "@sample.invalid>\r\n".to_owned(),
        "X-pEp-Version: 3.2\r\n".to_owned(),
        "Content-Type: text/plain; charset=utf-8\r\n".to_owned(),
    ] {
        assert!(header.contains(&kept), "{kept:?} missing from:\n{header}");
    }
    // The exit dates the message when it delivers it: after every hop's delay.
    let arrival = net.now
        + trip
            .iter()
            .map(|hop| hop.delay)
            .sum::<std::time::Duration>();
    let date = header
        .lines()
        .find(|l| l.starts_with("Date: "))
        .expect("exit adds Date");
    assert_eq!(
        date,
        format!("Date: {}", mixmailer::time::format_rfc5322(arrival))
    );
    assert!(date.ends_with(" +0000"));
}

#[test]
fn bcc_never_reaches_the_recipient_but_is_delivered_to() {
    let net = network(2, 2048);
    let onions = wrap(&net, &pep_message("secret list\r\n"), 3);
    let all: Vec<usize> = (0..onions.len()).collect();
    let (recipients, message) = delivered(send(&net, &onions, &all)).remove(0);
    assert!(recipients.iter().any(|r| r == "dave@example.org"));
    assert!(!header_of(&message).to_ascii_lowercase().contains("bcc"));
    assert!(!header_of(&message).contains("dave@example.org"));
}

/// A message of many packets: which fragments arrive decides delivery.
fn large_case() -> (SampleNetwork, Vec<u8>, Vec<Onion>) {
    let net = network(3, 2048);
    // Text that does not compress away, so it needs several packets.
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let mut raw = vec![0u8; 9000];
    rand_core::Rng::fill_bytes(&mut rng, &mut raw);
    let text: String = raw
        .chunks(57)
        .map(|c| format!("{}\r\n", base64_line(c)))
        .collect();
    let message = pep_message(&text);
    let onions = wrap(&net, &message, 11);
    (net, message, onions)
}

fn base64_line(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn any_k_of_n_fragments_deliver_and_fewer_do_not() {
    let (net, message, onions) = large_case();
    let n = onions.len();
    let k = n - n.div_ceil(4); // n = k + ceil(k/3)  <=>  k = n - ceil(n/4)
    assert!(k > 1 && n > k, "k = {k}, n = {n}");
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut subsets: Vec<Vec<usize>> = vec![(0..k).collect(), (n - k..n).collect()];
    for _ in 0..6 {
        let mut all: Vec<usize> = (0..n).collect();
        // Fisher-Yates with the test's own RNG.
        for i in (1..n).rev() {
            let j = (rand_core::Rng::next_u64(&mut rng) % (i as u64 + 1)) as usize;
            all.swap(i, j);
        }
        subsets.push(all[..k].to_vec());
    }
    for subset in subsets {
        let outcomes = send(&net, &onions, &subset);
        for outcome in &outcomes[..k - 1] {
            assert!(
                matches!(outcome, Outcome::FragmentHeld { need, .. } if *need == k),
                "delivered before k fragments: {outcome:?}"
            );
        }
        let got = delivered(outcomes);
        assert_eq!(got.len(), 1, "subset {subset:?}");
        assert_eq!(body_of(&got[0].1), body_of(&message));
    }
}

#[test]
fn surplus_fragments_after_delivery_are_dropped() {
    let (net, _, onions) = large_case();
    let all: Vec<usize> = (0..onions.len()).collect();
    let outcomes = send(&net, &onions, &all);
    let k = outcomes
        .iter()
        .position(|o| matches!(o, Outcome::Deliver { .. }))
        .unwrap()
        + 1;
    for outcome in &outcomes[k..] {
        assert!(matches!(
            outcome,
            Outcome::Dropped(DropReason::AlreadyDelivered)
        ));
    }
}

#[test]
fn a_five_megabyte_message_arrives_byte_for_byte() {
    let net = network(3, 32768);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut raw = vec![0u8; 3_750_000];
    rand_core::Rng::fill_bytes(&mut rng, &mut raw);
    let text: String = raw
        .chunks(57)
        .map(|c| format!("{}\r\n", base64_line(c)))
        .collect();
    assert!(text.len() > 5_000_000);
    let message = pep_message(&text);
    let onions = wrap(&net, &message, 5);
    assert!(onions.len() > 100, "{} packets", onions.len());
    let all: Vec<usize> = (0..onions.len()).collect();
    let got = delivered(send(&net, &onions, &all));
    assert_eq!(got.len(), 1);
    assert!(body_of(&got[0].1) == body_of(&message));
}

#[test]
fn a_replayed_packet_is_dropped() {
    let net = network(3, 2048);
    let onions = wrap(&net, &pep_message("once\r\n"), 1);
    let mut mixnet = InProcessMixnet::new(&net).unwrap();
    let email = onions[0].to_email(&common::alice());
    let node = mixnet.node_mut(onions[0].first_hop()).unwrap();
    assert!(matches!(
        node.process(&email, net.now).unwrap(),
        Outcome::Forward { .. }
    ));
    assert!(matches!(
        node.process(&email, net.now).unwrap(),
        Outcome::Dropped(DropReason::Replay)
    ));
}

#[test]
fn a_replay_at_the_exit_is_dropped_too() {
    let net = network(2, 2048);
    let onions = wrap(&net, &pep_message("once\r\n"), 1);
    let mut mixnet = InProcessMixnet::new(&net).unwrap();
    let first = mixnet.node_mut(onions[0].first_hop()).unwrap();
    let own = first.entry().address().to_owned();
    let Outcome::Forward { onion, .. } = first
        .process(&onions[0].to_email(&common::alice()), net.now)
        .unwrap()
    else {
        panic!("the first hop forwards");
    };
    let email = onion.to_email(&mixmailer::message::Mailbox::parse(&own).unwrap());
    let exit = mixnet.node_mut(onion.first_hop()).unwrap();
    // One data fragment: the first copy completes the message.
    assert!(matches!(
        exit.process(&email, net.now).unwrap(),
        Outcome::Deliver { .. }
    ));
    assert!(matches!(
        exit.process(&email, net.now).unwrap(),
        Outcome::Dropped(DropReason::Replay)
    ));
}

#[test]
fn a_flipped_bit_in_the_header_is_rejected_at_once() {
    let net = network(3, 2048);
    let onions = wrap(&net, &pep_message("x\r\n"), 2);
    let mut mixnet = InProcessMixnet::new(&net).unwrap();
    for bit in [0usize, 8 * 40, 8 * 200 + 3, 8 * 347 + 7] {
        let mut packet = onions[0].packet().to_vec();
        packet[bit / 8] ^= 1 << (bit % 8);
        let node = mixnet.node_mut(onions[0].first_hop()).unwrap();
        let err = node
            .process_packet(onions[0].period(), &packet, net.now)
            .unwrap_err();
        assert!(matches!(err, Error::Packet(_)), "bit {bit}: {err}");
    }
}

#[test]
fn a_flipped_bit_in_the_payload_is_rejected_by_the_exit() {
    let net = network(3, 2048);
    let onions = wrap(&net, &pep_message("x\r\n"), 2);
    for byte in [348usize, 1000, 348 + 2047] {
        let mut mixnet = InProcessMixnet::new(&net).unwrap();
        let mut packet = onions[0].packet().to_vec();
        packet[byte] ^= 0x10;
        let tampered = Onion::clone(&onions[0]);
        let email = mixmailer::carrier::write_carrier(
            &common::alice(),
            &mixmailer::message::Mailbox::parse(tampered.first_hop()).unwrap(),
            net.now,
            "t@example.org",
            tampered.period(),
            &packet,
        );
        let err = mixnet
            .carry(onions[0].first_hop(), &email, net.now)
            .unwrap_err();
        assert!(matches!(err, Error::Packet(_)), "byte {byte}: {err}");
    }
}

#[test]
fn a_changed_character_in_the_carrier_is_rejected() {
    let net = network(3, 2048);
    let onions = wrap(&net, &pep_message("x\r\n"), 2);
    let email = onions[0].to_email(&common::alice());
    let text = String::from_utf8(email).unwrap();
    let block = text.find("-----BEGIN").unwrap();
    for offset in [40usize, 300, 1500, 2500] {
        let mut bytes = text.clone().into_bytes();
        let at = block + 34 + offset;
        if bytes[at] == b'\r' || bytes[at] == b'\n' {
            continue;
        }
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let mut mixnet = InProcessMixnet::new(&net).unwrap();
        assert!(
            mixnet
                .carry(onions[0].first_hop(), &bytes, net.now)
                .is_err(),
            "offset {offset} went through"
        );
    }
}

#[test]
fn messages_without_sender_or_recipient_or_header_are_refused() {
    let net = network(2, 2048);
    let route = net.directory().unwrap().route(&["L1N1", "L2N1"]).unwrap();
    for bad in [
        &b"To: bob@example.net\r\nSubject: no from\r\n\r\nhi\r\n"[..],
        &b"From: alice@example.org\r\nSubject: nobody\r\n\r\nhi\r\n"[..],
        &b"just some text without any header\r\n"[..],
        &b""[..],
    ] {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let err =
            mix_wrap_with(bad, &route, &WrapOptions::default(), net.now, &mut rng).unwrap_err();
        assert!(matches!(err, Error::Message(_)), "{err}");
    }
}
