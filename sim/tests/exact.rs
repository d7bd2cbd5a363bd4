//! The observer's bookkeeping against brute force, and the two limits every
//! anonymity measure must get right.
//!
//! With exponential delays of one mean, every assignment of a node's
//! departures to its earlier arrivals is equally likely (the likelihood is
//! `lambda^m exp(-lambda * (sum of departures - sum of arrivals))`, the same
//! for all), and the nodes' assignments are independent. So the exact
//! posterior of a delivered message's sender is found by enumerating every
//! combination of per-node assignments and tracing the message back.

use mixmailer_sim::engine::{Engine, Geometry, Measured, Packet, Routing, Trip};
use mixmailer_sim::run::{run, Scenario};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// A single-packet message on a tiny network.
struct Msg {
    sender: u32,
    t0: f64,
    route: Vec<u8>,
    /// Times the packet leaves each of the h nodes (the last = delivery).
    leave: Vec<f64>,
}

fn random_messages(rng: &mut ChaCha8Rng, count: usize, hops: usize, npl: u8) -> Vec<Msg> {
    let mut msgs: Vec<Msg> = (0..count)
        .map(|i| {
            let t0 = rng.random_range(0.0..2.0);
            let mut t = t0;
            let leave = (0..hops)
                .map(|_| {
                    t += -rng.random_range(1e-3..1.0f64).ln();
                    t
                })
                .collect();
            Msg {
                // Two messages share sender 0, so senders must be summed.
                sender: if i == 1 { 0 } else { i as u32 },
                t0,
                route: (0..hops).map(|_| rng.random_range(0..npl)).collect(),
                leave,
            }
        })
        .collect();
    msgs.sort_by(|a, b| a.t0.total_cmp(&b.t0));
    msgs
}

/// Node id of layer i, position x.
fn node(i: usize, x: u8, npl: u8) -> usize {
    i * usize::from(npl) + usize::from(x)
}

/// Exact posterior over senders of message `target`'s delivery.
fn exact(msgs: &[Msg], hops: usize, npl: u8, target: usize) -> HashMap<u32, f64> {
    // For each node: arrivals and departures as (time, message index).
    let nodes = hops * usize::from(npl);
    let mut arrivals: Vec<Vec<(f64, usize)>> = vec![Vec::new(); nodes];
    let mut departures: Vec<Vec<(f64, usize)>> = vec![Vec::new(); nodes];
    for (m, msg) in msgs.iter().enumerate() {
        for i in 0..hops {
            let at = if i == 0 { msg.t0 } else { msg.leave[i - 1] };
            let nd = node(i, msg.route[i], npl);
            arrivals[nd].push((at, m));
            departures[nd].push((msg.leave[i], m));
        }
    }
    // Every feasible bijection departure -> arrival, per node.
    let mut options: Vec<Vec<Vec<usize>>> = Vec::new();
    for nd in 0..nodes {
        let mut all = Vec::new();
        let mut used = vec![false; arrivals[nd].len()];
        let mut current = Vec::new();
        permute(
            &arrivals[nd],
            &departures[nd],
            &mut used,
            &mut current,
            &mut all,
        );
        options.push(all);
    }
    // Enumerate the product and trace the target back.
    let mut counts: HashMap<u32, f64> = HashMap::new();
    let mut total = 0.0;
    let mut choice = vec![0usize; nodes];
    loop {
        // The target leaves its exit as departure d of that node; follow
        // the assignment: departure -> arrival (a message index whose packet
        // arrived from the previous layer) until layer 1.
        let mut who = target;
        for i in (0..hops).rev() {
            let nd = node(i, msgs[who].route[i], npl);
            // Which departure of nd carries `who`'s packet in the truth is
            // irrelevant: the observer sees departure events; find the
            // departure event at the time `who` left.
            let d = departures[nd].iter().position(|&(_, m)| m == who).unwrap();
            let a = options[nd][choice[nd]][d];
            who = arrivals[nd][a].1;
        }
        *counts.entry(msgs[who].sender).or_insert(0.0) += 1.0;
        total += 1.0;
        // Next combination.
        let mut k = 0;
        loop {
            if k == nodes {
                return counts.into_iter().map(|(s, c)| (s, c / total)).collect();
            }
            choice[k] += 1;
            if choice[k] < options[k].len() {
                break;
            }
            choice[k] = 0;
            k += 1;
        }
    }
}

/// All assignments of departures (in order) to distinct earlier arrivals.
fn permute(
    arrivals: &[(f64, usize)],
    departures: &[(f64, usize)],
    used: &mut Vec<bool>,
    current: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
) {
    if current.len() == departures.len() {
        out.push(current.clone());
        return;
    }
    let t = departures[current.len()].0;
    for a in 0..arrivals.len() {
        if !used[a] && arrivals[a].0 <= t {
            used[a] = true;
            current.push(a);
            permute(arrivals, departures, used, current, out);
            current.pop();
            used[a] = false;
        }
    }
}

