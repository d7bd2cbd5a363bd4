//! What a mix node does with one carrier email: read it, check its key
//! period, unwrap one layer, drop replays, and forward, or at the exit
//! collect fragments and hand back the message to deliver after the
//! exit's own delay.
//!
//! At the exit, the carrier that completes a message can be handled in
//! one call ([`MixNode::process`]) or in three steps, so that the costly
//! middle one runs outside whatever serialises the node's packets:
//! [`MixNode::receive`] stores the fragment and marks the message complete
//! ([`Received::Complete`]); [`Assembler::assemble`] turns the stored
//! fragments into a [`Delivery`] without the node; [`MixNode::finish`]
//! replaces the fragments by the "already delivered" mark, in the same
//! transaction in which the caller stores the delivery.

mod assemble;
mod error;
mod keys;
mod memory;
mod store;

pub use assemble::{Assembler, Delivery};
pub use error::NodeError;
pub use keys::NodeKeys;
pub use memory::MemoryStore;
pub use store::{FragmentStatus, NodeStore, StoreError};

use crate::carrier::{read_carrier, CarrierPacket};
use crate::delay::max_delay;
use crate::directory::{Directory, NodeEntry};
use crate::keys::NodeSecretKey;
use crate::message::{Fragment, Mailbox};
use crate::period::{accepts, period_of};
use crate::sphinx::{packet_len, process_packet, Processed};
use crate::wrap::Onion;
use crate::Error;
use rand::rngs::SysRng;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::{Duration, SystemTime};

/// Why a packet was dropped without error: it was well-formed but must not go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// This node already processed a packet with the same replay tag under
    /// the same period key.
    Replay,
    /// The fragment's message was already delivered, dropped, or is
    /// complete and being assembled (a surplus parity fragment).
    AlreadyDelivered,
    /// The same fragment index of the same message arrived twice.
    DuplicateFragment,
    /// The fragment disagrees with the fragments held for its message
    /// about k, n or the body length.
    InconsistentFragment,
    /// The packet's final hop was reached at a node that is not an exit
    /// (SPEC 2: only layer-h nodes deliver; anything else would make every
    /// node an open exit).
    FinalHopNotExit,
    /// The sender asked for a delay above half a key period (SPEC 2): the
    /// packet could outlive the keys that must process it.
    DelayTooLong,
    /// The carrier's key period is neither the current nor the previous
    /// one, nor the next within the clock-skew allowance (SPEC 2).
    PeriodNotAccepted,
}

impl DropReason {
    /// A short name for logs and the C API.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Replay => "replay",
            DropReason::AlreadyDelivered => "its message is complete or already delivered",
            DropReason::DuplicateFragment => "duplicate fragment",
            DropReason::InconsistentFragment => "fragment inconsistent with its message",
            DropReason::FinalHopNotExit => "final hop reached at a node that is not an exit",
            DropReason::DelayTooLong => "delay longer than half a key period",
            DropReason::PeriodNotAccepted => "key period not accepted now",
        }
    }
}

