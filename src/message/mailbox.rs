//! A checked mailbox: the only way a caller-given address reaches a header
//! this library writes (From of a carrier, From of a delivered message).

use super::address::{check_mailbox, MAX_ADDRESS_LEN};
use super::MessageError;
use std::fmt;

/// A plain `local@domain` mailbox that is safe to write into a header
/// field or an SMTP envelope as it is.
///
/// What [`Mailbox::parse`] accepts:
/// - ASCII, at most 254 octets ([`MAX_ADDRESS_LEN`]), no white space, no
///   control character (so no CR or LF: a mailbox cannot inject a field);
/// - not starting with `-` (a mailbox handed to a command such as
///   sendmail must never read as an option);
/// - the local part a dot-atom (RFC 5322 3.2.3) of at most 64 octets;
/// - the domain a host name: labels of letters, digits and inner hyphens,
///   each 1..=63 octets. A dot is not required (a node on a private test
///   network may be `mix@localhost`, as the directory allows); address
///   literals (`[192.0.2.1]`) are refused, because a node's mailbox is
///   published and a literal names a machine rather than a mail domain.
///
/// Whether mail may be *delivered* to an address is a stricter question
/// (no `localhost`, a dot required): see [`check_deliverable`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox(String);

impl Mailbox {
    /// Checks `address` (a bare `local@domain`, no display name, no `<>`).
    pub fn parse(address: &str) -> Result<Mailbox, MessageError> {
        let invalid = |reason| MessageError::InvalidMailbox {
            address: address.chars().take(MAX_ADDRESS_LEN + 1).collect(),
            reason,
        };
        check_mailbox(address).map_err(invalid)?;
        if address.starts_with('-') {
            return Err(invalid("starts with '-'"));
        }
        if address.ends_with(']') {
            return Err(invalid("an address literal is not a mail domain"));
        }
        Ok(Mailbox(address.to_owned()))
    }

    /// The mailbox as it was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the last `@`.
    pub fn domain(&self) -> &str {
        // parse() guaranteed an `@`; the fallback is unreachable.
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Mailbox {
    type Err = MessageError;
    fn from_str(s: &str) -> Result<Mailbox, MessageError> {
        Mailbox::parse(s)
    }
}

impl AsRef<str> for Mailbox {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why an exit does not deliver to an address (SPEC 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Undeliverable {
    /// `user@[10.0.0.5]`, `user@[IPv6:::1]`: an address literal lets a
    /// sender aim the exit at any machine, its own network included.
    AddressLiteral,
    /// `localhost` or a name under it (RFC 6761 6.3): the exit itself.
    Localhost,
    /// A name without a dot resolves in the exit's local search domain,
    /// never on the Internet.
    NoDot,
}

impl fmt::Display for Undeliverable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Undeliverable::AddressLiteral => {
                "an address literal names a machine, not a mail domain"
            }
            Undeliverable::Localhost => "localhost is the exit itself",
            Undeliverable::NoDot => "a domain without a dot is not an Internet mail domain",
        })
    }
}

/// Whether an exit may deliver to `address`, which must already have
/// passed the syntax check of an envelope address. The domain is compared
/// without case and without a trailing dot (`LOCALHOST.` is localhost).
pub fn check_deliverable(address: &str) -> Result<(), Undeliverable> {
    let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
    if domain.starts_with('[') {
        return Err(Undeliverable::AddressLiteral);
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let lower = domain.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err(Undeliverable::Localhost);
    }
    if !domain.contains('.') {
        return Err(Undeliverable::NoDot);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_that_could_break_a_header_are_unrepresentable() {
        for bad in [
            "relay@exit.example\r\nBcc: x@y.z",
            "relay@exit.example\n",
            "relay @exit.example",
            "-oQ/tmp@exit.example",
            "relay@[192.0.2.1]",
            "Relay <relay@exit.example>",
            "r\u{e9}lay@exit.example",
            "relay",
            "",
        ] {
            assert!(Mailbox::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_mailbox_knows_its_domain() {
        let m = Mailbox::parse("relay@Exit.Example").unwrap();
        assert_eq!(m.domain(), "Exit.Example");
        assert_eq!(m.to_string(), "relay@Exit.Example");
        assert_eq!(
            Mailbox::parse("mix@localhost").unwrap().domain(),
            "localhost"
        );
    }

    #[test]
    fn the_exit_network_is_not_a_destination() {
        for (address, why) in [
            ("ops@[10.0.0.5]", Undeliverable::AddressLiteral),
            ("x@[IPv6:::1]", Undeliverable::AddressLiteral),
            ("root@localhost", Undeliverable::Localhost),
            ("root@LOCALHOST.", Undeliverable::Localhost),
            ("a@db.localhost", Undeliverable::Localhost),
            ("admin@intranet", Undeliverable::NoDot),
        ] {
            assert_eq!(check_deliverable(address), Err(why), "{address}");
        }
        assert_eq!(check_deliverable("bob@example.net"), Ok(()));
        assert_eq!(check_deliverable("bob@localhost.example.net"), Ok(()));
    }
}
