//! A two-node test network whose layer-2 exit is the node under test:
//! shared by the daemon's unit tests (`#[cfg(test)] mod testnet`) and the
//! integration tests (`#[path = "../src/testnet.rs"] mod testnet`), hence
//! the `mixmailer_node::` paths (the library names itself so).

use mixmailer::directory::{Directory, DirectoryParams, NodeEntry, PeriodKey};
use mixmailer::keys::{AuthoritySigningKey, NodeIdentityKey, NodeSecretKey};
use mixmailer::message::Mailbox;
use mixmailer::node::{MixNode, NodeKeys};
use mixmailer::Outcome;
use mixmailer_node::keyfile::{encode_public, write_secret, PeriodKeyDir};
use rand_core::SeedableRng;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What [`exit_network`] made.
pub struct ExitNetwork {
    /// The carriers of the message as n0 forwards them to the exit n1.
    pub carriers: Vec<Vec<u8>>,
    /// The start of a node configuration for n1 (address, keys, directory,
    /// trusted authority, spool, all in the directory given).
    pub config: String,
}

/// Two hops, valid from a minute ago (in whole seconds) for a day, one
/// key period a day, mean delay 0.
pub fn params() -> DirectoryParams {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(secs - 60);
    DirectoryParams {
        network: "t".into(),
        valid_after: start,
        valid_until: start + Duration::from_secs(86_400),
        hops: 2,
        payload_size: 2048,
        mean_delay: Duration::ZERO,
        key_period: Duration::from_secs(86_400),
    }
}

/// Writes n1's identity (`node.key`), period keys (`keys/`) and a signed
/// directory (`directory.txt`, valid from a minute ago for a day, mean
/// delay 0) into `dir`; n0 (layer 1) lives only in memory and forwards
/// `message`, wrapped for n0 -> n1. `seed` makes the keys.
pub fn exit_network(dir: &Path, seed: u8, message: &[u8]) -> ExitNetwork {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([seed; 32]);
    let auth = AuthoritySigningKey::generate(&mut rng);
    let identity = NodeIdentityKey::generate(&mut rng);
    let params = params();
    // Keys for the (at most two) periods of the directory: n0's in
    // memory, n1's on disk.
    let n0_identity = NodeIdentityKey::generate(&mut rng);
    let mut n0_keys = NodeKeys::new(n0_identity.public_key());
    let mut n0_periods = Vec::new();
    let keys = PeriodKeyDir::open(&dir.join("keys")).unwrap();
    let mut periods = Vec::new();
    for period in params.periods() {
        let secret = NodeSecretKey::generate(&mut rng);
        n0_periods.push(PeriodKey {
            period,
            key: secret.public_key(),
        });
        n0_keys.insert(period, secret);
        let secret = NodeSecretKey::generate(&mut rng);
        write_secret(&keys.file(period), &secret.to_bytes()).unwrap();
        periods.push(PeriodKey {
            period,
            key: secret.public_key(),
        });
    }
    let entries = [
        NodeEntry::new("n0", 1, "mix@n0.test", n0_identity.public_key(), n0_periods),
        NodeEntry::new("n1", 2, "mix@n1.test", identity.public_key(), periods),
    ];
    let text = Directory::sign(&params, &entries, &[&auth]).unwrap();
    std::fs::write(dir.join("directory.txt"), &text).unwrap();
    write_secret(&dir.join("node.key"), &identity.to_bytes()).unwrap();
    let directory = Directory::parse(&text, &[auth.public_key()], 1, SystemTime::now()).unwrap();
    let route = directory.route(&["n0", "n1"]).unwrap();
    let mut n0 = MixNode::new(n0_keys, directory).unwrap();
    let from = Mailbox::parse("mix@n0.test").unwrap();
    let carriers = mixmailer::mix_wrap(message, &route)
        .unwrap()
        .onions()
        .iter()
        .map(
            |o| match n0.process_packet(o.period(), o.packet(), SystemTime::now()) {
                Ok(Outcome::Forward { onion, .. }) => onion.to_email(&from),
                other => panic!("n0 did not forward: {other:?}"),
            },
        )
        .collect();
    let config = format!(
        "address = \"mix@n1.test\"\nkey_file = \"{d}/node.key\"\n\
         key_dir = \"{d}/keys\"\n\
         directory_file = \"{d}/directory.txt\"\n\
         trusted_authorities = [\"{a}\"]\nspool_dir = \"{d}/spool\"\n",
        d = dir.display(),
        a = encode_public(&auth.public_key())
    );
    ExitNetwork { carriers, config }
}
