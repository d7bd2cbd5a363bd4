//! Bad input at a real authority process: descriptors that are malformed,
//! forged, for another network or key period, stale, too large or squatting
//! another node's nickname are refused with a one-line reason and never
//! voted for; a peer serving garbage does not stop the others.

mod common;

use common::*;
use mixmailer::descriptor::Role;
use mixmailer::Directory;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

const INTERVAL: u64 = 12;

fn assert_refused(url: &str, body: &[u8], status: u16, reason: &str) {
    let (got, text) = post(url, body);
    assert_eq!(got, status, "{text}");
    assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
    assert!(text.contains(reason), "expected {reason:?} in {text:?}");
}

#[test]
fn bad_descriptors_are_refused_with_a_reason_and_never_voted_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut auths = authorities(dir.path(), 1, 1, INTERVAL, &[]);
    auths[0].start();
    let url = auths[0].url.clone();
    let now = SystemTime::now();
    let good = descriptor(0, Role::Exit, now);

    assert_refused(&url, b"hello\n", 400, "malformed descriptor");
    let mut forged = good.clone();
    let at = forged.windows(5).position(|w| w == b"node0").unwrap();
    forged[at + 4] = b'9'; // nickname changed after signing
    assert_refused(&url, &forged, 400, "malformed descriptor");
    let other_net = descriptor_with(1, Role::Mix, now, "othernet", KEY_PERIOD);
    assert_refused(&url, &other_net, 400, "network othernet");
    let other_period = descriptor_with(1, Role::Mix, now, NETWORK, Duration::from_secs(7200));
    assert_refused(&url, &other_period, 400, "key-period 7200");
    let future = descriptor(1, Role::Mix, now + Duration::from_secs(3600));
    assert_refused(&url, &future, 400, "in the future");
    let stale = descriptor(1, Role::Mix, now - 2 * KEY_PERIOD);
    assert_refused(&url, &stale, 400, "one key period");
    assert_refused(&url, &vec![b'a'; 65_537], 413, "larger than 65536 bytes");

    assert_eq!(post(&url, &good).0, 200);
    let older = descriptor(0, Role::Exit, now - Duration::from_secs(60));
    assert_refused(&url, &older, 409, "is stored");
    // Another identity under node0's nickname (descriptor 7 renamed and re-signed).
    let squatter = {
        let text = String::from_utf8(descriptor(7, Role::Mix, now)).unwrap();
        let d = mixmailer::descriptor::Descriptor::parse(text.as_bytes()).unwrap();
        let renamed = mixmailer::descriptor::Descriptor {
            nickname: "node0".into(),
            ..d
        };
        renamed
            .sign(&mixmailer::keys::NodeIdentityKey::from_bytes([8; 32]))
            .unwrap()
    };
    assert_refused(
        &url,
        &squatter,
        409,
        "nickname node0 belongs to another node",
    );

    // The next vote lists exactly the one accepted descriptor.
    let posted = SystemTime::now();
    let vote = wait_until(Duration::from_secs(4 * INTERVAL), || {
        let round_start = posted + Duration::from_secs(INTERVAL);
        let secs = round_start
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let va = secs - secs % INTERVAL + INTERVAL;
        let va = mixmailer::time::format_directory_time(
            SystemTime::UNIX_EPOCH + Duration::from_secs(va),
        );
        get(&url, &format!("/mixmailer/v2/vote/{va}"))
    })
    .unwrap_or_else(|| panic!("no vote:\n{}", auths[0].log()));
    let text = String::from_utf8(vote).unwrap();
    let nodes: Vec<&str> = text.lines().filter(|l| l.starts_with("node ")).collect();
    use base64::Engine;
    let good_b64 = base64::engine::general_purpose::STANDARD.encode(&good);
    assert_eq!(nodes, vec![format!("node 0 {good_b64}").as_str()]);
    assert!(auths[0].log().contains("descriptor refused"));
}

/// A peer that answers every request with 200 and garbage.
struct GarbagePeer {
    child: std::process::Child,
    url: String,
}

impl GarbagePeer {
    fn start() -> GarbagePeer {
        let script = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"mixmailer-vote 1\nnetwork garbage\n\x00\xff not a vote\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the garbage peer");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        GarbagePeer {
            child,
            url: format!("http://127.0.0.1:{}", line.trim()),
        }
    }
}

impl Drop for GarbagePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_peer_serving_garbage_is_refused_and_the_others_publish() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = GarbagePeer::start();
    let garbage_key = mixmailer::keys::AuthoritySigningKey::from_bytes([3; 32]).public_key();
    let mut auths = authorities(
        dir.path(),
        2,
        2,
        INTERVAL,
        &[(garbage.url.clone(), garbage_key)],
    );
    for a in auths.iter_mut() {
        a.start();
    }
    let mut trusted: Vec<[u8; 32]> = auths.iter().map(|a| a.key).collect();
    trusted.push(garbage_key);
    let now = SystemTime::now();
    for i in 0..3 {
        let d = descriptor(i, if i == 2 { Role::Exit } else { Role::Mix }, now);
        for a in &auths {
            assert_eq!(post(&a.url, &d).0, 200);
        }
    }
    for a in &auths {
        let doc = wait_until(Duration::from_secs(6 * INTERVAL), || {
            let doc = get(&a.url, "/mixmailer/v2/directory/current")?;
            Directory::parse(&doc, &trusted, 2, SystemTime::now())
                .ok()
                .map(|_| doc)
        })
        .unwrap_or_else(|| panic!("{} did not publish:\n{}", a.url, a.log()));
        assert_eq!(
            Directory::parse(&doc, &trusted, 2, SystemTime::now())
                .unwrap()
                .nodes()
                .len(),
            3
        );
        let log = a.log();
        assert!(log.contains("peer vote refused"), "{log}");
        assert!(log.contains("peer signature refused"), "{log}");
    }
}
