#![cfg(any())] // gated until rewritten for v2 (milestone commit)
//! SPEC 1: every rule of the directory document has a failing case here,
//! asserting the specific error and the line it names.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use curve25519_dalek::constants::{EIGHT_TORSION, X25519_BASEPOINT};
use curve25519_dalek::montgomery::MontgomeryPoint;
use mixmailer::directory::{DirectoryParams, DEFAULT_THRESHOLD};
use mixmailer::keys::{AuthoritySigningKey, NodeSecretKey};
use mixmailer::time::parse_directory_time;
use mixmailer::{Directory, DirectoryError, NodeEntry};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

// ---------------------------------------------------------------- fixtures

fn time(text: &str) -> SystemTime {
    parse_directory_time(text).unwrap()
}

fn now() -> SystemTime {
    time("2026-01-15T12:00:00Z")
}

fn params() -> DirectoryParams {
    DirectoryParams {
        network: "testnet".into(),
        valid_after: time("2026-01-01T00:00:00Z"),
        valid_until: time("2026-02-01T00:00:00Z"),
        hops: 3,
        payload_size: 2048,
        mean_delay: Duration::from_secs(60),
    }
}

fn authority(seed: u64) -> AuthoritySigningKey {
    AuthoritySigningKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// Node keys are derived once: X25519 is slow in unoptimised test builds.
fn node_key(seed: u64) -> [u8; 32] {
    static KEYS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        (0..8)
            .map(|i| {
                NodeSecretKey::generate(&mut ChaCha20Rng::seed_from_u64(1000 + i)).public_key()
            })
            .collect()
    });
    keys[seed as usize]
}

/// Six nodes, two per layer: lines 8..=13 of the document.
fn nodes() -> Vec<NodeEntry> {
    (0..6u8)
        .map(|i| {
            NodeEntry::new(
                &format!("mix{i}"),
                i / 2 + 1,
                &format!("mix{i}@example.org"),
                node_key(u64::from(i)),
            )
        })
        .collect()
}

/// A valid document signed by authority 1: lines 1..=7 header, 8..=13 nodes, 14 signature.
fn document() -> String {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let doc = Directory::sign(&params(), &nodes(), &[&authority(1)]).unwrap();
            String::from_utf8(doc).unwrap()
        })
        .clone()
}

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

/// Node line `line` with its key replaced by `key`.
fn with_node_key(doc: &str, line_no: usize, key: &[u8]) -> String {
    let fields: Vec<&str> = line(doc, line_no).split(' ').collect();
    let new = format!(
        "node {} {} {} {}",
        fields[1],
        fields[2],
        fields[3],
        STANDARD.encode(key)
    );
    with_line(doc, line_no, &new)
}

/// Node line 8 with one field (1 = nickname ... 4 = key) replaced.
fn with_node_field(doc: &str, field: usize, value: &str) -> String {
    let mut fields: Vec<&str> = line(doc, 8).split(' ').collect();
    fields[field] = value;
    with_line(doc, 8, &fields.join(" "))
}

#[track_caller]
fn assert_refused(text: impl AsRef<[u8]>, expected: DirectoryError) {
    assert_eq!(parse(text).unwrap_err(), expected);
}

// ---------------------------------------------------------------- acceptance

#[test]
fn valid_document_parses() {
    let directory = parse(document()).unwrap();
    assert_eq!(directory.params(), &params());
    assert_eq!(directory.nodes().len(), 6);
    assert_eq!(directory.signers(), &[authority(1).public_key()]);
    let third = &directory.nodes()[2];
    assert_eq!(
        (third.nickname(), third.layer(), third.address()),
        ("mix2", 2, "mix2@example.org")
    );
    assert_eq!(third.key(), &node_key(2));
    use sha2::Digest;
    let id: [u8; 32] = sha2::Sha256::digest(node_key(2)).into();
    assert_eq!(third.id(), &id);
    assert_eq!(directory.node_by_id(&id).unwrap().nickname(), "mix2");
    assert_eq!(
        directory.node_by_key(&node_key(5)).unwrap().nickname(),
        "mix5"
    );
    assert!(directory.node_by_key(&[7; 32]).is_none());
}

