//! Key periods (SPEC 2), with a clock the tests control: which periods a
//! node accepts, how it rotates its keys and replay tags, and that only
//! exits deliver.

mod common;

use common::{alice, pep_message};
use mixmailer::directory::Directory;
use mixmailer::node::{DropReason, MixNode, NodeError, NodeKeys, Outcome};
use mixmailer::period::{period_of, period_start};
use mixmailer::sample::{InProcessMixnet, SampleNetwork, SampleSpec};
use mixmailer::sphinx::{build_packets_to, InitialSecret, PacketHop, PacketInput, TableCache};
use mixmailer::{mix_wrap_with, Error, Route, WrapOptions};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::{Duration, SystemTime};

const DAY: Duration = Duration::from_secs(86_400);
const SECOND: Duration = Duration::from_secs(1);

/// Three layers of two nodes, one-day key periods over a week, 60 s delays,
/// small payloads (thousands of packets are built).
fn network() -> SampleNetwork {
    SampleNetwork::generate(&SampleSpec {
        hops: 3,
        payload_size: 2048,
        mean_delay: Duration::from_secs(60),
        seed: 11,
        ..SampleSpec::default()
    })
    .unwrap()
}

/// The first period of the network's directory.
fn first_period(net: &SampleNetwork) -> u64 {
    let directory = net.directory().unwrap();
    *directory.params().periods().start()
}

/// The directory's position of the node called `nickname`.
fn index_of(directory: &Directory, nickname: &str) -> usize {
    directory
        .nodes()
        .iter()
        .position(|n| n.nickname() == nickname)
        .unwrap()
}

/// One packet per secret along `route` for `period`, with the given delays.
fn packets(
    route: &Route,
    period: u64,
    delays: &[Duration],
    secrets: &[InitialSecret],
) -> Vec<Vec<u8>> {
    let keys = route.keys_for(period).unwrap();
    // Tables: thousands of packets to the same nodes, as a busy sender builds.
    let cache = TableCache::default();
    let tables: Vec<_> = keys.iter().map(|key| cache.table(key)).collect();
    let hops: Vec<PacketHop<'_>> = route
        .hops()
        .iter()
        .zip(keys)
        .zip(&tables)
        .map(|((hop, key), table)| PacketHop {
            id: hop.id(),
            key,
            table: Some(table),
        })
        .collect();
    let plaintext = [7u8; 100];
    let inputs: Vec<PacketInput<'_>> = secrets
        .iter()
        .map(|secret| PacketInput {
            secret,
            delays,
            plaintext: &plaintext,
        })
        .collect();
    build_packets_to(&hops, route.payload_size(), &inputs).unwrap()
}

fn secrets(count: usize, seed: u64) -> Vec<InitialSecret> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| InitialSecret::generate(&mut rng))
        .collect()
}

#[test]
fn a_message_wrapped_in_the_last_second_of_a_period_is_delivered_in_the_next() {
    let net = network();
    let directory = net.directory().unwrap();
    let period = first_period(&net) + 2;
    let last_second = period_start(period + 1, DAY) - SECOND;
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let route = directory.random_route(&mut rng).unwrap();
    let message = pep_message("sent at midnight\r\n");
    let wrapped = mix_wrap_with(
        &message,
        &route,
        &WrapOptions::default(),
        last_second,
        &mut rng,
    )
    .unwrap();
    assert_eq!(wrapped.period(), period);
    let mut mixnet = InProcessMixnet::new(&net).unwrap();
    let mut delivered = 0;
    for onion in wrapped.onions() {
        assert_eq!(onion.period(), period);
        let carrier = onion.to_email(&alice());
        let (trip, outcome) = mixnet
            .carry(onion.first_hop(), &carrier, last_second)
            .unwrap();
        // The first hop still sees the old period, the exit the new one.
        assert_eq!(period_of(trip[0].arrived, DAY), period);
        assert_eq!(period_of(trip.last().unwrap().arrived, DAY), period + 1);
        if matches!(outcome, Outcome::Deliver { .. }) {
            delivered += 1;
        }
    }
    assert_eq!(delivered, 1);
}

