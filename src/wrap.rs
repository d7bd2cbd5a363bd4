//! `mix_wrap`: from one outgoing RFC 5322 message to the onions the pEp
//! engine mails to the first hop, and the Message-ID the delivered message
//! will carry.

use crate::carrier::write_carrier;
use crate::delay::sample_hop_delays;
use crate::message::{encode_body, fragment_body, prepare_outgoing, Mailbox, Redundancy};
use crate::period::period_of;
use crate::route::Route;
use crate::sphinx::{build_packets_to, InitialSecret, PacketHop, PacketInput, TableCache};
use crate::Error;
use rand::rngs::SysRng;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One Sphinx packet and where to mail it.
#[derive(Clone, PartialEq, Eq)]
pub struct Onion {
    first_hop: Mailbox,
    period: u64,
    packet: Vec<u8>,
}

impl std::fmt::Debug for Onion {
    // The packet is ciphertext, but thousands of bytes of it help nobody reading a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onion")
            .field("first_hop", &self.first_hop)
            .field("period", &self.period)
            .field("packet_len", &self.packet.len())
            .finish()
    }
}

impl Onion {
    pub(crate) fn new(first_hop: Mailbox, period: u64, packet: Vec<u8>) -> Self {
        Onion {
            first_hop,
            period,
            packet,
        }
    }
    /// Mailbox of the node this packet must be mailed to.
    pub fn first_hop(&self) -> &str {
        self.first_hop.as_str()
    }
    /// The key period the packet was built for (its carrier's `Period:`).
    pub fn period(&self) -> u64 {
        self.period
    }
    /// The packet bytes (348 + p).
    pub fn packet(&self) -> &[u8] {
        &self.packet
    }
    /// The carrier email (SPEC 5) from `from`, dated now, with a random Message-ID.
    pub fn to_email(&self, from: &Mailbox) -> Vec<u8> {
        let mut id = [0u8; 16];
        // A Message-ID needs uniqueness, not secrecy; fall back to the time if the OS fails.
        if rand_core::TryRng::try_fill_bytes(&mut SysRng, &mut id).is_err() {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            id = nanos.to_be_bytes();
        }
        self.to_email_at(from, SystemTime::now(), &id)
    }
    /// The carrier email with a given date and 16 random bytes for its Message-ID.
    pub fn to_email_at(&self, from: &Mailbox, now: SystemTime, random: &[u8; 16]) -> Vec<u8> {
        let local: String = random.iter().map(|b| format!("{b:02x}")).collect();
        write_carrier(
            from,
            &self.first_hop,
            now,
            &format!("{local}@{}", from.domain()),
            self.period,
            &self.packet,
        )
    }
    /// Takes the packet bytes out.
    pub fn into_packet(self) -> Vec<u8> {
        self.packet
    }
}

/// What `mix_wrap` made of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrapped {
    onions: Vec<Onion>,
    message_id: String,
    period: u64,
}

impl Wrapped {
    /// The onions, one per fragment: mail every one of them.
    pub fn onions(&self) -> &[Onion] {
        &self.onions
    }
    /// Takes the onions out.
    pub fn into_onions(self) -> Vec<Onion> {
        self.onions
    }
    /// The Message-ID the delivered message carries (SPEC 6), with its
    /// angle brackets: store the sent copy under it, so that replies thread.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }
    /// The key period the packets were built for.
    pub fn period(&self) -> u64 {
        self.period
    }
}

/// Choices a caller may make about wrapping.
#[derive(Clone, Debug)]
pub struct WrapOptions {
    /// Parity fragments to add (default n = k + ceil(k/3)).
    pub redundancy: Redundancy,
    /// The sender's cache of per-node precomputation (see
    /// [`TableCache`]): share one across calls so that nodes used often
    /// get their tables. Without one, each call uses a cache of its own,
    /// which still speeds up a message of many fragments.
    pub tables: Option<Arc<TableCache>>,
}

impl Default for WrapOptions {
    fn default() -> Self {
        WrapOptions {
            redundancy: Redundancy::Default,
            tables: None,
        }
    }
}

/// Wraps `message` for `route` now, with OS randomness and default options.
pub fn mix_wrap(message: &[u8], route: &Route) -> Result<Wrapped, Error> {
    let mut rng = ChaCha20Rng::try_from_rng(&mut SysRng).map_err(Error::Randomness)?;
    mix_wrap_with(
        message,
        route,
        &WrapOptions::default(),
        SystemTime::now(),
        &mut rng,
    )
}

/// Wraps `message` for `route` at time `now` (which picks the key period,
/// SPEC 2), drawing every secret and delay from `rng`. The same seed and
/// time give the same onions.
pub fn mix_wrap_with<R: CryptoRng + ?Sized>(
    message: &[u8],
    route: &Route,
    options: &WrapOptions,
    now: SystemTime,
    rng: &mut R,
) -> Result<Wrapped, Error> {
    let period = period_of(now, route.key_period());
    // Before anything costly: a directory without keys for now is useless.
    let keys = route.keys_for(period)?;
    let exit = Mailbox::parse(route.exit().address())?;
    let outgoing = prepare_outgoing(message, &exit, rng)?;
    let body = encode_body(&outgoing.recipients, &outgoing.message)?;
    let mut fragment_id = [0u8; 16];
    rng.fill_bytes(&mut fragment_id);
    let fragments = fragment_body(&body, fragment_id, route.payload_size(), options.redundancy)?;
    // Draw all randomness first, in a fixed order, so that how the packets
    // are then built (sequentially or in parallel) cannot change them.
    let plans: Vec<PacketPlan> = fragments
        .iter()
        .map(|fragment| PacketPlan {
            secret: InitialSecret::generate(rng),
            delays: sample_hop_delays(
                route.mean_delay(),
                route.hops().len(),
                route.key_period(),
                rng,
            ),
            plaintext: fragment.to_plaintext(route.payload_size()),
        })
        .collect();
    let inputs: Vec<PacketInput<'_>> = plans.iter().map(PacketPlan::input).collect();
    let own_cache;
    let cache = match &options.tables {
        Some(shared) => shared.as_ref(),
        None => {
            own_cache = TableCache::default();
            &own_cache
        }
    };
    let tables: Vec<_> = keys.iter().map(|key| cache.table(key)).collect();
    let hops: Vec<PacketHop<'_>> = route
        .hops()
        .iter()
        .zip(keys)
        .zip(&tables)
        .map(|((hop, key), table)| PacketHop {
            id: hop.id(),
            key,
            table: Some(table),
        })
        .collect();
    let first_hop = Mailbox::parse(route.first_hop().address())?;
    let onions = build_packets_to(&hops, route.payload_size(), &inputs)?
        .into_iter()
        .map(|packet| Onion::new(first_hop.clone(), period, packet))
        .collect();
    Ok(Wrapped {
        onions,
        message_id: outgoing.message_id,
        period,
    })
}

/// Everything random about one packet, drawn before it is built.
struct PacketPlan {
    secret: InitialSecret,
    delays: Vec<Duration>,
    plaintext: Vec<u8>,
}

impl PacketPlan {
    fn input(&self) -> PacketInput<'_> {
        PacketInput {
            secret: &self.secret,
            delays: &self.delays,
            plaintext: &self.plaintext,
        }
    }
}