/// The engine's measurement of every delivery, with a time resolution far
/// finer than the gaps between events, so each cell is one submission.
fn simulated(msgs: &[Msg], hops: usize, npl: u8, watched: u32) -> Vec<Measured> {
    let geo = Geometry {
        hops,
        nodes_per_layer: usize::from(npl),
        slice: 1e-6,
        slices_per_bucket: 100,
        buckets: 250_000,
    };
    let mut engine = Engine::new(geo, Routing::OneRoute, Some(watched));
    let mut out = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let trip = Trip {
            sender: m.sender,
            recipient: i as u32,
            submitted: m.t0,
            class: 1,
            delivered: m.leave.last().copied(),
            packets: vec![Packet {
                route: m.route.clone(),
                leave: m.leave[..hops - 1].to_vec(),
            }],
            measure: true,
        };
        engine.schedule(&trip, &mut |x| out.push(x)).unwrap();
    }
    engine.finish(&mut |x| out.push(x));
    out
}

fn entropy(p: &HashMap<u32, f64>) -> f64 {
    p.values()
        .filter(|&&q| q > 0.0)
        .map(|&q| -q * q.log2())
        .sum()
}

/// Checks every delivery of one random tiny network; returns how many had
/// a non-trivial posterior (so a test can insist the cases were not all
/// certain, where any bookkeeping would agree).
fn check_against_enumeration(seed: u64, count: usize, hops: usize, npl: u8) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let msgs = random_messages(&mut rng, count, hops, npl);
    let measured = simulated(&msgs, hops, npl, 0);
    assert_eq!(measured.len(), msgs.len());
    for m in &measured {
        let target = m.recipient as usize;
        let truth = exact(&msgs, hops, npl, target);
        let p_true = truth.get(&msgs[target].sender).copied().unwrap_or(0.0);
        let p_zero = truth.get(&0).copied().unwrap_or(0.0);
        assert!(
            (m.p_true - p_true).abs() < 1e-9,
            "seed {seed} message {target}: P(true) {} vs exact {p_true}",
            m.p_true
        );
        assert!(
            (m.p_watched - p_zero).abs() < 1e-9,
            "seed {seed}: P(sender 0)"
        );
        assert!(
            (m.entropy - entropy(&truth)).abs() < 1e-9,
            "seed {seed} message {target}: entropy {} vs exact {}",
            m.entropy,
            entropy(&truth)
        );
    }
    measured
        .iter()
        .filter(|m| m.p_true > 0.0 && m.p_true < 1.0)
        .count()
}

#[test]
fn two_layers_match_exact_enumeration() {
    let mixed: usize = (0..30)
        .map(|seed| check_against_enumeration(seed, 6, 2, 2))
        .sum();
    assert!(mixed > 60, "only {mixed} uncertain messages");
}

#[test]
fn three_layers_match_exact_enumeration() {
    let mixed: usize = (100..115)
        .map(|seed| check_against_enumeration(seed, 6, 3, 2))
        .sum();
    assert!(mixed > 30, "only {mixed} uncertain messages");
}

#[test]
fn a_busy_single_node_per_layer_matches_exact_enumeration() {
    let mixed: usize = (200..210)
        .map(|seed| check_against_enumeration(seed, 7, 2, 1))
        .sum();
    assert!(mixed > 30, "only {mixed} uncertain messages");
}

#[test]
fn zero_delay_gives_zero_entropy() {
    let mut sc = Scenario::pep(200, 0.0);
    sc.start = 0.0;
    sc.warmup = 1.0;
    sc.duration = 6.0 * 3600.0;
    sc.targets = 200;
    let mut measured = Vec::new();
    run(&sc, &mut |m| measured.push(m)).unwrap();
    assert!(measured.len() > 50, "{}", measured.len());
    for m in &measured {
        assert_eq!(m.entropy, 0.0, "{m:?}");
        assert_eq!(m.p_true, 1.0);
        assert_eq!(m.latency, 0.0);
    }
}

#[test]
fn a_single_user_has_no_anonymity() {
    let mut sc = Scenario::pep(1, 60.0);
    sc.messages_per_user_day = 2000.0;
    sc.duration = 3600.0;
    let mut measured = Vec::new();
    run(&sc, &mut |m| measured.push(m)).unwrap();
    assert!(measured.len() > 20, "{}", measured.len());
    for m in &measured {
        assert_eq!(m.entropy, 0.0);
        assert_eq!(m.p_true, 1.0);
    }
}

#[test]
fn delay_buys_entropy() {
    // The same small population: more delay, more senders to hide among.
    let mean = |delay: f64| {
        let mut sc = Scenario::pep(2_000, delay);
        sc.duration = 3600.0;
        sc.targets = 150;
        let mut measured = Vec::new();
        run(&sc, &mut |m| measured.push(m)).unwrap();
        measured.iter().map(|m| m.entropy).sum::<f64>() / measured.len() as f64
    };
    let (short, long) = (mean(10.0), mean(120.0));
    assert!(
        long > short + 1.0,
        "10 s/hop: {short:.2} bits, 120 s/hop: {long:.2} bits"
    );
}
