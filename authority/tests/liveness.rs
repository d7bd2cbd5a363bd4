//! Liveness on loopback without Postfix: a real authority process probes
//! through the mixnet (mix_wrap, SMTP submission with lettre to an SMTP
//! server process, aiosmtpd), the test carries each carrier email through
//! the library's MixNode for the node it is addressed to, and the exit's
//! deliveries land in the authority's Maildir. One node drops everything:
//! it leaves the vote; restarted, with a new descriptor, it comes back.

mod common;

use common::*;
use mixmailer::descriptor::Role;
use mixmailer::node::{MixNode, NodeKeys, Outcome};
use mixmailer::Directory;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const INTERVAL: u64 = 12;
const DEAD: usize = 1;

struct SmtpSink {
    child: Child,
    maildir: PathBuf,
}

impl SmtpSink {
    /// aiosmtpd (Debian's python3-aiosmtpd) storing every message in a Maildir.
    fn start(maildir: &Path, port: u16) -> SmtpSink {
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd runs (apt-get install python3-aiosmtpd)");
        wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        })
        .expect("aiosmtpd listens");
        SmtpSink {
            child,
            maildir: maildir.to_path_buf(),
        }
    }

    /// Takes every message received so far.
    fn take(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return out;
        };
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                out.push(bytes);
                let _ = std::fs::remove_file(e.path());
            }
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The header value of `name` (first occurrence), trimmed.
fn header(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let prefix = format!("{}:", name.to_ascii_lowercase());
    text.lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().trim_matches(['<', '>']).to_owned())
}

fn nodes_for(directory: &Directory) -> BTreeMap<String, (usize, MixNode)> {
    let mut nodes = BTreeMap::new();
    for i in 0..6 {
        let name = format!("node{i}");
        let Some(entry) = directory.node_by_nickname(&name) else {
            continue;
        };
        let mut keys = NodeKeys::new(node_identity(i).public_key());
        for period in directory.params().periods() {
            keys.insert(period, node_secret(i, period));
        }
        let node = MixNode::new(keys, directory.clone()).expect("mix node");
        nodes.insert(entry.address().to_owned(), (i, node));
    }
    nodes
}

fn vote_nodes(url: &str, valid_after: u64) -> Option<Vec<String>> {
    let va = mixmailer::time::format_directory_time(
        SystemTime::UNIX_EPOCH + Duration::from_secs(valid_after),
    );
    let vote = get(url, &format!("/mixmailer/v2/vote/{va}"))?;
    let text = String::from_utf8(vote).ok()?;
    let mut names = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("node ")) {
        use base64::Engine;
        let b64 = line.split(' ').nth(2)?;
        let d = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        names.push(mixmailer::descriptor::Descriptor::parse(&d).ok()?.nickname);
    }
    Some(names)
}

#[test]
fn a_node_whose_probes_are_lost_leaves_the_vote_and_returns_with_a_new_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let sink = SmtpSink::start(&dir.path().join("outbox"), smtp_port);
    let maildir = dir.path().join("probes");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let mut auths = authorities(dir.path(), 1, 1, INTERVAL, &[]);
    auths[0].configure(&format!(
        "\n[liveness]\nmailbox = \"probe@authority.example.org\"\nmaildir = \"{}\"\n\
         smtp_relay = \"127.0.0.1:{smtp_port}\"\nprobe_interval = 3\nwindow = 600\n\
         dead_after = 2\ntimeout = 10\n",
        maildir.display()
    ));
    auths[0].start();
    let url = auths[0].url.clone();
    let trusted = [auths[0].key];
    for i in 0..6 {
        let d = descriptor(
            i,
            if i >= 4 { Role::Exit } else { Role::Mix },
            SystemTime::now(),
        );
        assert_eq!(post(&url, &d).0, 200);
    }

    // Generous for a loaded CI machine; about 70 s when idle.
    let deadline = Instant::now() + Duration::from_secs(25 * INTERVAL);
    let mut directory: Option<Directory> = None;
    let mut nodes = BTreeMap::new();
    let mut left_at: Option<u64> = None;
    let mut returned = false;
    let mut delivered = 0;
    let mut dead = Some(DEAD);
    while Instant::now() < deadline && !returned {
        // Follow the authority's published document, as nodes do.
        if let Some(doc) = get(&url, "/mixmailer/v2/directory/current") {
            if let Ok(d) = Directory::parse(&doc, &trusted, 1, SystemTime::now()) {
                if directory.as_ref().map(|o| o.params().valid_after)
                    != Some(d.params().valid_after)
                {
                    nodes = nodes_for(&d);
                    directory = Some(d);
                }
            }
        }
        // Carry every carrier email through the node it is for; the dead node drops all.
        let mut queue = sink.take();
        while let Some(email) = queue.pop() {
            let to = header(&email, "To").unwrap_or_default();
            let Some((i, node)) = nodes.get_mut(&to) else {
                continue;
            };
            if Some(*i) == dead {
                continue;
            }
            match node.process(&email, SystemTime::now()) {
                Ok(Outcome::Forward { onion, .. }) => {
                    queue.push(onion.to_email(&mixmailer::message::Mailbox::parse(&to).unwrap()))
                }
                Ok(Outcome::Deliver { message, .. }) => {
                    delivered += 1;
                    std::fs::write(maildir.join(format!("new/{delivered}.probe")), message)
                        .unwrap();
                }
                // Around a document change a probe wrapped for the other
                // document is dropped, as a real node drops it.
                Ok(_) | Err(_) => {}
            }
        }
        // Watch the votes: node1 must leave, then come back after republishing.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let va = now - now % INTERVAL + INTERVAL;
        if let Some(names) = vote_nodes(&url, va) {
            let listed = names.contains(&format!("node{DEAD}"));
            match left_at {
                None if !listed && names.len() == 5 => {
                    left_at = Some(va);
                    // The node restarts, works again and publishes a new
                    // descriptor, which gives it a new chance.
                    dead = None;
                    let again = descriptor(DEAD, Role::Mix, SystemTime::now());
                    assert_eq!(post(&url, &again).0, 200);
                }
                Some(at) if va > at && listed && names.len() == 6 => returned = true,
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = auths[0].log();
    assert!(delivered > 0, "no probe was delivered:\n{log}");
    assert!(
        left_at.is_some(),
        "node{DEAD} was never left out of a vote:\n{log}"
    );
    assert!(returned, "node{DEAD} did not come back:\n{log}");
    assert!(log.contains("probes arrived"), "{log}");
}
