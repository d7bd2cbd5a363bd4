//! SPEC 7: node descriptors. Every rule has a failing case asserting the
//! error kind and the line it names; the rules shared with the directory
//! report the directory's kind.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use curve25519_dalek::constants::EIGHT_TORSION;
use mixmailer::descriptor::{
    Descriptor, DescriptorError, DescriptorErrorKind as D, Role, MAX_DESCRIPTOR_KEYS,
    MAX_DESCRIPTOR_SIZE,
};
use mixmailer::directory::{DirectoryErrorKind as K, PeriodKey};
use mixmailer::keys::{NodeIdentityKey, NodeSecretKey};
use mixmailer::time::parse_directory_time;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::Digest;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

// ---------------------------------------------------------------- fixtures

/// P(2026-01-01T00:00:00Z) for a key period of one hour.
const P0: u64 = 1_767_225_600 / 3600;

fn time(text: &str) -> SystemTime {
    parse_directory_time(text).unwrap()
}

fn identity_key(seed: u64) -> NodeIdentityKey {
    NodeIdentityKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// X25519 keys are derived once: they are slow in unoptimised test builds.
fn x25519_key(index: usize) -> [u8; 32] {
    static KEYS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..=MAX_DESCRIPTOR_KEYS as u64)
            .map(|i| NodeSecretKey::generate(&mut ChaCha20Rng::seed_from_u64(500 + i)).public_key())
            .collect()
    })[index]
}

fn keys(periods: std::ops::RangeInclusive<u64>) -> Vec<PeriodKey> {
    periods
        .zip(0..)
        .map(|(period, i)| PeriodKey {
            period,
            key: x25519_key(i),
        })
        .collect()
}

/// Published half an hour into P0, with keys for P0..=P0 + 2.
fn descriptor() -> Descriptor {
    Descriptor {
        network: "testnet".into(),
        key_period: Duration::from_secs(3600),
        nickname: "mix0".into(),
        address: "mix0@example.org".into(),
        identity: identity_key(1).public_key(),
        role: Role::Exit,
        published: time("2026-01-01T00:30:00Z"),
        keys: keys(P0..=P0 + 2),
    }
}

/// Lines 1..=8 header, 9..=11 keys, 12 signature.
fn text() -> String {
    String::from_utf8(descriptor().sign(&identity_key(1)).unwrap()).unwrap()
}

const SIGNATURE_LINE: usize = 12;

fn with_line(doc: &str, line: usize, new: &str) -> String {
    let mut lines: Vec<&str> = doc.lines().collect();
    lines[line - 1] = new;
    lines.join("\n") + "\n"
}

fn insert_line(doc: &str, line: usize, new: &str) -> String {
    let mut lines: Vec<&str> = doc.lines().collect();
    lines.insert(line - 1, new);
    lines.join("\n") + "\n"
}

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

fn key_line(period: u64, key: &[u8; 32]) -> String {
    format!("key {period} {}", STANDARD.encode(key))
}

fn result_of(text: impl AsRef<[u8]>) -> DescriptorError {
    Descriptor::parse(text.as_ref()).unwrap_err()
}

#[track_caller]
fn assert_refused(text: impl AsRef<[u8]>, line: usize, kind: D) {
    let err = result_of(text);
    assert_eq!((err.line(), err.kind()), (Some(line), &kind), "{err}");
}

/// A rule the descriptor shares with the directory.
#[track_caller]
fn assert_shared(text: impl AsRef<[u8]>, line: usize, kind: K) {
    assert_refused(text, line, D::Shared(kind));
}

#[track_caller]
fn assert_sign_refused(descriptor: &Descriptor, line: Option<usize>, kind: D) {
    let err = descriptor.sign(&identity_key(1)).unwrap_err();
    assert_eq!((err.line(), err.kind()), (line, &kind), "{err}");
}

// ---------------------------------------------------------------- acceptance

#[test]
fn signed_descriptor_parses_back_to_itself() {
    let parsed = Descriptor::parse(text().as_bytes()).unwrap();
    assert_eq!(parsed, descriptor());
    // The form is canonical: writing what was read gives the same bytes.
    assert_eq!(parsed.sign(&identity_key(1)).unwrap(), text().into_bytes());
}

