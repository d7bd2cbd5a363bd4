//! Shared by the authority tests: node descriptors, authority processes on
//! loopback, and HTTP helpers.
#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mixmailer::descriptor::{Descriptor, Role};
use mixmailer::directory::PeriodKey;
use mixmailer::keys::{NodeIdentityKey, NodeSecretKey};
use mixmailer::period::period_of;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

pub const NETWORK: &str = "testnet";
pub const KEY_PERIOD: Duration = Duration::from_secs(3600);
pub const HOPS: u8 = 3;

/// A node's signed descriptor published at `published`.
pub fn descriptor(i: usize, role: Role, published: SystemTime) -> Vec<u8> {
    descriptor_with(i, role, published, NETWORK, KEY_PERIOD)
}

pub fn descriptor_with(
    i: usize,
    role: Role,
    published: SystemTime,
    network: &str,
    key_period: Duration,
) -> Vec<u8> {
    let identity = node_identity(i);
    let first = period_of(published, key_period);
    let keys = (first..first + 3)
        .map(|period| PeriodKey {
            period,
            key: node_secret(i, period).public_key(),
        })
        .collect();
    let d = Descriptor {
        network: network.to_owned(),
        key_period,
        nickname: format!("node{i}"),
        address: format!("node{i}@mix{i}.example.org"),
        identity: identity.public_key(),
        role,
        published: whole_seconds(published),
        keys,
    };
    d.sign(&identity).expect("test descriptor signs")
}

/// Test node `i`'s identity key.
pub fn node_identity(i: usize) -> NodeIdentityKey {
    NodeIdentityKey::from_bytes([i as u8 + 1; 32])
}

/// Test node `i`'s X25519 key for `period`.
pub fn node_secret(i: usize, period: u64) -> NodeSecretKey {
    let mut seed = [0u8; 32];
    // Away from the bits X25519 clamps (bytes 0 and 31), so keys differ.
    seed[1] = i as u8;
    seed[2..10].copy_from_slice(&period.to_be_bytes());
    seed[10] = 0x5a;
    NodeSecretKey::from_bytes(seed)
}

pub fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// One authority process.
pub struct AuthorityProcess {
    pub url: String,
    pub key: [u8; 32],
    dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl AuthorityProcess {
    pub fn start(&mut self) {
        let log = std::fs::File::create(self.dir.join("log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mixmailer-authority"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mixmailer-authority");
        self.child = Some(child);
        wait_until(Duration::from_secs(30), || {
            ureq::get(&format!("{}/mixmailer/v2/directory/current", self.url))
                .call()
                .map(|_| true)
                .unwrap_or_else(|e| matches!(e, ureq::Error::StatusCode(_)))
                .then_some(())
        })
        .expect("authority answers HTTP");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Adds lines to the configuration file (before `start`).
    pub fn configure(&self, extra: &str) {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        text.push_str(extra);
        std::fs::write(&self.config, text).unwrap();
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for AuthorityProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `count` authorities configured as peers of each other, plus `extra`
/// peers (base URL, key) they list but that are not ours to run.
pub fn authorities(
    root: &Path,
    count: usize,
    threshold: usize,
    interval: u64,
    extra: &[(String, [u8; 32])],
) -> Vec<AuthorityProcess> {
    let mut list = Vec::new();
    for i in 0..count {
        let dir = root.join(format!("auth{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let key_path = dir.join("key");
        let out = Command::new(env!("CARGO_BIN_EXE_mixmailer-authority"))
            .args(["keygen", "--key"])
            .arg(&key_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key: [u8; 32] = B64
            .decode(String::from_utf8(out.stdout).unwrap().trim())
            .unwrap()
            .try_into()
            .unwrap();
        let port = free_port();
        list.push((dir, key, port));
    }
    let mut peers = String::new();
    for (_, key, port) in &list {
        peers.push_str(&format!(
            "[[authority]]\nkey = \"{}\"\nurl = \"http://127.0.0.1:{port}\"\n\n",
            B64.encode(key)
        ));
    }
    for (url, key) in extra {
        peers.push_str(&format!(
            "[[authority]]\nkey = \"{}\"\nurl = \"{url}\"\n\n",
            B64.encode(key)
        ));
    }
    list.into_iter()
        .map(|(dir, key, port)| {
            let config = dir.join("authority.toml");
            std::fs::write(
                &config,
                format!(
                    "listen = \"127.0.0.1:{port}\"\nkey = \"{key}\"\nstore = \"{store}\"\n\
                     network = \"{NETWORK}\"\nhops = {HOPS}\npayload_size = 2048\nmean_delay = 0\n\
                     key_period = {T}\ninterval = {interval}\nvalidity = {validity}\n\
                     threshold = {threshold}\n\n{peers}",
                    key = dir.join("key").display(),
                    store = dir.join("store.redb").display(),
                    T = KEY_PERIOD.as_secs(),
                    validity = 3 * interval,
                ),
            )
            .unwrap();
            AuthorityProcess {
                url: format!("http://127.0.0.1:{port}"),
                key,
                dir,
                config,
                child: None,
            }
        })
        .collect()
}

/// POSTs a descriptor; (status, body).
pub fn post(url: &str, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&format!("{url}/mixmailer/v2/descriptor"))
        .send(body)
        .expect("POST reaches the authority");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap_or_default())
}

/// GET a path below `url`: Some(body) on 200, None on 404.
pub fn get(url: &str, path: &str) -> Option<Vec<u8>> {
    match ureq::get(&format!("{url}{path}")).call() {
        Ok(mut r) => Some(
            r.body_mut()
                .with_config()
                .limit(8 << 20)
                .read_to_vec()
                .unwrap(),
        ),
        Err(ureq::Error::StatusCode(404)) => None,
        Err(e) => panic!("GET {url}{path}: {e}"),
    }
}

/// Polls `f` every 250 ms until it gives a value or `limit` passes.
pub fn wait_until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
