//! Structure-aware directory fuzzing: the input is the part a signature
//! covers and the target signs it with the trusted key, so mutations that
//! keep the rules get past the signature to acceptance, the time window
//! and the writing side.

#![no_main]

use fixtures::{authority, resign, sign_anything, signed_part, trusted};
use libfuzzer_sys::fuzz_target;
use mixmailer::directory::DirectoryErrorKind;
use mixmailer::keys::AuthoritySigningKey;
use mixmailer::Directory;
use std::time::Duration;

fuzz_target!(|unsigned: &[u8]| {
    let text = sign_anything(unsigned);
    // Read it at a time it is valid, whatever validity it claims.
    let first = Directory::parse(&text, trusted(), 1, fixtures::now());
    let directory = match first.as_ref().map_err(|e| e.kind()) {
        Err(DirectoryErrorKind::NotYetValid { valid_after, .. }) => {
            Directory::parse(&text, trusted(), 1, *valid_after)
        }
        Err(DirectoryErrorKind::Expired { valid_until, .. }) => {
            Directory::parse(&text, trusted(), 1, *valid_until - Duration::from_secs(1))
        }
        _ => first,
    };
    let Ok(directory) = directory else {
        return;
    };
    let valid_after = directory.params().valid_after;
    assert_eq!(directory.signers(), trusted());
    // The signature covered exactly the input, and the input is the one
    // spelling of its values.
    assert_eq!(signed_part(&text), unsigned);
    assert_eq!(
        signed_part(&resign(directory.params(), directory.nodes())),
        unsigned
    );
    // A second authority countersigns; with both trusted, both count.
    let second = AuthoritySigningKey::from_bytes([9; 32]);
    let both = Directory::add_signature(&text, &second).expect("an accepted document countersigns");
    let keys = [authority().public_key(), second.public_key()];
    let again = Directory::parse(&both, &keys, 2, valid_after).expect("two valid signatures");
    assert_eq!(again.signers(), keys);
    // Any byte changed in the signed part breaks the signature.
    if let Some(at) = unsigned.len().checked_sub(1).map(|last| last / 2) {
        let mut tampered = text.clone();
        tampered[at] ^= 1;
        assert!(Directory::parse(&tampered, trusted(), 1, valid_after).is_err());
    }
});
