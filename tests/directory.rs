//! SPEC 1 (version 2): every rule of the directory document has a failing
//! case here, asserting the specific error kind and the line it names.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use curve25519_dalek::constants::{EIGHT_TORSION, X25519_BASEPOINT};
use curve25519_dalek::montgomery::MontgomeryPoint;
use mixmailer::directory::{
    DirectoryErrorKind as K, DirectoryParams, PeriodKey, DEFAULT_THRESHOLD,
};
use mixmailer::keys::{node_id, AuthoritySigningKey, NodeIdentityKey, NodeSecretKey};
use mixmailer::time::parse_directory_time;
use mixmailer::{Directory, DirectoryError, NodeEntry};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::Digest;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

// ---------------------------------------------------------------- fixtures

fn time(text: &str) -> SystemTime {
    parse_directory_time(text).unwrap()
}

/// One hour: the document's validity of two hours overlaps two periods.
const T: Duration = Duration::from_secs(3600);
/// P(2026-01-01T00:00:00Z) for T = 3600.
const P0: u64 = 1_767_225_600 / 3600;

fn now() -> SystemTime {
    time("2026-01-01T01:00:00Z")
}

fn params() -> DirectoryParams {
    DirectoryParams {
        network: "testnet".into(),
        valid_after: time("2026-01-01T00:00:00Z"),
        valid_until: time("2026-01-01T02:00:00Z"),
        hops: 3,
        payload_size: 2048,
        mean_delay: Duration::from_secs(60),
        key_period: T,
    }
}

fn authority(seed: u64) -> AuthoritySigningKey {
    AuthoritySigningKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// X25519 keys are derived once: they are slow in unoptimised test builds.
fn x25519_key(index: usize) -> [u8; 32] {
    static KEYS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..16)
            .map(|i| {
                NodeSecretKey::generate(&mut ChaCha20Rng::seed_from_u64(1000 + i)).public_key()
            })
            .collect()
    })[index]
}

fn identity(index: usize) -> [u8; 32] {
    NodeIdentityKey::generate(&mut ChaCha20Rng::seed_from_u64(2000 + index as u64)).public_key()
}

/// Node `i`'s keys for periods P0 and P0 + 1.
fn period_keys(i: usize) -> Vec<PeriodKey> {
    vec![
        PeriodKey {
            period: P0,
            key: x25519_key(2 * i),
        },
        PeriodKey {
            period: P0 + 1,
            key: x25519_key(2 * i + 1),
        },
    ]
}

/// Six nodes, two per layer.
fn nodes() -> Vec<NodeEntry> {
    (0..6)
        .map(|i| {
            NodeEntry::new(
                &format!("mix{i}"),
                i as u8 / 2 + 1,
                &format!("mix{i}@example.org"),
                identity(i),
                period_keys(i),
            )
        })
        .collect()
}

/// Line of node `i`'s node line; its key lines follow it.
fn node_line(i: usize) -> usize {
    9 + 3 * i
}

/// A valid document signed by authority 1: lines 1..=8 header, 9..=26 six
/// node lines each followed by two key lines, 27 signature.
fn document() -> String {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let doc = Directory::sign(&params(), &nodes(), &[&authority(1)]).unwrap();
            String::from_utf8(doc).unwrap()
        })
        .clone()
}

const SIGNATURE_LINE: usize = 27;

fn trusted() -> Vec<[u8; 32]> {
    vec![authority(1).public_key()]
}

fn parse(text: impl AsRef<[u8]>) -> Result<Directory, DirectoryError> {
    Directory::parse(text.as_ref(), &trusted(), DEFAULT_THRESHOLD, now())
}

/// The document with its 1-based line `line` replaced by `new`.
fn with_line(doc: &str, line: usize, new: &str) -> String {
    let mut lines: Vec<&str> = doc.lines().collect();
    lines[line - 1] = new;
    lines.join("\n") + "\n"
}

/// The document with `new` inserted as line `line`.
fn insert_line(doc: &str, line: usize, new: &str) -> String {
    let mut lines: Vec<&str> = doc.lines().collect();
    lines.insert(line - 1, new);
    lines.join("\n") + "\n"
}

