//! Probe routes for one round: every node of every layer on at least two
//! routes, and, where the layers allow it, no node sharing a partner on
//! all of its routes (docs/authority.md section 7): a dead partner would
//! otherwise lose every probe through a working node, and get it blamed.

use rand::seq::SliceRandom;
use std::collections::BTreeMap;

/// Candidate plans per round; the one with the fewest shared partners is
/// kept. The work is linear in the nodes.
const CANDIDATES: usize = 32;

/// Routes (one node per layer, layer order) covering every node of
/// `layers` at least twice, with as few shared partners as the candidates
/// reach (see [`shared_partners`]). No routes when a layer is empty.
pub fn plan_round<T: Clone + Ord, R: rand::Rng + ?Sized>(
    layers: &[Vec<T>],
    rng: &mut R,
) -> Vec<Vec<T>> {
    if layers.is_empty() || layers.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    // The first candidate has no shared partner when the layers are equal
    // and have at least as many nodes as there are layers; the others
    // cover unequal layers.
    let mut best = candidate(layers, rng, true);
    let mut best_score = shared_partners(&best);
    for _ in 1..CANDIDATES {
        if best_score == 0 {
            break;
        }
        let plan = candidate(layers, rng, false);
        let score = shared_partners(&plan);
        if score < best_score {
            (best, best_score) = (plan, score);
        }
    }
    best
}

/// One candidate: each layer's list is a shuffle followed by a second
/// order of the same nodes, and route j takes the j-th entry of every
/// list, cycling shorter ones, so every node is on at least two routes.
/// The second order is another shuffle, or with `rotate` the first one
/// rotated by the layer's index: then a route of the second half takes
/// its nodes from first-half routes j, j + 1, ..., all different when a
/// layer has at least as many nodes as there are layers.
fn candidate<T: Clone, R: rand::Rng + ?Sized>(
    layers: &[Vec<T>],
    rng: &mut R,
    rotate: bool,
) -> Vec<Vec<T>> {
    let lists: Vec<Vec<T>> = layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let mut first = layer.clone();
            first.shuffle(rng);
            let mut second = first.clone();
            if rotate {
                let by = i % second.len();
                second.rotate_left(by);
            } else {
                second.shuffle(rng);
            }
            first.extend(second);
            first
        })
        .collect();
    let routes = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..routes)
        .map(|j| {
            lists
                .iter()
                .map(|list| list[j % list.len()].clone())
                .collect()
        })
        .collect()
}

/// How many (node, partner) pairs have the partner on every route of the
/// node: each is a node that a dead partner alone would get blamed.
pub fn shared_partners<T: Ord>(routes: &[Vec<T>]) -> usize {
    let mut on: BTreeMap<&T, Vec<usize>> = BTreeMap::new();
    for (j, route) in routes.iter().enumerate() {
        for node in route {
            on.entry(node).or_default().push(j);
        }
    }
    on.iter()
        .map(|(node, js)| {
            let (first, rest) = js.split_first().expect("a node is on a route");
            routes[*first]
                .iter()
                .filter(|partner| *partner != *node)
                .filter(|partner| rest.iter().all(|j| routes[*j].contains(partner)))
                .count()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_node_is_on_at_least_two_routes_in_its_own_layer_position() {
        let layers = vec![vec![1, 2, 3], vec![10, 11], vec![20, 21, 22, 23, 24]];
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let routes = plan_round(&layers, &mut rng);
        assert_eq!(routes.len(), 10);
        for (i, layer) in layers.iter().enumerate() {
            for node in layer {
                let on = routes.iter().filter(|r| r[i] == *node).count();
                assert!(on >= 2, "node {node} on {on} routes");
            }
        }
        assert!(routes.iter().all(|r| r.len() == 3));
    }

    #[test]
    fn an_empty_layer_gives_no_routes() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        assert!(plan_round(&[vec![1], Vec::new()], &mut rng).is_empty());
    }

    #[test]
    fn partners_differ_where_the_layers_allow_it() {
        // Three nodes per layer: one candidate often repeats a partner; the
        // chosen plan never does, round after round.
        let layers = vec![vec![1, 2, 3], vec![10, 11, 12], vec![20, 21, 22]];
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for _ in 0..200 {
            let routes = plan_round(&layers, &mut rng);
            assert_eq!(shared_partners(&routes), 0, "{routes:?}");
        }
        let repeated = (0..200)
            .filter(|_| shared_partners(&candidate(&layers, &mut rng, false)) > 0)
            .count();
        assert!(repeated > 50, "one candidate alone repeats partners often");
    }

    #[test]
    fn with_two_nodes_per_layer_only_the_unavoidable_pairs_repeat() {
        // Four routes over layers of two: each second-half route holds
        // three nodes of two first-half routes, so at least one pair meets
        // twice on each (2 pairs, counted from both sides: 4).
        let layers = vec![vec![1, 2], vec![10, 11], vec![20, 21]];
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for _ in 0..200 {
            let routes = plan_round(&layers, &mut rng);
            assert_eq!(shared_partners(&routes), 4, "{routes:?}");
        }
    }

    #[test]
    fn a_single_node_layer_is_everyones_partner_and_that_is_all() {
        // Node 10 is on every route: sharing it cannot be avoided, but no
        // other partner is shared.
        let layers = vec![vec![1, 2, 3], vec![10], vec![20, 21, 22]];
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let routes = plan_round(&layers, &mut rng);
        let nodes_besides_10 = 6;
        assert_eq!(shared_partners(&routes), nodes_besides_10);
    }

    #[test]
    fn shared_partners_counts_a_partner_on_every_route_of_a_node() {
        let routes = vec![vec![1, 10], vec![1, 10], vec![2, 11], vec![2, 12]];
        // 1 shares 10 and 10 shares 1; 2 shares nothing; 11 and 12 are on
        // one route only, so their one partner 2 is on all of them.
        assert_eq!(shared_partners(&routes), 4);
    }
}
