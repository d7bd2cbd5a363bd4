//! The authority's persistent state in one redb file: accepted descriptors,
//! votes (own and verified peers'), the consensus it signed, the signatures
//! collected for it, and liveness probes. Every change is one fsync'd
//! transaction; nothing refused is ever written.

use crate::liveness::attribution::Probe;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

/// identity -> descriptor text
const DESCRIPTORS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("descriptors");
/// (valid-after unix secs, authority key) -> vote text
const VOTES: TableDefinition<(u64, &[u8]), &[u8]> = TableDefinition::new("votes");
/// valid-after -> this authority's consensus: the signed part, no signature lines
const CONSENSUS: TableDefinition<u64, &[u8]> = TableDefinition::new("consensus");
/// (valid-after, authority key) -> that authority's `signature` line over CONSENSUS
const SIGNATURES: TableDefinition<(u64, &[u8]), &[u8]> = TableDefinition::new("signatures");
/// probe id -> sent (8 bytes BE), arrived (1 byte), route identities (32 bytes each)
const PROBES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("probes");

/// A failure of the database (disk, corruption, lock).
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(#[from] redb::Error);

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

type Result<T> = std::result::Result<T, StoreError>;

/// The open store.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(DESCRIPTORS)?;
        txn.open_table(VOTES)?;
        txn.open_table(CONSENSUS)?;
        txn.open_table(SIGNATURES)?;
        txn.open_table(PROBES)?;
        txn.commit()?;
        Ok(Store { db })
    }

    /// Stores `descriptor` as `identity`'s newest.
    pub fn put_descriptor(&self, identity: &[u8; 32], descriptor: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(DESCRIPTORS)?
            .insert(&identity[..], descriptor)?;
        txn.commit()?;
        Ok(())
    }

    /// Every stored descriptor.
    pub fn descriptors(&self) -> Result<Vec<([u8; 32], Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DESCRIPTORS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            if let Ok(id) = <[u8; 32]>::try_from(k.value()) {
                out.push((id, v.value().to_vec()));
            }
        }
        Ok(out)
    }

    /// Forgets descriptors (those no longer fresh).
    pub fn remove_descriptors(&self, identities: &[[u8; 32]]) -> Result<()> {
        if identities.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(DESCRIPTORS)?;
            for id in identities {
                table.remove(&id[..])?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Stores a vote (own, or a peer's that verified).
    pub fn put_vote(&self, valid_after: u64, authority: &[u8; 32], vote: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(VOTES)?
            .insert((valid_after, &authority[..]), vote)?;
        txn.commit()?;
        Ok(())
    }

    /// `authority`'s vote for the document starting at `valid_after`.
    pub fn vote(&self, valid_after: u64, authority: &[u8; 32]) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(VOTES)?;
        Ok(table
            .get((valid_after, &authority[..]))?
            .map(|v| v.value().to_vec()))
    }

    /// Stores this authority's consensus (signed part) and its own signature line, together.
    pub fn put_consensus(
        &self,
        valid_after: u64,
        signed: &[u8],
        own: &[u8; 32],
        line: &[u8],
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(CONSENSUS)?.insert(valid_after, signed)?;
        txn.open_table(SIGNATURES)?
            .insert((valid_after, &own[..]), line)?;
        txn.commit()?;
        Ok(())
    }

    /// The consensus this authority computed for `valid_after`.
    pub fn consensus(&self, valid_after: u64) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CONSENSUS)?;
        Ok(table.get(valid_after)?.map(|v| v.value().to_vec()))
    }

    /// Valid-after times of every consensus held, newest first.
    pub fn consensus_times(&self) -> Result<Vec<u64>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CONSENSUS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            out.push(row?.0.value());
        }
        out.reverse();
        Ok(out)
    }

    /// Stores a signature line that verified over our consensus.
    pub fn put_signature(&self, valid_after: u64, authority: &[u8; 32], line: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(SIGNATURES)?
            .insert((valid_after, &authority[..]), line)?;
        txn.commit()?;
        Ok(())
    }

    /// Signature lines held for `valid_after`, by authority key.
    pub fn signatures(&self, valid_after: u64) -> Result<Vec<([u8; 32], Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SIGNATURES)?;
        let mut out = Vec::new();
        for row in table.range((valid_after, &[][..])..(valid_after.saturating_add(1), &[][..]))? {
            let (k, v) = row?;
            if let Ok(id) = <[u8; 32]>::try_from(k.value().1) {
                out.push((id, v.value().to_vec()));
            }
        }
        Ok(out)
    }

    /// Records a probe just sent.
    pub fn put_probe(&self, id: &[u8; 16], probe: &Probe) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(PROBES)?
            .insert(&id[..], &encode_probe(probe)[..])?;
        txn.commit()?;
        Ok(())
    }

    /// Forgets a probe whose submission failed (not a node's fault).
    pub fn remove_probe(&self, id: &[u8; 16]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(PROBES)?.remove(&id[..])?;
        txn.commit()?;
        Ok(())
    }

    /// Marks a probe arrived; false when the id is unknown.
    pub fn probe_arrived(&self, id: &[u8; 16]) -> Result<bool> {
        let txn = self.db.begin_write()?;
        let known = {
            let mut table = txn.open_table(PROBES)?;
            let probe = table.get(&id[..])?.and_then(|v| decode_probe(v.value()));
            match probe {
                Some(mut p) => {
                    p.arrived = true;
                    table.insert(&id[..], &encode_probe(&p)[..])?;
                    true
                }
                None => false,
            }
        };
        txn.commit()?;
        Ok(known)
    }

    /// All probes sent at or after `since`; older ones are deleted.
    pub fn probes_since(&self, since: u64) -> Result<Vec<Probe>> {
        let txn = self.db.begin_write()?;
        let mut kept = Vec::new();
        {
            let mut table = txn.open_table(PROBES)?;
            let mut old = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                match decode_probe(v.value()) {
                    Some(p) if p.sent >= since => kept.push(p),
                    _ => old.push(k.value().to_vec()),
                }
            }
            for k in old {
                table.remove(&k[..])?;
            }
        }
        txn.commit()?;
        Ok(kept)
    }
}

