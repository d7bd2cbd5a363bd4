//! Node descriptors (SPEC 7): how a node tells the directory authorities
//! who it is, where to mail it, and which X25519 key it will use in each
//! coming key period, signed by its long-term identity.
//!
//! The descriptor shares every lexical and value rule with the directory
//! (SPEC 1): it is read through the directory's own line reader and rule
//! functions, and errors of those rules are reported as
//! [`DescriptorErrorKind::Shared`] with the directory's kind.
//!
//! What this module does *not* decide is the authorities' policy: whether
//! the descriptor is for their network and key period, and how fresh
//! `published` must be, are checked by the authority that receives it
//! (SPEC 7 leaves freshness to the authorities; see `docs/directory.md`).
//! [`Descriptor::parse`] accepts any well-formed, correctly self-signed
//! descriptor, whatever its age.

mod error;

pub use error::{DescriptorError, DescriptorErrorKind};

use crate::directory::rules::{self, FirstSeen};
use crate::directory::text::{base64_array, checked_text, number, Lines};
use crate::directory::{DirectoryError, DirectoryErrorKind, PeriodKey};
use crate::keys::NodeIdentityKey;
use crate::period::period_of;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use std::fmt::Write;
use std::time::{Duration, SystemTime};

/// Largest descriptor, in bytes (64 KiB).
pub const MAX_DESCRIPTOR_SIZE: usize = 65_536;
/// Most `key` lines in a descriptor.
pub const MAX_DESCRIPTOR_KEYS: usize = 64;
/// How many periods after P(published) the keys must cover at least: the
/// key lines run from P(published) or earlier to P(published) + 2 or later.
pub const KEYS_AHEAD: u64 = 2;

const MAGIC: &str = "mixmailer-descriptor";
const VERSION: &str = "1";
const FIRST_LINE: &str = "mixmailer-descriptor 1";
const KEY: &str = "key";
const SIGNATURE: &str = "signature";

const NETWORK_LINE: usize = 2;
const KEY_PERIOD_LINE: usize = 3;
const NICKNAME_LINE: usize = 4;
const ADDRESS_LINE: usize = 5;
const PUBLISHED_LINE: usize = 8;

/// What a node offers to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Forwards packets; placed in layers 1..h-1.
    Mix,
    /// Also willing to deliver to recipients; only exits are placed in layer h.
    Exit,
}

impl Role {
    /// The role as the descriptor spells it: `mix` or `exit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mix => "mix",
            Role::Exit => "exit",
        }
    }

    fn parse(line: usize, text: &str) -> Result<Role, DescriptorError> {
        match text {
            "mix" => Ok(Role::Mix),
            "exit" => Ok(Role::Exit),
            other => Err(DescriptorError::at(
                line,
                DescriptorErrorKind::BadRole {
                    found: crate::directory::error_excerpt(other),
                },
            )),
        }
    }
}

/// A node descriptor (SPEC 7). The fields are public so that a node can
/// fill one in and [`sign`](Descriptor::sign) it; every rule is checked
/// when it is signed or parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Network name, `[a-z0-9-]{1,64}`.
    pub network: String,
    /// Key period T of the network, whole seconds 3600..=604800.
    pub key_period: Duration,
    /// `[A-Za-z0-9_-]{1,32}`.
    pub nickname: String,
    /// The node's SMTP mailbox.
    pub address: String,
    /// Long-term Ed25519 identity public key; it signs the descriptor.
    pub identity: [u8; 32],
    /// Mix or exit.
    pub role: Role,
    /// When the node made the descriptor, whole seconds.
    pub published: SystemTime,
    /// X25519 keys for consecutive, increasing periods, at least
    /// P(published) through P(published) + 2, at most 64.
    pub keys: Vec<PeriodKey>,
}

