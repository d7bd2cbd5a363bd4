//! Routes: one node per layer, uniformly chosen or named by the caller.

use mixmailer::directory::{DirectoryParams, PeriodKey};
use mixmailer::keys::{AuthoritySigningKey, NodeIdentityKey, NodeSecretKey};
use mixmailer::time::parse_directory_time;
use mixmailer::{Directory, NodeEntry, RouteError};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::HashMap;
use std::time::Duration;

/// Three layers of 1, 3 and 4 nodes (uneven, so per-layer uniformity shows).
fn directory() -> Directory {
    let layers = [1u8, 2, 2, 2, 3, 3, 3, 3];
    let nodes: Vec<NodeEntry> = layers
        .iter()
        .enumerate()
        .map(|(i, &layer)| {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            let key = NodeSecretKey::generate(&mut rng);
            // An identity and the key of the one period.
            let identity = NodeIdentityKey::generate(&mut rng);
            NodeEntry::new(
                &format!("n{i}"),
                layer,
                &format!("n{i}@mix.example"),
                identity.public_key(),
                vec![PeriodKey {
                    period: 20_605, // 2026-06-01, with a key period of one day
                    key: key.public_key(),
                }],
            )
        })
        .collect();
    let params = DirectoryParams {
        network: "routes".into(),
        valid_after: parse_directory_time("2026-06-01T00:00:00Z").unwrap(),
        valid_until: parse_directory_time("2026-06-02T00:00:00Z").unwrap(),
        hops: 3,
        payload_size: 4096,
        mean_delay: Duration::from_secs(30),
        key_period: Duration::from_secs(86_400),
    };
    let authority = AuthoritySigningKey::generate(&mut ChaCha20Rng::seed_from_u64(99));
    let doc = Directory::sign(&params, &nodes, &[&authority]).unwrap();
    let now = parse_directory_time("2026-06-01T12:00:00Z").unwrap();
    Directory::parse(&doc, &[authority.public_key()], 1, now).unwrap()
}

fn nicknames(route: &mixmailer::Route) -> Vec<&str> {
    route.hops().iter().map(|n| n.nickname()).collect()
}

#[test]
fn random_route_takes_one_node_from_each_layer_in_order() {
    let directory = directory();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for _ in 0..50 {
        let route = directory.random_route(&mut rng).unwrap();
        let layers: Vec<u8> = route.hops().iter().map(|n| n.layer()).collect();
        assert_eq!(layers, [1, 2, 3]);
        assert_eq!(route.first_hop().layer(), 1);
        assert_eq!(route.exit().layer(), 3);
        assert_eq!(route.payload_size(), 4096);
        assert_eq!(route.mean_delay(), Duration::from_secs(30));
    }
}

#[test]
fn random_routes_cover_every_node_about_evenly() {
    let directory = directory();
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    let draws = 12_000;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..draws {
        for node in directory.random_route(&mut rng).unwrap().hops() {
            *seen.entry(node.nickname().to_owned()).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), directory.nodes().len());
    for node in directory.nodes() {
        let in_layer = directory
            .nodes()
            .iter()
            .filter(|n| n.layer() == node.layer())
            .count();
        let expected = draws as f64 / in_layer as f64;
        let got = seen[node.nickname()] as f64;
        // 4000 expected draws have a standard deviation under 60; 10% is > 6 sigma.
        assert!(
            (got - expected).abs() < expected * 0.1,
            "{}: {got} draws, expected about {expected}",
            node.nickname()
        );
    }
}

#[test]
fn same_seed_gives_same_route() {
    let directory = directory();
    let a = directory
        .random_route(&mut ChaCha20Rng::seed_from_u64(5))
        .unwrap();
    let b = directory
        .random_route(&mut ChaCha20Rng::seed_from_u64(5))
        .unwrap();
    assert_eq!(nicknames(&a), nicknames(&b));
}

#[test]
fn named_route_is_built_in_order() {
    let directory = directory();
    let route = directory.route(&["n0", "n3", "n5"]).unwrap();
    assert_eq!(nicknames(&route), ["n0", "n3", "n5"]);
    assert_eq!(route.first_hop().address(), "n0@mix.example");
    assert_eq!(route.exit().nickname(), "n5");
    assert_eq!(route.payload_size(), 4096);
}

#[test]
fn route_with_wrong_number_of_nodes_is_refused() {
    let directory = directory();
    assert_eq!(
        directory.route(&["n0", "n3"]).unwrap_err(),
        RouteError::WrongLength {
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        directory.route(&["n0", "n1", "n4", "n5"]).unwrap_err(),
        RouteError::WrongLength {
            expected: 3,
            found: 4
        }
    );
    assert_eq!(
        directory.route(&[]).unwrap_err(),
        RouteError::WrongLength {
            expected: 3,
            found: 0
        }
    );
}

#[test]
fn unknown_nickname_is_refused() {
    let err = directory().route(&["n0", "nobody", "n5"]).unwrap_err();
    assert_eq!(
        err,
        RouteError::UnknownNickname {
            position: 2,
            nickname: "nobody".into()
        }
    );
    assert_eq!(err.to_string(), "position 2: no node is called \"nobody\"");
}

#[test]
fn nicknames_are_case_sensitive() {
    assert_eq!(
        directory().route(&["N0", "n1", "n5"]).unwrap_err(),
        RouteError::UnknownNickname {
            position: 1,
            nickname: "N0".into()
        }
    );
}

#[test]
fn node_in_wrong_layer_is_refused() {
    let err = directory().route(&["n0", "n5", "n1"]).unwrap_err();
    assert_eq!(
        err,
        RouteError::WrongLayer {
            nickname: "n5".into(),
            position: 2,
            layer: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "position 2: node \"n5\" is in layer 3, not layer 2"
    );
}
