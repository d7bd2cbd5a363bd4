//! The fetcher: keeps `directory_file` current with the directory client
//! (`DirectoryClient::fetch_if_due`, the file as its cache, verified with
//! the node's trusted authorities and threshold), sleeping until the due
//! time it returns, and hands every new document to the node.

use super::Joiner;
use mixmailer::time::format_directory_time;
use mixmailer_client::{DirectoryClient, Source};
use std::time::{Duration, SystemTime};

/// The longest sleep between two calls: the cache is verified again this
/// often, so a moved clock or an edited file is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(120);
/// Wait after a failure with no usable document while the node is not
/// listed: a new network publishes its first document only once enough
/// nodes registered, and nodes should start soon after it.
const RETRY_WHILE_JOINING: Duration = Duration::from_secs(10);

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
    while !joiner.is_stopped() {
        let now = config.clock(SystemTime::now());
        let wait = match client.fetch_if_due(&config.directory_file, now) {
            Ok(fetched) => {
                let problem = match &fetched.source {
                    Source::Fetched { mirror } => {
                        tracing::info!(
                            "fetched a new directory from {mirror} (valid-after {})",
                            format_directory_time(fetched.directory.params().valid_after)
                        );
                        joiner.new_document();
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
        joiner.sleep(wait.clamp(Duration::from_secs(1), MAX_SLEEP));
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
