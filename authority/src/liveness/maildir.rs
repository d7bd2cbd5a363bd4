//! The receive side of probing: the authority's MTA delivers its mailbox
//! to a Maildir; each new message is matched to a probe by the id in its
//! Subject and moved to `cur/` so it is read once.

use crate::store::Store;
use std::path::Path;

/// The Subject prefix of every probe; the rest is the id in hex.
pub const SUBJECT_PREFIX: &str = "mixmailer probe ";

/// The probe id named in a delivered message's Subject, if it is a probe.
pub fn probe_id(message: &[u8]) -> Option<[u8; 16]> {
    let parsed = mail_parser::MessageParser::default().parse_headers(message)?;
    let subject = parsed.subject()?.trim();
    let hex = subject.strip_prefix(SUBJECT_PREFIX)?;
    if hex.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

/// Reads every message in `maildir/new`, records the probes that arrived,
/// and moves each message to `maildir/cur` (Maildir's "seen" flag).
/// Returns the number of known probes recorded.
pub fn collect_arrivals(store: &Store, maildir: &Path) -> Result<usize, String> {
    let new = maildir.join("new");
    let cur = maildir.join("cur");
    let entries = std::fs::read_dir(&new).map_err(|e| format!("{}: {e}", new.display()))?;
    let mut recorded = 0;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", new.display()))?;
        let path = entry.path();
        let Ok(message) = std::fs::read(&path) else {
            continue;
        };
        if let Some(id) = probe_id(&message) {
            match store.probe_arrived(&id) {
                Ok(true) => recorded += 1,
                Ok(false) => {
                    tracing::debug!("a probe this authority did not send (or forgot) arrived")
                }
                // Leave it in new/ to be read again once the store works.
                Err(e) => return Err(e.to_string()),
            }
        }
        let mut name = entry.file_name();
        name.push(":2,S");
        std::fs::rename(&path, cur.join(name)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::attribution::Probe;

    const DELIVERED: &[u8] = b"From: \"probe via exit.example\" <relay@exit.example>\r\n\
Reply-To: probe@dir1.example\r\n\
To: probe@dir1.example\r\n\
Subject: mixmailer probe 00112233445566778899aabbccddeeff\r\n\
Date: Wed, 02 Dec 2026 05:00:00 +0000\r\n\
\r\n\
probe\r\n";

    #[test]
    fn the_probe_id_is_read_from_the_subject() {
        let id = probe_id(DELIVERED).unwrap();
        assert_eq!(id[0], 0x00);
        assert_eq!(id[15], 0xff);
        assert_eq!(probe_id(b"Subject: hello\r\n\r\nbody"), None);
        assert_eq!(probe_id(b"Subject: mixmailer probe 0011\r\n\r\n"), None);
    }

    #[test]
    fn arrivals_are_recorded_once_and_moved_to_cur() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let store = Store::open(&dir.path().join("store.redb")).unwrap();
        let id: [u8; 16] = probe_id(DELIVERED).unwrap();
        store
            .put_probe(
                &id,
                &Probe {
                    sent: 5,
                    route: vec![[1; 32]],
                    arrived: false,
                },
            )
            .unwrap();
        std::fs::write(dir.path().join("new/1.probe"), DELIVERED).unwrap();
        std::fs::write(dir.path().join("new/2.spam"), b"Subject: hi\r\n\r\nx").unwrap();

        assert_eq!(collect_arrivals(&store, dir.path()).unwrap(), 1);
        assert_eq!(collect_arrivals(&store, dir.path()).unwrap(), 0);
        assert!(store.probes_since(0).unwrap()[0].arrived);
        assert_eq!(
            std::fs::read_dir(dir.path().join("cur")).unwrap().count(),
            2
        );
    }
}
