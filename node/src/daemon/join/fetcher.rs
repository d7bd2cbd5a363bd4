//! The fetcher: keeps `directory_file` current with the directory client
//! (`DirectoryClient::fetch_if_due`, the file as its cache, verified with
//! the node's trusted authorities and threshold), sleeping until the due
//! time it returns, and hands every new document to the node.

use super::Joiner;
use mixmailer::time::format_directory_time;
use mixmailer_client::{DirectoryClient, Fetched, Source};
use std::time::{Duration, Instant, SystemTime};

/// The longest sleep between two calls: the cache is verified again this
/// often, so a moved clock or an edited file is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(120);
/// Wait after a failure with no usable document while the node is not
/// listed: a new network publishes its first document only once enough
/// nodes registered, and nodes should start soon after it.
const RETRY_WHILE_JOINING: Duration = Duration::from_secs(10);

/// The shortest time between two fetches when the node asks for a newer
/// document early (a packet named a node it does not list). Enough for a
/// document that has just been published to reach the node well within
/// the MTA's retries, and no more than two requests a minute to the mirrors
/// however many such packets arrive: anyone can make them.
pub(super) const EARLY_FETCH_GAP: Duration = Duration::from_secs(30);

/// Runs until the daemon stops.
pub(super) fn run(joiner: &Joiner) {
    let config = &joiner.config;
    let trusted = match config.trusted_keys() {
        Ok(keys) => keys,
        // Config::parse checked them; this cannot happen.
        Err(e) => {
            tracing::error!("not fetching the directory: trusted_authorities: {e}");
            return;
        }
    };
    let client = DirectoryClient::new(joiner.join.mirrors().to_vec(), trusted, config.threshold);
    let mut last_problem = String::new();
    // Monotonic, so a clock that jumps cannot make the node ask the
    // mirrors in a loop nor never.
    let mut last_asked: Option<Instant> = None;
    let mut early_pending = false;
    let mut last_valid_after = None;
    while !joiner.is_stopped() {
        early_pending |= joiner.take_newer_wanted();
        let early_allowed = last_asked.is_none_or(|t| t.elapsed() >= EARLY_FETCH_GAP);
        let now = config.clock(SystemTime::now());
        let result = if joiner.awaits_listing(last_valid_after) {
            // Waiting for a document that lists this node: the one in hand
            // does not, and its due time can be hours away.
            early_pending = false;
            client.fetch_now(&config.directory_file, now)
        } else if early_pending && early_allowed {
            early_pending = false;
            tracing::info!("asking the mirrors for a newer directory before its due time");
            client.fetch_now(&config.directory_file, now)
        } else {
            client.fetch_if_due(&config.directory_file, now)
        };
        if !matches!(
            result,
            Ok(Fetched {
                source: Source::Cache,
                ..
            })
        ) {
            last_asked = Some(Instant::now());
        }
        let mut wait = match result {
            Ok(fetched) => {
                let problem = match &fetched.source {
                    Source::Fetched { mirror } => {
                        let valid_after = fetched.directory.params().valid_after;
                        if last_valid_after == Some(valid_after) {
                            // An early fetch found the document it had.
                            tracing::debug!("{mirror} has no newer directory yet");
                        } else {
                            tracing::info!(
                                "fetched a new directory from {mirror} (valid-after {})",
                                format_directory_time(valid_after)
                            );
                            last_valid_after = Some(valid_after);
                            joiner.new_document();
                        }
                        String::new()
                    }
                    Source::Cache => String::new(),
                    Source::CacheAfterFailure(errors) => format!(
                        "every mirror failed, keeping the cached directory until it expires: {}",
                        errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                };
                report(&mut last_problem, problem);
                // The client waits at least a minute after a fetch; a
                // document valid for less (a test network) must not
                // expire under the node meanwhile.
                let until = fetched.directory.params().valid_until;
                fetched
                    .next_fetch
                    .min(until)
                    .duration_since(now)
                    .unwrap_or_default()
            }
            Err(e) => {
                report(&mut last_problem, format!("fetching the directory: {e}"));
                if joiner.is_listed() {
                    mixmailer_client::schedule::RETRY_MIN
                } else {
                    RETRY_WHILE_JOINING
                }
            }
        };
        if joiner.awaits_listing(last_valid_after) {
            wait = wait.min(EARLY_FETCH_GAP);
        }
        if early_pending {
            // Asked too soon after the last fetch: come back once allowed,
            // and meanwhile let further requests not wake this thread.
            let since = last_asked.map_or(EARLY_FETCH_GAP, |t| t.elapsed());
            wait = wait.min(EARLY_FETCH_GAP.saturating_sub(since));
        }
        joiner.sleep(
            wait.clamp(Duration::from_secs(1), MAX_SLEEP),
            !early_pending,
        );
    }
}

/// Logs `problem` when it differs from the last one (a mirror down for a
/// day is one warning, not one per attempt), and once when it is over.
fn report(last: &mut String, problem: String) {
    if problem == *last {
        if !problem.is_empty() {
            tracing::debug!("{problem}");
        }
        return;
    }
    if problem.is_empty() {
        tracing::info!("fetching the directory works again");
    } else {
        tracing::warn!("{problem}");
    }
    *last = problem;
}
