//! The daemon as the MTA sees it, without an MTA: three `mixmailer-node run`
//! processes whose "sendmail" is a script that hands carriers for a node
//! to that node's `receive` (as Postfix's pipe transport would) and writes
//! everything else to a mailbox directory. The Postfix version of this test
//! is `node/ci/e2e.sh`.

mod common;

use common::{make_node, periods, whole, TestNode};
use mixmailer::keys::AuthoritySigningKey;
use mixmailer_node::keyfile::encode_public;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_mixmailer-node");
/// A day: long enough that no test crosses a period change by accident.
const KEY_PERIOD: Duration = Duration::from_secs(86_400);

struct Network {
    dir: tempfile::TempDir,
    authority: String,
    daemons: Vec<Option<Child>>,
}

impl Drop for Network {
    fn drop(&mut self) {
        for child in self.daemons.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn sign(dir: &Path, nodes: &[TestNode], auth: &AuthoritySigningKey, mean: u64, name: &str) {
    let start = whole(SystemTime::now() - Duration::from_secs(3600));
    let layered: Vec<(&TestNode, u8)> = nodes.iter().zip(1u8..).collect();
    common::sign(
        &dir.join(name),
        auth,
        &layered,
        3,
        mean,
        KEY_PERIOD,
        start,
        start + Duration::from_secs(2 * 86_400),
    );
}

/// A sendmail stand-in: node addresses go to that node's `receive`,
/// anything else into `mail/<recipient>/`.
fn fake_sendmail(dir: &Path) -> PathBuf {
    let script = format!(
        r#"#!/bin/sh
# usage: sendmail -i -f FROM -- RCPT...
shift 3; shift
tmp=$(mktemp {d}/mail/in.XXXXXX)
cat > "$tmp"
for rcpt in "$@"; do
  case "$rcpt" in
    mix@node*.test)
      n=${{rcpt#mix@node}}; n=${{n%.test}}
      {bin} receive --config {d}/node$n.toml < "$tmp" 2>>{d}/receive.log || exit $?
      ;;
    *)
      mkdir -p "{d}/mail/$rcpt"
      cp "$tmp" "{d}/mail/$rcpt/$(date +%s%N).eml"
      ;;
  esac
done
rm -f "$tmp"
"#,
        d = dir.display(),
        bin = BIN
    );
    let path = dir.join("sendmail");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(dir.join("mail")).unwrap();
    path
}

impl Network {
    fn new() -> Network {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let auth = AuthoritySigningKey::generate(&mut rng);
        let start = whole(SystemTime::now() - Duration::from_secs(3600));
        let needed = periods(start, start + Duration::from_secs(2 * 86_400), KEY_PERIOD);
        let nodes: Vec<TestNode> = (1..=3)
            .map(|n| make_node(dir.path(), n, needed.clone(), &mut rng))
            .collect();
        sign(dir.path(), &nodes, &auth, 0, "directory.txt");
        // The same nodes with an hour of mean delay, for the sender only:
        // packets then surely wait in a spool.
        sign(dir.path(), &nodes, &auth, 3600, "slow.txt");
        let sendmail = fake_sendmail(dir.path());
        let authority = encode_public(&auth.public_key());
        for n in 1..=3 {
            let d = dir.path();
            let config = format!(
                "address = \"mix@node{n}.test\"\n\
                 key_file = \"{d}/node{n}.key\"\n\
                 key_dir = \"{d}/node{n}-keys\"\n\
                 directory_file = \"{d}/directory.txt\"\n\
                 trusted_authorities = [\"{authority}\"]\n\
                 spool_dir = \"{d}/spool{n}\"\n\
                 [outgoing]\nsendmail = \"{s}\"\n",
                d = d.display(),
                s = sendmail.display()
            );
            std::fs::write(d.join(format!("node{n}.toml")), config).unwrap();
        }
        let mut net = Network {
            dir,
            authority,
            daemons: vec![None, None, None],
        };
        for n in 1..=3 {
            net.start(n);
        }
        net
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self, n: usize) -> PathBuf {
        self.path(&format!("node{n}.toml"))
    }

    fn start(&mut self, n: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(&format!("node{n}.log")))
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(self.config(n))
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemons[n - 1] = Some(child);
        let config = self.config(n);
        let log = self.path(&format!("node{n}.log"));
        wait_until(
            &format!("node{n} to answer status"),
            || status(&config).contains("daemon running"),
            || std::fs::read_to_string(&log).unwrap_or_default(),
        );
    }

    fn kill9(&mut self, n: usize) {
        let mut child = self.daemons[n - 1].take().unwrap();
        child.kill().unwrap(); // SIGKILL: no cleanup of any kind
        child.wait().unwrap();
    }

    fn log(&self, n: usize) -> String {
        std::fs::read_to_string(self.path(&format!("node{n}.log"))).unwrap_or_default()
    }

    fn send(&self, directory: &str, message: &str, save: &Path) -> Output {
        let mut child = Command::new(BIN)
            .arg("send")
            .arg("--directory")
            .arg(self.path(directory))
            .args(["--trusted", &self.authority, "--from", "alice@example.test"])
            .arg("--sendmail")
            .arg(self.path("sendmail"))
            .arg("--save-dir")
            .arg(save)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(message.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn mailbox(&self, rcpt: &str) -> Vec<String> {
        let dir = self.path(&format!("mail/{rcpt}"));
        let mut mails: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        mails.sort();
        mails
    }

    fn receive(&self, n: usize, email: &[u8]) -> Output {
        let mut child = Command::new(BIN)
            .args(["receive", "--config"])
            .arg(self.config(n))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(email).unwrap();
        child.wait_with_output().unwrap()
    }
}

fn status(config: &Path) -> String {
    let out = Command::new(BIN)
        .args(["status", "--config"])
        .arg(config)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim_start_matches(':').trim().to_owned())
        .unwrap_or_default()
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool, context: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const MESSAGE: &str = "Received: from laptop.home.example ([203.0.113.7])\r\n\
Date: Mon, 30 Nov 2026 14:03:11 +0100\r\n\
From: Alice <alice@example.test>\r\n\
To: Bob <bob@example.test>\r\n\
Bcc: carol@example.test\r\n\
Subject: through three nodes\r\n\
User-Agent: pEp-test/1.0\r\n\
X-pEp-Version: 2.1\r\n\
\r\n\
Hello Bob.\r\n";

fn header(mail: &str) -> &str {
    mail.split("\r\n\r\n").next().unwrap()
}

#[test]
fn message_crosses_three_daemons_and_arrives_sanitized() {
    let net = Network::new();
    let save = net.path("carriers");
    std::fs::create_dir_all(&save).unwrap();
    let out = net.send("directory.txt", MESSAGE, &save);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(
        "bob's and carol's mail",
        || {
            !net.mailbox("bob@example.test").is_empty()
                && !net.mailbox("carol@example.test").is_empty()
        },
        || (1..=3).map(|n| net.log(n)).collect::<Vec<_>>().join("\n"),
    );
    for rcpt in ["bob@example.test", "carol@example.test"] {
        let mails = net.mailbox(rcpt);
        assert_eq!(mails.len(), 1, "exactly one copy for {rcpt}");
        let h = header(&mails[0]);
        assert!(h.contains("Subject: through three nodes"), "{h}");
        assert!(h.contains("X-pEp-Version: 2.1"), "{h}");
        assert!(h.contains("+0000"), "{h}");
        for gone in [
            "Received:",
            "User-Agent:",
            "Bcc:",
            "14:03:11",
            "203.0.113.7",
        ] {
            assert!(!h.contains(gone), "{gone} reached {rcpt}: {h}");
        }
        assert!(mails[0].ends_with("\r\n\r\nHello Bob.\r\n"));
    }
    // The stand-in wrote the mail before exiting; the daemon logs after it exited.
    wait_until(
        "the forward and delivery log lines",
        || {
            net.log(1).contains("forwarded a packet to mix@node2.test")
                && net.log(3).contains("delivered a message to 2 recipients")
        },
        || format!("{}\n{}", net.log(1), net.log(3)),
    );
    for n in 1..=3 {
        let log = net.log(n);
        assert!(!log.contains("bob@") && !log.contains("carol@") && !log.contains("Hello"));
    }
}

#[test]
fn replayed_carrier_is_dropped_and_not_spooled() {
    let net = Network::new();
    let save = net.path("carriers");
    std::fs::create_dir_all(&save).unwrap();
    assert!(net.send("slow.txt", MESSAGE, &save).status.success());
    let carrier = std::fs::read(save.join("carrier-1.eml")).unwrap();
    let before = field(&status(&net.config(1)), "packets waiting");
    let again = net.receive(1, &carrier);
    assert!(again.status.success(), "a replay is not retried by the MTA");
    assert!(String::from_utf8_lossy(&again.stderr).contains("replay"));
    assert_eq!(field(&status(&net.config(1)), "packets waiting"), before);
    assert!(net.log(1).contains("dropped a packet: replay"));
}

#[test]
fn packets_survive_kill_9_with_their_release_time() {
    let mut net = Network::new();
    let save = net.path("carriers");
    std::fs::create_dir_all(&save).unwrap();
    // Hour-long delays: the packets stay in node1's spool.
    assert!(net.send("slow.txt", MESSAGE, &save).status.success());
    let sent = std::fs::read_dir(&save).unwrap().count();
    let before = status(&net.config(1));
    assert_eq!(field(&before, "packets waiting"), sent.to_string());
    net.kill9(1);
    let offline = status(&net.config(1));
    assert!(offline.contains("daemon NOT running"), "{offline}");
    assert_eq!(field(&offline, "packets waiting"), sent.to_string());
    assert_eq!(
        field(&offline, "next release").split(' ').next(),
        field(&before, "next release").split(' ').next(),
        "release time is kept"
    );
    net.start(1);
    assert!(net
        .log(1)
        .contains(&format!("spool holds {sent} packets to forward")));
    // Replays are still recognised after the crash.
    let again = net.receive(1, &std::fs::read(save.join("carrier-1.eml")).unwrap());
    assert!(String::from_utf8_lossy(&again.stderr).contains("replay"));
}

#[test]
fn carrier_without_daemon_is_a_temporary_failure() {
    let mut net = Network::new();
    net.kill9(2);
    let out = net.receive(2, b"From: a@b\r\n\r\nnot a carrier\r\n");
    assert_eq!(
        out.status.code(),
        Some(75),
        "EX_TEMPFAIL so the MTA retries"
    );
}

#[test]
fn garbage_is_dropped_for_good() {
    let net = Network::new();
    let out = net.receive(1, b"From: a@b\r\n\r\nnot a carrier\r\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(net.log(1).contains("dropped a carrier"));
}
