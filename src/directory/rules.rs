//! The value rules of SPEC 1, shared by the directory's parser and writer
//! and by the descriptor (SPEC 7 uses the same nickname, address, identity
//! and key rules), so that whatever is signed parses. Each check takes the
//! line number the value has (or would have) in the document.

use super::error::excerpt;
use super::key_check::{check_encoding, check_node_key, check_subgroup};
use super::{DirectoryError, DirectoryErrorKind as Kind};
use crate::period::period_of;
use crate::time::{format_directory_time, parse_directory_time};
use curve25519_dalek::edwards::CompressedEdwardsY;
use std::collections::HashMap;
use std::hash::Hash;
use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime};

/// Largest document, in bytes (8 MiB).
pub const MAX_DOCUMENT_SIZE: usize = 8 * 1024 * 1024;
/// Most `node` lines in a document.
pub const MAX_NODES: usize = 10_000;
/// Fewest layers (and so hops on a route).
pub const MIN_HOPS: u8 = 2;
/// Most layers (and so hops on a route).
pub const MAX_HOPS: u8 = 5;
/// Smallest Sphinx payload size.
pub const MIN_PAYLOAD_SIZE: usize = 1024;
/// Largest Sphinx payload size.
pub const MAX_PAYLOAD_SIZE: usize = 65_536;
/// Largest mean per-hop delay, in seconds (one day).
pub const MAX_MEAN_DELAY_SECS: u64 = 86_400;
/// Shortest key period T, in seconds (one hour).
pub const MIN_KEY_PERIOD_SECS: u64 = 3_600;
/// Longest key period T, in seconds (one week).
pub const MAX_KEY_PERIOD_SECS: u64 = 604_800;
/// Longest validity of a directory: valid-until at most 7 days after valid-after.
pub const MAX_VALIDITY: Duration = Duration::from_secs(7 * 86_400);
/// Most key periods that may overlap a directory's validity.
pub const MAX_PERIODS: u64 = 8;
/// Longest node address, in octets (RFC 5321's path limit less the brackets).
pub const MAX_ADDRESS_LEN: usize = 254;

const MAX_NETWORK_LEN: usize = 64;
const MAX_NICKNAME_LEN: usize = 32;
const MAX_LOCAL_PART_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A document of `size` bytes where at most `max` are allowed.
pub(crate) fn document_size(size: usize, max: usize) -> Result<(), DirectoryError> {
    if size > max {
        return Err(DirectoryError::whole(Kind::TooLarge { size, max }));
    }
    Ok(())
}

/// `count` is the 1-based number of the node line at `line`.
pub(crate) fn node_count(line: usize, count: usize) -> Result<(), DirectoryError> {
    if count > MAX_NODES {
        return Err(DirectoryError::at(
            line,
            Kind::TooManyNodes { max: MAX_NODES },
        ));
    }
    Ok(())
}

pub(crate) fn network(line: usize, name: &str) -> Result<(), DirectoryError> {
    let ok = (1..=MAX_NETWORK_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(DirectoryError::at(
            line,
            Kind::BadNetworkName {
                found: excerpt(name),
            },
        ));
    }
    Ok(())
}

pub(crate) fn time(
    line: usize,
    field: &'static str,
    text: &str,
) -> Result<SystemTime, DirectoryError> {
    parse_directory_time(text).ok_or_else(|| {
        DirectoryError::at(
            line,
            Kind::BadTime {
                field,
                found: excerpt(text),
            },
        )
    })
}

/// The writer's side of [`time`]: the text for `t`, if the format can hold it exactly.
pub(crate) fn time_text(
    line: usize,
    field: &'static str,
    t: SystemTime,
) -> Result<String, DirectoryError> {
    let text = format_directory_time(t);
    match parse_directory_time(&text) {
        Some(back) if back == t => Ok(text),
        _ => Err(DirectoryError::at(
            line,
            Kind::UnrepresentableTime { field },
        )),
    }
}