#[test]
fn sign_writes_the_canonical_form() {
    let doc = document();
    let key = STANDARD.encode(node_key(0));
    let head = format!(
        "mixmailer-directory 1\nnetwork testnet\nvalid-after 2026-01-01T00:00:00Z\n\
         valid-until 2026-02-01T00:00:00Z\nhops 3\npayload-size 2048\nmean-delay 60\n\
         node mix0 1 mix0@example.org {key}\n"
    );
    assert!(doc.starts_with(&head), "{doc}");
    assert_eq!(doc.lines().count(), 14);
    let signature: Vec<&str> = line(&doc, 14).split(' ').collect();
    assert_eq!(signature[0], "signature");
    assert_eq!(signature[1], STANDARD.encode(authority(1).public_key()));
    assert_eq!(STANDARD.decode(signature[2]).unwrap().len(), 64);
}

#[test]
fn sign_then_parse_round_trips() {
    let directory = parse(document()).unwrap();
    assert_eq!(directory.params(), &params());
    for (parsed, given) in directory.nodes().iter().zip(nodes()) {
        assert_eq!(parsed.nickname(), given.nickname());
        assert_eq!(parsed.layer(), given.layer());
        assert_eq!(parsed.address(), given.address());
        assert_eq!(parsed.key(), given.key());
        assert_eq!(parsed.id(), given.id());
    }
}

#[test]
fn boundary_values_are_accepted() {
    let mut p = params();
    p.hops = 1;
    p.payload_size = 65_536;
    p.mean_delay = Duration::from_secs(86_400);
    p.network = "a".repeat(64);
    let address = format!(
        "{}@{}.{}.{}",
        "l".repeat(64),
        "d".repeat(63),
        "e".repeat(63),
        "f".repeat(61)
    );
    assert_eq!(address.len(), 254);
    let node = NodeEntry::new(&"N".repeat(32), 1, &address, node_key(0));
    let doc = Directory::sign(&p, &[node], &[&authority(1)]).unwrap();
    let directory = parse(doc).unwrap();
    assert_eq!(directory.params().mean_delay, Duration::from_secs(86_400));
    assert_eq!(directory.nodes()[0].address(), address);

    p.payload_size = 1024;
    p.mean_delay = Duration::ZERO;
    let doc = Directory::sign(&p, &nodes()[..1], &[&authority(1)]).unwrap();
    assert_eq!(parse(doc).unwrap().params().payload_size, 1024);
}

// ---------------------------------------------------------------- whole document

#[test]
fn document_over_8_mib_is_refused() {
    let doc = document() + &"x".repeat(8 * 1024 * 1024);
    assert_refused(
        &doc,
        DirectoryError::TooLarge {
            size: doc.len(),
            max: 8 * 1024 * 1024,
        },
    );
}

#[test]
fn more_than_10000_node_lines_are_refused() {
    let doc = document();
    let mut text = without_lines(&doc, 8..=14);
    for _ in 0..10_001 {
        text.push_str("node x 1 x@example.org AAAA\n");
    }
    assert_refused(
        text,
        DirectoryError::TooManyNodes {
            line: 7 + 10_001,
            max: 10_000,
        },
    );
}

#[test]
fn invalid_utf8_is_refused() {
    let mut doc = document().into_bytes();
    let at = doc.windows(7).position(|w| w == b"testnet").unwrap();
    doc[at] = 0xff;
    assert_refused(doc, DirectoryError::NotUtf8 { line: 2 });
}

#[test]
fn carriage_return_is_refused() {
    let doc = with_line(&document(), 5, "hops 3\r");
    assert_refused(doc, DirectoryError::CarriageReturn { line: 5 });
}

#[test]
fn missing_final_newline_is_refused() {
    let doc = document();
    assert_refused(
        doc.trim_end_matches('\n'),
        DirectoryError::MissingFinalNewline { line: 14 },
    );
}

#[test]
fn empty_document_is_refused() {
    assert_refused(
        "",
        DirectoryError::MissingLine {
            line: 1,
            expected: "mixmailer-directory",
        },
    );
}

// ---------------------------------------------------------------- line structure

#[test]
fn double_space_is_refused() {
    let doc = with_line(&document(), 5, "hops  3");
    assert_refused(doc, DirectoryError::BadSpacing { line: 5, column: 6 });
}

#[test]
fn leading_space_is_refused() {
    let doc = with_line(&document(), 6, " payload-size 2048");
    assert_refused(doc, DirectoryError::BadSpacing { line: 6, column: 1 });
}

#[test]
fn trailing_space_is_refused() {
    let doc = document();
    let node = format!("{} ", line(&doc, 9));
    let column = node.len();
    assert_refused(
        with_line(&doc, 9, &node),
        DirectoryError::BadSpacing { line: 9, column },
    );
}

