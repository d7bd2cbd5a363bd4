//! Shared by the integration tests: sample messages and networks.
#![allow(dead_code, unused_imports)]

use mixmailer::node::Outcome;
use mixmailer::sample::{SampleNetwork, SampleSpec};
use std::time::Duration;

pub use mixmailer::sample::pep_message;

/// A sample network of `hops` layers with two nodes each.
pub fn network(hops: u8, payload_size: usize) -> SampleNetwork {
    SampleNetwork::generate(&SampleSpec {
        hops,
        nodes_per_layer: 2,
        payload_size,
        mean_delay: Duration::from_secs(30),
        seed: u64::from(hops) * 1000 + payload_size as u64,
        ..SampleSpec::default()
    })
    .expect("sample network")
}

/// The sender's mailbox the tests mail carriers from.
pub fn alice() -> mixmailer::message::Mailbox {
    mixmailer::message::Mailbox::parse("alice@example.org").expect("a valid mailbox")
}

/// The part of a message after the first blank line.
pub fn body_of(message: &[u8]) -> &[u8] {
    let at = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header/body separator");
    &message[at + 4..]
}

/// The header of a message (up to the blank line), as text.
pub fn header_of(message: &[u8]) -> String {
    let at = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header/body separator");
    String::from_utf8_lossy(&message[..at + 2]).into_owned()
}

/// The recipients and message of a delivery; `None` for any other outcome.
pub fn delivery(outcome: Outcome) -> Option<(Vec<String>, Vec<u8>)> {
    match outcome {
        Outcome::Deliver {
            recipients,
            message,
            ..
        } => Some((recipients, message)),
        _ => None,
    }
}
