//! Our packet construction against `sphinx-packet` 0.8's own builder and
//! processor, over many random routes, delays, plaintexts and payload sizes.
//!
//! `sphinx-packet` draws the final hop's padding from the thread RNG, so
//! its packets are not a function of the initial secret. Each reference
//! packet's padding is recovered here the way the exit node sees it (its
//! secret key, the spec's HKDF and AES-128-CTR, written out independently
//! of the library) and handed to `build_packet_with_padding`; every other
//! byte must then agree. Routes are random `(id, key)` hop lists, some keys
//! with a torsion component, and routes of a signed and parsed directory.

use aes::cipher::{KeyIvInit, StreamCipher};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use mixmailer::sample::{SampleNetwork, SampleSpec};
use mixmailer::sphinx::{
    build_packet_reference, build_packet_to, build_packet_with_padding, build_packets_to,
    final_padding_len, payload_capacity, HopTable, InitialSecret, PacketError, PacketHop,
    PacketInput, TableCache, HEADER_LEN, TABLE_AFTER_USES,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sphinx_packet::header::delays::Delay;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::{ProcessedPacketData, SphinxPacket, SphinxPacketBuilder};
use std::time::Duration;
use x25519_dalek::{PublicKey, StaticSecret};

/// A mix node of the test network.
struct TestNode {
    secret: [u8; 32],
    key: [u8; 32],
    id: [u8; 32],
    table: HopTable,
}

impl TestNode {
    fn random(rng: &mut ChaCha20Rng, cache: &TableCache) -> Self {
        let secret = random_bytes(rng);
        let key = PublicKey::from(&StaticSecret::from(secret)).to_bytes();
        TestNode {
            secret,
            key,
            id: random_bytes(rng),
            table: cache.table(&key),
        }
    }

    /// A node whose key carries a torsion component next to the point of
    /// its secret: X25519 (clamped, so a multiple of 8) cannot tell.
    fn with_torsion(rng: &mut ChaCha20Rng, cache: &TableCache) -> Self {
        let mut node = TestNode::random(rng, cache);
        let torsion = loop {
            if let Some(point) = CompressedEdwardsY(random_bytes(rng)).decompress() {
                let prime_part = point.mul_by_cofactor() * Scalar::from(8u8).invert();
                let torsion = point - prime_part;
                if !torsion.is_identity_point() {
                    break torsion;
                }
            }
        };
        let public =
            EdwardsPoint::mul_base(&Scalar::from_bytes_mod_order(clamp_integer(node.secret)));
        node.key = (public + torsion).to_montgomery().to_bytes();
        node.table = cache.table(&node.key);
        node
    }
}

trait IsIdentity {
    fn is_identity_point(&self) -> bool;
}

impl IsIdentity for EdwardsPoint {
    fn is_identity_point(&self) -> bool {
        self.compress() == EdwardsPoint::default().compress()
    }
}

fn random_bytes<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut bytes = [0u8; N];
    rng.fill_bytes(&mut bytes);
    bytes
}

fn below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    rng.next_u64() % n
}

/// One random packet to build both ways.
struct Case {
    secret: [u8; 32],
    route: Vec<usize>,
    delays: Vec<Duration>,
    payload_size: usize,
    plaintext: Vec<u8>,
    cached: bool,
}

impl Case {
    fn random(rng: &mut ChaCha20Rng, nodes: usize) -> Self {
        let hops = 1 + below(rng, 5) as usize;
        let route = (0..hops)
            .map(|_| below(rng, nodes as u64) as usize)
            .collect();
        let delays = (0..hops)
            .map(|_| match below(rng, 4) {
                0 => Duration::ZERO,
                1 => Duration::from_secs(u64::MAX), // saturates to u64::MAX nanoseconds
                _ => Duration::from_nanos(rng.next_u64()),
            })
            .collect();
        let payload_size = 16 * (64 + below(rng, 4096 - 64 + 1) as usize);
        let len = below(rng, payload_capacity(payload_size) as u64 + 1) as usize;
        let mut plaintext = vec![0u8; len];
        rng.fill_bytes(&mut plaintext);
        Case {
            secret: random_bytes(rng),
            route,
            delays,
            payload_size,
            plaintext,
            cached: below(rng, 4) != 0,
        }
    }