/// The result of processing one carrier email.
#[derive(Debug)]
pub enum Outcome {
    /// Hold for `delay`, then mail `onion.to_email(own address)` to `onion.first_hop()`.
    Forward {
        /// The packet for the next hop and its address.
        onion: Onion,
        /// How long to hold it (chosen by the sender, at most T/2).
        delay: Duration,
    },
    /// Exit: hold for `delay` (drawn by the exit, SPEC 2), then add the
    /// `Date:` of that moment ([`crate::message::add_date`]) and deliver
    /// `message` to `recipients` by SMTP, from the exit's own address.
    Deliver {
        /// Envelope recipients (To, Cc and Bcc of the original).
        recipients: Vec<String>,
        /// The message as delivered (sanitized again), CRLF line endings, no Date yet.
        message: Vec<u8>,
        /// The exit's own delay.
        delay: Duration,
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

/// What [`MixNode::receive`] did with one carrier email.
#[derive(Debug)]
pub enum Received {
    /// Nothing is left to do for this carrier but what the outcome says:
    /// `Forward`, `FragmentHeld` or `Dropped`, never `Deliver`.
    Done(Outcome),
    /// Exit: the carrier's fragment was the last one its message needed.
    /// The fragment is stored and the message marked complete, in the
    /// store's open transaction; commit it before acknowledging the
    /// carrier. Then assemble the message ([`MixNode::assembler`],
    /// [`NodeStore::fragments`]) and end it with [`MixNode::finish`].
    Complete {
        /// Message id (random, shared by its fragments).
        message_id: [u8; 16],
    },
}

impl From<Delivery> for Outcome {
    fn from(d: Delivery) -> Self {
        Outcome::Deliver {
            recipients: d.recipients,
            message: d.message,
            delay: d.delay,
        }
    }
}

/// What [`MixNode::rotate`] deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Periods whose secret keys were deleted.
    pub keys_deleted: Vec<u64>,
    /// Replay tags forgotten with them.
    pub tags_deleted: u64,
}

/// A mix node: its keys, the directory, and where it remembers replay tags and fragments.
pub struct MixNode<S: NodeStore = MemoryStore> {
    keys: NodeKeys,
    directory: Directory,
    me: NodeEntry,
    store: S,
    /// Draws the exit's delays; seeded from the OS.
    rng: ChaCha20Rng,
    /// The period of the last rotation, so it runs once per period.
    rotated_at: Option<u64>,
}

impl MixNode<MemoryStore> {
    /// A node keeping its state in memory. Errors if its identity is not in
    /// `directory`, or a key it holds differs from the one listed for it.
    pub fn new(keys: NodeKeys, directory: Directory) -> Result<Self, Error> {
        Self::with_store(keys, directory, MemoryStore::new())
    }
}

impl<S: NodeStore> MixNode<S> {
    /// A node with its own store (the daemon's persistent one).
    pub fn with_store(keys: NodeKeys, directory: Directory, store: S) -> Result<Self, Error> {
        let me = own_entry(&directory, &keys)?;
        let rng = ChaCha20Rng::try_from_rng(&mut SysRng).map_err(Error::Randomness)?;
        Ok(MixNode {
            keys,
            directory,
            me,
            store,
            rng,
            rotated_at: None,
        })
    }

    /// Draws the exit's delays from `seed` instead of the OS, so that a
    /// test run is reproducible.
    pub fn seed_delays(&mut self, seed: u64) {
        self.rng = ChaCha20Rng::seed_from_u64(seed);
    }

    /// This node's directory entry.
    pub fn entry(&self) -> &NodeEntry {
        &self.me
    }

    /// The directory this node routes by.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Switches to a newer directory, which must still list this node with
    /// the keys it holds.
    pub fn set_directory(&mut self, directory: Directory) -> Result<(), Error> {
        self.me = own_entry(&directory, &self.keys)?;
        self.directory = directory;
        Ok(())
    }

    /// The node's keys.
    pub fn keys(&self) -> &NodeKeys {
        &self.keys
    }

    /// Adds the secret key for `period` (made ahead of time by the
    /// daemon). Refused if the directory lists a different key for it.
    pub fn insert_key(&mut self, period: u64, key: NodeSecretKey) -> Result<(), NodeError> {
        if self
            .me
            .key_for(period)
            .is_some_and(|listed| *listed != key.public_key())
        {
            return Err(NodeError::KeyMismatch { period });
        }
        self.keys.insert(period, key);
        Ok(())
    }

    /// The store, to read what it holds (the fragments of a complete message).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, e.g. to expire fragments or read its size.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// SPEC 2's forward secrecy: at `now`, deletes the secret keys and the
    /// replay tags of every period before `P(now) - 1`. Runs by itself
    /// whenever a packet arrives in a new period; call it on a timer too,
    /// so keys of an idle node are deleted on time.
    pub fn rotate(&mut self, now: SystemTime) -> Result<Rotation, Error> {
        let keep_from = period_of(now, self.key_period()).saturating_sub(1);
        let tags_deleted = self.store.forget_tags_before(keep_from)?;
        let keys_deleted = self.keys.remove_before(keep_from);
        self.rotated_at = Some(period_of(now, self.key_period()));
        Ok(Rotation {
            keys_deleted,
            tags_deleted,
        })
    }

