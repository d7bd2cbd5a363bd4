//! The adversary's bookkeeping, in simulated time.
//!
//! A global passive observer sees every carrier: who submits how many
//! packets to which first hop and when, every packet from node to node,
//! and every delivered message with its exit, time and size. With
//! exponential delays a node's next departure is equally likely to be any
//! packet it holds (the delays are memoryless), and the nodes' choices are
//! independent given what the observer saw, so the observer's belief about
//! where a packet came from is exactly the "pool mass" of Loopix's
//! analysis: a node holds a mass vector (the sum of its packets'
//! distributions); a departure takes `1/k` of it (k = packets held) to the
//! next node. `tests/exact.rs` checks this against brute-force enumeration
//! of every consistent assignment on tiny networks.
//!
//! The mass is kept over **cells**: (first-hop node, submission bucket).
//! Every packet submitted to node A in bucket b starts with mass 1 in cell
//! (A, b). The network only mixes masses linearly, so every packet's
//! distribution is a vector over cells, and within one cell every
//! submission has the same weight up to the delays inside one bucket
//! (half a mean delay, see docs/anonymity.md for the error). That keeps
//! memory and time per event independent of the number of users: a vector
//! of `first-hop nodes x window buckets`, and buckets older than the window
//! are recycled (their remaining mass is reported as `lost_mass`).
//!
//! Time advances in slices; within a slice, layer 1 receives, then each
//! layer sends on to the next, then exits deliver. A packet with zero
//! delay therefore crosses every layer within its slice, as it does in
//! continuous time.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Time resolution and window of the adversary's bookkeeping.
#[derive(Clone, Debug)]
pub struct Geometry {
    /// Layers (route length).
    pub hops: usize,
    /// Nodes per layer.
    pub nodes_per_layer: usize,
    /// Slice length, seconds: events in one slice are simultaneous.
    pub slice: f64,
    /// Slices per submission bucket.
    pub slices_per_bucket: u64,
    /// Buckets kept (the window is `buckets * slices_per_bucket * slice`).
    pub buckets: usize,
}

/// One packet's trip: its route (position in each layer) and the times it
/// leaves layers 1..h-1 (= arrives at the next layer).
#[derive(Clone, Debug)]
pub struct Packet {
    /// `route[i]`: position of the node in layer i + 1.
    pub route: Vec<u8>,
    /// `leave[i]`: time the packet leaves layer i + 1, for i in 0..h-1.
    pub leave: Vec<f64>,
}

/// One submission (message or decoy) with everything that happens to it.
#[derive(Clone, Debug)]
pub struct Trip {
    /// The user who submits it.
    pub sender: u32,
    /// The recipient (unused for decoys).
    pub recipient: u32,
    /// Submission time: all packets reach their first hops then.
    pub submitted: f64,
    /// Data fragments k: what the delivered message's size reveals.
    pub class: u16,
    /// Delivery time at the exit; `None` for a decoy (dropped at the exit).
    pub delivered: Option<f64>,
    /// Its packets (all fragments, parity included).
    pub packets: Vec<Packet>,
    /// Whether to compute the adversary's belief when it is delivered.
    pub measure: bool,
}

/// The adversary's belief about one delivered message.
#[derive(Clone, Debug)]
pub struct Measured {
    /// True sender.
    pub sender: u32,
    /// Recipient.
    pub recipient: u32,
    /// Data fragments.
    pub class: u16,
    /// Delivery minus submission, seconds.
    pub latency: f64,
    /// Shannon entropy of the sender distribution, bits.
    pub entropy: f64,
    /// Probability the adversary gives the true sender.
    pub p_true: f64,
    /// Probability the adversary gives the watched user (SDA), if any.
    pub p_watched: f64,
    /// Mass of the exit's pool lost to buckets older than the window.
    pub lost_mass: f64,
    /// Senders with non-zero probability.
    pub support: usize,
}

/// Why a trip could not be simulated.
#[derive(Debug, PartialEq)]
pub enum EngineError {
    /// Trips must be scheduled in order of submission.
    OutOfOrder {
        /// Slice of the trip's submission.
        slice: u64,
        /// First slice not yet processed.
        next: u64,
    },
    /// A packet's route or times do not fit the geometry.
    BadTrip(&'static str),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::OutOfOrder { slice, next } => write!(
                f,
                "trip submitted in slice {slice}, but slices before {next} are already processed"
            ),
            EngineError::BadTrip(why) => write!(f, "bad trip: {why}"),
        }
    }
}