impl Descriptor {
    /// Parses `text` and accepts it only if every rule of SPEC 7 holds and
    /// the signature verifies under the descriptor's own `identity`. The
    /// first broken rule is returned, in document order; the signature is
    /// checked last. Network, key period and freshness of `published` are
    /// for the receiving authority to check.
    pub fn parse(text: &[u8]) -> Result<Descriptor, DescriptorError> {
        rules::document_size(text.len(), MAX_DESCRIPTOR_SIZE)?;
        let mut lines = Lines::new(checked_text(text)?);
        let descriptor = signed_part(&mut lines)?;
        let signed = text.get(..lines.consumed).unwrap_or(text);

        let line = lines.next_number;
        let fields = match lines.next()? {
            Some(fields) if fields.keyword() == SIGNATURE => fields,
            Some(other) => {
                return Err(DirectoryError::at(
                    other.line,
                    DirectoryErrorKind::UnexpectedLine {
                        expected: "key or signature",
                        found: crate::directory::error_excerpt(other.keyword()),
                    },
                )
                .into())
            }
            None => {
                return Err(DirectoryError::at(
                    line,
                    DirectoryErrorKind::MissingLine {
                        expected: SIGNATURE,
                    },
                )
                .into())
            }
        };
        let signature = base64_array::<64>(line, "sig", fields.value(SIGNATURE)?)?;
        if let Some(extra) = lines.next()? {
            return Err(DescriptorError::at(
                extra.line,
                DescriptorErrorKind::TextAfterSignature {
                    found: crate::directory::error_excerpt(extra.keyword()),
                },
            ));
        }
        verify(&descriptor.identity, signed, &signature, line)?;
        Ok(descriptor)
    }

    /// Writes the descriptor in canonical form and signs it with
    /// `identity`, which must be the key of [`Descriptor::identity`]. Every
    /// rule is checked first with the parser's own checks, so what is
    /// signed parses (back to an equal descriptor); errors name the line
    /// the value would have had.
    pub fn sign(&self, identity: &NodeIdentityKey) -> Result<Vec<u8>, DescriptorError> {
        if identity.public_key() != self.identity {
            return Err(DescriptorError::whole(
                DescriptorErrorKind::IdentityMismatch,
            ));
        }
        let mut text = self.unsigned_text()?;
        let signature = identity.sign(text.as_bytes());
        let _ = writeln!(text, "{SIGNATURE} {}", STANDARD.encode(signature));
        rules::document_size(text.len(), MAX_DESCRIPTOR_SIZE)?;
        Ok(text.into_bytes())
    }

    /// The signed part, checked by the parser.
    fn unsigned_text(&self) -> Result<String, DescriptorError> {
        // The values that could break the line structure come first.
        rules::network(NETWORK_LINE, &self.network)?;
        let key_period = rules::key_period_secs(KEY_PERIOD_LINE, self.key_period)?;
        rules::nickname(NICKNAME_LINE, &self.nickname)?;
        rules::address(ADDRESS_LINE, &self.address)?;
        let published = rules::time_text(PUBLISHED_LINE, "published", self.published)?;
        let mut text = format!(
            "{FIRST_LINE}\n\
             network {}\n\
             key-period {key_period}\n\
             nickname {}\n\
             address {}\n\
             identity {}\n\
             role {}\n\
             published {published}\n",
            self.network,
            self.nickname,
            self.address,
            STANDARD.encode(self.identity),
            self.role.as_str(),
        );
        for key in &self.keys {
            // Writing to a String cannot fail.
            let _ = writeln!(text, "{KEY} {} {}", key.period, STANDARD.encode(key.key));
        }
        signed_part(&mut Lines::new(checked_text(text.as_bytes())?))?;
        Ok(text)
    }
}

