//! Packets made by the library, processed by `sphinx-packet`'s own
//! `SphinxPacket::process` (a second implementation of SPEC 2), give the
//! same next hops, packets and plaintext as `MixNode`.

mod common;

use common::{network, pep_message};
use mixmailer::message::Fragment;
use mixmailer::node::{DropReason, Outcome};
use mixmailer::sample::InProcessMixnet;
use mixmailer::{mix_wrap_with, WrapOptions};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sphinx_packet::{ProcessedPacketData, SphinxPacket};

#[test]
fn sphinx_packet_processes_our_packets_like_our_nodes_do() {
    for hops in 2..=5u8 {
        // v2-compile-fix: SPEC v2 hops are 2..=5
        let net = network(hops, 2048);
        let directory = net.directory().unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(u64::from(hops));
        let route = directory.random_route(&mut rng).unwrap();
        let onions = mix_wrap_with(
            &pep_message("second opinion\r\n"),
            &route,
            &WrapOptions::default(),
            &mut rng,
        )
        .unwrap();
        let mut mixnet = InProcessMixnet::new(&net).unwrap();
        for onion in &onions {
            let mut ours = onion.packet().to_vec();
            let mut theirs = Some(SphinxPacket::from_bytes(onion.packet()).unwrap());
            for (i, hop) in route.hops().iter().enumerate() {
                let index = directory
                    .nodes()
                    .iter()
                    .position(|n| n.id() == hop.id())
                    .unwrap();
                let key = x25519_dalek::StaticSecret::from(*net.node_keys[index].to_bytes());
                let node = mixnet.node_mut(hop.address()).unwrap();
                let outcome = node.process_packet(&ours, net.now).unwrap();
                let processed = theirs.take().unwrap().process(&key).unwrap();
                match (processed.data, outcome) {
                    (
                        ProcessedPacketData::ForwardHop {
                            next_hop_packet,
                            next_hop_address,
                            delay,
                        },
                        Outcome::Forward { onion, delay: d },
                    ) => {
                        let next = &route.hops()[i + 1];
                        assert_eq!(next_hop_address.as_bytes(), next.id());
                        assert_eq!(onion.first_hop(), next.address());
                        assert_eq!(delay.to_duration(), d);
                        assert_eq!(next_hop_packet.to_bytes(), onion.packet());
                        ours = onion.into_packet();
                        theirs = Some(next_hop_packet);
                    }
                    (
                        ProcessedPacketData::FinalHop {
                            destination,
                            identifier,
                            payload,
                        },
                        outcome,
                    ) => {
                        assert_eq!(i, route.hops().len() - 1);
                        assert_eq!(destination.as_bytes(), [0u8; 32]);
                        assert_eq!(identifier, [0u8; 16]);
                        let plaintext = payload.recover_plaintext().unwrap();
                        let fragment = Fragment::from_plaintext(&plaintext, 2048).unwrap();
                        // A surplus parity fragment may arrive after delivery.
                        assert!(matches!(
                            outcome,
                            Outcome::FragmentHeld { .. }
                                | Outcome::Deliver { .. }
                                | Outcome::Dropped(DropReason::AlreadyDelivered)
                        ));
                        assert_eq!(usize::from(fragment.n), onions.len());
                    }
                    _ => panic!("hop {i}: implementations disagree"),
                }
            }
        }
    }
}
