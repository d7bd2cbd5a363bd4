//! Inputs that once made the library misbehave, found while fuzzing
//! (docs/security.md). Each test names what went wrong.

use mixmailer::message::{sanitize, MessageError, MAX_RECIPIENTS};
use rand_core::SeedableRng;

/// The sender's pass de-duplicated recipients by comparing each address
/// with every earlier one: a To of 32 000 addresses (400 KB) took over three
/// minutes before being refused, so any hostile message stalled `mix_wrap`.
/// With a set it is one pass. Were the scan back, this test would not
/// fail but stall for minutes, which CI's time limit turns into a failure.
/// (10 000 addresses, about 200 KB: just under the header limit, so the
/// recipients are really counted rather than the header refused as a whole.)
#[test]
fn a_to_field_of_ten_thousand_addresses_is_refused_in_one_pass() {
    let count = 10_000;
    let to: Vec<String> = (0..count).map(|i| format!("u{i}@example.org")).collect();
    let message = format!("From: a@example.org\r\nTo: {}\r\n\r\nhi", to.join(", "));
    assert_eq!(
        sanitize(message.as_bytes()),
        Err(MessageError::TooManyRecipients {
            count,
            max: MAX_RECIPIENTS
        })
    );
}

/// Duplicates found by the set are the ones `same_mailbox` finds: the
/// domain compares without case, the local part with.
#[test]
fn recipients_repeated_with_another_domain_case_count_once() {
    let message = "From: a@example.org\r\nTo: Bob@Example.NET, bob@example.net\r\n\
                   Cc: Bob@example.net\r\n\r\nhi";
    let clean = sanitize(message.as_bytes()).unwrap();
    assert_eq!(clean.recipients, ["Bob@Example.NET", "bob@example.net"]);
}

/// Malformed MIME reached a `debug_assert!` inside mail-parser 0.11
/// ("Invalid part ID"), which panicked `prepare_outgoing` (and so
/// `mix_wrap` and the C API) in every build with debug assertions, this
/// test's included. Found by the `outgoing` fuzz target; the input is
/// kept in fuzz/findings/. Now such a message is refused as unreadable.
#[test]
fn malformed_mime_that_trips_mail_parser_is_refused_not_a_panic() {
    let input = include_bytes!("../fuzz/findings/outgoing-mail-parser-debug-assert.eml");
    let exit = mixmailer::message::Mailbox::parse("relay@exit.example").unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
    let result = mixmailer::message::prepare_outgoing(input, &exit, &mut rng);
    assert!(result.is_err(), "{result:?}");
}