/// Every line up to and including the last key line, with every rule on them.
fn signed_part(lines: &mut Lines<'_>) -> Result<Descriptor, DescriptorError> {
    lines.magic(MAGIC, VERSION, FIRST_LINE)?;

    let network = lines.expect("network")?;
    let network_name = network.value("network")?;
    rules::network(network.line, network_name)?;

    let period = lines.expect("key-period")?;
    let key_period = rules::key_period(
        period.line,
        number(period.line, "key-period", period.value("key-period")?)?,
    )?;

    let nickname = lines.expect("nickname")?;
    let nickname_text = nickname.value("nickname")?;
    rules::nickname(nickname.line, nickname_text)?;

    let address = lines.expect("address")?;
    let address_text = address.value("address")?;
    rules::address(address.line, address_text)?;

    let identity_line = lines.expect("identity")?;
    let identity = base64_array::<32>(
        identity_line.line,
        "identity",
        identity_line.value("identity")?,
    )?;
    rules::identity(identity_line.line, &identity)?;

    let role_line = lines.expect("role")?;
    let role = Role::parse(role_line.line, role_line.value("role")?)?;

    let published_line = lines.expect("published")?;
    let published = rules::time(
        published_line.line,
        "published",
        published_line.value("published")?,
    )?;

    let keys = keys(lines, period_of(published, key_period))?;
    Ok(Descriptor {
        network: network_name.to_owned(),
        key_period,
        nickname: nickname_text.to_owned(),
        address: address_text.to_owned(),
        identity,
        role,
        published,
        keys,
    })
}

/// The key lines: at least one, at most 64, periods consecutive and
/// increasing, every key valid and unique, covering `published` (the
/// period of `published`) through `published + 2`.
fn keys(lines: &mut Lines<'_>, published: u64) -> Result<Vec<PeriodKey>, DescriptorError> {
    let mut keys: Vec<PeriodKey> = Vec::new();
    let mut seen = FirstSeen::new();
    let mut fields = lines.expect(KEY)?;
    let first_line = fields.line;
    loop {
        let line = fields.line;
        if keys.len() == MAX_DESCRIPTOR_KEYS {
            return Err(DescriptorError::at(
                line,
                DescriptorErrorKind::TooManyKeys {
                    max: MAX_DESCRIPTOR_KEYS,
                },
            ));
        }
        let [_, period, key] = fields.exactly::<3>(KEY)?;
        let period = number(line, "period", period)?;
        let key = base64_array::<32>(line, "x25519-key", key)?;
        if let Some(previous) = keys.last().map(|k| k.period) {
            let shared = |kind| DescriptorError::from(DirectoryError::at(line, kind));
            if period <= previous {
                return Err(shared(DirectoryErrorKind::KeyPeriodNotIncreasing {
                    found: period,
                    previous,
                }));
            }
            // `previous < period`, so `previous + 1` cannot overflow.
            if period != previous + 1 {
                return Err(shared(DirectoryErrorKind::MissingPeriodKey {
                    period: previous + 1,
                }));
            }
        }
        rules::x25519_key(line, &key)?;
        seen.insert(key, line).map_err(|first_line| {
            DirectoryError::at(line, DirectoryErrorKind::DuplicateKey { first_line })
        })?;
        keys.push(PeriodKey { period, key });
        match lines.next_if_keyword(KEY)? {
            Some(next) => fields = next,
            None => break,
        }
    }
    let last_line = lines.next_number - 1;
    let (first, last) = match (keys.first(), keys.last()) {
        (Some(first), Some(last)) => (first.period, last.period),
        // `expect` above guarantees one key line.
        _ => return Ok(keys),
    };
    let required_last = published.saturating_add(KEYS_AHEAD);
    if first > published || last < required_last {
        let line = if first > published {
            first_line
        } else {
            last_line
        };
        return Err(DescriptorError::at(
            line,
            DescriptorErrorKind::KeysDoNotCover {
                first,
                last,
                required_first: published,
                required_last,
            },
        ));
    }
    Ok(keys)
}

/// SPEC 7: the signature is by `identity` over the signed part.
/// `verify_strict` also refuses a non-canonical or small-order R, so one
/// signature cannot be valid for several documents.
fn verify(
    identity: &[u8; 32],
    signed: &[u8],
    signature: &[u8; 64],
    line: usize,
) -> Result<(), DescriptorError> {
    let invalid = || {
        DescriptorError::from(DirectoryError::at(
            line,
            DirectoryErrorKind::InvalidSignature,
        ))
    };
    let key = VerifyingKey::from_bytes(identity).map_err(|_| invalid())?;
    key.verify_strict(signed, &Signature::from_bytes(signature))
        .map_err(|_| invalid())
}
