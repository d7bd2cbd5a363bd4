//! The exit's three steps (issue 10 item 2): `receive` stores the
//! completing fragment and marks its message complete without assembling
//! it; `Assembler::assemble` builds the delivery from the stored fragments
//! without the node; `finish` replaces the fragments by the "already
//! delivered" mark. Packets go straight to the exit of a two-layer sample
//! network, carrying fragments of bodies of the test's choosing.

use mixmailer::directory::Directory;
use mixmailer::message::{
    encode_body, fragment_body, prepare_outgoing, Fragment, Mailbox, MessageError, Redundancy,
};
use mixmailer::node::{DropReason, MemoryStore, NodeStore, Outcome, Received};
use mixmailer::period::period_of;
use mixmailer::sample::{SampleNetwork, SampleSpec};
use mixmailer::sphinx::{build_packet_to, InitialSecret, PacketHop};
use mixmailer::{Error, MixNode};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::{Duration, SystemTime};

const EXIT: usize = 1;
const PAYLOAD: usize = 1024;

struct Exit {
    directory: Directory,
    node: MixNode<MemoryStore>,
    now: SystemTime,
    next_secret: u8,
}

impl Exit {
    fn new() -> Exit {
        let net = SampleNetwork::generate(&SampleSpec {
            hops: 2,
            nodes_per_layer: 1,
            payload_size: PAYLOAD,
            mean_delay: Duration::from_secs(60),
            seed: 10,
            ..SampleSpec::default()
        })
        .unwrap();
        let directory = net.directory().unwrap();
        let mut node = MixNode::new(net.keys_of(EXIT).unwrap(), directory.clone()).unwrap();
        node.seed_delays(1);
        let now = net.now;
        Exit {
            directory,
            node,
            now,
            next_secret: 1,
        }
    }

    fn mailbox(&self) -> Mailbox {
        Mailbox::parse(self.directory.nodes()[EXIT].address()).unwrap()
    }

    /// The fragments of `body` with `parity` parity fragments.
    fn fragments(&self, body: &[u8], id: u8, parity: u8) -> Vec<Fragment> {
        fragment_body(body, [id; 16], PAYLOAD, Redundancy::Parity(parity)).unwrap()
    }

    /// A message the exit delivers, as a sender packs it: a few KiB of
    /// text that does not compress, so its body takes several fragments.
    fn good_body(&self) -> Vec<u8> {
        let mut message =
            b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\n".to_vec();
        message.extend_from_slice(text_body().as_bytes());
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let outgoing = prepare_outgoing(&message, &self.mailbox(), &mut rng).unwrap();
        encode_body(&outgoing.recipients, &outgoing.message).unwrap()
    }

    /// One fragment, wrapped for the exit and received by it.
    /// A packet carrying `fragment` to the exit, and its key period.
    fn packet(&mut self, fragment: &Fragment) -> (u64, Vec<u8>) {
        let period = period_of(self.now, self.directory.params().key_period);
        let entry = &self.directory.nodes()[EXIT];
        let hop = PacketHop {
            id: entry.id(),
            key: entry.key_for(period).unwrap(),
            table: None,
        };
        let packet = build_packet_to(
            &InitialSecret::from_bytes([self.next_secret; 32]),
            &[hop],
            PAYLOAD,
            &[Duration::ZERO],
            &fragment.to_plaintext(PAYLOAD),
        )
        .unwrap();
        self.next_secret += 1;
        (period, packet)
    }

    fn receive(&mut self, fragment: &Fragment) -> Received {
        let (period, packet) = self.packet(fragment);
        self.node.receive_packet(period, &packet, self.now).unwrap()
    }
}

/// 4000 letters and digits from a fixed seed, in lines of 76.
fn text_body() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut text = String::new();
    for i in 0..4000 {
        let pick = rand_core::Rng::next_u32(&mut rng) as usize % ALPHABET.len();
        text.push(char::from(ALPHABET[pick]));
        if i % 76 == 75 {
            text.push_str("\r\n");
        }
    }
    text.push_str("\r\n");
    text
}

fn held(received: &Received) -> bool {
    matches!(received, Received::Done(Outcome::FragmentHeld { .. }))
}

fn already_delivered(received: &Received) -> bool {
    matches!(
        received,
        Received::Done(Outcome::Dropped(DropReason::AlreadyDelivered))
    )
}

#[test]
fn the_completing_fragment_is_stored_and_its_message_marked_not_assembled() {
    let mut exit = Exit::new();
    let fragments = exit.fragments(&exit.good_body(), 1, 2);
    let k = usize::from(fragments[0].k);
    assert!(k >= 2, "k = {k}");
    for fragment in &fragments[..k - 1] {
        assert!(held(&exit.receive(fragment)));
    }
    let completed = exit.receive(&fragments[k - 1]);
    let Received::Complete { message_id } = completed else {
        panic!("the k-th fragment completes the message: {completed:?}");
    };
    assert_eq!(message_id, [1; 16]);
    let store = exit.node.store();
    assert_eq!(store.fragments(&message_id).unwrap().len(), k);
    assert_eq!(store.complete_messages().unwrap(), vec![message_id]);
    assert_eq!(exit.node.complete_messages().unwrap(), vec![message_id]);
    assert_eq!(store.delivered_marks(), 0, "not delivered yet");
}

