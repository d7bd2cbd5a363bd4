//! Arbitrary bytes as a directory document (SPEC 1, version 2), read with
//! one trusted key. Seeds are documents that key signed, so mutations start
//! from valid ones.

#![no_main]

use fixtures::{now, resign, signed_part, trusted};
use libfuzzer_sys::fuzz_target;
use mixmailer::Directory;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Ok(directory) = Directory::parse(data, trusted(), 1, now()) else {
        return;
    };
    // An accepted directory is usable now: every layer has a node, and
    // every node a key for the current period.
    let mut rng = ChaCha20Rng::seed_from_u64(data.len() as u64);
    let route = directory
        .random_route(&mut rng)
        .expect("an accepted directory gives routes");
    let names: Vec<&str> = route.hops().iter().map(|n| n.nickname()).collect();
    directory.route(&names).expect("a drawn route can be named");
    let period = mixmailer::period::period_of(now(), directory.params().key_period);
    route
        .keys_for(period)
        .expect("an accepted directory has keys for every period it is valid in");
    // Each accepted document has one spelling: writing its values again
    // gives the signed part byte for byte.
    assert_eq!(
        signed_part(&resign(directory.params(), directory.nodes())),
        signed_part(data)
    );
});
