//! `mixmailer-node status`: spool depth, asked of the running daemon, or
//! read from the store directly when the daemon is not running.

use crate::config::Config;
use crate::protocol::{read_reply, write_request, Reply, Request};
use crate::store::{from_millis, RedbStore, StoreStats};
use mixmailer::time::format_directory_time;
use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime};

/// Where the numbers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The running daemon.
    Daemon,
    /// The store file (no daemon running).
    Store,
}

fn ask_daemon(config: &Config) -> Result<StoreStats, String> {
    let stream = UnixStream::connect(config.socket_path()).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    write_request(&mut writer, &Request::Status).map_err(|e| e.to_string())?;
    match read_reply(&mut BufReader::new(stream)).map_err(|e| e.to_string())? {
        Reply::Status(json) => serde_json::from_str(&json).map_err(|e| e.to_string()),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

/// The store's statistics, from the daemon if it runs.
pub fn stats(config: &Config) -> Result<(StoreStats, Source), String> {
    match ask_daemon(config) {
        Ok(stats) => Ok((stats, Source::Daemon)),
        Err(daemon_error) => {
            let path = config.database_path();
            if !path.exists() {
                return Err(format!(
                    "the daemon is not reachable ({daemon_error}) and there is no store at {}",
                    path.display()
                ));
            }
            let store = RedbStore::open(&path, config.max_store_bytes).map_err(|e| {
                format!("the daemon is not reachable ({daemon_error}) and the store cannot be opened: {e}")
            })?;
            Ok((store.stats().map_err(|e| e.to_string())?, Source::Store))
        }
    }
}

/// The report `status` prints.
pub fn report(stats: &StoreStats, source: Source, now: SystemTime) -> String {
    let next = match stats.next_release_ms {
        Some(ms) => {
            let at = from_millis(ms);
            let wait = at.duration_since(now).unwrap_or(Duration::ZERO).as_secs();
            format!("{} (in {wait} s)", format_directory_time(at))
        }
        None => "none".to_owned(),
    };
    // Counted by the daemon's store since it started; a store opened
    // just for this report has committed nothing.
    let commits = match source {
        Source::Daemon => format!("{} since the start", stats.commits),
        Source::Store => "unknown (daemon not running)".to_owned(),
    };
    let origin = match source {
        Source::Daemon => "daemon running",
        Source::Store => "daemon NOT running; read from the store",
    };
    format!(
        "status:              {origin}\n\
         packets waiting:     {}\n\
         deliveries waiting:  {}\n\
         retrying:            {}\n\
         submitting:          {}\n\
         next release:        {next}\n\
         held messages:       {}\n\
         held fragments:      {}\n\
         complete messages:   {}\n\
         delivered marks:     {}\n\
         replay tags:         {}\n\
         unknown next hops:   {}\n\
         store use:           {} of {} bytes\n\
         store commits:       {commits}\n",
        stats.forwards_waiting,
        stats.deliveries_waiting,
        stats.retrying,
        stats.submitting,
        stats.held_messages,
        stats.held_fragments,
        stats.complete_messages,
        stats.delivered_marks,
        stats.replay_tags,
        stats.unknown_hops,
        stats.bytes_used,
        stats.bytes_limit,
    )
}

/// The `[join]` part of the report: whether the directory file lists the
/// node, and each authority's answer to its newest publication.
pub fn join_report(config: &Config, now: SystemTime) -> String {
    let record = crate::publication::Record::read(&config.spool_dir);
    let identity = record
        .as_ref()
        .and_then(|r| crate::keyfile::decode_public(&r.identity).ok());
    let directory = crate::daemon::load_directory(config, now).map_err(|e| e.to_string());
    let listing = match (&directory, identity) {
        (Err(e), _) => format!("none usable ({e})"),
        (Ok(_), None) => "not published yet".to_owned(),
        (Ok(d), Some(id)) => match d.node_by_identity(&id) {
            Some(entry) => format!(
                "lists this node as {} <{}>, layer {} of {}; valid until {}",
                entry.nickname(),
                entry.address(),
                entry.layer(),
                d.params().hops,
                format_directory_time(d.params().valid_until)
            ),
            None => format!(
                "does not list this node (valid until {})",
                format_directory_time(d.params().valid_until)
            ),
        },
    };
    let mut out = format!("directory:           {listing}\n");
    match record {
        Some(r) => {
            out.push_str("published to:\n");
            out.push_str(&r.report());
        }
        None => out.push_str("published to:        nothing yet\n"),
    }
    out
}

/// The key periods whose secret keys are on disk, and which one is current
/// by the directory file's key period (else `[join]`'s): an operator sees
/// at once whether keys are made ahead and old ones deleted.
pub fn keys_report(config: &Config, now: SystemTime) -> String {
    let dir = config.key_dir();
    // Never create the directory just to report on it.
    let periods = if dir.is_dir() {
        crate::keyfile::PeriodKeyDir::open(&dir)
            .and_then(|d| d.periods())
            .map_err(|e| e.to_string())
    } else {
        Ok(Vec::new())
    };
    let key_period = crate::daemon::load_directory(config, now)
        .ok()
        .map(|d| d.params().key_period)
        .or_else(|| {
            config
                .join
                .as_ref()
                .map(|j| Duration::from_secs(j.key_period))
        });
    let current = key_period
        .map(|t| format!("current {}", mixmailer::period::period_of(now, t)))
        .unwrap_or_else(|| "current unknown (no valid directory)".to_owned());
    match periods {
        Ok(p) if p.is_empty() => format!("key periods:         none on disk; {current}\n"),
        Ok(p) => format!(
            "key periods:         {} on disk; {current}\n",
            p.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
        Err(e) => format!("key periods:         unreadable ({e}); {current}\n"),
    }
}