/// `line` is the valid-until line.
pub(crate) fn validity(
    line: usize,
    valid_after: SystemTime,
    valid_until: SystemTime,
) -> Result<(), DirectoryError> {
    if valid_until <= valid_after {
        return Err(DirectoryError::at(
            line,
            Kind::ValidityNotIncreasing {
                valid_after,
                valid_until,
            },
        ));
    }
    if valid_after
        .checked_add(MAX_VALIDITY)
        .is_some_and(|latest| valid_until > latest)
    {
        return Err(DirectoryError::at(
            line,
            Kind::ValidityTooLong {
                valid_after,
                valid_until,
                max: MAX_VALIDITY,
            },
        ));
    }
    Ok(())
}

pub(crate) fn hops(line: usize, found: u64) -> Result<u8, DirectoryError> {
    match u8::try_from(found) {
        Ok(h) if (MIN_HOPS..=MAX_HOPS).contains(&h) => Ok(h),
        _ => Err(DirectoryError::at(line, Kind::HopsOutOfRange { found })),
    }
}

pub(crate) fn payload_size(line: usize, found: u64) -> Result<usize, DirectoryError> {
    let size = usize::try_from(found)
        .ok()
        .filter(|s| (MIN_PAYLOAD_SIZE..=MAX_PAYLOAD_SIZE).contains(s))
        .ok_or(DirectoryError::at(
            line,
            Kind::PayloadSizeOutOfRange { found },
        ))?;
    if size % 16 != 0 {
        return Err(DirectoryError::at(
            line,
            Kind::PayloadSizeNotMultipleOf16 { found },
        ));
    }
    Ok(size)
}

pub(crate) fn mean_delay(line: usize, found: u64) -> Result<Duration, DirectoryError> {
    if found > MAX_MEAN_DELAY_SECS {
        return Err(DirectoryError::at(
            line,
            Kind::MeanDelayOutOfRange { found },
        ));
    }
    Ok(Duration::from_secs(found))
}

/// The writer's side of [`mean_delay`]: whole seconds only.
pub(crate) fn mean_delay_secs(line: usize, delay: Duration) -> Result<u64, DirectoryError> {
    if delay.subsec_nanos() != 0 {
        return Err(DirectoryError::at(line, Kind::MeanDelayNotWholeSeconds));
    }
    mean_delay(line, delay.as_secs())?;
    Ok(delay.as_secs())
}

pub(crate) fn key_period(line: usize, found: u64) -> Result<Duration, DirectoryError> {
    if !(MIN_KEY_PERIOD_SECS..=MAX_KEY_PERIOD_SECS).contains(&found) {
        return Err(DirectoryError::at(
            line,
            Kind::KeyPeriodOutOfRange { found },
        ));
    }
    Ok(Duration::from_secs(found))
}

/// The writer's side of [`key_period`]: whole seconds only.
pub(crate) fn key_period_secs(line: usize, period: Duration) -> Result<u64, DirectoryError> {
    if period.subsec_nanos() != 0 {
        return Err(DirectoryError::at(line, Kind::KeyPeriodNotWholeSeconds));
    }
    key_period(line, period.as_secs())?;
    Ok(period.as_secs())
}

/// SPEC 1: `h * s <= T / 8`, so that a route's delays fit well inside a
/// key period. `line` is the key-period line, the last of the three values.
pub(crate) fn delays_fit(
    line: usize,
    hops: u8,
    mean_delay: Duration,
    key_period: Duration,
) -> Result<(), DirectoryError> {
    let (mean_delay, key_period) = (mean_delay.as_secs(), key_period.as_secs());
    // h * s is a whole number, so h * s <= T / 8 exactly when 8 * h * s <= T.
    if u64::from(hops).saturating_mul(mean_delay).saturating_mul(8) > key_period {
        return Err(DirectoryError::at(
            line,
            Kind::DelaysExceedKeyPeriod {
                hops,
                mean_delay,
                key_period,
            },
        ));
    }
    Ok(())
}

/// The key periods overlapping [valid_after, valid_until): from the
/// period of valid-after to that of the last instant before valid-until.
pub(crate) fn overlapping_periods(
    valid_after: SystemTime,
    valid_until: SystemTime,
    key_period: Duration,
) -> RangeInclusive<u64> {
    let first = period_of(valid_after, key_period);
    let last_instant = valid_until
        .checked_sub(Duration::from_nanos(1))
        .unwrap_or(valid_until);
    first..=period_of(last_instant, key_period).max(first)
}

