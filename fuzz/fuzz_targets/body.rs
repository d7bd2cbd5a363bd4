//! The SPEC 4 body reader. First byte even: the rest is the body as it
//! arrives (raw DEFLATE; seeds include a 64 MiB bomb). Odd: the rest is
//! the inflated text, deflated here first, so mutations reach the rcpt
//! lines instead of breaking the DEFLATE stream.

#![no_main]

use flate2::write::DeflateEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use mixmailer::message::{decode_body, encode_body, MAX_RECIPIENTS};
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let deflated;
    let body = if mode % 2 == 0 {
        rest
    } else {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(rest).expect("deflate into memory");
        deflated = encoder.finish().expect("deflate into memory");
        &deflated
    };
    let Ok((recipients, message)) = decode_body(body) else {
        return;
    };
    assert!((1..=MAX_RECIPIENTS).contains(&recipients.len()));
    // What a reader accepts, the writer writes back the same.
    let again = encode_body(&recipients, &message).expect("accepted recipients encode");
    assert_eq!(decode_body(&again), Ok((recipients, message)));
});
