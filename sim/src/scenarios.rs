//! The named scenarios of `mixmailer-sim <scenario>`: the anchor check,
//! the sweeps behind docs/anonymity.md, the long-term attack and the scale
//! run. Each prints Markdown tables; `all` also draws the plots.

use crate::engine::Routing;
use crate::network::Shape;
use crate::plot::{line_chart, Series};
use crate::run::{run, run_summary, RunError, Scenario, SdaSetup, Summary};
use crate::sda::Disclosure;
use crate::workload::SizeModel;
use mixmailer::message::Redundancy;
use std::path::PathBuf;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const HELP: &str = "usage: mixmailer-sim <scenario> [--out DIR]
scenarios:
  ci        the Loopix anchor at 0.5 s and 2 s, coarsely checked (< 1 minute)
  loopix    the Loopix/MiXiM anchor: 3 x 10 nodes, 5000 msg/s, 0.5/1/2/5 s
  users     entropy vs latency for 10k and 1M users (100M extrapolated)
  knobs     hops 2-5, payload 2/8/32 KiB, parity, one route vs independent
  sda       statistical disclosure attack, with and without cover
  sda-one U D C S   one attack: U users, D days, C decoys/user/day, seed S
  scale     1M users x 20 messages/day for one simulated day (slow)
  all       loopix, users, knobs, sda, and the plots (docs/img by default)";

/// The published anchor: Loopix/MiXiM sender entropy (bits) at these mean
/// end-to-end latencies (seconds).
pub const LOOPIX: [(f64, f64); 4] = [(0.5, 11.6), (1.0, 13.0), (2.0, 14.2), (5.0, 15.6)];

/// The Loopix/MiXiM setting: 3 layers x 10 nodes, Poisson senders at
/// 5000 messages/s in total, one packet per message, exponential delays
/// with the end-to-end mean `latency` spread over the 3 mixing nodes.
pub fn loopix(latency: f64) -> Scenario {
    let users = 1_000_000;
    Scenario {
        users,
        messages_per_user_day: 5000.0 * 86_400.0 / f64::from(users),
        decoys_per_user_day: 0.0,
        diurnal_amplitude: 0.0,
        sizes: SizeModel::SinglePacket,
        shape: Shape {
            hops: 3,
            nodes_per_layer: 10,
            payload_size: 2048,
        },
        mean_delay: latency / 3.0,
        redundancy: Redundancy::Parity(0),
        routing: Routing::OneRoute,
        start: 0.0,
        warmup: 0.0,
        duration: 2.0 * latency,
        targets: 300,
        sda: None,
        seed: 11,
    }
}

/// Runs the anchor at `latencies` and returns (latency, expected, measured).
pub fn anchor(latencies: &[f64]) -> std::result::Result<Vec<(f64, f64, Summary)>, RunError> {
    latencies
        .iter()
        .map(|&l| {
            let expected = LOOPIX
                .iter()
                .find(|(x, _)| (*x - l).abs() < 1e-9)
                .map_or(f64::NAN, |&(_, h)| h);
            run_summary(&loopix(l)).map(|(s, _)| (l, expected, s))
        })
        .collect()
}

/// The CI check: the trend of the anchor, coarsely (within one bit at
/// 0.5 s and 2 s, and rising with latency).
pub fn ci_check() -> Result<Vec<(f64, f64, Summary)>> {
    let rows = anchor(&[0.5, 2.0])?;
    for (l, expected, s) in &rows {
        if (s.entropy_mean - expected).abs() > 1.0 {
            return Err(format!(
                "anchor at {l} s: {:.2} bits, Loopix reports {expected} (allowed: 1 bit)",
                s.entropy_mean
            )
            .into());
        }
    }
    if let [(_, _, a), (_, _, b)] = rows.as_slice() {
        if b.entropy_mean <= a.entropy_mean {
            return Err("anchor: entropy does not rise with latency".into());
        }
    }
    Ok(rows)
}