#[test]
fn tab_separated_fields_are_refused() {
    let doc = with_line(&document(), 5, "hops\t3");
    assert_refused(
        doc,
        DirectoryError::UnexpectedLine {
            line: 5,
            expected: "hops",
            found: "hops\t3".into(),
        },
    );
}

#[test]
fn wrong_magic_is_refused() {
    let doc = with_line(&document(), 1, "mixmaster-directory 1");
    assert_refused(
        doc,
        DirectoryError::BadMagic {
            line: 1,
            found: "mixmaster-directory".into(),
        },
    );
}

#[test]
fn unknown_version_is_refused() {
    let doc = with_line(&document(), 1, "mixmailer-directory 2");
    assert_refused(
        doc,
        DirectoryError::UnsupportedVersion {
            line: 1,
            found: "2".into(),
        },
    );
}

#[test]
fn misordered_lines_are_refused() {
    let doc = document();
    let swapped = with_line(&with_line(&doc, 3, line(&doc, 4)), 4, line(&doc, 3));
    assert_refused(
        swapped,
        DirectoryError::UnexpectedLine {
            line: 3,
            expected: "valid-after",
            found: "valid-until".into(),
        },
    );
}

#[test]
fn missing_header_line_is_refused() {
    let doc = without_lines(&document(), 6..=6);
    assert_refused(
        doc,
        DirectoryError::UnexpectedLine {
            line: 6,
            expected: "payload-size",
            found: "mean-delay".into(),
        },
    );
}

#[test]
fn truncated_header_is_refused() {
    let doc = without_lines(&document(), 5..=14);
    assert_refused(
        doc,
        DirectoryError::MissingLine {
            line: 5,
            expected: "hops",
        },
    );
}

#[test]
fn unknown_line_among_nodes_is_refused() {
    let doc = insert_line(&document(), 10, "comment hello");
    assert_refused(
        doc,
        DirectoryError::UnexpectedLine {
            line: 10,
            expected: "node or signature",
            found: "comment".into(),
        },
    );
}

#[test]
fn repeated_header_line_is_refused() {
    let doc = insert_line(&document(), 8, "mean-delay 60");
    assert_refused(
        doc,
        DirectoryError::UnexpectedLine {
            line: 8,
            expected: "node",
            found: "mean-delay".into(),
        },
    );
}

#[test]
fn wrong_field_count_is_refused() {
    let doc = with_line(&document(), 2, "network testnet extra");
    assert_refused(
        doc,
        DirectoryError::FieldCount {
            line: 2,
            keyword: "network",
            expected: 2,
            found: 3,
        },
    );
    let doc = with_line(&document(), 1, "mixmailer-directory");
    assert_refused(
        doc,
        DirectoryError::FieldCount {
            line: 1,
            keyword: "mixmailer-directory",
            expected: 2,
            found: 1,
        },
    );
}

#[test]
fn node_line_with_missing_field_is_refused() {
    let doc = document();
    let short = line(&doc, 11).rsplit_once(' ').unwrap().0.to_owned();
    assert_refused(
        with_line(&doc, 11, &short),
        DirectoryError::FieldCount {
            line: 11,
            keyword: "node",
            expected: 5,
            found: 4,
        },
    );
}

#[test]
fn document_without_nodes_is_refused() {
    let doc = without_lines(&document(), 8..=13);
    assert_refused(doc, DirectoryError::NoNodes { line: 8 });
    let doc = without_lines(&document(), 8..=14);
    assert_refused(doc, DirectoryError::NoNodes { line: 8 });
}

#[test]
fn document_without_signature_is_refused() {
    let doc = without_lines(&document(), 14..=14);
    assert_refused(doc, DirectoryError::NoSignatures { line: 14 });
}

#[test]
fn anything_after_the_signatures_is_refused() {
    let doc = document();
    let node = line(&doc, 8).to_owned();
    assert_refused(
        format!("{doc}{node}\n"),
        DirectoryError::TextAfterSignatures {
            line: 15,
            found: "node".into(),
        },
    );
    assert_refused(
        format!("{doc}\n"),
        DirectoryError::TextAfterSignatures {
            line: 15,
            found: "".into(),
        },
    );
}

// ---------------------------------------------------------------- header values

#[test]
fn bad_network_names_are_refused() {
    for name in ["TestNet", "test_net", "test.net", &"a".repeat(65)] {
        let doc = with_line(&document(), 2, &format!("network {name}"));
        assert_refused(
            doc,
            DirectoryError::BadNetworkName {
                line: 2,
                found: name.chars().take(64).collect::<String>()
                    + if name.len() > 64 { "..." } else { "" },
            },
        );
    }
}

