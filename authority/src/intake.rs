//! Descriptors (SPEC 7, docs/authority.md section 6): which are accepted
//! from nodes, which count as fresh, and what a descriptor says for one
//! document. Parsing and the self-signature are the library's
//! (`Descriptor::parse`); the rules here are the authority's.

use crate::consensus::Listing;
use mixmailer::descriptor::{Descriptor, Role, MAX_DESCRIPTOR_SIZE};
use mixmailer::period::{period_of, CLOCK_SKEW};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The network's values a descriptor must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkTerms {
    /// Network name.
    pub network: String,
    /// Key period T.
    pub key_period: Duration,
}

/// A refusal: HTTP status and one line of reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// 400, 409 or 413.
    pub status: u16,
    /// One line, no CR/LF.
    pub reason: String,
}

fn refuse(status: u16, reason: impl Into<String>) -> Refusal {
    let reason: String = reason.into();
    Refusal {
        status,
        reason: reason.replace(['\r', '\n'], " "),
    }
}

/// What [`accept`] decided for a well-formed descriptor.
#[derive(Debug)]
pub enum Accepted {
    /// New or newer: store it.
    Store(Box<Descriptor>),
    /// Byte for byte the stored one: nothing to do (idempotent POST).
    AlreadyStored,
}

/// Decides on a POSTed descriptor. `stored` are the descriptors held now
/// (identity, text); the caller stores the result under a lock, so two
/// POSTs cannot both pass the nickname/address check.
pub fn accept(
    body: &[u8],
    terms: &NetworkTerms,
    now: SystemTime,
    stored: &[([u8; 32], Vec<u8>)],
) -> Result<Accepted, Refusal> {
    if body.len() > MAX_DESCRIPTOR_SIZE {
        return Err(refuse(
            413,
            format!("descriptor larger than {MAX_DESCRIPTOR_SIZE} bytes"),
        ));
    }
    let d =
        Descriptor::parse(body).map_err(|e| refuse(400, format!("malformed descriptor: {e}")))?;
    if d.network != terms.network {
        return Err(refuse(
            400,
            format!(
                "descriptor is for network {}, this authority serves {}",
                cut(&d.network),
                terms.network
            ),
        ));
    }
    if d.key_period != terms.key_period {
        return Err(refuse(
            400,
            format!(
                "descriptor has key-period {}, the network uses {}",
                d.key_period.as_secs(),
                terms.key_period.as_secs()
            ),
        ));
    }
    if d.published > now + CLOCK_SKEW {
        return Err(refuse(
            400,
            "descriptor published more than 600 s in the future (check the node's clock)",
        ));
    }
    if d.published + terms.key_period < now {
        return Err(refuse(
            400,
            format!(
                "descriptor published more than one key period ({} s) ago",
                terms.key_period.as_secs()
            ),
        ));
    }
    let current = period_of(now, terms.key_period);
    let last = d.keys.last().map(|k| k.period).unwrap_or(0);
    if last < current {
        return Err(refuse(
            400,
            format!("descriptor keys end at period {last}, before the current period {current}"),
        ));
    }
    for (identity, text) in stored {
        if text == body {
            return Ok(Accepted::AlreadyStored);
        }
        let Ok(other) = Descriptor::parse(text) else {
            continue;
        };
        if *identity == d.identity {
            if other.published >= d.published {
                return Err(refuse(
                    409,
                    format!(
                        "a descriptor of this identity published at or after {} is stored",
                        time(d.published)
                    ),
                ));
            }
        } else if is_fresh(&other, terms, now) {
            if other.nickname == d.nickname {
                return Err(refuse(
                    409,
                    format!("nickname {} belongs to another node", d.nickname),
                ));
            }
            if other.address.eq_ignore_ascii_case(&d.address) {
                return Err(refuse(
                    409,
                    format!("address {} belongs to another node", d.address),
                ));
            }
        }
    }
    Ok(Accepted::Store(Box::new(d)))
}

/// Fresh: published at most two key periods ago (section 6).
pub fn is_fresh(d: &Descriptor, terms: &NetworkTerms, now: SystemTime) -> bool {
    d.published + 2 * terms.key_period >= now
}

/// The key periods a document valid in [valid_after, valid_until) covers.
pub fn periods(
    valid_after: SystemTime,
    valid_until: SystemTime,
    key_period: Duration,
) -> (u64, u64) {
    let last = valid_until
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(valid_until);
    (
        period_of(valid_after, key_period),
        period_of(last, key_period),
    )
}

/// What `d` lists in a document covering `periods`; `None` when a key is missing.
pub fn listing(d: &Descriptor, periods: (u64, u64)) -> Option<Listing> {
    let mut keys = Vec::new();
    for period in periods.0..=periods.1 {
        let key = d.keys.iter().find(|k| k.period == period)?;
        keys.push((period, key.key));
    }
    Some(Listing {
        nickname: d.nickname.clone(),
        address: d.address.clone(),
        exit: matches!(d.role, Role::Exit),
        keys,
    })
}

/// Reads a descriptor found in a peer's vote: every SPEC 7 rule, our
/// network and key period, and a key for each period of the document.
pub fn read_for_vote(
    bytes: &[u8],
    terms: &NetworkTerms,
    periods: (u64, u64),
) -> Result<([u8; 32], Listing), String> {
    let d = Descriptor::parse(bytes).map_err(|e| e.to_string())?;
    if d.network != terms.network || d.key_period != terms.key_period {
        return Err("for another network or key period".into());
    }
    let listing = listing(&d, periods)
        .ok_or_else(|| format!("no key for some period of {}..={}", periods.0, periods.1))?;
    Ok((d.identity, listing))
}

fn time(t: SystemTime) -> String {
    mixmailer::time::format_directory_time(t)
}

fn cut(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Unix seconds (0 before 1970).
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The time of unix seconds `secs`.
pub fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}
