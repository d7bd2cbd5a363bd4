//! Many packets at once on all cores. Every packet is a function of its own
//! inputs only (no RNG is drawn while building), so the output is the same
//! whichever thread builds which packet.

use super::construct::{build_packet_to, PacketHop};
use super::{route_hops, InitialSecret, PacketError};
use crate::route::Route;
use std::num::NonZeroUsize;
use std::thread;
use std::time::Duration;

/// What one packet carries, borrowed from the caller's plan.
#[derive(Clone, Copy)]
pub struct PacketInput<'a> {
    /// The packet's ephemeral secret.
    pub secret: &'a InitialSecret,
    /// One delay per hop.
    pub delays: &'a [Duration],
    /// At most C bytes.
    pub plaintext: &'a [u8],
}

/// Builds one packet per input along `route`, in input order, spread over
/// the available cores. Fails with the first failing input's error.
pub fn build_packets(
    route: &Route,
    inputs: &[PacketInput<'_>],
) -> Result<Vec<Vec<u8>>, PacketError> {
    build_packets_to(&route_hops(route), route.payload_size(), inputs)
}

/// [`build_packets`] for hops given as [`PacketHop`]s.
pub fn build_packets_to(
    hops: &[PacketHop<'_>],
    payload_size: usize,
    inputs: &[PacketInput<'_>],
) -> Result<Vec<Vec<u8>>, PacketError> {
    let build = |input: &PacketInput<'_>| {
        build_packet_to(
            input.secret,
            hops,
            payload_size,
            input.delays,
            input.plaintext,
        )
    };
    let threads = thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(inputs.len());
    if threads <= 1 {
        return inputs.iter().map(build).collect();
    }
    // Contiguous chunks keep the order trivial; packets of one route all
    // cost the same, so equal chunks balance.
    let chunk = inputs.len().div_ceil(threads);
    let built: Vec<Result<Vec<Vec<u8>>, PacketError>> = thread::scope(|scope| {
        let workers: Vec<_> = inputs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(build).collect::<Result<Vec<_>, _>>()))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    Err(PacketError::Sphinx(
                        "a packet-building thread panicked".to_owned(),
                    ))
                })
            })
            .collect()
    });
    let mut packets = Vec::with_capacity(inputs.len());
    for part in built {
        packets.extend(part?);
    }
    Ok(packets)
}
