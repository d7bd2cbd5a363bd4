//! What a mix node does with one carrier email: read it, unwrap one layer,
//! drop replays, and forward, or at the exit collect fragments and hand
//! back the message to deliver.

mod error;
mod memory;
mod store;

pub use error::NodeError;
pub use memory::MemoryStore;
pub use store::{FragmentStatus, NodeStore};

use crate::carrier::read_carrier;
use crate::directory::{Directory, NodeEntry};
use crate::keys::NodeSecretKey;
use crate::message::{add_date, decode_body, reassemble, sanitize_for_delivery, Fragment};
use crate::sphinx::{packet_len, process_packet, Processed};
use crate::wrap::Onion;
use crate::Error;
use std::time::{Duration, SystemTime};

/// Why a packet was dropped without error: it was well-formed but must not go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// This node already processed a packet with the same replay tag.
    Replay,
    /// The fragment's message was already delivered (a surplus parity fragment).
    AlreadyDelivered,
    /// The same fragment index of the same message arrived twice.
    DuplicateFragment,
}

/// The result of processing one carrier email.
#[derive(Debug)]
pub enum Outcome {
    /// Hold for `delay`, then mail `onion.to_email(own address)` to `onion.first_hop()`.
    Forward {
        /// The packet for the next hop and its address.
        onion: Onion,
        /// How long to hold it (chosen by the sender).
        delay: Duration,
    },
    /// Exit: deliver `message` (sanitized, with a fresh Date) to `recipients` by SMTP.
    Deliver {
        /// Envelope recipients (To, Cc and Bcc of the original).
        recipients: Vec<String>,
        /// The message, CRLF line endings.
        message: Vec<u8>,
    },
    /// Exit: a fragment was stored; `have` of `need` are there.
    FragmentHeld {
        /// Message id (random, shared by its fragments).
        message_id: [u8; 16],
        /// Distinct fragments held.
        have: usize,
        /// Fragments needed (k).
        need: usize,
    },
    /// Well-formed but not to be forwarded.
    Dropped(DropReason),
}

/// A mix node: its key, the directory, and where it remembers replay tags and fragments.
pub struct MixNode<S: NodeStore = MemoryStore> {
    key: NodeSecretKey,
    directory: Directory,
    me: NodeEntry,
    store: S,
}

impl MixNode<MemoryStore> {
    /// A node keeping its state in memory. Errors if the key's public half is not in `directory`.
    pub fn new(secret_key: [u8; 32], directory: Directory) -> Result<Self, Error> {
        Self::with_store(
            NodeSecretKey::from_bytes(secret_key),
            directory,
            MemoryStore::new(),
        )
    }
}

impl<S: NodeStore> MixNode<S> {
    /// A node with its own store (the daemon's persistent one).
    pub fn with_store(key: NodeSecretKey, directory: Directory, store: S) -> Result<Self, Error> {
        let public = key.public_key();
        let me = directory // v2-compile-fix: find the node by any of its period keys
            .nodes()
            .iter()
            .find(|n| n.keys().iter().any(|k| k.key == public))
            .cloned()
            .ok_or(NodeError::NotInDirectory)?;
        Ok(MixNode {
            key,
            directory,
            me,
            store,
        })
    }

    /// This node's directory entry.
    pub fn entry(&self) -> &NodeEntry {
        &self.me
    }

    /// The directory this node routes by.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The store, e.g. to expire fragments or read its size.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Processes one carrier email received at `now`.
    pub fn process(&mut self, carrier_email: &[u8], now: SystemTime) -> Result<Outcome, Error> {
        let payload_size = self.directory.params().payload_size;
        let packet = read_carrier(carrier_email, packet_len(payload_size))?;
        self.process_packet(&packet, now)
    }

    /// Processes one packet (348 + p bytes) received at `now`.
    pub fn process_packet(&mut self, packet: &[u8], now: SystemTime) -> Result<Outcome, Error> {
        let payload_size = self.directory.params().payload_size;
        match process_packet(&self.key, packet, payload_size)? {
            Processed::Forward {
                replay_tag,
                next_id,
                delay,
                packet,
            } => {
                let next = self.next_hop(&next_id)?.address().to_owned();
                if !self.store.remember_tag(&replay_tag)? {
                    return Ok(Outcome::Dropped(DropReason::Replay));
                }
                Ok(Outcome::Forward {
                    onion: Onion::new(next, packet),
                    delay,
                })
            }
            Processed::Final {
                replay_tag,
                plaintext,
            } => {
                let fragment = Fragment::from_plaintext(&plaintext, payload_size)?;
                if !self.store.remember_tag(&replay_tag)? {
                    return Ok(Outcome::Dropped(DropReason::Replay));
                }
                self.collect(fragment, now)
            }
        }
    }

    /// A packet may only go one layer on, to a node the directory lists:
    /// anything else is a sender's mistake or an attempt to use us as a relay.
    fn next_hop(&self, id: &[u8; 32]) -> Result<&NodeEntry, NodeError> {
        let next = self
            .directory
            .node_by_id(id)
            .ok_or(NodeError::UnknownNextHop)?;
        if next.layer() != self.me.layer() + 1 {
            return Err(NodeError::WrongNextLayer {
                own: self.me.layer(),
                next: next.layer(),
            });
        }
        Ok(next)
    }

    fn collect(&mut self, fragment: Fragment, now: SystemTime) -> Result<Outcome, Error> {
        let message_id = fragment.message_id;
        let need = usize::from(fragment.k);
        match self.store.add_fragment(fragment, now)? {
            FragmentStatus::AlreadyDelivered => Ok(Outcome::Dropped(DropReason::AlreadyDelivered)),
            FragmentStatus::Duplicate => Ok(Outcome::Dropped(DropReason::DuplicateFragment)),
            FragmentStatus::Held(have) if have < need => Ok(Outcome::FragmentHeld {
                message_id,
                have,
                need,
            }),
            FragmentStatus::Held(_) => {
                let fragments = self.store.take_fragments(&message_id, now)?;
                let body = reassemble(&fragments)?;
                let (recipients, message) = decode_body(&body)?;
                // Sanitize again: an old or careless sender must not leak more.
                let clean = sanitize_for_delivery(&message)?;
                Ok(Outcome::Deliver {
                    recipients,
                    message: add_date(&clean.message, now),
                })
            }
        }
    }

    /// Forgets incomplete messages whose first fragment came before `now - ttl`
    /// (see [`fragment_ttl`]). Returns how many were dropped.
    pub fn expire(&mut self, now: SystemTime) -> Result<usize, Error> {
        let ttl = fragment_ttl(&self.directory);
        let cutoff = now.checked_sub(ttl).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(self.store.expire(cutoff)?)
    }
}

/// How long an exit keeps the fragments of an incomplete message: ten times
/// the mean end-to-end delay, and at least a day, so that stragglers of the
/// exponential delay tail still arrive in time.
pub fn fragment_ttl(directory: &Directory) -> Duration {
    let params = directory.params();
    let mean_total = params.mean_delay * u32::from(params.hops);
    (mean_total * 10).max(Duration::from_secs(86_400))
}
