//! The Unix socket `receive` and `status` talk to.

use super::{handle::handle_carrier, Shared, StartError};
use crate::protocol::{read_request, write_reply, ProtocolError, Reply, Request};
use std::io::BufReader;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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

/// Accepts connections until the process exits.
pub(crate) fn serve(shared: &Arc<Shared>, listener: UnixListener) {
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
            let _ = write_reply(&mut stream, &Reply::TempFail("node busy".into()));
            continue;
        }
        let shared = Arc::clone(shared);
        let active = Arc::clone(&active);
        std::thread::spawn(move || {
            if let Err(e) = connection(&shared, stream) {
                tracing::warn!("a receive connection failed (the MTA retries): {e}");
            }
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

fn connection(shared: &Shared, stream: UnixStream) -> Result<(), ProtocolError> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let reply = match read_request(&mut reader, shared.config.max_email_bytes()) {
        Ok(Request::Receive(email)) => {
            if shared.shutdown.load(Ordering::SeqCst) {
                Reply::TempFail("node is stopping".into())
            } else {
                handle_carrier(shared, &email, SystemTime::now())
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
