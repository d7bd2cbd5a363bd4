//! Test networks on disk, as operators would set them up: each node has an
//! identity key file and a key directory of period keys, and the directory
//! lists those keys.
#![allow(dead_code)]

use mixmailer::directory::{Directory, DirectoryParams, NodeEntry, PeriodKey};
use mixmailer::keys::{AuthoritySigningKey, NodeIdentityKey, NodeSecretKey};
use mixmailer::period::period_of;
use mixmailer_node::keyfile::{write_secret, PeriodKeyDir};
use rand_chacha::ChaCha20Rng;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// One node's public side, for directories.
pub struct TestNode {
    pub nickname: String,
    pub address: String,
    pub identity: [u8; 32],
    pub keys: Vec<PeriodKey>,
}

/// Makes node `n`: identity in `dir/node<n>.key`, a key for each of
/// `periods` in `dir/node<n>-keys/`.
pub fn make_node(
    dir: &Path,
    n: usize,
    periods: std::ops::RangeInclusive<u64>,
    rng: &mut ChaCha20Rng,
) -> TestNode {
    let identity = NodeIdentityKey::generate(rng);
    write_secret(&dir.join(format!("node{n}.key")), &identity.to_bytes()).unwrap();
    let key_dir = PeriodKeyDir::open(&dir.join(format!("node{n}-keys"))).unwrap();
    let mut keys = Vec::new();
    for period in periods {
        let secret = NodeSecretKey::generate(rng);
        write_secret(&key_dir.file(period), &secret.to_bytes()).unwrap();
        keys.push(PeriodKey {
            period,
            key: secret.public_key(),
        });
    }
    TestNode {
        nickname: format!("node{n}"),
        address: format!("mix@node{n}.test"),
        identity: identity.public_key(),
        keys,
    }
}

/// Whole seconds (directories have no fractions).
pub fn whole(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// The key periods a directory valid over `[after, until)` needs.
pub fn periods(after: SystemTime, until: SystemTime, t: Duration) -> std::ops::RangeInclusive<u64> {
    period_of(after, t)..=period_of(until - Duration::from_secs(1), t)
}

/// Signs a directory of `nodes` (node i in layer `layers[i]`) to `path`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    path: &Path,
    auth: &AuthoritySigningKey,
    nodes: &[(&TestNode, u8)],
    hops: u8,
    mean_delay: u64,
    key_period: Duration,
    valid_after: SystemTime,
    valid_until: SystemTime,
) {
    let params = DirectoryParams {
        network: "test".into(),
        valid_after,
        valid_until,
        hops,
        payload_size: 2048,
        mean_delay: Duration::from_secs(mean_delay),
        key_period,
    };
    let range = params.periods();
    let entries: Vec<NodeEntry> = nodes
        .iter()
        .map(|(node, layer)| {
            let keys = node
                .keys
                .iter()
                .filter(|k| range.contains(&k.period))
                .cloned()
                .collect();
            NodeEntry::new(&node.nickname, *layer, &node.address, node.identity, keys)
        })
        .collect();
    let text = Directory::sign(&params, &entries, &[auth]).unwrap();
    std::fs::write(path, text).unwrap();
}
