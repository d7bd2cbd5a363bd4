//! The sender's and a node's costs through the public API: `mix_wrap` of
//! a small message against building its packets alone (`small message`),
//! 10 KB, 100 KB and 1 MB messages (packets built on all cores), and
//! `MixNode::process` of one carrier email at a forwarding node.
//!
//! `cargo bench --bench mix_wrap -- --warm-up-time 1 --measurement-time 3`

use base64::Engine;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mixmailer::message::{encode_body, fragment_body, prepare_outgoing, Mailbox, Redundancy};
use mixmailer::sample::{SampleNetwork, SampleSpec};
use mixmailer::sphinx::{
    build_packets_to, payload_capacity, HopTable, InitialSecret, PacketHop, PacketInput,
    TableCache, PARALLEL_FROM,
};
use mixmailer::{mix_wrap_with, MixNode, Outcome, Route, WrapOptions};
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
        ..SampleSpec::default()
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
        // One sender-side table cache for the whole run, as a client keeps.
        let options = WrapOptions {
            tables: Some(Default::default()),
            ..WrapOptions::default()
        };
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
                        mix_wrap_with(message, &route, &options, network.now, &mut rng).unwrap()
                    })
                },
            );
        }
    }
    group.finish();
}

/// The packets `mix_wrap` builds for one message on `route`: the same hops,
/// payload size and number of packets, full plaintexts, a fresh table
/// cache per call as `mix_wrap` has (tables come only after 50 packets, so
/// neither side has any).
fn build_its_packets(
    route: &Route,
    period: u64,
    count: usize,
    rng: &mut ChaCha20Rng,
) -> Vec<Vec<u8>> {
    let cache = TableCache::default();
    let keys = route.keys_for(period).unwrap();
    let tables: Vec<HopTable> = keys.iter().map(|key| cache.table(key)).collect();
    let hops: Vec<PacketHop<'_>> = route
        .hops()
        .iter()
        .zip(&keys)
        .zip(&tables)
        .map(|((h, key), table)| PacketHop {
            id: h.id(),
            key,
            table: Some(table),
        })
        .collect();
    let plaintext = vec![0x5a; payload_capacity(route.payload_size())];
    let delays = vec![Duration::from_secs(60); hops.len()];
    let secrets: Vec<InitialSecret> = (0..count).map(|_| InitialSecret::generate(rng)).collect();
    let inputs: Vec<PacketInput<'_>> = secrets
        .iter()
        .map(|secret| PacketInput {
            secret,
            delays: &delays,
            plaintext: &plaintext,
        })
        .collect();
    build_packets_to(&hops, route.payload_size(), &inputs).unwrap()
}

/// CPU time this thread has used. Everything in the `small message` group
/// runs on the calling thread (fewer packets than `PARALLEL_FROM`), so its
/// CPU time is its cost, whatever else the machine is running; wall time
/// on a shared machine mostly measures the other jobs.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "CLOCK_THREAD_CPUTIME_ID is available on Linux");
    Duration::new(
        u64::try_from(now.tv_sec).unwrap(),
        u32::try_from(now.tv_nsec).unwrap(),
    )
}

/// Times `iters` runs of `f` in thread CPU time.
fn cpu_time<T>(iters: u64, mut f: impl FnMut() -> T) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iters {
        std::hint::black_box(f());
    }
    thread_cpu_time() - start
}

/// A small message (one data fragment plus its parity, 2 packets, 5 hops,
/// 2 KiB payloads): `mix_wrap` against building its packets alone, in the
/// same run, and the steps in between, so that the overhead outside Sphinx
/// shows where it goes. Times are thread CPU time (see [`thread_cpu_time`]).
fn small_message(c: &mut Criterion) {
    let network = network(2048);
    let directory = network.directory().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let route = directory.random_route(&mut rng).unwrap();
    let message = message(1_000, &mut rng);
    let now = network.now;
    let wrapped = mix_wrap_with(&message, &route, &WrapOptions::default(), now, &mut rng).unwrap();
    assert_eq!(
        wrapped.onions().len(),
        2,
        "one data fragment and one parity fragment"
    );
    let period = wrapped.period();
    let mut group = c.benchmark_group("small message");
    assert!(
        wrapped.onions().len() < PARALLEL_FROM,
        "built on the calling thread"
    );
    group.bench_function("mix_wrap (1 KB, 2 packets)", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                mix_wrap_with(&message, &route, &WrapOptions::default(), now, &mut rng).unwrap()
            })
        })
    });
    group.bench_function("its 2 packets alone", |b| {
        b.iter_custom(|iters| cpu_time(iters, || build_its_packets(&route, period, 2, &mut rng)))
    });
    let exit = Mailbox::parse(route.exit().address()).unwrap();
    group.bench_function("step: prepare_outgoing (SPEC 6)", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                prepare_outgoing(&message, &exit, &mut rng).unwrap()
            })
        })
    });
    let sanitized = prepare_outgoing(&message, &exit, &mut rng).unwrap();
    group.bench_function("step: encode_body (DEFLATE)", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                encode_body(&sanitized.recipients, &sanitized.message).unwrap()
            })
        })
    });
    let body = encode_body(&sanitized.recipients, &sanitized.message).unwrap();
    group.bench_function("step: fragment_body (Reed-Solomon)", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                fragment_body(&body, [7; 16], 2048, Redundancy::Default).unwrap()
            })
        })
    });
    group.finish();
}

fn process(c: &mut Criterion) {
    let network = network(2048);
    let directory = network.directory().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let route = directory.random_route(&mut rng).unwrap();
    let wrapped = mix_wrap_with(
        &message(1_000, &mut rng),
        &route,
        &WrapOptions::default(),
        network.now,
        &mut rng,
    )
    .unwrap();
    let alice = mixmailer::message::Mailbox::parse("alice@example.org").unwrap();
    let carrier = wrapped.onions()[0].to_email(&alice);
    let first = directory
        .nodes()
        .iter()
        .position(|n| n.id() == route.first_hop().id())
        .unwrap();
    let mut group = c.benchmark_group("node");
    group.bench_function("MixNode::process (forward, 2 KiB payload)", |b| {
        // A fresh node each time: the same packet twice is a replay.
        b.iter_batched(
            || MixNode::new(network.keys_of(first).unwrap(), directory.clone()).unwrap(),
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

criterion_group!(benches, small_message, wrap, process);
criterion_main!(benches);