/// The document without lines `range` (1-based, inclusive).
fn without_lines(doc: &str, range: std::ops::RangeInclusive<usize>) -> String {
    doc.lines()
        .enumerate()
        .filter(|(i, _)| !range.contains(&(i + 1)))
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

fn line(doc: &str, line: usize) -> &str {
    doc.lines().nth(line - 1).unwrap()
}

/// Node line `line_no` with one field (1 = nickname ... 4 = identity) replaced.
fn with_node_field(doc: &str, line_no: usize, field: usize, value: &str) -> String {
    let mut fields: Vec<&str> = line(doc, line_no).split(' ').collect();
    fields[field] = value;
    with_line(doc, line_no, &fields.join(" "))
}

fn with_identity(doc: &str, line_no: usize, identity: &[u8; 32]) -> String {
    with_node_field(doc, line_no, 4, &STANDARD.encode(identity))
}

/// A key line.
fn key_line(period: u64, key: &[u8]) -> String {
    format!("key {period} {}", STANDARD.encode(key))
}

/// Key line `line_no` with its key replaced by `key`, period kept.
fn with_key(doc: &str, line_no: usize, key: &[u8]) -> String {
    let period: u64 = line(doc, line_no)
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    with_line(doc, line_no, &key_line(period, key))
}

/// `doc` with its signature lines replaced by authority 1's signature over
/// its new signed part: for rules checked only once signatures verify.
fn resigned(doc: &str) -> String {
    use ed25519_dalek::Signer;
    let signed_len = doc.find("\nsignature ").map_or(doc.len(), |at| at + 1);
    let signed = &doc[..signed_len];
    let authority = authority(1);
    let key = ed25519_dalek::SigningKey::from_bytes(&authority.to_bytes());
    format!(
        "{signed}signature {} {}\n",
        STANDARD.encode(authority.public_key()),
        STANDARD.encode(key.sign(signed.as_bytes()).to_bytes())
    )
}

#[track_caller]
fn assert_refused(text: impl AsRef<[u8]>, line: usize, kind: K) {
    let err = parse(text).unwrap_err();
    assert_eq!((err.line(), err.kind()), (Some(line), &kind), "{err}");
}

#[track_caller]
fn assert_refused_whole(text: impl AsRef<[u8]>, kind: K) {
    let err = parse(text).unwrap_err();
    assert_eq!((err.line(), err.kind()), (None, &kind), "{err}");
}

#[track_caller]
fn assert_sign_refused(params: &DirectoryParams, nodes: &[NodeEntry], line: usize, kind: K) {
    let err = Directory::sign(params, nodes, &[&authority(1)]).unwrap_err();
    assert_eq!((err.line(), err.kind()), (Some(line), &kind), "{err}");
}

// ---------------------------------------------------------------- acceptance

#[test]
fn valid_document_parses() {
    let directory = parse(document()).unwrap();
    assert_eq!(directory.params(), &params());
    assert_eq!(directory.params().periods(), P0..=P0 + 1);
    assert_eq!(directory.nodes(), nodes());
    assert_eq!(directory.signers(), &[authority(1).public_key()]);

    let third = &directory.nodes()[2];
    assert_eq!(
        (third.nickname(), third.layer(), third.address()),
        ("mix2", 2, "mix2@example.org")
    );
    assert_eq!(third.identity(), &identity(2));
    assert_eq!(third.id(), &node_id(&identity(2)));
    let sha: [u8; 32] = sha2::Sha256::digest(identity(2)).into();
    assert_eq!(third.id(), &sha);
    assert_eq!(third.key_for(P0), Some(&x25519_key(4)));
    assert_eq!(third.key_for(P0 + 1), Some(&x25519_key(5)));
    assert_eq!(third.key_for(P0 + 2), None);
}

#[test]
fn nodes_are_found_by_id_identity_and_nickname() {
    let directory = parse(document()).unwrap();
    let id = node_id(&identity(4));
    assert_eq!(directory.node_by_id(&id).unwrap().nickname(), "mix4");
    assert_eq!(
        directory.node_by_identity(&identity(5)).unwrap().nickname(),
        "mix5"
    );
    assert_eq!(directory.node_by_nickname("mix1").unwrap().layer(), 1);
    assert!(directory.node_by_id(&identity(4)).is_none());
    assert!(directory.node_by_identity(&id).is_none());
    assert!(directory.node_by_nickname("MIX1").is_none());
}

#[test]
fn sign_writes_the_canonical_form() {
    let doc = document();
    let head = format!(
        "mixmailer-directory 2\nnetwork testnet\nvalid-after 2026-01-01T00:00:00Z\n\
         valid-until 2026-01-01T02:00:00Z\nhops 3\npayload-size 2048\nmean-delay 60\n\
         key-period 3600\nnode mix0 1 mix0@example.org {}\nkey {P0} {}\nkey {} {}\n\
         node mix1 1 ",
        STANDARD.encode(identity(0)),
        STANDARD.encode(x25519_key(0)),
        P0 + 1,
        STANDARD.encode(x25519_key(1)),
    );
    assert!(doc.starts_with(&head), "{doc}");
    assert_eq!(doc.lines().count(), SIGNATURE_LINE);
    let signature: Vec<&str> = line(&doc, SIGNATURE_LINE).split(' ').collect();
    assert_eq!(signature[0], "signature");
    assert_eq!(signature[1], STANDARD.encode(authority(1).public_key()));
    assert_eq!(STANDARD.decode(signature[2]).unwrap().len(), 64);
}

#[test]
fn signed_part_ends_with_the_last_key_line() {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let doc = document();
    let signed_len = doc.find("\nsignature ").unwrap() + 1;
    assert!(doc[..signed_len]
        .lines()
        .last()
        .unwrap()
        .starts_with("key "));
    let sig = STANDARD
        .decode(line(&doc, SIGNATURE_LINE).split(' ').nth(2).unwrap())
        .unwrap();
    let key = VerifyingKey::from_bytes(&authority(1).public_key()).unwrap();
    let sig = Signature::from_slice(&sig).unwrap();
    assert!(key.verify(&doc.as_bytes()[..signed_len], &sig).is_ok());
}

#[test]
fn boundary_values_are_accepted() {
    // Longest values, largest payload, hops 5, the largest mean delay
    // h * s <= T / 8 allows, and exactly 8 periods.
    let mut p = params();
    p.hops = 5;
    p.payload_size = 65_536;
    p.key_period = Duration::from_secs(604_800);
    p.mean_delay = Duration::from_secs(604_800 / 8 / 5);
    p.network = "a".repeat(64);
    p.valid_until = p.valid_after + Duration::from_secs(7 * 86_400);
    let periods = p.periods();
    let address = format!(
        "{}@{}.{}.{}",
        "l".repeat(64),
        "d".repeat(63),
        "e".repeat(63),
        "f".repeat(61)
    );
    assert_eq!(address.len(), 254);
    let list: Vec<NodeEntry> = (0..5)
        .map(|i| {
            let address = if i == 0 {
                address.clone()
            } else {
                format!("n{i}@example.org")
            };
            let keys = periods
                .clone()
                .zip(2 * i..)
                .map(|(period, k)| PeriodKey {
                    period,
                    key: x25519_key(k),
                })
                .collect();
            NodeEntry::new(
                &format!("{i}{}", "N".repeat(31)),
                i as u8 + 1,
                &address,
                identity(i),
                keys,
            )
        })
        .collect();
    let doc = Directory::sign(&p, &list, &[&authority(1)]).unwrap();
    let directory = Directory::parse(&doc, &trusted(), 1, p.valid_after).unwrap();
    assert_eq!(directory.params(), &p);
    assert_eq!(directory.nodes(), list);

    // Eight one-hour periods, the smallest key period, hops 2, no delay.
    let mut p = params();
    p.hops = 2;
    p.payload_size = 1024;
    p.mean_delay = Duration::ZERO;
    p.valid_until = p.valid_after + Duration::from_secs(8 * 3600);
    assert_eq!(p.periods().count(), 8);
    let list: Vec<NodeEntry> = (0..2)
        .map(|i| {
            let keys = p
                .periods()
                .zip(8 * i..)
                .map(|(period, k)| PeriodKey {
                    period,
                    key: x25519_key(k),
                })
                .collect();
            NodeEntry::new(
                &format!("n{i}"),
                i as u8 + 1,
                &format!("n{i}@example.org"),
                identity(i),
                keys,
            )
        })
        .collect();
    let doc = Directory::sign(&p, &list, &[&authority(1)]).unwrap();
    assert_eq!(parse(doc).unwrap().nodes(), list);
}

#[test]
fn periods_overlap_the_validity_not_more() {
    let mut p = params();
    // 00:30 to 01:30 overlaps the periods starting at 00:00 and 01:00.
    p.valid_after = time("2026-01-01T00:30:00Z");
    p.valid_until = time("2026-01-01T01:30:00Z");
    assert_eq!(p.periods(), P0..=P0 + 1);
    // valid-until is exclusive: 00:00 to 01:00 is period P0 alone.
    p.valid_after = time("2026-01-01T00:00:00Z");
    p.valid_until = time("2026-01-01T01:00:00Z");
    assert_eq!(p.periods(), P0..=P0);
}

// ---------------------------------------------------------------- known answer

/// A directory from fixed seeds and times, byte for byte: a change to the
/// writer, to base64, or to Ed25519 signing (RFC 8032 signatures are
/// deterministic) in a dependency update changes these bytes and fails here.
#[test]
fn known_answer_directory() {
    let authority = AuthoritySigningKey::from_bytes([0x11; 32]);
    let params = DirectoryParams {
        network: "kat".into(),
        valid_after: time("2026-03-01T00:00:00Z"),
        valid_until: time("2026-03-01T12:00:00Z"),
        hops: 2,
        payload_size: 1024,
        mean_delay: Duration::from_secs(30),
        key_period: Duration::from_secs(21_600),
    };
    let node = |i: u8| {
        let identity = NodeIdentityKey::from_bytes([0x20 + i; 32]);
        let keys = params
            .periods()
            .zip(0u8..)
            .map(|(period, k)| PeriodKey {
                period,
                key: NodeSecretKey::from_bytes([0x40 + 2 * i + k; 32]).public_key(),
            })
            .collect();
        NodeEntry::new(
            &format!("kat{i}"),
            i + 1,
            &format!("kat{i}@example.org"),
            identity.public_key(),
            keys,
        )
    };
    let doc = Directory::sign(&params, &[node(0), node(1)], &[&authority]).unwrap();
    let expected = "\
mixmailer-directory 2
network kat
valid-after 2026-03-01T00:00:00Z
valid-until 2026-03-01T12:00:00Z
hops 2
payload-size 1024
mean-delay 30
key-period 21600
node kat0 1 kat0@example.org TtMvY7818O7vyyXyii4fvchzrig1ZxsMlGD18S5FVqg=
key 82052 17XoHTNuV4sTuNcG6C0GHjA4yWvOZs3PUNVmuW3buhA=
key 82053 ehpOcJvwhaxJSroEabmx7aCrH3ixaqu3n/7akGI+hSI=
node kat1 2 kat1@example.org iEuIV/TqoWE8YVBNs01L6vNGUXoOMd483dTZtCAdnQs=
key 82052 EyxEK+AQ+9V+cmAzKKp25x/MwVA6riGTJ9FNnJmT9HI=
key 82053 ze/YeDqRtEZkDi4flVmds15ISgBxvSGCs7YNCBLBDHA=
signature 0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc= 63aWPEWHAXuZiBR2oOipD49y/e2jzIO2alRGtcDuZvLvvr3juhfpYHMJXzgU6WzLyz2tjoFRiF3j1lyZ9vXaDQ==
";
    assert_eq!(String::from_utf8(doc.clone()).unwrap(), expected);
    let sha: [u8; 32] = sha2::Sha256::digest(&doc).into();
    assert_eq!(
        hex(&sha),
        "c9b6043c759783ebe23aff280d29d909e6095c9deccbdd8a4a67c06f11e9d29b"
    );
    let parsed = Directory::parse(&doc, &[authority.public_key()], 1, params.valid_after).unwrap();
    assert_eq!(parsed.nodes(), [node(0), node(1)]);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------- whole document

#[test]
fn document_over_8_mib_is_refused() {
    let doc = document() + &"x".repeat(8 * 1024 * 1024);
    assert_refused_whole(
        &doc,
        K::TooLarge {
            size: doc.len(),
            max: 8 * 1024 * 1024,
        },
    );
}

#[test]
fn more_than_10000_node_lines_are_refused_before_anything_costly() {
    let mut text = without_lines(&document(), 9..=SIGNATURE_LINE);
    for _ in 0..10_001 {
        text.push_str("node x 1 x@example.org AAAA\n");
    }
    assert_refused(text, 8 + 10_001, K::TooManyNodes { max: 10_000 });
}

#[test]
fn invalid_utf8_is_refused() {
    let mut doc = document().into_bytes();
    let at = doc.windows(7).position(|w| w == b"testnet").unwrap();
    doc[at] = 0xff;
    assert_refused(doc, 2, K::NotUtf8);
}

#[test]
fn carriage_return_is_refused() {
    assert_refused(with_line(&document(), 5, "hops 3\r"), 5, K::CarriageReturn);
}

#[test]
fn missing_final_newline_is_refused() {
    let doc = document();
    assert_refused(
        doc.trim_end_matches('\n'),
        SIGNATURE_LINE,
        K::MissingFinalNewline,
    );
}

#[test]
fn empty_document_is_refused() {
    assert_refused(
        "",
        1,
        K::MissingLine {
            expected: "mixmailer-directory 2",
        },
    );
}

// ---------------------------------------------------------------- line structure

#[test]
fn version_1_document_is_refused_by_name() {
    let v1 = "mixmailer-directory 1\nnetwork testnet\nvalid-after 2026-01-01T00:00:00Z\n\
              valid-until 2026-02-01T00:00:00Z\nhops 1\npayload-size 2048\nmean-delay 60\n\
              node mix0 1 mix0@example.org AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let err = parse(v1).unwrap_err();
    assert_eq!(err.line(), Some(1));
    assert_eq!(
        err.kind(),
        &K::UnsupportedVersion {
            document: "mixmailer-directory",
            found: "1".into(),
            required: "2",
        }
    );
    let message = err.to_string();
    assert!(message.contains("version \"1\""), "{message}");
    assert!(message.contains("version 2 is required"), "{message}");
}

#[test]
fn unknown_version_is_refused() {
    assert_refused(
        with_line(&document(), 1, "mixmailer-directory 3"),
        1,
        K::UnsupportedVersion {
            document: "mixmailer-directory",
            found: "3".into(),
            required: "2",
        },
    );
}

#[test]
fn wrong_magic_is_refused() {
    assert_refused(
        with_line(&document(), 1, "mixmailer-descriptor 1"),
        1,
        K::BadMagic {
            expected: "mixmailer-directory 2",
            found: "mixmailer-descriptor".into(),
        },
    );
}

#[test]
fn double_space_is_refused() {
    assert_refused(
        with_line(&document(), 5, "hops  3"),
        5,
        K::BadSpacing { column: 6 },
    );
}

#[test]
fn leading_space_is_refused() {
    assert_refused(
        with_line(&document(), 6, " payload-size 2048"),
        6,
        K::BadSpacing { column: 1 },
    );
}

#[test]
fn trailing_space_is_refused() {
    let doc = document();
    let key = format!("{} ", line(&doc, 10));
    let column = key.len();
    assert_refused(with_line(&doc, 10, &key), 10, K::BadSpacing { column });
}

#[test]
fn tab_separated_fields_are_refused() {
    assert_refused(
        with_line(&document(), 5, "hops\t3"),
        5,
        K::UnexpectedLine {
            expected: "hops",
            found: "hops\t3".into(),
        },
    );
}

#[test]
fn header_lines_out_of_order_are_refused() {
    let doc = document();
    let swapped = with_line(&with_line(&doc, 7, line(&doc, 8)), 8, line(&doc, 7));
    assert_refused(
        swapped,
        7,
        K::UnexpectedLine {
            expected: "mean-delay",
            found: "key-period".into(),
        },
    );
}

#[test]
fn missing_key_period_line_is_refused() {
    assert_refused(
        without_lines(&document(), 8..=8),
        8,
        K::UnexpectedLine {
            expected: "key-period",
            found: "node".into(),
        },
    );
}

#[test]
fn truncated_header_is_refused() {
    assert_refused(
        without_lines(&document(), 6..=SIGNATURE_LINE),
        6,
        K::MissingLine {
            expected: "payload-size",
        },
    );
}

#[test]
fn wrong_field_counts_are_refused() {
    let doc = document();
    assert_refused(
        with_line(&doc, 8, "key-period"),
        8,
        K::FieldCount {
            keyword: "key-period",
            expected: 2,
            found: 1,
        },
    );
    assert_refused(
        with_line(&doc, 9, &format!("{} extra", line(&doc, 9))),
        9,
        K::FieldCount {
            keyword: "node",
            expected: 5,
            found: 6,
        },
    );
    assert_refused(
        with_line(&doc, 10, &format!("key {P0}")),
        10,
        K::FieldCount {
            keyword: "key",
            expected: 3,
            found: 2,
        },
    );
    assert_refused(
        with_line(
            &doc,
            SIGNATURE_LINE,
            &format!("{} x", line(&doc, SIGNATURE_LINE)),
        ),
        SIGNATURE_LINE,
        K::FieldCount {
            keyword: "signature",
            expected: 3,
            found: 4,
        },
    );
}

#[test]
fn document_without_nodes_is_refused() {
    let doc = document();
    assert_refused(without_lines(&doc, 9..=26), 9, K::NoNodes);
    assert_refused(without_lines(&doc, 9..=SIGNATURE_LINE), 9, K::NoNodes);
}

#[test]
fn key_line_before_any_node_is_refused() {
    assert_refused(
        insert_line(&document(), 9, &key_line(P0, &x25519_key(15))),
        9,
        K::UnexpectedLine {
            expected: "node",
            found: "key".into(),
        },
    );
}

#[test]
fn unknown_line_among_nodes_is_refused() {
    assert_refused(
        insert_line(&document(), 12, "relay mix9"),
        12,
        K::UnexpectedLine {
            expected: "node, key or signature",
            found: "relay".into(),
        },
    );
}

#[test]
fn document_without_signatures_is_refused() {
    let doc = without_lines(&document(), SIGNATURE_LINE..=SIGNATURE_LINE);
    assert_refused(doc, SIGNATURE_LINE, K::NoSignatures);
}

#[test]
fn text_after_the_signatures_is_refused() {
    let doc = document();
    assert_refused(
        format!("{doc}{}\n", line(&doc, 9)),
        SIGNATURE_LINE + 1,
        K::TextAfterSignatures {
            found: "node".into(),
        },
    );
    assert_refused(
        format!("{doc}\n"),
        SIGNATURE_LINE + 1,
        K::TextAfterSignatures { found: "".into() },
    );
}

// ---------------------------------------------------------------- header values

#[test]
fn bad_network_names_are_refused() {
    for bad in ["Testnet", "test_net", "tést"] {
        assert_refused(
            with_line(&document(), 2, &format!("network {bad}")),
            2,
            K::BadNetworkName { found: bad.into() },
        );
    }
    // Long values are shortened in the error.
    assert_refused(
        with_line(&document(), 2, &format!("network {}", "a".repeat(65))),
        2,
        K::BadNetworkName {
            found: format!("{}...", "a".repeat(64)),
        },
    );
}

#[test]
fn bad_times_are_refused() {
    for bad in [
        "2026-01-01t00:00:00Z",
        "2026-01-01T00:00:00",
        "2026-02-30T00:00:00Z",
        "2026-01-01T00:00:00+00:00",
    ] {
        assert_refused(
            with_line(&document(), 3, &format!("valid-after {bad}")),
            3,
            K::BadTime {
                field: "valid-after",
                found: bad.into(),
            },
        );
    }
}

#[test]
fn validity_must_increase() {
    assert_refused(
        with_line(&document(), 4, "valid-until 2026-01-01T00:00:00Z"),
        4,
        K::ValidityNotIncreasing {
            valid_after: params().valid_after,
            valid_until: params().valid_after,
        },
    );
}

#[test]
fn validity_over_7_days_is_refused() {
    let doc = with_line(&document(), 4, "valid-until 2026-01-08T00:00:01Z");
    assert_refused(
        doc,
        4,
        K::ValidityTooLong {
            valid_after: params().valid_after,
            valid_until: time("2026-01-08T00:00:01Z"),
            max: Duration::from_secs(7 * 86_400),
        },
    );
}

#[test]
fn hops_outside_2_to_5_are_refused() {
    for found in [0, 1, 6, 255, 256] {
        assert_refused(
            with_line(&document(), 5, &format!("hops {found}")),
            5,
            K::HopsOutOfRange { found },
        );
    }
}

#[test]
fn numbers_have_one_spelling() {
    let doc = document();
    for bad in ["+3", "-3", "3.0", "three", "0x3"] {
        assert_refused(
            with_line(&doc, 5, &format!("hops {bad}")),
            5,
            K::InvalidNumber {
                field: "hops",
                found: bad.into(),
            },
        );
    }
    assert_refused(
        with_line(&doc, 7, "mean-delay 060"),
        7,
        K::LeadingZero {
            field: "mean-delay",
            found: "060".into(),
        },
    );
    assert_refused(
        with_line(&doc, 6, "payload-size 99999999999999999999"),
        6,
        K::NumberTooLarge {
            field: "payload-size",
            found: "99999999999999999999".into(),
        },
    );
}

#[test]
fn payload_size_rules() {
    let doc = document();
    for found in [1008, 65_552] {
        assert_refused(
            with_line(&doc, 6, &format!("payload-size {found}")),
            6,
            K::PayloadSizeOutOfRange { found },
        );
    }
    assert_refused(
        with_line(&doc, 6, "payload-size 2050"),
        6,
        K::PayloadSizeNotMultipleOf16 { found: 2050 },
    );
}

#[test]
fn mean_delay_over_a_day_is_refused() {
    assert_refused(
        with_line(&document(), 7, "mean-delay 86401"),
        7,
        K::MeanDelayOutOfRange { found: 86_401 },
    );
}

#[test]
fn key_period_outside_an_hour_to_a_week_is_refused() {
    for found in [0, 3599, 604_801] {
        assert_refused(
            with_line(&document(), 8, &format!("key-period {found}")),
            8,
            K::KeyPeriodOutOfRange { found },
        );
    }
}

#[test]
fn delays_must_fit_an_eighth_of_the_key_period() {
    // 3 hops x 150 s = 450 s = 3600 / 8 is the most allowed.
    let doc = with_line(&document(), 7, "mean-delay 150");
    assert_eq!(
        parse(doc).unwrap_err().kind(),
        &K::InvalidSignature,
        "150 s passes every rule"
    );
    assert_refused(
        with_line(&document(), 7, "mean-delay 151"),
        8,
        K::DelaysExceedKeyPeriod {
            hops: 3,
            mean_delay: 151,
            key_period: 3600,
        },
    );
}

#[test]
fn more_than_8_periods_are_refused() {
    assert_refused(
        with_line(&document(), 4, "valid-until 2026-01-01T08:00:01Z"),
        8,
        K::TooManyPeriods {
            first: P0,
            last: P0 + 8,
            max: 8,
        },
    );
}

// ---------------------------------------------------------------- node lines

#[test]
fn bad_nicknames_are_refused() {
    for bad in ["mix.0", &"n".repeat(33), "mixé"] {
        assert_refused(
            with_node_field(&document(), 9, 1, bad),
            9,
            K::BadNickname { found: bad.into() },
        );
    }
}

#[test]
fn duplicate_nickname_is_refused() {
    assert_refused(
        with_node_field(&document(), node_line(3), 1, "mix0"),
        node_line(3),
        K::DuplicateNickname {
            nickname: "mix0".into(),
            first_line: 9,
        },
    );
}

#[test]
fn layer_outside_1_to_hops_is_refused() {
    for found in [0, 4] {
        assert_refused(
            with_node_field(&document(), 9, 2, &found.to_string()),
            9,
            K::LayerOutOfRange { found, hops: 3 },
        );
    }
}

#[test]
fn empty_layer_is_refused() {
    let doc = with_node_field(&document(), node_line(2), 2, "1");
    let doc = with_node_field(&doc, node_line(3), 2, "3");
    assert_refused(doc, 5, K::EmptyLayer { layer: 2 });
}

#[test]
fn bad_addresses_are_refused() {
    let doc = document();
    let long = format!("{}@example.org", "a".repeat(243));
    assert_refused(
        with_node_field(&doc, 9, 3, &long),
        9,
        K::AddressTooLong { length: 255 },
    );
    assert_refused(
        with_node_field(&doc, 9, 3, "mïx@example.org"),
        9,
        K::AddressNotAscii {
            found: "mïx@example.org".into(),
        },
    );
    assert_refused(
        with_node_field(&doc, 9, 3, "mix.example.org"),
        9,
        K::AddressAtSign {
            found: "mix.example.org".into(),
        },
    );
    assert_refused(
        with_node_field(&doc, 9, 3, "a..b@example.org"),
        9,
        K::AddressBadLocalPart {
            found: "a..b".into(),
        },
    );
    assert_refused(
        with_node_field(&doc, 9, 3, "mix@[192.0.2.1]"),
        9,
        K::AddressBadDomain {
            found: "[192.0.2.1]".into(),
        },
    );
}

#[test]
fn duplicate_address_is_refused_whatever_the_domain_case() {
    assert_refused(
        with_node_field(&document(), node_line(1), 3, "mix0@EXAMPLE.org"),
        node_line(1),
        K::DuplicateAddress {
            address: "mix0@EXAMPLE.org".into(),
            first_line: 9,
        },
    );
}

#[test]
fn identity_must_be_32_bytes_of_base64() {
    let doc = document();
    assert_refused(
        with_node_field(&doc, 9, 4, "not-base64!"),
        9,
        K::BadBase64 {
            field: "identity",
            found: "not-base64!".into(),
        },
    );
    assert_refused(
        with_node_field(&doc, 9, 4, &STANDARD.encode([7u8; 31])),
        9,
        K::WrongLength {
            field: "identity",
            expected: 32,
            found: 31,
        },
    );
}

#[test]
fn identity_off_the_curve_is_refused() {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let off_curve = (2u8..)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            bytes
        })
        .find(|b| CompressedEdwardsY(*b).decompress().is_none())
        .unwrap();
    assert_refused(
        with_identity(&document(), 9, &off_curve),
        9,
        K::IdentityNotAPoint,
    );
}

