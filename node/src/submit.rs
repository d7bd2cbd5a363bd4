//! Handing mail to the MTA, which then owns it with its own queue,
//! retries, DNS and TLS.
//!
//! The daemon submits over SMTP ([`Smtp`]): one long-lived connection to
//! the local MTA carries many messages, and the recipients travel inside
//! the SMTP session, where no other local user can read them (on a command
//! line they are visible to everyone in `/proc/*/cmdline`). The sendmail
//! interface ([`Sendmail`], `sendmail -i -f <sender> -- <recipients>`)
//! remains for the `send` test client and for MTAs without an SMTP
//! listener; it starts one process per message and shows the recipients.

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{SmtpTransport, Transport};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Why a submission failed. Every variant but [`SubmitError::BadAddress`]
/// is temporary: the item stays in the spool and is tried again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// sendmail could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// sendmail exited with a failure.
    #[error("{program} failed ({status}){}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Failed {
        /// The program.
        program: PathBuf,
        /// Its exit status.
        status: ExitStatus,
        /// The first line it printed on stderr, when it may be logged.
        detail: Option<String>,
    },
    /// sendmail did not finish in time and was killed.
    #[error("{program} did not finish within {secs} s and was killed")]
    Timeout {
        /// The program.
        program: PathBuf,
        /// The timeout.
        secs: u64,
    },
    /// Talking to sendmail failed.
    #[error("writing to or waiting for {program}: {source}")]
    Io {
        /// The program.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An address could be mistaken for an option or header by sendmail,
    /// or is not a mailbox SMTP can carry: retrying will not help.
    #[error("address number {index} is not a plain mailbox (empty, starts with '-', has spaces or control characters, or is not local@domain)")]
    BadAddress {
        /// 1-based position among sender and recipients.
        index: usize,
    },
    /// The SMTP session failed: connection refused or lost, timeout, or a
    /// refusal. Even a 5xx reply is temporary here: the MTA is the node's
    /// own, on loopback, so a refusal means its configuration is wrong
    /// (relay denied, size limit), which the operator fixes; dropping the
    /// item would lose mail the node accepted.
    #[error("submitting to the MTA at {server} failed: {detail}")]
    Smtp {
        /// host:port of the MTA.
        server: String,
        /// What went wrong, when it may be logged.
        detail: String,
    },
}

impl SubmitError {
    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        !matches!(self, SubmitError::BadAddress { .. })
    }
}

/// Submission over SMTP to the local MTA (lettre's synchronous transport
/// with a connection pool): connections stay open between messages, so a
/// busy node pays for one TCP and SMTP handshake per many carriers.
#[derive(Clone)]
pub struct Smtp {
    transport: SmtpTransport,
    server: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.server)
            .finish()
    }
}

/// Splits `host:port`; a bare host gets port 25.
pub(crate) fn host_port(server: &str) -> Result<(String, u16), String> {
    // "[::1]:25" keeps its brackets off the host name.
    let (host, port) = match server.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("{server:?}: port {p:?} is not a number from 1 to 65535"))?;
            (h, port)
        }
        _ => (server, 25),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(format!("{server:?} is not host:port"));
    }
    Ok((host.to_owned(), port))
}

impl Smtp {
    /// Submits to `server` (`host:port`, plain SMTP: meant for the MTA on
    /// loopback), greeting it as `hello_name`, giving up on a command after
    /// `timeout`. Keeps up to `connections` sessions open.
    pub fn new(
        server: &str,
        hello_name: &str,
        timeout: Duration,
        connections: u32,
    ) -> Result<Smtp, String> {
        let (host, port) = host_port(server)?;
        let transport = SmtpTransport::builder_dangerous(host)
            .port(port)
            .hello_name(ClientId::Domain(hello_name.to_owned()))
            .timeout(Some(timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(connections.max(1))
                    .idle_timeout(Duration::from_secs(60)),
            )
            .build();
        Ok(Smtp {
            transport,
            server: server.to_owned(),
        })
    }

    /// Submits `message` from `sender` to `recipients`. When `quiet` the
    /// MTA's replies (which may name a recipient) are kept out of the error.
    pub fn submit(
        &self,
        sender: &str,
        recipients: &[String],
        message: &[u8],
        quiet: bool,
    ) -> Result<(), SubmitError> {
        let mailbox = |index: usize, a: &str| -> Result<Address, SubmitError> {
            if !plain_mailbox(a) {
                return Err(SubmitError::BadAddress { index });
            }
            a.parse::<Address>()
                .map_err(|_| SubmitError::BadAddress { index })
        };
        let from = mailbox(1, sender)?;
        let to = recipients
            .iter()
            .enumerate()
            .map(|(i, r)| mailbox(i + 2, r))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope =
            Envelope::new(Some(from), to).map_err(|_| SubmitError::BadAddress { index: 2 })?;
        match self.transport.send_raw(&envelope, message) {
            Ok(_) => Ok(()),
            Err(e) => {
                let detail = if quiet {
                    match e.status() {
                        Some(code) => {
                            format!("reply {code} (text withheld: it may name a recipient)")
                        }
                        None => "no reply (details withheld: they may name a recipient)".to_owned(),
                    }
                } else {
                    e.to_string()
                };
                Err(SubmitError::Smtp {
                    server: self.server.clone(),
                    detail,
                })
            }
        }
    }
}

/// How the daemon hands mail to the MTA.
#[derive(Clone, Debug)]
pub enum Submitter {
    /// SMTP to the local MTA (the default).
    Smtp(Smtp),
    /// The sendmail program (recipients on its command line).
    Sendmail(Sendmail),
}

impl Submitter {
    /// Submits `message` from `sender` to `recipients`; `quiet` keeps what
    /// the MTA said (it may name a recipient) out of the error.
    pub fn submit(
        &self,
        sender: &str,
        recipients: &[String],
        message: &[u8],
        quiet: bool,
    ) -> Result<(), SubmitError> {
        match self {
            Submitter::Smtp(s) => s.submit(sender, recipients, message, quiet),
            Submitter::Sendmail(s) => s.submit(sender, recipients, message, quiet),
        }
    }
}

/// The MTA's sendmail program.
#[derive(Clone, Debug)]
pub struct Sendmail {
    program: PathBuf,
    timeout: Duration,
}

fn plain_mailbox(address: &str) -> bool {
    !address.is_empty()
        && !address.starts_with('-')
        && address.bytes().all(|b| b.is_ascii_graphic() || b >= 0x80)
}

impl Sendmail {
    /// Uses `program`, killing it after `timeout`.
    pub fn new(program: PathBuf, timeout: Duration) -> Sendmail {
        Sendmail { program, timeout }
    }

