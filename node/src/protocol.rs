//! The line protocol between `receive`/`status` and the daemon on its
//! Unix socket. A request is one line (`RECEIVE <len>` followed by `len`
//! bytes of email, or `STATUS`); the reply is one line.

use std::io::{BufRead, Read, Write};

/// Longest request or reply line.
const MAX_LINE: u64 = 64 * 1024;

/// What a client asks.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Process this carrier email and commit the result before replying.
    Receive(Vec<u8>),
    /// Report the store's contents.
    Status,
}

/// What the daemon answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Processed and durably committed: the MTA may forget the email.
    Accepted(String),
    /// Will never be processed (malformed, replay, not for us): the MTA may forget it.
    Dropped(String),
    /// Not processed now; the MTA must keep the email and retry.
    TempFail(String),
    /// The store's statistics, as JSON.
    Status(String),
}

/// Why a request or reply could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The socket failed or timed out.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something this protocol does not know.
    #[error("unexpected line from the peer: {0:?}")]
    Unexpected(String),
    /// The email is larger than the configured maximum.
    #[error("the email is {len} bytes, more than the {max} accepted (incoming.max_email_bytes)")]
    TooLarge {
        /// Announced length.
        len: u64,
        /// The limit.
        max: usize,
    },
}

fn read_line(reader: &mut impl BufRead) -> Result<String, ProtocolError> {
    let mut line = String::new();
    reader.take(MAX_LINE).read_line(&mut line)?;
    if !line.ends_with('\n') {
        return Err(ProtocolError::Unexpected(line));
    }
    line.pop();
    Ok(line)
}

/// Writes a request.
pub fn write_request(writer: &mut impl Write, request: &Request) -> std::io::Result<()> {
    match request {
        Request::Receive(email) => {
            writeln!(writer, "RECEIVE {}", email.len())?;
            writer.write_all(email)?;
        }
        Request::Status => writeln!(writer, "STATUS")?,
    }
    writer.flush()
}

/// Reads a request, refusing emails over `max_email` bytes before reading them.
pub fn read_request(reader: &mut impl BufRead, max_email: usize) -> Result<Request, ProtocolError> {
    let line = read_line(reader)?;
    if line == "STATUS" {
        return Ok(Request::Status);
    }
    let len = line
        .strip_prefix("RECEIVE ")
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| ProtocolError::Unexpected(line.clone()))?;
    if len > max_email as u64 {
        return Err(ProtocolError::TooLarge {
            len,
            max: max_email,
        });
    }
    let mut email = Vec::with_capacity(len as usize);
    reader.take(len).read_to_end(&mut email)?;
    if email.len() as u64 != len {
        return Err(ProtocolError::Unexpected(format!(
            "email ended after {} of {len} bytes",
            email.len()
        )));
    }
    Ok(Request::Receive(email))
}

/// Writes a reply; newlines in its text are replaced so it stays one line.
pub fn write_reply(writer: &mut impl Write, reply: &Reply) -> std::io::Result<()> {
    let (word, text) = match reply {
        Reply::Accepted(t) => ("ACCEPTED", t),
        Reply::Dropped(t) => ("DROPPED", t),
        Reply::TempFail(t) => ("TEMPFAIL", t),
        Reply::Status(t) => ("STATUS", t),
    };
    writeln!(writer, "{word} {}", text.replace(['\n', '\r'], " "))?;
    writer.flush()
}

/// Reads a reply.
pub fn read_reply(reader: &mut impl BufRead) -> Result<Reply, ProtocolError> {
    let line = read_line(reader)?;
    let (word, text) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    let text = text.to_owned();
    match word {
        "ACCEPTED" => Ok(Reply::Accepted(text)),
        "DROPPED" => Ok(Reply::Dropped(text)),
        "TEMPFAIL" => Ok(Reply::TempFail(text)),
        "STATUS" => Ok(Reply::Status(text)),
        _ => Err(ProtocolError::Unexpected(line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn receive_request_round_trips_with_binary_content() {
        let email = b"From: a\r\n\r\nline\nRECEIVE 3\n\0\xff".to_vec();
        let mut buf = Vec::new();
        write_request(&mut buf, &Request::Receive(email.clone())).unwrap();
        let got = read_request(&mut Cursor::new(buf), 1024).unwrap();
        assert_eq!(got, Request::Receive(email));
    }

    #[test]
    fn oversized_email_is_refused_before_reading_it() {
        let mut buf = b"RECEIVE 2000\n".to_vec();
        buf.extend([0u8; 10]);
        assert!(matches!(
            read_request(&mut Cursor::new(buf), 1000),
            Err(ProtocolError::TooLarge {
                len: 2000,
                max: 1000
            })
        ));
    }

    #[test]
    fn truncated_email_is_an_error() {
        let buf = b"RECEIVE 20\nshort".to_vec();
        assert!(read_request(&mut Cursor::new(buf), 1000).is_err());
    }

    #[test]
    fn replies_stay_on_one_line() {
        let mut buf = Vec::new();
        write_reply(&mut buf, &Reply::TempFail("a\nb".into())).unwrap();
        assert_eq!(
            read_reply(&mut Cursor::new(buf)).unwrap(),
            Reply::TempFail("a b".into())
        );
    }
}