#[test]
fn sign_writes_the_canonical_form() {
    let expected_head = format!(
        "mixmailer-descriptor 1\nnetwork testnet\nkey-period 3600\nnickname mix0\n\
         address mix0@example.org\nidentity {}\nrole exit\npublished 2026-01-01T00:30:00Z\n\
         {}\n{}\n{}\nsignature ",
        STANDARD.encode(identity_key(1).public_key()),
        key_line(P0, &x25519_key(0)),
        key_line(P0 + 1, &x25519_key(1)),
        key_line(P0 + 2, &x25519_key(2)),
    );
    let text = text();
    assert!(text.starts_with(&expected_head), "{text}");
    assert_eq!(text.lines().count(), SIGNATURE_LINE);
    let sig = line(&text, SIGNATURE_LINE).split(' ').nth(1).unwrap();
    assert_eq!(STANDARD.decode(sig).unwrap().len(), 64);
}

#[test]
fn mix_role_and_wider_key_ranges_are_accepted() {
    let mut d = descriptor();
    d.role = Role::Mix;
    // Keys may start before P(published) and run past P(published) + 2.
    d.keys = keys(P0 - 3..=P0 + 60);
    assert_eq!(d.keys.len(), MAX_DESCRIPTOR_KEYS);
    let text = d.sign(&identity_key(1)).unwrap();
    assert_eq!(Descriptor::parse(&text).unwrap(), d);
}

#[test]
fn freshness_of_published_is_not_the_parsers_business() {
    // SPEC 7 leaves freshness to the authorities: a year-old descriptor parses.
    let mut d = descriptor();
    d.published = time("2025-01-01T00:00:00Z");
    let p = 1_735_689_600 / 3600;
    d.keys = keys(p..=p + 2);
    let text = d.sign(&identity_key(1)).unwrap();
    assert_eq!(Descriptor::parse(&text).unwrap().published, d.published);
}

/// Fixed seeds and time, byte for byte (Ed25519 signatures are
/// deterministic), so a dependency update that changes the bytes fails.
#[test]
fn known_answer_descriptor() {
    let identity = NodeIdentityKey::from_bytes([0x31; 32]);
    let d = Descriptor {
        network: "kat".into(),
        key_period: Duration::from_secs(86_400),
        nickname: "kat-exit".into(),
        address: "relay@exit.example".into(),
        identity: identity.public_key(),
        role: Role::Exit,
        published: time("2026-03-01T06:00:00Z"),
        keys: (0u8..3)
            .map(|i| PeriodKey {
                period: 20_513 + u64::from(i),
                key: NodeSecretKey::from_bytes([0x50 + i; 32]).public_key(),
            })
            .collect(),
    };
    let text = d.sign(&identity).unwrap();
    let sha: [u8; 32] = sha2::Sha256::digest(&text).into();
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        String::from_utf8(text.clone()).unwrap(),
        "\
mixmailer-descriptor 1
network kat
key-period 86400
nickname kat-exit
address relay@exit.example
identity SAdaWX5yGhVuLgeZ3lzAxTJNxufq8c3UYlCGjsUyFd0=
role exit
published 2026-03-01T06:00:00Z
key 20513 7zi0q9FLCpGcvmg59hhbl9MmB77jWcbFPBLMdZeGfVk=
key 20514 rZCKinCKygdYjNp8TtPkTUlmqAqauy8eS7rFPGdBTjQ=
key 20515 9osFugP3GF4bqIh4aC+N0LFRWPYFCInJSB15wtfS+gc=
signature khwNger30ZNtoDPYOTq+MT43jGfQtXodR6Lv70jH4O0+WPAB054vHL+qLC8qvflj7Iz0/JLwxWxMR2g7pXTRCQ==
"
    );
    assert_eq!(
        hex,
        "01412221ebefb4938a7f3703b63385fc9e03f2dabf8faac8116a5958ac02484e"
    );
    assert_eq!(Descriptor::parse(&text).unwrap(), d);
}

// ---------------------------------------------------------------- whole document

#[test]
fn descriptor_over_64_kib_is_refused() {
    let text = text() + &"x".repeat(MAX_DESCRIPTOR_SIZE);
    let err = result_of(&text);
    assert_eq!(err.line(), None);
    assert_eq!(
        err.kind(),
        &D::Shared(K::TooLarge {
            size: text.len(),
            max: 65_536
        })
    );
}

