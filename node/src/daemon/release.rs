//! The releaser: submits spooled items to the MTA when they fall due, and
//! removes each only after the MTA accepted it. A failed submission stays
//! in the spool and is retried with exponential backoff.

use super::{reload_directory, Shared};
use crate::store::{SpoolEntry, SpoolItem};
use mixmailer::carrier::write_carrier;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

/// Items submitted per round before looking at the clock and signals again.
const BATCH: usize = 64;
/// The longest the releaser sleeps without looking again.
const MAX_SLEEP: Duration = Duration::from_secs(5);
/// How often incomplete messages are checked for expiry.
const EXPIRE_EVERY: Duration = Duration::from_secs(600);
/// How often the directory file is checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// Delay before retry number `attempts`: 30 s doubling up to one hour.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let secs = 30u64 << (attempts.clamp(1, 8) - 1);
    Duration::from_secs(secs.min(3600))
}

fn random_id() -> String {
    let mut id = [0u8; 16];
    if rand_core::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut id).is_err() {
        // A Message-ID needs uniqueness, not secrecy.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        id = nanos.to_be_bytes();
    }
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Submits one item; on failure reschedules it.
pub(crate) fn release(shared: &Shared, id: u64, entry: SpoolEntry, now: SystemTime) {
    let own = &shared.config.address;
    let result = match &entry.item {
        SpoolItem::Forward { next_hop, packet } => {
            let domain = own.rsplit_once('@').map_or("mixmailer.invalid", |(_, d)| d);
            let email = write_carrier(
                own,
                next_hop,
                now,
                &format!("{}@{domain}", random_id()),
                packet,
            );
            shared
                .sendmail
                .submit(own, std::slice::from_ref(next_hop), &email, false)
        }
        SpoolItem::Deliver {
            recipients,
            message,
        } => shared
            .sendmail
            .submit(shared.config.delivery_sender(), recipients, message, true),
    };
    let what = match &entry.item {
        SpoolItem::Forward { next_hop, .. } => format!("forwarded a packet to {next_hop}"),
        SpoolItem::Deliver { recipients, .. } => {
            format!("delivered a message to {} recipients", recipients.len())
        }
    };
    let mut state = shared.lock();
    let store = state.node.store_mut();
    match result {
        Ok(()) => match store.remove_spooled(id) {
            Ok(()) => tracing::info!("{what}"),
            // Submitted but still spooled: it will go out once more, and the
            // next hop drops the copy as a replay.
            Err(e) => tracing::error!("{what}, but could not remove it from the spool: {e}"),
        },
        Err(e) if e.is_temporary() => {
            let retry = backoff(entry.attempts.saturating_add(1));
            match store.defer(id, now + retry) {
                Ok(n) => tracing::warn!(
                    "submitting failed (attempt {n}), retrying in {} s: {e}",
                    retry.as_secs()
                ),
                Err(se) => tracing::error!("submitting failed: {e}; rescheduling failed too: {se}"),
            }
        }
        Err(e) => match store.remove_spooled(id) {
            Ok(()) => tracing::error!("dropped an item that can never be submitted: {e}"),
            Err(se) => tracing::error!("cannot submit an item ({e}) nor remove it: {se}"),
        },
    }
}

/// Expires incomplete messages past their time, in one transaction.
pub(crate) fn expire(shared: &Shared, now: SystemTime) {
    let mut state = shared.lock();
    match state.node.expire(now) {
        Ok(0) => {}
        Ok(n) => tracing::info!("dropped {n} incomplete messages whose fragments expired"),
        Err(e) => tracing::warn!("expiring fragments failed: {e}"),
    }
}

/// Runs until shutdown.
pub(crate) fn release_loop(shared: &Shared) {
    let mut last_expire: Option<Instant> = None;
    let mut last_reload = Instant::now();
    while !shared.shutdown.load(Ordering::SeqCst) {
        let now = SystemTime::now();
        if last_expire.is_none_or(|t| t.elapsed() >= EXPIRE_EVERY) {
            expire(shared, now);
            last_expire = Some(Instant::now());
        }
        if last_reload.elapsed() >= RELOAD_EVERY {
            reload_directory(shared, false);
            last_reload = Instant::now();
        }
        let due = match shared.reader.due(now, BATCH) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!("reading the spool failed: {e}");
                shared.wait(MAX_SLEEP);
                continue;
            }
        };
        let full_batch = due.len() == BATCH;
        for (id, entry) in due {
            if shared.shutdown.load(Ordering::SeqCst) {
                return;
            }
            let now = SystemTime::now();
            let released = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                release(shared, id, entry.clone(), now)
            }));
            if released.is_err() {
                tracing::error!("releasing an item panicked (a bug); retrying it later");
                let mut state = shared.lock();
                let _ = state
                    .node
                    .store_mut()
                    .defer(id, now + backoff(entry.attempts + 1));
            }
        }
        if full_batch {
            continue;
        }
        let sleep = match shared.reader.next_due() {
            Ok(Some(t)) => t
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP),
            _ => MAX_SLEEP,
        };
        if !sleep.is_zero() {
            shared.wait(sleep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_is_capped_at_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(3), Duration::from_secs(120));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}
