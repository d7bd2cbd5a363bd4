//! Packet creation: `sphinx-packet`'s `SphinxPacketBuilder` and ours side by
//! side in one run, the per-node table cold and warm, many packets in
//! sequence and in parallel, and the primitives the time goes to.
//!
//! `cargo bench --bench packet_creation -- --warm-up-time 1 --measurement-time 3`

use blake2::digest::consts::U32;
use blake2::Blake2bMac;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use curve25519_dalek::edwards::EdwardsBasepointTable;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::BasepointTable;
use hmac::{KeyInit, Mac};
use mixmailer::sphinx::{
    build_packet_to, build_packets_to, payload_capacity, HopTable, InitialSecret, PacketHop,
    PacketInput, TableCache, TABLE_AFTER_USES,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sphinx_packet::header::delays::Delay;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::SphinxPacketBuilder;
use std::hint::black_box;
use std::time::Duration;
use x25519_dalek::{PublicKey, StaticSecret};

const PAYLOAD_SIZES: [usize; 2] = [2048, 32768];

struct BenchNode {
    key: [u8; 32],
    id: [u8; 32],
    table: HopTable,
}

fn random<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut bytes = [0u8; N];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// Five nodes whose tables come from `cache`, as a sender's do.
fn nodes(rng: &mut ChaCha20Rng, cache: &TableCache) -> Vec<BenchNode> {
    (0..5)
        .map(|_| {
            let key = PublicKey::from(&StaticSecret::from(random::<32>(rng))).to_bytes();
            BenchNode {
                key,
                id: random(rng),
                table: cache.table(&key),
            }
        })
        .collect()
}

fn hops<'a>(nodes: &'a [BenchNode], tables: Option<&'a [HopTable]>) -> Vec<PacketHop<'a>> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| PacketHop {
            id: &node.id,
            key: &node.key,
            table: match tables {
                Some(tables) => tables.get(i),
                None => Some(&node.table),
            },
        })
        .collect()
}

fn sphinx_route(nodes: &[BenchNode]) -> Vec<Node> {
    nodes
        .iter()
        .map(|n| Node::new(NodeAddressBytes::from_bytes(n.id), PublicKey::from(n.key)))
        .collect()
}

fn delays(hops: usize) -> Vec<Duration> {
    (1..=hops as u64).map(Duration::from_secs).collect()
}

/// Ours and `sphinx-packet`'s, for 1..=5 hops and both payload sizes.
fn side_by_side(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let nodes = nodes(&mut rng, &TableCache::default());
    let secret_bytes: [u8; 32] = random(&mut rng);
    let ours_secret = InitialSecret::from_bytes(secret_bytes);
    let their_secret = StaticSecret::from(secret_bytes);
    let destination = Destination::new(DestinationAddressBytes::from_bytes([0; 32]), [0; 16]);
    let mut group = c.benchmark_group("create");
    for payload_size in PAYLOAD_SIZES {
        let plaintext = vec![0x5a; payload_capacity(payload_size)];
        for n in 1..=5 {
            let route = hops(&nodes[..n], None);
            let delays = delays(n);
            // Warm the per-node tables, as a sender sending more than a few packets has them.
            for _ in 0..TABLE_AFTER_USES {
                build_packet_to(&ours_secret, &route, payload_size, &delays, &plaintext).unwrap();
            }
            assert!(nodes[..n].iter().all(|node| node.table.has_table()));
            group.bench_with_input(
                BenchmarkId::new(format!("ours/{payload_size}"), n),
                &n,
                |b, _| {
                    b.iter(|| {
                        build_packet_to(&ours_secret, &route, payload_size, &delays, &plaintext)
                            .unwrap()
                    })
                },
            );
            let their_route = sphinx_route(&nodes[..n]);
            let their_delays: Vec<Delay> = delays
                .iter()
                .map(|d| Delay::new_from_nanos(d.as_nanos() as u64))
                .collect();
            group.bench_with_input(
                BenchmarkId::new(format!("sphinx-packet/{payload_size}"), n),
                &n,
                |b, _| {
                    b.iter(|| {
                        SphinxPacketBuilder::new()
                            .with_payload_size(payload_size)
                            .with_initial_secret(&their_secret)
                            .build_packet(&plaintext, &their_route, &destination, &their_delays)
                            .unwrap()
                            .to_bytes()
                    })
                },
            );
        }
    }
    group.finish();
}

