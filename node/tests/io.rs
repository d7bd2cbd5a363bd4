//! The daemon's mail I/O against real sockets: carriers in over LMTP,
//! deliveries out over SMTP to a listener on loopback (a small SMTP sink in
//! this file, standing in for the MTA), and no recipient on any process's
//! command line while that happens. The Postfix version is node/ci/e2e.sh.

#[path = "../src/testnet.rs"]
mod testnet;

use mixmailer_node::submit::Smtp;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mixmailer-node");

/// One message as the sink received it.
#[derive(Clone, Debug)]
struct Received {
    recipients: Vec<String>,
    data: String,
}

/// An SMTP listener on 127.0.0.1 that takes every message, holding each
/// for `hold` before answering its DATA, or answers DATA with `refuse`.
struct Sink {
    addr: String,
    messages: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
}

impl Sink {
    fn start(hold: Duration, refuse: Option<&'static str>) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (m, c) = (Arc::clone(&messages), Arc::clone(&connections));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                c.fetch_add(1, Ordering::SeqCst);
                let m = Arc::clone(&m);
                std::thread::spawn(move || sink_session(stream, &m, hold, refuse));
            }
        });
        Sink {
            addr,
            messages,
            connections,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

fn sink_session(
    stream: TcpStream,
    messages: &Mutex<Vec<Received>>,
    hold: Duration,
    refuse: Option<&str>,
) {
    let mut out = stream.try_clone().unwrap();
    let mut input = BufReader::new(stream);
    let mut say = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    let _ = say("220 sink.test ESMTP");
    let mut recipients = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let upper = line.trim_end().to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250 sink.test".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            recipients.push(line.trim_end()[8..].trim_matches(['<', '>']).to_owned());
            "250 ok".to_owned()
        } else if upper == "DATA" {
            let _ = say("354 go ahead");
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if input.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            std::thread::sleep(hold);
            match refuse {
                Some(reply) => reply.to_owned(),
                None => {
                    messages.lock().unwrap().push(Received {
                        recipients: std::mem::take(&mut recipients),
                        data,
                    });
                    "250 queued".to_owned()
                }
            }
        } else if upper == "QUIT" {
            let _ = say("221 bye");
            return;
        } else {
            "250 ok".to_owned()
        };
        if say(&reply).is_err() {
            return;
        }
    }
}

/// Every process's command line (as any local user reads them), joined.
fn all_command_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(raw) = std::fs::read(entry.path().join("cmdline")) {
            lines.push(String::from_utf8_lossy(&raw).replace('\0', " "));
        }
    }
    lines
}

/// Scans all command lines for `needle` until `stop`; returns (scans, hits).
fn watch_command_lines(
    needle: &'static str,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, usize)> {
    std::thread::spawn(move || {
        let (mut scans, mut hits) = (0, 0);
        while !stop.load(Ordering::SeqCst) {
            hits += all_command_lines()
                .iter()
                .filter(|l| l.contains(needle))
                .count();
            scans += 1;
        }
        (scans, hits)
    })
}

#[test]
fn the_command_line_watcher_sees_a_recipient_on_a_command_line() {
    // The check below is only worth something if the watcher can see.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_command_lines("watcher.probe@example.net", Arc::clone(&stop));
    // `sh -c CMD NAME`: NAME is only $0, shown on the command line.
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.5", "watcher.probe@example.net"])
        .spawn()
        .unwrap();
    child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    let (_, hits) = watcher.join().unwrap();
    assert!(hits > 0, "the watcher never saw sleep's argument");
}

