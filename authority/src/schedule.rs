//! The publication timeline (docs/authority.md section 2), in unix seconds.

/// Interval and validity of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// Publication interval I.
    pub interval: u64,
    /// Validity V of each document.
    pub validity: u64,
}

/// The document prepared during one interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    /// Start of the interval (vote time).
    pub start: u64,
    /// Votes fetched until here, then the consensus is computed.
    pub vote_deadline: u64,
    /// The document's valid-after: the end of the interval.
    pub valid_after: u64,
    /// The document's valid-until.
    pub valid_until: u64,
}

impl Timeline {
    /// The round whose interval contains `now`.
    pub fn round_at(&self, now: u64) -> Round {
        let start = now - now % self.interval;
        let valid_after = start + self.interval;
        Round {
            start,
            vote_deadline: start + self.interval / 3,
            valid_after,
            valid_until: valid_after + self.validity,
        }
    }

    /// How often peers are asked again for what is missing.
    pub fn retry(&self) -> u64 {
        (self.interval / 30).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_prepared_now_becomes_valid_at_the_end_of_the_interval() {
        let t = Timeline {
            interval: 3600,
            validity: 10_800,
        };
        let r = t.round_at(7200 + 1000);
        assert_eq!(
            r,
            Round {
                start: 7200,
                vote_deadline: 8400,
                valid_after: 10_800,
                valid_until: 21_600
            }
        );
        assert_eq!(t.round_at(7200), t.round_at(10_799));
        assert_eq!(t.retry(), 120);
    }
}