/// SPEC 1: at most 8 key periods overlap the validity. `line` is the
/// key-period line.
pub(crate) fn periods(
    line: usize,
    valid_after: SystemTime,
    valid_until: SystemTime,
    key_period: Duration,
) -> Result<RangeInclusive<u64>, DirectoryError> {
    let periods = overlapping_periods(valid_after, valid_until, key_period);
    let (first, last) = (*periods.start(), *periods.end());
    if last - first >= MAX_PERIODS {
        return Err(DirectoryError::at(
            line,
            Kind::TooManyPeriods {
                first,
                last,
                max: MAX_PERIODS,
            },
        ));
    }
    Ok(periods)
}

pub(crate) fn nickname(line: usize, nickname: &str) -> Result<(), DirectoryError> {
    let ok = (1..=MAX_NICKNAME_LEN).contains(&nickname.len())
        && nickname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(DirectoryError::at(
            line,
            Kind::BadNickname {
                found: excerpt(nickname),
            },
        ));
    }
    Ok(())
}

/// Checks a node address and returns the form two addresses are compared
/// in: domains are case-insensitive (DNS), local parts are not (RFC 5321 2.4).
pub(crate) fn address(line: usize, address: &str) -> Result<String, DirectoryError> {
    let (local, domain) = address_parts(address).map_err(|kind| DirectoryError::at(line, kind))?;
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// SPEC 1: an identity is an Ed25519 public key, not of small order. A
/// non-canonical encoding is refused too: it would give one key two
/// spellings, two node ids, and slip past the uniqueness rule.
pub(crate) fn identity(line: usize, key: &[u8; 32]) -> Result<(), DirectoryError> {
    let point = CompressedEdwardsY(*key)
        .decompress()
        .ok_or(DirectoryError::at(line, Kind::IdentityNotAPoint))?;
    if point.compress().as_bytes() != key {
        return Err(DirectoryError::at(line, Kind::IdentityNotCanonical));
    }
    if point.is_small_order() {
        return Err(DirectoryError::at(line, Kind::IdentitySmallOrder));
    }
    Ok(())
}

/// SPEC 1: an X25519 key is canonical and in the prime-order subgroup.
pub(crate) fn x25519_key(line: usize, key: &[u8; 32]) -> Result<(), DirectoryError> {
    check_node_key(key).map_err(|kind| DirectoryError::at(line, kind))
}

/// The first line each value was seen on, for the uniqueness rules. A map,
/// not a scan, so a document of 10 000 nodes costs no more than linear time.
pub(crate) struct FirstSeen<K>(HashMap<K, usize>);

impl<K: Hash + Eq> FirstSeen<K> {
    pub(crate) fn new() -> Self {
        FirstSeen(HashMap::new())
    }

    /// Records `value` as seen on `line`; if it was seen before, the line
    /// it was first seen on.
    pub(crate) fn insert(&mut self, value: K, line: usize) -> Result<(), usize> {
        match self.0.get(&value) {
            Some(&first_line) => Err(first_line),
            None => {
                self.0.insert(value, line);
                Ok(())
            }
        }
    }
}

/// The rules that span node and key lines of a directory: uniqueness,
/// layers in range and all populated, the node count, and every node's key
/// lines exactly one per overlapping period in increasing order. Call
/// [`NodeRules::node`] and [`NodeRules::identity`] for each node line, [`NodeRules::key`] for each of
/// its key lines, [`NodeRules::end_node`] after them, then
/// [`NodeRules::finish`].
pub(crate) struct NodeRules {
    hops: u8,
    periods: RangeInclusive<u64>,
    count: usize,
    nicknames: FirstSeen<String>,
    addresses: FirstSeen<String>,
    identities: FirstSeen<[u8; 32]>,
    keys: FirstSeen<[u8; 32]>,
    populated: [bool; MAX_HOPS as usize],
    /// The period the current node's next key line must have.
    next_period: u64,
    /// Key lines whose subgroup check is still to run.
    pending: PendingKeys,
}

/// The X25519 keys of a document whose costly subgroup check (SPEC 1: in
/// the prime-order subgroup) has not run yet. A document of 10 000 nodes
/// holds up to 80 000 keys, seconds of work; deferring it until the
/// signatures have verified means a forged or corrupted document from a
/// mirror is refused at the cost of one signature check instead.
#[derive(Default)]
pub(crate) struct PendingKeys(Vec<(usize, [u8; 32])>);

impl PendingKeys {
    /// Runs the subgroup check on every key, in document order.
    pub(crate) fn check(&self) -> Result<(), DirectoryError> {
        for (line, key) in &self.0 {
            check_subgroup(key).map_err(|kind| DirectoryError::at(*line, kind))?;
        }
        Ok(())
    }
}

impl NodeRules {
    pub(crate) fn new(hops: u8, periods: RangeInclusive<u64>) -> Self {
        NodeRules {
            hops,
            next_period: *periods.start(),
            periods,
            count: 0,
            nicknames: FirstSeen::new(),
            addresses: FirstSeen::new(),
            identities: FirstSeen::new(),
            keys: FirstSeen::new(),
            populated: [false; MAX_HOPS as usize],
            pending: PendingKeys::default(),
        }
    }

    /// The fields of a node line before its identity, in line order;
    /// returns the layer.
    pub(crate) fn node(
        &mut self,
        line: usize,
        nickname: &str,
        layer: u64,
        address: &str,
    ) -> Result<u8, DirectoryError> {
        self.count += 1;
        node_count(line, self.count)?;
        self::nickname(line, nickname)?;
        self.nicknames
            .insert(nickname.to_owned(), line)
            .map_err(|first_line| {
                DirectoryError::at(
                    line,
                    Kind::DuplicateNickname {
                        nickname: nickname.to_owned(),
                        first_line,
                    },
                )
            })?;
        let layer = self.layer(line, layer)?;
        let canonical = self::address(line, address)?;
        self.addresses
            .insert(canonical, line)
            .map_err(|first_line| {
                DirectoryError::at(
                    line,
                    Kind::DuplicateAddress {
                        address: address.to_owned(),
                        first_line,
                    },
                )
            })?;
        self.next_period = *self.periods.start();
        Ok(layer)
    }

    /// The node line's identity, decoded.
    pub(crate) fn identity(
        &mut self,
        line: usize,
        identity: &[u8; 32],
    ) -> Result<(), DirectoryError> {
        self::identity(line, identity)?;
        self.identities
            .insert(*identity, line)
            .map_err(|first_line| DirectoryError::at(line, Kind::DuplicateIdentity { first_line }))
    }

    fn layer(&mut self, line: usize, found: u64) -> Result<u8, DirectoryError> {
        let layer = u8::try_from(found)
            .ok()
            .filter(|l| (1..=self.hops).contains(l))
            .ok_or(DirectoryError::at(
                line,
                Kind::LayerOutOfRange {
                    found,
                    hops: self.hops,
                },
            ))?;
        if let Some(seen) = self.populated.get_mut(usize::from(layer - 1)) {
            *seen = true;
        }
        Ok(layer)
    }

    /// Whether the current node still needs key lines.
    pub(crate) fn wants_key(&self) -> bool {
        self.next_period <= *self.periods.end()
    }

    /// A key line of the current node. The period is checked before the
    /// key, so that a node cannot make the reader check more than one key
    /// per period. The key's encoding and uniqueness are checked here; its
    /// subgroup check is left to [`NodeRules::pending_keys`].
    pub(crate) fn key(
        &mut self,
        line: usize,
        period: u64,
        key: &[u8; 32],
    ) -> Result<(), DirectoryError> {
        let (first, last) = (*self.periods.start(), *self.periods.end());
        if !self.periods.contains(&period) {
            return Err(DirectoryError::at(
                line,
                Kind::KeyPeriodNotOverlapping {
                    found: period,
                    first,
                    last,
                },
            ));
        }
        if period < self.next_period {
            return Err(DirectoryError::at(
                line,
                Kind::KeyPeriodNotIncreasing {
                    found: period,
                    previous: self.next_period - 1,
                },
            ));
        }
        if period > self.next_period {
            return Err(DirectoryError::at(
                line,
                Kind::MissingPeriodKey {
                    period: self.next_period,
                },
            ));
        }
        check_encoding(key).map_err(|kind| DirectoryError::at(line, kind))?;
        self.keys
            .insert(*key, line)
            .map_err(|first_line| DirectoryError::at(line, Kind::DuplicateKey { first_line }))?;
        self.pending.0.push((line, *key));
        self.next_period += 1;
        Ok(())
    }

    /// The keys whose subgroup check is still to run.
    pub(crate) fn pending_keys(self) -> PendingKeys {
        self.pending
    }

    /// The current node's key lines are over; `next_line` is the line after them.
    pub(crate) fn end_node(&self, next_line: usize) -> Result<(), DirectoryError> {
        if self.wants_key() {
            return Err(DirectoryError::at(
                next_line,
                Kind::MissingPeriodKey {
                    period: self.next_period,
                },
            ));
        }
        Ok(())
    }

    /// Every layer has a node; `hops_line`, which defines the layers, is
    /// named when one is empty. (That there is a node at all is checked
    /// where the first node line must be.)
    pub(crate) fn finish(&self, hops_line: usize) -> Result<(), DirectoryError> {
        for layer in 1..=self.hops {
            if !self
                .populated
                .get(usize::from(layer - 1))
                .copied()
                .unwrap_or(false)
            {
                return Err(DirectoryError::at(hops_line, Kind::EmptyLayer { layer }));
            }
        }
        Ok(())
    }
}

/// Splits a node address into local part and domain, refusing anything but
/// a plain `dot-atom@host.name` (no quoted local parts, comments or address
/// literals: a mix node can always choose a plain mailbox).
fn address_parts(address: &str) -> Result<(&str, &str), Kind> {
    if address.len() > MAX_ADDRESS_LEN {
        return Err(Kind::AddressTooLong {
            length: address.len(),
        });
    }
    if !address.is_ascii() {
        return Err(Kind::AddressNotAscii {
            found: excerpt(address),
        });
    }
    let mut parts = address.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Kind::AddressAtSign {
            found: address.to_owned(),
        });
    };
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    let local_ok = local.len() <= MAX_LOCAL_PART_LEN
        && local
            .split('.')
            .all(|word| !word.is_empty() && word.bytes().all(atext));
    if !local_ok {
        return Err(Kind::AddressBadLocalPart {
            found: local.to_owned(),
        });
    }
    let domain_ok = domain.split('.').all(|label| {
        (1..=MAX_LABEL_LEN).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !domain_ok {
        return Err(Kind::AddressBadDomain {
            found: domain.to_owned(),
        });
    }
    Ok((local, domain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn plain_mailboxes_are_accepted() {
        for good in [
            "mix1@example.org",
            "a.b+c@mix-2.example.org",
            "x@localhost",
            "o'brien@EXAMPLE.org",
        ] {
            assert!(address_parts(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn unusual_mailboxes_are_refused() {
        for bad in [
            "@example.org",
            "a@",
            ".a@example.org",
            "a.@example.org",
            "a..b@example.org",
            "\"a b\"@example.org",
            "a@[192.0.2.1]",
            "a@-example.org",
            "a@example-.org",
            "a@example..org",
            "a@example.org.",
            "a@exa_mple.org",
            "a(comment)@example.org",
        ] {
            assert!(address_parts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlapping_periods_exclude_valid_until() {
        let t = Duration::from_secs(3600);
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(overlapping_periods(at(7200), at(10_800), t), 2..=2);
        assert_eq!(overlapping_periods(at(7200), at(10_801), t), 2..=3);
        assert_eq!(overlapping_periods(at(7199), at(7201), t), 1..=2);
    }

    #[test]
    fn eight_periods_pass_and_nine_do_not() {
        let t = Duration::from_secs(3600);
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert!(periods(9, at(0), at(8 * 3600), t).is_ok());
        let nine = periods(9, at(0), at(8 * 3600 + 1), t).unwrap_err();
        assert_eq!(
            nine.kind(),
            &Kind::TooManyPeriods {
                first: 0,
                last: 8,
                max: 8
            }
        );
    }
}
