//! The directory client against real mirror processes on loopback: static
//! HTTP servers (`python3 -m http.server`, as a plain mirror is) serving
//! `/mixmailer/v2/directory/current` from a directory tree.

mod common;

use common::{dead_mirror, Mirror, Network};
use mixmailer::keys::AuthoritySigningKey;
use mixmailer_client::{ClientError, DirectoryClient, MirrorError, Source};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn with_the_first_mirror_down_the_second_serves_the_document() {
    let net = Network::new();
    let dir = tempfile::tempdir().unwrap();
    let mirror = Mirror::start(&dir.path().join("m2"));
    let document = net.document(HOUR);
    mirror.serve(&document);
    let cache = dir.path().join("directory");

    let fetched = net
        .client(vec![dead_mirror(), mirror.url.clone()])
        .fetch_if_due(&cache, net.now())
        .unwrap();

    assert_eq!(fetched.text, document);
    assert!(matches!(&fetched.source, Source::Fetched { mirror: m } if *m == mirror.url));
    assert_eq!(std::fs::read(&cache).unwrap(), document);
    // Due in the middle quarter of the six-hour validity: 2 to 3.5 h from now.
    let wait = fetched.next_fetch.duration_since(net.now()).unwrap();
    assert!(wait >= 2 * HOUR && wait <= HOUR * 7 / 2, "{wait:?}");
}

#[test]
fn before_the_due_time_the_cache_is_used_without_asking_any_mirror() {
    let net = Network::new();
    let dir = tempfile::tempdir().unwrap();
    let mirror = Mirror::start(&dir.path().join("m"));
    let document = net.document(HOUR);
    mirror.serve(&document);
    let cache = dir.path().join("directory");
    let client = net.client(vec![mirror.url.clone()]);
    let first = client.fetch_if_due(&cache, net.now()).unwrap();

    mirror.serve(&net.document(HOUR / 2));
    let second = client.fetch_if_due(&cache, net.now() + HOUR).unwrap();

    assert!(matches!(second.source, Source::Cache));
    assert_eq!(second.text, document);
    assert_eq!(second.next_fetch, first.next_fetch);
}

#[test]
fn fetch_now_asks_the_mirrors_before_the_due_time() {
    let net = Network::new();
    let dir = tempfile::tempdir().unwrap();
    let mirror = Mirror::start(&dir.path().join("m"));
    mirror.serve(&net.document(HOUR));
    let cache = dir.path().join("directory");
    let client = net.client(vec![mirror.url.clone()]);
    let first = client.fetch_if_due(&cache, net.now()).unwrap();
    let newer = net.document(HOUR / 2);
    mirror.serve(&newer);

    let early = net.now() + Duration::from_secs(60);
    assert!(early < first.next_fetch);
    let fetched = client.fetch_now(&cache, early).unwrap();

    assert!(matches!(&fetched.source, Source::Fetched { mirror: m } if *m == mirror.url));
    assert_eq!(fetched.text, newer);
    assert_eq!(std::fs::read(&cache).unwrap(), newer);
    // And the due time is set again from the new document.
    let cached = client.fetch_if_due(&cache, early).unwrap();
    assert!(matches!(cached.source, Source::Cache));
    assert_eq!(cached.next_fetch, fetched.next_fetch);
}

#[test]
fn when_every_mirror_is_down_the_old_document_is_kept() {
    let net = Network::new();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("directory");
    let old = net.document(HOUR);
    {
        let mirror = Mirror::start(&dir.path().join("m"));
        mirror.serve(&old);
        net.client(vec![mirror.url.clone()])
            .fetch_if_due(&cache, net.now())
            .unwrap();
    } // the mirror process is gone

    let later = net.now() + 4 * HOUR; // past any due time, before valid-until
    let fetched = net
        .client(vec![dead_mirror(), dead_mirror()])
        .fetch_if_due(&cache, later)
        .unwrap();

    assert_eq!(fetched.text, old);
    assert!(matches!(&fetched.source, Source::CacheAfterFailure(f) if f.len() == 2));
    assert_eq!(std::fs::read(&cache).unwrap(), old);
    let wait = fetched.next_fetch.duration_since(later).unwrap();
    assert!(wait >= Duration::from_secs(60) && wait <= Duration::from_secs(300));
}

#[test]
fn a_document_that_does_not_verify_is_never_used_nor_cached() {
    let net = Network::new();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("directory");
    let old = net.document(HOUR);
    let forger = AuthoritySigningKey::from_bytes([9; 32]);
    let forged = net.document_by(HOUR / 2, &forger);
    let mut tampered = net.document(HOUR / 2);
    let at = tampered.windows(7).position(|w| w == b"network").unwrap();
    tampered[at + 8] ^= 1; // `sample` -> `rample`, signature no longer matches
    let forged_mirror = Mirror::start(&dir.path().join("forged"));
    forged_mirror.serve(&forged);
    let tampered_mirror = Mirror::start(&dir.path().join("tampered"));
    tampered_mirror.serve(&tampered);
    let client = net.client(vec![forged_mirror.url.clone(), tampered_mirror.url.clone()]);

    // Nothing cached yet: no document at all, and each mirror's reason.
    match client.fetch_if_due(&cache, net.now()) {
        Err(ClientError::AllMirrorsFailed(failures)) => {
            assert_eq!(failures.len(), 2);
            assert!(failures
                .iter()
                .all(|f| matches!(f, MirrorError::Invalid { .. })));
        }
        other => panic!("expected AllMirrorsFailed, got {other:?}"),
    }
    assert!(!cache.exists());

    // With a valid cached document, it stays in use and on disk.
    std::fs::write(&cache, &old).unwrap();
    let fetched = client.fetch_if_due(&cache, net.now()).unwrap();
    assert_eq!(fetched.text, old);
    assert!(matches!(fetched.source, Source::CacheAfterFailure(_)));
    assert_eq!(std::fs::read(&cache).unwrap(), old);
}

#[test]
fn an_older_document_from_a_stale_mirror_does_not_replace_a_newer_one() {
    let net = Network::new();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("directory");
    let newer = net.document(HOUR);
    std::fs::write(&cache, &newer).unwrap();
    let stale = Mirror::start(&dir.path().join("stale"));
    stale.serve(&net.document(2 * HOUR));

    let fetched = net
        .client(vec![stale.url.clone()])
        .fetch_if_due(&cache, net.now())
        .unwrap();

    assert_eq!(fetched.text, newer);
    assert!(
        matches!(&fetched.source, Source::CacheAfterFailure(f) if matches!(f[..], [MirrorError::Older { .. }]))
    );
}

#[test]
fn a_bad_threshold_is_refused_before_any_traffic() {
    let net = Network::new();
    let dir = tempfile::tempdir().unwrap();
    let client = DirectoryClient::new(vec![dead_mirror()], net.trusted(), 2);
    let err = client
        .fetch_if_due(&dir.path().join("directory"), net.now())
        .unwrap_err();
    assert!(matches!(
        err,
        ClientError::Threshold {
            threshold: 2,
            trusted: 1
        }
    ));
}
