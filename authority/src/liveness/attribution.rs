//! Which nodes are down (docs/authority.md section 7): lost probes are
//! blamed only on nodes that have no arrived probe near them in time, so a
//! working node sharing a route with a dead one is not blamed.

use std::collections::{BTreeMap, BTreeSet};

/// One probe as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Unix seconds when it was submitted.
    pub sent: u64,
    /// Identities of its route, first hop first.
    pub route: Vec<[u8; 32]>,
    /// Whether it reached the authority's mailbox.
    pub arrived: bool,
}

/// The liveness parameters, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Time between probe rounds; also the radius within which an arrived
    /// probe clears a node of a lost one.
    pub probe_interval: u64,
    /// How far back probes count.
    pub window: u64,
    /// A probe not arrived this long after sending is lost.
    pub timeout: u64,
    /// Blamed losses that make a node down.
    pub dead_after: usize,
}

/// How long after a published document first lists a node the other
/// nodes may still not know it: a node handed a packet for a next hop it
/// does not list refuses it for now (the MTA retries) and fetches a newer
/// document, at most every 30 s; twice that covers a node that fetched
/// just before the document came out. Losses of probes sent meanwhile say
/// nothing about the node.
pub const LEARN_TIME: u64 = 60;

/// For each node of the newest document of `documents` (valid-after and
/// the identities it lists, newest first, only published ones): the
/// valid-after of the oldest document of the unbroken run up to the
/// newest that lists it, or 0 when the run reaches back past `horizon`.
pub fn listed_since<I>(documents: I, horizon: u64) -> BTreeMap<[u8; 32], u64>
where
    I: IntoIterator<Item = (u64, BTreeSet<[u8; 32]>)>,
{
    let mut since = BTreeMap::new();
    let mut run: Option<BTreeSet<[u8; 32]>> = None;
    for (valid_after, listed) in documents {
        if valid_after < horizon {
            for id in run.iter().flatten() {
                since.insert(*id, 0);
            }
            break;
        }
        let run = run.get_or_insert_with(|| listed.clone());
        run.retain(|id| listed.contains(id));
        if run.is_empty() {
            break;
        }
        for id in run.iter() {
            since.insert(*id, valid_after);
        }
    }
    since
}

/// When a node's probe losses start to count: after its newest descriptor
/// was published at `published` (a node that restarted or changed gets a
/// new chance), and [`LEARN_TIME`] after the run of documents listing it
/// began at `listed_since` (the others may not know it before).
pub fn count_from(published: u64, listed_since: Option<u64>) -> u64 {
    published.max(listed_since.map_or(0, |l| l.saturating_add(LEARN_TIME)))
}

