//! Shared by the integration tests: sample messages and networks.
#![allow(dead_code)]

use mixmailer::sample::{SampleNetwork, SampleSpec};
use std::time::Duration;

/// A message as the pEp engine's MIME encoder would hand it over.
pub fn pep_message(body: &str) -> Vec<u8> {
    format!(
        "Received: from laptop.home (dsl-203-0-113-7.example.net [203.0.113.7])\r\n\
         \tby smtp.example.org with ESMTPSA; Sun, 29 Nov 2026 06:12:37 +0100\r\n\
         Date: Sun, 29 Nov 2026 06:12:37 +0100\r\n\
         From: Alice <alice@example.org>\r\n\
         To: Bob <bob@example.net>\r\n\
         Cc: carol@example.com\r\n\
         Bcc: dave@example.org\r\n\
         Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\
         Message-ID: <pEp.1.2@example.org>\r\n\
         User-Agent: pEp-engine 3.2 (Linux)\r\n\
         X-Mailer: ExampleMail 1.0\r\n\
         X-pEp-Version: 3.2\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {body}"
    )
    .into_bytes()
}

/// A sample network of `hops` layers with two nodes each.
pub fn network(hops: u8, payload_size: usize) -> SampleNetwork {
    SampleNetwork::generate(&SampleSpec {
        hops,
        nodes_per_layer: 2,
        payload_size,
        mean_delay: Duration::from_secs(30),
        seed: u64::from(hops) * 1000 + payload_size as u64,
    })
    .expect("sample network")
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
