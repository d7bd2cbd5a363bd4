//! Node descriptors (SPEC 7) to `Descriptor::parse`. First byte even: the
//! rest is the descriptor as an authority receives it (seeds are the sample
//! network's nodes, each signed by its own identity). First byte odd: the
//! rest is the signed part and the target appends a signature by the
//! fixtures' descriptor identity, so mutations that keep the rules (and
//! that identity line) get past the signature.
//!
//! An accepted descriptor keeps SPEC 7's promises: 1..=64 keys for
//! consecutive periods covering P(published) through P(published) + 2;
//! the signature covers exactly the text through the last key line; and,
//! when the target can sign for its identity, writing its values again
//! gives the input byte for byte (one spelling per descriptor), while any
//! byte changed in the signed part is refused.

#![no_main]

use fixtures::{descriptor_identity, sign_descriptor_anything, signed_part};
use libfuzzer_sys::fuzz_target;
use mixmailer::descriptor::{KEYS_AHEAD, MAX_DESCRIPTOR_KEYS};
use mixmailer::period::period_of;
use mixmailer::Descriptor;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let signed;
    let text = if mode % 2 == 0 {
        rest
    } else {
        signed = sign_descriptor_anything(rest);
        &signed
    };
    let Ok(descriptor) = Descriptor::parse(text) else {
        return;
    };
    let keys = &descriptor.keys;
    assert!((1..=MAX_DESCRIPTOR_KEYS).contains(&keys.len()));
    assert!(keys.windows(2).all(|w| w[1].period == w[0].period + 1));
    let published = period_of(descriptor.published, descriptor.key_period);
    assert!(keys[0].period <= published);
    assert!(keys[keys.len() - 1].period >= published + KEYS_AHEAD);
    if mode % 2 == 1 {
        assert_eq!(signed_part(text), rest);
    }
    if descriptor.identity == descriptor_identity().public_key() {
        let again = descriptor
            .sign(descriptor_identity())
            .expect("an accepted descriptor signs");
        assert_eq!(again, text, "two spellings of one descriptor");
        let part = signed_part(text).len();
        if part > 0 {
            let mut tampered = text.to_vec();
            tampered[part / 2] ^= 1;
            assert!(Descriptor::parse(&tampered).is_err());
        }
    }
});
