//! The value rules of SPEC 1, shared by the parser and the writer so that
//! whatever [`Directory::sign`](super::Directory::sign) writes,
//! [`Directory::parse`](super::Directory::parse) accepts. Each check takes the
//! line number the value has (or would have) in the document.

use super::error::excerpt;
use super::key_check::check_node_key;
use super::DirectoryError;
use crate::time::{format_directory_time, parse_directory_time};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// Largest document, in bytes (8 MiB).
pub const MAX_DOCUMENT_SIZE: usize = 8 * 1024 * 1024;
/// Most `node` lines in a document.
pub const MAX_NODES: usize = 10_000;
/// Most layers (and so hops on a route).
pub const MAX_HOPS: u8 = 5;
/// Smallest Sphinx payload size.
pub const MIN_PAYLOAD_SIZE: usize = 1024;
/// Largest Sphinx payload size.
pub const MAX_PAYLOAD_SIZE: usize = 65_536;
/// Largest mean per-hop delay, in seconds (one day).
pub const MAX_MEAN_DELAY_SECS: u64 = 86_400;
/// Longest node address, in octets (RFC 5321's path limit less the brackets).
pub const MAX_ADDRESS_LEN: usize = 254;

const MAX_NETWORK_LEN: usize = 64;
const MAX_NICKNAME_LEN: usize = 32;
const MAX_LOCAL_PART_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

pub(crate) fn document_size(size: usize) -> Result<(), DirectoryError> {
    if size > MAX_DOCUMENT_SIZE {
        return Err(DirectoryError::TooLarge {
            size,
            max: MAX_DOCUMENT_SIZE,
        });
    }
    Ok(())
}

/// `count` is the 1-based number of the node line at `line`.
pub(crate) fn node_count(line: usize, count: usize) -> Result<(), DirectoryError> {
    if count > MAX_NODES {
        return Err(DirectoryError::TooManyNodes {
            line,
            max: MAX_NODES,
        });
    }
    Ok(())
}

pub(crate) fn network(line: usize, name: &str) -> Result<(), DirectoryError> {
    let ok = (1..=MAX_NETWORK_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(DirectoryError::BadNetworkName {
            line,
            found: excerpt(name),
        });
    }
    Ok(())
}