#[test]
fn smtp_submission_keeps_one_connection_and_no_recipient_on_a_command_line() {
    let sink = Sink::start(Duration::from_millis(200), None);
    let smtp = Smtp::new(&sink.addr, "n1.test", Duration::from_secs(10), 1).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_command_lines("bob.secret@example.net", Arc::clone(&stop));
    for i in 0..3 {
        smtp.submit(
            "mix@n1.test",
            &["bob.secret@example.net".into(), "carol@example.net".into()],
            format!("Subject: {i}\r\n\r\n.leading dot\r\n").as_bytes(),
            true,
        )
        .unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let (scans, hits) = watcher.join().unwrap();
    assert!(scans > 0);
    assert_eq!(hits, 0, "a recipient appeared on a command line");
    let got = sink.received();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0].recipients,
        ["bob.secret@example.net", "carol@example.net"]
    );
    assert!(got[2].data.contains("Subject: 2\r\n"));
    assert!(
        got[2].data.contains("\r\n..leading dot\r\n"),
        "dot-stuffed on the wire"
    );
    assert_eq!(
        sink.connections.load(Ordering::SeqCst),
        1,
        "three messages, one connection"
    );
}

#[test]
fn smtp_refusals_and_an_absent_mta_are_temporary_and_withhold_recipients() {
    let sink = Sink::start(
        Duration::ZERO,
        Some("554 5.7.1 <bob@example.net>: relay denied"),
    );
    let smtp = Smtp::new(&sink.addr, "n1.test", Duration::from_secs(10), 1).unwrap();
    let err = smtp
        .submit("mix@n1.test", &["bob@example.net".into()], b"x\r\n", true)
        .unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert!(!err.to_string().contains("bob@"), "{err}");
    assert!(err.to_string().contains("554"), "{err}");

    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let smtp = Smtp::new(&addr, "n1.test", Duration::from_secs(5), 1).unwrap();
    let err = smtp
        .submit("mix@n1.test", &["bob@example.net".into()], b"x\r\n", false)
        .unwrap_err();
    assert!(err.is_temporary(), "{err}");

    let err = smtp
        .submit("mix@n1.test", &["not an address".into()], b"x\r\n", false)
        .unwrap_err();
    assert!(!err.is_temporary(), "{err}");
}

/// A daemon that is its own exit (a one-node network), taking carriers on
/// an LMTP socket and delivering to `smtp`.
struct Exit {
    dir: tempfile::TempDir,
    daemon: Child,
    carriers: Vec<Vec<u8>>,
}