#[test]
fn bad_times_are_refused() {
    for bad in [
        "2026-01-01T00:00Z",
        "2026-01-01T00:00:00+00:00",
        "2026-02-30T00:00:00Z",
        "2026-1-01T00:00:00Z",
    ] {
        let doc = with_line(&document(), 3, &format!("valid-after {bad}"));
        assert_refused(
            doc,
            DirectoryError::BadTime {
                line: 3,
                field: "valid-after",
                found: bad.into(),
            },
        );
    }
    let doc = with_line(&document(), 4, "valid-until tomorrow");
    assert_refused(
        doc,
        DirectoryError::BadTime {
            line: 4,
            field: "valid-until",
            found: "tomorrow".into(),
        },
    );
}

#[test]
fn valid_until_not_after_valid_after_is_refused() {
    for until in ["2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z"] {
        let doc = with_line(&document(), 4, &format!("valid-until {until}"));
        assert_refused(
            doc,
            DirectoryError::ValidityNotIncreasing {
                line: 4,
                valid_after: time("2026-01-01T00:00:00Z"),
                valid_until: time(until),
            },
        );
    }
}

#[test]
fn hops_outside_1_to_5_are_refused() {
    for hops in [0, 6, 255, 256] {
        let doc = with_line(&document(), 5, &format!("hops {hops}"));
        assert_refused(
            doc,
            DirectoryError::HopsOutOfRange {
                line: 5,
                found: hops,
            },
        );
    }
}

#[test]
fn signs_and_non_digits_are_refused() {
    for (line_no, field, bad) in [
        (5, "hops", "+3"),
        (5, "hops", "3.0"),
        (6, "payload-size", "0x800"),
        (7, "mean-delay", "-1"),
        (7, "mean-delay", "+60"),
        (7, "mean-delay", "1e3"),
        (7, "mean-delay", "٣"),
    ] {
        let doc = with_line(&document(), line_no, &format!("{field} {bad}"));
        assert_refused(
            doc,
            DirectoryError::InvalidNumber {
                line: line_no,
                field,
                found: bad.into(),
            },
        );
    }
}

#[test]
fn leading_zeros_are_refused() {
    for (line_no, field, bad) in [
        (5, "hops", "03"),
        (6, "payload-size", "02048"),
        (7, "mean-delay", "00"),
    ] {
        let doc = with_line(&document(), line_no, &format!("{field} {bad}"));
        assert_refused(
            doc,
            DirectoryError::LeadingZero {
                line: line_no,
                field,
                found: bad.into(),
            },
        );
    }
    let doc = with_node_field(&document(), 2, "01");
    assert_refused(
        doc,
        DirectoryError::LeadingZero {
            line: 8,
            field: "layer",
            found: "01".into(),
        },
    );
}

#[test]
fn huge_numbers_are_refused() {
    let huge = "99999999999999999999999";
    let doc = with_line(&document(), 6, &format!("payload-size {huge}"));
    assert_refused(
        doc,
        DirectoryError::NumberTooLarge {
            line: 6,
            field: "payload-size",
            found: huge.into(),
        },
    );
}

#[test]
fn payload_size_out_of_range_is_refused() {
    for size in [0, 1008, 65_552, 1 << 40] {
        let doc = with_line(&document(), 6, &format!("payload-size {size}"));
        assert_refused(
            doc,
            DirectoryError::PayloadSizeOutOfRange {
                line: 6,
                found: size,
            },
        );
    }
}

#[test]
fn payload_size_not_multiple_of_16_is_refused() {
    let doc = with_line(&document(), 6, "payload-size 2050");
    assert_refused(
        doc,
        DirectoryError::PayloadSizeNotMultipleOf16 {
            line: 6,
            found: 2050,
        },
    );
}

#[test]
fn mean_delay_over_a_day_is_refused() {
    let doc = with_line(&document(), 7, "mean-delay 86401");
    assert_refused(
        doc,
        DirectoryError::MeanDelayOutOfRange {
            line: 7,
            found: 86_401,
        },
    );
}

// ---------------------------------------------------------------- node values

#[test]
fn bad_nicknames_are_refused() {
    for bad in ["mix.0", "mïx", &"n".repeat(33), "a/b"] {
        let doc = with_node_field(&document(), 1, bad);
        assert_refused(
            doc,
            DirectoryError::BadNickname {
                line: 8,
                found: bad.into(),
            },
        );
    }
}

#[test]
fn duplicate_nickname_is_refused() {
    let doc = document();
    let dup = line(&doc, 10).replacen("mix2", "mix0", 1);
    assert_refused(
        with_line(&doc, 10, &dup),
        DirectoryError::DuplicateNickname {
            line: 10,
            nickname: "mix0".into(),
            first_line: 8,
        },
    );
}

