//! A mix node of the sample network (two layers) fed arbitrary input. The
//! first byte picks the node (bit 0: layer 1 or the exit) and whether the
//! rest is a carrier email or packet bytes (bit 1; packet bytes are cut or
//! zero-padded to the network's packet length, so they reach the Sphinx
//! header checks rather than the length check). For packet bytes, bits 2-3
//! pick the key period they are processed under: the current one, the
//! previous one (both accepted), the next one or 0 (refused).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mixmailer::node::{DropReason, Outcome};
use mixmailer::sphinx::packet_len;
use mixmailer::MixNode;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut node = fixtures::node(usize::from(selector & 1));
    let now = fixtures::now();
    let current = fixtures::period();
    let period = [current, current - 1, current + 1, 0][usize::from((selector >> 2) & 3)];
    let mut packet = rest.to_vec();
    packet.resize(packet_len(fixtures::directory().params().payload_size), 0);
    let process = |node: &mut MixNode| {
        if selector & 2 == 0 {
            node.process(rest, now)
        } else {
            node.process_packet(period, &packet, now)
        }
    };
    let first = process(&mut node);
    let second = process(&mut node);
    match first {
        // A packet that went on once is a replay the second time.
        Ok(Outcome::Forward { .. } | Outcome::FragmentHeld { .. } | Outcome::Deliver { .. }) => {
            assert!(matches!(second, Ok(Outcome::Dropped(DropReason::Replay))))
        }
        // A fresh node has no tag or fragment to drop against: only what
        // the packet itself says can drop it, and it says so again.
        Ok(Outcome::Dropped(reason)) => {
            assert!(
                matches!(
                    reason,
                    DropReason::PeriodNotAccepted
                        | DropReason::DelayTooLong
                        | DropReason::FinalHopNotExit
                ),
                "{reason:?}"
            );
            assert!(matches!(second, Ok(Outcome::Dropped(again)) if again == reason));
        }
        // Refused before the packet was accepted: refused again. A packet
        // accepted (its tag recorded) whose message then fails at the exit
        // is a replay the second time.
        Err(_) => assert!(
            second.is_err() || matches!(second, Ok(Outcome::Dropped(DropReason::Replay))),
            "{second:?}"
        ),
    }
});
