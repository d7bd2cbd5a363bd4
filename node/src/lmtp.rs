//! The server side of LMTP (RFC 2033), as the MTA's `lmtp` client speaks
//! it to the daemon: LHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, and after
//! the message one reply per accepted recipient, sent only once the
//! message's fate is known (for the daemon: once it is committed).
//!
//! Written here rather than taken from a crate: the maintained Rust SMTP
//! server crates are SMTP-only or async frameworks, and LMTP's point, the
//! per-recipient reply after DATA, is what this module exists for. It is a
//! plain state machine over a [`BufRead`] and a [`Write`], fuzzed by
//! `fuzz/fuzz_targets/lmtp.rs`, with hard limits: a command or text line
//! is at most [`MAX_LINE`] bytes (RFC 5321 4.5.3.1.6, CRLF included), a
//! message at most [`Limits::max_message`] bytes, a transaction at most
//! [`Limits::max_recipients`] recipients, and a session at most
//! [`MAX_ERRORS`] refused commands in a row. Memory per session is bounded
//! by the message limit plus one line.

use std::io::{BufRead, Read, Write};

/// Longest command or message line, CRLF included (RFC 5321 4.5.3.1.6).
/// Postfix's `lmtp_line_length_limit` (998) folds longer message lines.
pub const MAX_LINE: usize = 1000;
/// Refused commands in a row after which the session is closed.
pub const MAX_ERRORS: usize = 20;

/// Per-session limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest message accepted (after dot-unstuffing), advertised as SIZE.
    pub max_message: usize,
    /// Most recipients in one transaction; more get 452 and the client
    /// sends them in another transaction (RFC 5321 4.5.3.1.10).
    pub max_recipients: usize,
}

/// One message as the client handed it over.
#[derive(Debug, PartialEq, Eq)]
pub struct Message {
    /// The reverse path, without angle brackets (empty for bounces).
    pub sender: String,
    /// The forward paths accepted by RCPT, in order.
    pub recipients: Vec<String>,
    /// The content, dot-unstuffed, each line ending in CRLF.
    pub data: Vec<u8>,
}

/// The fate of a message, given once for all its recipients (a carrier is
/// processed once, whoever it is addressed to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Taken (kept or deliberately dropped): 250, the client forgets it.
    Done(String),
    /// Not taken now: 451, the client keeps it and retries.
    Retry(String),
}

/// How a session ended without an I/O error.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The client said QUIT.
    Quit,
    /// The client closed the connection.
    Closed,
    /// Too many refused commands: the server closed it.
    TooManyErrors,
}

/// One input line.
enum Line {
    /// Its content without the line ending.
    Text(Vec<u8>),
    /// Longer than [`MAX_LINE`]; the rest of it was read and thrown away.
    TooLong,
    /// The connection ended (possibly in the middle of a line).
    Eof,
}

fn read_line(input: &mut impl BufRead) -> std::io::Result<Line> {
    let mut line = Vec::with_capacity(128);
    let n = input
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)?;
    if line.ends_with(b"\n") {
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        return Ok(Line::Text(line));
    }
    if n < MAX_LINE {
        return Ok(Line::Eof);
    }
    // Skip to the end of the line, a bounded chunk at a time.
    loop {
        let mut rest = Vec::new();
        let n = input
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut rest)?;
        if rest.ends_with(b"\n") {
            return Ok(Line::TooLong);
        }
        if n == 0 {
            return Ok(Line::Eof);
        }
    }
}

/// Replies never carry CR or LF from the verdict's text (which would
/// inject replies), nor anything outside printable ASCII.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .take(400)
        .collect()
}

/// `FROM:<path> params` or `TO:<path> params` -> (path, params).
fn parse_path<'a>(arg: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg.get(keyword.len()..)?.trim_start_matches(' ');
    let rest = rest.strip_prefix('<')?;
    let (path, params) = rest.split_once('>')?;
    if path.contains(['<', ' ']) {
        return None;
    }
    Some((path, params.trim()))
}

