//! The daemon's sockets: LMTP, where the MTA delivers carriers, and the
//! line protocol of `receive` and `status`. Carriers from both go to one
//! committer thread, which processes whatever has arrived meanwhile in one
//! store transaction (group commit) and only then answers each.

use super::{handle::handle_batch, Shared, StartError};
use crate::lmtp::{self, Limits, Verdict};
use crate::protocol::{read_request, write_reply, ProtocolError, Reply, Request};
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Most carriers committed in one transaction: enough that one fsync
/// serves every connection the MTA keeps open, few enough that a
/// transaction stays short for the releaser waiting on the same lock.
const MAX_BATCH: usize = 128;
/// Recipients per LMTP transaction. A carrier has one; Postfix sends the
/// rest of a longer list in the next transaction.
const MAX_RECIPIENTS: usize = 50;

/// One carrier waiting for the committer, with where to send its answer.
struct Job {
    email: Vec<u8>,
    answer: mpsc::Sender<Reply>,
}

/// The way to the committer thread.
#[derive(Clone)]
pub(crate) struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the committer thread.
    pub(crate) fn start(shared: &Arc<Shared>) -> Committer {
        let (jobs, queue) = mpsc::channel::<Job>();
        let shared = Arc::clone(shared);
        std::thread::spawn(move || commit_loop(&shared, &queue));
        Committer { jobs }
    }

    /// Hands `email` to the committer and waits until its result is
    /// durable (or refused).
    pub(crate) fn process(&self, email: Vec<u8>) -> Reply {
        let (answer, reply) = mpsc::channel();
        if self.jobs.send(Job { email, answer }).is_err() {
            return Reply::TempFail("node is stopping".into());
        }
        reply
            .recv()
            .unwrap_or_else(|_| Reply::TempFail("node is stopping".into()))
    }
}

/// Takes every job that is waiting (up to [`MAX_BATCH`]), processes them
/// in one transaction, answers each; until every sender is gone.
fn commit_loop(shared: &Shared, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let replies = if shared.shutdown.load(Ordering::SeqCst) {
            vec![Reply::TempFail("node is stopping".into()); batch.len()]
        } else {
            let emails: Vec<&[u8]> = batch.iter().map(|j| j.email.as_slice()).collect();
            // handle_batch catches the library's panics; this one guards
            // the committer itself, which every connection waits on.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                handle_batch(shared, &emails, SystemTime::now())
            }))
            .unwrap_or_else(|_| {
                tracing::error!("committing carriers panicked (a bug; the MTA retries them)");
                vec![Reply::TempFail("internal error".into()); batch.len()]
            })
        };
        for (job, reply) in batch.into_iter().zip(replies) {
            // A client that gave up retries; its carrier, if committed,
            // is then dropped as a replay.
            let _ = job.answer.send(reply);
        }
    }
}

/// More concurrent connections than this get a temporary failure: the MTA
/// retries later instead of the node running out of threads.
const MAX_CONNECTIONS: usize = 64;
/// A client that stalls this long is cut off (the MTA retries its email).
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Binds the socket, replacing a stale one (the store's lock already
/// proved no other daemon runs on this spool).
pub(crate) fn bind(path: &Path) -> Result<UnixListener, StartError> {
    let io = |what, source| StartError::Io {
        what,
        path: path.display().to_string(),
        source,
    };
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("cannot remove stale socket", e)),
    }
    let listener = UnixListener::bind(path).map_err(|e| io("cannot bind socket", e))?;
    // Who may connect is decided by the spool directory's permissions;
    // the group bit lets an operator put the MTA's pipe user in the group.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| io("cannot set permissions of socket", e))?;
    Ok(listener)
}

/// Starts the committer and the listeners on their own threads: the
/// `receive`/`status` socket, and the LMTP socket when configured.
pub(crate) fn start(shared: &Arc<Shared>) -> Result<(), StartError> {
    let committer = Committer::start(shared);
    let listener = bind(&shared.config.socket_path())?;
    let (s, c) = (Arc::clone(shared), committer.clone());
    std::thread::spawn(move || serve(&s, &c, listener, connection, b"TEMPFAIL node busy\n"));
    if let Some(path) = &shared.config.incoming.lmtp_socket {
        let listener = bind(path)?;
        tracing::info!("accepting carriers over LMTP on {}", path.display());
        let s = Arc::clone(shared);
        std::thread::spawn(move || {
            serve(
                &s,
                &committer,
                listener,
                lmtp_connection,
                b"421 4.3.2 node busy, try again later\r\n",
            )
        });
    }
    Ok(())
}

/// What serves one accepted connection.
type Handler = fn(&Shared, &Committer, UnixStream) -> Result<(), ProtocolError>;

/// Accepts connections until the process exits.
fn serve(
    shared: &Arc<Shared>,
    committer: &Committer,
    listener: UnixListener,
    handler: Handler,
    busy: &'static [u8],
) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accepting a connection failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.write_all(busy);
            continue;
        }
        let shared = Arc::clone(shared);
        let committer = committer.clone();
        let active = Arc::clone(&active);
        std::thread::spawn(move || {
            if let Err(e) = handler(&shared, &committer, stream) {
                tracing::warn!("a receive connection failed (the MTA retries): {e}");
            }
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

fn connection(
    shared: &Shared,
    committer: &Committer,
    stream: UnixStream,
) -> Result<(), ProtocolError> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let reply = match read_request(&mut reader, shared.config.max_email_bytes()) {
        Ok(Request::Receive(email)) => {
            if shared.shutdown.load(Ordering::SeqCst) {
                Reply::TempFail("node is stopping".into())
            } else {
                committer.process(email)
            }
        }
        Ok(Request::Status) => match shared.reader.stats() {
            Ok(stats) => Reply::Status(serde_json::to_string(&stats).unwrap_or_default()),
            Err(e) => Reply::TempFail(e.to_string()),
        },
        Err(ProtocolError::TooLarge { len, max }) => {
            tracing::info!("dropped a carrier: {len} bytes is more than the {max} accepted");
            Reply::Dropped(format!("email too large ({len} > {max} bytes)"))
        }
        Err(e) => return Err(e),
    };
    write_reply(&mut writer, &reply)?;
    Ok(())
}

/// One LMTP session with the MTA: each message is a carrier, answered for
/// each of its recipients once its result is committed. Accepted and
/// dropped carriers both get 250 (a dropped one is garbage, a replay or not
/// for this node: a 5xx would make the MTA bounce it to its sender, which
/// is a previous node or a forged address); a temporary failure gets 451
/// and the MTA retries.
fn lmtp_connection(
    shared: &Shared,
    committer: &Committer,
    stream: UnixStream,
) -> Result<(), ProtocolError> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut writer = BufWriter::new(stream.try_clone()?);
    let mut reader = BufReader::new(stream);
    let host = shared
        .config
        .address
        .rsplit_once('@')
        .map_or("mixmailer-node", |(_, d)| d)
        .to_owned();
    let limits = Limits {
        max_message: shared.config.max_email_bytes(),
        max_recipients: MAX_RECIPIENTS,
    };
    lmtp::serve(&mut reader, &mut writer, &host, limits, |message| {
        if shared.shutdown.load(Ordering::SeqCst) {
            return Verdict::Retry("node is stopping".into());
        }
        match committer.process(message.data) {
            Reply::Accepted(text) => Verdict::Done(text),
            Reply::Dropped(why) => Verdict::Done(format!("dropped: {why}")),
            Reply::TempFail(why) => Verdict::Retry(why),
            Reply::Status(_) => Verdict::Retry("unexpected answer".into()),
        }
    })?;
    Ok(())
}