    fn hops<'a>(&self, nodes: &'a [TestNode]) -> Vec<PacketHop<'a>> {
        self.route
            .iter()
            .map(|&i| PacketHop {
                id: &nodes[i].id,
                key: &nodes[i].key,
                table: self.cached.then_some(&nodes[i].table),
            })
            .collect()
    }

    fn reference(&self, nodes: &[TestNode]) -> Vec<u8> {
        let route: Vec<Node> = self
            .route
            .iter()
            .map(|&i| {
                Node::new(
                    NodeAddressBytes::from_bytes(nodes[i].id),
                    PublicKey::from(nodes[i].key),
                )
            })
            .collect();
        let delays: Vec<Delay> = self
            .delays
            .iter()
            .map(|d| Delay::new_from_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
            .collect();
        let secret = StaticSecret::from(self.secret);
        SphinxPacketBuilder::new()
            .with_payload_size(self.payload_size)
            .with_initial_secret(&secret)
            .build_packet(
                &self.plaintext,
                &route,
                &Destination::new(DestinationAddressBytes::from_bytes([0; 32]), [0; 16]),
                &delays,
            )
            .unwrap()
            .to_bytes()
    }
}

/// Everything a packet showed on its trip through `sphinx-packet`'s processor.
struct Trip {
    next_ids: Vec<[u8; 32]>,
    delays: Vec<Duration>,
    plaintext: Vec<u8>,
    /// The final hop's routing block as that hop decrypts it.
    final_block: Vec<u8>,
}

/// Processes `packet` hop by hop with `sphinx-packet` itself.
fn travel(packet: &[u8], route: &[usize], nodes: &[TestNode]) -> Trip {
    let secrets: Vec<[u8; 32]> = route.iter().map(|&i| nodes[i].secret).collect();
    travel_with(packet, &secrets)
}

/// Processes `packet` hop by hop with the nodes' secret keys, in route order.
fn travel_with(packet: &[u8], secrets: &[[u8; 32]]) -> Trip {
    let mut packet = packet.to_vec();
    let mut trip = Trip {
        next_ids: Vec::new(),
        delays: Vec::new(),
        plaintext: Vec::new(),
        final_block: Vec::new(),
    };
    for (hop, secret) in secrets.iter().enumerate() {
        let secret = StaticSecret::from(*secret);
        if hop + 1 == secrets.len() {
            trip.final_block = final_block(&packet, &secret, secrets.len());
        }
        let parsed = SphinxPacket::from_bytes(&packet).unwrap();
        match parsed.process(&secret).unwrap().data {
            ProcessedPacketData::ForwardHop {
                next_hop_packet,
                next_hop_address,
                delay,
            } => {
                trip.next_ids.push(*next_hop_address.as_bytes());
                trip.delays.push(delay.to_duration());
                packet = next_hop_packet.to_bytes();
            }
            ProcessedPacketData::FinalHop {
                destination,
                identifier,
                payload,
            } => {
                assert_eq!(hop + 1, secrets.len(), "final hop reached early");
                assert_eq!(destination.as_bytes(), [0u8; 32]);
                assert_eq!(identifier, [0u8; 16]);
                trip.plaintext = payload.recover_plaintext().unwrap();
            }
        }
    }
    trip
}

/// The final hop's plaintext routing block (flag, version, destination,
/// identifier, padding), decrypted as the spec says: X25519, HKDF-SHA256
/// with an empty salt, the first 16 bytes as an AES-128-CTR key, zero IV.
fn final_block(packet: &[u8], secret: &StaticSecret, hops: usize) -> Vec<u8> {
    let alpha: [u8; 32] = packet[..32].try_into().unwrap();
    let shared = secret.diffie_hellman(&PublicKey::from(alpha));
    let mut key = [0u8; 16];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(b""), shared.as_bytes())
        .expand(
            sphinx_packet::constants::EXPANDED_SHARED_SECRET_HKDF_INFO,
            &mut key,
        )
        .unwrap();
    let mut block = packet[48..48 + 300 - 60 * (hops - 1)].to_vec();
    ctr::Ctr64BE::<aes::Aes128>::new(&key.into(), &[0u8; 16].into()).apply_keystream(&mut block);
    block
}

/// The padding `sphinx-packet` drew for `reference`.
fn padding_of(reference: &[u8], case: &Case, nodes: &[TestNode]) -> Vec<u8> {
    let secrets: Vec<[u8; 32]> = case.route.iter().map(|&i| nodes[i].secret).collect();
    padding_with(reference, &secrets)
}

/// The padding of `reference`, read by the nodes whose secrets these are.
fn padding_with(reference: &[u8], secrets: &[[u8; 32]]) -> Vec<u8> {
    let block = travel_with(reference, secrets).final_block;
    assert_eq!(&block[..4], &[2, 0, 1, 4], "final flag and version 260");
    assert!(
        block[4..52].iter().all(|&b| b == 0),
        "zero destination and id"
    );
    assert_eq!(block.len() - 52, final_padding_len(secrets.len()));
    block[52..].to_vec()
}

