//! The consensus function (docs/authority.md sections 4 and 5): which nodes
//! are listed, with which keys, in which layer. A pure function of the votes
//! and the shared parameters, so every authority holding the same votes
//! computes the same document.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// What a vote says a node's directory entry should be: the part of its
/// descriptor the document shows. Two descriptors of one node that agree on
/// this agree for the document.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listing {
    /// Nickname.
    pub nickname: String,
    /// SMTP mailbox.
    pub address: String,
    /// `role exit`: may serve the last layer.
    pub exit: bool,
    /// (period, X25519 key) for exactly the periods the document covers, increasing.
    pub keys: Vec<(u64, [u8; 32])>,
}

/// One `node` line of a vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VotedNode {
    /// The node's Ed25519 identity.
    pub identity: [u8; 32],
    /// The node's layer in the voter's newest published document, 0 if none.
    pub previous_layer: u8,
    /// The entry the voter proposes.
    pub listing: Listing,
}

/// A node of the consensus, in document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Layer 1..=h.
    pub layer: u8,
    /// Identity.
    pub identity: [u8; 32],
    /// Its agreed entry.
    pub listing: Listing,
}

/// Why no document can be built this interval.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    /// No listed node has `role exit`.
    #[error("no listed node is an exit")]
    NoExit,
    /// Fewer listed nodes than layers.
    #[error("{nodes} nodes listed, fewer than the {hops} layers")]
    TooFewNodes {
        /// Listed nodes.
        nodes: usize,
        /// Layers.
        hops: u8,
    },
}

/// The consensus of `votes` (each the node lines of one authority's vote,
/// at most one vote per authority) among `authorities` configured
/// authorities, for a document of `hops` layers whose valid-after is
/// written `valid_after` (it seeds the order key). Nodes come back in
/// document order: by layer, then identity bytes.
pub fn consensus(
    votes: &[Vec<VotedNode>],
    authorities: usize,
    hops: u8,
    valid_after: &str,
) -> Result<Vec<Placed>, ConsensusError> {
    let majority = authorities / 2 + 1;
    // identity -> listing -> previous layers of the votes carrying it
    let mut tally: BTreeMap<[u8; 32], BTreeMap<&Listing, Vec<u8>>> = BTreeMap::new();
    for vote in votes {
        for node in vote {
            tally
                .entry(node.identity)
                .or_default()
                .entry(&node.listing)
                .or_default()
                .push(node.previous_layer);
        }
    }
    let mut listed: Vec<(&[u8; 32], &Listing, u8)> = Vec::new();
    for (identity, listings) in &tally {
        if let Some((listing, layers)) = listings.iter().find(|(_, v)| v.len() >= majority) {
            listed.push((identity, listing, most_frequent(layers)));
        }
    }
    let listed = drop_conflicts(listed);
    assign_layers(&listed, hops, valid_after)
}

/// The most frequent value; a tie goes to the smallest.
fn most_frequent(values: &[u8]) -> u8 {
    let mut counts: BTreeMap<u8, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(*v).or_default() += 1;
    }
    let best = counts.values().copied().max().unwrap_or(0);
    counts
        .into_iter()
        .find(|(_, c)| *c == best)
        .map(|(v, _)| v)
        .unwrap_or(0)
}

/// Drops every node that shares a nickname, an address (domain compared
/// case-insensitively, as the directory does) or an X25519 key with another.
fn drop_conflicts<'a>(
    listed: Vec<(&'a [u8; 32], &'a Listing, u8)>,
) -> Vec<(&'a [u8; 32], &'a Listing, u8)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (_, listing, _) in &listed {
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.insert(format!("n:{}", listing.nickname));
        names.insert(format!("a:{}", address_key(&listing.address)));
        for (_, key) in &listing.keys {
            names.insert(format!("k:{}", hex(key)));
        }
        for name in names {
            *seen.entry(name).or_default() += 1;
        }
    }
    listed
        .into_iter()
        .filter(|(_, listing, _)| {
            seen.get(&format!("n:{}", listing.nickname)) == Some(&1)
                && seen.get(&format!("a:{}", address_key(&listing.address))) == Some(&1)
                && listing
                    .keys
                    .iter()
                    .all(|(_, key)| seen.get(&format!("k:{}", hex(key))) == Some(&1))
        })
        .collect()
}