impl std::error::Error for EngineError {}

/// How the observer scores a candidate submission for a delivered message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// All fragments of a message take one route: the message is at the
    /// exit exactly when one of its packets is, so a candidate's weight is
    /// one packet's weight.
    OneRoute,
    /// Fragments take independent routes to one exit: each must have
    /// reached it, so the weights of all its packets multiply.
    Independent,
}

/// What the observer knows about one submission, for scoring.
enum FirstHops {
    One(u8),
    Many(Box<[(u8, u16)]>),
}

struct Submission {
    sender: u32,
    class: u16,
    first: FirstHops,
}

#[derive(Default)]
struct SliceEvents {
    submit: Vec<(u8, u16)>,
    /// Departures layer i -> i+1 kept by the receiver: [(i*n + x)*n + y].
    links: Vec<u32>,
    /// Departures into the exit that the exit discards (decoys, fragments
    /// after their message left): [x*n + y].
    dropped: Vec<u32>,
    /// Fragments leaving each exit with a delivered message.
    exit_out: Vec<u32>,
    deliveries: Vec<Delivery>,
}

struct Delivery {
    exit: u8,
    class: u16,
    sender: u32,
    recipient: u32,
    latency: f64,
}

struct Pool {
    /// Mass per cell, divided by `scale`.
    v: Vec<f64>,
    scale: f64,
    /// Packets held.
    count: f64,
}

impl Pool {
    fn new(cells: usize) -> Pool {
        Pool {
            v: vec![0.0; cells],
            scale: 1.0,
            count: 0.0,
        }
    }

    fn empty(&mut self) {
        self.v.iter_mut().for_each(|x| *x = 0.0);
        self.scale = 1.0;
        self.count = 0.0;
    }

    /// Removes `m` of the `count` packets: the mass shrinks by m/count.
    fn remove(&mut self, m: f64) {
        if m >= self.count - 0.5 {
            self.empty();
        } else {
            self.scale *= (self.count - m) / self.count;
            self.count -= m;
        }
    }

    fn total(&self) -> f64 {
        self.scale * self.v.iter().sum::<f64>()
    }
}

/// The simulated network as the observer tracks it.
pub struct Engine {
    geo: Geometry,
    routing: Routing,
    watched: Option<u32>,
    pools: Vec<Pool>,
    /// Packets submitted per cell (ring over buckets).
    cell_count: Vec<f64>,
    /// Submissions per bucket slot (ring).
    registry: Vec<Vec<Submission>>,
    calendar: BTreeMap<u64, SliceEvents>,
    next: u64,
    bucket: u64,
    /// Only the watched user's probability is wanted (the long-term attack).
    watched_only: bool,
    /// Buckets and classes of the watched user's submissions in the window.
    watched_subs: Vec<(u64, u16)>,
    events_peak: usize,
}

impl Engine {
    /// An empty network.
    pub fn new(geo: Geometry, routing: Routing, watched: Option<u32>) -> Engine {
        let geo = Geometry {
            slices_per_bucket: geo.slices_per_bucket.max(1),
            buckets: geo.buckets.max(1),
            ..geo
        };
        let cells = geo.nodes_per_layer * geo.buckets;
        Engine {
            pools: (0..geo.hops * geo.nodes_per_layer)
                .map(|_| Pool::new(cells))
                .collect(),
            cell_count: vec![0.0; cells],
            registry: (0..geo.buckets).map(|_| Vec::new()).collect(),
            calendar: BTreeMap::new(),
            next: 0,
            bucket: 0,
            watched_only: false,
            watched_subs: Vec::new(),
            events_peak: 0,
            routing,
            watched,
            geo,
        }
    }

    fn slice_of(&self, t: f64) -> u64 {
        // Times are non-negative by construction; a negative or NaN time
        // lands in slice 0, which `schedule` then refuses as out of order
        // unless nothing has run yet.
        (t / self.geo.slice).floor().max(0.0) as u64
    }

    fn slot(&self, bucket: u64) -> usize {
        (bucket % self.geo.buckets as u64) as usize
    }

    fn cell(&self, node: u8, slot: usize) -> usize {
        usize::from(node) * self.geo.buckets + slot
    }