impl Drop for Exit {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

impl Exit {
    fn start(smtp: &str, message: &[u8]) -> Exit {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let net = testnet::exit_network(d, 9, message);
        let carriers = net.carriers;
        std::fs::write(
            d.join("node.toml"),
            format!(
                "{base}[incoming]\nlmtp_socket = \"{d}/lmtp.sock\"\n\
                 [outgoing]\nsmtp = \"{smtp}\"\n",
                base = net.config,
                d = d.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let daemon = Command::new(BIN)
            .args(["run", "--config"])
            .arg(d.join("node.toml"))
            .stderr(log)
            .spawn()
            .unwrap();
        let exit = Exit {
            dir,
            daemon,
            carriers,
        };
        exit.wait_for("the LMTP socket", || exit.socket().exists());
        exit
    }

    fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("lmtp.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn wait_for(&self, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; daemon log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An LMTP client session, as Postfix's lmtp client runs it.
struct Lmtp {
    out: UnixStream,
    input: BufReader<UnixStream>,
}

impl Lmtp {
    fn connect(path: &Path) -> Lmtp {
        let out = UnixStream::connect(path).unwrap();
        out.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut s = Lmtp {
            input: BufReader::new(out.try_clone().unwrap()),
            out,
        };
        assert!(s.reply().starts_with("220 "));
        s.command("LHLO mta.test");
        s
    }

    /// The next complete reply (all its lines).
    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.input.read_line(&mut line).unwrap();
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    fn command(&mut self, line: &str) -> String {
        self.out
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    /// Sends one message to `rcpts` recipients; returns the reply for each.
    fn deliver(&mut self, email: &[u8], rcpts: usize) -> Vec<String> {
        assert!(self
            .command("MAIL FROM:<alice@example.test>")
            .starts_with("250"));
        for i in 0..rcpts {
            assert!(self
                .command(&format!("RCPT TO:<mix{i}@n1.test>"))
                .starts_with("250"));
        }
        assert!(self.command("DATA").starts_with("354"));
        let text = String::from_utf8_lossy(email).replace("\r\n", "\n");
        let mut wire = String::new();
        for line in text.lines() {
            if line.starts_with('.') {
                wire.push('.');
            }
            wire.push_str(line);
            wire.push_str("\r\n");
        }
        wire.push_str(".\r\n");
        self.out.write_all(wire.as_bytes()).unwrap();
        (0..rcpts).map(|_| self.reply()).collect()
    }
}

#[test]
fn carriers_over_lmtp_from_several_connections_are_delivered_over_smtp() {
    let sink = Sink::start(Duration::ZERO, None);
    let message =
        b"From: alice@example.test\r\nTo: bob.secret@example.net\r\nSubject: over lmtp\r\n\r\nhello\r\n";
    let exit = Exit::start(&sink.addr, message);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_command_lines("bob.secret@example.net", Arc::clone(&stop));

    // Every carrier on its own connection, all at once, as Postfix's lmtp
    // client does with several deliveries in parallel.
    let replies: Vec<String> = std::thread::scope(|scope| {
        let sessions: Vec<_> = exit
            .carriers
            .iter()
            .map(|c| {
                let path = exit.socket();
                scope.spawn(move || Lmtp::connect(&path).deliver(c, 1).remove(0))
            })
            .collect();
        sessions.into_iter().map(|s| s.join().unwrap()).collect()
    });
    for reply in &replies {
        assert!(reply.starts_with("250 2.0.0 "), "{reply}");
    }
    exit.wait_for("the delivery at the SMTP sink", || {
        !sink.received().is_empty()
    });
    stop.store(true, Ordering::SeqCst);
    let got = sink.received();
    assert_eq!(got[0].recipients, ["bob.secret@example.net"]);
    assert!(got[0].data.contains("Subject: over lmtp"));
    assert!(got[0].data.contains("hello"));
    exit.wait_for("the daemon to log the delivery", || {
        exit.log().contains("delivered a message to 1 recipients")
    });
    let (_, hits) = watcher.join().unwrap();
    assert_eq!(hits, 0, "a recipient appeared on a command line");

    // One connection, several messages: a replay, garbage, a replay with
    // two recipients (one reply each).
    let mut lmtp = Lmtp::connect(&exit.socket());
    let replay = lmtp.deliver(&exit.carriers[0], 1);
    assert!(
        replay[0].starts_with("250 2.0.0 dropped: replay"),
        "{replay:?}"
    );
    let garbage = lmtp.deliver(b"Subject: not a carrier\r\n\r\nhi\r\n", 1);
    assert!(garbage[0].starts_with("250 2.0.0 dropped: "), "{garbage:?}");
    let twice = lmtp.deliver(&exit.carriers[0], 2);
    assert_eq!(twice.len(), 2);
    assert!(twice
        .iter()
        .all(|r| r.starts_with("250 2.0.0 dropped: replay")));
    assert!(lmtp.command("QUIT").starts_with("221"));
    assert_eq!(sink.received().len(), 1, "delivered once");
}

#[test]
fn a_delivery_the_mta_refuses_for_now_stays_in_the_spool() {
    // The carrier is committed (250) even though the MTA refuses the
    // delivery: the item stays in the spool for a retry, never dropped.
    let sink = Sink::start(Duration::ZERO, Some("451 4.3.0 queue full"));
    let message = b"From: a@example.test\r\nTo: bob@example.net\r\nSubject: s\r\n\r\nx\r\n";
    let exit = Exit::start(&sink.addr, message);
    for c in &exit.carriers {
        let reply = Lmtp::connect(&exit.socket()).deliver(c, 1).remove(0);
        assert!(reply.starts_with("250 "), "{reply}");
    }
    exit.wait_for("the failed submission in the log", || {
        exit.log().contains("submitting failed (attempt 1)")
    });
    let status = Command::new(BIN)
        .args(["status", "--config"])
        .arg(exit.dir.path().join("node.toml"))
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    assert_eq!(
        field("deliveries waiting:").as_deref(),
        Some("1"),
        "{status}"
    );
    assert_eq!(field("retrying:").as_deref(), Some("1"), "{status}");
}
