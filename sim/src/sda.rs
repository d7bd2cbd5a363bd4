//! Statistical disclosure attack (Danezis 2003, in its per-message form):
//! the observer adds, for every delivered message, the probability that
//! Alice sent it to that message's recipient, subtracts what the same
//! probability mass would give each recipient at random (its share of all
//! deliveries), and ranks Alice's likely correspondents by the excess.

use crate::engine::Measured;

/// The attack's running state.
pub struct Disclosure {
    alice: u32,
    bob: u32,
    score: Vec<f64>,
    received: Vec<f64>,
    total_p: f64,
    total_received: f64,
    alice_messages: u64,
    /// Alice's message count at which Bob last was not first (0 if never).
    last_not_first: u64,
    bob_first: bool,
}

impl Disclosure {
    /// An attack on `alice` among `users` recipients; `bob` is the truth.
    pub fn new(users: u32, alice: u32, bob: u32) -> Disclosure {
        let n = users as usize;
        Disclosure {
            alice,
            bob,
            score: vec![0.0; n],
            received: vec![0.0; n],
            total_p: 0.0,
            total_received: 0.0,
            alice_messages: 0,
            last_not_first: 0,
            bob_first: false,
        }
    }

    /// Takes one delivered message (in delivery order).
    pub fn observe(&mut self, m: &Measured) {
        let r = m.recipient as usize;
        if let (Some(s), Some(c)) = (self.score.get_mut(r), self.received.get_mut(r)) {
            *s += m.p_watched;
            *c += 1.0;
        }
        self.total_p += m.p_watched;
        self.total_received += 1.0;
        if m.sender == self.alice {
            self.alice_messages += 1;
            self.bob_first = self.ranks_bob_first();
            if !self.bob_first {
                self.last_not_first = self.alice_messages;
            }
        }
    }

    fn excess(&self, r: usize) -> f64 {
        let s = self.score.get(r).copied().unwrap_or(0.0);
        let c = self.received.get(r).copied().unwrap_or(0.0);
        s - self.total_p * c / self.total_received.max(1.0)
    }

    fn ranks_bob_first(&self) -> bool {
        let bob = self.excess(self.bob as usize);
        (0..self.score.len())
            .filter(|&r| r != self.bob as usize && r != self.alice as usize)
            .all(|r| self.excess(r) < bob)
    }

    /// Alice's messages delivered so far.
    pub fn alice_messages(&self) -> u64 {
        self.alice_messages
    }

    /// How many of Alice's messages it took until Bob ranked first and
    /// stayed first to the end of the run; `None` if he is not first now.
    pub fn messages_until_disclosed(&self) -> Option<u64> {
        self.bob_first.then_some(self.last_not_first + 1)
    }
}
