//! Many packets at once on all cores. Every packet is a function of its own
//! inputs only (no RNG is drawn while building), so the output is the same
//! whichever thread builds which packet.

use super::construct::{build_packet_to, PacketHop};
use super::error::Fault;
use super::{InitialSecret, PacketError};
use std::num::NonZeroUsize;
use std::thread;
use std::time::Duration;

/// Fewer packets than this are built on the calling thread: starting
/// threads (and asking the OS how many cores there are) costs more than
/// the parallel part saves for them (docs/performance.md, "A small
/// message": with a thread costing about one packet, two cores gain
/// nothing below 4 packets).
pub const PARALLEL_FROM: usize = 4;

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

/// Builds one packet per input to `hops`, in input order: on the calling
/// thread for fewer than [`PARALLEL_FROM`] inputs, otherwise spread over
/// the available cores (threads that end before this returns). Fails with
/// the first failing input's error.
pub fn build_packets_to(
    hops: &[PacketHop<'_>],
    payload_size: usize,
    inputs: &[PacketInput<'_>],
) -> Result<Vec<Vec<u8>>, PacketError> {
    let threads = if inputs.len() < PARALLEL_FROM {
        1
    } else {
        thread::available_parallelism().map_or(1, NonZeroUsize::get)
    };
    build_on_threads(threads, hops, payload_size, inputs)
}

/// [`build_packets_to`] on at most `threads` threads.
fn build_on_threads(
    threads: usize,
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
    let threads = threads.min(inputs.len());
    if threads <= 1 {
        return inputs.iter().map(build).collect();
    }
    // Contiguous chunks keep the order trivial; packets of one route all
    // cost the same, so equal chunks balance. The calling thread builds the
    // last chunk itself, and any chunk whose thread cannot be started.
    let chunk = inputs.len().div_ceil(threads);
    let built: Vec<Result<Vec<Vec<u8>>, PacketError>> = thread::scope(|scope| {
        let mut parts = inputs.chunks(chunk);
        let last = parts.next_back().unwrap_or_default();
        let workers: Vec<_> = parts
            .map(|part| {
                thread::Builder::new()
                    .spawn_scoped(scope, move || {
                        part.iter().map(build).collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(|_| part)
            })
            .collect();
        let here = last.iter().map(build).collect::<Result<Vec<_>, _>>();
        workers
            .into_iter()
            .map(|worker| match worker {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(Fault::ThreadPanicked.into())),
                Err(part) => part.iter().map(build).collect(),
            })
            .chain(std::iter::once(here))
            .collect()
    });
    let mut packets = Vec::with_capacity(inputs.len());
    for part in built {
        packets.extend(part?);
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x25519_dalek::{PublicKey, StaticSecret};

    #[test]
    fn any_number_of_threads_gives_the_sequential_packets() {
        let keys: Vec<[u8; 32]> = (1..=3u8)
            .map(|i| PublicKey::from(&StaticSecret::from([i; 32])).to_bytes())
            .collect();
        let ids = [[1u8; 32], [2; 32], [3; 32]];
        let hops: Vec<PacketHop<'_>> = keys
            .iter()
            .zip(&ids)
            .map(|(key, id)| PacketHop {
                id,
                key,
                table: None,
            })
            .collect();
        let secrets: Vec<InitialSecret> = (0..7u8)
            .map(|i| InitialSecret::from_bytes([i; 32]))
            .collect();
        let delays = [Duration::from_secs(1); 3];
        let plaintexts: Vec<Vec<u8>> = (0..7).map(|i| vec![i; 10 * usize::from(i)]).collect();
        let inputs: Vec<PacketInput<'_>> = secrets
            .iter()
            .zip(&plaintexts)
            .map(|(secret, plaintext)| PacketInput {
                secret,
                delays: &delays,
                plaintext,
            })
            .collect();
        let sequential = build_on_threads(1, &hops, 1024, &inputs).unwrap();
        assert_eq!(sequential.len(), 7);
        for threads in [2, 3, 7, 16] {
            assert!(build_on_threads(threads, &hops, 1024, &inputs).unwrap() == sequential);
        }
        assert!(build_on_threads(3, &hops, 1024, &[]).unwrap().is_empty());
    }
}
