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

/// The nodes that are down at `now`. `published` gives each node's newest
/// descriptor time: a node that published after its latest blamed loss
/// (it restarted or changed) gets a new chance.
pub fn down_nodes(
    probes: &[Probe],
    now: u64,
    rules: &Rules,
    published: &BTreeMap<[u8; 32], u64>,
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
            let latest = times.iter().copied().max().unwrap_or(0);
            let recovered = arrivals
                .get(id)
                .is_some_and(|a| a.iter().any(|t| *t > latest));
            let republished = published.get(id).is_some_and(|p| *p > latest);
            times.len() >= rules.dead_after && !recovered && !republished
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
