//! A throwaway network for the demo, tests and benchmarks: keys drawn from
//! a seed, a directory signed by one authority. Never for real use: anyone
//! who knows the seed knows every key.

use crate::directory::{Directory, DirectoryError, DirectoryParams, NodeEntry};
use crate::keys::{AuthoritySigningKey, NodeSecretKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A message as the pEp engine's MIME encoder hands it over, with every
/// kind of header field the policy of SPEC 6 keeps or removes (a Received
/// line with the sender's IP address, a local-timezone Date, Bcc,
/// User-Agent, X-Mailer, X-Originating-IP) and `body` after the blank line.
pub fn pep_message(body: &str) -> Vec<u8> {
    format!(
        "Received: from alice-laptop.home (dsl-203-0-113-7.example.net [203.0.113.7])\r\n\
         \tby smtp.example.org (Postfix) with ESMTPSA id 4F2A1;\r\n\
         \tSun, 29 Nov 2026 09:41:07 +0100 (CET)\r\n\
         Return-Path: <alice@example.org>\r\n\
         Date: Sun, 29 Nov 2026 09:41:07 +0100\r\n\
         From: Alice <alice@example.org>\r\n\
         To: Bob <bob@example.net>\r\n\
         Cc: carol@example.com\r\n\
         Bcc: dave@example.org\r\n\
         Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\
         Message-ID: <pEp.1.2@example.org>\r\n\
         User-Agent: pEp-engine 3.2.1 / Thunderbird 128 (X11; Linux x86_64)\r\n\
         X-Mailer: ExampleMail 1.0\r\n\
         X-Originating-IP: [203.0.113.7]\r\n\
         X-pEp-Version: 3.2\r\n\
         X-EncStatus: reliable\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {body}"
    )
    .into_bytes()
}

/// The shape of a sample network.
#[derive(Clone, Debug)]
pub struct SampleSpec {
    /// Layers (route length), 1..=5.
    pub hops: u8,
    /// Nodes in each layer.
    pub nodes_per_layer: usize,
    /// Sphinx payload size.
    pub payload_size: usize,
    /// Mean per-hop delay.
    pub mean_delay: Duration,
    /// Seed all keys are drawn from.
    pub seed: u64,
}

impl Default for SampleSpec {
    fn default() -> Self {
        SampleSpec {
            hops: 3,
            nodes_per_layer: 2,
            payload_size: 2048,
            mean_delay: Duration::from_secs(60),
            seed: 1,
        }
    }
}

/// A sample network: its signed directory and every secret.
pub struct SampleNetwork {
    /// The signed directory document.
    pub directory_text: Vec<u8>,
    /// The authority that signed it (trust its public key).
    pub authority: AuthoritySigningKey,
    /// Node secret keys, in directory order.
    pub node_keys: Vec<NodeSecretKey>,
    /// A time inside the directory's validity.
    pub now: SystemTime,
}

impl SampleNetwork {
    /// Generates the network described by `spec`: nodes `L<layer>N<i>` with
    /// mailboxes `mix<layer>-<i>@sample.invalid`, valid for a year from 2026-01-01.
    pub fn generate(spec: &SampleSpec) -> Result<SampleNetwork, DirectoryError> {
        let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
        // v2-compile-fix: one key period of a day, 2026-01-01.
        const KEY_PERIOD: Duration = Duration::from_secs(86_400);
        let valid_after = UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
        let authority = AuthoritySigningKey::generate(&mut rng);
        let mut nodes = Vec::new();
        let mut node_keys = Vec::new();
        for layer in 1..=spec.hops {
            for i in 1..=spec.nodes_per_layer {
                let key = NodeSecretKey::generate(&mut rng);
                // v2-compile-fix: an identity, and the one key of the one period.
                let identity = crate::keys::NodeIdentityKey::generate(&mut rng);
                nodes.push(NodeEntry::new(
                    &format!("L{layer}N{i}"),
                    layer,
                    &format!("mix{layer}-{i}@sample.invalid"),
                    identity.public_key(),
                    vec![crate::directory::PeriodKey {
                        period: crate::period::period_of(valid_after, KEY_PERIOD),
                        key: key.public_key(),
                    }],
                ));
                node_keys.push(key);
            }
        }
        let params = DirectoryParams {
            network: "sample".to_owned(),
            valid_after,
            valid_until: valid_after + KEY_PERIOD, // v2-compile-fix: one period
            hops: spec.hops,
            payload_size: spec.payload_size,
            mean_delay: spec.mean_delay,
            key_period: KEY_PERIOD, // v2-compile-fix
        };
        let directory_text = Directory::sign(&params, &nodes, &[&authority])?;
        Ok(SampleNetwork {
            directory_text,
            authority,
            node_keys,
            now: valid_after + Duration::from_secs(43_200), // v2-compile-fix
        })
    }

    /// The parsed, verified directory.
    pub fn directory(&self) -> Result<Directory, DirectoryError> {
        Directory::parse(
            &self.directory_text,
            &[self.authority.public_key()],
            1,
            self.now,
        )
    }
}

/// One step of a packet's trip through an [`InProcessMixnet`].
#[derive(Clone, Debug)]
pub struct Hop {
    /// Nickname of the node that processed the packet.
    pub node: String,
    /// Mailbox the carrier was addressed to.
    pub address: String,
    /// The delay the node was told to hold the packet for (zero at the exit).
    pub delay: Duration,
    /// Size of the carrier email the node received.
    pub carrier_len: usize,
}

/// Every node of a sample network in one process, passing carrier emails
/// along as the nodes' MTAs would, with time advanced by each hop's delay.
pub struct InProcessMixnet {
    nodes: Vec<crate::node::MixNode>,
}

impl InProcessMixnet {
    /// Starts every node of `network` with an in-memory store.
    pub fn new(network: &SampleNetwork) -> Result<Self, crate::Error> {
        let directory = network.directory()?;
        let nodes = network
            .node_keys
            .iter()
            .map(|key| crate::node::MixNode::new(*key.to_bytes(), directory.clone()))
            .collect::<Result<_, _>>()?;
        Ok(InProcessMixnet { nodes })
    }

    /// The node whose mailbox is `address`.
    pub fn node_mut(&mut self, address: &str) -> Option<&mut crate::node::MixNode> {
        self.nodes
            .iter_mut()
            .find(|n| n.entry().address() == address)
    }

    /// Carries `carrier` (mailed to `address` at `now`) hop by hop until it
    /// stops: at the exit, or dropped. Returns the trip and the last outcome.
    pub fn carry(
        &mut self,
        address: &str,
        carrier: &[u8],
        now: SystemTime,
    ) -> Result<(Vec<Hop>, crate::node::Outcome), crate::Error> {
        let mut trip = Vec::new();
        let mut address = address.to_owned();
        let mut carrier = carrier.to_vec();
        let mut now = now;
        loop {
            let node = self
                .node_mut(&address)
                .ok_or(crate::node::NodeError::UnknownNextHop)?;
            let nickname = node.entry().nickname().to_owned();
            let outcome = node.process(&carrier, now)?;
            let delay = match &outcome {
                crate::node::Outcome::Forward { delay, .. } => *delay,
                _ => Duration::ZERO,
            };
            trip.push(Hop {
                node: nickname,
                address: address.clone(),
                delay,
                carrier_len: carrier.len(),
            });
            match outcome {
                crate::node::Outcome::Forward { onion, delay } => {
                    // A delay too large for the clock cannot be waited out; carry on at `now`.
                    now = now.checked_add(delay).unwrap_or(now);
                    carrier = onion.to_email(&address);
                    address = onion.first_hop().to_owned();
                }
                other => return Ok((trip, other)),
            }
        }
    }
}