/// The SIZE=n parameter of MAIL, if any (RFC 1870).
fn size_param(params: &str) -> Option<u64> {
    params.split(' ').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.eq_ignore_ascii_case("SIZE").then(|| v.parse().ok())?
    })
}

/// Runs one LMTP session: greets, then answers commands until QUIT, the
/// end of the input, or too many errors. `deliver` is called once per
/// complete message; its verdict is sent once per accepted recipient.
pub fn serve(
    input: &mut impl BufRead,
    output: &mut impl Write,
    host: &str,
    limits: Limits,
    mut deliver: impl FnMut(Message) -> Verdict,
) -> std::io::Result<Ended> {
    let host = clean(host);
    let reply = |output: &mut dyn Write, text: &str| -> std::io::Result<()> {
        output.write_all(text.as_bytes())?;
        output.write_all(b"\r\n")?;
        output.flush()
    };
    reply(output, &format!("220 {host} LMTP ready"))?;
    let mut greeted = false;
    let mut sender: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    let mut errors = 0usize;
    loop {
        if errors >= MAX_ERRORS {
            reply(output, "421 4.7.0 too many errors, closing")?;
            return Ok(Ended::TooManyErrors);
        }
        let line = match read_line(input)? {
            Line::Eof => return Ok(Ended::Closed),
            Line::TooLong => {
                errors += 1;
                reply(output, "500 5.5.2 line too long")?;
                continue;
            }
            Line::Text(line) => line,
        };
        let Ok(line) = String::from_utf8(line) else {
            errors += 1;
            reply(output, "500 5.5.2 command is not ASCII")?;
            continue;
        };
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let verb = verb.to_ascii_uppercase();
        let answer: String = match verb.as_str() {
            "LHLO" if arg.trim().is_empty() => "501 5.5.4 LHLO needs a host name".into(),
            "LHLO" => {
                greeted = true;
                sender = None;
                recipients.clear();
                format!(
                    "250-{host}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n\
                     250-8BITMIME\r\n250 SIZE {}",
                    limits.max_message
                )
            }
            "HELO" | "EHLO" => "500 5.5.1 this is LMTP: say LHLO (RFC 2033)".into(),
            "MAIL" if !greeted => "503 5.5.1 say LHLO first".into(),
            "MAIL" if sender.is_some() => "503 5.5.1 nested MAIL command".into(),
            "MAIL" => match parse_path(arg, "FROM:") {
                None => "501 5.5.4 syntax: MAIL FROM:<address>".into(),
                Some((_, params))
                    if size_param(params).is_some_and(|n| n > limits.max_message as u64) =>
                {
                    format!("552 5.3.4 message larger than {} bytes", limits.max_message)
                }
                Some((path, _)) => {
                    sender = Some(path.to_owned());
                    "250 2.1.0 sender ok".into()
                }
            },
            "RCPT" if sender.is_none() => "503 5.5.1 need MAIL first".into(),
            "RCPT" => match parse_path(arg, "TO:") {
                None | Some(("", _)) => "501 5.5.4 syntax: RCPT TO:<address>".into(),
                Some(_) if recipients.len() >= limits.max_recipients => {
                    "452 4.5.3 too many recipients".into()
                }
                Some((path, _)) => {
                    recipients.push(path.to_owned());
                    "250 2.1.5 recipient ok".into()
                }
            },
            "DATA" if sender.is_none() => "503 5.5.1 need MAIL first".into(),
            "DATA" if recipients.is_empty() => "503 5.5.1 no valid recipients".into(),
            "DATA" => {
                reply(output, "354 3.0.0 send the message, end with <CRLF>.<CRLF>")?;
                let Some(data) = read_data(input, limits.max_message)? else {
                    return Ok(Ended::Closed);
                };
                let rcpts = std::mem::take(&mut recipients);
                let from = sender.take().unwrap_or_default();
                let each = match data {
                    Data::TooLarge => {
                        format!("552 5.3.4 message larger than {} bytes", limits.max_message)
                    }
                    Data::LongLine => format!(
                        "554 5.6.0 a message line is longer than {MAX_LINE} bytes (RFC 5321)"
                    ),
                    Data::Complete(data) => match deliver(Message {
                        sender: from,
                        recipients: rcpts.clone(),
                        data,
                    }) {
                        Verdict::Done(text) => format!("250 2.0.0 {}", clean(&text)),
                        Verdict::Retry(text) => format!("451 4.3.0 {}", clean(&text)),
                    },
                };
                // RFC 2033 4.2: one reply per accepted RCPT, in order.
                let all = vec![each; rcpts.len()].join("\r\n");
                errors = 0;
                reply(output, &all)?;
                continue;
            }
            "RSET" => {
                sender = None;
                recipients.clear();
                "250 2.0.0 ok".into()
            }
            "NOOP" => "250 2.0.0 ok".into(),
            "VRFY" => "252 2.5.2 cannot verify".into(),
            "QUIT" => {
                reply(output, &format!("221 2.0.0 {host} closing"))?;
                return Ok(Ended::Quit);
            }
            _ => "500 5.5.1 unknown command".into(),
        };
        if answer.starts_with('5') || answer.starts_with('4') {
            errors += 1;
        } else {
            errors = 0;
        }
        reply(output, &answer)?;
    }
}