#[test]
fn non_canonical_identity_is_refused() {
    // y = 1 spelled as p + 1, and y = 1 (x = 0) with the sign bit set.
    let mut p_plus_1 = [0xff; 32];
    p_plus_1[0] = 0xee;
    p_plus_1[31] = 0x7f;
    let mut negative_zero = [0u8; 32];
    negative_zero[0] = 1;
    negative_zero[31] = 0x80;
    for identity in [p_plus_1, negative_zero] {
        assert_refused(
            with_identity(&document(), 9, &identity),
            9,
            K::IdentityNotCanonical,
        );
    }
}

#[test]
fn small_order_identities_are_refused() {
    for point in EIGHT_TORSION {
        let identity = point.compress().to_bytes();
        assert_refused(
            with_identity(&document(), 12, &identity),
            12,
            K::IdentitySmallOrder,
        );
    }
}

#[test]
fn duplicate_identity_is_refused() {
    assert_refused(
        with_identity(&document(), node_line(4), &identity(1)),
        node_line(4),
        K::DuplicateIdentity { first_line: 12 },
    );
}

// ---------------------------------------------------------------- key lines

#[test]
fn key_for_a_period_outside_the_validity_is_refused() {
    let doc = document();
    assert_refused(
        with_line(&doc, 10, &key_line(P0 - 1, &x25519_key(0))),
        10,
        K::KeyPeriodNotOverlapping {
            found: P0 - 1,
            first: P0,
            last: P0 + 1,
        },
    );
    assert_refused(
        insert_line(&doc, 12, &key_line(P0 + 2, &x25519_key(15))),
        12,
        K::KeyPeriodNotOverlapping {
            found: P0 + 2,
            first: P0,
            last: P0 + 1,
        },
    );
}

