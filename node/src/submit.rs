//! Handing mail to the MTA through its sendmail interface
//! (`sendmail -i -f <sender> -- <recipients>`): the MTA then owns it,
//! with its own queue, retries, DNS and TLS.

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
    /// An address could be mistaken for an option or header by sendmail:
    /// retrying will not help.
    #[error("address number {index} is not a plain mailbox (empty, starts with '-', or has spaces or control characters)")]
    BadAddress {
        /// 1-based position among sender and recipients.
        index: usize,
    },
}

impl SubmitError {
    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        !matches!(self, SubmitError::BadAddress { .. })
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
        let mut child = Command::new(program)
            .args(["-i", "-f", sender, "--"])
            .args(recipients)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| SubmitError::Spawn {
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
