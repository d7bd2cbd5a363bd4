//! Nodes join by themselves (issue 13, docs/operating.md "How nodes
//! join"): real `mixmailer-node run` daemons with `[join]` and no
//! directory file publish their descriptors to real `mixmailer-authority`
//! processes, which publish a consensus listing them; the daemons fetch it
//! and only then start. Refusals reach the node's log with the authority's
//! reason, an unreachable authority is tried again, and a node whose
//! address changed publishes the new one when it restarts.
//!
//! The authorities publish every 6 s (section 2 of docs/authority.md with
//! I = 6), without liveness tests.
//!
//! `mixmailer-node` is another package's binary, which cargo does not
//! build for this one's tests: [`node_binary`] builds it with the cargo
//! running the tests (at once when it is up to date; its library is
//! already built as this package's dev-dependency).

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use mixmailer::Directory;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

const INTERVAL: u64 = 6;

/// Builds `mixmailer-node` with this test's profile, into a target
/// directory of its own below this test's: a nested cargo sharing the outer
/// `cargo test --workspace`'s directory rebuilt the outer build's libraries
/// with other features while it was running (its doctests then failed).
fn node_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let authority = Path::new(env!("CARGO_BIN_EXE_mixmailer-authority"));
        let profile_dir = authority.parent().unwrap();
        let target_dir = profile_dir.parent().unwrap();
        // The profile this test was built with (`target/debug` is `test`'s too).
        let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
            "debug" => "test",
            other => other,
        };
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "mixmailer-node",
                "--bin",
                "mixmailer-node",
                "--message-format=json",
                "--profile",
                profile,
                "--target-dir",
            ])
            .arg(target_dir.join("nested-mixmailer-node"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build -p mixmailer-node");
        assert!(out.status.success(), "cargo build -p mixmailer-node failed");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["target"]["name"] == "mixmailer-node")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the mixmailer-node executable")
    })
}