/// The nodes that are down at `now`. `count_from` gives, per node, the
/// time from which losses of probes sent through it count (see
/// [`count_from`]); before it, they are not held against it.
pub fn down_nodes(
    probes: &[Probe],
    now: u64,
    rules: &Rules,
    count_from: &BTreeMap<[u8; 32], u64>,
) -> BTreeSet<[u8; 32]> {
    let start = now.saturating_sub(rules.window);
    let recent: Vec<&Probe> = probes
        .iter()
        .filter(|p| p.sent >= start && p.sent <= now)
        .collect();
    // identity -> send times of its arrived probes
    let mut arrivals: BTreeMap<[u8; 32], Vec<u64>> = BTreeMap::new();
    for p in recent.iter().filter(|p| p.arrived) {
        for id in &p.route {
            arrivals.entry(*id).or_default().push(p.sent);
        }
    }
    // identity -> send times of lost probes blamed on it
    let mut blamed: BTreeMap<[u8; 32], Vec<u64>> = BTreeMap::new();
    let lost = recent
        .iter()
        .filter(|p| !p.arrived && p.sent.saturating_add(rules.timeout) <= now);
    for p in lost {
        for id in &p.route {
            let cleared = arrivals.get(id).is_some_and(|times| {
                times
                    .iter()
                    .any(|t| t.abs_diff(p.sent) <= rules.probe_interval)
            });
            if !cleared {
                blamed.entry(*id).or_default().push(p.sent);
            }
        }
    }
    blamed
        .into_iter()
        .filter(|(id, times)| {
            let since = count_from.get(id).copied().unwrap_or(0);
            let counted: Vec<u64> = times.iter().copied().filter(|t| *t >= since).collect();
            let latest = counted.iter().copied().max().unwrap_or(0);
            let recovered = arrivals
                .get(id)
                .is_some_and(|a| a.iter().any(|t| *t > latest));
            counted.len() >= rules.dead_after && !recovered
        })
        .map(|(id, _)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules = Rules {
        probe_interval: 600,
        window: 6 * 3600,
        timeout: 1200,
        dead_after: 2,
    };

    fn id(i: u8) -> [u8; 32] {
        [i; 32]
    }

    fn probe(sent: u64, route: &[u8], arrived: bool) -> Probe {
        Probe {
            sent,
            route: route.iter().map(|i| id(*i)).collect(),
            arrived,
        }
    }

    /// Two rounds of routes over layers {1,2} {3,4} {5,6} where node 4 is dead.
    fn rounds_with_dead_node_4() -> Vec<Probe> {
        let mut probes = Vec::new();
        for round in 0..2u64 {
            let t = 10_000 + round * 600;
            probes.push(probe(t, &[1, 3, 5], true));
            probes.push(probe(t, &[2, 4, 6], false));
            probes.push(probe(t + 1, &[2, 3, 6], true));
            probes.push(probe(t + 1, &[1, 4, 5], false));
        }
        probes
    }

    #[test]
    fn a_dead_node_is_blamed_and_its_route_partners_are_cleared() {
        let down = down_nodes(&rounds_with_dead_node_4(), 20_000, &RULES, &BTreeMap::new());
        assert_eq!(down, BTreeSet::from([id(4)]));
    }

    #[test]
    fn one_blamed_loss_is_not_enough() {
        let probes = vec![probe(10_000, &[1, 2], false), probe(10_000, &[3, 4], true)];
        assert!(down_nodes(&probes, 20_000, &RULES, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn probes_still_in_flight_are_not_judged() {
        let probes = vec![probe(19_500, &[1, 2], false), probe(19_600, &[1, 2], false)];
        assert!(down_nodes(&probes, 20_000, &RULES, &BTreeMap::new()).is_empty());
        assert_eq!(
            down_nodes(&probes, 21_000, &RULES, &BTreeMap::new()).len(),
            2
        );
    }

    #[test]
    fn losses_older_than_the_window_are_forgotten() {
        let probes = rounds_with_dead_node_4();
        assert!(down_nodes(&probes, 10_000 + 7 * 3600, &RULES, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn a_node_that_arrives_again_or_republishes_comes_back() {
        let mut probes = rounds_with_dead_node_4();
        let mut published = BTreeMap::new();
        published.insert(id(4), 12_000);
        assert!(down_nodes(&probes, 20_000, &RULES, &published).is_empty());
        published.insert(id(4), 9_000); // older than its losses: still down
        assert_eq!(down_nodes(&probes, 20_000, &RULES, &published).len(), 1);
        probes.push(probe(15_000, &[2, 4, 6], true));
        assert!(down_nodes(&probes, 20_000, &RULES, &published).is_empty());
    }

    #[test]
    fn losses_before_a_node_counts_are_not_held_against_it() {
        // Node 4 counts from 10_700: both rounds (10_000 and 10_600) were
        // sent before, so none of their losses count.
        let mut probes = rounds_with_dead_node_4();
        let from = BTreeMap::from([(id(4), 10_700)]);
        assert!(down_nodes(&probes, 20_000, &RULES, &from).is_empty());
        // A later round has two losses through node 4.
        probes.push(probe(11_200, &[1, 3, 5], true));
        probes.push(probe(11_200, &[2, 4, 6], false));
        probes.push(probe(11_201, &[2, 3, 6], true));
        probes.push(probe(11_201, &[1, 4, 5], false));
        assert_eq!(
            down_nodes(&probes, 20_000, &RULES, &from),
            BTreeSet::from([id(4)])
        );
        // Only one of them: the losses before do not add up with it.
        probes.pop();
        assert!(down_nodes(&probes, 20_000, &RULES, &from).is_empty());
    }

    #[test]
    fn a_node_counts_from_its_descriptor_or_shortly_after_it_was_listed_again() {
        // Listed without a break since long ago: from its descriptor.
        assert_eq!(count_from(5_000, Some(0)), 5_000);
        // Listed again at 9_000 after a document that left it out.
        assert_eq!(count_from(5_000, Some(9_000)), 9_000 + LEARN_TIME);
        // A new descriptor after that.
        assert_eq!(count_from(9_500, Some(9_000)), 9_500);
        // Not in the newest document: not probed; from its descriptor.
        assert_eq!(count_from(5_000, None), 5_000);
    }

    #[test]
    fn listed_since_follows_the_unbroken_run_of_documents() {
        let doc = |va: u64, ids: &[u8]| (va, ids.iter().map(|i| id(*i)).collect());
        // Newest first: node 1 always, node 2 left out at 1_000 and back
        // at 1_100, node 3 only in the newest.
        let documents = vec![
            doc(1_200, &[1, 2, 3]),
            doc(1_100, &[1, 2]),
            doc(1_000, &[1]),
            doc(900, &[1, 2]),
            doc(800, &[1, 2]),
        ];
        let since = listed_since(documents.clone(), 0);
        assert_eq!(since.get(&id(1)), Some(&800));
        assert_eq!(since.get(&id(2)), Some(&1_100));
        assert_eq!(since.get(&id(3)), Some(&1_200));
        // A run reaching past the horizon counts as "long ago".
        let since = listed_since(documents, 950);
        assert_eq!(since.get(&id(1)), Some(&0));
        assert_eq!(since.get(&id(2)), Some(&1_100));
        assert!(listed_since(Vec::new(), 0).is_empty());
    }

    #[test]
    fn a_lost_probe_among_working_nodes_blames_no_one() {
        let probes = vec![
            probe(10_000, &[1, 3], true),
            probe(10_000, &[2, 4], true),
            probe(10_001, &[1, 4], false),
            probe(10_600, &[1, 3], true),
            probe(10_600, &[2, 4], true),
            probe(10_601, &[2, 3], false),
        ];
        assert!(down_nodes(&probes, 20_000, &RULES, &BTreeMap::new()).is_empty());
    }
}
