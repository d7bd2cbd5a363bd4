//! Cost that grows faster than the input: libFuzzer's inputs are a few
//! kilobytes, too small for a quadratic loop to reach the time limit. Here
//! the input is `prefix 0xFF unit 0xFF suffix` and the message is the
//! prefix, the unit repeated up to 2 MiB, and the suffix, so a fuzzed
//! header line becomes tens of thousands of lines (or addresses, or
//! folds). It goes to both sanitizer passes and, deflated, to the body
//! reader. A superlinear loop now runs into `-timeout`. (This is how the
//! quadratic recipient de-duplication, tests/regressions.rs, is found.)

#![no_main]

use flate2::write::DeflateEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{decode_body, sanitize, sanitize_for_delivery};
use std::io::Write;

const MAX_LEN: usize = 2 << 20;

fuzz_target!(|data: &[u8]| {
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
    message.extend(unit.iter().cycle().take(room / unit.len() * unit.len()));
    message.extend_from_slice(suffix);

    let _ = sanitize(&message);
    let _ = sanitize_for_delivery(&message);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(&message).expect("deflate into memory");
    let _ = decode_body(&encoder.finish().expect("deflate into memory"));
});
