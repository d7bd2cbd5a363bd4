//! The whole mixnet in one process: a sample network, a pEp-style message,
//! its packets carried hop by hop, and what the recipients get.
//!
//! Run with `cargo run --release --example demo`.

use mixmailer::node::Outcome;
use mixmailer::sample::{InProcessMixnet, SampleNetwork, SampleSpec};
use mixmailer::{mix_wrap_with, Error, WrapOptions};
use std::time::{Duration, Instant};

const SENDER: &str = "alice@example.org";

fn main() {
    if let Err(err) = run() {
        eprintln!("demo failed: {err}");
        std::process::exit(1);
    }
}

fn sample_message() -> Vec<u8> {
    let mut body = String::from("Hi Bob,\r\n\r\nthe mixnet hides who writes to whom.\r\n");
    for i in 1..=40 {
        body.push_str(&format!(
            "Line {i:02}: pEp encrypts the content, MixMailer hides the metadata.\r\n"
        ));
    }
    body.push_str("\r\nAlice\r\n");
    mixmailer::sample::pep_message(&body)
}

fn header_names(message: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(message);
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_owned()))
        .collect()
}

fn run() -> Result<(), Error> {
    let spec = SampleSpec {
        hops: 3,
        nodes_per_layer: 3,
        payload_size: 2048,
        mean_delay: Duration::from_secs(300),
        seed: 2026,
        ..SampleSpec::default()
    };
    let started = Instant::now();
    let network = SampleNetwork::generate(&spec)?;
    let directory = network.directory()?;
    println!("== Sample network \"{}\"", directory.params().network);
    println!(
        "   {} layers, {} nodes, payload {} bytes, mean delay {} s per hop, directory {} bytes, signed and verified in {:.1?}",
        directory.params().hops,
        directory.nodes().len(),
        directory.params().payload_size,
        directory.params().mean_delay.as_secs(),
        network.directory_text.len(),
        started.elapsed()
    );
    for node in directory.nodes() {
        println!(
            "   layer {}  {:<6} {}",
            node.layer(),
            node.nickname(),
            node.address()
        );
    }

    let message = sample_message();
    println!(
        "\n== Outgoing message ({} bytes) as the pEp engine hands it over",
        message.len()
    );
    println!("   header fields: {}", header_names(&message).join(", "));

    let mut rng = rand::rng();
    let route = directory.random_route(&mut rng)?;
    let names: Vec<&str> = route.hops().iter().map(|h| h.nickname()).collect();
    println!(
        "\n== Route: {} (exit {})",
        names.join(" -> "),
        names.last().unwrap_or(&"?")
    );

    let started = Instant::now();
    // The sample network's keys are for its own (fixed) time, not for now.
    let wrapped = mix_wrap_with(
        &message,
        &route,
        &WrapOptions::default(),
        network.now,
        &mut rng,
    )?;
    let onions = wrapped.onions();
    let wrap_time = started.elapsed();
    let sender = mixmailer::message::Mailbox::parse(SENDER)?;
    let carriers: Vec<Vec<u8>> = onions.iter().map(|o| o.to_email(&sender)).collect();
    println!(
        "   mix_wrap: {} packets of {} bytes in {:.1?}; carrier emails of {} bytes each to {}",
        onions.len(),
        onions.first().map_or(0, |o| o.packet().len()),
        wrap_time,
        carriers.first().map_or(0, Vec::len),
        route.first_hop().address()
    );

    println!("\n== Carrying the packets");
    let mut mixnet = InProcessMixnet::new(&network)?;
    let mut delivery = None;
    let started = Instant::now();
    for (i, (onion, carrier)) in onions.iter().zip(&carriers).enumerate() {
        let (trip, outcome) = mixnet.carry(onion.first_hop(), carrier, network.now)?;
        let hops: Vec<String> = trip
            .iter()
            .map(|hop| {
                if hop.delay.is_zero() {
                    format!("{} (exit)", hop.node)
                } else {
                    format!("{} holds {:.0} s", hop.node, hop.delay.as_secs_f64())
                }
            })
            .collect();
        let result = match &outcome {
            Outcome::FragmentHeld { have, need, .. } => format!("fragment {have}/{need} held"),
            Outcome::Deliver { .. } => "message complete: delivered".to_owned(),
            Outcome::Dropped(reason) => format!("dropped: {reason:?}"),
            Outcome::Forward { .. } => "still travelling".to_owned(),
        };
        println!("   packet {:>2}: {}  ->  {result}", i + 1, hops.join(", "));
        if let Outcome::Deliver {
            recipients,
            message,
            ..
        } = outcome
        {
            delivery = Some((recipients, message));
        }
    }
    println!("   all hops processed in {:.1?}", started.elapsed());

    let Some((recipients, delivered)) = delivery else {
        println!("\nThe message was not delivered.");
        std::process::exit(1);
    };
    let kept = header_names(&delivered);
    let removed: Vec<String> = header_names(&message)
        .into_iter()
        .filter(|n| {
            !kept.iter().any(|k| k.eq_ignore_ascii_case(n)) || n.eq_ignore_ascii_case("Date")
        })
        .collect();
    println!("\n== Delivered by the exit to {}", recipients.join(", "));
    println!(
        "   removed: {} (the exit wrote a new UTC Date)",
        removed.join(", ")
    );
    println!("   ----------------------------------------------------------------");
    for line in String::from_utf8_lossy(&delivered).lines().take(24) {
        println!("   {line}");
    }
    println!("   ... ({} bytes in all)", delivered.len());
    Ok(())
}
