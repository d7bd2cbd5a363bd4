//! Issue 9 item 5: messages shaped like those of real clients go from
//! sender to recipient, and what is delivered must not tell the
//! recipient's provider when or from where they were sent, nor, for an
//! encrypted pEp message, who wrote them. Where each sample comes from is
//! in tests/data/clients/README.md and docs/message.md.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use mixmailer::message::Mailbox;
use mixmailer::node::Outcome;
use mixmailer::sample::{InProcessMixnet, SampleNetwork, SampleSpec};
use mixmailer::{mix_wrap_with, WrapOptions};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// The exit of the route every sample takes (`L3N1` of the sample network).
const EXIT: &str = "mix3-1@sample.invalid";
/// Its domain, which the delivered Message-ID and display name name.
const EXIT_DOMAIN: &str = "sample.invalid";

/// Sender to recipient through the whole mixnet in one process: the
/// sender's `mix_wrap`, three nodes, the exit's reassembly, its own delay
/// and its SPEC 6 pass. Returns the envelope and the message as the
/// recipient's provider gets it. Also checks the exit's timing: the
/// message goes out (and is dated) no earlier than the arrival of the
/// fragment that completed it plus a delay the exit drew.
fn deliver(message: &[u8]) -> (Vec<String>, Vec<u8>) {
    let net = SampleNetwork::generate(&SampleSpec {
        seed: 9,
        ..SampleSpec::default()
    })
    .unwrap();
    let directory = net.directory().unwrap();
    let route = directory.route(&["L1N2", "L2N1", "L3N1"]).unwrap();
    assert_eq!(route.exit().address(), EXIT);
    let mut rng = ChaCha20Rng::seed_from_u64(message.len() as u64);
    let wrapped =
        mix_wrap_with(message, &route, &WrapOptions::default(), net.now, &mut rng).unwrap();
    let sender = Mailbox::parse("sender@isp.example").unwrap();
    let mut mixnet = InProcessMixnet::new(&net).unwrap();
    let mut delivery = None;
    for onion in wrapped.onions() {
        let carrier = onion.to_email(&sender);
        let (trip, outcome) = mixnet.carry(onion.first_hop(), &carrier, net.now).unwrap();
        let exit = trip.last().unwrap();
        if let Outcome::Deliver {
            recipients,
            message,
            delay,
        } = outcome
        {
            assert!(delivery.is_none(), "delivered twice");
            // The exit drew its own delay (mean 60 s) after the fragment
            // that completed the message arrived.
            assert!(delay > Duration::ZERO && exit.delay == delay);
            delivery = Some((recipients, message, exit.arrived + delay));
        }
    }
    let (recipients, delivered, at) = delivery.expect("the message is delivered");
    let date = format!("Date: {}\r\n", mixmailer::time::format_rfc5322(at));
    assert!(
        delivered.starts_with(date.as_bytes()),
        "the exit dates the message when it hands it over"
    );
    assert_eq!(
        wrapped.message_id().len(),
        "<@>".len() + 26 + EXIT_DOMAIN.len()
    );
    (recipients, delivered)
}

/// What a sample reveals before it is sent: the second it was made, the
/// author's UTC offset, machine names and addresses, and the author.
struct Client {
    file: &'static str,
    sent: u64,
    utc_offset_minutes: i64,
    hosts: &'static [&'static str],
    ips: &'static [&'static str],
    /// Directories of the author's machine in attachment names.
    paths: &'static [&'static str],
    author: &'static str,
    recipients: &'static [&'static str],
    /// Encrypted pEp (SPEC 6): the author must not be delivered.
    encrypted_pep: bool,
    /// Signed or encrypted: the body must arrive byte for byte.
    sealed: bool,
}

