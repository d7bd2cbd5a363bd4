//! Shared by the client tests: static mirror processes and a signed sample network.
#![allow(dead_code)]

use mixmailer::keys::AuthoritySigningKey;
use mixmailer::sample::{SampleNetwork, SampleSpec};
use mixmailer::{Directory, NodeEntry};
use mixmailer_client::DirectoryClient;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

/// A static mirror: a real HTTP server process serving `root`.
pub struct Mirror {
    child: Child,
    pub url: String,
    root: PathBuf,
}

impl Mirror {
    pub fn start(root: &Path) -> Mirror {
        std::fs::create_dir_all(root.join("mixmailer/v2/directory")).unwrap();
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .current_dir(root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the static mirror");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no port in {line:?}"))
            .to_owned();
        Mirror {
            child,
            url: format!("http://127.0.0.1:{port}"),
            root: root.to_path_buf(),
        }
    }

    pub fn serve(&self, document: &[u8]) {
        std::fs::write(self.root.join("mixmailer/v2/directory/current"), document).unwrap();
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A URL where nothing listens: a port the OS gave us and we closed again.
pub fn dead_mirror() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub struct Network {
    pub sample: SampleNetwork,
}

impl Network {
    pub fn new() -> Network {
        let sample = SampleNetwork::generate(&SampleSpec {
            hops: 3,
            nodes_per_layer: 1,
            mean_delay: Duration::from_secs(0),
            seed: 7,
            ..SampleSpec::default()
        })
        .unwrap();
        Network { sample }
    }

    pub fn now(&self) -> SystemTime {
        self.sample.now
    }

    pub fn trusted(&self) -> Vec<[u8; 32]> {
        vec![self.sample.authority.public_key()]
    }

    /// A document valid from `now - age` for six hours, signed by `key`.
    pub fn document_by(&self, age: Duration, key: &AuthoritySigningKey) -> Vec<u8> {
        let directory = self.sample.directory().unwrap();
        let mut params = directory.params().clone();
        params.valid_after = self.now() - age;
        params.valid_until = params.valid_after + Duration::from_secs(6 * 3600);
        // Each node keeps only the keys of the periods the new window overlaps.
        let periods = params.periods();
        let nodes: Vec<NodeEntry> = directory
            .nodes()
            .iter()
            .map(|n| {
                let keys = n
                    .keys()
                    .iter()
                    .filter(|k| periods.contains(&k.period))
                    .cloned()
                    .collect();
                NodeEntry::new(n.nickname(), n.layer(), n.address(), *n.identity(), keys)
            })
            .collect();
        Directory::sign(&params, &nodes, &[key]).unwrap()
    }

    pub fn document(&self, age: Duration) -> Vec<u8> {
        self.document_by(age, &self.sample.authority)
    }

    pub fn client(&self, mirrors: Vec<String>) -> DirectoryClient {
        DirectoryClient::new(mirrors, self.trusted(), 1)
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(5))
    }
}