#[test]
fn key_periods_must_increase() {
    let doc = document();
    // Swapped order: the first key line skips period P0.
    let swapped = with_line(&with_line(&doc, 10, line(&doc, 11)), 11, line(&doc, 10));
    assert_refused(swapped, 10, K::MissingPeriodKey { period: P0 });
    // A second key for a period.
    assert_refused(
        insert_line(&doc, 12, &key_line(P0 + 1, &x25519_key(15))),
        12,
        K::KeyPeriodNotIncreasing {
            found: P0 + 1,
            previous: P0 + 1,
        },
    );
}

#[test]
fn missing_period_keys_are_refused() {
    let doc = document();
    // The first period skipped.
    assert_refused(
        without_lines(&doc, 10..=10),
        10,
        K::MissingPeriodKey { period: P0 },
    );
    // The last period missing: named where its line should be.
    assert_refused(
        without_lines(&doc, 11..=11),
        11,
        K::MissingPeriodKey { period: P0 + 1 },
    );
    // The last node's last key missing, before the signature.
    assert_refused(
        without_lines(&doc, 26..=26),
        26,
        K::MissingPeriodKey { period: P0 + 1 },
    );
    // A node without any key line.
    assert_refused(
        without_lines(&doc, 13..=14),
        13,
        K::MissingPeriodKey { period: P0 },
    );
}

