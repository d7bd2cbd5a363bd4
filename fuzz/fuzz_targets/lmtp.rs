//! The daemon's LMTP server (node/src/lmtp.rs) fed an arbitrary session
//! from the client side. The first byte picks the verdict the "store"
//! gives (done or retry). Whatever comes in, the server must not panic,
//! every reply line must be a well-formed reply (three digits, then a
//! space or a dash), no message over the limit is delivered, and each
//! delivered message gets exactly one reply per recipient.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mixmailer_node::lmtp::{serve, Limits, Verdict, MAX_LINE};
use std::io::Cursor;

const LIMITS: Limits = Limits {
    max_message: 4096,
    max_recipients: 4,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, session)) = data.split_first() else {
        return;
    };
    let mut output = Vec::new();
    let mut delivered = Vec::new();
    let result = serve(
        &mut Cursor::new(session),
        &mut output,
        "node1.test",
        LIMITS,
        |message| {
            assert!(message.data.len() <= LIMITS.max_message);
            assert!(!message.recipients.is_empty());
            assert!(message.recipients.len() <= LIMITS.max_recipients);
            assert!(message
                .data
                .split(|&b| b == b'\n')
                .all(|line| line.len() <= MAX_LINE));
            delivered.push(message.recipients.len());
            if selector & 1 == 0 {
                Verdict::Done("accepted".into())
            } else {
                Verdict::Retry("store busy\r\n250 injected".into())
            }
        },
    );
    assert!(result.is_ok(), "in-memory I/O cannot fail");
    let text = String::from_utf8(output).expect("replies are ASCII");
    assert!(text.ends_with("\r\n"));
    for line in text.split_terminator("\r\n") {
        let bytes = line.as_bytes();
        assert!(bytes.len() >= 4, "short reply {line:?}");
        assert!(bytes[..3].iter().all(u8::is_ascii_digit), "{line:?}");
        assert!(bytes[3] == b' ' || bytes[3] == b'-', "{line:?}");
        assert!(!line.contains('\r') && !line.contains('\n'));
    }
    let verdicts = text
        .split_terminator("\r\n")
        .filter(|l| l.starts_with("250 2.0.0 accepted") || l.starts_with("451 4.3.0"))
        .count();
    assert_eq!(verdicts, delivered.iter().sum::<usize>());
});
