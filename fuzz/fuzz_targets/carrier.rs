//! Arbitrary bytes as a carrier email (SPEC 5). The first byte picks the
//! packet length the reader expects: the sample network's, the largest
//! SPEC 1 allows, or a tiny one that hits every base64 padding case.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mixmailer::carrier::{read_carrier, write_carrier};
use mixmailer::sphinx::packet_len;
use std::time::UNIX_EPOCH;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, email)) = data.split_first() else {
        return;
    };
    let expected = match selector % 4 {
        0 => packet_len(1024),
        1 => packet_len(2048),
        2 => usize::from(selector / 4),
        _ => packet_len(65536),
    };
    let Ok(packet) = read_carrier(email, expected) else {
        return;
    };
    assert_eq!(packet.len(), expected);
    // What a node reads, it writes so that the next node reads the same.
    let forwarded = write_carrier("a@b.example", "c@d.example", UNIX_EPOCH, "id@b", &packet);
    assert_eq!(read_carrier(&forwarded, expected), Ok(packet));
});