#[test]
fn a_packet_of_period_p_is_refused_at_p_plus_2_and_its_tags_and_key_are_gone() {
    let net = network();
    let directory = net.directory().unwrap();
    let route = directory.route(&["L1N1", "L2N1", "L3N1"]).unwrap();
    let p = first_period(&net) + 1;
    let mut node = MixNode::new(net.keys_of(0).unwrap(), directory.clone()).unwrap();
    let delays = [SECOND, SECOND, Duration::ZERO];
    let packet = &packets(&route, p, &delays, &secrets(1, 2))[0];
    let in_p = period_start(p, DAY) + SECOND;
    assert!(matches!(
        node.process_packet(p, packet, in_p).unwrap(),
        Outcome::Forward { .. }
    ));
    assert_eq!(node.store_mut().tag_periods(), [p]);
    // Still the previous period in P + 1: a replay is recognised.
    let in_p1 = period_start(p + 1, DAY) + SECOND;
    assert!(matches!(
        node.process_packet(p, packet, in_p1).unwrap(),
        Outcome::Dropped(DropReason::Replay)
    ));
    let in_p2 = period_start(p + 2, DAY);
    assert!(matches!(
        node.process_packet(p, packet, in_p2).unwrap(),
        Outcome::Dropped(DropReason::PeriodNotAccepted)
    ));
    assert!(!node.store_mut().tag_periods().contains(&p));
    assert!(
        node.keys().get(p).is_none(),
        "the key of P is deleted at P + 2"
    );
    assert!(node.keys().get(p + 1).is_some());
}

#[test]
fn the_next_period_is_accepted_only_within_ten_minutes_of_its_start() {
    let net = network();
    let directory = net.directory().unwrap();
    let route = directory.route(&["L1N1", "L2N1", "L3N1"]).unwrap();
    let next = first_period(&net) + 3;
    let start = period_start(next, DAY);
    let delays = [SECOND, SECOND, Duration::ZERO];
    let packet = &packets(&route, next, &delays, &secrets(1, 3))[0];
    let mut node = MixNode::new(net.keys_of(0).unwrap(), directory.clone()).unwrap();
    assert!(matches!(
        node.process_packet(next, packet, start - Duration::from_secs(601))
            .unwrap(),
        Outcome::Dropped(DropReason::PeriodNotAccepted)
    ));
    assert!(matches!(
        node.process_packet(next, packet, start - Duration::from_secs(600))
            .unwrap(),
        Outcome::Forward { .. }
    ));
}

#[test]
fn a_node_keeps_accepting_across_three_period_changes_with_keys_made_ahead() {
    let net = network();
    let directory = net.directory().unwrap();
    let route = directory.route(&["L1N2", "L2N1", "L3N2"]).unwrap();
    let index = index_of(&directory, "L1N2");
    let all_keys = &net.node_keys[index];
    let first = first_period(&net);
    // The node starts with the keys of P(now) .. P(now) + 2 only, as the
    // daemon keeps them, and makes the next one at each period change.
    let key_of = |period: u64| {
        let (_, key) = all_keys.iter().find(|(p, _)| *p == period).unwrap();
        mixmailer::keys::NodeSecretKey::from_bytes(*key.to_bytes())
    };
    let mut keys = NodeKeys::new(net.node_identities[index].public_key());
    for period in first..=first + 2 {
        keys.insert(period, key_of(period));
    }
    let mut node = MixNode::new(keys, directory.clone()).unwrap();
    let delays = [SECOND, SECOND, Duration::ZERO];
    for (step, period) in (first..=first + 3).enumerate() {
        if step > 0 {
            node.insert_key(period + 2, key_of(period + 2)).unwrap();
        }
        let now = period_start(period, DAY) + Duration::from_secs(3600);
        for (i, packet) in packets(&route, period, &delays, &secrets(3, period))
            .iter()
            .enumerate()
        {
            let outcome = node.process_packet(period, packet, now).unwrap();
            assert!(
                matches!(outcome, Outcome::Forward { .. }),
                "period {period}, packet {i}: {outcome:?}"
            );
        }
        let held: Vec<u64> = node.keys().periods().collect();
        let expected: Vec<u64> = (period.saturating_sub(1).max(first)..=period + 2).collect();
        assert_eq!(held, expected, "keys held in period {period}");
    }
}

#[test]
fn a_key_made_ahead_that_the_directory_does_not_list_is_refused() {
    let net = network();
    let directory = net.directory().unwrap();
    let mut node = MixNode::new(net.keys_of(0).unwrap(), directory).unwrap();
    let wrong = mixmailer::keys::NodeSecretKey::from_bytes([9; 32]);
    assert!(matches!(
        node.insert_key(first_period(&net) + 1, wrong),
        Err(NodeError::KeyMismatch { .. })
    ));
}