/// 5 hops, 2 KiB: a node's first packet (no cache), the cached point
/// without a table, and the warm table.
fn table_states(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let nodes = nodes(&mut rng, &TableCache::default());
    let secret = InitialSecret::from_bytes(random(&mut rng));
    let payload_size = 2048;
    let plaintext = vec![0x5a; payload_capacity(payload_size)];
    let delays = delays(5);
    let mut group = c.benchmark_group("table");
    group.bench_function("cold (first use)", |b| {
        b.iter_batched(
            || {
                let cache = TableCache::default();
                nodes
                    .iter()
                    .map(|node| cache.table(&node.key))
                    .collect::<Vec<_>>()
            },
            |tables| {
                let route = hops(&nodes, Some(&tables));
                build_packet_to(&secret, &route, payload_size, &delays, &plaintext).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    let uncached: Vec<PacketHop<'_>> = hops(&nodes, None)
        .into_iter()
        .map(|hop| PacketHop { table: None, ..hop })
        .collect();
    group.bench_function("no cell (key decoded every time)", |b| {
        b.iter(|| build_packet_to(&secret, &uncached, payload_size, &delays, &plaintext).unwrap())
    });
    let route = hops(&nodes, None);
    for _ in 0..TABLE_AFTER_USES {
        build_packet_to(&secret, &route, payload_size, &delays, &plaintext).unwrap();
    }
    group.bench_function("warm (table)", |b| {
        b.iter(|| build_packet_to(&secret, &route, payload_size, &delays, &plaintext).unwrap())
    });
    group.finish();
}

/// The fragments of one message: 32 packets, 5 hops, 2 KiB, in sequence
/// and on all cores.
fn many_packets(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let nodes = nodes(&mut rng, &TableCache::default());
    let route = hops(&nodes, None);
    let payload_size = 2048;
    let plaintext = vec![0x5a; payload_capacity(payload_size)];
    let delays = delays(5);
    let secrets: Vec<InitialSecret> = (0..32)
        .map(|_| InitialSecret::from_bytes(random(&mut rng)))
        .collect();
    let inputs: Vec<PacketInput<'_>> = secrets
        .iter()
        .map(|secret| PacketInput {
            secret,
            delays: &delays,
            plaintext: &plaintext,
        })
        .collect();
    build_packets_to(&route, payload_size, &inputs).unwrap();
    let mut group = c.benchmark_group("fragments");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("32 packets, sequential", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|i| build_packet_to(i.secret, &route, payload_size, i.delays, i.plaintext))
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        })
    });
    group.bench_function("32 packets, parallel", |b| {
        b.iter(|| build_packets_to(&route, payload_size, &inputs).unwrap())
    });
    group.finish();
}