/// What came after DATA.
enum Data {
    Complete(Vec<u8>),
    TooLarge,
    LongLine,
}

/// Reads a message up to the lone dot; `None` if the connection ended first.
/// An oversized message or line is read to its end and thrown away, so the
/// session stays in step with the client.
fn read_data(input: &mut impl BufRead, max: usize) -> std::io::Result<Option<Data>> {
    let mut data = Vec::new();
    let mut too_large = false;
    let mut long_line = false;
    loop {
        let line = match read_line(input)? {
            Line::Eof => return Ok(None),
            Line::TooLong => {
                long_line = true;
                continue;
            }
            Line::Text(line) => line,
        };
        if line == b"." {
            break;
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if too_large || long_line || data.len() + line.len() + 2 > max {
            too_large |= data.len() + line.len() + 2 > max;
            data = Vec::new();
            continue;
        }
        data.extend_from_slice(line);
        data.extend_from_slice(b"\r\n");
    }
    Ok(Some(if long_line {
        Data::LongLine
    } else if too_large {
        Data::TooLarge
    } else {
        Data::Complete(data)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const LIMITS: Limits = Limits {
        max_message: 100,
        max_recipients: 3,
    };

    /// Runs a session on `input`, delivering with `verdict`; returns the
    /// server's output and the messages it delivered.
    fn session(input: &str, verdict: Verdict) -> (String, Vec<Message>, Ended) {
        let mut out = Vec::new();
        let mut got = Vec::new();
        let ended = serve(
            &mut Cursor::new(input.as_bytes().to_vec()),
            &mut out,
            "node1.test",
            LIMITS,
            |m| {
                got.push(m);
                verdict.clone()
            },
        )
        .unwrap();
        (String::from_utf8(out).unwrap(), got, ended)
    }

    fn codes(out: &str) -> Vec<&str> {
        out.lines()
            .filter(|l| l.as_bytes().get(3) == Some(&b' '))
            .map(|l| &l[..3])
            .collect()
    }

    #[test]
    fn one_reply_per_recipient_after_the_message_in_pipelined_order() {
        let (out, got, ended) = session(
            "LHLO mta.test\r\nMAIL FROM:<a@x.test> SIZE=20\r\nRCPT TO:<mix@node1.test>\r\n\
             RCPT TO:<other@node1.test>\r\nDATA\r\nSubject: s\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
            Verdict::Done("accepted".into()),
        );
        assert_eq!(
            codes(&out),
            ["220", "250", "250", "250", "250", "354", "250", "250", "221"]
        );
        assert!(out.contains("250 2.0.0 accepted\r\n250 2.0.0 accepted\r\n"));
        assert_eq!(ended, Ended::Quit);
        assert_eq!(
            got,
            [Message {
                sender: "a@x.test".into(),
                recipients: vec!["mix@node1.test".into(), "other@node1.test".into()],
                data: b"Subject: s\r\n\r\n.dot\r\n".to_vec(),
            }]
        );
    }

    #[test]
    fn a_retry_verdict_is_a_temporary_failure_for_each_recipient() {
        let (out, _, _) = session(
            "LHLO m\r\nMAIL FROM:<>\r\nRCPT TO:<mix@n.test>\r\nDATA\r\nx\r\n.\r\n",
            Verdict::Retry("store full\r\n250 fake".into()),
        );
        assert!(out.ends_with("451 4.3.0 store full  250 fake\r\n"), "{out}");
    }

    #[test]
    fn several_messages_on_one_connection() {
        let one = "MAIL FROM:<a@x>\r\nRCPT TO:<m@n>\r\nDATA\r\nbody\r\n.\r\n";
        let (_, got, _) = session(
            &format!("LHLO m\r\n{one}{one}{one}QUIT\r\n"),
            Verdict::Done("ok".into()),
        );
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn commands_out_of_order_are_refused() {
        let (out, got, _) = session(
            "MAIL FROM:<a@x>\r\nEHLO m\r\nLHLO m\r\nRCPT TO:<m@n>\r\nDATA\r\n\
             MAIL FROM:<a@x>\r\nDATA\r\nMAIL FROM:<b@x>\r\n",
            Verdict::Done("ok".into()),
        );
        assert_eq!(
            codes(&out),
            ["220", "503", "500", "250", "503", "503", "250", "503", "503"]
        );
        assert!(got.is_empty());
    }

    #[test]
    fn oversized_message_is_refused_after_reading_it_and_the_session_goes_on() {
        let big = "x".repeat(60);
        let (out, got, _) = session(
            &format!(
                "LHLO m\r\nMAIL FROM:<a@x>\r\nRCPT TO:<m@n>\r\nDATA\r\n{big}\r\n{big}\r\n.\r\nNOOP\r\n"
            ),
            Verdict::Done("ok".into()),
        );
        assert!(got.is_empty());
        assert_eq!(codes(&out).get(5), Some(&"552"), "{out}");
        assert_eq!(
            codes(&out).last(),
            Some(&"250"),
            "in step after the refusal"
        );
    }

    #[test]
    fn announced_size_over_the_limit_is_refused_at_mail() {
        let (out, _, _) = session(
            "LHLO m\r\nMAIL FROM:<a@x> SIZE=101\r\n",
            Verdict::Done("ok".into()),
        );
        assert!(out.ends_with("552 5.3.4 message larger than 100 bytes\r\n"));
    }

    #[test]
    fn long_lines_are_refused_without_being_kept() {
        let long = "A".repeat(5 * MAX_LINE);
        let (out, got, _) = session(
            &format!(
                "{long}\r\nLHLO m\r\nMAIL FROM:<a@x>\r\nRCPT TO:<m@n>\r\nDATA\r\n{long}\r\n.\r\n"
            ),
            Verdict::Done("ok".into()),
        );
        assert!(got.is_empty());
        assert_eq!(
            codes(&out),
            ["220", "500", "250", "250", "250", "354", "554"]
        );
    }

    #[test]
    fn too_many_recipients_get_452() {
        let (out, _, _) = session(
            "LHLO m\r\nMAIL FROM:<a@x>\r\nRCPT TO:<1@n>\r\nRCPT TO:<2@n>\r\nRCPT TO:<3@n>\r\n\
             RCPT TO:<4@n>\r\n",
            Verdict::Done("ok".into()),
        );
        assert_eq!(codes(&out).last(), Some(&"452"));
    }

    #[test]
    fn a_flood_of_bad_commands_closes_the_session() {
        let (out, _, ended) = session(&"BOGUS\r\n".repeat(100), Verdict::Done("ok".into()));
        assert_eq!(ended, Ended::TooManyErrors);
        assert_eq!(codes(&out).len(), 1 + MAX_ERRORS + 1);
    }

    #[test]
    fn connection_lost_during_data_delivers_nothing() {
        let (_, got, ended) = session(
            "LHLO m\r\nMAIL FROM:<a@x>\r\nRCPT TO:<m@n>\r\nDATA\r\npartial",
            Verdict::Done("ok".into()),
        );
        assert!(got.is_empty());
        assert_eq!(ended, Ended::Closed);
    }
}
