//! Properties of the whole trip, over generated inputs (issue 6, point 4):
//!
//! - any message the sender's sanitizer accepts is delivered with the same
//!   body, only the kept header fields (byte for byte, in order) and the
//!   envelope of To, Cc and Bcc;
//! - any n-k lost packets are survived, and one more loss is not;
//! - no mutation of a signed directory is accepted.
//!
//! Bodies are arbitrary bytes, NUL and lone CR included. The one change the
//! library makes to a body is its documented canonicalisation: a bare LF
//! becomes CRLF (RFC 5322 2.1, RFC 5321 2.3.8). So the property is "the
//! delivered body is the sent body with bare LFs made CRLF", which for a
//! body already in CRLF form is "byte for byte"; both cases are generated.
//!
//! Case counts are small because every case of the first two sends real
//! packets through a mixnet in a debug build; the fuzz targets (`fuzz/`)
//! explore the same properties for millions of inputs.

mod common;

use common::network;
use mixmailer::directory::Directory;
use mixmailer::message::{fragment_body, reassemble, sanitize, Redundancy};
use mixmailer::node::Outcome;
use mixmailer::sample::{InProcessMixnet, SampleNetwork};
use mixmailer::{mix_wrap_with, Onion, WrapOptions};
use proptest::prelude::*;
use proptest::sample::select;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

// ---------------------------------------------------------------------------
// Generators

/// A mailbox that SPEC 4's `rcpt` line and SMTP take as it is.
fn mailbox() -> impl Strategy<Value = String> {
    let label = prop::collection::vec(
        select(b"abcdefghijklmnopqrstuvwxyz0123456789".to_vec()),
        1..8,
    );
    (label.clone(), label, select(vec!["org", "net", "example"])).prop_map(
        |(local, domain, tld)| {
            format!(
                "{}@{}.{tld}",
                String::from_utf8_lossy(&local),
                String::from_utf8_lossy(&domain)
            )
        },
    )
}

/// A mailbox as a header writes it: bare, or with a display name.
fn header_mailbox() -> impl Strategy<Value = (String, String)> {
    (mailbox(), any::<bool>()).prop_map(|(address, named)| {
        let written = if named {
            format!("Some One <{address}>")
        } else {
            address.clone()
        };
        (written, address)
    })
}

/// A field value: printable ASCII that does not start with white space,
/// sometimes folded onto a second line.
fn value() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(0x21u8..0x7f, 1..6),
        prop::collection::vec(0x20u8..0x7f, 0..30),
        any::<bool>(),
    )
        .prop_map(|(head, tail, fold)| {
            let head = String::from_utf8_lossy(&head).into_owned();
            let tail = String::from_utf8_lossy(&tail).into_owned();
            if fold && !tail.trim().is_empty() {
                format!("{head}\r\n {}", tail.trim_start())
            } else {
                format!("{head}{tail}")
            }
        })
}

/// Field names as any client may spell them, in any letter case.
fn spelled(name: &'static str) -> impl Strategy<Value = String> {
    select(vec![0u8, 1, 2]).prop_map(move |case| match case {
        0 => name.to_owned(),
        1 => name.to_ascii_lowercase(),
        _ => name.to_ascii_uppercase(),
    })
}

/// One header field, and the envelope addresses it adds.
#[derive(Clone, Debug)]
struct Field {
    text: String,
    kept: bool,
    recipients: Vec<String>,
}

fn kept_field() -> impl Strategy<Value = Field> {
    let names = select(vec![
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Reply-To",
        "MIME-Version",
        "Content-Language",
        "Content-Disposition",
        "Autocrypt",
        "X-EncStatus",
        "X-pEp-Version",
        "pEp-Wrapped-Message-Info",
    ]);
    (names.prop_flat_map(spelled), value()).prop_map(|(name, value)| Field {
        text: format!("{name}: {value}\r\n"),
        kept: true,
        recipients: Vec::new(),
    })
}

fn removed_field() -> impl Strategy<Value = Field> {
    let fixed = select(vec![
        "Received: from laptop.home ([203.0.113.7]) by smtp.example.org\r\n",
        "Date: Sun, 29 Nov 2026 06:12:37 +0100\r\n",
        "X-Mailer: ExampleMail 1.0\r\n",
        "User-Agent: pEp-engine 3.2 (Linux)\r\n",
        "X-Originating-IP: [203.0.113.7]\r\n",
        "Organization: Example\r\n",
        "Return-Path: <alice@example.org>\r\n",
    ])
    .prop_map(|text| Field {
        text: text.to_owned(),
        kept: false,
        recipients: Vec::new(),
    });
    let free = (
        select(vec!["X-Spam-Score", "Thread-Index", "X-Whatever"]),
        value(),
    )
        .prop_map(|(name, value)| Field {
            text: format!("{name}: {value}\r\n"),
            kept: false,
            recipients: Vec::new(),
        });
    prop_oneof![fixed, free]
}