#[test]
fn layer_outside_hops_is_refused() {
    for layer in [0, 4, 300] {
        let doc = with_node_field(&document(), 2, &layer.to_string());
        assert_refused(
            doc,
            DirectoryError::LayerOutOfRange {
                line: 8,
                found: layer,
                hops: 3,
            },
        );
    }
}

#[test]
fn layer_without_node_is_refused() {
    let doc = with_line(&document(), 5, "hops 4");
    assert_refused(doc, DirectoryError::EmptyLayer { line: 5, layer: 4 });
    let doc = document();
    let moved = line(&doc, 11).replacen(" 2 ", " 3 ", 1);
    let doc = with_line(
        &with_line(&doc, 11, &moved),
        10,
        &line(&doc, 10).replacen(" 2 ", " 1 ", 1),
    );
    assert_refused(doc, DirectoryError::EmptyLayer { line: 5, layer: 2 });
}

#[test]
fn address_over_254_octets_is_refused() {
    let address = format!("a@{}.org", "d".repeat(249));
    assert_eq!(address.len(), 255);
    let doc = with_node_field(&document(), 3, &address);
    assert_refused(
        doc,
        DirectoryError::AddressTooLong {
            line: 8,
            length: 255,
        },
    );
}

#[test]
fn non_ascii_address_is_refused() {
    let doc = with_node_field(&document(), 3, "mïx@example.org");
    assert_refused(
        doc,
        DirectoryError::AddressNotAscii {
            line: 8,
            found: "mïx@example.org".into(),
        },
    );
}

#[test]
fn address_without_exactly_one_at_is_refused() {
    for bad in ["mix.example.org", "a@b@example.org"] {
        let doc = with_node_field(&document(), 3, bad);
        assert_refused(
            doc,
            DirectoryError::AddressAtSign {
                line: 8,
                found: bad.into(),
            },
        );
    }
}

#[test]
fn bad_local_part_is_refused() {
    for (address, local) in [
        ("@example.org", ""),
        (".mix@example.org", ".mix"),
        ("mi..x@example.org", "mi..x"),
        ("\"mix\"@example.org", "\"mix\""),
        ("mi(x)@example.org", "mi(x)"),
    ] {
        let doc = with_node_field(&document(), 3, address);
        assert_refused(
            doc,
            DirectoryError::AddressBadLocalPart {
                line: 8,
                found: local.into(),
            },
        );
    }
    let long = format!("{}@example.org", "l".repeat(65));
    let doc = with_node_field(&document(), 3, &long);
    assert_refused(
        doc,
        DirectoryError::AddressBadLocalPart {
            line: 8,
            found: "l".repeat(65),
        },
    );
}

#[test]
fn bad_domain_is_refused() {
    for domain in [
        "",
        "example..org",
        "-example.org",
        "example-.org",
        "exa_mple.org",
        "[192.0.2.1]",
        "example.org.",
    ] {
        let doc = with_node_field(&document(), 3, &format!("mix@{domain}"));
        assert_refused(
            doc,
            DirectoryError::AddressBadDomain {
                line: 8,
                found: domain.into(),
            },
        );
    }
}

#[test]
fn duplicate_address_is_refused() {
    let doc = with_node_field(&document(), 3, "mix1@EXAMPLE.org");
    assert_refused(
        doc,
        DirectoryError::DuplicateAddress {
            line: 9,
            address: "mix1@example.org".into(),
            first_line: 8,
        },
    );
}

#[test]
fn addresses_differing_in_local_case_are_distinct() {
    let mut list = nodes();
    list[1] = NodeEntry::new("mix1", 1, "MIX0@example.org", node_key(1));
    let doc = Directory::sign(&params(), &list, &[&authority(1)]).unwrap();
    assert!(parse(doc).is_ok());
}

// ---------------------------------------------------------------- node keys

#[test]
fn non_canonical_base64_key_is_refused() {
    let doc = document();
    let key = STANDARD.encode(node_key(0));
    // The last character before '=' carries 2 unused bits; setting one is non-canonical.
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let last = key.as_bytes()[42] as char;
    let next = ALPHABET.as_bytes()[ALPHABET.find(last).unwrap() + 1] as char;
    let mut sloppy = key.clone();
    sloppy.replace_range(42..43, &next.to_string());
    let url_safe = key.replace('+', "-").replace('/', "_");
    let url_safe = if url_safe == key {
        key.replacen(&key[..1], "-", 1)
    } else {
        url_safe
    };
    for bad in [
        sloppy,
        key.trim_end_matches('=').to_owned(),
        url_safe,
        format!("{key}="),
    ] {
        let doc = with_node_field(&doc, 4, &bad);
        assert_refused(
            doc,
            DirectoryError::BadBase64 {
                line: 8,
                field: "key",
                found: bad.clone(),
            },
        );
    }
}