#[test]
fn key_period_must_be_a_number() {
    assert_refused(
        with_line(
            &document(),
            10,
            &format!("key 0{P0} {}", STANDARD.encode(x25519_key(0))),
        ),
        10,
        K::LeadingZero {
            field: "period",
            found: format!("0{P0}"),
        },
    );
}

#[test]
fn x25519_key_must_be_32_bytes_of_base64() {
    let doc = document();
    for (bad, found) in [("AAAA".to_owned(), 3), (STANDARD.encode([9u8; 33]), 33)] {
        assert_refused(
            with_line(&doc, 10, &format!("key {P0} {bad}")),
            10,
            K::WrongLength {
                field: "x25519-key",
                expected: 32,
                found,
            },
        );
    }
    // Unpadded, or with one of the two unused bits of the last character set.
    let key = STANDARD.encode(x25519_key(0));
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut non_canonical = key.clone().into_bytes();
    let last = ALPHABET
        .iter()
        .position(|&c| c == non_canonical[42])
        .unwrap();
    non_canonical[42] = ALPHABET[last | 1];
    let non_canonical = String::from_utf8(non_canonical).unwrap();
    for bad in [key.trim_end_matches('='), &non_canonical] {
        assert_refused(
            with_line(&doc, 10, &format!("key {P0} {bad}")),
            10,
            K::BadBase64 {
                field: "x25519-key",
                found: bad.into(),
            },
        );
    }
}

