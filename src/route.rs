//! Routes: one node per layer, the last one the exit.

use crate::directory::{Directory, NodeEntry};
use rand_core::CryptoRng;
use std::time::Duration;

/// Why a route could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// placeholder
    #[error("unknown nickname {0:?}")]
    UnknownNickname(String),
}

/// A path through the mixnet, with the network values packets need.
#[derive(Clone, Debug)]
pub struct Route {
    hops: Vec<NodeEntry>,
    payload_size: usize,
    mean_delay: Duration,
}

impl Route {
    /// The nodes in order; the last is the exit.
    pub fn hops(&self) -> &[NodeEntry] {
        &self.hops
    }
    /// The node the sender mails packets to.
    pub fn first_hop(&self) -> &NodeEntry {
        &self.hops[0]
    }
    /// Sphinx payload size of the network.
    pub fn payload_size(&self) -> usize {
        self.payload_size
    }
    /// Mean per-hop delay of the network.
    pub fn mean_delay(&self) -> Duration {
        self.mean_delay
    }
}

impl Directory {
    /// A random route: one node per layer, uniformly from that layer.
    pub fn random_route<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<Route, RouteError> {
        unimplemented!()
    }
    /// The route through the named nodes, which must be of layers 1..=h in order.
    pub fn route(&self, nicknames: &[&str]) -> Result<Route, RouteError> {
        unimplemented!()
    }
}