/// Ten plain nodes and two with torsion; nodes 0, 2, 4, 6 and 10 (one of
/// the torsion ones) already have their fixed-base tables, the others get
/// theirs only if the cases use them often enough.
fn network(rng: &mut ChaCha20Rng) -> Vec<TestNode> {
    let cache = TableCache::default();
    let mut nodes: Vec<TestNode> = (0..10).map(|_| TestNode::random(rng, &cache)).collect();
    nodes.push(TestNode::with_torsion(rng, &cache));
    nodes.push(TestNode::with_torsion(rng, &cache));
    let warm: Vec<PacketHop<'_>> = [0, 2, 4, 6, 10]
        .iter()
        .map(|&i| PacketHop {
            id: &nodes[i].id,
            key: &nodes[i].key,
            table: Some(&nodes[i].table),
        })
        .collect();
    let secret = InitialSecret::from_bytes([1; 32]);
    for _ in 0..TABLE_AFTER_USES {
        build_packet_to(&secret, &warm, 1024, &[Duration::ZERO; 5], b"warm up").unwrap();
    }
    assert!(warm
        .iter()
        .all(|hop| hop.table.is_some_and(HopTable::has_table)));
    nodes
}

#[test]
fn packets_are_byte_for_byte_those_of_sphinx_packet() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0001);
    let nodes = network(&mut rng);
    for n in 0..100 {
        let case = Case::random(&mut rng, nodes.len());
        let reference = case.reference(&nodes);
        let padding = padding_of(&reference, &case, &nodes);
        let ours = build_packet_with_padding(
            &InitialSecret::from_bytes(case.secret),
            &case.hops(&nodes),
            case.payload_size,
            &case.delays,
            &case.plaintext,
            &padding,
        )
        .unwrap();
        assert_eq!(ours.len(), HEADER_LEN + case.payload_size);
        assert!(ours == reference, "case {n}: packets differ");
    }
}

#[test]
fn sphinx_packet_processes_our_packets_to_the_plaintext() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0002);
    let nodes = network(&mut rng);
    for _ in 0..60 {
        let case = Case::random(&mut rng, nodes.len());
        let packet = build_packet_to(
            &InitialSecret::from_bytes(case.secret),
            &case.hops(&nodes),
            case.payload_size,
            &case.delays,
            &case.plaintext,
        )
        .unwrap();
        let trip = travel(&packet, &case.route, &nodes);
        assert_eq!(trip.plaintext, case.plaintext);
        let ids: Vec<[u8; 32]> = case.route[1..].iter().map(|&i| nodes[i].id).collect();
        assert_eq!(trip.next_ids, ids);
        let nanos = |d: &Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let sent: Vec<u64> = case.delays[..case.route.len() - 1]
            .iter()
            .map(nanos)
            .collect();
        let seen: Vec<u64> = trip.delays.iter().map(nanos).collect();
        assert_eq!(seen, sent);
    }
}

#[test]
fn same_inputs_give_the_same_packet_and_padding_is_not_zero() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0003);
    let nodes = network(&mut rng);
    let case = Case::random(&mut rng, nodes.len());
    let build = || {
        build_packet_to(
            &InitialSecret::from_bytes(case.secret),
            &case.hops(&nodes),
            case.payload_size,
            &case.delays,
            &case.plaintext,
        )
        .unwrap()
    };
    let packet = build();
    assert_eq!(packet, build());
    let padding = travel(&packet, &case.route, &nodes).final_block[52..].to_vec();
    assert!(padding.iter().any(|&b| b != 0));
}

#[test]
fn parallel_building_gives_the_sequential_packets() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0004);
    let nodes = network(&mut rng);
    let route: Vec<PacketHop<'_>> = (0..5)
        .map(|i| PacketHop {
            id: &nodes[i].id,
            key: &nodes[i].key,
            table: Some(&nodes[i].table),
        })
        .collect();
    let payload_size = 2048;
    let plans: Vec<([u8; 32], Vec<Duration>, Vec<u8>)> = (0..9)
        .map(|i| {
            let delays = (0..5)
                .map(|_| Duration::from_nanos(rng.next_u64()))
                .collect();
            (random_bytes(&mut rng), delays, vec![i as u8; 100 + 50 * i])
        })
        .collect();
    let secrets: Vec<InitialSecret> = plans
        .iter()
        .map(|p| InitialSecret::from_bytes(p.0))
        .collect();
    let inputs: Vec<PacketInput<'_>> = plans
        .iter()
        .zip(&secrets)
        .map(|(plan, secret)| PacketInput {
            secret,
            delays: &plan.1,
            plaintext: &plan.2,
        })
        .collect();
    let sequential: Vec<Vec<u8>> = inputs
        .iter()
        .map(|input| {
            build_packet_to(
                input.secret,
                &route,
                payload_size,
                input.delays,
                input.plaintext,
            )
            .unwrap()
        })
        .collect();
    let parallel = build_packets_to(&route, payload_size, &inputs).unwrap();
    assert!(parallel == sequential);
}