/// Where threads start to pay off: n packets (5 hops, 2 KiB, warm tables)
/// on the calling thread, and split over scoped threads the way
/// `build_packets_to` splits them from `PARALLEL_FROM` packets on.
fn threads_pay_off(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let nodes = nodes(&mut rng, &TableCache::default());
    let route = hops(&nodes, None);
    let payload_size = 2048;
    let plaintext = vec![0x5a; payload_capacity(payload_size)];
    let delays = delays(5);
    let secrets: Vec<InitialSecret> = (0..8)
        .map(|_| InitialSecret::from_bytes(random(&mut rng)))
        .collect();
    let inputs: Vec<PacketInput<'_>> = secrets
        .iter()
        .map(|secret| PacketInput {
            secret,
            delays: &delays,
            plaintext: &plaintext,
        })
        .collect();
    for _ in 0..TABLE_AFTER_USES {
        build_packet_to(&secrets[0], &route, payload_size, &delays, &plaintext).unwrap();
    }
    let build = |i: &PacketInput<'_>| {
        build_packet_to(i.secret, &route, payload_size, i.delays, i.plaintext).unwrap()
    };
    let mut group = c.benchmark_group("packets");
    group.sample_size(20);
    for n in [1, 2, 3, 4, 8] {
        let inputs = &inputs[..n];
        group.bench_with_input(BenchmarkId::new("calling thread", n), &n, |b, _| {
            b.iter(|| inputs.iter().map(build).collect::<Vec<_>>())
        });
        group.bench_with_input(BenchmarkId::new("threads", n), &n, |b, _| {
            b.iter(|| {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let chunk = n.div_ceil(threads.min(n));
                std::thread::scope(|scope| {
                    let mut parts = inputs.chunks(chunk);
                    let last = parts.next_back().unwrap_or_default();
                    let workers: Vec<_> = parts
                        .map(|part| scope.spawn(move || part.iter().map(build).collect::<Vec<_>>()))
                        .collect();
                    let here: Vec<_> = last.iter().map(build).collect();
                    let mut all: Vec<_> = workers
                        .into_iter()
                        .flat_map(|w| w.join().unwrap())
                        .collect();
                    all.extend(here);
                    all
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("build_packets_to", n), &n, |b, _| {
            b.iter(|| build_packets_to(&route, payload_size, inputs).unwrap())
        });
    }
    group.finish();
}

/// What packet creation is made of.
fn primitives(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let secret = StaticSecret::from(random::<32>(&mut rng));
    let peer = PublicKey::from(&StaticSecret::from(random::<32>(&mut rng)));
    let scalar = Scalar::from_bytes_mod_order(random(&mut rng));
    let point = MontgomeryPoint(peer.to_bytes()).to_edwards(0).unwrap();
    let table = EdwardsBasepointTable::create(&point);

    let mut group = c.benchmark_group("primitives");
    group.bench_function("X25519 (Montgomery ladder)", |b| {
        b.iter(|| black_box(&secret).diffie_hellman(black_box(&peer)))
    });
    group.bench_function("base-point mult (alpha_0)", |b| {
        b.iter(|| MontgomeryPoint::mul_base_clamped(black_box([7u8; 32])))
    });
    group.bench_function("fixed-base mult (node table)", |b| {
        b.iter(|| table.mul_base(black_box(&scalar)))
    });
    group.bench_function("variable-base Edwards mult", |b| {
        b.iter(|| black_box(point) * black_box(scalar))
    });
    group.bench_function("Edwards to Montgomery (inversion)", |b| {
        b.iter(|| black_box(point).to_montgomery())
    });
    group.bench_function("key to Edwards point (square root)", |b| {
        b.iter(|| MontgomeryPoint(black_box(peer.to_bytes())).to_edwards(0))
    });
    group.bench_function("fixed-base table build", |b| {
        b.iter(|| EdwardsBasepointTable::create(black_box(&point)))
    });
    group.bench_function("HKDF-SHA256 hop expansion (256 B)", |b| {
        b.iter(|| {
            let mut okm = [0u8; 256];
            hkdf::Hkdf::<sha2::Sha256>::new(Some(b""), black_box(&[1u8; 32]))
                .expand(
                    sphinx_packet::constants::EXPANDED_SHARED_SECRET_HKDF_INFO,
                    &mut okm,
                )
                .unwrap();
            okm
        })
    });
    group.bench_function("HMAC-SHA256 header MAC (300 B)", |b| {
        b.iter(|| {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[3u8; 16]).unwrap();
            mac.update(black_box(&[0u8; 300]));
            mac.finalize()
        })
    });
    for size in PAYLOAD_SIZES {
        let mut data = vec![0u8; size - 32];
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(BenchmarkId::new("ChaCha20", size - 32), |b| {
            b.iter(|| {
                ChaCha20::new(&[9u8; 32].into(), &[0u8; 12].into()).apply_keystream(&mut data)
            })
        });
        group.bench_function(BenchmarkId::new("BLAKE2b-256 keyed", size - 32), |b| {
            b.iter(|| {
                let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(&[5u8; 64]).unwrap();
                mac.update(black_box(&data));
                mac.finalize()
            })
        });
        group.bench_function(
            BenchmarkId::new("BLAKE2b-256 keyed (blake2b_simd)", size - 32),
            |b| {
                b.iter(|| {
                    blake2b_simd::Params::new()
                        .hash_length(32)
                        .key(&[5u8; 64])
                        .hash(black_box(&data))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(threads_group, threads_pay_off);
criterion_group!(
    benches,
    side_by_side,
    table_states,
    many_packets,
    primitives
);
criterion_main!(benches, threads_group);