fn header() {
    println!("| scenario | mean latency (s) | p95 latency (s) | entropy mean (bits) | median | 5th pct | P(true sender) mean | max | lost mass | measured |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
}

fn row(name: &str, s: &Summary) {
    println!(
        "| {name} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.4} | {:.3} | {:.1e} | {} |",
        s.latency_mean,
        s.latency_p95,
        s.entropy_mean,
        s.entropy_median,
        s.entropy_p5,
        s.p_true_mean,
        s.p_true_max,
        s.lost_mass_max,
        s.count
    );
}

fn out_dir(args: &[String]) -> PathBuf {
    args.iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/img")))
}

/// The command line.
pub fn main(args: &[String]) -> Result<()> {
    let out = out_dir(args);
    std::fs::create_dir_all(&out)?;
    match args.first().map(String::as_str) {
        Some("ci") => {
            let rows = ci_check()?;
            for (l, e, s) in rows {
                println!(
                    "anchor {l} s: {:.2} bits (Loopix {e}), P(true) {:.5}",
                    s.entropy_mean, s.p_true_mean
                );
            }
            println!("ci: anchor trend within one bit");
            Ok(())
        }
        Some("loopix") => loopix_table(Some(&out)).map(|_| ()),
        Some("users") => users_table(Some(&out)),
        Some("knobs") => knobs_table(Some(&out)),
        Some("sda") => sda_table(),
        Some("sda-one") => {
            // One row of the attack: users days decoys seed.
            let num = |i: usize| -> Result<f64> {
                Ok(args
                    .get(i)
                    .ok_or("sda-one needs: users days decoys seed")?
                    .parse::<f64>()?)
            };
            let (users, days, decoys, seed) = (num(1)?, num(2)?, num(3)?, num(4)?);
            let (found, seen) = sda_once(users as u32, decoys, days, 60.0, seed as u64)?;
            println!(
                "| {users} | 60 | {decoys} | {} (seed {seed}) | {seen} |",
                found.map_or("not within the run".to_string(), |n| n.to_string())
            );
            Ok(())
        }
        Some("scale") => scale(),
        Some("all") => {
            loopix_table(Some(&out))?;
            users_table(Some(&out))?;
            knobs_table(Some(&out))?;
            sda_table()
        }
        _ => Err(HELP.into()),
    }
}

fn loopix_table(out: Option<&PathBuf>) -> Result<Vec<(f64, f64, Summary)>> {
    println!("\n### Anchor: Loopix/MiXiM setting\n");
    println!("| mean end-to-end latency (s) | Loopix (bits) | simulated mean | median | 5th pct | difference |");
    println!("|---|---|---|---|---|---|");
    let rows = anchor(&LOOPIX.map(|(l, _)| l))?;
    for (l, e, s) in &rows {
        println!(
            "| {l} (measured {:.2}) | {e} | {:.2} | {:.2} | {:.2} | {:+.2} |",
            s.latency_mean,
            s.entropy_mean,
            s.entropy_median,
            s.entropy_p5,
            s.entropy_mean - e
        );
    }
    if let Some(dir) = out {
        line_chart(
            &dir.join("anchor-loopix.svg"),
            "Loopix anchor: sender entropy vs latency",
            "mean end-to-end latency (s)",
            "sender entropy (bits)",
            &[
                Series {
                    name: "Loopix / MiXiM (published)".into(),
                    points: LOOPIX.to_vec(),
                },
                Series {
                    name: "mixmailer-sim".into(),
                    points: rows.iter().map(|(l, _, s)| (*l, s.entropy_mean)).collect(),
                },
            ],
        )?;
    }
    Ok(rows)
}

/// Per-hop means of the latency sweeps, seconds.
const MEANS: [f64; 5] = [10.0, 30.0, 60.0, 120.0, 300.0];

fn users_table(out: Option<&PathBuf>) -> Result<()> {
    println!("\n### Entropy vs latency by number of users (3 x 10 nodes, 2 KiB, default parity, one route)\n");
    header();
    let mut series = Vec::new();
    let mut million = Vec::new();
    for users in [10_000u32, 1_000_000] {
        let mut points = Vec::new();
        for mean in MEANS {
            let mut sc = Scenario::pep(users, mean);
            if users >= 1_000_000 {
                sc.duration = 900.0;
                sc.targets = 250;
            }
            let (s, stats) = run_summary(&sc)?;
            row(
                &format!(
                    "{users} users, mean {mean} s/hop ({:.0} s wall)",
                    stats.wall
                ),
                &s,
            );
            points.push((s.latency_mean / 60.0, s.entropy_mean));
            if users >= 1_000_000 {
                million.push((s.latency_mean / 60.0, s.entropy_mean));
            }
        }
        series.push(Series {
            name: format!("{users} users"),
            points,
        });
    }
    // 100M: not simulated. The observer's weights per cell depend on the
    // delays only; more users put proportionally more submissions into each
    // cell, so entropy rises by log2 of the ratio (checked 10k -> 1M above).
    let extra = (100.0f64).log2();
    println!(
        "\n100M users (extrapolated, not simulated): 1M entropy + log2(100) = +{extra:.2} bits\n"
    );
    series.push(Series {
        name: "100M users (extrapolated)".into(),
        points: million.iter().map(|&(x, y)| (x, y + extra)).collect(),
    });
    if let Some(dir) = out {
        line_chart(
            &dir.join("entropy-vs-latency.svg"),
            "Sender entropy vs latency",
            "mean end-to-end latency (min)",
            "sender entropy (bits)",
            &series,
        )?;
    }
    Ok(())
}

fn knobs_table(out: Option<&PathBuf>) -> Result<()> {
    let users = 10_000;
    println!("\n### Knobs at {users} users (3 x 10 nodes unless stated)\n");
    header();
    let mut hop_series = Vec::new();
    for hops in 2..=5u8 {
        let mut points = Vec::new();
        for mean in [30.0, 60.0, 120.0] {
            let mut sc = Scenario::pep(users, mean);
            sc.shape.hops = hops;
            let (s, _) = run_summary(&sc)?;
            row(&format!("{hops} hops, mean {mean} s/hop"), &s);
            points.push((s.latency_mean / 60.0, s.entropy_mean));
        }
        hop_series.push(Series {
            name: format!("{hops} hops"),
            points,
        });
    }
    let mut payload_series = Vec::new();
    for payload in [2048usize, 8192, 32768] {
        let mut points = Vec::new();
        for mean in [30.0, 60.0, 120.0] {
            let mut sc = Scenario::pep(users, mean);
            sc.shape.payload_size = payload;
            let (s, _) = run_summary(&sc)?;
            row(
                &format!("payload {} KiB, mean {mean} s/hop", payload / 1024),
                &s,
            );
            points.push((s.latency_mean / 60.0, s.entropy_mean));
        }
        payload_series.push(Series {
            name: format!("{} KiB payload", payload / 1024),
            points,
        });
    }
    for (name, redundancy) in [
        ("no parity", Redundancy::Parity(0)),
        ("default parity (k/3)", Redundancy::Default),
        ("8 parity fragments", Redundancy::Parity(8)),
    ] {
        let mut sc = Scenario::pep(users, 60.0);
        sc.redundancy = redundancy;
        let (s, _) = run_summary(&sc)?;
        row(&format!("{name}, mean 60 s/hop"), &s);
    }
    let mut routing_series = Vec::new();
    for (name, routing) in [
        ("one route", Routing::OneRoute),
        ("independent routes, same exit", Routing::Independent),
    ] {
        let mut points = Vec::new();
        for mean in [30.0, 60.0, 120.0] {
            let mut sc = Scenario::pep(users, mean);
            sc.routing = routing;
            let (s, _) = run_summary(&sc)?;
            row(&format!("{name}, mean {mean} s/hop"), &s);
            points.push((s.latency_mean / 60.0, s.entropy_mean));
        }
        routing_series.push(Series {
            name: name.into(),
            points,
        });
    }
    if let Some(dir) = out {
        let x = "mean end-to-end latency (min)";
        let y = "sender entropy (bits)";
        line_chart(&dir.join("hops.svg"), "Hops (10k users)", x, y, &hop_series)?;
        line_chart(
            &dir.join("payload.svg"),
            "Payload size (10k users)",
            x,
            y,
            &payload_series,
        )?;
        line_chart(
            &dir.join("routing.svg"),
            "Fragment routing (10k users)",
            x,
            y,
            &routing_series,
        )?;
    }
    Ok(())
}

/// The long-term attack at `users` users: Alice sends half her messages to
/// Bob; returns how many of her messages it took, or None within `days`.
pub fn sda_once(
    users: u32,
    decoys: f64,
    days: f64,
    mean: f64,
    seed: u64,
) -> std::result::Result<(Option<u64>, u64), RunError> {
    let mut sc = Scenario::pep(users, mean);
    sc.decoys_per_user_day = decoys;
    sc.start = 0.0;
    sc.duration = days * 86_400.0;
    sc.sda = Some(SdaSetup {
        alice: 0,
        bob: 1,
        share: 0.5,
    });
    sc.seed = seed;
    let mut attack = Disclosure::new(users, 0, 1);
    run(&sc, &mut |m| attack.observe(&m))?;
    Ok((attack.messages_until_disclosed(), attack.alice_messages()))
}

fn sda_table() -> Result<()> {
    println!(
        "\n### Statistical disclosure attack (Alice writes half her 20 messages/day to Bob)\n"
    );
    println!("| users | mean delay (s/hop) | cover decoys/user/day | Alice's messages until Bob ranks first (and stays) | Alice's messages observed |");
    println!("|---|---|---|---|---|");
    for (users, days, seeds) in [(1_000u32, 30.0, 5), (10_000, 10.0, 2)] {
        for decoys in [0.0, 20.0, 60.0] {
            let mut found = Vec::new();
            let mut seen = 0;
            for seed in 1..=seeds {
                let (f, s) = sda_once(users, decoys, days, 60.0, seed)?;
                found.push(f.map_or("not within the run".to_string(), |n| n.to_string()));
                seen = s;
            }
            println!(
                "| {users} | 60 | {decoys} | {} | {seen} |",
                found.join(", ")
            );
        }
    }
    Ok(())
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn scale() -> Result<()> {
    // The recommended defaults of docs/anonymity.md (32 KiB payload, 60 s
    // per hop, 3 hops, one route, default parity).
    let mut sc = Scenario::pep(1_000_000, 60.0);
    sc.shape.payload_size = 32_768;
    sc.start = 0.0;
    sc.warmup = 1.0;
    sc.duration = 86_400.0;
    sc.targets = 1000;
    let (s, stats) = run_summary(&sc)?;
    println!("\n### Scale: 1M users x 20 messages/day, one simulated day, 32 KiB, mean 60 s/hop\n");
    println!(
        "messages {}, packets {}, wall {:.0} s ({:.2} us per packet), peak memory {} MiB, most future slices held {}",
        stats.messages,
        stats.packets,
        stats.wall,
        stats.wall * 1e6 / stats.packets.max(1) as f64,
        peak_memory_kib().map_or("?".into(), |k| (k / 1024).to_string()),
        stats.events_peak
    );
    header();
    row("1M users, one day", &s);
    Ok(())
}
