//! `mixmailer-node run`: owns the store, accepts carrier emails from
//! `receive` on a Unix socket, and releases spooled items to the MTA when
//! they fall due.
//!
//! Logging rule: nothing that links an incoming packet to an outgoing one.
//! Receipt is logged without next hop or delay; a forward is logged when
//! it is released, with its next hop but nothing about its arrival.

mod assemble;
mod handle;
mod join;
mod periods;
mod release;
mod server;

use crate::config::Config;
use crate::config::SubmitMethod;
use crate::keyfile::PeriodKeyDir;
use crate::store::{check_private, RedbStore, StoreError};
use crate::submit::{Sendmail, Smtp, Submitter};
use mixmailer::keys::NodeIdentityKey;
use mixmailer::node::NodeKeys;
use mixmailer::{Directory, MixNode};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, SystemTime};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The identity key file or a period key could not be read or written.
    #[error("key: {0}")]
    Key(#[from] crate::keyfile::KeyFileError),
    /// The directory file could not be read.
    #[error("cannot read directory {path}: {source}")]
    DirectoryRead {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The directory was refused, or does not list this node.
    #[error("directory {path}: {source}")]
    Directory {
        /// The file.
        path: String,
        /// The library's reason.
        source: mixmailer::Error,
    },
    /// The configuration's trusted keys are malformed.
    #[error("config: trusted_authorities: {0}")]
    Trusted(String),
    /// The node's address differs from the directory's entry for its key.
    #[error("config address {config:?} differs from the directory's address {directory:?} for this node's key")]
    AddressMismatch {
        /// From the config.
        config: String,
        /// From the directory.
        directory: String,
    },
    /// The spool directory or socket could not be set up.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being set up.
        what: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store could not be opened, or the spool is not private
    /// ([`StoreError::TooOpen`], [`StoreError::NotOwned`]).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The `[outgoing]` SMTP server is not usable.
    #[error("config: outgoing.smtp: {0}")]
    Submit(String),
    /// Signal handlers could not be installed.
    #[error("signals: {0}")]
    Signals(std::io::Error),
}

/// The node, its key directory, and what it needs to follow a new directory.
pub(crate) struct NodeState {
    pub(crate) node: MixNode<RedbStore>,
    /// The node's identity public key.
    identity: [u8; 32],
    /// Where its period keys live.
    keys: PeriodKeyDir,
    /// The key period of the last completed rotation.
    rotated_period: Option<u64>,
    directory_stamp: Option<SystemTime>,
}

/// A flag one thread sets to wake another that sleeps on it.
#[derive(Default)]
pub(crate) struct Wakeup {
    woken: Mutex<bool>,
    cond: Condvar,
}

impl Wakeup {
    /// Wakes the sleeper, or makes its next [`Self::wait`] return at once.
    pub(crate) fn notify(&self) {
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_all();
    }

    /// Sleeps up to `timeout` or until [`Self::notify`].
    pub(crate) fn wait(&self, timeout: Duration) {
        let woken = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        let (mut woken, _) = self
            .cond
            .wait_timeout_while(woken, timeout, |woken| !*woken)
            .unwrap_or_else(|e| e.into_inner());
        *woken = false;
    }
}

/// What the threads share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) state: Mutex<NodeState>,
    /// A handle for reads (due items, stats) that needs no lock.
    pub(crate) reader: RedbStore,
    /// How items are submitted to the MTA (SMTP or the sendmail program).
    pub(crate) sendmail: Submitter,
    /// Wakes the releaser.
    wake: Wakeup,
    /// Wakes the exit's assembly worker: a message is complete.
    pub(crate) assembly: Wakeup,
    pub(crate) shutdown: AtomicBool,
    /// Set when a carrier was refused for a full store: the releaser runs
    /// an expiry pass at once instead of waiting for its schedule.
    pub(crate) expire_requested: AtomicBool,
    /// Items handed to the MTA whose outcome the store could not record
    /// yet (it failed); kept in memory and written once it works again.
    /// They are marked as submitting in the store, so nothing sends them
    /// again meanwhile.
    pub(crate) unsettled: Mutex<Vec<(u64, release::Settle)>>,
    /// With `[join]`: the thread that fetches the directory, asked for a
    /// newer document when a packet names a node this one does not list.
    pub(crate) joiner: OnceLock<Weak<join::Joiner>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, NodeState> {
        // A panic in another thread must not stop the node; the store's
        // transactions keep the data consistent whatever happened.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the releaser (a new item may be due earlier than it thought).
    pub(crate) fn notify(&self) {
        self.wake.notify();
    }

    /// The daemon's clock (the wall clock, moved by the test-only offset).
    pub(crate) fn now(&self) -> SystemTime {
        self.config.clock(SystemTime::now())
    }

    /// Asks the releaser for an expiry pass now.
    pub(crate) fn request_expiry(&self) {
        self.expire_requested.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// Sleeps up to `timeout` or until [`Self::notify`].
    pub(crate) fn wait(&self, timeout: Duration) {
        self.wake.wait(timeout);
    }
}

fn file_stamp(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads and verifies the configured directory at `now`.
pub fn load_directory(config: &Config, now: SystemTime) -> Result<Directory, StartError> {
    let path = config.directory_file.display().to_string();
    let text =
        std::fs::read(&config.directory_file).map_err(|source| StartError::DirectoryRead {
            path: path.clone(),
            source,
        })?;
    let trusted = config.trusted_keys().map_err(StartError::Trusted)?;
    Directory::parse(&text, &trusted, config.threshold, now).map_err(|e| StartError::Directory {
        path,
        source: e.into(),
    })
}

fn build_node(
    config: &Config,
    keys: NodeKeys,
    directory: Directory,
    store: RedbStore,
) -> Result<MixNode<RedbStore>, StartError> {
    let node =
        MixNode::with_store(keys, directory, store).map_err(|source| StartError::Directory {
            path: config.directory_file.display().to_string(),
            source,
        })?;
    check_address(config, &node)?;
    Ok(node)
}

fn check_address(config: &Config, node: &MixNode<RedbStore>) -> Result<(), StartError> {
    if !node.entry().address().eq_ignore_ascii_case(&config.address) {
        return Err(StartError::AddressMismatch {
            config: config.address.clone(),
            directory: node.entry().address().to_owned(),
        });
    }
    Ok(())
}

/// Opens the store, waiting a little while another process holds it: a
/// `status` run while no daemon answered reads the file for a moment.
fn open_store(config: &Config) -> Result<RedbStore, StoreError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match RedbStore::open(&config.database_path(), config.max_store_bytes) {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// The configured way to the MTA.
fn submitter(config: &Config) -> Result<Submitter, StartError> {
    let out = &config.outgoing;
    Ok(match out.method() {
        SubmitMethod::Sendmail(program) => Submitter::Sendmail(Sendmail::new(
            program,
            Duration::from_secs(out.sendmail_timeout_secs),
        )),
        SubmitMethod::Smtp(server) => {
            let hello = config
                .address
                .rsplit_once('@')
                .map_or("localhost", |(_, d)| d);
            Submitter::Smtp(
                Smtp::new(
                    &server,
                    hello,
                    Duration::from_secs(out.smtp_timeout_secs),
                    out.smtp_connections,
                )
                .map_err(StartError::Submit)?,
            )
        }
    })
}

/// Creates the spool directory (mode 0700) and checks that it is private.
fn create_spool(config: &Config) -> Result<(), StartError> {
    let spool = &config.spool_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(spool)
        .map_err(|source| StartError::Io {
            what: "cannot create spool directory",
            path: spool.display().to_string(),
            source,
        })?;
    check_private(spool, "spool directory")?;
    Ok(())
}

/// The node's identity public key. Only the public half is kept: the
/// secret is read again, and wiped after use, each time a descriptor is
/// signed (`[join]`, crate::descriptor), and never while packets are handled.
fn identity(config: &Config) -> Result<[u8; 32], StartError> {
    Ok(NodeIdentityKey::from_bytes(*crate::keyfile::read_secret(&config.key_file)?).public_key())
}

/// Opens everything `run` needs; separate from [`run`] so tests can drive
/// the parts without sockets or signals.
pub(crate) fn open(config: Config) -> Result<Arc<Shared>, StartError> {
    create_spool(&config)?;
    let identity = identity(&config)?;
    let now = config.clock(SystemTime::now());
    if config.test_clock_offset_secs != 0 || config.test_clock_offset_file.is_some() {
        tracing::warn!(
            "the clock is moved by the test-only settings test_clock_offset_secs / test_clock_offset_file (now {})",
            mixmailer::time::format_directory_time(now)
        );
    }
    let directory = load_directory(&config, now)?;
    if let Some(join) = &config.join {
        if join.key_period() != directory.params().key_period {
            tracing::warn!(
                "join.key_period is {} s but the directory's key-period is {} s: the authorities refuse this node's descriptors until join.key_period is theirs",
                join.key_period,
                directory.params().key_period.as_secs()
            );
        }
    }
    let directory_stamp = file_stamp(&config.directory_file);
    let key_dir = PeriodKeyDir::open(&config.key_dir())?;
    let node_keys = periods::prepare(&key_dir, &config, &directory, identity, now)?;
    let mut store = open_store(&config)?;
    let recovered = store.recover_submissions(now)?;
    if recovered.forwards_requeued > 0 {
        tracing::warn!(
            "{} packets were being forwarded when the node stopped; sending them again (the next hop drops a copy it already has)",
            recovered.forwards_requeued
        );
    }
    if recovered.deliveries_dropped > 0 {
        tracing::warn!(
            "{} deliveries were being handed to the MTA when the node stopped; not sending them again, so nobody gets a message twice (check the MTA's log to see whether they went out)",
            recovered.deliveries_dropped
        );
    }
    let reader = store.handle();
    let node = build_node(&config, node_keys, directory, store)?;
    let mut state = NodeState {
        node,
        identity,
        keys: key_dir,
        rotated_period: None,
        directory_stamp,
    };
    // The tags of periods whose keys are gone go now, not at the first packet.
    periods::rotate(&mut state, &config, now);
    let sendmail = submitter(&config)?;
    Ok(Arc::new(Shared {
        config,
        state: Mutex::new(state),
        reader,
        sendmail,
        wake: Wakeup::default(),
        assembly: Wakeup::default(),
        shutdown: AtomicBool::new(false),
        expire_requested: AtomicBool::new(false),
        unsettled: Mutex::new(Vec::new()),
        joiner: OnceLock::new(),
    }))
}

/// Re-reads the directory file if it changed (or `force`); keeps the old
/// directory, with an error in the log, if the new one is refused.
pub(crate) fn reload_directory(shared: &Shared, force: bool) {
    let stamp = file_stamp(&shared.config.directory_file);
    let mut state = shared.lock();
    if !force && stamp == state.directory_stamp {
        return;
    }
    state.directory_stamp = stamp;
    let directory = match load_directory(&shared.config, shared.now()) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("keeping the old directory: the new one is refused: {e}");
            return;
        }
    };
    let previous = state.node.directory().clone();
    if let Err(e) = state.node.set_directory(directory) {
        if matches!(
            e,
            mixmailer::Error::Node(mixmailer::node::NodeError::NotInDirectory)
        ) {
            let hint = if shared.config.join.is_some() {
                "the authorities left it out (see their logs and `mixmailer-node status`); the descriptor is still published every key period"
            } else {
                "add it to the directory, or configure [join]"
            };
            tracing::error!(
                "keeping the old directory: the new one does not list this node: {hint}"
            );
        } else {
            tracing::error!("keeping the old directory: {e}");
        }
        return;
    }
    if let Err(e) = check_address(&shared.config, &state.node) {
        tracing::error!("keeping the old directory: {e}");
        // Cannot fail: the old directory was accepted with the same keys.
        let _ = state.node.set_directory(previous);
        return;
    }
    tracing::info!("loaded a new directory");
    if previous.params().key_period != state.node.directory().params().key_period {
        // Period numbers mean other times now: redo the period's work.
        state.rotated_period = None;
        periods::rotate(&mut state, &shared.config, shared.now());
    }
}

/// Runs the daemon until SIGTERM or SIGINT. SIGHUP re-reads the directory.
/// With `[join]` it first publishes its descriptor and fetches the
/// directory, and waits until a directory lists it (see [`join`]).
pub fn run(config: Config) -> Result<(), StartError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(StartError::Signals)?;
    let joiner = match &config.join {
        Some(_) => {
            create_spool(&config)?;
            join::Joiner::start(&config)
        }
        None => None,
    };
    let shared = match &joiner {
        None => open(config)?,
        Some(joiner) => match wait_until_listed(&config, joiner, &mut signals) {
            Ok(Some(shared)) => {
                joiner.attach(&shared);
                shared
            }
            Ok(None) => {
                joiner.stop();
                return Ok(());
            }
            Err(e) => {
                joiner.stop();
                return Err(e);
            }
        },
    };
    {
        let state = shared.lock();
        let entry = state.node.entry();
        let stats = shared.reader.stats()?;
        tracing::info!(
            "started node {} (layer {} of {}), keys for key periods {:?}; spool holds {} packets to forward and {} deliveries, {} held fragments ({} messages complete, to be assembled), {} replay tags",
            entry.nickname(),
            entry.layer(),
            state.node.directory().params().hops,
            state.node.keys().periods().collect::<Vec<_>>(),
            stats.forwards_waiting,
            stats.deliveries_waiting,
            stats.held_fragments,
            stats.complete_messages,
            stats.replay_tags
        );
    }
    server::start(&shared)?;
    let release_shared = Arc::clone(&shared);
    let releaser = std::thread::spawn(move || release::release_loop(&release_shared));
    // Its first pass assembles what a crash left complete.
    let assembly_shared = Arc::clone(&shared);
    std::thread::spawn(move || assemble::assemble_loop(&assembly_shared));
    for signal in signals.forever() {
        if signal == SIGHUP {
            reload_directory(&shared, true);
            continue;
        }
        tracing::info!("stopping on signal {signal}");
        break;
    }
    shared.shutdown.store(true, Ordering::SeqCst);
    shared.notify();
    shared.assembly.notify();
    if let Some(joiner) = &joiner {
        joiner.stop();
    }
    // Wait for a carrier being processed to commit or abort before exiting.
    let state = shared.lock();
    let _ = std::fs::remove_file(shared.config.socket_path());
    if let Some(lmtp) = &shared.config.incoming.lmtp_socket {
        let _ = std::fs::remove_file(lmtp);
    }
    drop(state);
    let _ = releaser.join();
    Ok(())
}

/// How often a node waiting to be listed looks at its directory file even
/// when the fetcher brought nothing new (a file replaced by hand, a moved
/// test clock).
const LISTING_RECHECK: Duration = Duration::from_secs(30);

/// Why the directory file does not let this node start yet, or `None`
/// when it lists the node with its address.
fn not_listed(config: &Config, identity: &[u8; 32]) -> Option<String> {
    let directory = match load_directory(config, config.clock(SystemTime::now())) {
        Ok(d) => d,
        Err(StartError::DirectoryRead { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Some(format!(
                "no directory yet at {}",
                config.directory_file.display()
            ))
        }
        Err(e) => return Some(e.to_string()),
    };
    match directory.node_by_identity(identity) {
        None => Some("the directory does not list this node yet".to_owned()),
        Some(entry) if !entry.address().eq_ignore_ascii_case(&config.address) => Some(format!(
            "the directory lists this node with its old address {}, not {}",
            entry.address(),
            config.address
        )),
        Some(_) => None,
    }
}

/// `[join]` start-up: opens the node once a verified directory lists it,
/// meanwhile the join threads publish and fetch. `None` when a signal
/// stopped the daemon first.
fn wait_until_listed(
    config: &Config,
    joiner: &join::Joiner,
    signals: &mut signal_hook::iterator::Signals,
) -> Result<Option<Arc<Shared>>, StartError> {
    use signal_hook::consts::SIGHUP;
    let identity = identity(config)?;
    let mut last_reason: Option<String> = None;
    loop {
        let seen = joiner.documents();
        let reason = match not_listed(config, &identity) {
            Some(reason) => reason,
            None => match open(config.clone()) {
                Ok(shared) => {
                    if last_reason.is_some() {
                        tracing::info!("listed by the authorities; starting");
                    }
                    return Ok(Some(shared));
                }
                // Listed, but not with this node's current keys or address
                // (an older descriptor): a newer directory will be.
                Err(e @ (StartError::Directory { .. } | StartError::AddressMismatch { .. })) => {
                    e.to_string()
                }
                Err(e) => return Err(e),
            },
        };
        if last_reason.as_ref() != Some(&reason) {
            let join = config.join.as_ref().map(|j| j.nickname.as_str());
            tracing::info!(
                "waiting to be listed by the authorities (nickname {}, identity {}): {reason}",
                join.unwrap_or("?"),
                crate::keyfile::encode_public(&identity)
            );
            last_reason = Some(reason);
        }
        // Until a new document, a signal, or the recheck time.
        let until = std::time::Instant::now() + LISTING_RECHECK;
        loop {
            let mut hangup = false;
            for signal in signals.pending() {
                if signal != SIGHUP {
                    tracing::info!("stopping on signal {signal} (was waiting to be listed)");
                    return Ok(None);
                }
                hangup = true;
            }
            if hangup || joiner.documents() != seen || std::time::Instant::now() >= until {
                break;
            }
            joiner.wait_for_document(seen, Duration::from_millis(500));
        }
    }
}
