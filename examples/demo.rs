//! The whole mixnet in one process: a sample network, two messages as the
//! pEp engine hands them over (a plaintext one from a leaky client, and a
//! real encrypted one of planck core 3.3), their packets carried hop by hop
//! with every node's delay, and the header before and after.
//!
//! Run with `cargo run --release --example demo`.

use mixmailer::message::Mailbox;
use mixmailer::node::Outcome;
use mixmailer::period::period_of;
use mixmailer::sample::{InProcessMixnet, SampleNetwork, SampleSpec};
use mixmailer::{mix_wrap_with, Directory, Error, WrapOptions};
use std::time::Instant;

const SENDER: &str = "alice@example.org";

/// An encrypted message exactly as planck core 3.3's `mime_encode_message()`
/// produced it (see tests/data/clients/README.md).
const PEP_ENCRYPTED: &[u8] = include_bytes!("../tests/data/clients/pep-engine-encrypted.eml");

fn main() {
    if let Err(err) = run() {
        eprintln!("demo failed: {err}");
        std::process::exit(1);
    }
}

fn plaintext_message() -> Vec<u8> {
    let mut body = String::from("Hi Bob,\r\n\r\nthe mixnet hides who writes to whom.\r\n");
    for i in 1..=40 {
        body.push_str(&format!(
            "Line {i:02}: pEp encrypts the content, MixMailer hides the metadata.\r\n"
        ));
    }
    body.push_str("\r\nAlice\r\n");
    mixmailer::sample::pep_message(&body)
}

/// The header of `message`, one line per field (folded lines joined), cut
/// to `width` characters.
fn header_lines(message: &[u8], width: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => fields.push(line.to_owned()),
        }
    }
    fields
        .into_iter()
        .map(|f| {
            if f.chars().count() > width {
                format!("{}...", f.chars().take(width).collect::<String>())
            } else {
                f
            }
        })
        .collect()
}

fn run() -> Result<(), Error> {
    // The recommended parameters (docs/anonymity.md): 3 hops, 32 KiB
    // payloads, 120 s mean delay per hop.
    let spec = SampleSpec {
        nodes_per_layer: 3,
        seed: 2026,
        ..SampleSpec::default()
    };
    let started = Instant::now();
    let network = SampleNetwork::generate(&spec)?;
    let directory = network.directory()?;
    let params = directory.params();
    println!("== Sample network \"{}\"", params.network);
    println!(
        "   {} layers, {} nodes, payload {} bytes, mean delay {} s per hop, key period {} h, \
         directory {} bytes, signed and verified in {:.1?}",
        params.hops,
        directory.nodes().len(),
        params.payload_size,
        params.mean_delay.as_secs(),
        params.key_period.as_secs() / 3600,
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
    println!(
        "   sending at {} (key period {})",
        mixmailer::time::format_rfc5322(network.now),
        period_of(network.now, params.key_period)
    );

    send(
        &network,
        &directory,
        "a plaintext message from a leaky client",
        &plaintext_message(),
    )?;
    send(
        &network,
        &directory,
        "an encrypted message of the pEp engine (planck core 3.3)",
        PEP_ENCRYPTED,
    )
}

fn send(
    network: &SampleNetwork,
    directory: &Directory,
    what: &str,
    message: &[u8],
) -> Result<(), Error> {
    println!("\n================================================================");
    println!("== {what} ({} bytes), as handed over", message.len());
    for line in header_lines(message, 100) {
        println!("   | {line}");
    }

    let mut rng = rand::rng();
    let route = directory.random_route(&mut rng)?;
    let names: Vec<&str> = route.hops().iter().map(|h| h.nickname()).collect();
    println!(
        "\n== Route: {} (exit {})",
        names.join(" -> "),
        route.exit().address()
    );
    let started = Instant::now();
    // The sample network's keys are for its own (fixed) time, not for now.
    let wrapped = mix_wrap_with(
        message,
        &route,
        &WrapOptions::default(),
        network.now,
        &mut rng,
    )?;
    let sender = Mailbox::parse(SENDER)?;
    let carriers: Vec<Vec<u8>> = wrapped
        .onions()
        .iter()
        .map(|o| o.to_email(&sender))
        .collect();
    println!(
        "   mix_wrap: {} packets of {} bytes in {:.1?}; one carrier email of {} bytes each to {}",
        wrapped.onions().len(),
        wrapped.onions().first().map_or(0, |o| o.packet().len()),
        started.elapsed(),
        carriers.first().map_or(0, Vec::len),
        route.first_hop().address()
    );
    println!(
        "   the delivered message will be {}: the sent copy is filed under it",
        wrapped.message_id()
    );

    println!("\n== Carrying the packets (each node holds each packet for its own delay)");
    let mut mixnet = InProcessMixnet::new(network)?;
    let mut delivery = None;
    for (i, (onion, carrier)) in wrapped.onions().iter().zip(&carriers).enumerate() {
        let (trip, outcome) = mixnet.carry(onion.first_hop(), carrier, network.now)?;
        let hops: Vec<String> = trip
            .iter()
            .map(|hop| format!("{} {:.0} s", hop.node, hop.delay.as_secs_f64()))
            .collect();
        let result = match &outcome {
            Outcome::FragmentHeld { have, need, .. } => format!("fragment {have}/{need} held"),
            Outcome::Deliver { .. } => "complete: the exit delivers after its delay".to_owned(),
            Outcome::Dropped(reason) => format!("dropped: {}", reason.as_str()),
            Outcome::Forward { .. } => "still travelling".to_owned(),
        };
        println!("   packet {:>2}: {}  ->  {result}", i + 1, hops.join(", "));
        if let Outcome::Deliver {
            recipients,
            message,
            ..
        } = outcome
        {
            let sent_to_exit = trip.last().map(|h| h.arrived + h.delay);
            delivery = Some((recipients, message, sent_to_exit));
        }
    }

    let Some((recipients, delivered, at)) = delivery else {
        println!("\nThe message was not delivered.");
        std::process::exit(1);
    };
    if let Some(at) = at {
        let total = at.duration_since(network.now).unwrap_or_default();
        println!(
            "   delivered {:.0} min after sending, to {}",
            total.as_secs_f64() / 60.0,
            recipients.join(", ")
        );
    }
    println!("\n== What the recipient's provider gets (header; the body is unchanged)");
    for line in header_lines(&delivered, 100) {
        println!("   | {line}");
    }
    Ok(())
}