#[test]
fn assembling_gives_the_delivery_and_finishing_leaves_only_the_mark() {
    let mut exit = Exit::new();
    let fragments = exit.fragments(&exit.good_body(), 1, 2);
    let k = usize::from(fragments[0].k);
    let mut last = None;
    for fragment in &fragments[..k] {
        last = Some(exit.receive(fragment));
    }
    let Some(Received::Complete { message_id }) = last else {
        panic!("not complete: {last:?}");
    };

    // Step 2 needs no node: the assembler is a value of its own.
    let assembler = exit.node.assembler().unwrap();
    let stored = exit.node.store().fragments(&message_id).unwrap();
    let delivery =
        std::thread::spawn(move || assembler.assemble(&stored, &mut ChaCha20Rng::seed_from_u64(3)))
            .join()
            .unwrap()
            .unwrap();
    assert_eq!(delivery.recipients, vec!["bob@example.net".to_owned()]);
    let text = String::from_utf8_lossy(&delivery.message);
    assert!(text.contains("Subject: hi\r\n"), "{text}");
    assert!(text.ends_with(&text_body()), "the body arrives whole");
    assert!(!text.contains("Date:"), "dated when it leaves, not now");
    assert!(delivery.delay <= exit.directory.params().key_period / 2);

    assert!(exit.node.finish(&message_id, exit.now).unwrap());
    let store = exit.node.store();
    assert!(store.fragments(&message_id).unwrap().is_empty());
    assert!(store.complete_messages().unwrap().is_empty());
    assert_eq!(store.pending_messages(), 0);
    assert_eq!(store.delivered_marks(), 1);
    assert!(
        !exit.node.finish(&message_id, exit.now).unwrap(),
        "a message is finished once"
    );
    assert!(already_delivered(&exit.receive(&fragments[k])));
}

#[test]
fn a_surplus_fragment_of_a_complete_message_starts_no_second_assembly() {
    let mut exit = Exit::new();
    let fragments = exit.fragments(&exit.good_body(), 1, 2);
    let k = usize::from(fragments[0].k);
    assert!(fragments.len() >= k + 2);
    let completions = fragments
        .iter()
        .map(|f| exit.receive(f))
        .filter(|r| matches!(r, Received::Complete { .. }))
        .count();
    assert_eq!(completions, 1, "only the k-th fragment completes it");
    for fragment in &fragments[k..] {
        assert!(already_delivered(&exit.receive(fragment)));
    }
    let store = exit.node.store();
    assert_eq!(
        store.fragments(&[1; 16]).unwrap().len(),
        k,
        "surplus fragments are not stored"
    );
    assert_eq!(store.complete_messages().unwrap().len(), 1);
}

#[test]
fn a_message_that_cannot_be_assembled_is_dropped_with_its_reason_and_stays_over() {
    let mut exit = Exit::new();
    // Fragments of a body that is not DEFLATE: fine until assembled.
    let fragments = exit.fragments(&[0xFF; 2500], 7, 1);
    let k = usize::from(fragments[0].k);
    let mut last = None;
    for fragment in &fragments[..k] {
        last = Some(exit.receive(fragment));
    }
    let Some(Received::Complete { message_id }) = last else {
        panic!("not complete: {last:?}");
    };
    let stored = exit.node.store().fragments(&message_id).unwrap();
    let assembled = exit
        .node
        .assembler()
        .unwrap()
        .assemble(&stored, &mut ChaCha20Rng::seed_from_u64(4));
    assert!(
        matches!(assembled, Err(Error::Message(MessageError::NotDeflate(_)))),
        "{assembled:?}"
    );
    assert!(exit.node.finish(&message_id, exit.now).unwrap());
    assert!(exit.node.store().fragments(&message_id).unwrap().is_empty());
    assert_eq!(exit.node.store().pending_messages(), 0);
    assert!(
        already_delivered(&exit.receive(&fragments[k])),
        "a late fragment does not start the message again"
    );
}

#[test]
fn one_call_process_still_delivers_and_reports_a_failed_assembly() {
    let mut exit = Exit::new();
    let good = exit.fragments(&exit.good_body(), 1, 1);
    let bad = exit.fragments(&[0xFF; 2500], 2, 1);
    let process = |exit: &mut Exit, fragment: &Fragment| {
        let (period, packet) = exit.packet(fragment);
        exit.node.process_packet(period, &packet, exit.now)
    };
    let outcomes: Vec<_> = good.iter().map(|f| process(&mut exit, f)).collect();
    let delivered = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Outcome::Deliver { .. })))
        .count();
    assert_eq!(delivered, 1, "{outcomes:?}");
    assert!(matches!(
        outcomes.last(),
        Some(Ok(Outcome::Dropped(DropReason::AlreadyDelivered)))
    ));

    let k = usize::from(bad[0].k);
    let outcomes: Vec<_> = bad.iter().map(|f| process(&mut exit, f)).collect();
    assert!(
        matches!(
            outcomes[k - 1],
            Err(Error::Message(MessageError::NotDeflate(_)))
        ),
        "{outcomes:?}"
    );
    assert!(matches!(
        outcomes[k],
        Ok(Outcome::Dropped(DropReason::AlreadyDelivered))
    ));
    assert_eq!(exit.node.store().pending_messages(), 0);
}
