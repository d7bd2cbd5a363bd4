//! The node's own descriptor (SPEC 7), as `mixmailer-node descriptor`
//! writes it and the daemon publishes it under `[join]`: the identity key
//! signs the address, role and the public keys of the coming key periods.
//!
//! The identity secret is read from `key_file` for the signature only and
//! wiped when it is done (the key type zeroizes itself on drop).

use crate::config::Config;
use crate::keyfile::{read_secret, KeyFileError, PeriodKeyDir};
use mixmailer::descriptor::{Descriptor, Role};
use mixmailer::directory::PeriodKey;
use mixmailer::keys::{NodeIdentityKey, NodeSecretKey};
use mixmailer::period::period_of;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::{Duration, SystemTime};

/// What the descriptor says beyond the node's config: its name in the
/// directory, its role and the network's terms.
#[derive(Clone, Debug)]
pub struct Terms {
    /// The node's nickname.
    pub nickname: String,
    /// Mix or exit.
    pub role: Role,
    /// The network name.
    pub network: String,
    /// The network's key period T.
    pub key_period: Duration,
}

impl Terms {
    /// The terms of a `[join]` section.
    pub fn of_join(join: &crate::config::Join) -> Terms {
        Terms {
            nickname: join.nickname.clone(),
            role: join.role(),
            network: join.network.clone(),
            key_period: join.key_period(),
        }
    }
}

/// Why no descriptor could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// The identity key file or a period key could not be read or written.
    #[error("key: {0}")]
    Key(#[from] KeyFileError),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The library refused to sign (a value breaks a SPEC 7 rule).
    #[error("cannot sign the descriptor: {0}")]
    Sign(String),
}

/// Signs the node's descriptor published at `now` (whole seconds): the
/// keys of periods P(now) ..= P(now) + `key_periods_ahead` (made now when
/// missing, as the daemon would make them), preceded by the key of
/// P(now) - 1 while it is still kept.
pub fn sign(config: &Config, terms: &Terms, now: SystemTime) -> Result<Vec<u8>, DescriptorError> {
    let keys = PeriodKeyDir::open(&config.key_dir())?;
    let current = period_of(now, terms.key_period);
    let last = current.saturating_add(config.key_periods_ahead);
    let mut rng = ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| DescriptorError::Random(e.to_string()))?;
    keys.ensure(current..=last, || {
        Ok(NodeSecretKey::generate(&mut rng).to_bytes())
    })?;
    let mut period_keys = Vec::new();
    for period in keys.periods()? {
        // Consecutive keys only: the previous period's if kept, then the
        // ones just ensured; a stray later file is not published.
        if period.saturating_add(1) < current || period > last {
            continue;
        }
        let secret = NodeSecretKey::from_bytes(*keys.read(period)?);
        period_keys.push(PeriodKey {
            period,
            key: secret.public_key(),
        });
    }
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let identity = NodeIdentityKey::from_bytes(*read_secret(&config.key_file)?);
    let descriptor = Descriptor {
        network: terms.network.clone(),
        key_period: terms.key_period,
        nickname: terms.nickname.clone(),
        address: config.address.clone(),
        identity: identity.public_key(),
        role: terms.role,
        published: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        keys: period_keys,
    };
    descriptor
        .sign(&identity)
        .map_err(|e| DescriptorError::Sign(e.to_string()))
}
