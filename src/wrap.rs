//! `mix_wrap`: from one outgoing RFC 5322 message to the onions the pEp
//! engine mails to the first hop.

use crate::carrier::write_carrier;
use crate::message::{encode_body, fragment_body, sanitize, Redundancy};
use crate::route::Route;
use crate::sphinx::{build_packets_to, InitialSecret, PacketHop, PacketInput, TableCache}; // v2-compile-fix
use crate::Error;
use rand::rngs::SysRng;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use rand_distr::{Distribution, Exp};
use std::time::{Duration, SystemTime};

/// One Sphinx packet and where to mail it.
#[derive(Clone, PartialEq, Eq)]
pub struct Onion {
    first_hop: String,
    packet: Vec<u8>,
}

impl std::fmt::Debug for Onion {
    // The packet is ciphertext, but thousands of bytes of it help nobody reading a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onion")
            .field("first_hop", &self.first_hop)
            .field("packet_len", &self.packet.len())
            .finish()
    }
}

impl Onion {
    pub(crate) fn new(first_hop: String, packet: Vec<u8>) -> Self {
        Onion { first_hop, packet }
    }
    /// Mailbox of the node this packet must be mailed to.
    pub fn first_hop(&self) -> &str {
        &self.first_hop
    }
    /// The packet bytes (348 + p).
    pub fn packet(&self) -> &[u8] {
        &self.packet
    }
    /// The carrier email (SPEC 5) from `from`, dated now, with a random Message-ID.
    pub fn to_email(&self, from: &str) -> Vec<u8> {
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
    pub fn to_email_at(&self, from: &str, now: SystemTime, random: &[u8; 16]) -> Vec<u8> {
        let domain = from
            .rsplit_once('@')
            .map_or("mixmailer.invalid", |(_, d)| d);
        let local: String = random.iter().map(|b| format!("{b:02x}")).collect();
        write_carrier(
            from,
            &self.first_hop,
            now,
            &format!("{local}@{domain}"),
            &self.packet,
        )
    }
    /// Takes the packet bytes out.
    pub fn into_packet(self) -> Vec<u8> {
        self.packet
    }
}

/// Choices a caller may make about wrapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrapOptions {
    /// Parity fragments to add (default n = k + ceil(k/3)).
    pub redundancy: Redundancy,
}

impl Default for WrapOptions {
    fn default() -> Self {
        WrapOptions {
            redundancy: Redundancy::Default,
        }
    }
}

/// Wraps `message` for `route` with OS randomness and default options.
pub fn mix_wrap(message: &[u8], route: &Route) -> Result<Vec<Onion>, Error> {
    let mut rng = ChaCha20Rng::try_from_rng(&mut SysRng).map_err(Error::Randomness)?; // v2-compile-fix
    mix_wrap_with(message, route, &WrapOptions::default(), &mut rng)
}

/// Wraps `message` for `route`, drawing every secret and delay from `rng`.
/// The same seed gives the same onions.
pub fn mix_wrap_with<R: CryptoRng + ?Sized>(
    message: &[u8],
    route: &Route,
    options: &WrapOptions,
    rng: &mut R,
) -> Result<Vec<Onion>, Error> {
    let sanitized = sanitize(message)?;
    let body = encode_body(&sanitized.recipients, &sanitized.message)?;
    let mut message_id = [0u8; 16];
    rng.fill_bytes(&mut message_id);
    let fragments = fragment_body(&body, message_id, route.payload_size(), options.redundancy)?;
    // Draw all randomness first, in a fixed order, so that how the packets
    // are then built (sequentially or in parallel) cannot change them.
    let plans: Vec<PacketPlan> = fragments
        .iter()
        .map(|fragment| PacketPlan {
            secret: InitialSecret::generate(rng),
            delays: sample_delays(route, rng),
            plaintext: fragment.to_plaintext(route.payload_size()),
        })
        .collect();
    let inputs: Vec<PacketInput<'_>> = plans.iter().map(PacketPlan::input).collect();
    // v2-compile-fix: sphinx takes hops; a per-call cache still gives a
    // message of many fragments its tables (the sender's shared
    // Arc<TableCache> belongs in WrapOptions).
    let cache = TableCache::default();
    let tables: Vec<_> = route.hops().iter().map(|h| cache.table(h.key())).collect();
    let hops: Vec<PacketHop<'_>> = route
        .hops()
        .iter()
        .zip(&tables)
        .map(|(h, table)| PacketHop {
            id: h.id(),
            key: h.key(),
            table: Some(table),
        })
        .collect();
    Ok(build_packets_to(&hops, route.payload_size(), &inputs)?
        .into_iter()
        .map(|packet| Onion::new(route.first_hop().address().to_owned(), packet))
        .collect())
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

/// SPEC 2: one delay per hop, independent, exponential with the network's mean.
fn sample_delays<R: CryptoRng + ?Sized>(route: &Route, rng: &mut R) -> Vec<Duration> {
    let mean = route.mean_delay().as_secs_f64();
    let exp = Exp::new(1.0 / mean).ok().filter(|_| mean > 0.0);
    route
        .hops()
        .iter()
        .map(|_| match &exp {
            // Sphinx carries nanoseconds in a u64: cap at ~584 years.
            Some(exp) => Duration::try_from_secs_f64(exp.sample(rng)).unwrap_or(Duration::MAX),
            None => Duration::ZERO,
        })
        .collect()
}
