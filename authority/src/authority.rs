//! One authority's work (docs/authority.md sections 2 to 6): accept
//! descriptors, vote, fetch peers' votes, compute and sign the consensus,
//! collect signatures and publish. Every method is blocking (store and
//! peer HTTP); the server runs them on tokio's blocking pool.

use crate::config::{Config, Peer};
use crate::consensus::{self, Placed};
use crate::intake::{self, from_unix, unix, Accepted, NetworkTerms, Refusal};
use crate::keyfile::{self, AuthorityKeys};
use crate::liveness::attribution::{self, Rules};
use crate::schedule::{Round, Timeline};
use crate::store::Store;
use crate::vote::{self, Terms, VoteEntry, MAX_VOTE_SIZE};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use mixmailer::directory::{DirectoryParams, PeriodKey};
use mixmailer::time::format_directory_time;
use mixmailer::{Directory, NodeEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Longest signature line accepted from a peer.
const MAX_SIGNATURE_LINE: u64 = 256;

/// The authority: configuration, keys, store and a peer HTTP client.
pub struct Authority {
    config: Config,
    peers: Vec<Peer>,
    keys: AuthorityKeys,
    store: Store,
    timeline: Timeline,
    network: NetworkTerms,
    /// Held while a descriptor is checked against the stored ones and stored.
    intake: Mutex<()>,
    /// The last valid-after a consensus failed for, so it is logged once.
    no_consensus: Mutex<u64>,
    http: ureq::Agent,
}

impl Authority {
    /// Opens the key and the store named in `config`.
    pub fn new(config: Config) -> Result<Authority, String> {
        let peers = config.peers().map_err(|e| e.to_string())?;
        let keys = keyfile::load(&config.key)?;
        if !peers.iter().any(|p| p.key == keys.public_key()) {
            return Err(format!(
                "this authority's key {} is not in the [[authority]] list",
                B64.encode(keys.public_key())
            ));
        }
        let store = Store::open(&config.store).map_err(|e| e.to_string())?;
        let http = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Ok(Authority {
            timeline: Timeline {
                interval: config.interval,
                validity: config.validity(),
            },
            network: NetworkTerms {
                network: config.network.clone(),
                key_period: Duration::from_secs(config.key_period),
            },
            config,
            peers,
            keys,
            store,
            intake: Mutex::new(()),
            no_consensus: Mutex::new(0),
            http,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The timeline.
    pub fn timeline(&self) -> Timeline {
        self.timeline
    }

    fn own(&self) -> [u8; 32] {
        self.keys.public_key()
    }

    fn terms(&self, round: &Round) -> Terms {
        Terms {
            network: self.config.network.clone(),
            valid_after: from_unix(round.valid_after),
            valid_until: from_unix(round.valid_until),
            hops: self.config.hops,
            payload_size: self.config.payload_size,
            mean_delay: self.config.mean_delay,
            key_period: self.config.key_period,
        }
    }

    /// Handles a POSTed descriptor: stored (`Ok`) or refused with a status and one line.
    pub fn post_descriptor(&self, body: &[u8], now: SystemTime) -> Result<&'static str, Refusal> {
        let _guard = self.intake.lock().unwrap_or_else(|e| e.into_inner());
        let internal = |e: crate::store::StoreError| Refusal {
            status: 503,
            reason: format!("authority cannot use its store: {e}"),
        };
        let stored = self.store.descriptors().map_err(internal)?;
        match intake::accept(body, &self.network, now, &stored)? {
            Accepted::AlreadyStored => Ok("already stored"),
            Accepted::Store(d) => {
                self.store
                    .put_descriptor(&d.identity, body)
                    .map_err(internal)?;
                tracing::info!(nickname = %d.nickname, address = %d.address, "descriptor stored");
                Ok("stored")
            }
        }
    }

    /// The newest published document valid at `now`.
    pub fn current(&self, now: SystemTime) -> Option<Vec<u8>> {
        let now = unix(now);
        let times = self.store.consensus_times().ok()?;
        times
            .into_iter()
            .filter(|va| *va <= now && now < va + self.timeline.validity)
            .find_map(|va| self.published(va))
    }

    /// The document for `valid_after`, once it carries the threshold of signatures.
    pub fn published(&self, valid_after: u64) -> Option<Vec<u8>> {
        self.published_directory(valid_after).map(|(text, _)| text)
    }

    /// [`Self::published`] with the document as it verified.
    fn published_directory(&self, valid_after: u64) -> Option<(Vec<u8>, Directory)> {
        let mut document = self.store.consensus(valid_after).ok()??;
        let signatures = self.store.signatures(valid_after).ok()?;
        let mut count = 0;
        for peer in &self.peers {
            if let Some((_, line)) = signatures.iter().find(|(k, _)| *k == peer.key) {
                document.extend_from_slice(line);
                count += 1;
            }
        }
        if count < self.config.threshold() {
            return None;
        }
        let trusted: Vec<[u8; 32]> = self.peers.iter().map(|p| p.key).collect();
        Directory::parse(
            &document,
            &trusted,
            self.config.threshold(),
            from_unix(valid_after),
        )
        .ok()
        .map(|directory| (document, directory))
    }

    /// This authority's vote for `valid_after`, if made.
    pub fn own_vote(&self, valid_after: u64) -> Option<Vec<u8>> {
        self.store.vote(valid_after, &self.own()).ok().flatten()
    }

    /// This authority's signature line for its consensus for `valid_after`.
    pub fn own_signature(&self, valid_after: u64) -> Option<Vec<u8>> {
        let own = self.own();
        self.store
            .signatures(valid_after)
            .ok()?
            .into_iter()
            .find(|(k, _)| *k == own)
            .map(|(_, line)| line)
    }

    /// One step of the timeline at `now` (called every few seconds).
    pub fn tick(&self, now: SystemTime) {
        let secs = unix(now);
        let round = self.timeline.round_at(secs);
        if secs < round.vote_deadline {
            if self.own_vote(round.valid_after).is_none() {
                match self.make_vote(&round, now) {
                    Ok(n) => tracing::info!(
                        valid_after = %format_directory_time(from_unix(round.valid_after)),
                        nodes = n,
                        "voted"
                    ),
                    Err(e) => tracing::error!("cannot vote: {e}"),
                }
            }
            self.fetch_votes(&round);
        } else if self.own_vote(round.valid_after).is_some()
            && matches!(self.store.consensus(round.valid_after), Ok(None))
        {
            match self.make_consensus(&round) {
                Ok(n) => tracing::info!(
                    valid_after = %format_directory_time(from_unix(round.valid_after)),
                    nodes = n,
                    "consensus computed and signed"
                ),
                Err(e) => {
                    // Logged once per interval, not at every tick.
                    if self
                        .no_consensus
                        .lock()
                        .map(|mut last| {
                            std::mem::replace(&mut *last, round.valid_after) != round.valid_after
                        })
                        .unwrap_or(true)
                    {
                        tracing::warn!("no consensus for this interval: {e}");
                    }
                }
            }
        }
        for va in self.store.consensus_times().unwrap_or_default() {
            if va + self.timeline.validity <= secs {
                break;
            }
            let before = self.published(va).is_some();
            self.fetch_signatures(va);
            if !before && self.published(va).is_some() {
                tracing::info!(valid_after = %format_directory_time(from_unix(va)), "published");
            }
        }
    }

    /// Writes, signs and stores the vote for `round`; returns the number of nodes.
    pub fn make_vote(&self, round: &Round, now: SystemTime) -> Result<usize, String> {
        let terms = self.terms(round);
        let periods = intake::periods(
            terms.valid_after,
            terms.valid_until,
            self.network.key_period,
        );
        let previous = self.previous_layers(now);
        let stored = self.store.descriptors().map_err(|e| e.to_string())?;
        let mut published = BTreeMap::new();
        let mut stale = Vec::new();
        let mut candidates = Vec::new();
        for (identity, text) in stored {
            let Ok(d) = mixmailer::descriptor::Descriptor::parse(&text) else {
                stale.push(identity);
                continue;
            };
            if !intake::is_fresh(&d, &self.network, now) {
                stale.push(identity);
                continue;
            }
            published.insert(identity, unix(d.published));
            if let Some(listing) = intake::listing(&d, periods) {
                candidates.push((identity, listing, text));
            }
        }
        if let Err(e) = self.store.remove_descriptors(&stale) {
            tracing::warn!("cannot forget stale descriptors: {e}");
        }
        let down = self.down_nodes(now, &published);
        let entries: Vec<VoteEntry> = candidates
            .into_iter()
            .filter(|(identity, listing, _)| {
                let out = down.contains(identity);
                if out {
                    tracing::info!(nickname = %listing.nickname, "not voted for: probes through it are lost");
                }
                !out
            })
            .map(|(identity, listing, descriptor)| VoteEntry {
                node: consensus::VotedNode {
                    identity,
                    previous_layer: previous.get(&identity).copied().unwrap_or(0),
                    listing,
                },
                descriptor,
            })
            .collect();
        let text = vote::write(&terms, &self.keys.vote, &entries);
        self.store
            .put_vote(round.valid_after, &self.own(), &text)
            .map_err(|e| e.to_string())?;
        Ok(entries.len())
    }

    /// Nodes the liveness rule finds down (none without `[liveness]`);
    /// `published` gives each node's newest descriptor time.
    fn down_nodes(
        &self,
        now: SystemTime,
        published: &BTreeMap<[u8; 32], u64>,
    ) -> BTreeSet<[u8; 32]> {
        let Some(rules) = self.liveness_rules() else {
            return BTreeSet::new();
        };
        let horizon = unix(now).saturating_sub(rules.window);
        let since = attribution::listed_since(self.published_listings(now, horizon), horizon);
        let count_from: BTreeMap<[u8; 32], u64> = published
            .iter()
            .map(|(id, p)| (*id, attribution::count_from(*p, since.get(id).copied())))
            .collect();
        let now = unix(now);
        match self.store.probes_since(horizon) {
            Ok(probes) => attribution::down_nodes(&probes, now, &rules, &count_from),
            Err(e) => {
                tracing::warn!("cannot read probes, voting without liveness: {e}");
                BTreeSet::new()
            }
        }
    }

    /// The identities each published document lists, newest first, from
    /// the one valid at `now` back to `horizon` (and one more, so a run
    /// reaching past it is seen as such).
    fn published_listings(&self, now: SystemTime, horizon: u64) -> Vec<(u64, BTreeSet<[u8; 32]>)> {
        let now = unix(now);
        let mut out = Vec::new();
        for va in self.store.consensus_times().unwrap_or_default() {
            if va > now {
                continue;
            }
            let Some((_, d)) = self.published_directory(va) else {
                continue;
            };
            out.push((va, d.nodes().iter().map(|n| *n.identity()).collect()));
            if va < horizon {
                break;
            }
        }
        out
    }

    /// The liveness rules, when `[liveness]` is configured.
    pub fn liveness_rules(&self) -> Option<Rules> {
        let l = self.config.liveness.as_ref()?;
        let delays = (4 * u64::from(self.config.hops) * self.config.mean_delay)
            .min(self.config.key_period / 2);
        Some(Rules {
            probe_interval: l.probe_interval,
            window: l.window,
            timeout: l.timeout.unwrap_or(delays + 600),
            dead_after: l.dead_after,
        })
    }

    /// Identity -> layer in the newest published document valid at `now`.
    fn previous_layers(&self, now: SystemTime) -> BTreeMap<[u8; 32], u8> {
        self.current_directory(now)
            .map(|d| {
                d.nodes()
                    .iter()
                    .map(|n| (*n.identity(), n.layer()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The newest published document valid at `now`, parsed.
    pub fn current_directory(&self, now: SystemTime) -> Option<Directory> {
        let text = self.current(now)?;
        let trusted: Vec<[u8; 32]> = self.peers.iter().map(|p| p.key).collect();
        Directory::parse(&text, &trusted, self.config.threshold(), now).ok()
    }

    fn get(&self, url: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        match self.http.get(url).call() {
            Ok(mut response) => response
                .body_mut()
                .with_config()
                .limit(limit)
                .read_to_vec()
                .map(Some)
                .map_err(|e| e.to_string()),
            Err(ureq::Error::StatusCode(404)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn fetch_votes(&self, round: &Round) {
        let terms = self.terms(round);
        let periods = intake::periods(
            terms.valid_after,
            terms.valid_until,
            self.network.key_period,
        );
        let path = format_directory_time(terms.valid_after);
        for peer in self.peers.iter().filter(|p| p.key != self.own()) {
            if matches!(self.store.vote(round.valid_after, &peer.key), Ok(Some(_))) {
                continue;
            }
            let text = match self.get(
                &format!("{}/mixmailer/v2/vote/{path}", peer.url),
                MAX_VOTE_SIZE as u64,
            ) {
                Ok(Some(text)) => text,
                Ok(None) => continue, // not voted yet
                Err(e) => {
                    tracing::debug!(peer = %peer.url, "vote not fetched: {e}");
                    continue;
                }
            };
            match vote::parse(&text, &terms, &peer.key, |d| {
                intake::read_for_vote(d, &self.network, periods)
            }) {
                Ok(v) => {
                    if let Err(e) = self.store.put_vote(round.valid_after, &peer.key, &text) {
                        tracing::error!("cannot store a vote: {e}");
                    } else {
                        tracing::info!(peer = %peer.url, nodes = v.entries.len(), "peer vote stored");
                    }
                }
                Err(e) => tracing::warn!(peer = %peer.url, "peer vote refused: {e}"),
            }
        }
    }

    /// Computes, signs and stores the consensus from the votes held; returns the node count.
    pub fn make_consensus(&self, round: &Round) -> Result<usize, String> {
        let terms = self.terms(round);
        let periods = intake::periods(
            terms.valid_after,
            terms.valid_until,
            self.network.key_period,
        );
        let mut votes = Vec::new();
        for peer in &self.peers {
            let Some(text) = self
                .store
                .vote(round.valid_after, &peer.key)
                .map_err(|e| e.to_string())?
            else {
                continue;
            };
            // Stored votes were verified on arrival; reading them again with
            // the same rules keeps one code path from bytes to consensus.
            let v = vote::parse(&text, &terms, &peer.key, |d| {
                intake::read_for_vote(d, &self.network, periods)
            })
            .map_err(|e| format!("stored vote of {}: {e}", peer.url))?;
            votes.push(v.entries.into_iter().map(|e| e.node).collect::<Vec<_>>());
        }
        let va_text = format_directory_time(terms.valid_after);
        let placed = consensus::consensus(&votes, self.peers.len(), terms.hops, &va_text)
            .map_err(|e| format!("{} votes: {e}", votes.len()))?;
        let text = self.sign(&terms, &placed)?;
        let cut = signed_len(&text).ok_or("signed document has no signature line")?;
        let (signed, line) = text.split_at(cut);
        self.store
            .put_consensus(round.valid_after, signed, &self.own(), line)
            .map_err(|e| e.to_string())?;
        Ok(placed.len())
    }

    fn sign(&self, terms: &Terms, placed: &[Placed]) -> Result<Vec<u8>, String> {
        let params = DirectoryParams {
            network: terms.network.clone(),
            valid_after: terms.valid_after,
            valid_until: terms.valid_until,
            hops: terms.hops,
            payload_size: terms.payload_size,
            mean_delay: Duration::from_secs(terms.mean_delay),
            key_period: Duration::from_secs(terms.key_period),
        };
        let nodes: Vec<NodeEntry> = placed
            .iter()
            .map(|p| {
                NodeEntry::new(
                    &p.listing.nickname,
                    p.layer,
                    &p.listing.address,
                    p.identity,
                    p.listing
                        .keys
                        .iter()
                        .map(|(period, key)| PeriodKey {
                            period: *period,
                            key: *key,
                        })
                        .collect(),
                )
            })
            .collect();
        Directory::sign(&params, &nodes, &[&self.keys.directory]).map_err(|e| e.to_string())
    }

    fn fetch_signatures(&self, valid_after: u64) {
        let Ok(Some(signed)) = self.store.consensus(valid_after) else {
            return;
        };
        let held: Vec<[u8; 32]> = self
            .store
            .signatures(valid_after)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let path = format_directory_time(from_unix(valid_after));
        for peer in self.peers.iter().filter(|p| !held.contains(&p.key)) {
            let line = match self.get(
                &format!("{}/mixmailer/v2/signature/{path}", peer.url),
                MAX_SIGNATURE_LINE,
            ) {
                Ok(Some(line)) => line,
                Ok(None) => continue,
                Err(e) => {
                    tracing::debug!(peer = %peer.url, "signature not fetched: {e}");
                    continue;
                }
            };
            match check_signature_line(&line, &peer.key, &signed) {
                Ok(()) => match self.store.put_signature(valid_after, &peer.key, &line) {
                    Ok(()) => tracing::info!(peer = %peer.url, "peer signature stored"),
                    Err(e) => tracing::error!("cannot store a signature: {e}"),
                },
                Err(e) => tracing::warn!(peer = %peer.url, "peer signature refused: {e}"),
            }
        }
    }
}

/// Bytes up to and including the LF before the first `signature` line.
fn signed_len(text: &[u8]) -> Option<usize> {
    text.windows(11)
        .position(|w| w == b"\nsignature ")
        .map(|at| at + 1)
}

/// A peer's line must be `signature <its key> <sig>\n` with a valid
/// signature over our own signed bytes: then it computed the same document.
fn check_signature_line(line: &[u8], key: &[u8; 32], signed: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned())?;
    let body = text.strip_suffix('\n').ok_or("does not end in LF")?;
    let fields: Vec<&str> = body.split(' ').collect();
    let ["signature", k, sig] = fields[..] else {
        return Err("not `signature <key> <sig>`".into());
    };
    if k != B64.encode(key) {
        return Err("signed by another key than the peer's".into());
    }
    let sig: [u8; 64] = B64
        .decode(sig)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("signature is not 64 bytes of base64")?;
    VerifyingKey::from_bytes(key)
        .map_err(|_| "peer key is not a valid Ed25519 key".to_owned())?
        .verify_strict(signed, &Signature::from_bytes(&sig))
        .map_err(|_| {
            "does not verify over our consensus: the peer computed a different document".to_owned()
        })
}
