//! The publisher: signs the node's descriptor and POSTs it to every
//! authority at start, at the start of every key period (so the newest
//! published key is always at least P(now) + 2 and the descriptor stays
//! fresh, docs/authority.md section 6), and every [`RETRY`] to each
//! authority that was unreachable or answered 5xx. A refusal (4xx) is not
//! retried before the next period: it needs the operator (config, clock),
//! and its reason is in the log and in `status`.

use super::Joiner;
use crate::descriptor::{self, Terms};
use crate::keyfile::encode_public;
use crate::publication::{self, Answer, Record};
use crate::publish::{publish_descriptor, PublishError};
use mixmailer::period::{period_of, period_start};
use mixmailer::time::format_directory_time;
use std::time::{Duration, SystemTime};

/// Wait before sending again to an authority that could not take it.
pub(crate) const RETRY: Duration = Duration::from_secs(60);
/// The longest sleep: the clock is looked at again this often (a moved
/// test clock, a suspended machine).
const MAX_SLEEP: Duration = Duration::from_secs(5);

/// Whether `e` may go away without the operator: the authority was down
/// or failed on its side.
fn worth_retrying(e: &PublishError) -> bool {
    match e {
        PublishError::Unreachable { .. } => true,
        PublishError::Refused { status, .. } => *status >= 500,
    }
}

/// The answer as kept for `status`.
fn answer(url: &str, result: &Result<(), PublishError>, at: SystemTime) -> Answer {
    let (outcome, detail) = match result {
        Ok(()) => ("stored", String::new()),
        Err(PublishError::Refused { status, reason, .. }) => {
            ("refused", format!("({status}) {reason}"))
        }
        Err(PublishError::Unreachable { message, .. }) => ("unreachable", message.clone()),
    };
    Answer {
        authority: url.to_owned(),
        outcome: outcome.to_owned(),
        detail,
        at: format_directory_time(at),
    }
}

/// Runs until the daemon stops.
pub(super) fn run(joiner: &Joiner) {
    let config = &joiner.config;
    let terms = Terms::of_join(&joiner.join);
    let spool = &config.spool_dir;
    match publication::read_address(spool) {
        Some(old) if old != config.address => tracing::info!(
            "the address changed from {old} to {} since the last publication; publishing the new one",
            config.address
        ),
        _ => {}
    }
    let mut record = Record::read(spool).unwrap_or_default();
    record
        .answers
        .retain(|a| joiner.join.authorities.contains(&a.authority));
    let mut published_period: Option<u64> = None;
    let mut failed: Vec<String> = Vec::new();
    // On the daemon's clock, so tests can move it; a clock set back by
    // more than RETRY does not postpone the retry.
    let mut retry_at = SystemTime::UNIX_EPOCH;
    while !joiner.is_stopped() {
        let now = config.clock(SystemTime::now());
        let period = period_of(now, terms.key_period);
        let retry_due = now >= retry_at || retry_at > now + RETRY;
        let targets = if published_period != Some(period) {
            joiner.join.authorities.clone()
        } else if !failed.is_empty() && retry_due {
            failed.clone()
        } else {
            Vec::new()
        };
        if !targets.is_empty() {
            published_period = Some(period);
            failed = publish(joiner, &terms, &targets, now, &mut record);
            retry_at = now + RETRY;
            if !failed.is_empty() {
                tracing::info!(
                    "sending the descriptor again in {} s to {}",
                    RETRY.as_secs(),
                    failed.join(", ")
                );
            }
        }
        let next_period = period_start(period.saturating_add(1), terms.key_period)
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        let mut sleep = next_period.min(MAX_SLEEP);
        if !failed.is_empty() {
            sleep = sleep.min(retry_at.duration_since(now).unwrap_or_default());
        }
        joiner.sleep(sleep.max(Duration::from_millis(100)), false);
    }
}

/// One publication to `targets`; returns those to try again.
fn publish(
    joiner: &Joiner,
    terms: &Terms,
    targets: &[String],
    now: SystemTime,
    record: &mut Record,
) -> Vec<String> {
    let config = &joiner.config;
    let signed = match descriptor::sign(config, terms, now) {
        Ok(signed) => signed,
        Err(e) => {
            tracing::error!(
                "cannot make the descriptor to publish (trying again in {} s): {e}",
                RETRY.as_secs()
            );
            return targets.to_vec();
        }
    };
    let results = publish_descriptor(&signed, targets);
    let stored = results.iter().filter(|r| r.is_ok()).count();
    tracing::info!(
        "published the descriptor of {} ({}, {}) at {}: stored by {stored} of {} authorities",
        terms.nickname,
        terms.role.as_str(),
        config.address,
        format_directory_time(now),
        targets.len()
    );
    if stored > 0 {
        if let Err(e) = publication::write_address(&config.spool_dir, &config.address) {
            tracing::warn!("cannot remember the published address in the spool directory: {e}");
        }
    }
    record.nickname = terms.nickname.clone();
    record.address = config.address.clone();
    if let Ok(parsed) = mixmailer::descriptor::Descriptor::parse(&signed) {
        record.identity = encode_public(&parsed.identity);
    }
    let mut again = Vec::new();
    for (url, result) in targets.iter().zip(&results) {
        record.set(answer(url, result, now));
        if let Err(e) = result {
            if worth_retrying(e) {
                again.push(url.clone());
            }
        }
    }
    if let Err(e) = record.write(&config.spool_dir) {
        tracing::warn!("cannot write the publication record for `status`: {e}");
    }
    again
}
