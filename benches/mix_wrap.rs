//! The sender's and a node's costs through the public API: `mix_wrap` of
//! 10 KB, 100 KB and 1 MB messages (packets built on all cores), and
//! `MixNode::process` of one carrier email at a forwarding node.
//!
//! `cargo bench --bench mix_wrap -- --warm-up-time 1 --measurement-time 3`

use base64::Engine;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mixmailer::sample::{SampleNetwork, SampleSpec};
use mixmailer::{mix_wrap_with, MixNode, Outcome, WrapOptions};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use std::time::Duration;

/// A 5-layer network with payloads of `payload_size` bytes.
fn network(payload_size: usize) -> SampleNetwork {
    SampleNetwork::generate(&SampleSpec {
        hops: 5,
        nodes_per_layer: 2,
        payload_size,
        mean_delay: Duration::from_secs(60),
        seed: 7,
    })
    .unwrap()
}

/// A message of about `size` bytes whose body is base64 of random bytes,
/// like an encrypted pEp message: DEFLATE cannot shrink it much.
fn message(size: usize, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let mut random = vec![0u8; size * 3 / 4];
    rng.fill_bytes(&mut random);
    let body = base64::engine::general_purpose::STANDARD.encode(random);
    let mut message = b"From: alice@example.org\r\nTo: bob@example.net\r\n\
        Subject: benchmark\r\nMIME-Version: 1.0\r\n\r\n"
        .to_vec();
    for line in body.as_bytes().chunks(76) {
        message.extend_from_slice(line);
        message.extend_from_slice(b"\r\n");
    }
    message
}

/// With 2 KiB payloads a message may have at most 255 data fragments, about
/// 500 KB of compressed body: the 1 MB message needs the larger payloads.
fn wrap(c: &mut Criterion) {
    let mut group = c.benchmark_group("mix_wrap");
    group.sample_size(10);
    for payload_size in [2048, 32768] {
        let network = network(payload_size);
        let directory = network.directory().unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let route = directory.random_route(&mut rng).unwrap();
        for (name, size) in [("10 KB", 10_000), ("100 KB", 100_000), ("1 MB", 1_000_000)] {
            let message = message(size, &mut rng);
            if payload_size == 2048 && size > 500_000 {
                continue;
            }
            group.throughput(Throughput::Bytes(message.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("{payload_size}-byte payloads"), name),
                &message,
                |b, message| {
                    b.iter(|| {
                        mix_wrap_with(message, &route, &WrapOptions::default(), &mut rng).unwrap()
                    })
                },
            );
        }
    }
    group.finish();
}

fn process(c: &mut Criterion) {
    let network = network(2048);
    let directory = network.directory().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let route = directory.random_route(&mut rng).unwrap();
    let onions = mix_wrap_with(
        &message(1_000, &mut rng),
        &route,
        &WrapOptions::default(),
        &mut rng,
    )
    .unwrap();
    let carrier = onions[0].to_email("alice@example.org");
    let first = &route.first_hop().keys()[0].key; // v2-compile-fix
    let key = network
        .node_keys
        .iter()
        .find(|k| &k.public_key() == first)
        .unwrap()
        .to_bytes();
    let mut group = c.benchmark_group("node");
    group.bench_function("MixNode::process (forward, 2 KiB payload)", |b| {
        // A fresh node each time: the same packet twice is a replay.
        b.iter_batched(
            || MixNode::new(*key, directory.clone()).unwrap(),
            |mut node| {
                let outcome = node.process(&carrier, network.now).unwrap();
                assert!(matches!(outcome, Outcome::Forward { .. }));
                outcome
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, wrap, process);
criterion_main!(benches);