fn recipient_field(name: &'static str, kept: bool) -> impl Strategy<Value = Field> {
    (spelled(name), prop::collection::vec(header_mailbox(), 1..4)).prop_map(move |(name, boxes)| {
        Field {
            text: format!(
                "{name}: {}\r\n",
                boxes
                    .iter()
                    .map(|(w, _)| w.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            kept,
            recipients: boxes.into_iter().map(|(_, a)| a).collect(),
        }
    })
}

/// A whole header: one From, one To, maybe Cc and Bcc, kept and removed
/// fields, shuffled.
fn header() -> impl Strategy<Value = Vec<Field>> {
    let from = header_mailbox().prop_map(|(written, _)| Field {
        text: format!("From: {written}\r\n"),
        kept: true,
        recipients: Vec::new(),
    });
    (
        from,
        recipient_field("To", true),
        prop::option::of(recipient_field("Cc", true)),
        prop::option::of(recipient_field("Bcc", false)),
        prop::collection::vec(kept_field(), 0..5),
        prop::collection::vec(removed_field(), 0..5),
    )
        .prop_flat_map(|(from, to, cc, bcc, kept, removed)| {
            let mut fields = vec![from, to];
            fields.extend(cc);
            fields.extend(bcc);
            fields.extend(kept);
            fields.extend(removed);
            Just(fields).prop_shuffle()
        })
}

/// A body: arbitrary bytes, or the same made CRLF-only.
fn body() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(any::<u8>(), 0..1500), any::<bool>()).prop_map(|(bytes, crlf)| {
        if crlf {
            to_crlf(&bytes)
        } else {
            bytes
        }
    })
}