const CLIENTS: &[Client] = &[
    Client {
        file: "pep-engine-encrypted.eml",
        sent: 1_796_167_172,
        utc_offset_minutes: 0,
        hosts: &[],
        ips: &[],
        paths: &[],
        author: "alice@example.org",
        recipients: &["bob@example.org"],
        encrypted_pep: true,
        sealed: true,
    },
    Client {
        file: "pep-engine-auto-consume.eml",
        sent: 1_796_167_177,
        utc_offset_minutes: 0,
        hosts: &[],
        ips: &[],
        paths: &[],
        author: "alice@example.org",
        recipients: &["bob@example.org"],
        encrypted_pep: true,
        sealed: true,
    },
    Client {
        file: "pep-engine-plain.eml",
        sent: 1_796_175_555,
        utc_offset_minutes: 60,
        hosts: &[],
        ips: &[],
        paths: &["file://"],
        author: "alice@example.org",
        recipients: &["bob@example.net"],
        encrypted_pep: false,
        sealed: false,
    },
    Client {
        file: "thunderbird.eml",
        sent: 1_796_170_829,
        utc_offset_minutes: 60,
        hosts: &["alice-laptop.home.lan", "alice-laptop"],
        ips: &["192.168.1.23", "203.0.113.7"],
        paths: &[],
        author: "alice@example.org",
        recipients: &["bob@example.net", "carol@example.com"],
        encrypted_pep: false,
        sealed: false,
    },
    Client {
        file: "outlook.eml",
        sent: 1_796_171_111,
        utc_offset_minutes: 60,
        hosts: &["DB9PR02MB7323", "eurprd02.prod.outlook.com"],
        ips: &["192.168.1.23"],
        paths: &["C:\\", "Users", "Documents"],
        author: "alice@example.org",
        recipients: &["bob@example.net"],
        encrypted_pep: false,
        sealed: false,
    },
    Client {
        file: "apple-mail.eml",
        sent: 1_796_172_222,
        utc_offset_minutes: 60,
        hosts: &[],
        ips: &[],
        paths: &[],
        author: "alice@example.org",
        recipients: &["bob@example.net"],
        encrypted_pep: false,
        sealed: false,
    },
    Client {
        file: "gmail-web.eml",
        sent: 1_796_173_333,
        utc_offset_minutes: -480,
        hosts: &["2002:a17:907:7e9a"],
        ips: &[],
        paths: &[],
        author: "alice.example@gmail.com",
        recipients: &["bob@example.net"],
        encrypted_pep: false,
        sealed: false,
    },
    Client {
        file: "mutt.eml",
        sent: 1_796_174_444,
        utc_offset_minutes: 60,
        hosts: &["alice-laptop.home.lan", "alice-laptop"],
        ips: &[],
        paths: &[],
        author: "alice@example.org",
        recipients: &["bob@example.net"],
        encrypted_pep: false,
        sealed: false,
    },
];

fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/clients")
        .join(file)
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(data(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The ways a client writes the time `t` (to the minute for dates, as it
/// would be shown in the author's zone and in UTC).
fn time_forms(t: u64, utc_offset_minutes: i64) -> Vec<String> {
    let mut forms = Vec::new();
    for second in t - 5..=t + 5 {
        forms.push(second.to_string());
        forms.push(format!("{second:x}"));
        forms.push(base36(second));
    }
    for offset in [0, utc_offset_minutes] {
        let shifted = (t as i64 + offset * 60) as u64;
        // "Wed, 02 Dec 2026 00:20:29 +0000"
        let rfc =
            mixmailer::time::format_rfc5322(SystemTime::UNIX_EPOCH + Duration::from_secs(shifted));
        let parts: Vec<&str> = rfc.split([' ', ':']).collect();
        let (day, month, year, hour, minute) = (parts[1], parts[2], parts[3], parts[4], parts[5]);
        let month_number = MONTHS.iter().position(|m| *m == month).unwrap() + 1;
        let short_day = day.trim_start_matches('0');
        forms.push(format!("{day} {month} {year} {hour}:{minute}"));
        forms.push(format!("{short_day} {month} {year} {hour}:{minute}"));
        forms.push(format!("{year}{month_number:02}{day}{hour}{minute}"));
        forms.push(format!("{year}-{month_number:02}-{day}T{hour}:{minute}"));
        forms.push(format!("{year}-{month_number:02}-{day} {hour}:{minute}"));
    }
    forms.retain(|f| f.len() >= 6);
    forms
}

/// The header of a message: everything before the first empty line.
fn header_of(message: &[u8]) -> String {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |at| at + 2);
    String::from_utf8_lossy(&message[..end]).into_owned()
}

/// Every part header and multipart boundary, attached messages included.
fn mime_headers_and_boundaries(message: &[u8]) -> Vec<String> {
    fn walk(message: &mail_parser::Message<'_>, raw: &[u8], out: &mut Vec<String>) {
        for part in &message.parts {
            let header = &raw[part.offset_header as usize..part.offset_body as usize];
            out.push(String::from_utf8_lossy(header).into_owned());
            if let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary")) {
                out.push(boundary.to_owned());
            }
            if let PartType::Message(inner) = &part.body {
                walk(inner, raw, out);
            }
        }
    }
    let parsed = MessageParser::new().parse(message).unwrap();
    let mut out = Vec::new();
    walk(&parsed, message, &mut out);
    out
}

/// The decoded contents of every leaf part, attached messages included:
/// what the recipient reads must survive scrubbing.
fn contents(message: &[u8]) -> Vec<Vec<u8>> {
    fn walk(message: &mail_parser::Message<'_>, out: &mut Vec<Vec<u8>>) {
        for part in &message.parts {
            match &part.body {
                PartType::Text(t) | PartType::Html(t) => out.push(t.as_bytes().to_vec()),
                PartType::Binary(b) | PartType::InlineBinary(b) => out.push(b.to_vec()),
                PartType::Message(inner) => walk(inner, out),
                PartType::Multipart(_) => {}
            }
        }
    }
    let parsed = MessageParser::new().parse(message).unwrap();
    let mut out = Vec::new();
    walk(&parsed, &mut out);
    out
}

fn leaks_in(client: &Client, text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut needles = time_forms(client.sent, client.utc_offset_minutes);
    needles.extend(client.hosts.iter().map(|h| h.to_string()));
    needles.extend(client.ips.iter().map(|h| h.to_string()));
    needles.extend(client.paths.iter().map(|h| h.to_string()));
    if client.encrypted_pep {
        needles.push(client.author.to_string());
        needles.push(client.author.rsplit_once('@').unwrap().1.to_string());
    }
    needles
        .into_iter()
        .filter(|n| lower.contains(&n.to_ascii_lowercase()))
        .collect()
}

#[test]
fn every_sample_leaks_before_it_is_sent() {
    // The audit can only fail if the samples carry what it looks for.
    for client in CLIENTS {
        let original = read(client.file);
        let mut everywhere = vec![header_of(&original)];
        if !client.sealed {
            everywhere.extend(mime_headers_and_boundaries(&original));
        }
        let everywhere = everywhere.join("\n");
        let times = time_forms(client.sent, client.utc_offset_minutes);
        let lower = everywhere.to_ascii_lowercase();
        assert!(
            times
                .iter()
                .any(|t| lower.contains(&t.to_ascii_lowercase())),
            "{}: the sample should show when it was sent",
            client.file
        );
        for origin in client.hosts.iter().chain(client.ips).chain(client.paths) {
            assert!(
                lower.contains(&origin.to_ascii_lowercase()),
                "{}: the sample should show {origin}",
                client.file
            );
        }
    }
}

#[test]
fn delivered_headers_tell_nothing_of_time_origin_or_pep_author() {
    for client in CLIENTS {
        let original = read(client.file);
        let (recipients, delivered) = deliver(&original);
        assert_eq!(recipients, client.recipients, "{}", client.file);

        let header = header_of(&delivered);
        let found = leaks_in(client, &header);
        assert!(
            found.is_empty(),
            "{}: delivered header leaks {found:?}:\n{header}",
            client.file
        );

        if !client.sealed {
            for part in mime_headers_and_boundaries(&delivered) {
                let found = leaks_in(client, &part);
                assert!(
                    found.is_empty(),
                    "{}: MIME part leaks {found:?}:\n{part}",
                    client.file
                );
            }
            assert_eq!(
                contents(&delivered),
                contents(&original),
                "{}: what the recipient reads changed",
                client.file
            );
        } else {
            let body = |m: &[u8]| {
                let at = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                m[at..].to_vec()
            };
            assert!(
                body(&delivered) == body(&original),
                "{}: sealed body changed",
                client.file
            );
        }

        let parsed = MessageParser::new().parse(&delivered).unwrap();
        let from = parsed.from().and_then(|f| f.first()).unwrap();
        assert_eq!(from.address.as_deref(), Some(EXIT), "{}", client.file);
        let message_id = parsed.message_id().unwrap();
        assert!(
            message_id.ends_with(&format!("@{EXIT_DOMAIN}")),
            "{}: {message_id}",
            client.file
        );
        if client.encrypted_pep {
            assert!(
                header.contains("To: undisclosed-recipients:;\r\n"),
                "{header}"
            );
            assert!(from.name.is_none(), "{header}");
        } else {
            let name = from.name.as_deref().unwrap();
            assert!(
                name.ends_with(&format!(" via {EXIT_DOMAIN}")),
                "{}: {name}",
                client.file
            );
            let reply_to = parsed.reply_to().and_then(|r| r.first()).unwrap();
            assert_eq!(
                reply_to.address.as_deref(),
                Some(client.author),
                "{}",
                client.file
            );
        }
    }
}

#[test]
fn the_pep_auto_consume_marker_survives_and_nothing_else_of_the_thread() {
    let (_, delivered) = deliver(&read("pep-engine-auto-consume.eml"));
    let header = header_of(&delivered);
    assert!(
        header.contains("In-Reply-To: <pEp-auto-consume@pEp.foundation>\r\n"),
        "{header}"
    );
    assert!(header.contains("pEp-auto-consume: yes\r\n"), "{header}");
    assert!(header.contains("X-pEp-Version: 3.3\r\n"), "{header}");
    assert!(
        header.contains(&format!(
            "\r\nFrom: <{EXIT}>\r\nTo: undisclosed-recipients:;\r\n"
        )),
        "{header}"
    );
    assert_eq!(header.matches("In-Reply-To:").count(), 1, "{header}");
}

// ---------------------------------------------------------------------------
// A PGP/MIME-signed message (RFC 3156) made with real GnuPG still verifies
// after delivery: the scrubber leaves signed messages alone.

struct Gpg {
    home: PathBuf,
}

impl Gpg {
    fn new() -> Gpg {
        let probe = Command::new("gpg").arg("--version").output();
        assert!(
            probe.is_ok_and(|o| o.status.success()),
            "gpg is missing: install the Debian package `gnupg` (apt-get install gnupg)"
        );
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let home =
            std::env::temp_dir().join(format!("mixmailer-gpg-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&home).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let gpg = Gpg { home };
        gpg.run(&[
            "--quick-gen-key",
            "Alice <alice@example.org>",
            "ed25519",
            "sign",
            "never",
        ]);
        gpg
    }

    fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new("gpg")
            .env("GNUPGHOME", &self.home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) {
        let out = self.command(args);
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn file(&self, name: &str) -> PathBuf {
        self.home.join(name)
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &self.home)
            .args(["--kill", "all"])
            .status();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// The bytes between `--boundary\r\n` number `index` and the CRLF before
/// the next delimiter (RFC 2046 5.1.1: that CRLF belongs to the delimiter).
fn mime_part(message: &[u8], boundary: &str, index: usize) -> Vec<u8> {
    let delimiter = format!("\r\n--{boundary}");
    let text = message;
    let mut starts = Vec::new();
    let mut pos = 0;
    while let Some(at) = text[pos..]
        .windows(delimiter.len())
        .position(|w| w == delimiter.as_bytes())
    {
        starts.push(pos + at);
        pos += at + delimiter.len();
    }
    let begin = starts[index] + delimiter.len() + 2;
    text[begin..starts[index + 1]].to_vec()
}

#[test]
fn a_pgp_mime_signature_still_verifies_after_delivery() {
    let gpg = Gpg::new();
    // A signed part the scrubber would change if it touched it: a path, a
    // creation date, and a time in the outer boundary.
    let signed_part = "Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 7bit\r\n\
Content-Disposition: attachment; filename=\"C:\\\\Users\\\\alice\\\\notes.txt\";\r\n\
\tcreation-date=\"Wed, 02 Dec 2026 01:20:44 +0100\"\r\n\
\r\n\
Signed at 1796174444 on alice-laptop.home.lan.\r\n";
    std::fs::write(gpg.file("part"), signed_part).unwrap();
    gpg.run(&[
        "--armor",
        "--detach-sign",
        "--digest-algo",
        "SHA256",
        "--local-user",
        "alice@example.org",
        "--output",
        gpg.file("part.asc").to_str().unwrap(),
        gpg.file("part").to_str().unwrap(),
    ]);
    // gpg writes LF; on the wire every line ends in CRLF (RFC 3156 5).
    let signature = std::fs::read_to_string(gpg.file("part.asc"))
        .unwrap()
        .replace('\n', "\r\n");
    let boundary = "sig-20261202012044-alice-laptop";
    let message = format!(
        "Date: Wed, 2 Dec 2026 02:20:44 +0100\r\n\
From: Alice Example <alice@example.org>\r\n\
To: Bob <bob@example.net>\r\n\
Subject: signed\r\n\
Message-ID: <20261202012044.GA4242@alice-laptop.home.lan>\r\n\
User-Agent: Mutt/2.2.12 (2023-09-09)\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/signed; micalg=pgp-sha256;\r\n\
\tprotocol=\"application/pgp-signature\"; boundary=\"{boundary}\"\r\n\
\r\n\
\r\n\
--{boundary}\r\n\
{signed_part}\
\r\n\
--{boundary}\r\n\
Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n\
\r\n\
{signature}\
\r\n\
--{boundary}--\r\n"
    );
    let (_, delivered) = deliver(message.as_bytes());
    let body = |m: &[u8]| {
        let at = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        m[at..].to_vec()
    };
    assert!(
        body(&delivered) == body(message.as_bytes()),
        "the signed body changed"
    );

    let part = mime_part(&delivered, boundary, 0);
    assert_eq!(part, signed_part.as_bytes());
    let signature_part = mime_part(&delivered, boundary, 1);
    let at = signature_part
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap();
    std::fs::write(gpg.file("delivered"), &part).unwrap();
    std::fs::write(gpg.file("delivered.asc"), &signature_part[at + 4..]).unwrap();
    gpg.run(&[
        "--verify",
        gpg.file("delivered.asc").to_str().unwrap(),
        gpg.file("delivered").to_str().unwrap(),
    ]);

    // The check can fail: one changed byte and gpg refuses.
    let mut tampered = part.clone();
    *tampered.last_mut().unwrap() = b' ';
    std::fs::write(gpg.file("tampered"), &tampered).unwrap();
    let out = gpg.command(&[
        "--verify",
        gpg.file("delivered.asc").to_str().unwrap(),
        gpg.file("tampered").to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "gpg accepted a changed part");
}