#[test]
fn lexical_rules_are_the_directorys() {
    let text = text();
    assert_shared(with_line(&text, 7, "role exit\r"), 7, K::CarriageReturn);
    assert_shared(
        text.trim_end_matches('\n'),
        SIGNATURE_LINE,
        K::MissingFinalNewline,
    );
    assert_shared(
        with_line(&text, 4, "nickname  mix0"),
        4,
        K::BadSpacing { column: 10 },
    );
    let mut bytes = text.clone().into_bytes();
    bytes[text.find("mix0").unwrap()] = 0xff;
    assert_shared(bytes, 4, K::NotUtf8);
    assert_shared(
        "",
        1,
        K::MissingLine {
            expected: "mixmailer-descriptor 1",
        },
    );
}

// ---------------------------------------------------------------- line structure

#[test]
fn other_documents_and_versions_are_refused() {
    assert_shared(
        with_line(&text(), 1, "mixmailer-directory 2"),
        1,
        K::BadMagic {
            expected: "mixmailer-descriptor 1",
            found: "mixmailer-directory".into(),
        },
    );
    assert_shared(
        with_line(&text(), 1, "mixmailer-descriptor 2"),
        1,
        K::UnsupportedVersion {
            document: "mixmailer-descriptor",
            found: "2".into(),
            required: "1",
        },
    );
}

#[test]
fn header_lines_must_come_in_order() {
    let text = text();
    let swapped = with_line(&with_line(&text, 4, line(&text, 5)), 5, line(&text, 4));
    assert_shared(
        swapped,
        4,
        K::UnexpectedLine {
            expected: "nickname",
            found: "address".into(),
        },
    );
    assert_shared(
        without_lines(&text, 7..=7),
        7,
        K::UnexpectedLine {
            expected: "role",
            found: "published".into(),
        },
    );
    assert_shared(
        without_lines(&text, 6..=SIGNATURE_LINE),
        6,
        K::MissingLine {
            expected: "identity",
        },
    );
}

#[test]
fn wrong_field_counts_are_refused() {
    let text = text();
    assert_shared(
        with_line(&text, 7, "role"),
        7,
        K::FieldCount {
            keyword: "role",
            expected: 2,
            found: 1,
        },
    );
    assert_shared(
        with_line(&text, 9, &format!("{} x", line(&text, 9))),
        9,
        K::FieldCount {
            keyword: "key",
            expected: 3,
            found: 4,
        },
    );
    assert_shared(
        with_line(&text, SIGNATURE_LINE, "signature"),
        SIGNATURE_LINE,
        K::FieldCount {
            keyword: "signature",
            expected: 2,
            found: 1,
        },
    );
}

#[test]
fn descriptor_without_keys_is_refused() {
    assert_shared(
        without_lines(&text(), 9..=11),
        9,
        K::UnexpectedLine {
            expected: "key",
            found: "signature".into(),
        },
    );
}

#[test]
fn unknown_line_after_the_keys_is_refused() {
    assert_shared(
        insert_line(&text(), 12, "contact ops@example.org"),
        12,
        K::UnexpectedLine {
            expected: "key or signature",
            found: "contact".into(),
        },
    );
}

#[test]
fn missing_signature_is_refused() {
    assert_shared(
        without_lines(&text(), SIGNATURE_LINE..=SIGNATURE_LINE),
        SIGNATURE_LINE,
        K::MissingLine {
            expected: "signature",
        },
    );
}

#[test]
fn text_after_the_signature_is_refused() {
    let text = text();
    assert_refused(
        format!("{text}{}\n", line(&text, SIGNATURE_LINE)),
        SIGNATURE_LINE + 1,
        D::TextAfterSignature {
            found: "signature".into(),
        },
    );
}

// ---------------------------------------------------------------- values

#[test]
fn value_rules_are_the_directorys() {
    let text = text();
    assert_shared(
        with_line(&text, 2, "network Test"),
        2,
        K::BadNetworkName {
            found: "Test".into(),
        },
    );
    assert_shared(
        with_line(&text, 3, "key-period 3599"),
        3,
        K::KeyPeriodOutOfRange { found: 3599 },
    );
    assert_shared(
        with_line(&text, 3, "key-period 03600"),
        3,
        K::LeadingZero {
            field: "key-period",
            found: "03600".into(),
        },
    );
    assert_shared(
        with_line(&text, 4, "nickname mix.0"),
        4,
        K::BadNickname {
            found: "mix.0".into(),
        },
    );
    assert_shared(
        with_line(&text, 5, "address mix0@[192.0.2.1]"),
        5,
        K::AddressBadDomain {
            found: "[192.0.2.1]".into(),
        },
    );
    assert_shared(
        with_line(&text, 8, "published 2026-01-01T00:30:00"),
        8,
        K::BadTime {
            field: "published",
            found: "2026-01-01T00:30:00".into(),
        },
    );
}

