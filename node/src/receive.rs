//! `mixmailer-node receive`: run by the MTA for each carrier email (stdin),
//! passes it to the daemon and exits 0 only once the daemon committed the
//! result (or dropped the email for good); otherwise EX_TEMPFAIL, so the
//! MTA keeps the email and tries again.

use crate::config::Config;
use crate::protocol::{read_reply, write_request, Reply, Request};
use std::io::{BufReader, Read};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// sysexits.h EX_TEMPFAIL: "try again later" to every MTA.
pub const EX_TEMPFAIL: u8 = 75;
/// How long `receive` waits for the daemon.
const TIMEOUT: Duration = Duration::from_secs(300);

/// What `receive` ends with.
#[derive(Debug, PartialEq, Eq)]
pub enum ReceiveResult {
    /// Committed by the daemon.
    Accepted,
    /// Dropped for good, with the reason.
    Dropped(String),
    /// Must be retried, with the reason.
    TempFail(String),
}

impl ReceiveResult {
    /// The exit code for the MTA.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReceiveResult::Accepted | ReceiveResult::Dropped(_) => 0,
            ReceiveResult::TempFail(_) => EX_TEMPFAIL,
        }
    }
}

/// Reads at most `max` bytes of `input` and drains the rest; `None` if it was longer.
pub fn read_bounded(input: &mut impl Read, max: usize) -> std::io::Result<(Option<Vec<u8>>, u64)> {
    let mut email = Vec::new();
    input.take(max as u64 + 1).read_to_end(&mut email)?;
    if email.len() > max {
        let rest = std::io::copy(input, &mut std::io::sink())?;
        return Ok((None, email.len() as u64 + rest));
    }
    let len = email.len() as u64;
    Ok((Some(email), len))
}

/// Hands `email` to the daemon configured in `config`.
pub fn deliver_to_daemon(config: &Config, email: Vec<u8>) -> ReceiveResult {
    let socket = config.socket_path();
    let attempt = || -> Result<Reply, String> {
        let stream = UnixStream::connect(&socket).map_err(|e| {
            format!(
                "cannot reach the daemon at {} ({e}); is `mixmailer-node run` running?",
                socket.display()
            )
        })?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| e.to_string())?;
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        write_request(&mut writer, &Request::Receive(email)).map_err(|e| e.to_string())?;
        read_reply(&mut BufReader::new(stream)).map_err(|e| e.to_string())
    };
    match attempt() {
        Ok(Reply::Accepted(_)) => ReceiveResult::Accepted,
        Ok(Reply::Dropped(why)) => ReceiveResult::Dropped(why),
        Ok(Reply::TempFail(why)) => ReceiveResult::TempFail(why),
        Ok(Reply::Status(_)) => ReceiveResult::TempFail("the daemon answered STATUS".into()),
        Err(why) => ReceiveResult::TempFail(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_input_is_drained_and_reported() {
        let data = vec![b'x'; 100];
        let (email, len) = read_bounded(&mut data.as_slice(), 10).unwrap();
        assert_eq!((email, len), (None, 100));
        let (email, len) = read_bounded(&mut data.as_slice(), 100).unwrap();
        assert_eq!((email.map(|e| e.len()), len), (Some(100), 100));
    }
}