    /// Computes only the watched user's probability, and skips messages
    /// for which she has no candidate submission of the right size: what
    /// the long-term attack needs, at a fraction of the cost.
    pub fn watched_only(&mut self, on: bool) {
        self.watched_only = on;
    }

    /// Largest number of future slices with events held at once: memory
    /// that depends on the latency, not on the simulated time.
    pub fn events_peak(&self) -> usize {
        self.events_peak
    }

    /// Adds a submission and all its future events. Trips must come in
    /// order of submission time; measured deliveries of every slice
    /// processed meanwhile go to `sink`.
    pub fn schedule(
        &mut self,
        trip: &Trip,
        sink: &mut dyn FnMut(Measured),
    ) -> Result<(), EngineError> {
        let h = self.geo.hops;
        let n = self.geo.nodes_per_layer;
        let s0 = self.slice_of(trip.submitted);
        if s0 < self.next {
            return Err(EngineError::OutOfOrder {
                slice: s0,
                next: self.next,
            });
        }
        if trip.packets.is_empty() {
            return Err(EngineError::BadTrip("no packets"));
        }
        for p in &trip.packets {
            if p.route.len() != h || p.leave.len() + 1 != h {
                return Err(EngineError::BadTrip("route or times do not match the hops"));
            }
            if p.route.iter().any(|&x| usize::from(x) >= n) {
                return Err(EngineError::BadTrip("node position outside its layer"));
            }
            let mut last = trip.submitted;
            for &t in &p.leave {
                if t.is_nan() || t < last {
                    return Err(EngineError::BadTrip("a packet leaves before it arrives"));
                }
                last = t;
            }
            if let Some(d) = trip.delivered {
                if d < trip.submitted {
                    return Err(EngineError::BadTrip("delivered before submitted"));
                }
            }
        }
        let exit = trip.packets.first().and_then(|p| p.route.last().copied());
        if trip.packets.iter().any(|p| p.route.last().copied() != exit) {
            return Err(EngineError::BadTrip(
                "fragments of one message meet at one exit",
            ));
        }
        self.advance_to(s0, sink);

        // What the observer records at submission.
        let mut firsts: Vec<(u8, u16)> = Vec::new();
        for p in &trip.packets {
            let a = p.route.first().copied().unwrap_or(0);
            match firsts.iter_mut().find(|(x, _)| *x == a) {
                Some((_, c)) => *c = c.saturating_add(1),
                None => firsts.push((a, 1)),
            }
        }
        let slot = self.slot(self.bucket);
        for &(a, c) in &firsts {
            let cell = self.cell(a, slot);
            if let Some(x) = self.cell_count.get_mut(cell) {
                *x += f64::from(c);
            }
        }
        let first = match (self.routing, firsts.as_slice()) {
            (Routing::OneRoute, [(a, _)]) => FirstHops::One(*a),
            _ => FirstHops::Many(firsts.clone().into_boxed_slice()),
        };
        if self.watched == Some(trip.sender) {
            let oldest = self.bucket.saturating_sub(self.geo.buckets as u64 - 1);
            self.watched_subs.retain(|&(b, _)| b >= oldest);
            self.watched_subs.push((self.bucket, trip.class));
        }
        if let Some(reg) = self.registry.get_mut(slot) {
            reg.push(Submission {
                sender: trip.sender,
                class: trip.class,
                first,
            });
        }

        let links_len = (h - 1) * n * n;
        let delivered_slice = trip.delivered.map(|d| self.slice_of(d));
        let mut kept_at_exit = 0u32;
        {
            let ev = self.events(s0);
            ev.submit.extend(firsts.iter().copied());
        }
        for p in &trip.packets {
            for i in 0..h - 1 {
                let (x, y) = (p.route[i], p.route[i + 1]);
                let s = self.slice_of(p.leave[i]);
                let last = i == h - 2;
                let keep = !last || delivered_slice.is_some_and(|d| s <= d);
                if last && keep {
                    kept_at_exit += 1;
                }
                let ev = self.events(s);
                if keep {
                    if ev.links.is_empty() {
                        ev.links = vec![0; links_len];
                    }
                    ev.links[(i * n + usize::from(x)) * n + usize::from(y)] += 1;
                } else {
                    if ev.dropped.is_empty() {
                        ev.dropped = vec![0; n * n];
                    }
                    ev.dropped[usize::from(x) * n + usize::from(y)] += 1;
                }
            }
        }
        if let (Some(d), Some(exit)) = (trip.delivered, exit) {
            let ds = self.slice_of(d);
            let measure = trip.measure;
            let ev = self.events(ds);
            if ev.exit_out.is_empty() {
                ev.exit_out = vec![0; n];
            }
            ev.exit_out[usize::from(exit)] += kept_at_exit;
            if measure {
                ev.deliveries.push(Delivery {
                    exit,
                    class: trip.class,
                    sender: trip.sender,
                    recipient: trip.recipient,
                    latency: d - trip.submitted,
                });
            }
        }
        self.events_peak = self.events_peak.max(self.calendar.len());
        Ok(())
    }

