//! A mix node of the sample network (two layers) fed arbitrary input. The
//! first byte picks the node (bit 0: layer 1 or the exit) and whether the
//! rest is a carrier email or packet bytes (bit 1; packet bytes are cut or
//! zero-padded to the network's packet length, so they reach the Sphinx
//! header checks rather than the length check).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mixmailer::node::{DropReason, Outcome};
use mixmailer::sphinx::packet_len;
use mixmailer::MixNode;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let net = fixtures::network();
    let directory = fixtures::directory();
    let key = &net.node_keys[usize::from(selector & 1)];
    // v2-compile-fix: to_bytes() gives Zeroizing since the keys commit
    let mut node = MixNode::new(*key.to_bytes(), directory.clone()).expect("sample node");
    let now = fixtures::now();
    let mut packet = rest.to_vec();
    packet.resize(packet_len(directory.params().payload_size), 0);
    let process = |node: &mut MixNode| {
        if selector & 2 == 0 {
            node.process(rest, now)
        } else {
            node.process_packet(&packet, now)
        }
    };
    let first = process(&mut node);
    let second = process(&mut node);
    // A packet that went on once is a replay the second time.
    match first {
        Ok(Outcome::Forward { .. } | Outcome::FragmentHeld { .. } | Outcome::Deliver { .. }) => {
            assert!(matches!(second, Ok(Outcome::Dropped(DropReason::Replay))))
        }
        Ok(Outcome::Dropped(_)) => unreachable!("a fresh node has nothing to drop against"),
        Err(_) => assert!(second.is_err()),
    }
});