    fn key_period(&self) -> Duration {
        self.directory.params().key_period
    }

    /// Processes one carrier email received at `now`, in one call: a
    /// carrier that completes a message at the exit is assembled at once
    /// and comes back as [`Outcome::Deliver`]. With a transactional store,
    /// call this between the store's `begin` and `commit`. A node that must
    /// not block other carriers during an assembly uses
    /// [`Self::receive`] and the steps after it instead.
    pub fn process(&mut self, carrier_email: &[u8], now: SystemTime) -> Result<Outcome, Error> {
        let received = self.receive(carrier_email, now)?;
        self.complete_now(received, now)
    }

    /// [`Self::process`] for one packet (348 + p bytes) of key period
    /// `period` received at `now`.
    pub fn process_packet(
        &mut self,
        period: u64,
        packet: &[u8],
        now: SystemTime,
    ) -> Result<Outcome, Error> {
        let received = self.receive_packet(period, packet, now)?;
        self.complete_now(received, now)
    }

    /// The steps after [`Self::receive`], run at once on a complete message.
    fn complete_now(&mut self, received: Received, now: SystemTime) -> Result<Outcome, Error> {
        let message_id = match received {
            Received::Done(outcome) => return Ok(outcome),
            Received::Complete { message_id } => message_id,
        };
        let fragments = self.store.fragments(&message_id)?;
        let assembled = self.assembler()?.assemble(&fragments, &mut self.rng);
        // Failed for good or not, the message is over: late fragments of
        // it must not start it again.
        self.finish(&message_id, now)?;
        Ok(assembled?.into())
    }

    /// The first step of [`Self::process`]: reads the carrier, unwraps its
    /// layer, and forwards, drops, or stores its fragment. The carrier
    /// that completes a message gives [`Received::Complete`], with nothing
    /// costly done yet. With a transactional store, call this between the
    /// store's `begin` and `commit`.
    pub fn receive(&mut self, carrier_email: &[u8], now: SystemTime) -> Result<Received, Error> {
        let payload_size = self.directory.params().payload_size;
        let CarrierPacket { period, packet } =
            read_carrier(carrier_email, packet_len(payload_size))?;
        self.receive_packet(period, &packet, now)
    }

    /// [`Self::receive`] for one packet (348 + p bytes) of key period
    /// `period` received at `now`.
    pub fn receive_packet(
        &mut self,
        period: u64,
        packet: &[u8],
        now: SystemTime,
    ) -> Result<Received, Error> {
        let done = |outcome| Ok(Received::Done(outcome));
        let key_period = self.key_period();
        if self.rotated_at != Some(period_of(now, key_period)) {
            self.rotate(now)?;
        }
        if !accepts(period, now, key_period) {
            return done(Outcome::Dropped(DropReason::PeriodNotAccepted));
        }
        let key = self
            .keys
            .get(period)
            .ok_or(NodeError::MissingPeriodKey { period })?;
        let payload_size = self.directory.params().payload_size;
        match process_packet(key, packet, payload_size)? {
            Processed::Forward {
                replay_tag,
                next_id,
                delay,
                packet,
            } => {
                if delay > max_delay(key_period) {
                    return done(Outcome::Dropped(DropReason::DelayTooLong));
                }
                let next = Mailbox::parse(self.next_hop(&next_id)?.address())?;
                if !self.store.remember_tag(period, &replay_tag)? {
                    return done(Outcome::Dropped(DropReason::Replay));
                }
                done(Outcome::Forward {
                    onion: Onion::new(next, period, packet),
                    delay,
                })
            }
            Processed::Final {
                replay_tag,
                plaintext,
            } => {
                if self.me.layer() != self.directory.params().hops {
                    return done(Outcome::Dropped(DropReason::FinalHopNotExit));
                }
                let fragment = Fragment::from_plaintext(&plaintext, payload_size)?;
                if !self.store.remember_tag(period, &replay_tag)? {
                    return done(Outcome::Dropped(DropReason::Replay));
                }
                self.collect(fragment, now)
            }
        }
    }