    fn events(&mut self, s: u64) -> &mut SliceEvents {
        self.calendar.entry(s).or_default()
    }

    /// Processes every slice before `slice`.
    pub fn advance_to(&mut self, slice: u64, sink: &mut dyn FnMut(Measured)) {
        while self.next < slice {
            self.process(self.next, sink);
            // Nothing changes in slices without events: jump to the next one.
            let upcoming = self
                .calendar
                .first_key_value()
                .map_or(slice, |(&k, _)| k.min(slice));
            self.next = upcoming.max(self.next + 1);
            self.enter(self.next);
        }
    }

    /// Processes slices until no event is left.
    pub fn finish(&mut self, sink: &mut dyn FnMut(Measured)) {
        while let Some((&last, _)) = self.calendar.last_key_value() {
            self.advance_to(last + 1, sink);
        }
    }

    /// Recycles the bucket slots that fall out of the window.
    fn enter(&mut self, slice: u64) {
        let bucket = slice / self.geo.slices_per_bucket;
        let b = self.geo.buckets as u64;
        let first = self.bucket + 1;
        let from = first.max(bucket.saturating_sub(b - 1));
        if bucket < first {
            return;
        }
        for old in from..=bucket {
            let slot = self.slot(old);
            for a in 0..self.geo.nodes_per_layer {
                let cell = a * self.geo.buckets + slot;
                for pool in &mut self.pools {
                    if let Some(x) = pool.v.get_mut(cell) {
                        *x = 0.0;
                    }
                }
                if let Some(x) = self.cell_count.get_mut(cell) {
                    *x = 0.0;
                }
            }
            if let Some(reg) = self.registry.get_mut(slot) {
                reg.clear();
            }
        }
        self.bucket = bucket;
    }

    fn process(&mut self, s: u64, sink: &mut dyn FnMut(Measured)) {
        let Some(ev) = self.calendar.remove(&s) else {
            return;
        };
        let h = self.geo.hops;
        let n = self.geo.nodes_per_layer;
        let slot = self.slot(self.bucket);
        for &(a, c) in &ev.submit {
            let cell = self.cell(a, slot);
            if let Some(pool) = self.pools.get_mut(usize::from(a)) {
                let c = f64::from(c);
                if let Some(x) = pool.v.get_mut(cell) {
                    *x += c / pool.scale;
                }
                pool.count += c;
            }
        }
        for i in 0..h - 1 {
            for x in 0..n {
                let kept =
                    |y: usize| -> u32 { ev.links.get((i * n + x) * n + y).copied().unwrap_or(0) };
                let dropped = |y: usize| -> u32 {
                    if i == h - 2 {
                        ev.dropped.get(x * n + y).copied().unwrap_or(0)
                    } else {
                        0
                    }
                };
                let total: u32 = (0..n).map(|y| kept(y) + dropped(y)).sum();
                if total == 0 {
                    continue;
                }
                let (lower, upper) = self.pools.split_at_mut((i + 1) * n);
                let Some(from) = lower.get_mut(i * n + x) else {
                    continue;
                };
                // The observer counts packets in and out, so k >= departures;
                // guard anyway so a bookkeeping slip cannot divide by zero.
                let k = from.count.max(f64::from(total));
                for y in 0..n {
                    let m = kept(y);
                    if m == 0 {
                        continue;
                    }
                    let Some(to) = upper.get_mut(y) else {
                        continue;
                    };
                    let factor = f64::from(m) / k * from.scale / to.scale;
                    for (t, f) in to.v.iter_mut().zip(&from.v) {
                        *t += factor * f;
                    }
                    to.count += f64::from(m);
                }
                from.count = k;
                from.remove(f64::from(total));
            }
        }
        let exits = (h - 1) * n;
        for d in &ev.deliveries {
            let m = self.score(exits + usize::from(d.exit), d);
            sink(m);
        }
        for (e, &r) in ev.exit_out.iter().enumerate() {
            if r > 0 {
                if let Some(pool) = self.pools.get_mut(exits + e) {
                    pool.remove(f64::from(r));
                }
            }
        }
        for pool in &mut self.pools {
            if pool.scale < 1e-150 {
                let scale = pool.scale;
                pool.v.iter_mut().for_each(|x| *x *= scale);
                pool.scale = 1.0;
            }
        }
    }