fn address_key(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => address.to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256(valid-after as written || identity): changes every interval, so
/// no node is always first when places are short.
fn order_key(valid_after: &str, identity: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(valid_after.as_bytes());
    h.update(identity);
    h.finalize().into()
}

/// Section 5 of docs/authority.md.
fn assign_layers(
    listed: &[(&[u8; 32], &Listing, u8)],
    hops: u8,
    valid_after: &str,
) -> Result<Vec<Placed>, ConsensusError> {
    struct Node<'a> {
        identity: &'a [u8; 32],
        listing: &'a Listing,
        previous: u8,
        order: [u8; 32],
    }
    let mut nodes: Vec<Node> = listed
        .iter()
        .map(|(identity, listing, previous)| Node {
            identity,
            listing,
            previous: *previous,
            order: order_key(valid_after, identity),
        })
        .collect();
    nodes.sort_by_key(|n| n.order);
    let exits = nodes.iter().filter(|n| n.listing.exit).count();
    if exits == 0 {
        return Err(ConsensusError::NoExit);
    }
    if nodes.len() < usize::from(hops) {
        return Err(ConsensusError::TooFewNodes {
            nodes: nodes.len(),
            hops,
        });
    }
    let mix_layers = usize::from(hops) - 1;
    let mut last: Vec<&Node> = nodes.iter().filter(|n| n.listing.exit).collect();
    let mut pool: Vec<&Node> = nodes.iter().filter(|n| !n.listing.exit).collect();
    if pool.len() < mix_layers {
        // Exits that already served a mix layer move first, then by order key.
        last.sort_by_key(|n| {
            let was_mix = n.previous >= 1 && usize::from(n.previous) <= mix_layers;
            (!was_mix, n.order)
        });
        let moving = mix_layers - pool.len();
        pool.extend(last.drain(..moving));
    }
    let mut placed: Vec<Placed> = last
        .iter()
        .map(|n| Placed {
            layer: hops,
            identity: *n.identity,
            listing: n.listing.clone(),
        })
        .collect();
    if let Some(q) = pool.len().checked_div(mix_layers) {
        let r = pool.len() % mix_layers;
        // Pool nodes wishing to stay in each mix layer, in order-key order.
        let mut stayers: Vec<Vec<&Node>> = vec![Vec::new(); mix_layers];
        let mut unplaced: Vec<&Node> = Vec::new();
        for n in &pool {
            match usize::from(n.previous).checked_sub(1) {
                Some(j) if j < mix_layers => stayers[j].push(n),
                _ => unplaced.push(n),
            }
        }
        let mut by_wish: Vec<usize> = (0..mix_layers).collect();
        by_wish.sort_by_key(|j| (std::cmp::Reverse(stayers[*j].len()), *j));
        let mut room = vec![q; mix_layers];
        for j in by_wish.iter().take(r) {
            room[*j] = q + 1;
        }
        let mut layers: Vec<Vec<&Node>> = vec![Vec::new(); mix_layers];
        for (j, wishing) in stayers.into_iter().enumerate() {
            for (i, n) in wishing.into_iter().enumerate() {
                if i < room[j] {
                    layers[j].push(n);
                } else {
                    unplaced.push(n);
                }
            }
        }
        unplaced.sort_by_key(|n| n.order);
        for n in unplaced {
            let j = (0..mix_layers)
                .max_by_key(|j| {
                    (
                        room[*j].saturating_sub(layers[*j].len()),
                        std::cmp::Reverse(*j),
                    )
                })
                .unwrap_or(0);
            layers[j].push(n);
        }
        for (j, members) in layers.into_iter().enumerate() {
            for n in members {
                placed.push(Placed {
                    layer: (j + 1) as u8,
                    identity: *n.identity,
                    listing: n.listing.clone(),
                });
            }
        }
    }
    placed.sort_by_key(|p| (p.layer, p.identity));
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VA: &str = "2026-12-02T05:00:00Z";

    fn node(i: u8, exit: bool, previous_layer: u8) -> VotedNode {
        VotedNode {
            identity: [i; 32],
            previous_layer,
            listing: Listing {
                nickname: format!("n{i}"),
                address: format!("n{i}@example.org"),
                exit,
                keys: vec![(100, [i; 32]), (101, [i.wrapping_add(128); 32])],
            },
        }
    }

    fn layers_of(placed: &[Placed]) -> BTreeMap<u8, Vec<u8>> {
        let mut out: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        for p in placed {
            out.entry(p.layer).or_default().push(p.identity[0]);
        }
        out
    }

    fn sizes(placed: &[Placed]) -> Vec<usize> {
        layers_of(placed).values().map(Vec::len).collect()
    }

    #[test]
    fn a_node_needs_a_majority_of_all_configured_authorities() {
        let base: Vec<VotedNode> = (1..=3).map(|i| node(i, i == 3, 0)).collect();
        let mut with_extra = base.clone();
        with_extra.push(node(9, false, 0));
        // 1 of 3 votes lists node 9: out. 2 of 3: in.
        let votes = vec![with_extra.clone(), base.clone(), base.clone()];
        let placed = consensus(&votes, 3, 3, VA).unwrap();
        assert!(placed.iter().all(|p| p.identity != [9; 32]));
        let votes = vec![with_extra.clone(), with_extra, base.clone()];
        let placed = consensus(&votes, 3, 3, VA).unwrap();
        assert!(placed.iter().any(|p| p.identity == [9; 32]));
        // Two votes received of five configured authorities are no majority.
        let votes = vec![base.clone(), base];
        assert_eq!(consensus(&votes, 5, 3, VA), Err(ConsensusError::NoExit));
    }

    #[test]
    fn the_listing_a_majority_agrees_on_wins_and_split_listings_lose() {
        let mut newer = node(2, false, 0);
        newer.listing.address = "moved@example.org".into();
        let a = vec![node(1, false, 0), node(2, false, 0), node(3, true, 0)];
        let mut b = a.clone();
        b[1] = newer.clone();
        let placed = consensus(&[b.clone(), b.clone(), a.clone()], 3, 3, VA).unwrap();
        let two = placed.iter().find(|p| p.identity == [2; 32]).unwrap();
        assert_eq!(two.listing.address, "moved@example.org");
        // 1 + 1 + 1 for three different listings: nobody agrees, node 2 is out.
        let mut c = a.clone();
        c[1].listing.keys[1].1 = [77; 32];
        let out = consensus(&[a, b, c], 3, 2, VA).unwrap();
        assert!(out.iter().all(|p| p.identity != [2; 32]));
    }

    #[test]
    fn nodes_sharing_a_nickname_address_or_key_are_all_dropped() {
        let mut forger = node(7, false, 0);
        forger.listing.address = "n1@EXAMPLE.ORG".into();
        let vote = vec![
            node(1, false, 0),
            node(2, false, 0),
            node(3, true, 0),
            node(4, true, 0),
            forger,
        ];
        let placed = consensus(&[vote.clone(), vote.clone(), vote], 3, 2, VA).unwrap();
        let ids: Vec<u8> = placed.iter().map(|p| p.identity[0]).collect();
        assert_eq!(ids.len(), 3);
        assert!(!ids.contains(&1) && !ids.contains(&7));
    }

    #[test]
    fn exits_fill_the_last_layer_and_mixes_are_balanced() {
        let vote: Vec<VotedNode> = (1..=9).map(|i| node(i, i > 6, 0)).collect();
        let placed = consensus(&[vote.clone(), vote], 2, 4, VA).unwrap();
        let layers = layers_of(&placed);
        assert_eq!(layers[&4], vec![7, 8, 9]);
        assert_eq!(sizes(&placed), vec![2, 2, 2, 3]);
        for p in &placed {
            assert_eq!(p.listing.exit, p.layer == 4);
        }
    }

    #[test]
    fn nodes_keep_their_layer_when_it_has_room() {
        // Seven mixes were in layers 1 and 2 (4 + 3); now an eighth arrives.
        let mut vote: Vec<VotedNode> = (1..=7)
            .map(|i| node(i, false, if i <= 4 { 1 } else { 2 }))
            .collect();
        vote.push(node(8, false, 0));
        vote.push(node(20, true, 3));
        let placed = consensus(&[vote], 1, 3, VA).unwrap();
        let layers = layers_of(&placed);
        assert_eq!(layers[&1], vec![1, 2, 3, 4]);
        assert_eq!(layers[&2], vec![5, 6, 7, 8]);
    }

    #[test]
    fn when_a_layer_shrinks_only_the_surplus_moves() {
        // Layer 2 lost its nodes: of layer 1's four, two move, two stay.
        let mut vote: Vec<VotedNode> = (1..=4).map(|i| node(i, false, 1)).collect();
        vote.push(node(20, true, 3));
        let placed = consensus(&[vote], 1, 3, VA).unwrap();
        assert_eq!(sizes(&placed), vec![2, 2, 1]);
    }

    #[test]
    fn too_few_mixes_borrow_an_exit_but_keep_one_in_the_last_layer() {
        let vote = vec![node(1, true, 0), node(2, true, 0), node(3, true, 0)];
        let placed = consensus(&[vote], 1, 3, VA).unwrap();
        assert_eq!(sizes(&placed), vec![1, 1, 1]);
        let vote = vec![node(1, false, 0), node(2, false, 0)];
        assert_eq!(consensus(&[vote], 1, 2, VA), Err(ConsensusError::NoExit));
    }

    #[test]
    fn the_order_of_votes_and_of_lines_does_not_change_the_result() {
        let a: Vec<VotedNode> = (1..=12).map(|i| node(i, i % 4 == 0, i % 3)).collect();
        let mut b = a.clone();
        b.reverse();
        let mut c = a.clone();
        c.rotate_left(5);
        let one = consensus(&[a.clone(), b.clone(), c.clone()], 3, 3, VA).unwrap();
        let two = consensus(&[c, a, b], 3, 3, VA).unwrap();
        assert_eq!(one, two);
    }
}