    /// What the exit needs to assemble its complete messages elsewhere
    /// (another thread, without the node): its address and the network's
    /// delay parameters, as of now.
    pub fn assembler(&self) -> Result<Assembler, Error> {
        let params = self.directory.params();
        Ok(Assembler::new(
            Mailbox::parse(self.me.address())?,
            params.mean_delay,
            params.key_period,
        ))
    }

    /// The last step for a message that [`Self::receive`] reported
    /// complete, once its assembly gave a delivery or failed for good:
    /// removes its fragments and remembers it as delivered (so late
    /// fragments are dropped). With a transactional store, call it in the
    /// transaction that stores the delivery, so the two are durable
    /// together. Returns false, changing nothing, if the message is not
    /// complete-and-pending any more (finished already, or expired).
    pub fn finish(&mut self, message_id: &[u8; 16], now: SystemTime) -> Result<bool, Error> {
        Ok(self.store.finish_message(message_id, now)?)
    }

    /// Complete messages whose delivery is pending, e.g. after a restart.
    pub fn complete_messages(&self) -> Result<Vec<[u8; 16]>, Error> {
        Ok(self.store.complete_messages()?)
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

    fn collect(&mut self, fragment: Fragment, now: SystemTime) -> Result<Received, Error> {
        let message_id = fragment.message_id;
        let need = usize::from(fragment.k);
        let dropped = |reason| Ok(Received::Done(Outcome::Dropped(reason)));
        match self.store.add_fragment(fragment, now)? {
            FragmentStatus::AlreadyDelivered => dropped(DropReason::AlreadyDelivered),
            FragmentStatus::Duplicate => dropped(DropReason::DuplicateFragment),
            FragmentStatus::Inconsistent => dropped(DropReason::InconsistentFragment),
            FragmentStatus::Held(have) if have < need => {
                Ok(Received::Done(Outcome::FragmentHeld {
                    message_id,
                    have,
                    need,
                }))
            }
            FragmentStatus::Held(_) => {
                self.store.mark_complete(&message_id, now)?;
                Ok(Received::Complete { message_id })
            }
        }
    }

    /// Forgets messages whose first fragment came more than
    /// [`fragment_ttl`] ago and are still not delivered (incomplete, or
    /// complete but never finished), and delivered-message marks older
    /// than that. Returns how many messages were dropped.
    pub fn expire(&mut self, now: SystemTime) -> Result<usize, Error> {
        let cutoff = now
            .checked_sub(fragment_ttl(&self.directory))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(self.store.expire(cutoff, cutoff)?)
    }
}

/// The directory's entry for the node holding `keys`, checked against them.
fn own_entry(directory: &Directory, keys: &NodeKeys) -> Result<NodeEntry, NodeError> {
    let me = directory
        .node_by_identity(keys.identity())
        .cloned()
        .ok_or(NodeError::NotInDirectory)?;
    for period in keys.periods() {
        let held = keys.get(period).map(NodeSecretKey::public_key);
        if let (Some(listed), Some(held)) = (me.key_for(period), held) {
            if *listed != held {
                return Err(NodeError::KeyMismatch { period });
            }
        }
    }
    Ok(me)
}

/// How long an exit keeps the fragments of an incomplete message, and the
/// mark of a delivered one: two key periods. A packet of period P is
/// refused from the start of P + 2 on (SPEC 2), and every fragment of a
/// message is of the period it was wrapped in, so after two periods no
/// fragment of it can arrive any more, however long MTAs retry.
pub fn fragment_ttl(directory: &Directory) -> Duration {
    directory.params().key_period * 2
}
