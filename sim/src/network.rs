//! The simulated network: a directory made by the library's sample network
//! generator, and routes drawn by the library's own route selection, so the
//! simulator routes exactly as a MixMailer client does.

use mixmailer::directory::Directory;
use mixmailer::sample::{SampleNetwork, SampleSpec};
use rand::CryptoRng;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// Why a simulated network could not be built or used.
#[derive(Debug)]
pub enum NetworkError {
    /// The sample generator or the directory parser refused the parameters.
    Directory(String),
    /// The library's route selection failed.
    Route(String),
    /// A route named a node the directory does not list.
    UnknownNode,
    /// The spec allows 2..=5 layers (and the simulator needs a mixing layer).
    Hops(u8),
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkError::Directory(e) => write!(f, "sample directory: {e}"),
            NetworkError::Route(e) => write!(f, "route selection: {e}"),
            NetworkError::UnknownNode => write!(f, "route names a node outside the directory"),
            NetworkError::Hops(h) => write!(f, "{h} hops: the simulator needs 2..=5 layers"),
        }
    }
}

impl std::error::Error for NetworkError {}

/// The shape of the simulated network.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Layers = route length (2..=5).
    pub hops: u8,
    /// Nodes in each layer.
    pub nodes_per_layer: usize,
    /// Sphinx payload size.
    pub payload_size: usize,
}

/// The only place that touches `SampleSpec`. The directory's own mean
/// delay is whole seconds (SPEC 1); the simulator passes its (possibly
/// sub-second) mean to the delay sampler itself, so the value written here
/// only has to be valid. The directory is valid for seven key periods (at
/// most a week), within SPEC 1's limit of eight overlapping periods.
fn sample_directory(
    shape: &Shape,
    mean_delay_secs: u64,
    key_period: Duration,
) -> Result<Directory, NetworkError> {
    let spec = SampleSpec {
        hops: shape.hops,
        nodes_per_layer: shape.nodes_per_layer,
        payload_size: shape.payload_size,
        mean_delay: Duration::from_secs(mean_delay_secs),
        key_period,
        validity: (key_period * 7).min(Duration::from_secs(7 * 86_400)),
        seed: 1,
    };
    let network =
        SampleNetwork::generate(&spec).map_err(|e| NetworkError::Directory(e.to_string()))?;
    network
        .directory()
        .map_err(|e| NetworkError::Directory(e.to_string()))
}

/// A route as positions: `route[i]` is the node's index inside layer i + 1.
pub type Route = Vec<u8>;

/// The directory plus the mapping from its nodes to (layer, position).
pub struct Network {
    directory: Directory,
    shape: Shape,
    position: HashMap<[u8; 32], u8>,
    key_period: Duration,
}

impl Network {
    /// Builds the sample network for `shape` with per-hop mean `mean_delay`.
    pub fn new(shape: &Shape, mean_delay: Duration) -> Result<Network, NetworkError> {
        if !(2..=5).contains(&shape.hops) {
            return Err(NetworkError::Hops(shape.hops));
        }
        if shape.nodes_per_layer == 0 || shape.nodes_per_layer > usize::from(u8::MAX) {
            return Err(NetworkError::Directory(format!(
                "{} nodes per layer: the simulator handles 1..=255",
                shape.nodes_per_layer
            )));
        }
        let key_period = key_period_for(shape.hops, mean_delay);
        let directory = sample_directory(shape, mean_delay.as_secs(), key_period)?;
        let mut position = HashMap::new();
        let mut seen = vec![0u8; usize::from(shape.hops) + 1];
        for node in directory.nodes() {
            let layer = usize::from(node.layer());
            let slot = seen.get_mut(layer).ok_or(NetworkError::UnknownNode)?;
            position.insert(*node.id(), *slot);
            *slot = slot.saturating_add(1);
        }
        Ok(Network {
            directory,
            shape: shape.clone(),
            position,
            key_period,
        })
    }

    /// The network's shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The key period T the delays are capped by (T/2): the smallest whole
    /// hour that satisfies SPEC 1's `h * s <= T / 8`.
    pub fn key_period(&self) -> Duration {
        self.key_period
    }

    /// A route drawn by `Directory::random_route`.
    pub fn random_route<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<Route, NetworkError> {
        let route = self
            .directory
            .random_route(rng)
            .map_err(|e| NetworkError::Route(e.to_string()))?;
        route
            .hops()
            .iter()
            .map(|node| {
                self.position
                    .get(node.id())
                    .copied()
                    .ok_or(NetworkError::UnknownNode)
            })
            .collect()
    }
}

/// SPEC 1 requires `h * s <= T/8` and `T >= 3600 s`: the smallest whole
/// number of hours that fits.
pub fn key_period_for(hops: u8, mean_delay: Duration) -> Duration {
    let needed = mean_delay.as_secs_f64() * f64::from(hops) * 8.0;
    let hours = (needed / 3600.0).ceil().max(1.0);
    Duration::from_secs_f64(hours * 3600.0)
}
