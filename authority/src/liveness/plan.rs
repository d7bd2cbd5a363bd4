//! Probe routes for one round: every node of every layer on at least two
//! routes, with partners drawn independently for each (so usually, not
//! always, different; docs/authority.md section 7).

use rand::seq::SliceRandom;

/// Routes (one node per layer, layer order) covering every node of
/// `layers` at least twice: each layer's list is two independent shuffles
/// back to back, and route j takes the j-th entry of every list, cycling
/// shorter ones. No routes when a layer is empty.
pub fn plan_round<T: Clone, R: rand::Rng + ?Sized>(layers: &[Vec<T>], rng: &mut R) -> Vec<Vec<T>> {
    if layers.is_empty() || layers.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    let lists: Vec<Vec<T>> = layers
        .iter()
        .map(|layer| {
            let mut first = layer.clone();
            first.shuffle(rng);
            let mut second = layer.clone();
            second.shuffle(rng);
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
}
