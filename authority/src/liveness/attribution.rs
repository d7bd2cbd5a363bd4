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
    /// How long after a node publishes a descriptor the other nodes may
    /// still not know it: until then a packet for it is refused by the
    /// node before it (which fetches a newer directory and lets its MTA
    /// retry), so losses of probes sent meanwhile say nothing about it.
    pub settle: u64,
}

/// The nodes that are down at `now`. `published` gives each node's newest
/// descriptor time: only losses of probes sent at least `settle` after it
/// count, so a node that restarted or changed gets a new chance, and one
/// that just joined is not blamed for the others not knowing it yet.
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
            let since = published
                .get(id)
                .map_or(0, |p| p.saturating_add(rules.settle));
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
        settle: 300,
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
    fn a_node_is_not_blamed_while_the_others_may_not_know_it_yet() {
        // Node 4 published at 10_400: both rounds (10_000 and 10_600) were
        // sent within the settle time, so none of their losses count.
        let mut probes = rounds_with_dead_node_4();
        let published = BTreeMap::from([(id(4), 10_400)]);
        assert!(down_nodes(&probes, 20_000, &RULES, &published).is_empty());
        // A round after the settle time has two losses through node 4.
        probes.push(probe(11_200, &[1, 3, 5], true));
        probes.push(probe(11_200, &[2, 4, 6], false));
        probes.push(probe(11_201, &[2, 3, 6], true));
        probes.push(probe(11_201, &[1, 4, 5], false));
        assert_eq!(
            down_nodes(&probes, 20_000, &RULES, &published),
            BTreeSet::from([id(4)])
        );
        // Only one of them: not enough on its own.
        probes.pop();
        assert!(down_nodes(&probes, 20_000, &RULES, &published).is_empty());
    }

    #[test]
    fn losses_before_a_new_descriptor_do_not_add_to_losses_after_it() {
        // Two losses at 10_000 and 10_600, a new descriptor at 11_000, then
        // one loss at 11_400: one counted loss, not three.
        let mut probes = rounds_with_dead_node_4();
        probes.push(probe(11_400, &[1, 3, 5], true));
        probes.push(probe(11_400, &[2, 4, 6], false));
        let published = BTreeMap::from([(id(4), 11_000 - RULES.settle)]);
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
