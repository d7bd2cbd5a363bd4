//! Cost that grows faster than the input: libFuzzer's inputs are a few
//! kilobytes, too small for a quadratic loop to reach the time limit. Here
//! the input is `prefix 0xFF unit 0xFF suffix` and the message is the
//! prefix, the unit repeated up to 2 MiB, and the suffix, so a fuzzed
//! header line becomes tens of thousands of lines (or addresses, or
//! folds). Each 0xFE in the unit becomes the copy's number, so copies can
//! differ (distinct addresses, field names): identical copies would miss
//! loops that only compare against distinct earlier items. The message
//! goes to the sender's and the exit's SPEC 6 passes, to both v1
//! sanitizer passes and, deflated, to the body reader. A
//! superlinear loop now runs into `-timeout`; the quadratic recipient
//! de-duplication of tests/regressions.rs does, from the seed `to-addresses`.

#![no_main]

use flate2::write::DeflateEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{
    decode_body, prepare_delivery_with, prepare_outgoing, sanitize, sanitize_for_delivery,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::io::Write;

const MAX_LEN: usize = 2 << 20;

fuzz_target!(|data: &[u8]| {
    fixtures::let_the_library_catch_mail_parser_asserts();
    let mut parts = data.splitn(3, |&b| b == 0xFF);
    let (Some(prefix), Some(unit), Some(suffix)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if unit.is_empty() {
        return;
    }
    let room = MAX_LEN.saturating_sub(prefix.len() + suffix.len());
    let mut message = prefix.to_vec();
    for copy in 0.. {
        let number = copy.to_string();
        let len = unit.len() + unit.iter().filter(|&&b| b == 0xFE).count() * number.len();
        if message.len() + len > prefix.len() + room {
            break;
        }
        for &b in unit {
            if b == 0xFE {
                message.extend_from_slice(number.as_bytes());
            } else {
                message.push(b);
            }
        }
    }
    message.extend_from_slice(suffix);

    let exit = fixtures::exit_mailbox();
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let _ = prepare_outgoing(&message, exit, &mut rng);
    let recipients = ["bob@example.net".to_owned()];
    let _ = prepare_delivery_with(&message, &recipients, exit, &mut rng);
    let _ = sanitize(&message);
    let _ = sanitize_for_delivery(&message);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(&message).expect("deflate into memory");
    let _ = decode_body(&encoder.finish().expect("deflate into memory"));
});