fn node_cli(args: &[&str]) -> String {
    let out = Command::new(node_binary()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "mixmailer-node {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One node daemon with `[join]`, set up as an operator would.
struct Node {
    dir: PathBuf,
    nickname: String,
    identity: [u8; 32],
    child: Option<Child>,
}

impl Node {
    /// Node `nickname` in `root`, joining `network` through `authorities`
    /// and trusting `trusted` (threshold `threshold`).
    fn new(
        root: &Path,
        nickname: &str,
        role: &str,
        network: &str,
        authorities: &[&str],
        trusted: &[[u8; 32]],
        threshold: usize,
    ) -> Node {
        let dir = root.join(nickname);
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("identity.key");
        let public = node_cli(&["keygen", "node", "--out", key.to_str().unwrap()]);
        let identity: [u8; 32] = B64.decode(public.trim()).unwrap().try_into().unwrap();
        let node = Node {
            dir,
            nickname: nickname.to_owned(),
            identity,
            child: None,
        };
        node.configure(
            &format!("mix@{nickname}.test"),
            network,
            role,
            authorities,
            trusted,
            threshold,
        );
        node
    }

    fn configure(
        &self,
        address: &str,
        network: &str,
        role: &str,
        authorities: &[&str],
        trusted: &[[u8; 32]],
        threshold: usize,
    ) {
        let list = |items: Vec<String>| {
            items
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let d = self.dir.display();
        let config = format!(
            "address = \"{address}\"\nkey_file = \"{d}/identity.key\"\n\
             directory_file = \"{d}/directory.txt\"\n\
             trusted_authorities = [{trusted}]\nthreshold = {threshold}\n\
             spool_dir = \"{d}/spool\"\n\
             [outgoing]\nsendmail = \"/bin/true\"\n\
             [join]\nnickname = \"{nick}\"\nrole = \"{role}\"\nnetwork = \"{network}\"\n\
             key_period = {T}\nauthorities = [{authorities}]\n",
            trusted = list(trusted.iter().map(|k| B64.encode(k)).collect()),
            nick = self.nickname,
            T = KEY_PERIOD.as_secs(),
            authorities = list(authorities.iter().map(|s| s.to_string()).collect()),
        );
        std::fs::write(self.config(), config).unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.join("node.toml")
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log"))
            .unwrap();
        let child = Command::new(node_binary())
            .args(["run", "--config"])
            .arg(self.config())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGTERM, and wait for the exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let end = std::time::Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() {
                assert!(
                    std::time::Instant::now() < end,
                    "node did not stop on SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn status(&self) -> String {
        node_cli(&["status", "--config", self.config().to_str().unwrap()])
    }

    /// The node's directory file, verified, if it lists this node.
    fn listed(&self, trusted: &[[u8; 32]], threshold: usize) -> Option<Directory> {
        let text = std::fs::read(self.dir.join("directory.txt")).ok()?;
        let d = Directory::parse(&text, trusted, threshold, SystemTime::now()).ok()?;
        d.node_by_identity(&self.identity)?;
        Some(d)
    }

    /// Waits until the log contains `text`, failing with the log.
    fn wait_log(&self, text: &str, limit: Duration) {
        if wait_until(limit, || self.log().contains(text).then_some(())).is_none() {
            panic!("{}: no {text:?} in the log:\n{}", self.nickname, self.log());
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Three authorities (threshold 2) and three joining nodes (one exit).
fn network(root: &Path) -> (Vec<AuthorityProcess>, Vec<Node>, Vec<[u8; 32]>) {
    let mut auths = authorities(root, 3, 2, INTERVAL, &[]);
    let urls: Vec<String> = auths.iter().map(|a| a.url.clone()).collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let trusted: Vec<[u8; 32]> = auths.iter().map(|a| a.key).collect();
    let nodes = ["exit0", "mix1", "mix2"]
        .iter()
        .map(|nick| {
            let role = if nick.starts_with("exit") {
                "exit"
            } else {
                "mix"
            };
            Node::new(root, nick, role, NETWORK, &urls, &trusted, 2)
        })
        .collect();
    for a in auths.iter_mut() {
        a.start();
    }
    (auths, nodes, trusted)
}

#[test]
fn nodes_with_no_directory_publish_wait_until_listed_and_start() {
    let dir = tempfile::tempdir().unwrap();
    let (auths, mut nodes, trusted) = network(dir.path());
    for node in nodes.iter_mut() {
        assert!(!node.dir.join("directory.txt").exists());
        node.start();
    }
    for node in &nodes {
        node.wait_log(
            "waiting to be listed by the authorities",
            Duration::from_secs(20),
        );
        node.wait_log("descriptor stored", Duration::from_secs(20));
    }
    for node in &nodes {
        node.wait_log("started node", Duration::from_secs(50));
        let directory = node
            .listed(&trusted, 2)
            .unwrap_or_else(|| panic!("{} started unlisted:\n{}", node.nickname, node.log()));
        let entry = directory.node_by_identity(&node.identity).unwrap();
        assert_eq!(entry.nickname(), node.nickname);
        assert_eq!(entry.address(), format!("mix@{}.test", node.nickname));
        let status = node.status();
        assert!(status.contains("daemon running"), "{status}");
        for a in &auths {
            assert!(
                status.contains(&format!("{} stored", a.url)),
                "every authority stored the descriptor:\n{status}"
            );
        }
        assert!(status.contains("lists this node"), "{status}");
        let log = node.log();
        assert!(
            log.find("waiting to be listed") < log.find("started node"),
            "sockets open only once listed:\n{log}"
        );
    }
    let exit = directory_of(&nodes[0], &trusted);
    let hops = exit.params().hops;
    assert_eq!(
        exit.node_by_identity(&nodes[0].identity).unwrap().layer(),
        hops
    );

    // SIGTERM stops a node at once, listed or not.
    nodes[1].stop();
    assert!(nodes[1].log().contains("stopping on signal"));
}

fn directory_of(node: &Node, trusted: &[[u8; 32]]) -> Directory {
    node.listed(trusted, 2).expect("listed")
}

#[test]
fn a_changed_address_is_published_at_restart_and_the_node_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (auths, mut nodes, trusted) = network(dir.path());
    for node in nodes.iter_mut() {
        node.start();
    }
    for node in &nodes {
        node.wait_log("started node", Duration::from_secs(50));
    }
    let urls: Vec<String> = auths.iter().map(|a| a.url.clone()).collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let moved = &mut nodes[2];
    moved.stop();
    moved.configure("mix@moved.test", NETWORK, "mix", &urls, &trusted, 2);
    moved.start();
    moved.wait_log(
        "the address changed from mix@mix2.test to mix@moved.test since the last publication",
        Duration::from_secs(20),
    );
    moved.wait_log(
        "the directory lists this node with its old address mix@mix2.test",
        Duration::from_secs(20),
    );
    // Started twice: once before the move, once listed with the new address.
    let started = wait_until(Duration::from_secs(50), || {
        (moved.log().matches("started node").count() == 2).then_some(())
    });
    assert!(started.is_some(), "{}", moved.log());
    let directory = directory_of(moved, &trusted);
    assert_eq!(
        directory
            .node_by_identity(&moved.identity)
            .unwrap()
            .address(),
        "mix@moved.test"
    );
}

#[test]
fn refusals_are_logged_with_the_reason_and_unreachable_authorities_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let mut auths = authorities(dir.path(), 2, 1, INTERVAL, &[]);
    let trusted: Vec<[u8; 32]> = auths.iter().map(|a| a.key).collect();
    let (up, down) = (auths[0].url.clone(), auths[1].url.clone());
    auths[0].start();

    let mut wrong = Node::new(dir.path(), "wrong", "mix", "othernet", &[&up], &trusted, 1);
    wrong.start();
    let mut node = Node::new(
        dir.path(),
        "late",
        "exit",
        NETWORK,
        &[&up, &down],
        &trusted,
        1,
    );
    let clock = node.dir.join("clock");
    std::fs::write(&clock, "0\n").unwrap();
    let config = std::fs::read_to_string(node.config()).unwrap();
    std::fs::write(
        node.config(),
        config.replace(
            "[outgoing]",
            &format!(
                "test_clock_offset_file = \"{}\"\n[outgoing]",
                clock.display()
            ),
        ),
    )
    .unwrap();
    node.start();

    wrong.wait_log(
        &format!("{up} refused the descriptor (400): descriptor is for network othernet"),
        Duration::from_secs(20),
    );
    let status = wrong.status();
    assert!(
        status.contains(&format!("{up} refused")) && status.contains("othernet"),
        "{status}"
    );
    // Refused, so never listed: SIGTERM still stops it at once.
    wrong.stop();
    assert!(
        wrong
            .log()
            .contains("stopping on signal 15 (was waiting to be listed)"),
        "{}",
        wrong.log()
    );

    node.wait_log(
        &format!("sending the descriptor again in 60 s to {down}"),
        Duration::from_secs(20),
    );
    assert!(
        node.log().contains("descriptor stored authority="),
        "{}",
        node.log()
    );
    assert!(node.status().contains(&format!("{down} unreachable")));
    // The second authority comes up; a minute later (on the node's clock)
    // the node tries it again, and only it, unless a key period began.
    auths[1].start();
    let now = SystemTime::now();
    let same_period = mixmailer::period::period_of(now, KEY_PERIOD)
        == mixmailer::period::period_of(now + Duration::from_secs(70), KEY_PERIOD);
    std::fs::write(&clock, "61\n").unwrap();
    node.wait_log(
        &format!("descriptor stored authority={down}"),
        Duration::from_secs(20),
    );
    assert!(node.status().contains(&format!("{down} stored")));
    if same_period {
        let sent_to_up = node.log().matches(&format!("authority={up}")).count();
        assert_eq!(sent_to_up, 1, "{}", node.log());
    }
}

/// A node handed a carrier for a node that joined after its last fetch
/// refuses it for now and fetches a newer directory at once, not at its
/// due time (minutes away here: the documents are valid for 10 minutes).
#[test]
fn a_packet_for_a_node_joined_since_the_last_fetch_makes_the_node_fetch_early() {
    let dir = tempfile::tempdir().unwrap();
    let (mut auths, mut nodes, trusted) = network(dir.path());
    for a in auths.iter_mut() {
        a.stop();
        let config = a.dir().join("authority.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let longer = text.replace(
            &format!("validity = {}\n", 3 * INTERVAL),
            "validity = 600\n",
        );
        assert_ne!(text, longer);
        std::fs::write(&config, longer).unwrap();
        a.start();
    }
    // Every node's carriers are saved instead of sent: they are handed on
    // by the test.
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let save = dir.path().join("save-sendmail");
    std::fs::write(
        &save,
        format!(
            "#!/bin/sh\ncat > \"$(mktemp {}/carrier.XXXXXX)\"\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&save, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for node in nodes.iter_mut() {
        let config = std::fs::read_to_string(node.config()).unwrap();
        let config = config.replace(
            "sendmail = \"/bin/true\"",
            &format!("sendmail = \"{}\"", save.display()),
        );
        std::fs::write(node.config(), config).unwrap();
        node.start();
    }
    for node in &nodes {
        node.wait_log("started node", Duration::from_secs(50));
    }
    let urls: Vec<String> = auths.iter().map(|a| a.url.clone()).collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let mut late = Node::new(dir.path(), "exit1", "exit", NETWORK, &urls, &trusted, 2);
    late.start();
    late.wait_log("started node", Duration::from_secs(50));
    let newest = directory_of(&late, &trusted);
    let layer = |node: &Node| {
        newest
            .node_by_identity(&node.identity)
            .map(|e| e.layer())
            .unwrap()
    };
    let first = nodes
        .iter()
        .find(|n| layer(n) == 1)
        .expect("a layer-1 node");
    let second = nodes
        .iter()
        .find(|n| layer(n) == 2)
        .expect("a layer-2 node");
    assert!(
        directory_of(second, &trusted)
            .node_by_identity(&late.identity)
            .is_none(),
        "the layer-2 node should not know exit1 yet"
    );

    // A message routed first -> second -> exit1, from the newest document.
    let message = dir.path().join("message.eml");
    std::fs::write(
        &message,
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nhello\r\n",
    )
    .unwrap();
    let sent = dir.path().join("sent");
    std::fs::create_dir_all(&sent).unwrap();
    let mut send = vec![
        "send".to_owned(),
        "--directory".to_owned(),
        late.dir.join("directory.txt").display().to_string(),
        "--threshold".to_owned(),
        "2".to_owned(),
        "--from".to_owned(),
        "alice@example.test".to_owned(),
        "--route".to_owned(),
        format!("{},{},exit1", first.nickname, second.nickname),
        "--sendmail".to_owned(),
        "/bin/true".to_owned(),
        "--save-dir".to_owned(),
        sent.display().to_string(),
    ];
    for key in &trusted {
        send.push("--trusted".to_owned());
        send.push(B64.encode(key));
    }
    send.push(message.display().to_string());
    node_cli(&send.iter().map(String::as_str).collect::<Vec<_>>());
    let carrier = std::fs::read_dir(&sent)
        .unwrap()
        .next()
        .expect("a saved carrier")
        .unwrap()
        .path();
    assert_eq!(receive(first, &std::fs::read(carrier).unwrap()), Some(0));
    // mean_delay 0: the first node forwards it at once, into `out`.
    let forwarded = wait_until(Duration::from_secs(20), || {
        std::fs::read_dir(&out)
            .unwrap()
            .next()
            .map(|e| e.unwrap().path())
    })
    .expect("the first node forwards the packet");
    std::thread::sleep(Duration::from_millis(200)); // the script finishes writing
    let forwarded = std::fs::read(forwarded).unwrap();

    // The second node does not know exit1: temporary failure, and it asks
    // the mirrors early.
    let before = second.log().len();
    assert_eq!(receive(second, &forwarded), Some(75), "{}", second.log());
    let asked = wait_until(Duration::from_secs(40), || {
        second.log()[before..]
            .contains("asking the mirrors for a newer directory before its due time")
            .then_some(())
    });
    assert!(asked.is_some(), "{}", second.log());
    let knows_exit1 = wait_until(Duration::from_secs(20), || {
        second
            .listed(&trusted, 2)
            .and_then(|d| d.node_by_identity(&late.identity).map(|_| ()))
    });
    assert!(knows_exit1.is_some(), "{}", second.log());
    // The MTA's retry is accepted once the node loaded the new document.
    let accepted = wait_until(Duration::from_secs(20), || {
        (receive(second, &forwarded) == Some(0)).then_some(())
    });
    assert!(accepted.is_some(), "{}", second.log());
}

/// `mixmailer-node receive` of one carrier: its exit status.
fn receive(node: &Node, email: &[u8]) -> Option<i32> {
    use std::io::Write;
    let mut child = Command::new(node_binary())
        .args(["receive", "--config"])
        .arg(node.config())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(email).unwrap();
    child.wait().unwrap().code()
}