#[test]
fn a_middle_node_given_a_one_hop_packet_drops_it() {
    let net = network();
    let directory = net.directory().unwrap();
    let period = period_of(net.now, DAY);
    for nickname in ["L1N1", "L2N2"] {
        let node_entry = directory.node_by_nickname(nickname).unwrap().clone();
        let key = *node_entry.key_for(period).unwrap();
        let hops = [PacketHop {
            id: node_entry.id(),
            key: &key,
            table: None,
        }];
        let secret = InitialSecret::from_bytes([5; 32]);
        let plaintext = [1u8; 64];
        let packet = &build_packets_to(
            &hops,
            directory.params().payload_size,
            &[PacketInput {
                secret: &secret,
                delays: &[Duration::ZERO],
                plaintext: &plaintext,
            }],
        )
        .unwrap()[0];
        let index = index_of(&directory, nickname);
        let mut node = MixNode::new(net.keys_of(index).unwrap(), directory.clone()).unwrap();
        assert!(matches!(
            node.process_packet(period, packet, net.now).unwrap(),
            Outcome::Dropped(DropReason::FinalHopNotExit)
        ));
    }
}

#[test]
fn a_delay_of_more_than_half_a_period_is_dropped() {
    let net = network();
    let directory = net.directory().unwrap();
    let route = directory.route(&["L1N1", "L2N1", "L3N1"]).unwrap();
    let period = period_of(net.now, DAY);
    let mut node = MixNode::new(net.keys_of(0).unwrap(), directory.clone()).unwrap();
    let too_long = [DAY / 2 + SECOND, SECOND, Duration::ZERO];
    let packet = &packets(&route, period, &too_long, &secrets(1, 4))[0];
    assert!(matches!(
        node.process_packet(period, packet, net.now).unwrap(),
        Outcome::Dropped(DropReason::DelayTooLong)
    ));
    let longest = [DAY / 2, SECOND, Duration::ZERO];
    let packet = &packets(&route, period, &longest, &secrets(1, 5))[0];
    assert!(matches!(
        node.process_packet(period, packet, net.now).unwrap(),
        Outcome::Forward { .. }
    ));
}

#[test]
fn a_version_1_carrier_without_a_period_is_refused() {
    let net = network();
    let directory = net.directory().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let route = directory.random_route(&mut rng).unwrap();
    let wrapped = mix_wrap_with(
        &pep_message("v1\r\n"),
        &route,
        &WrapOptions::default(),
        net.now,
        &mut rng,
    )
    .unwrap();
    let onion = &wrapped.onions()[0];
    let carrier = String::from_utf8(onion.to_email(&alice())).unwrap();
    let v1 = carrier.replace(&format!("Period: {}\r\n\r\n", onion.period()), "");
    let mut mixnet = InProcessMixnet::new(&net).unwrap();
    let node = mixnet.node_mut(onion.first_hop()).unwrap();
    let err = node.process(v1.as_bytes(), net.now).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Carrier(mixmailer::carrier::CarrierError::MissingPeriod { .. })
        ),
        "{err}"
    );
}

#[test]
fn wrapping_at_a_time_the_directory_has_no_keys_for_is_refused() {
    let net = network();
    let directory = net.directory().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let route = directory.random_route(&mut rng).unwrap();
    let after = directory.params().valid_until + 2 * DAY;
    let err = mix_wrap_with(
        &pep_message("late\r\n"),
        &route,
        &WrapOptions::default(),
        after,
        &mut rng,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Route(mixmailer::RouteError::NoKeyForPeriod { .. })
        ),
        "{err}"
    );
}

#[test]
fn replay_storage_after_ten_thousand_packets_over_four_periods_holds_two_periods() {
    let net = network();
    let directory = net.directory().unwrap();
    let route = directory.route(&["L1N1", "L2N1", "L3N1"]).unwrap();
    let mut node = MixNode::new(net.keys_of(0).unwrap(), directory.clone()).unwrap();
    let first = first_period(&net);
    let per_period = 2500;
    let delays = [SECOND, SECOND, Duration::ZERO];
    for period in first..first + 4 {
        let now: SystemTime = period_start(period, DAY) + Duration::from_secs(7200);
        for packet in packets(&route, period, &delays, &secrets(per_period, period)) {
            assert!(matches!(
                node.process_packet(period, &packet, now).unwrap(),
                Outcome::Forward { .. }
            ));
        }
    }
    let store = node.store_mut();
    assert_eq!(store.tag_periods(), [first + 2, first + 3]);
    assert_eq!(store.tag_count(), 2 * per_period);
}
