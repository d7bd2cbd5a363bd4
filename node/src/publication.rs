//! What the daemon last did with its descriptor under `[join]`, kept in
//! the spool directory so that `status` can show an operator each
//! authority's answer (a refusal's reason is what they act on), and so
//! that a restart knows which address the authorities last accepted.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The record's file in the spool directory.
pub fn record_path(spool_dir: &Path) -> PathBuf {
    spool_dir.join("publication.json")
}

/// The file holding the last address at least one authority stored.
pub fn address_path(spool_dir: &Path) -> PathBuf {
    spool_dir.join("published-address")
}

/// One authority's answer to the newest publication sent to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The authority's base URL.
    pub authority: String,
    /// `stored`, `refused` or `unreachable`.
    pub outcome: String,
    /// The refusal's status and reason, or what failed; empty when stored.
    pub detail: String,
    /// When it was sent (SPEC 1 time).
    pub at: String,
}

/// The newest publication to each authority.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The node's identity (base64), so `status` can find it in the directory.
    pub identity: String,
    /// The nickname published.
    pub nickname: String,
    /// The address published.
    pub address: String,
    /// One entry per authority, in the configured order.
    pub answers: Vec<Answer>,
}

impl Record {
    /// Reads the record; `None` when there is none or it is unreadable.
    pub fn read(spool_dir: &Path) -> Option<Record> {
        let text = std::fs::read(record_path(spool_dir)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Replaces the record (atomically; the spool directory is private).
    pub fn write(&self, spool_dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::atomic_file::write(&record_path(spool_dir), &json, 0o600)
    }

    /// Sets the answer of `answer.authority`, keeping the others.
    pub fn set(&mut self, answer: Answer) {
        match self
            .answers
            .iter_mut()
            .find(|a| a.authority == answer.authority)
        {
            Some(old) => *old = answer,
            None => self.answers.push(answer),
        }
    }

    /// Lines for `status`: one per authority.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for a in &self.answers {
            out.push_str(&format!("  {} {} at {}", a.authority, a.outcome, a.at));
            if !a.detail.is_empty() {
                out.push_str(&format!(": {}", a.detail));
            }
            out.push('\n');
        }
        out
    }
}

/// The address at least one authority last stored, if any.
pub fn read_address(spool_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(address_path(spool_dir)).ok()?;
    Some(text.trim_end().to_owned()).filter(|a| !a.is_empty())
}

/// Remembers `address` as stored by an authority.
pub fn write_address(spool_dir: &Path, address: &str) -> std::io::Result<()> {
    crate::atomic_file::write(
        &address_path(spool_dir),
        format!("{address}\n").as_bytes(),
        0o600,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(url: &str, outcome: &str) -> Answer {
        Answer {
            authority: url.into(),
            outcome: outcome.into(),
            detail: String::new(),
            at: "2026-12-02T07:00:00Z".into(),
        }
    }

    #[test]
    fn a_retry_replaces_only_that_authoritys_answer_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = Record::default();
        record.set(answer("http://a", "stored"));
        record.set(answer("http://b", "unreachable"));
        record.set(answer("http://b", "stored"));
        record.write(dir.path()).unwrap();
        let back = Record::read(dir.path()).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.answers.len(), 2);
        assert!(back.report().contains("http://b stored"));

        assert_eq!(read_address(dir.path()), None);
        write_address(dir.path(), "mix@a.test").unwrap();
        assert_eq!(read_address(dir.path()).as_deref(), Some("mix@a.test"));
    }
}