    /// The observer's distribution over senders for a message delivered
    /// from the exit whose pool is `pools[exit]`.
    fn score(&self, exit: usize, d: &Delivery) -> Measured {
        let b = self.geo.buckets;
        if self.watched_only {
            let oldest = self.bucket.saturating_sub(b as u64 - 1);
            let candidate = self
                .watched_subs
                .iter()
                .any(|&(bucket, class)| bucket >= oldest && class == d.class);
            if !candidate {
                return Measured {
                    lost_mass: 0.0,
                    ..self.unmeasurable(d)
                };
            }
        }
        let Some(pool) = self.pools.get(exit) else {
            return self.unmeasurable(d);
        };
        // Log of one packet's weight in each cell: its share of the cell's
        // mass now at the exit.
        let logw: Vec<f64> = pool
            .v
            .iter()
            .zip(&self.cell_count)
            .map(|(&v, &c)| {
                if v > 0.0 && c > 0.0 {
                    (v / c).ln()
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        let mut scored: Vec<(u32, f64)> = Vec::new();
        for (slot, subs) in self.registry.iter().enumerate() {
            for sub in subs.iter().filter(|s| s.class == d.class) {
                let w = match &sub.first {
                    FirstHops::One(a) => logw
                        .get(usize::from(*a) * b + slot)
                        .copied()
                        .unwrap_or(f64::NEG_INFINITY),
                    FirstHops::Many(list) => match self.routing {
                        Routing::Independent => list
                            .iter()
                            .map(|&(a, c)| {
                                f64::from(c)
                                    * logw
                                        .get(usize::from(a) * b + slot)
                                        .copied()
                                        .unwrap_or(f64::NEG_INFINITY)
                            })
                            .sum(),
                        // One route has one first hop; a list means the
                        // trip broke that rule, so weigh its first entry.
                        Routing::OneRoute => list
                            .first()
                            .and_then(|&(a, _)| logw.get(usize::from(a) * b + slot).copied())
                            .unwrap_or(f64::NEG_INFINITY),
                    },
                };
                if w.is_finite() {
                    scored.push((sub.sender, w));
                }
            }
        }
        let Some(max) = scored.iter().map(|&(_, w)| w).reduce(f64::max) else {
            return self.unmeasurable(d);
        };
        let mut by_sender: HashMap<u32, f64> = HashMap::with_capacity(scored.len());
        let mut total = 0.0;
        for &(s, w) in &scored {
            let p = (w - max).exp();
            total += p;
            *by_sender.entry(s).or_insert(0.0) += p;
        }
        let entropy = by_sender
            .values()
            .map(|&p| {
                let q = p / total;
                if q > 0.0 {
                    -q * q.log2()
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            .max(0.0);
        let p_of = |u: u32| by_sender.get(&u).map_or(0.0, |p| p / total);
        Measured {
            sender: d.sender,
            recipient: d.recipient,
            class: d.class,
            latency: d.latency,
            entropy,
            p_true: p_of(d.sender),
            p_watched: self.watched.map_or(0.0, p_of),
            lost_mass: if pool.count > 0.0 {
                (1.0 - pool.total() / pool.count).max(0.0)
            } else {
                0.0
            },
            support: by_sender.len(),
        }
    }

    /// A message whose submission fell out of the window: the observer's
    /// bookkeeping has nothing left, which the report counts as lost mass.
    fn unmeasurable(&self, d: &Delivery) -> Measured {
        Measured {
            sender: d.sender,
            recipient: d.recipient,
            class: d.class,
            latency: d.latency,
            entropy: 0.0,
            p_true: 0.0,
            p_watched: 0.0,
            lost_mass: 1.0,
            support: 0,
        }
    }
}
