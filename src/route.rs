//! Routes: one node per layer, the last one the exit.

use crate::directory::{Directory, NodeEntry};
use rand::distr::{Distribution, Uniform};
use rand_core::CryptoRng;
use std::time::Duration;

/// Why a route could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// A route names exactly one node per layer.
    #[error("a route has {expected} nodes (one per layer), {found} were given")]
    WrongLength {
        /// The directory's hops.
        expected: usize,
        /// Nicknames given.
        found: usize,
    },
    /// No node of the directory has this nickname.
    #[error("position {position}: no node is called {nickname:?}")]
    UnknownNickname {
        /// 1-based position in the route.
        position: usize,
        /// The nickname given.
        nickname: String,
    },
    /// The i-th node of a route must be of layer i.
    #[error("position {position}: node {nickname:?} is in layer {layer}, not layer {position}")]
    WrongLayer {
        /// The nickname given.
        nickname: String,
        /// 1-based position in the route, which is the layer required there.
        position: usize,
        /// The node's layer.
        layer: u8,
    },
    /// The directory lists no key of this node for the key period of the
    /// sending time (SPEC 2): the directory is too old or too new for now.
    #[error("node {nickname:?} has no key for key period {period} in this directory: fetch a directory valid now")]
    NoKeyForPeriod {
        /// The node.
        nickname: String,
        /// P(now).
        period: u64,
    },
    /// A layer without nodes (a parsed directory never has one).
    #[error("layer {layer} has no node")]
    EmptyLayer {
        /// The empty layer.
        layer: u8,
    },
}

/// A path through the mixnet, with the network values packets need.
#[derive(Clone, Debug)]
pub struct Route {
    hops: Vec<NodeEntry>,
    payload_size: usize,
    mean_delay: Duration,
    key_period: Duration,
}

impl Route {
    /// The nodes in order; the last is the exit.
    pub fn hops(&self) -> &[NodeEntry] {
        &self.hops
    }
    /// The node the sender mails packets to.
    pub fn first_hop(&self) -> &NodeEntry {
        // A route is only built from a directory, whose hops are at least 1.
        &self.hops[0]
    }
    /// The exit node, which delivers to the recipients.
    pub fn exit(&self) -> &NodeEntry {
        &self.hops[self.hops.len() - 1]
    }
    /// Sphinx payload size of the network.
    pub fn payload_size(&self) -> usize {
        self.payload_size
    }
    /// Mean per-hop delay of the network.
    pub fn mean_delay(&self) -> Duration {
        self.mean_delay
    }
    /// The network's key period T.
    pub fn key_period(&self) -> Duration {
        self.key_period
    }
    /// Each hop's X25519 key for `period`, in route order.
    pub fn keys_for(&self, period: u64) -> Result<Vec<&[u8; 32]>, RouteError> {
        self.hops
            .iter()
            .map(|hop| {
                hop.key_for(period)
                    .ok_or_else(|| RouteError::NoKeyForPeriod {
                        nickname: hop.nickname().to_owned(),
                        period,
                    })
            })
            .collect()
    }
}

impl Directory {
    /// A random route: one node per layer, uniformly from that layer, drawn
    /// from `rng` (which must be a CSPRNG: a predictable route lets an
    /// observer follow packets).
    pub fn random_route<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<Route, RouteError> {
        let hops = (1..=self.params().hops)
            .map(|layer| {
                let candidates: Vec<&NodeEntry> =
                    self.nodes().iter().filter(|n| n.layer() == layer).collect();
                // `Uniform::sample` rejects out-of-zone draws (Lemire), so no
                // node is favoured; `random_range` would be biased without
                // rand's `unbiased` feature.
                let pick = Uniform::new(0, candidates.len())
                    .map_err(|_| RouteError::EmptyLayer { layer })?
                    .sample(rng);
                candidates
                    .get(pick)
                    .map(|&node| node.clone())
                    .ok_or(RouteError::EmptyLayer { layer })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.make_route(hops))
    }

    /// The route through the named nodes, which must be of layers 1..=h in order.
    pub fn route(&self, nicknames: &[&str]) -> Result<Route, RouteError> {
        let expected = usize::from(self.params().hops);
        if nicknames.len() != expected {
            return Err(RouteError::WrongLength {
                expected,
                found: nicknames.len(),
            });
        }
        let hops = (1..)
            .zip(nicknames)
            .map(|(position, &nickname)| {
                let node =
                    self.node_by_nickname(nickname)
                        .ok_or_else(|| RouteError::UnknownNickname {
                            position,
                            nickname: nickname.to_owned(),
                        })?;
                if usize::from(node.layer()) != position {
                    return Err(RouteError::WrongLayer {
                        nickname: nickname.to_owned(),
                        position,
                        layer: node.layer(),
                    });
                }
                Ok(node.clone())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.make_route(hops))
    }

    fn make_route(&self, hops: Vec<NodeEntry>) -> Route {
        Route {
            hops,
            payload_size: self.params().payload_size,
            mean_delay: self.params().mean_delay,
            key_period: self.params().key_period,
        }
    }
}