pub(crate) fn time(
    line: usize,
    field: &'static str,
    text: &str,
) -> Result<SystemTime, DirectoryError> {
    parse_directory_time(text).ok_or_else(|| DirectoryError::BadTime {
        line,
        field,
        found: excerpt(text),
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
        _ => Err(DirectoryError::UnrepresentableTime { line, field }),
    }
}

/// `line` is the valid-until line.
pub(crate) fn validity(
    line: usize,
    valid_after: SystemTime,
    valid_until: SystemTime,
) -> Result<(), DirectoryError> {
    if valid_until <= valid_after {
        return Err(DirectoryError::ValidityNotIncreasing {
            line,
            valid_after,
            valid_until,
        });
    }
    Ok(())
}

pub(crate) fn hops(line: usize, found: u64) -> Result<u8, DirectoryError> {
    match u8::try_from(found) {
        Ok(h) if (1..=MAX_HOPS).contains(&h) => Ok(h),
        _ => Err(DirectoryError::HopsOutOfRange { line, found }),
    }
}

pub(crate) fn payload_size(line: usize, found: u64) -> Result<usize, DirectoryError> {
    let size = usize::try_from(found)
        .ok()
        .filter(|s| (MIN_PAYLOAD_SIZE..=MAX_PAYLOAD_SIZE).contains(s))
        .ok_or(DirectoryError::PayloadSizeOutOfRange { line, found })?;
    if size % 16 != 0 {
        return Err(DirectoryError::PayloadSizeNotMultipleOf16 { line, found });
    }
    Ok(size)
}

pub(crate) fn mean_delay(line: usize, found: u64) -> Result<Duration, DirectoryError> {
    if found > MAX_MEAN_DELAY_SECS {
        return Err(DirectoryError::MeanDelayOutOfRange { line, found });
    }
    Ok(Duration::from_secs(found))
}

/// The writer's side of [`mean_delay`]: whole seconds only.
pub(crate) fn mean_delay_secs(line: usize, delay: Duration) -> Result<u64, DirectoryError> {
    if delay.subsec_nanos() != 0 {
        return Err(DirectoryError::MeanDelayNotWholeSeconds { line });
    }
    mean_delay(line, delay.as_secs())?;
    Ok(delay.as_secs())
}

/// The rules that span node lines: uniqueness, layers in range and all
/// populated, the node count. Call the methods in field order for each node
/// line, then [`NodeRules::finish`].
pub(crate) struct NodeRules {
    hops: u8,
    count: usize,
    nicknames: HashMap<String, usize>,
    addresses: HashMap<String, usize>,
    keys: HashMap<[u8; 32], usize>,
    populated: [bool; MAX_HOPS as usize],
}

impl NodeRules {
    pub(crate) fn new(hops: u8) -> Self {
        NodeRules {
            hops,
            count: 0,
            nicknames: HashMap::new(),
            addresses: HashMap::new(),
            keys: HashMap::new(),
            populated: [false; MAX_HOPS as usize],
        }
    }

    pub(crate) fn begin_node(&mut self, line: usize) -> Result<(), DirectoryError> {
        self.count += 1;
        node_count(line, self.count)
    }

    pub(crate) fn nickname(&mut self, line: usize, nickname: &str) -> Result<(), DirectoryError> {
        let ok = (1..=MAX_NICKNAME_LEN).contains(&nickname.len())
            && nickname
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(DirectoryError::BadNickname {
                line,
                found: excerpt(nickname),
            });
        }
        if let Some(&first_line) = self.nicknames.get(nickname) {
            return Err(DirectoryError::DuplicateNickname {
                line,
                nickname: nickname.to_owned(),
                first_line,
            });
        }
        self.nicknames.insert(nickname.to_owned(), line);
        Ok(())
    }

    pub(crate) fn layer(&mut self, line: usize, found: u64) -> Result<u8, DirectoryError> {
        let layer = u8::try_from(found)
            .ok()
            .filter(|l| (1..=self.hops).contains(l))
            .ok_or(DirectoryError::LayerOutOfRange {
                line,
                found,
                hops: self.hops,
            })?;
        if let Some(seen) = self.populated.get_mut(usize::from(layer - 1)) {
            *seen = true;
        }
        Ok(layer)
    }

    pub(crate) fn address(&mut self, line: usize, address: &str) -> Result<(), DirectoryError> {
        let (local, domain) = address_parts(line, address)?;
        // Domains are case-insensitive (DNS); local parts are not (RFC 5321 2.4).
        let canonical = format!("{local}@{}", domain.to_ascii_lowercase());
        if let Some(&first_line) = self.addresses.get(&canonical) {
            return Err(DirectoryError::DuplicateAddress {
                line,
                address: address.to_owned(),
                first_line,
            });
        }
        self.addresses.insert(canonical, line);
        Ok(())
    }

    pub(crate) fn key(&mut self, line: usize, key: &[u8; 32]) -> Result<(), DirectoryError> {
        check_node_key(line, key)?;
        if let Some(&first_line) = self.keys.get(key) {
            return Err(DirectoryError::DuplicateKey { line, first_line });
        }
        self.keys.insert(*key, line);
        Ok(())
    }

    /// `hops_line` is named when a layer is empty; `next_line` is where a
    /// node line was expected if there is none.
    pub(crate) fn finish(&self, hops_line: usize, next_line: usize) -> Result<(), DirectoryError> {
        if self.count == 0 {
            return Err(DirectoryError::NoNodes { line: next_line });
        }
        for layer in 1..=self.hops {
            if !self
                .populated
                .get(usize::from(layer - 1))
                .copied()
                .unwrap_or(false)
            {
                return Err(DirectoryError::EmptyLayer {
                    line: hops_line,
                    layer,
                });
            }
        }
        Ok(())
    }
}

/// Splits a node address into local part and domain, refusing anything but
/// a plain `dot-atom@host.name` (no quoted local parts, comments or address
/// literals: a mix node can always choose a plain mailbox).
fn address_parts(line: usize, address: &str) -> Result<(&str, &str), DirectoryError> {
    if address.len() > MAX_ADDRESS_LEN {
        return Err(DirectoryError::AddressTooLong {
            line,
            length: address.len(),
        });
    }
    if !address.is_ascii() {
        return Err(DirectoryError::AddressNotAscii {
            line,
            found: excerpt(address),
        });
    }
    let mut parts = address.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(DirectoryError::AddressAtSign {
            line,
            found: address.to_owned(),
        });
    };
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    let local_ok = local.len() <= MAX_LOCAL_PART_LEN
        && local
            .split('.')
            .all(|word| !word.is_empty() && word.bytes().all(atext));
    if !local_ok {
        return Err(DirectoryError::AddressBadLocalPart {
            line,
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
        return Err(DirectoryError::AddressBadDomain {
            line,
            found: domain.to_owned(),
        });
    }
    Ok((local, domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_mailboxes_are_accepted() {
        for good in [
            "mix1@example.org",
            "a.b+c@mix-2.example.org",
            "x@localhost",
            "o'brien@EXAMPLE.org",
        ] {
            assert!(address_parts(1, good).is_ok(), "{good}");
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
            assert!(address_parts(1, bad).is_err(), "{bad}");
        }
    }
}