#[test]
fn all_zero_key_is_refused() {
    assert_refused(with_key(&document(), 13, &[0; 32]), 13, K::KeyAllZero);
}

#[test]
fn low_order_keys_are_refused() {
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut keys = vec![one];
    keys.extend(
        EIGHT_TORSION[1..]
            .iter()
            .map(|t| t.to_montgomery().to_bytes())
            .filter(|u| u.iter().any(|&b| b != 0)),
    );
    assert!(keys.len() >= 3);
    for key in keys {
        assert_refused(
            resigned(&with_key(&document(), 13, &key)),
            13,
            K::KeyLowOrder,
        );
    }
}

#[test]
fn key_with_torsion_component_is_refused() {
    let valid = MontgomeryPoint(x25519_key(3)).to_edwards(0).unwrap();
    for torsion in &EIGHT_TORSION[1..] {
        let key = (valid + torsion).to_montgomery().to_bytes();
        assert_refused(
            resigned(&with_key(&document(), 14, &key)),
            14,
            K::KeyHasTorsion,
        );
    }
}

#[test]
fn key_on_the_twist_is_refused() {
    let twist = (2u8..)
        .map(|u| {
            let mut key = [0u8; 32];
            key[0] = u;
            key
        })
        .find(|k| MontgomeryPoint(*k).to_edwards(0).is_none())
        .unwrap();
    assert_refused(
        resigned(&with_key(&document(), 10, &twist)),
        10,
        K::KeyNotOnCurve,
    );
}

/// The subgroup check costs some 0.1 ms per key, seconds for 80 000 keys:
/// it runs only once a trusted signature has verified, so a forged
/// document is refused for the price of one signature check.
#[test]
fn subgroup_check_runs_after_the_signatures() {
    let low_order = EIGHT_TORSION[1].to_montgomery().to_bytes();
    let forged = with_key(&document(), 13, &low_order);
    assert_refused(&forged, SIGNATURE_LINE, K::InvalidSignature);
    assert_refused(resigned(&forged), 13, K::KeyLowOrder);
    // The first bad key in document order is named.
    let two_bad = with_key(&forged, 20, &EIGHT_TORSION[2].to_montgomery().to_bytes());
    assert_refused(resigned(&two_bad), 13, K::KeyLowOrder);
    // Add_signature checks keys as well as the signatures already there.
    let err = Directory::add_signature(resigned(&forged).as_bytes(), &authority(2)).unwrap_err();
    assert_eq!((err.line(), err.kind()), (Some(13), &K::KeyLowOrder));
}

#[test]
fn non_canonical_key_is_refused() {
    // p + 9 is the base point's u-coordinate, spelled unreduced.
    let mut p_plus_9 = [0xff; 32];
    p_plus_9[0] = 0xed + 9;
    p_plus_9[31] = 0x7f;
    let mut high_bit = X25519_BASEPOINT.to_bytes();
    high_bit[31] |= 0x80;
    let mut high_bit_valid = x25519_key(0);
    high_bit_valid[31] |= 0x80;
    for key in [p_plus_9, high_bit, high_bit_valid] {
        assert_refused(with_key(&document(), 10, &key), 10, K::KeyNotCanonical);
    }
}

#[test]
fn keys_are_unique_across_the_document() {
    let doc = document();
    // Another node's key.
    assert_refused(
        with_key(&doc, 20, &x25519_key(1)),
        20,
        K::DuplicateKey { first_line: 11 },
    );
    // The same node's key of the other period.
    assert_refused(
        with_key(&doc, 11, &x25519_key(0)),
        11,
        K::DuplicateKey { first_line: 10 },
    );
}

// ---------------------------------------------------------------- signatures

#[test]
fn signature_fields_are_checked() {
    let doc = document();
    let fields: Vec<&str> = line(&doc, SIGNATURE_LINE).split(' ').collect();
    assert_refused(
        with_line(
            &doc,
            SIGNATURE_LINE,
            &format!("signature {} {}", STANDARD.encode([1u8; 31]), fields[2]),
        ),
        SIGNATURE_LINE,
        K::WrongLength {
            field: "authority-key",
            expected: 32,
            found: 31,
        },
    );
    assert_refused(
        with_line(
            &doc,
            SIGNATURE_LINE,
            &format!("signature {} {}", fields[1], STANDARD.encode([1u8; 63])),
        ),
        SIGNATURE_LINE,
        K::WrongLength {
            field: "sig",
            expected: 64,
            found: 63,
        },
    );
    assert_refused(
        with_line(
            &doc,
            SIGNATURE_LINE,
            &format!("signature {} ???", fields[1]),
        ),
        SIGNATURE_LINE,
        K::BadBase64 {
            field: "sig",
            found: "???".into(),
        },
    );
}

