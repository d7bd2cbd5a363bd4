//! Key periods in the daemon (issue 11 item 4, SPEC 2), with a clock the
//! tests control (`test_clock_offset_file`): the network is set up the way
//! operators do it (`keygen node`, `descriptor`, `directory sign` from the
//! descriptors, no key copied by hand), the daemon makes its period keys
//! ahead of time and deletes the key and the replay tags of period P at the
//! start of P + 2, and a `kill -9` around a period change loses nothing.

use mixmailer::directory::Directory;
use mixmailer::period::{period_of, period_start};
use mixmailer::wrap::{mix_wrap_with, WrapOptions};
use mixmailer_node::keyfile::PeriodKeyDir;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_mixmailer-node");
/// The shortest key period SPEC allows.
const T: Duration = Duration::from_secs(3600);

fn cli(args: &[&str]) -> Output {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "mixmailer-node {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// node1 (layer 1, run as a daemon) and node2 (the exit, only its
/// descriptor), set up with the CLI.
struct Net {
    dir: tempfile::TempDir,
    authority: String,
    /// The period the test starts in.
    p0: u64,
    daemon: Option<Child>,
    rng: ChaCha20Rng,
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(child) = self.daemon.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Net {
    fn new(mean_delay: u64) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_owned();
        let p = |name: &str| d.join(name).display().to_string();
        let out = cli(&["keygen", "authority", "--out", &p("auth.key")]);
        let authority = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let now = SystemTime::now();
        let p0 = period_of(now, T);
        for n in 1..=2 {
            cli(&["keygen", "node", "--out", &p(&format!("node{n}.key"))]);
            let config = format!(
                "address = \"mix@node{n}.test\"\n\
                 key_file = \"{d}/node{n}.key\"\n\
                 key_dir = \"{d}/node{n}-keys\"\n\
                 directory_file = \"{d}/directory.txt\"\n\
                 trusted_authorities = [\"{authority}\"]\n\
                 spool_dir = \"{d}/spool{n}\"\n\
                 test_clock_offset_file = \"{d}/clock\"\n\
                 [outgoing]\nsendmail = \"{d}/sendmail\"\n",
                d = d.display(),
            );
            std::fs::write(d.join(format!("node{n}.toml")), config).unwrap();
            let role = if n == 1 { "mix" } else { "exit" };
            cli(&[
                "descriptor",
                "--config",
                &p(&format!("node{n}.toml")),
                "--nickname",
                &format!("node{n}"),
                "--role",
                role,
                "--network",
                "test",
                "--key-period",
                "3600",
                "--out",
                &p(&format!("node{n}.descriptor")),
            ]);
        }
        // Seven periods from the current one: P0 ..= P0 + 6.
        let after = mixmailer::time::format_directory_time(period_start(p0, T));
        let until = mixmailer::time::format_directory_time(period_start(p0 + 7, T));
        let source = format!(
            "network = \"test\"\nkey_period = 3600\nvalid_after = \"{after}\"\n\
             valid_until = \"{until}\"\nhops = 2\npayload_size = 2048\nmean_delay = {mean_delay}\n\
             [[node]]\ndescriptor = \"node1.descriptor\"\nlayer = 1\n\
             [[node]]\ndescriptor = \"node2.descriptor\"\nlayer = 2\n"
        );
        std::fs::write(d.join("directory.toml"), source).unwrap();
        cli(&[
            "directory",
            "sign",
            "--source",
            &p("directory.toml"),
            "--key",
            &p("auth.key"),
            "--out",
            &p("directory.txt"),
        ]);
        let sendmail = format!(
            "#!/bin/sh\nshift 4\ncat > /dev/null\necho \"$*\" >> {d}/sent\nexit 0\n",
            d = d.display()
        );
        std::fs::write(d.join("sendmail"), sendmail).unwrap();
        std::fs::set_permissions(d.join("sendmail"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let net = Net {
            dir,
            authority,
            p0,
            daemon: None,
            rng: ChaCha20Rng::from_seed([11; 32]),
        };
        net.set_clock(SystemTime::now());
        net
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Moves node1's clock so that it reads `to` now.
    fn set_clock(&self, to: SystemTime) {
        let offset = match to.duration_since(SystemTime::now()) {
            Ok(ahead) => ahead.as_secs() as i64,
            Err(behind) => -(behind.duration().as_secs() as i64),
        };
        std::fs::write(self.path("clock"), offset.to_string()).unwrap();
    }

    /// A few seconds into period `p`.
    fn into_period(p: u64) -> SystemTime {
        period_start(p, T) + Duration::from_secs(3)
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("node1.log"))
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(self.path("node1.toml"))
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        wait_until(
            "node1 to start",
            || self.status().contains("daemon running"),
            || self.log(),
        );
    }

    fn kill9(&mut self) {
        let mut child = self.daemon.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("node1.log")).unwrap_or_default()
    }

    fn status(&self) -> String {
        let out = Command::new(BIN)
            .args(["status", "--config"])
            .arg(self.path("node1.toml"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn field(&self, name: &str) -> u64 {
        let status = self.status();
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| {
                v.trim_start_matches(':')
                    .trim()
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    }

    fn forwarded(&self) -> usize {
        std::fs::read_to_string(self.path("sent"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == "mix@node2.test")
            .count()
    }

    fn key_periods(&self) -> Vec<u64> {
        PeriodKeyDir::open(&self.path("node1-keys"))
            .unwrap()
            .periods()
            .unwrap()
    }

    /// A carrier for node1 of a message wrapped at `at` (its key period).
    fn carrier(&mut self, at: SystemTime) -> Vec<u8> {
        let text = std::fs::read(self.path("directory.txt")).unwrap();
        let key = mixmailer_node::keyfile::decode_public(&self.authority).unwrap();
        let directory = Directory::parse(&text, &[key], 1, at).unwrap();
        let route = directory.route(&["node1", "node2"]).unwrap();
        let message = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\n\r\nHi.\r\n";
        let wrapped =
            mix_wrap_with(message, &route, &WrapOptions::default(), at, &mut self.rng).unwrap();
        wrapped.onions()[0].to_email(&mailbox("a@example.test"))
    }

    fn receive(&self, email: &[u8]) -> Output {
        let mut child = Command::new(BIN)
            .args(["receive", "--config"])
            .arg(self.path("node1.toml"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(email).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Moves the clock into period `p` and waits for the daemon's rotation.
    fn enter_period(&self, p: u64) {
        self.set_clock(Net::into_period(p));
        wait_until(
            &format!("key period {p} to begin"),
            || self.log().contains(&format!("key period {p} began")),
            || self.log(),
        );
    }
}

fn mailbox(address: &str) -> mixmailer::message::Mailbox {
    mixmailer::message::Mailbox::parse(address).unwrap()
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

#[test]
fn node_keeps_accepting_across_three_period_changes_with_keys_made_ahead() {
    let mut net = Net::new(0);
    let p0 = net.p0;
    // `descriptor` made the keys the directory lists: P0 ..= P0 + 8.
    assert_eq!(net.key_periods(), (p0..=p0 + 8).collect::<Vec<_>>());
    net.start();
    let now = SystemTime::now();
    let c = net.carrier(now);
    assert!(net.receive(&c).status.success(), "{}", net.log());
    wait_until("the first forward", || net.forwarded() == 1, || net.log());
    for k in 1..=3 {
        net.enter_period(p0 + k);
        let c = net.carrier(Net::into_period(p0 + k));
        let out = net.receive(&c);
        assert!(out.status.success(), "period {}: {}", p0 + k, net.log());
        wait_until(
            &format!("the forward in period {}", p0 + k),
            || net.forwarded() == 1 + k as usize,
            || net.log(),
        );
        // Made ahead: at least P(now) + 2 (here + 8); gone: before P(now) - 1.
        let keys = net.key_periods();
        assert_eq!(keys.first(), Some(&(p0 + k - 1).max(p0)), "{keys:?}");
        assert!(keys.contains(&(p0 + k + 2)), "{keys:?}");
        assert_eq!(keys.last(), Some(&(p0 + k + 8)), "{keys:?}");
    }
    let log = net.log();
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn packet_of_period_p_is_refused_at_p_plus_2_and_its_tags_are_gone() {
    let mut net = Net::new(0);
    let p0 = net.p0;
    net.start();
    let c = net.carrier(SystemTime::now());
    assert!(net.receive(&c).status.success());
    let replay = net.receive(&c);
    assert!(String::from_utf8_lossy(&replay.stderr).contains("replay"));
    assert_eq!(net.field("replay tags"), 1);

    // In P + 1 the key and the tags of P are still there.
    net.enter_period(p0 + 1);
    let replay = net.receive(&c);
    assert!(
        String::from_utf8_lossy(&replay.stderr).contains("replay"),
        "{}",
        net.log()
    );
    assert_eq!(net.field("replay tags"), 1);

    // At the start of P + 2 both are gone, and the packet is refused.
    net.enter_period(p0 + 2);
    assert_eq!(net.field("replay tags"), 0);
    assert!(!net.key_periods().contains(&p0));
    let late = net.receive(&c);
    assert_eq!(late.status.code(), Some(0), "dropped for good");
    assert!(
        String::from_utf8_lossy(&late.stderr).contains("key period not accepted"),
        "{}",
        String::from_utf8_lossy(&late.stderr)
    );
    assert_eq!(net.field("replay tags"), 0);
}

#[test]
fn kill_9_at_a_period_change_loses_no_packet_and_rotation_resumes() {
    // Delays of minutes: packets wait in the spool.
    let mut net = Net::new(225);
    let p0 = net.p0;
    net.start();
    for _ in 0..3 {
        let c = net.carrier(SystemTime::now());
        assert!(net.receive(&c).status.success(), "{}", net.log());
    }
    // The period changes and the daemon dies at once, in the middle of
    // (or just before) its rotation. Half an hour into P0 + 1 every delay
    // (at most T/2 from a moment in P0) is over.
    net.set_clock(period_start(p0 + 1, T) + Duration::from_secs(31 * 60));
    net.kill9();
    // A crash between deleting a period's tags and its key file leaves a
    // stale key behind; the next start must delete it.
    let keys = PeriodKeyDir::open(&net.path("node1-keys")).unwrap();
    mixmailer_node::keyfile::write_secret(&keys.file(p0 - 5), &[7; 32]).unwrap();

    net.start();
    assert!(
        !net.key_periods().contains(&(p0 - 5)),
        "stale key deleted at start"
    );
    assert!(
        net.key_periods().contains(&p0),
        "P - 1's key is still needed"
    );
    // No accepted packet is lost: each is in the spool or was forwarded.
    wait_until(
        "every packet forwarded (their delays are over in P0 + 1)",
        || net.forwarded() == 3 && net.field("packets waiting") == 0,
        || format!("{}\n{}", net.status(), net.log()),
    );
    assert_eq!(net.forwarded(), 3, "each exactly once");
    // And rotation goes on.
    net.enter_period(p0 + 2);
    assert!(!net.key_periods().contains(&p0));
    let c = net.carrier(Net::into_period(p0 + 2));
    assert!(net.receive(&c).status.success(), "{}", net.log());
    // `status` shows the keys on disk and the current period.
    let listed = net
        .key_periods()
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let status = net.status();
    assert!(
        status.contains(&format!(
            "key periods:         {listed} on disk; current {}",
            p0 + 2
        )),
        "{status}"
    );
}

mod common;

/// The store as the daemon uses it, fed real packets by the library's
/// node (in-process: 10 000 `receive` runs would take minutes).
#[test]
fn replay_storage_after_10000_packets_over_four_periods_holds_two_periods_at_most() {
    use mixmailer::keys::AuthoritySigningKey;
    use mixmailer::message::Redundancy;
    use mixmailer::node::{MixNode, NodeKeys};
    use mixmailer::Outcome;
    use mixmailer_node::store::RedbStore;

    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::from_seed([12; 32]);
    let auth = AuthoritySigningKey::generate(&mut rng);
    let p0 = period_of(SystemTime::now(), T);
    let (after, until) = (period_start(p0, T), period_start(p0 + 7, T));
    let needed = common::periods(after, until, T);
    let node1 = common::make_node(dir.path(), 1, needed.clone(), &mut rng);
    let node2 = common::make_node(dir.path(), 2, needed, &mut rng);
    let path = dir.path().join("directory.txt");
    common::sign(
        &path,
        &auth,
        &[(&node1, 1), (&node2, 2)],
        2,
        0,
        T,
        after,
        until,
    );
    let text = std::fs::read(&path).unwrap();
    let directory = Directory::parse(&text, &[auth.public_key()], 1, after).unwrap();
    let route = directory.route(&["node1", "node2"]).unwrap();

    let key_dir = PeriodKeyDir::open(&dir.path().join("node1-keys")).unwrap();
    let mut keys = NodeKeys::new(node1.identity);
    for period in key_dir.periods().unwrap() {
        keys.insert(
            period,
            mixmailer::keys::NodeSecretKey::from_bytes(*key_dir.read(period).unwrap()),
        );
    }
    let store = RedbStore::open(&dir.path().join("spool.redb"), 1 << 30).unwrap();
    let mut node = MixNode::with_store(keys, directory, store).unwrap();
    let options = WrapOptions {
        redundancy: Redundancy::Parity(0),
        ..WrapOptions::default()
    };
    let message = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\n\r\nHi.\r\n";
    let mut most = 0;
    for k in 0..4u64 {
        let at = Net::into_period(p0 + k);
        // 2 500 packets per period, committed 100 at a time.
        for _ in 0..25 {
            node.store_mut().begin().unwrap();
            for _ in 0..100 {
                let wrapped = mix_wrap_with(message, &route, &options, at, &mut rng).unwrap();
                let carrier = wrapped.onions()[0].to_email(&mailbox("a@example.test"));
                let outcome = node.process(&carrier, at).unwrap();
                assert!(matches!(outcome, Outcome::Forward { .. }), "{outcome:?}");
            }
            node.store_mut().commit().unwrap();
            most = most.max(node.store_mut().stats().unwrap().replay_tags);
        }
        // For docs/performance.md: the database file after each period.
        let bytes = std::fs::metadata(dir.path().join("spool.redb"))
            .unwrap()
            .len();
        eprintln!(
            "after period {} ({} packets): {} replay tags, spool.redb {} bytes",
            k + 1,
            2_500 * (k + 1),
            node.store_mut().stats().unwrap().replay_tags,
            bytes
        );
    }
    assert_eq!(most, 5_000, "at most two periods of 2 500 tags at any time");
    assert_eq!(node.store_mut().stats().unwrap().replay_tags, 5_000);
}
