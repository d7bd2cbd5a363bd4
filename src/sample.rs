//! A throwaway network for the demo, tests and benchmarks: keys drawn from
//! a seed, a directory signed by one authority. Never for real use: anyone
//! who knows the seed knows every key.

use crate::directory::{Directory, DirectoryError, DirectoryParams, NodeEntry, PeriodKey};
use crate::keys::{AuthoritySigningKey, NodeIdentityKey, NodeSecretKey};
use crate::node::NodeKeys;
use crate::period::period_of;
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
    /// Layers (route length), 2..=5.
    pub hops: u8,
    /// Nodes in each layer.
    pub nodes_per_layer: usize,
    /// Sphinx payload size.
    pub payload_size: usize,
    /// Mean per-hop delay.
    pub mean_delay: Duration,
    /// Key period T (SPEC 1: `hops * mean_delay <= T / 8`).
    pub key_period: Duration,
    /// How long the directory is valid (at most 7 days, 8 key periods).
    pub validity: Duration,
    /// Seed all keys are drawn from.
    pub seed: u64,
}

/// The defaults are the parameters docs/anonymity.md recommends from the
/// simulator's numbers: 3 hops, 32 KiB payloads (a pEp message with its
/// key fits one fragment, and fewer, larger packets hide sizes better),
/// 120 s mean delay per hop (about 6 minutes end to end).
impl Default for SampleSpec {
    fn default() -> Self {
        SampleSpec {
            hops: 3,
            nodes_per_layer: 2,
            payload_size: 32_768,
            mean_delay: Duration::from_secs(120),
            key_period: Duration::from_secs(DAY),
            validity: Duration::from_secs(7 * DAY),
            seed: 1,
        }
    }
}

const DAY: u64 = 86_400;

/// A sample network: its signed directory and every secret.
pub struct SampleNetwork {
    /// The signed directory document.
    pub directory_text: Vec<u8>,
    /// The authority that signed it (trust its public key).
    pub authority: AuthoritySigningKey,
    /// Node identities, in directory order.
    pub node_identities: Vec<NodeIdentityKey>,
    /// Each node's secret key per period, in directory order.
    pub node_keys: Vec<Vec<(u64, NodeSecretKey)>>,
    /// A time inside the directory's validity (one key period after its start).
    pub now: SystemTime,
}

impl SampleNetwork {
    /// Generates the network described by `spec`: nodes `L<layer>N<i>` with
    /// mailboxes `mix<layer>-<i>@sample.invalid`, valid from 2026-01-01 for
    /// `spec.validity`, with a key per node and overlapping period.
    pub fn generate(spec: &SampleSpec) -> Result<SampleNetwork, DirectoryError> {
        let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
        let authority = AuthoritySigningKey::generate(&mut rng);
        let valid_after = UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
        let valid_until = valid_after + spec.validity;
        let first = period_of(valid_after, spec.key_period);
        let last = period_of(valid_until - Duration::from_secs(1), spec.key_period);
        let mut nodes = Vec::new();
        let mut node_identities = Vec::new();
        let mut node_keys = Vec::new();
        for layer in 1..=spec.hops {
            for i in 1..=spec.nodes_per_layer {
                let identity = NodeIdentityKey::generate(&mut rng);
                let keys: Vec<(u64, NodeSecretKey)> = (first..=last)
                    .map(|period| (period, NodeSecretKey::generate(&mut rng)))
                    .collect();
                nodes.push(NodeEntry::new(
                    &format!("L{layer}N{i}"),
                    layer,
                    &format!("mix{layer}-{i}@sample.invalid"),
                    identity.public_key(),
                    keys.iter()
                        .map(|(period, key)| PeriodKey {
                            period: *period,
                            key: key.public_key(),
                        })
                        .collect(),
                ));
                node_identities.push(identity);
                node_keys.push(keys);
            }
        }
        let params = DirectoryParams {
            network: "sample".to_owned(),
            valid_after,
            valid_until,
            hops: spec.hops,
            payload_size: spec.payload_size,
            mean_delay: spec.mean_delay,
            key_period: spec.key_period,
        };
        let directory_text = Directory::sign(&params, &nodes, &[&authority])?;
        Ok(SampleNetwork {
            directory_text,
            authority,
            node_identities,
            node_keys,
            now: valid_after + spec.key_period,
        })
    }

    /// The keys node number `index` (directory order) processes packets
    /// with: its identity and every period key.
    pub fn keys_of(&self, index: usize) -> Option<NodeKeys> {
        let identity = self.node_identities.get(index)?;
        let mut keys = NodeKeys::new(identity.public_key());
        for (period, key) in self.node_keys.get(index)? {
            keys.insert(*period, NodeSecretKey::from_bytes(*key.to_bytes()));
        }
        Some(keys)
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
    /// When the carrier reached the node.
    pub arrived: SystemTime,
    /// How long the node held the packet: the sender's delay, or at the
    /// exit its own delay before delivery.
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
        let nodes = (0..network.node_identities.len())
            .filter_map(|index| network.keys_of(index))
            .map(|keys| crate::node::MixNode::new(keys, directory.clone()))
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
    /// stops: at the exit, or dropped. Returns the trip and the last
    /// outcome. A delivered message is returned as the exit's MTA would get
    /// it: after the exit's own delay, with the `Date:` of that moment.
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
                crate::node::Outcome::Forward { delay, .. }
                | crate::node::Outcome::Deliver { delay, .. } => *delay,
                _ => Duration::ZERO,
            };
            trip.push(Hop {
                node: nickname,
                address: address.clone(),
                arrived: now,
                delay,
                carrier_len: carrier.len(),
            });
            match outcome {
                crate::node::Outcome::Forward { onion, delay } => {
                    // A delay too large for the clock cannot be waited out; carry on at `now`.
                    now = now.checked_add(delay).unwrap_or(now);
                    carrier = onion.to_email(&crate::message::Mailbox::parse(&address)?);
                    address = onion.first_hop().to_owned();
                }
                crate::node::Outcome::Deliver {
                    recipients,
                    message,
                    delay,
                } => {
                    let at = now.checked_add(delay).unwrap_or(now);
                    let message = crate::message::add_date(&message, at);
                    let outcome = crate::node::Outcome::Deliver {
                        recipients,
                        message,
                        delay,
                    };
                    return Ok((trip, outcome));
                }
                other => return Ok((trip, other)),
            }
        }
    }
}