#[test]
fn same_authority_signing_twice_is_refused() {
    let doc = document();
    assert_refused(
        format!("{doc}{}\n", line(&doc, SIGNATURE_LINE)),
        SIGNATURE_LINE + 1,
        K::DuplicateSignature {
            first_line: SIGNATURE_LINE,
        },
    );
}

#[test]
fn flipped_byte_anywhere_in_the_signed_part_is_rejected() {
    // Two nodes and one period keep this fast: every flip costs a full parse.
    let mut p = params();
    p.hops = 2;
    p.valid_until = p.valid_after + T;
    let list: Vec<NodeEntry> = (0..2)
        .map(|i| {
            let keys = vec![PeriodKey {
                period: P0,
                key: x25519_key(i),
            }];
            NodeEntry::new(
                &format!("n{i}"),
                i as u8 + 1,
                &format!("n{i}@example.org"),
                identity(i),
                keys,
            )
        })
        .collect();
    let doc = Directory::sign(&p, &list, &[&authority(1)]).unwrap();
    let signed_len = doc.windows(11).position(|w| w == b"\nsignature ").unwrap() + 1;
    let now = p.valid_after;
    assert!(Directory::parse(&doc, &trusted(), 1, now).is_ok());
    for at in 0..signed_len {
        let mut tampered = doc.clone();
        tampered[at] ^= 0x01;
        assert!(
            Directory::parse(&tampered, &trusted(), 1, now).is_err(),
            "flip at byte {at} accepted"
        );
    }
}

#[test]
fn changed_value_with_valid_syntax_fails_the_signature() {
    assert_refused(
        with_line(&document(), 7, "mean-delay 61"),
        SIGNATURE_LINE,
        K::InvalidSignature,
    );
}

#[test]
fn trusted_signature_over_other_bytes_is_rejected() {
    let mut other = params();
    other.network = "othernet".into();
    let other_doc = Directory::sign(&other, &nodes(), &[&authority(1)]).unwrap();
    let other_doc = String::from_utf8(other_doc).unwrap();
    let doc = with_line(
        &document(),
        SIGNATURE_LINE,
        line(&other_doc, SIGNATURE_LINE),
    );
    assert_refused(doc, SIGNATURE_LINE, K::InvalidSignature);
}

#[test]
fn threshold_2_of_3_authorities() {
    let [a, b, c] = [authority(1), authority(2), authority(3)];
    let trusted = [a.public_key(), b.public_key(), c.public_key()];
    let two = Directory::sign(&params(), &nodes(), &[&a, &c]).unwrap();
    let directory = Directory::parse(&two, &trusted, 2, now()).unwrap();
    assert_eq!(directory.signers(), &[a.public_key(), c.public_key()]);
    let err = Directory::parse(&two, &trusted, 3, now()).unwrap_err();
    assert_eq!(
        (err.line(), err.kind()),
        (
            None,
            &K::NotEnoughSignatures {
                valid: 2,
                needed: 3
            }
        )
    );
    let one = Directory::sign(&params(), &nodes(), &[&b]).unwrap();
    let err = Directory::parse(&one, &trusted, 2, now()).unwrap_err();
    assert_eq!(
        err.kind(),
        &K::NotEnoughSignatures {
            valid: 1,
            needed: 2
        }
    );
}

#[test]
fn untrusted_signatures_are_ignored() {
    let [a, stranger] = [authority(1), authority(9)];
    let doc = Directory::sign(&params(), &nodes(), &[&stranger, &a]).unwrap();
    assert_eq!(parse(&doc).unwrap().signers(), &[a.public_key()]);

    // A stranger's garbage signature is not even checked.
    let doc = String::from_utf8(doc).unwrap();
    let garbage = format!(
        "signature {} {}",
        STANDARD.encode(stranger.public_key()),
        STANDARD.encode([0x55u8; 64])
    );
    assert!(parse(with_line(&doc, SIGNATURE_LINE, &garbage)).is_ok());

    let only_stranger = Directory::sign(&params(), &nodes(), &[&stranger]).unwrap();
    assert_refused_whole(
        only_stranger,
        K::NotEnoughSignatures {
            valid: 0,
            needed: 1,
        },
    );
}

#[test]
fn threshold_arguments_are_checked() {
    let doc = document();
    let err = Directory::parse(doc.as_bytes(), &trusted(), 0, now()).unwrap_err();
    assert_eq!((err.line(), err.kind()), (None, &K::ZeroThreshold));
    // The same key twice is one authority.
    let twice = [authority(1).public_key(), authority(1).public_key()];
    let err = Directory::parse(doc.as_bytes(), &twice, 2, now()).unwrap_err();
    assert_eq!(
        err.kind(),
        &K::ThresholdAboveTrusted {
            threshold: 2,
            trusted: 1
        }
    );
    let weak = [authority(1).public_key(), [0u8; 32]];
    let err = Directory::parse(doc.as_bytes(), &weak, 1, now()).unwrap_err();
    assert_eq!(err.kind(), &K::InvalidTrustedKey { index: 1 });
}

// ---------------------------------------------------------------- validity window

#[test]
fn document_before_valid_after_is_refused() {
    let early = time("2025-12-31T23:59:59Z");
    let err = Directory::parse(document().as_bytes(), &trusted(), 1, early).unwrap_err();
    assert_eq!(
        (err.line(), err.kind()),
        (
            None,
            &K::NotYetValid {
                now: early,
                valid_after: params().valid_after
            }
        )
    );
    assert!(Directory::parse(document().as_bytes(), &trusted(), 1, params().valid_after).is_ok());
}

#[test]
fn document_at_or_after_valid_until_is_refused() {
    let until = params().valid_until;
    let err = Directory::parse(document().as_bytes(), &trusted(), 1, until).unwrap_err();
    assert_eq!(
        err.kind(),
        &K::Expired {
            now: until,
            valid_until: until
        }
    );
    let just_before = until - Duration::from_nanos(1);
    assert!(Directory::parse(document().as_bytes(), &trusted(), 1, just_before).is_ok());
}

// ---------------------------------------------------------------- writing side