fn encode_probe(p: &Probe) -> Vec<u8> {
    let mut out = p.sent.to_be_bytes().to_vec();
    out.push(u8::from(p.arrived));
    for id in &p.route {
        out.extend_from_slice(id);
    }
    out
}

fn decode_probe(bytes: &[u8]) -> Option<Probe> {
    let sent = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let arrived = *bytes.get(8)? == 1;
    let rest = bytes.get(9..)?;
    if rest.len() % 32 != 0 {
        return None;
    }
    let route = rest
        .chunks_exact(32)
        .filter_map(|c| c.try_into().ok())
        .collect();
    Some(Probe {
        sent,
        route,
        arrived,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_survive_a_reopen_and_arrivals_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let probe = Probe {
            sent: 1000,
            route: vec![[1; 32], [2; 32]],
            arrived: false,
        };
        {
            let store = Store::open(&path).unwrap();
            store.put_probe(&[7; 16], &probe).unwrap();
            store
                .put_probe(
                    &[8; 16],
                    &Probe {
                        sent: 10,
                        ..probe.clone()
                    },
                )
                .unwrap();
            assert!(store.probe_arrived(&[7; 16]).unwrap());
            assert!(!store.probe_arrived(&[9; 16]).unwrap());
        }
        let store = Store::open(&path).unwrap();
        let kept = store.probes_since(500).unwrap();
        assert_eq!(
            kept,
            vec![Probe {
                arrived: true,
                ..probe
            }]
        );
        assert!(
            store.probes_since(0).unwrap().len() == 1,
            "the old probe was deleted"
        );
    }

    #[test]
    fn signatures_are_kept_per_document() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        store
            .put_consensus(100, b"doc", &[1; 32], b"signature a b\n")
            .unwrap();
        store
            .put_signature(100, &[2; 32], b"signature c d\n")
            .unwrap();
        store.put_signature(101, &[2; 32], b"other\n").unwrap();
        let sigs = store.signatures(100).unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!(store.consensus_times().unwrap(), vec![100]);
    }
}