    /// Submits `message` from `sender` to `recipients`. When `quiet` the
    /// program's stderr (which may name recipients) is kept out of the error.
    pub fn submit(
        &self,
        sender: &str,
        recipients: &[String],
        message: &[u8],
        quiet: bool,
    ) -> Result<(), SubmitError> {
        for (i, a) in std::iter::once(sender)
            .chain(recipients.iter().map(String::as_str))
            .enumerate()
        {
            if !plain_mailbox(a) {
                return Err(SubmitError::BadAddress { index: i + 1 });
            }
        }
        let program = &self.program;
        let io = |source| SubmitError::Io {
            program: program.clone(),
            source,
        };
        let spawn = || {
            Command::new(program)
                .args(["-i", "-f", sender, "--"])
                .args(recipients)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        };
        // "Text file busy": the program is being replaced (a package
        // upgrade), or, in a threaded process, another thread's fork still
        // holds the file open for writing until its exec. It passes.
        let mut attempt = spawn();
        for _ in 0..20 {
            match &attempt {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(Duration::from_millis(10));
                    attempt = spawn();
                }
                _ => break,
            }
        }
        let mut child = attempt.map_err(|source| SubmitError::Spawn {
            program: program.clone(),
            source,
        })?;
        // Feed and drain from threads so a sendmail that stops reading
        // cannot block us past the timeout.
        let mut stdin = child.stdin.take();
        let message = message.to_vec();
        let writer = std::thread::spawn(move || match stdin.as_mut() {
            Some(s) => s.write_all(&message),
            None => Ok(()),
        });
        let mut stderr = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(4096).read_to_string(&mut text);
            }
            text
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(io)? {
                break status;
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SubmitError::Timeout {
                    program: program.clone(),
                    secs: self.timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let written = writer.join().unwrap_or(Ok(()));
        let err_text = reader.join().unwrap_or_default();
        if !status.success() {
            return Err(SubmitError::Failed {
                program: program.clone(),
                status,
                detail: (!quiet)
                    .then(|| err_text.lines().next().unwrap_or("").to_owned())
                    .filter(|l| !l.is_empty()),
            });
        }
        written.map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &std::path::Path, body: &str) -> PathBuf {
        let path = dir.join("sendmail");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn submission_passes_envelope_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let program = script(
            dir.path(),
            &format!("echo \"$@\" > {0}.args; cat > {0}", out.display()),
        );
        let sendmail = Sendmail::new(program, Duration::from_secs(10));
        sendmail
            .submit("mix@a.test", &["b@c.test".into()], b"hello\r\n", false)
            .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"hello\r\n");
        let args = std::fs::read_to_string(dir.path().join("out.args")).unwrap();
        assert_eq!(args.trim(), "-i -f mix@a.test -- b@c.test");
    }

    #[test]
    fn failing_sendmail_is_a_temporary_error() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "cat >/dev/null; echo 'queue full' >&2; exit 75");
        let sendmail = Sendmail::new(program, Duration::from_secs(10));
        let err = sendmail
            .submit("mix@a.test", &["b@c.test".into()], b"x", false)
            .unwrap_err();
        assert!(err.is_temporary());
        assert!(err.to_string().contains("queue full"), "{err}");
    }

    #[test]
    fn hanging_sendmail_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "sleep 30");
        let sendmail = Sendmail::new(program, Duration::from_millis(300));
        let err = sendmail
            .submit("mix@a.test", &["b@c.test".into()], b"x", false)
            .unwrap_err();
        assert!(matches!(err, SubmitError::Timeout { .. }));
    }

    #[test]
    fn option_like_recipient_is_refused_for_good() {
        let sendmail = Sendmail::new("/bin/false".into(), Duration::from_secs(1));
        let err = sendmail
            .submit("mix@a.test", &["-oQ/tmp".into()], b"x", false)
            .unwrap_err();
        assert!(!err.is_temporary());
    }
}