#[test]
fn parallel_building_reports_the_first_bad_input() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0005);
    let nodes = network(&mut rng);
    let route = [PacketHop {
        id: &nodes[0].id,
        key: &nodes[0].key,
        table: None,
    }];
    let secret = InitialSecret::from_bytes([7; 32]);
    let delays = [Duration::ZERO];
    let ok = vec![0u8; 10];
    let too_long = vec![0u8; 2000];
    let inputs: Vec<PacketInput<'_>> = [&ok, &ok, &too_long, &ok]
        .iter()
        .map(|plaintext| PacketInput {
            secret: &secret,
            delays: &delays,
            plaintext,
        })
        .collect();
    assert!(matches!(
        build_packets_to(&route, 1024, &inputs),
        Err(PacketError::PlaintextTooLong {
            capacity: 1007,
            actual: 2000
        })
    ));
}

#[test]
fn route_packets_from_a_signed_directory_are_those_of_the_reference() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0006);
    for hops in 2..=5u8 {
        let network = SampleNetwork::generate(&SampleSpec {
            hops,
            nodes_per_layer: 2,
            payload_size: 1024 + 16 * usize::from(hops) * 97,
            mean_delay: Duration::from_secs(60),
            seed: u64::from(hops),
            ..SampleSpec::default()
        })
        .unwrap();
        let directory = network.directory().unwrap();
        let route = directory.random_route(&mut rng).unwrap();
        let period = mixmailer::period::period_of(network.now, route.key_period());
        let keys = route.keys_for(period).unwrap();
        let secrets: Vec<[u8; 32]> = route
            .hops()
            .iter()
            .map(|hop| {
                let index = directory
                    .nodes()
                    .iter()
                    .position(|n| n.id() == hop.id())
                    .unwrap();
                let (_, key) = network.node_keys[index]
                    .iter()
                    .find(|(p, _)| *p == period)
                    .unwrap();
                *key.to_bytes()
            })
            .collect();
        let plain_hops: Vec<PacketHop<'_>> = route
            .hops()
            .iter()
            .zip(&keys)
            .map(|(hop, key)| PacketHop {
                id: hop.id(),
                key,
                table: None,
            })
            .collect();
        let cache = TableCache::default();
        let tables: Vec<HopTable> = keys.iter().map(|key| cache.table(key)).collect();
        let table_hops: Vec<PacketHop<'_>> = plain_hops
            .iter()
            .zip(&tables)
            .map(|(hop, table)| PacketHop {
                table: Some(table),
                ..*hop
            })
            .collect();
        for _ in 0..3 {
            let secret = InitialSecret::from_bytes(random_bytes(&mut rng));
            let delays: Vec<Duration> = (0..hops)
                .map(|_| Duration::from_millis(below(&mut rng, 1 << 40)))
                .collect();
            let mut plaintext = vec![0u8; below(&mut rng, 1000) as usize];
            rng.fill_bytes(&mut plaintext);
            let reference = build_packet_reference(
                &secret,
                &plain_hops,
                route.payload_size(),
                &delays,
                &plaintext,
            )
            .unwrap();
            let padding = padding_with(&reference, &secrets);
            let ours = build_packet_with_padding(
                &secret,
                &plain_hops,
                route.payload_size(),
                &delays,
                &plaintext,
                &padding,
            )
            .unwrap();
            assert!(ours == reference, "{hops} hops: packets differ");
            let packet = build_packet_to(
                &secret,
                &table_hops,
                route.payload_size(),
                &delays,
                &plaintext,
            )
            .unwrap();
            let without_tables = build_packet_to(
                &secret,
                &plain_hops,
                route.payload_size(),
                &delays,
                &plaintext,
            )
            .unwrap();
            assert!(packet == without_tables, "hop tables change no byte");
            assert_eq!(travel_with(&packet, &secrets).plaintext, plaintext);
        }
    }
}

#[test]
fn seeded_mix_wrap_gives_the_same_onions_every_time() {
    let network = SampleNetwork::generate(&SampleSpec {
        payload_size: 2048,
        ..SampleSpec::default()
    })
    .unwrap();
    let directory = network.directory().unwrap();
    let route = directory
        .random_route(&mut ChaCha20Rng::seed_from_u64(1))
        .unwrap();
    let mut body = vec![0u8; 30_000];
    ChaCha20Rng::seed_from_u64(2).fill_bytes(&mut body);
    let mut message = b"From: alice@example.org\r\nTo: bob@example.net\r\n\r\n".to_vec();
    message.extend(
        body.iter()
            .map(|b| b"abcdefghijklmnop"[usize::from(b % 16)]),
    );
    let wrap = || {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        mixmailer::mix_wrap_with(&message, &route, &Default::default(), network.now, &mut rng)
            .unwrap()
    };
    let onions = wrap();
    assert!(
        onions.onions().len() > 2,
        "several packets, built in parallel"
    );
    assert_eq!(onions, wrap());
}