#[test]
fn identity_rules_are_the_directorys() {
    let text = text();
    assert_shared(
        with_line(&text, 6, "identity AAAA"),
        6,
        K::WrongLength {
            field: "identity",
            expected: 32,
            found: 3,
        },
    );
    let small_order = EIGHT_TORSION[2].compress().to_bytes();
    assert_shared(
        with_line(
            &text,
            6,
            &format!("identity {}", STANDARD.encode(small_order)),
        ),
        6,
        K::IdentitySmallOrder,
    );
    let mut negative_zero = [0u8; 32];
    negative_zero[0] = 1;
    negative_zero[31] = 0x80;
    assert_shared(
        with_line(
            &text,
            6,
            &format!("identity {}", STANDARD.encode(negative_zero)),
        ),
        6,
        K::IdentityNotCanonical,
    );
}

#[test]
fn role_must_be_mix_or_exit() {
    for bad in ["Exit", "relay", "mix,exit"] {
        assert_refused(
            with_line(&text(), 7, &format!("role {bad}")),
            7,
            D::BadRole { found: bad.into() },
        );
    }
}

// ---------------------------------------------------------------- keys

#[test]
fn key_periods_must_be_consecutive() {
    let text = text();
    // A gap: P0, P0 + 2, P0 + 3.
    let gap = with_line(&text, 10, &key_line(P0 + 2, &x25519_key(1)));
    let gap = with_line(&gap, 11, &key_line(P0 + 3, &x25519_key(2)));
    assert_shared(gap, 10, K::MissingPeriodKey { period: P0 + 1 });
    // Swapped lines skip a period before going back.
    let swapped = with_line(&with_line(&text, 10, line(&text, 11)), 11, line(&text, 10));
    assert_shared(swapped, 10, K::MissingPeriodKey { period: P0 + 1 });
}

#[test]
fn key_periods_must_increase() {
    let text = text();
    assert_shared(
        with_line(&text, 10, &key_line(P0 - 1, &x25519_key(1))),
        10,
        K::KeyPeriodNotIncreasing {
            found: P0 - 1,
            previous: P0,
        },
    );
    assert_shared(
        insert_line(&text, 10, &key_line(P0, &x25519_key(5))),
        10,
        K::KeyPeriodNotIncreasing {
            found: P0,
            previous: P0,
        },
    );
}

#[test]
fn keys_must_cover_published_through_two_periods_later() {
    // Ending at P0 + 1: named on the last key line.
    let mut d = descriptor();
    d.keys = keys(P0..=P0 + 1);
    let short = insert_line(
        &without_lines(&text(), 9..=SIGNATURE_LINE),
        9,
        &format!(
            "{}\n{}\nsignature {}",
            key_line(P0, &x25519_key(0)),
            key_line(P0 + 1, &x25519_key(1)),
            STANDARD.encode([0u8; 64])
        ),
    );
    let cover = D::KeysDoNotCover {
        first: P0,
        last: P0 + 1,
        required_first: P0,
        required_last: P0 + 2,
    };
    assert_refused(short, 10, cover.clone());
    assert_sign_refused(&d, Some(10), cover);

    // Starting at P0 + 1: named on the first key line.
    d.keys = keys(P0 + 1..=P0 + 3);
    assert_sign_refused(
        &d,
        Some(9),
        D::KeysDoNotCover {
            first: P0 + 1,
            last: P0 + 3,
            required_first: P0,
            required_last: P0 + 2,
        },
    );
}

#[test]
fn more_than_64_keys_are_refused() {
    let mut d = descriptor();
    d.keys = keys(P0..=P0 + 64);
    assert_sign_refused(&d, Some(9 + 64), D::TooManyKeys { max: 64 });
    // The same text, unsigned, from the parser.
    let mut text = without_lines(&text(), 9..=SIGNATURE_LINE);
    for key in &d.keys {
        text.push_str(&key_line(key.period, &key.key));
        text.push('\n');
    }
    assert_refused(text, 9 + 64, D::TooManyKeys { max: 64 });
}