/// Bare LF to CRLF: the canonical form the library documents. Written
/// here again on purpose: the property's oracle must not be the code it checks.
fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    let mut previous = 0u8;
    for &b in bytes {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

// ---------------------------------------------------------------------------
// The mixnet

fn wrap(net: &SampleNetwork, message: &[u8], options: &WrapOptions, seed: u64) -> Vec<Onion> {
    let directory = net.directory().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let route = directory.random_route(&mut rng).unwrap();
    mix_wrap_with(message, &route, options, net.now, &mut rng)
        .unwrap()
        .into_onions()
}

/// Sends `onions` through a fresh mixnet; returns the deliveries.
fn deliveries<'a>(
    net: &SampleNetwork,
    onions: impl IntoIterator<Item = &'a Onion>,
) -> Vec<(Vec<String>, Vec<u8>)> {
    let mut mixnet = InProcessMixnet::new(net).unwrap();
    onions
        .into_iter()
        .filter_map(|onion| {
            let email = onion.to_email(&common::alice());
            common::delivery(mixnet.carry(onion.first_hop(), &email, net.now).unwrap().1)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn an_accepted_message_arrives_with_its_body_kept_fields_and_envelope(
        fields in header(),
        body in body(),
        hops in 2u8..=3,
        seed in any::<u64>(),
    ) {
        let mut message: Vec<u8> = fields.iter().flat_map(|f| f.text.bytes()).collect();
        message.extend_from_slice(b"\r\n");
        message.extend_from_slice(&body);
        // The generator writes only valid headers; the property is about
        // accepted messages, so a rejection is a generator bug, not a skip.
        let clean = sanitize(&message).map_err(|e| TestCaseError::fail(format!("{e}")))?;

        let net = network(hops, 2048);
        let got = deliveries(&net, &wrap(&net, &message, &WrapOptions::default(), seed));
        prop_assert_eq!(got.len(), 1);
        let (recipients, delivered) = &got[0];

        let mut envelope: Vec<String> = Vec::new();
        for address in fields.iter().flat_map(|f| &f.recipients) {
            if !envelope.contains(address) {
                envelope.push(address.clone());
            }
        }
        prop_assert_eq!(recipients, &envelope);
        prop_assert_eq!(&clean.recipients, &envelope);

        // Date (added by the exit), the kept fields as written but for the
        // ones SPEC 6 rewrites at the exit (From becomes the exit "via"
        // the author, a Reply-To with the author is added when there was
        // none, Message-ID is the sender's random one), then the body.
        let date_end = delivered.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        prop_assert!(delivered.starts_with(b"Date: "));
        let had_reply_to = fields.iter().any(|f| f.kept && name_of(&f.text).eq_ignore_ascii_case("reply-to"));
        let rewritten = |name: &str| {
            ["from", "message-id"].iter().any(|r| name.eq_ignore_ascii_case(r))
                || (!had_reply_to && name.eq_ignore_ascii_case("reply-to"))
        };
        let mut expected: Vec<u8> = fields
            .iter()
            .filter(|f| f.kept && !rewritten(name_of(&f.text)))
            .flat_map(|f| f.text.bytes())
            .collect();
        expected.extend_from_slice(b"\r\n");
        expected.extend_from_slice(&to_crlf(&body));
        let (head, rest) = split_fields(&delivered[date_end..]);
        let mut kept: Vec<u8> = head
            .iter()
            .filter(|f| !rewritten(name_of(f)))
            .flat_map(|f| f.bytes())
            .collect();
        kept.extend_from_slice(rest);
        prop_assert!(
            kept == expected,
            "delivered:\n{}\nexpected:\n{}",
            String::from_utf8_lossy(&delivered[date_end..]),
            String::from_utf8_lossy(&expected)
        );
        let from: Vec<&String> = head.iter().filter(|f| name_of(f).eq_ignore_ascii_case("from")).collect();
        prop_assert_eq!(from.len(), 1);
        prop_assert!(from[0].contains(" via sample.invalid\" <mix"), "{}", from[0]);
        prop_assert!(
            head.iter().any(|f| f.starts_with("Message-ID: <") && f.ends_with("@sample.invalid>\r\n")),
            "no random Message-ID under the exit's domain"
        );
    }
}

/// The name of a header field written as `Name: value`.
fn name_of(field: &str) -> &str {
    field.split(':').next().unwrap_or_default()
}

/// The fields of a delivered header (each with its folded lines and CRLF)
/// and what follows the header (the blank line and the body).
fn split_fields(message: &[u8]) -> (Vec<String>, &[u8]) {
    let mut fields: Vec<String> = Vec::new();
    let mut at = 0;
    while at < message.len() && !message[at..].starts_with(b"\r\n") {
        let end = message[at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(message.len(), |i| at + i + 2);
        let line = String::from_utf8_lossy(&message[at..end]).into_owned();
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(&line),
            _ => fields.push(line),
        }
        at = end;
    }
    (fields, &message[at..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn any_n_minus_k_lost_packets_are_survived_and_one_more_is_not(
        body in prop::collection::vec(any::<u8>(), 2000..9000),
        parity in 0u8..=4,
        lost_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        // Random bytes do not compress: several data fragments at p = 1024.
        let mut message = b"From: a@b.example\r\nTo: c@d.example\r\n\r\n".to_vec();
        message.extend_from_slice(&body);
        let net = network(2, 1024);
        let options = WrapOptions { redundancy: Redundancy::Parity(parity), ..WrapOptions::default() };
        let onions = wrap(&net, &message, &options, seed);
        let n = onions.len();
        let m = usize::from(parity);
        prop_assert!(n > m + 1, "n = {}, parity = {}", n, m);

        // A random order of the packets; the first m of it are lost.
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha20Rng::seed_from_u64(lost_seed);
        for i in (1..n).rev() {
            let j = (rand_core::Rng::next_u64(&mut rng) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let got = deliveries(&net, order[m..].iter().map(|&i| &onions[i]));
        prop_assert_eq!(got.len(), 1);
        // (bare LFs of the random bytes are made CRLF, as in every message)
        prop_assert!(common::body_of(&got[0].1) == to_crlf(&body), "body changed");

        let too_few = deliveries(&net, order[m + 1..].iter().map(|&i| &onions[i]));
        prop_assert!(too_few.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_n_minus_k_lost_fragments_are_survived(
        body in prop::collection::vec(any::<u8>(), 0..60_000),
        payload_size in select(vec![1024usize, 2048, 4096]),
        parity in prop::option::of(0u8..=40),
        keep in any::<prop::sample::Index>(),
        shuffle_seed in any::<u64>(),
    ) {
        let redundancy = parity.map_or(Redundancy::Default, Redundancy::Parity);
        let fragments = fragment_body(&body, [9; 16], payload_size, redundancy)
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let k = usize::from(fragments[0].k);
        let n = fragments.len();
        // Keep exactly k, any k, in any order.
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha20Rng::seed_from_u64(shuffle_seed);
        for i in (1..n).rev() {
            let j = (rand_core::Rng::next_u64(&mut rng) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        order.rotate_left(keep.index(n));
        let kept: Vec<_> = order[..k].iter().map(|&i| fragments[i].clone()).collect();
        let rebuilt = reassemble(&kept).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert!(rebuilt == body, "body changed");
        if k > 1 {
            prop_assert!(reassemble(&kept[1..]).is_err());
        }
    }
}

/// What a mutation does to a document.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: prop::sample::Index, bit: u8 },
    Insert { at: prop::sample::Index, byte: u8 },
    Delete { at: prop::sample::Index },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<prop::sample::Index>(), any::<u8>())
            .prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<prop::sample::Index>().prop_map(|at| Mutation::Delete { at }),
    ]
}

/// Applies `mutation` at a position in `range` of `text`.
fn mutate(text: &[u8], range: std::ops::Range<usize>, mutation: &Mutation) -> Vec<u8> {
    let mut out = text.to_vec();
    let pick = |at: &prop::sample::Index| range.start + at.index(range.len());
    match mutation {
        Mutation::Flip { at, bit } => out[pick(at)] ^= 1 << bit,
        Mutation::Insert { at, byte } => out.insert(pick(at), *byte),
        Mutation::Delete { at } => {
            out.remove(pick(at));
        }
    }
    out
}

fn signed_len(text: &[u8]) -> usize {
    let mut end = 0;
    let mut offset = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        offset += line.len();
        if line.starts_with(b"node ") {
            end = offset;
        }
    }
    end
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_mutation_of_the_signed_part_is_accepted(
        mutation in mutation(),
        hops in 2u8..=3,
    ) {
        let net = network(hops, 2048);
        let trusted = [net.authority.public_key()];
        prop_assert!(Directory::parse(&net.directory_text, &trusted, 1, net.now).is_ok());
        let end = signed_len(&net.directory_text);
        let text = mutate(&net.directory_text, 0..end, &mutation);
        prop_assert_ne!(&text, &net.directory_text);
        prop_assert!(Directory::parse(&text, &trusted, 1, net.now).is_err());
    }

    #[test]
    fn no_mutation_of_the_signature_lines_is_accepted(
        mutation in mutation(),
        hops in 2u8..=3,
    ) {
        let net = network(hops, 2048);
        let trusted = [net.authority.public_key()];
        let text = &net.directory_text;
        let changed = mutate(text, signed_len(text)..text.len(), &mutation);
        prop_assert!(Directory::parse(&changed, &trusted, 1, net.now).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// DESIGN's "the first node knows the sender, the exit knows the
    /// recipients" at the level of what each node is handed: no carrier
    /// names a recipient or the message's author, only the first hop's
    /// carrier names the mailbox that sent it, and every packet on every
    /// hop has the one size of the network.
    #[test]
    fn carriers_name_the_sender_only_to_the_first_hop_and_recipients_to_none(
        fields in header(),
        body in body(),
        hops in 2u8..=3,
        seed in any::<u64>(),
    ) {
        let mut message: Vec<u8> = fields.iter().flat_map(|f| f.text.bytes()).collect();
        message.extend_from_slice(b"\r\n");
        message.extend_from_slice(&body);
        let sender = "alice@example.org";
        let mut recipients: Vec<String> =
            fields.iter().flat_map(|f| f.recipients.clone()).collect();
        // The author in the From field is inside the onion too.
        let from = fields.iter().find(|f| f.text.starts_with("From: ")).unwrap();
        let author = from.text["From: ".len()..].trim_end();
        let author = author.rsplit('<').next().unwrap().trim_end_matches('>');
        recipients.push(author.to_owned());
        let net = network(hops, 2048);
        let onions = wrap(&net, &message, &WrapOptions::default(), seed);
        let mut mixnet = InProcessMixnet::new(&net).unwrap();
        let contains = |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
        for onion in &onions {
            prop_assert_eq!(onion.packet().len(), mixmailer::sphinx::packet_len(2048));
            let mut carrier = onion.to_email(&common::alice());
            let mut address = onion.first_hop().to_owned();
            for hop in 1..=hops {
                prop_assert_eq!(contains(&carrier, sender), hop == 1, "hop {}", hop);
                for r in &recipients {
                    prop_assert!(!contains(&carrier, r.as_str()), "hop {} sees {}", hop, r);
                }
                let node = mixnet.node_mut(&address).unwrap();
                let own = node.entry().address().to_owned();
                match node.process(&carrier, net.now).unwrap() {
                    Outcome::Forward { onion, .. } => {
                        prop_assert!(hop < hops);
                        prop_assert_eq!(onion.packet().len(), mixmailer::sphinx::packet_len(2048));
                        carrier = onion.to_email(&mixmailer::message::Mailbox::parse(&own).unwrap());
                        address = onion.first_hop().to_owned();
                    }
                    _ => prop_assert_eq!(hop, hops),
                }
            }
        }
    }
}
