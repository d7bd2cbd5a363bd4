//! Arbitrary bytes as a carrier email (SPEC 5, version 2: the armored
//! block starts with a `Period:` line). The first byte picks the packet
//! length the reader expects: the sample network's, the largest SPEC 1
//! allows, or a tiny one that hits every base64 padding case.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mixmailer::carrier::{read_carrier, write_carrier};
use mixmailer::message::Mailbox;
use mixmailer::sphinx::packet_len;
use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

fn mailboxes() -> &'static (Mailbox, Mailbox) {
    static BOXES: OnceLock<(Mailbox, Mailbox)> = OnceLock::new();
    BOXES.get_or_init(|| {
        (
            Mailbox::parse("a@b.example").expect("valid mailbox"),
            Mailbox::parse("c@d.example").expect("valid mailbox"),
        )
    })
}

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
    let Ok(read) = read_carrier(email, expected) else {
        return;
    };
    assert_eq!(read.packet.len(), expected);
    // What a node reads, it writes so that the next node reads the same
    // packet of the same period.
    let (from, to) = mailboxes();
    let forwarded = write_carrier(from, to, UNIX_EPOCH, "id@b", read.period, &read.packet);
    assert_eq!(read_carrier(&forwarded, expected), Ok(read));
});
