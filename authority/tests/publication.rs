//! Three authority processes on loopback (threshold 2): descriptors POSTed
//! to them become one consensus that each computes on its own and all sign
//! byte for byte; with one authority stopped the other two still publish;
//! a client with the first mirror down fetches from the second.

mod common;

use common::*;
use mixmailer::descriptor::Role;
use mixmailer::Directory;
use std::time::{Duration, SystemTime};

/// The signed part of a document: up to the first signature line.
fn signed_part(doc: &[u8]) -> &[u8] {
    let at = doc.windows(11).position(|w| w == b"\nsignature ").unwrap();
    &doc[..=at]
}

fn signature_count(doc: &[u8]) -> usize {
    String::from_utf8_lossy(doc)
        .lines()
        .filter(|l| l.starts_with("signature "))
        .count()
}

const INTERVAL: u64 = 12;

#[test]
fn three_authorities_publish_one_consensus_and_two_still_publish_without_the_third() {
    let dir = tempfile::tempdir().unwrap();
    let mut auths = authorities(dir.path(), 3, 2, INTERVAL, &[]);
    for a in auths.iter_mut() {
        a.start();
    }
    let trusted: Vec<[u8; 32]> = auths.iter().map(|a| a.key).collect();

    // Six nodes: four mixes, two exits, each POSTing to every authority.
    let now = SystemTime::now();
    for i in 0..6 {
        let role = if i >= 4 { Role::Exit } else { Role::Mix };
        let d = descriptor(i, role, now);
        for a in &auths {
            assert_eq!(
                post(&a.url, &d),
                (200, "stored\n".to_owned()),
                "node {i} at {}",
                a.url
            );
        }
        assert_eq!(post(&auths[0].url, &d).0, 200, "a repeated POST is fine");
    }

    // Each authority publishes a document listing all six nodes.
    let limit = Duration::from_secs(6 * INTERVAL);
    let docs: Vec<Vec<u8>> = auths
        .iter()
        .map(|a| {
            wait_until(limit, || {
                let doc = get(&a.url, "/mixmailer/v2/directory/current")?;
                let d = Directory::parse(&doc, &trusted, 2, SystemTime::now()).ok()?;
                (d.nodes().len() == 6).then_some(doc)
            })
            .unwrap_or_else(|| panic!("{} published nothing with six nodes:\n{}", a.url, a.log()))
        })
        .collect();

    // Computed independently, the same bytes; exits in the last layer, others balanced.
    let first = Directory::parse(&docs[0], &trusted, 2, SystemTime::now()).unwrap();
    let same_round: Vec<&Vec<u8>> = docs
        .iter()
        .filter(|d| {
            Directory::parse(d, &trusted, 2, SystemTime::now())
                .unwrap()
                .params()
                .valid_after
                == first.params().valid_after
        })
        .collect();
    assert!(same_round.len() >= 2);
    for d in &same_round {
        assert_eq!(signed_part(d), signed_part(&docs[0]));
    }
    for node in first.nodes() {
        let exit = node.nickname() == "node4" || node.nickname() == "node5";
        assert_eq!(
            node.layer() == HOPS,
            exit,
            "{} in layer {}",
            node.nickname(),
            node.layer()
        );
    }
    let per_layer: Vec<usize> = (1..=HOPS)
        .map(|l| first.nodes().iter().filter(|n| n.layer() == l).count())
        .collect();
    assert_eq!(per_layer, vec![2, 2, 2]);

    // The document is also served under its valid-after.
    let va = mixmailer::time::format_directory_time(first.params().valid_after);
    let by_time = get(&auths[1].url, &format!("/mixmailer/v2/directory/{va}")).unwrap();
    assert_eq!(signed_part(&by_time), signed_part(&docs[0]));

    // Stop the third authority: the other two publish a later document, with two signatures.
    auths[2].stop();
    let stopped_at = SystemTime::now();
    for a in &auths[..2] {
        let later = wait_until(limit, || {
            let doc = get(&a.url, "/mixmailer/v2/directory/current")?;
            let d = Directory::parse(&doc, &trusted, 2, SystemTime::now()).ok()?;
            (d.params().valid_after > stopped_at + Duration::from_secs(INTERVAL)).then_some(doc)
        })
        .unwrap_or_else(|| panic!("{} did not publish without the third:\n{}", a.url, a.log()));
        assert_eq!(signature_count(&later), 2);
        // Node layers are kept from one document to the next.
        let d = Directory::parse(&later, &trusted, 2, SystemTime::now()).unwrap();
        for n in d.nodes() {
            assert_eq!(
                Some(n.layer()),
                first.node_by_nickname(n.nickname()).map(|o| o.layer())
            );
        }
    }

    // A client whose first mirror is the stopped authority fetches from the second.
    let cache = dir.path().join("client-cache");
    let client = mixmailer_client::DirectoryClient::new(
        vec![auths[2].url.clone(), auths[1].url.clone()],
        trusted.clone(),
        2,
    )
    .with_timeouts(Duration::from_secs(2), Duration::from_secs(10));
    let fetched = client.fetch_if_due(&cache, SystemTime::now()).unwrap();
    assert!(
        matches!(&fetched.source, mixmailer_client::Source::Fetched { mirror } if *mirror == auths[1].url)
    );
    assert_eq!(fetched.directory.nodes().len(), 6);
}
