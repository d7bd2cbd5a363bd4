//! `[join]`: the node registers by itself (docs/operating.md, "How nodes
//! join"). Two threads run beside the daemon for its whole life, from
//! before the node is listed: the publisher POSTs the node's descriptor to
//! every authority, the fetcher keeps `directory_file` current from the
//! mirrors. Neither ever holds the packet lock while it talks HTTP: the
//! fetcher only takes it, through [`super::reload_directory`], to switch to
//! a document already fetched and written.

mod fetcher;
mod publisher;

use super::Shared;
use crate::config::{Config, Join};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// What the join threads and the daemon's main thread share.
pub(crate) struct Joiner {
    config: Config,
    join: Join,
    stopped: AtomicBool,
    /// Counts the new documents fetched; the main thread waits on it while
    /// the node is not listed yet.
    documents: Mutex<u64>,
    wake: Condvar,
    /// The running node, once it is listed: new documents go to it.
    node: OnceLock<Arc<Shared>>,
    /// Set by the running node when a packet names a next hop its
    /// directory does not list: a newer document may list it, and the
    /// fetcher asks the mirrors before its due time (at most once per
    /// [`fetcher::EARLY_FETCH_GAP`]).
    newer_wanted: AtomicBool,
}

impl Joiner {
    /// Starts the publisher and the fetcher. `config.join` must be set.
    pub(crate) fn start(config: &Config) -> Option<Arc<Joiner>> {
        let join = config.join.clone()?;
        let joiner = Arc::new(Joiner {
            config: config.clone(),
            join,
            stopped: AtomicBool::new(false),
            documents: Mutex::new(0),
            wake: Condvar::new(),
            node: OnceLock::new(),
            newer_wanted: AtomicBool::new(false),
        });
        let (p, f) = (Arc::clone(&joiner), Arc::clone(&joiner));
        std::thread::spawn(move || publisher::run(&p));
        std::thread::spawn(move || fetcher::run(&f));
        Some(joiner)
    }

    /// Hands the running node to the fetcher, which from now on loads every
    /// new document into it.
    pub(crate) fn attach(self: &Arc<Self>, shared: &Arc<Shared>) {
        let _ = self.node.set(Arc::clone(shared));
        // Weak: the joiner already holds the node; a cycle would only
        // matter at exit, but there is no reason for one.
        let _ = shared.joiner.set(Arc::downgrade(self));
        // A document fetched while the node was opening went to nobody.
        super::reload_directory(shared, false);
    }

    /// Ends both threads' sleeps; they stop before their next round.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _guard = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// How many new documents were fetched so far.
    pub(crate) fn documents(&self) -> u64 {
        *self.documents.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits up to `timeout` for a document after the `seen`-th, or a stop.
    pub(crate) fn wait_for_document(&self, seen: u64, timeout: Duration) {
        let count = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .wake
            .wait_timeout_while(count, timeout, |n| *n == seen && !self.is_stopped());
    }

    /// Asks the fetcher for a newer document than the one the node has.
    pub(crate) fn want_newer_document(&self) {
        // Under the lock, so a fetcher about to sleep cannot miss it.
        let _guard = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        self.newer_wanted.store(true, Ordering::SeqCst);
        self.wake.notify_all();
    }

    /// Takes the request of [`Self::want_newer_document`], if any.
    fn take_newer_wanted(&self) -> bool {
        self.newer_wanted.swap(false, Ordering::SeqCst)
    }

    /// Sleeps up to `timeout`, less if the daemon stops or, with
    /// `wake_on_request`, if a newer document is wanted.
    fn sleep(&self, timeout: Duration, wake_on_request: bool) {
        let count = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.wake.wait_timeout_while(count, timeout, |_| {
            let wanted = wake_on_request && self.newer_wanted.load(Ordering::SeqCst);
            !(self.is_stopped() || wanted)
        });
    }

    /// A new document is in `directory_file`: the running node loads it
    /// (as on SIGHUP), or the main thread waiting to be listed looks at it.
    fn new_document(&self) {
        if let Some(shared) = self.node.get() {
            // Not forced: the file's new time stamp makes it load, unless
            // the releaser's periodic look already did.
            super::reload_directory(shared, false);
        }
        *self.documents.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.wake.notify_all();
    }

    /// True once the node runs (it was listed).
    fn is_listed(&self) -> bool {
        self.node.get().is_some()
    }

    /// True while the node waits for a document that lists it: before it
    /// started, and while the newest document fetched (valid after
    /// `newest`) was not loaded because it leaves the node out or lists
    /// an old address or old keys. The node then runs on an older
    /// document, which expires.
    fn awaits_listing(&self, newest: Option<std::time::SystemTime>) -> bool {
        let Some(shared) = self.node.get() else {
            return true;
        };
        newest.is_some_and(|newest| shared.lock().node.directory().params().valid_after < newest)
    }
}
