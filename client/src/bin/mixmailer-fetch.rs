//! `mixmailer-fetch`: one call of `DirectoryClient::fetch_if_due` from the
//! command line, for operators, mirrors' cron jobs and tests
//! (docs/authority.md section 9).
//!
//! Exit status: 0 a verified document (fetched now, or cached and not due);
//! 3 a fetch was due, every mirror failed, the still-valid cached document
//! was used; 1 no valid document (or the cache cannot be read or written);
//! 2 bad arguments.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mixmailer::time::format_directory_time;
use mixmailer_client::{DirectoryClient, Fetched, Source};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

const USAGE: &str = "\
usage: mixmailer-fetch --cache PATH --mirror URL [--mirror URL]...
                       --trusted KEY [--trusted KEY]... [--threshold N]
                       [--timeout SECONDS]

Returns the verified directory: the cached one at PATH while no fetch is
due (PATH.due), else the first mirror's, in the order given, that serves
a document signed by at least N (default 1) of the trusted authority keys
(base64 Ed25519) and not older than the cached one; it is written to PATH
atomically. Prints where it came from, its validity, its nodes and when
to call again. --timeout: seconds per mirror (default 30).

exit status: 0 verified document (fetched, or cached and not due)
             3 every mirror failed; the still-valid cached document was used
             1 no valid document, or the cache could not be read or written
             2 bad arguments";

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_STALE: u8 = 3;

struct Args {
    cache: PathBuf,
    mirrors: Vec<String>,
    trusted: Vec<[u8; 32]>,
    threshold: usize,
    timeout: Option<Duration>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut cache = None;
    let mut mirrors = Vec::new();
    let mut trusted = Vec::new();
    let mut threshold = 1;
    let mut timeout = None;
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--cache" => cache = Some(PathBuf::from(value()?)),
            "--mirror" => mirrors.push(value()?),
            "--trusted" => {
                let key = value()?;
                let bytes: [u8; 32] = B64
                    .decode(key.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| format!("--trusted {key:?}: not base64 of 32 bytes"))?;
                trusted.push(bytes);
            }
            "--threshold" => {
                let v = value()?;
                threshold = v
                    .parse()
                    .map_err(|_| format!("--threshold {v:?}: not a number"))?;
            }
            "--timeout" => {
                let v = value()?;
                let secs: u64 =
                    v.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("--timeout {v:?}: not a positive number of seconds")
                    })?;
                timeout = Some(Duration::from_secs(secs));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let cache = cache.ok_or("--cache is required")?;
    if mirrors.is_empty() {
        return Err("give at least one --mirror".into());
    }
    if trusted.is_empty() {
        return Err("give at least one --trusted key".into());
    }
    Ok(Some(Args {
        cache,
        mirrors,
        trusted,
        threshold,
        timeout,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("mixmailer-fetch: {e}\n\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut client = DirectoryClient::new(args.mirrors, args.trusted, args.threshold);
    if let Some(total) = args.timeout {
        client = client.with_timeouts(total.min(Duration::from_secs(10)), total);
    }
    match client.fetch_if_due(&args.cache, SystemTime::now()) {
        Ok(fetched) => {
            report(&fetched);
            match &fetched.source {
                Source::CacheAfterFailure(failures) => {
                    for f in failures {
                        eprintln!("mixmailer-fetch: {f}");
                    }
                    ExitCode::from(EXIT_STALE)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("mixmailer-fetch: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// One `field: value` per line, so scripts can pick what they need.
fn report(fetched: &Fetched) {
    let source = match &fetched.source {
        Source::Cache => "cache".to_owned(),
        Source::Fetched { mirror } => format!("mirror {mirror}"),
        Source::CacheAfterFailure(_) => "cache (every mirror failed)".to_owned(),
    };
    let params = fetched.directory.params();
    println!("source: {source}");
    println!("network: {}", params.network);
    println!("valid-after: {}", format_directory_time(params.valid_after));
    println!("valid-until: {}", format_directory_time(params.valid_until));
    println!("signatures: {}", fetched.directory.signers().len());
    println!("nodes: {}", fetched.directory.nodes().len());
    for node in fetched.directory.nodes() {
        println!(
            "node: {} layer {} {}",
            node.nickname(),
            node.layer(),
            node.address()
        );
    }
    println!("next-fetch: {}", format_directory_time(fetched.next_fetch));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn mirrors_keep_their_order_and_keys_decode() {
        let a = parse(&[
            "--cache",
            "/tmp/c",
            "--mirror",
            "http://b",
            "--mirror",
            "http://a",
            "--trusted",
            KEY,
            "--threshold",
            "1",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.mirrors, ["http://b", "http://a"]);
        assert_eq!(a.trusted, [[0u8; 32]]);
        assert_eq!(a.threshold, 1);
    }

    #[test]
    fn mistakes_are_named() {
        let e = |args: &[&str]| parse(args).err().unwrap();
        assert!(e(&["--mirror", "http://a", "--trusted", KEY]).contains("--cache"));
        assert!(e(&["--cache", "c", "--trusted", KEY]).contains("--mirror"));
        assert!(e(&["--cache", "c", "--mirror", "m"]).contains("--trusted"));
        assert!(e(&["--cache", "c", "--mirror", "m", "--trusted", "xyz"]).contains("base64"));
        assert!(e(&[
            "--cache",
            "c",
            "--mirror",
            "m",
            "--trusted",
            KEY,
            "--threshold",
            "two"
        ])
        .contains("--threshold"));
        assert!(e(&["--cache"]).contains("needs a value"));
        assert!(e(&["--bogus"]).contains("--bogus"));
        assert!(parse(&["--help"]).unwrap().is_none());
    }
}