#[test]
fn key_rules_are_the_directorys() {
    let text = text();
    let low_order = EIGHT_TORSION[1].to_montgomery().to_bytes();
    assert_shared(
        with_line(&text, 10, &key_line(P0 + 1, &low_order)),
        10,
        K::KeyLowOrder,
    );
    assert_shared(
        with_line(&text, 11, &key_line(P0 + 2, &[0; 32])),
        11,
        K::KeyAllZero,
    );
    assert_shared(
        with_line(&text, 11, &key_line(P0 + 2, &x25519_key(0))),
        11,
        K::DuplicateKey { first_line: 9 },
    );
    assert_shared(
        with_line(&text, 9, &format!("key {P0} ???")),
        9,
        K::BadBase64 {
            field: "x25519-key",
            found: "???".into(),
        },
    );
}

// ---------------------------------------------------------------- signature

#[test]
fn signature_by_another_key_is_refused() {
    let mut d = descriptor();
    d.identity = identity_key(2).public_key();
    let by_two = String::from_utf8(d.sign(&identity_key(2)).unwrap()).unwrap();
    // Identity 1's descriptor carrying identity 2's signature over its own bytes.
    let forged = with_line(&text(), SIGNATURE_LINE, line(&by_two, SIGNATURE_LINE));
    assert_shared(forged, SIGNATURE_LINE, K::InvalidSignature);
}

#[test]
fn changed_value_fails_the_signature() {
    assert_shared(
        with_line(&text(), 7, "role mix"),
        SIGNATURE_LINE,
        K::InvalidSignature,
    );
}

#[test]
fn flipped_byte_anywhere_in_the_signed_part_is_rejected() {
    let text = text().into_bytes();
    let signed_len = text.windows(11).position(|w| w == b"\nsignature ").unwrap() + 1;
    for at in 0..signed_len {
        let mut tampered = text.clone();
        tampered[at] ^= 0x01;
        assert!(
            Descriptor::parse(&tampered).is_err(),
            "flip at byte {at} accepted"
        );
    }
}

#[test]
fn signature_must_be_64_bytes() {
    assert_shared(
        with_line(
            &text(),
            SIGNATURE_LINE,
            &format!("signature {}", STANDARD.encode([1u8; 63])),
        ),
        SIGNATURE_LINE,
        K::WrongLength {
            field: "sig",
            expected: 64,
            found: 63,
        },
    );
}

// ---------------------------------------------------------------- writing side

#[test]
fn sign_refuses_another_identity_key() {
    let err = descriptor().sign(&identity_key(2)).unwrap_err();
    assert_eq!((err.line(), err.kind()), (None, &D::IdentityMismatch));
}

#[test]
fn sign_refuses_what_parse_would_refuse() {
    let mut d = descriptor();
    d.nickname = "mix 0".into();
    assert_sign_refused(
        &d,
        Some(4),
        D::Shared(K::BadNickname {
            found: "mix 0".into(),
        }),
    );
    let mut d = descriptor();
    d.address = "mix0\n@example.org".into();
    assert_sign_refused(
        &d,
        Some(5),
        D::Shared(K::AddressBadLocalPart {
            found: "mix0\n".into(),
        }),
    );
    let mut d = descriptor();
    d.published += Duration::from_millis(1);
    assert_sign_refused(
        &d,
        Some(8),
        D::Shared(K::UnrepresentableTime { field: "published" }),
    );
    let mut d = descriptor();
    d.key_period = Duration::from_millis(3_600_001);
    assert_sign_refused(&d, Some(3), D::Shared(K::KeyPeriodNotWholeSeconds));
    let mut d = descriptor();
    d.keys.clear();
    assert_sign_refused(&d, Some(9), D::Shared(K::MissingLine { expected: "key" }));
}

#[test]
fn errors_name_their_line() {
    let err = result_of(with_line(&text(), 7, "role relay"));
    assert_eq!(
        err.to_string(),
        "line 7: role \"relay\" is neither \"mix\" nor \"exit\""
    );
    let err = result_of(with_line(&text(), 3, "key-period 60"));
    assert_eq!(
        err.to_string(),
        "line 3: key-period 60 is not in 3600..=604800 seconds"
    );
}