#[test]
fn key_of_wrong_length_is_refused() {
    for len in [31, 33] {
        let doc = with_node_key(&document(), 8, &vec![9u8; len]);
        assert_refused(
            doc,
            DirectoryError::WrongLength {
                line: 8,
                field: "key",
                expected: 32,
                found: len,
            },
        );
    }
}

#[test]
fn all_zero_key_is_refused() {
    let doc = with_node_key(&document(), 9, &[0; 32]);
    assert_refused(doc, DirectoryError::KeyAllZero { line: 9 });
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
        let doc = with_node_key(&document(), 9, &key);
        assert_refused(doc, DirectoryError::KeyLowOrder { line: 9 });
    }
}

#[test]
fn key_with_torsion_component_is_refused() {
    let valid = MontgomeryPoint(node_key(3)).to_edwards(0).unwrap();
    for torsion in &EIGHT_TORSION[1..] {
        let key = (valid + torsion).to_montgomery().to_bytes();
        let doc = with_node_key(&document(), 11, &key);
        assert_refused(doc, DirectoryError::KeyHasTorsion { line: 11 });
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
    let doc = with_node_key(&document(), 8, &twist);
    assert_refused(doc, DirectoryError::KeyNotOnCurve { line: 8 });
}

#[test]
fn non_canonical_key_is_refused() {
    // p + 9 is the base point's u-coordinate, spelled unreduced.
    let mut p_plus_9 = [0xff; 32];
    p_plus_9[0] = 0xed + 9;
    p_plus_9[31] = 0x7f;
    let mut high_bit = X25519_BASEPOINT.to_bytes();
    high_bit[31] |= 0x80;
    let mut high_bit_valid = node_key(0);
    high_bit_valid[31] |= 0x80;
    for key in [p_plus_9, high_bit, high_bit_valid] {
        let doc = with_node_key(&document(), 8, &key);
        assert_refused(doc, DirectoryError::KeyNotCanonical { line: 8 });
    }
}

#[test]
fn duplicate_key_is_refused() {
    let doc = with_node_key(&document(), 12, &node_key(1));
    assert_refused(
        doc,
        DirectoryError::DuplicateKey {
            line: 12,
            first_line: 9,
        },
    );
}

// ---------------------------------------------------------------- signature lines

#[test]
fn bad_authority_key_encoding_is_refused() {
    let doc = document();
    let sig = line(&doc, 14).split(' ').nth(2).unwrap().to_owned();
    let bad = with_line(&doc, 14, &format!("signature not*base64 {sig}"));
    assert_refused(
        bad,
        DirectoryError::BadBase64 {
            line: 14,
            field: "authority-key",
            found: "not*base64".into(),
        },
    );
    let short = STANDARD.encode([1u8; 31]);
    let bad = with_line(&doc, 14, &format!("signature {short} {sig}"));
    assert_refused(
        bad,
        DirectoryError::WrongLength {
            line: 14,
            field: "authority-key",
            expected: 32,
            found: 31,
        },
    );
}

#[test]
fn bad_signature_encoding_is_refused() {
    let doc = document();
    let key = line(&doc, 14).split(' ').nth(1).unwrap().to_owned();
    let bad = with_line(
        &doc,
        14,
        &format!("signature {key} {}", STANDARD.encode([1u8; 63])),
    );
    assert_refused(
        bad,
        DirectoryError::WrongLength {
            line: 14,
            field: "sig",
            expected: 64,
            found: 63,
        },
    );
    let bad = with_line(&doc, 14, &format!("signature {key} ====="));
    assert_refused(
        bad,
        DirectoryError::BadBase64 {
            line: 14,
            field: "sig",
            found: "=====".into(),
        },
    );
}

#[test]
fn signature_line_with_extra_field_is_refused() {
    let doc = document();
    let bad = with_line(&doc, 14, &format!("{} extra", line(&doc, 14)));
    assert_refused(
        bad,
        DirectoryError::FieldCount {
            line: 14,
            keyword: "signature",
            expected: 3,
            found: 4,
        },
    );
}

#[test]
fn same_authority_signing_twice_is_refused() {
    let doc = document();
    let twice = format!("{doc}{}\n", line(&doc, 14));
    assert_refused(
        twice,
        DirectoryError::DuplicateSignature {
            line: 15,
            first_line: 14,
        },
    );
}

// ---------------------------------------------------------------- signatures

#[test]
fn flipped_byte_anywhere_in_the_signed_part_is_rejected() {
    // One node and one hop keep this fast: every flip costs a full parse.
    let mut p = params();
    p.hops = 1;
    let doc = Directory::sign(&p, &nodes()[..1], &[&authority(1)]).unwrap();
    let signed_len = doc.windows(11).position(|w| w == b"\nsignature ").unwrap() + 1;
    assert!(parse(&doc).is_ok());
    for at in 0..signed_len {
        let mut tampered = doc.clone();
        tampered[at] ^= 0x01;
        assert!(parse(&tampered).is_err(), "flip at byte {at} accepted");
    }
}

#[test]
fn changed_value_with_valid_syntax_fails_the_signature() {
    let doc = with_line(&document(), 7, "mean-delay 61");
    assert_refused(doc, DirectoryError::InvalidSignature { line: 14 });
}

#[test]
fn trusted_signature_over_other_bytes_is_rejected() {
    let mut other = params();
    other.network = "othernet".into();
    let other_doc = Directory::sign(&other, &nodes(), &[&authority(1)]).unwrap();
    let other_doc = String::from_utf8(other_doc).unwrap();
    let doc = with_line(&document(), 14, line(&other_doc, 14));
    assert_refused(doc, DirectoryError::InvalidSignature { line: 14 });
}

#[test]
fn threshold_2_of_3_authorities() {
    let [a, b, c] = [authority(1), authority(2), authority(3)];
    let trusted = [a.public_key(), b.public_key(), c.public_key()];
    let two = Directory::sign(&params(), &nodes(), &[&a, &c]).unwrap();
    let directory = Directory::parse(&two, &trusted, 2, now()).unwrap();
    assert_eq!(directory.signers(), &[a.public_key(), c.public_key()]);
    assert_eq!(
        Directory::parse(&two, &trusted, 3, now()).unwrap_err(),
        DirectoryError::NotEnoughSignatures {
            valid: 2,
            needed: 3
        }
    );
    let one = Directory::sign(&params(), &nodes(), &[&b]).unwrap();
    assert_eq!(
        Directory::parse(&one, &trusted, 2, now()).unwrap_err(),
        DirectoryError::NotEnoughSignatures {
            valid: 1,
            needed: 2
        }
    );
}

#[test]
fn untrusted_signatures_are_ignored() {
    let [a, stranger] = [authority(1), authority(9)];
    let doc = Directory::sign(&params(), &nodes(), &[&stranger, &a]).unwrap();
    let directory = parse(&doc).unwrap();
    assert_eq!(directory.signers(), &[a.public_key()]);

    // A stranger's garbage signature is not even checked.
    let doc = String::from_utf8(doc).unwrap();
    let garbage = format!(
        "signature {} {}",
        STANDARD.encode(stranger.public_key()),
        STANDARD.encode([0x55u8; 64])
    );
    assert!(parse(with_line(&doc, 14, &garbage)).is_ok());

    let only_stranger = Directory::sign(&params(), &nodes(), &[&stranger]).unwrap();
    assert_refused(
        only_stranger,
        DirectoryError::NotEnoughSignatures {
            valid: 0,
            needed: 1,
        },
    );
}

#[test]
fn threshold_zero_is_refused() {
    assert_eq!(
        Directory::parse(document().as_bytes(), &trusted(), 0, now()).unwrap_err(),
        DirectoryError::ZeroThreshold
    );
}

#[test]
fn threshold_above_trusted_keys_is_refused() {
    let key = authority(1).public_key();
    assert_eq!(
        Directory::parse(document().as_bytes(), &[key, key], 2, now()).unwrap_err(),
        DirectoryError::ThresholdAboveTrusted {
            threshold: 2,
            trusted: 1
        }
    );
    assert_eq!(
        Directory::parse(document().as_bytes(), &[], 1, now()).unwrap_err(),
        DirectoryError::ThresholdAboveTrusted {
            threshold: 1,
            trusted: 0
        }
    );
}

#[test]
fn weak_trusted_key_is_refused() {
    let trusted = [authority(1).public_key(), [0u8; 32]];
    assert_eq!(
        Directory::parse(document().as_bytes(), &trusted, 1, now()).unwrap_err(),
        DirectoryError::InvalidTrustedKey { index: 1 }
    );
}

// ---------------------------------------------------------------- validity window

#[test]
fn document_before_valid_after_is_refused() {
    let early = time("2025-12-31T23:59:59Z");
    assert_eq!(
        Directory::parse(document().as_bytes(), &trusted(), 1, early).unwrap_err(),
        DirectoryError::NotYetValid {
            now: early,
            valid_after: params().valid_after
        }
    );
    assert!(Directory::parse(document().as_bytes(), &trusted(), 1, params().valid_after).is_ok());
}

#[test]
fn document_at_or_after_valid_until_is_refused() {
    let until = params().valid_until;
    assert_eq!(
        Directory::parse(document().as_bytes(), &trusted(), 1, until).unwrap_err(),
        DirectoryError::Expired {
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
    list[2] = NodeEntry::new("mix 2", 2, "mix2@example.org", node_key(2));
    assert_eq!(
        Directory::sign(&params(), &list, &[&authority(1)]).unwrap_err(),
        DirectoryError::BadNickname {
            line: 10,
            found: "mix 2".into()
        }
    );

    let mut list = nodes();
    let low_order = EIGHT_TORSION[1].to_montgomery().to_bytes();
    list[5] = NodeEntry::new("mix5", 3, "mix5@example.org", low_order);
    assert_eq!(
        Directory::sign(&params(), &list, &[&authority(1)]).unwrap_err(),
        DirectoryError::KeyLowOrder { line: 13 }
    );

    let mut p = params();
    p.hops = 4;
    assert_eq!(
        Directory::sign(&p, &nodes(), &[&authority(1)]).unwrap_err(),
        DirectoryError::EmptyLayer { line: 5, layer: 4 }
    );

    assert_eq!(
        Directory::sign(&params(), &[], &[&authority(1)]).unwrap_err(),
        DirectoryError::NoNodes { line: 8 }
    );
}

#[test]
fn sign_refuses_values_the_format_cannot_hold() {
    let mut p = params();
    p.valid_after += Duration::from_millis(500);
    assert_eq!(
        Directory::sign(&p, &nodes(), &[&authority(1)]).unwrap_err(),
        DirectoryError::UnrepresentableTime {
            line: 3,
            field: "valid-after"
        }
    );
    let mut p = params();
    p.valid_after = std::time::UNIX_EPOCH - Duration::from_secs(1);
    assert_eq!(
        Directory::sign(&p, &nodes(), &[&authority(1)]).unwrap_err(),
        DirectoryError::UnrepresentableTime {
            line: 3,
            field: "valid-after"
        }
    );
    let mut p = params();
    p.mean_delay = Duration::from_millis(1500);
    assert_eq!(
        Directory::sign(&p, &nodes(), &[&authority(1)]).unwrap_err(),
        DirectoryError::MeanDelayNotWholeSeconds { line: 7 }
    );
}

#[test]
fn sign_needs_distinct_authorities() {
    assert_eq!(
        Directory::sign(&params(), &nodes(), &[]).unwrap_err(),
        DirectoryError::NoSignatures { line: 14 }
    );
    let a = authority(1);
    assert_eq!(
        Directory::sign(&params(), &nodes(), &[&a, &authority(2), &a]).unwrap_err(),
        DirectoryError::DuplicateSignature {
            line: 16,
            first_line: 14
        }
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
}

#[test]
fn adding_a_signature_twice_is_refused() {
    let doc = document();
    assert_eq!(
        Directory::add_signature(doc.as_bytes(), &authority(1)).unwrap_err(),
        DirectoryError::DuplicateSignature {
            line: 15,
            first_line: 14
        }
    );
}

#[test]
fn adding_a_signature_to_a_broken_document_is_refused() {
    let tampered = with_line(&document(), 7, "mean-delay 61");
    assert_eq!(
        Directory::add_signature(tampered.as_bytes(), &authority(2)).unwrap_err(),
        DirectoryError::InvalidSignature { line: 14 }
    );
    let malformed = with_line(&document(), 5, "hops 9");
    assert_eq!(
        Directory::add_signature(malformed.as_bytes(), &authority(2)).unwrap_err(),
        DirectoryError::HopsOutOfRange { line: 5, found: 9 }
    );
}

#[test]
fn errors_name_their_line() {
    let err = parse(with_line(&document(), 5, "hops 9")).unwrap_err();
    assert_eq!(err.line(), Some(5));
    assert!(err.to_string().starts_with("line 5: "), "{err}");
    assert_eq!(DirectoryError::ZeroThreshold.line(), None);
}