#[test]
fn sign_refuses_what_parse_would_refuse() {
    let mut list = nodes();
    list[2] = NodeEntry::new("mix 2", 2, "mix2@example.org", identity(2), period_keys(2));
    assert_sign_refused(
        &params(),
        &list,
        node_line(2),
        K::BadNickname {
            found: "mix 2".into(),
        },
    );

    let mut list = nodes();
    let mut keys = period_keys(5);
    keys[1].key = EIGHT_TORSION[1].to_montgomery().to_bytes();
    list[5] = NodeEntry::new("mix5", 3, "mix5@example.org", identity(5), keys);
    assert_sign_refused(&params(), &list, 26, K::KeyLowOrder);

    let mut list = nodes();
    list[1] = NodeEntry::new("mix1", 1, "mix1@example.org", identity(0), period_keys(1));
    assert_sign_refused(&params(), &list, 12, K::DuplicateIdentity { first_line: 9 });

    let mut p = params();
    p.hops = 4;
    assert_sign_refused(&p, &nodes(), 5, K::EmptyLayer { layer: 4 });

    let mut p = params();
    p.hops = 1;
    assert_sign_refused(&p, &nodes(), 5, K::HopsOutOfRange { found: 1 });

    assert_sign_refused(&params(), &[], 9, K::NoNodes);
}

#[test]
fn sign_refuses_keys_that_do_not_match_the_periods() {
    // Keys for one period less than the validity overlaps.
    let mut list = nodes();
    let mut keys = period_keys(1);
    keys.pop();
    list[1] = NodeEntry::new("mix1", 1, "mix1@example.org", identity(1), keys);
    assert_sign_refused(&params(), &list, 14, K::MissingPeriodKey { period: P0 + 1 });

    // Keys in decreasing order.
    let mut list = nodes();
    let mut keys = period_keys(0);
    keys.reverse();
    list[0] = NodeEntry::new("mix0", 1, "mix0@example.org", identity(0), keys);
    assert_sign_refused(&params(), &list, 10, K::MissingPeriodKey { period: P0 });
}

#[test]
fn sign_refuses_values_the_format_cannot_hold() {
    let mut p = params();
    p.valid_after += Duration::from_millis(500);
    assert_sign_refused(
        &p,
        &nodes(),
        3,
        K::UnrepresentableTime {
            field: "valid-after",
        },
    );
    let mut p = params();
    p.valid_after = std::time::UNIX_EPOCH - Duration::from_secs(1);
    assert_sign_refused(
        &p,
        &nodes(),
        3,
        K::UnrepresentableTime {
            field: "valid-after",
        },
    );
    let mut p = params();
    p.mean_delay = Duration::from_millis(1500);
    assert_sign_refused(&p, &nodes(), 7, K::MeanDelayNotWholeSeconds);
    let mut p = params();
    p.key_period = Duration::from_millis(3_600_500);
    assert_sign_refused(&p, &nodes(), 8, K::KeyPeriodNotWholeSeconds);
    let mut p = params();
    p.key_period = Duration::from_secs(60);
    assert_sign_refused(&p, &nodes(), 8, K::KeyPeriodOutOfRange { found: 60 });
}

#[test]
fn sign_needs_distinct_authorities() {
    let err = Directory::sign(&params(), &nodes(), &[]).unwrap_err();
    assert_eq!(
        (err.line(), err.kind()),
        (Some(SIGNATURE_LINE), &K::NoSignatures)
    );
    let a = authority(1);
    let err = Directory::sign(&params(), &nodes(), &[&a, &authority(2), &a]).unwrap_err();
    assert_eq!(
        (err.line(), err.kind()),
        (
            Some(SIGNATURE_LINE + 2),
            &K::DuplicateSignature {
                first_line: SIGNATURE_LINE
            }
        )
    );
}

#[test]
fn added_signature_counts_towards_the_threshold() {
    let [a, b] = [authority(1), authority(2)];
    let doc = document();
    let both = Directory::add_signature(doc.as_bytes(), &b).unwrap();
    assert!(both.starts_with(doc.as_bytes()));
    let trusted = [a.public_key(), b.public_key()];
    let directory = Directory::parse(&both, &trusted, 2, now()).unwrap();
    assert_eq!(directory.signers(), &trusted);
    // Signing together or one after another gives the same bytes.
    assert_eq!(
        both,
        Directory::sign(&params(), &nodes(), &[&a, &b]).unwrap()
    );
}

#[test]
fn adding_a_signature_twice_is_refused() {
    let err = Directory::add_signature(document().as_bytes(), &authority(1)).unwrap_err();
    assert_eq!(
        (err.line(), err.kind()),
        (
            Some(SIGNATURE_LINE + 1),
            &K::DuplicateSignature {
                first_line: SIGNATURE_LINE
            }
        )
    );
}

#[test]
fn adding_a_signature_to_a_broken_document_is_refused() {
    let tampered = with_line(&document(), 7, "mean-delay 61");
    let err = Directory::add_signature(tampered.as_bytes(), &authority(2)).unwrap_err();
    assert_eq!(
        (err.line(), err.kind()),
        (Some(SIGNATURE_LINE), &K::InvalidSignature)
    );
    let malformed = with_line(&document(), 5, "hops 9");
    let err = Directory::add_signature(malformed.as_bytes(), &authority(2)).unwrap_err();
    assert_eq!(
        (err.line(), err.kind()),
        (Some(5), &K::HopsOutOfRange { found: 9 })
    );
}

#[test]
fn errors_name_their_line() {
    let err = parse(with_line(&document(), 5, "hops 9")).unwrap_err();
    assert_eq!(err.line(), Some(5));
    assert_eq!(err.to_string(), "line 5: hops 9 is not in 2..=5");
    let err = Directory::parse(document().as_bytes(), &trusted(), 0, now()).unwrap_err();
    assert_eq!(err.line(), None);
    assert!(!err.to_string().starts_with("line"), "{err}");
}

// ---------------------------------------------------------------- scale

/// 10 000 nodes (the most allowed) parse in linear time and are found by
/// id through the index, not a scan per lookup.
#[test]
fn ten_thousand_nodes_parse_and_are_found_by_id() {
    let mut p = params();
    p.hops = 2;
    p.valid_until = p.valid_after + T;
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    let list: Vec<NodeEntry> = (0..10_000)
        .map(|i| {
            let identity = NodeIdentityKey::generate(&mut rng).public_key();
            let key = NodeSecretKey::generate(&mut rng).public_key();
            NodeEntry::new(
                &format!("n{i}"),
                (i % 2) as u8 + 1,
                &format!("n{i}@example.org"),
                identity,
                vec![PeriodKey { period: P0, key }],
            )
        })
        .collect();
    let doc = Directory::sign(&p, &list, &[&authority(1)]).unwrap();
    let directory = Directory::parse(&doc, &trusted(), 1, p.valid_after).unwrap();
    for node in &list {
        assert_eq!(directory.node_by_id(node.id()), Some(node));
    }
}
