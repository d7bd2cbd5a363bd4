//! Key periods (SPEC 2) on disk: the daemon makes each period's X25519 key
//! ahead of time, and at the start of period P + 2 deletes the key and the
//! replay tags of period P.
//!
//! Every step is idempotent and runs at start-up as well as on a timer, so
//! after a crash at any point (`kill -9` in the middle of a period change)
//! the next start completes it: keys that should exist are made, keys and
//! tags that should be gone are deleted. Nothing is ever deleted before its
//! time: the cutoff is always P(now) - 1, from the same clock.

use super::{NodeState, StartError};
use crate::config::Config;
use crate::keyfile::{KeyFileError, PeriodKeyDir};
use mixmailer::directory::Directory;
use mixmailer::keys::NodeSecretKey;
use mixmailer::node::NodeKeys;
use mixmailer::period::period_of;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::SystemTime;
use zeroize::Zeroizing;

/// The first period whose key must still be kept at `now`: the previous one
/// (its packets are accepted until the current one ends).
pub(crate) fn keep_from(now: SystemTime, directory: &Directory) -> u64 {
    period_of(now, directory.params().key_period).saturating_sub(1)
}

/// A new X25519 secret key from the operating system's generator.
fn fresh_key() -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let mut rng =
        ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng).map_err(|e| KeyFileError::Io {
            path: "(the operating system's random number generator)".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
    Ok(NodeSecretKey::generate(&mut rng).to_bytes())
}

/// Makes the missing keys of periods P(now) ..= P(now) + ahead, except
/// periods for which the directory already lists a key of this node (a
/// new key there could never be used; the listed one is missing, which is
/// logged). Returns the periods made.
pub(crate) fn make_ahead(
    keys: &PeriodKeyDir,
    config: &Config,
    directory: &Directory,
    identity: &[u8; 32],
    now: SystemTime,
) -> Result<Vec<u64>, KeyFileError> {
    let current = period_of(now, directory.params().key_period);
    let me = directory.node_by_identity(identity);
    let have = keys.periods()?;
    let mut made = Vec::new();
    for period in current..=current.saturating_add(config.key_periods_ahead) {
        if have.contains(&period) {
            continue;
        }
        if me.is_some_and(|e| e.key_for(period).is_some()) {
            tracing::error!(
                "the directory lists a key of this node for period {period}, but {} has no key for it: packets of that period will be refused (temporarily) until a directory without it arrives",
                keys.file(period).display()
            );
            continue;
        }
        made.extend(keys.ensure(period..=period, fresh_key)?);
    }
    Ok(made)
}

/// Reads the keys of every period from `from` on.
pub(crate) fn load(
    keys: &PeriodKeyDir,
    identity: [u8; 32],
    from: u64,
) -> Result<NodeKeys, KeyFileError> {
    let mut node_keys = NodeKeys::new(identity);
    for period in keys.periods()?.into_iter().filter(|p| *p >= from) {
        node_keys.insert(period, NodeSecretKey::from_bytes(*keys.read(period)?));
    }
    Ok(node_keys)
}

/// At start-up, before the node exists: deletes old key files and makes
/// the keys ahead; then the keys to run with.
pub(crate) fn prepare(
    keys: &PeriodKeyDir,
    config: &Config,
    directory: &Directory,
    identity: [u8; 32],
    now: SystemTime,
) -> Result<NodeKeys, StartError> {
    let from = keep_from(now, directory);
    let deleted = keys.delete_before(from)?;
    if !deleted.is_empty() {
        tracing::info!("deleted the keys of key periods {deleted:?} (past P - 1)");
    }
    let made = make_ahead(keys, config, directory, &identity, now)?;
    if !made.is_empty() {
        tracing::info!("made keys for key periods {made:?}");
    }
    Ok(load(keys, identity, from)?)
}

/// The timer's step, under the node's lock: when the period changed,
/// deletes the keys and replay tags of periods before P(now) - 1 (in memory,
/// in the store, on disk), makes the keys ahead and gives them to the node.
pub(crate) fn rotate(state: &mut NodeState, config: &Config, now: SystemTime) {
    let key_period = state.node.directory().params().key_period;
    let current = period_of(now, key_period);
    if state.rotated_period == Some(current) {
        return;
    }
    let from = current.saturating_sub(1);
    let rotation = match state.node.rotate(now) {
        Ok(r) => r,
        Err(e) => {
            // Tried again at the next tick; keys on disk stay until the
            // tags are gone too, so a restart redoes both.
            tracing::error!("deleting the replay tags of old key periods failed: {e}");
            return;
        }
    };
    let files_deleted = match state.keys.delete_before(from) {
        Ok(gone) => gone,
        Err(e) => {
            tracing::error!("deleting old key files failed: {e}");
            return;
        }
    };
    let directory = state.node.directory().clone();
    let made = match make_ahead(&state.keys, config, &directory, &state.identity, now) {
        Ok(made) => made,
        Err(e) => {
            tracing::error!("making the keys of coming key periods failed: {e}");
            return;
        }
    };
    // Every key on disk the node lacks: the ones just made, and those the
    // `[join]` publisher made first for its descriptor.
    let missing = match state.keys.periods() {
        Ok(periods) => periods
            .into_iter()
            .filter(|p| *p >= from && state.node.keys().get(*p).is_none())
            .collect::<Vec<_>>(),
        Err(e) => {
            tracing::error!("listing the key directory failed: {e}");
            return;
        }
    };
    for period in missing {
        let key = match state.keys.read(period) {
            Ok(k) => NodeSecretKey::from_bytes(*k),
            Err(e) => {
                tracing::error!("reading the new key of period {period} failed: {e}");
                return;
            }
        };
        // A key the directory lists differently stays unused (logged
        // once per period); the others still go in.
        if let Err(e) = state.node.insert_key(period, key) {
            tracing::error!("the key of period {period} was refused: {e}");
        }
    }
    // Logged once everything is done: whoever reads it (an operator, a
    // test) finds the old keys gone and the new ones there.
    let mut deleted = rotation.keys_deleted;
    deleted.extend(files_deleted);
    deleted.sort_unstable();
    deleted.dedup();
    tracing::info!(
        "key period {current} began: deleted the keys of periods {deleted:?} and {} replay tags; made keys for periods {made:?}",
        rotation.tags_deleted
    );
    state.rotated_period = Some(current);
}
