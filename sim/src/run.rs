//! A scenario: a workload on a network, simulated and measured.

use crate::engine::{Engine, EngineError, Geometry, Measured, Packet, Routing, Trip};
use crate::network::{Network, NetworkError, Shape};
use crate::workload::{diurnal, Compression, SizeModel, Sizes};
use mixmailer::delay::{sample_exit_delay, sample_hop_delays};
use mixmailer::message::Redundancy;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use std::fmt;
use std::time::{Duration, Instant};

/// Everything that defines one simulation.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Users.
    pub users: u32,
    /// Real messages per user per day (mean over the day).
    pub messages_per_user_day: f64,
    /// Drop decoys per user per day (cover traffic, constant rate).
    pub decoys_per_user_day: f64,
    /// Diurnal amplitude a: the rate is `1 + a sin(...)` times the mean.
    pub diurnal_amplitude: f64,
    /// Message sizes.
    pub sizes: SizeModel,
    /// Network shape.
    pub shape: Shape,
    /// Mean per-hop delay, seconds (every one of the h nodes mixes).
    pub mean_delay: f64,
    /// Parity.
    pub redundancy: Redundancy,
    /// Fragment routing.
    pub routing: Routing,
    /// Simulated clock at the start, seconds after midnight.
    pub start: f64,
    /// Warm-up before messages are measured, seconds.
    pub warmup: f64,
    /// Measured period, seconds.
    pub duration: f64,
    /// About how many messages to measure (sampled uniformly).
    pub targets: usize,
    /// Long-term attack: the watched sender, her correspondent, and the
    /// share of her messages that go to him. Every delivery is measured.
    pub sda: Option<SdaSetup>,
    /// Seed of every random draw.
    pub seed: u64,
}

/// The statistical disclosure attack's subjects.
#[derive(Clone, Copy, Debug)]
pub struct SdaSetup {
    /// Alice.
    pub alice: u32,
    /// Bob, her correspondent.
    pub bob: u32,
    /// Share of Alice's messages to Bob; the rest go to her other contacts.
    pub share: f64,
}

/// Correspondents per user: each user writes to a fixed random set.
pub const CONTACTS: u64 = 20;

impl Scenario {
    /// A scenario with the given users and per-hop mean, pEp sizes, 3 x 10
    /// nodes, 2 KiB payload, default parity, one route, a measured hour
    /// after a warm-up long enough for the pools to fill.
    pub fn pep(users: u32, mean_delay: f64) -> Scenario {
        Scenario {
            users,
            messages_per_user_day: 20.0,
            decoys_per_user_day: 0.0,
            diurnal_amplitude: 0.5,
            sizes: SizeModel::Pep,
            shape: Shape {
                hops: 3,
                nodes_per_layer: 10,
                payload_size: 2048,
            },
            mean_delay,
            redundancy: Redundancy::Default,
            routing: Routing::OneRoute,
            start: 12.0 * 3600.0,
            warmup: 0.0,
            duration: 3600.0,
            targets: 400,
            sda: None,
            seed: 7,
        }
    }

    /// The window the observer keeps: long enough that the weight left in
    /// older buckets is negligible (checked per message as `lost_mass`).
    pub fn geometry(&self) -> Geometry {
        let h = f64::from(self.shape.hops);
        let (bucket, buckets) = if self.mean_delay > 0.0 {
            let bucket = self.mean_delay / 2.0;
            // The exit holds fragments until their message is complete, which
            // lengthens how long mass stays there; twice the tail of the
            // route's delays keeps the lost mass near 1e-3 or below.
            let window = 2.0 * (h + 5.0 * h.sqrt() + 8.0) * self.mean_delay;
            (bucket, (window / bucket).ceil() as usize)
        } else {
            (1e-3, 4)
        };
        Geometry {
            hops: usize::from(self.shape.hops),
            nodes_per_layer: self.shape.nodes_per_layer,
            slice: bucket / 10.0,
            slices_per_bucket: 10,
            buckets,
        }
    }

    fn warmup_or_default(&self) -> f64 {
        if self.warmup > 0.0 {
            self.warmup
        } else {
            // Pools fill within a few per-hop means; older submissions
            // carry almost no weight (`lost_mass` shows how little).
            let h = f64::from(self.shape.hops);
            ((h + 3.0 * h.sqrt() + 4.0) * self.mean_delay).max(1.0)
        }
    }
}

/// Why a scenario could not run.
#[derive(Debug)]
pub enum RunError {
    /// The network could not be built.
    Network(NetworkError),
    /// The engine refused a trip (a simulator bug).
    Engine(EngineError),
    /// A parameter is out of range.
    Parameter(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Network(e) => write!(f, "{e}"),
            RunError::Engine(e) => write!(f, "{e}"),
            RunError::Parameter(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<NetworkError> for RunError {
    fn from(e: NetworkError) -> Self {
        RunError::Network(e)
    }
}

impl From<EngineError> for RunError {
    fn from(e: EngineError) -> Self {
        RunError::Engine(e)
    }
}

/// Counts and costs of one run.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// Real messages submitted.
    pub messages: u64,
    /// Decoy submissions.
    pub decoys: u64,
    /// Packets (fragments and decoy packets).
    pub packets: u64,
    /// Wall-clock seconds.
    pub wall: f64,
    /// Most future slices held at once.
    pub events_peak: usize,
    /// Compression ratio measured with the library's `encode_body`.
    pub compression: f64,
}

/// Runs `scenario`; each measured delivery goes to `sink` as it happens.
pub fn run(scenario: &Scenario, sink: &mut dyn FnMut(Measured)) -> Result<RunStats, RunError> {
    let started = Instant::now();
    if scenario.users == 0 {
        return Err(RunError::Parameter("no users".into()));
    }
    if !(0.0..=1.0).contains(&scenario.diurnal_amplitude) {
        return Err(RunError::Parameter(
            "diurnal amplitude must be in 0..=1".into(),
        ));
    }
    if scenario.mean_delay.is_nan() || scenario.mean_delay < 0.0 {
        return Err(RunError::Parameter("mean delay must be >= 0".into()));
    }
    let network = Network::new(
        &scenario.shape,
        Duration::from_secs_f64(scenario.mean_delay),
    )?;
    let key_period = network.key_period();
    let mean = Duration::from_secs_f64(scenario.mean_delay);
    let h = usize::from(scenario.shape.hops);
    let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed);
    let compression = Compression::measure(&mut rng);
    let sizes = Sizes::new(
        scenario.sizes,
        compression,
        scenario.shape.payload_size,
        scenario.redundancy,
    );
    let mut engine = Engine::new(
        scenario.geometry(),
        scenario.routing,
        scenario.sda.map(|s| s.alice),
    );
    engine.watched_only(scenario.sda.is_some());

    let users = f64::from(scenario.users);
    let a = scenario.diurnal_amplitude;
    let real_rate = users * scenario.messages_per_user_day / 86_400.0;
    let peak = real_rate * (1.0 + a);
    let decoy_rate = users * scenario.decoys_per_user_day / 86_400.0;
    let warmup = scenario.warmup_or_default();
    let measure_from = scenario.start + warmup;
    let end = measure_from + scenario.duration;
    let measure_p = if scenario.sda.is_some() {
        1.0
    } else {
        (scenario.targets as f64 / (real_rate * scenario.duration).max(1.0)).min(1.0)
    };
    let real_gap = Exp::new(peak).ok();
    let decoy_gap = Exp::new(decoy_rate).ok().filter(|_| decoy_rate > 0.0);
    let draw = |gap: &Option<Exp<f64>>, rng: &mut ChaCha8Rng| -> f64 {
        gap.as_ref().map_or(f64::INFINITY, |g| g.sample(rng))
    };
    let mut next_real = scenario.start + draw(&real_gap, &mut rng);
    let mut next_decoy = scenario.start + draw(&decoy_gap, &mut rng);
    let mut stats = RunStats {
        compression: compression.ratio,
        ..RunStats::default()
    };
    let contact_seed = scenario.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);

    loop {
        let decoy = next_decoy < next_real;
        let t = next_real.min(next_decoy);
        if t >= end {
            break;
        }
        if decoy {
            next_decoy = t + draw(&decoy_gap, &mut rng);
        } else {
            next_real = t + draw(&real_gap, &mut rng);
            // Thinning: keep the arrival with the diurnal rate's share.
            if !rng.random_bool((diurnal(t, a) / (1.0 + a)).clamp(0.0, 1.0)) {
                continue;
            }
        }
        let sender = rng.random_range(0..scenario.users);
        let recipient = match scenario.sda {
            Some(s) if sender == s.alice && rng.random_bool(s.share) => s.bob,
            _ => contact(
                contact_seed,
                sender,
                rng.random_range(0..CONTACTS),
                scenario.users,
            ),
        };
        let fragments = sizes.draw(&mut rng);
        let route = network.random_route(&mut rng)?;
        let exit = route.last().copied().unwrap_or(0);
        let mut packets = Vec::with_capacity(usize::from(fragments.n));
        for f in 0..fragments.n {
            let route = if f == 0 || scenario.routing == Routing::OneRoute {
                route.clone()
            } else {
                let mut own = network.random_route(&mut rng)?;
                if let Some(last) = own.last_mut() {
                    *last = exit;
                }
                own
            };
            let delays = sample_hop_delays(mean, h, key_period, &mut rng);
            let mut leave = Vec::with_capacity(h - 1);
            let mut clock = t;
            for d in delays.iter().take(h - 1) {
                clock += d.as_secs_f64();
                leave.push(clock);
            }
            packets.push(Packet { route, leave });
        }
        let delivered = if decoy {
            None
        } else {
            let mut arrivals: Vec<f64> = packets
                .iter()
                .map(|p| p.leave.last().copied().unwrap_or(t))
                .collect();
            arrivals.sort_by(f64::total_cmp);
            let k = usize::from(fragments.k).clamp(1, arrivals.len());
            let complete = arrivals.get(k - 1).copied().unwrap_or(t);
            Some(complete + sample_exit_delay(mean, key_period, &mut rng).as_secs_f64())
        };
        let measure = !decoy && t >= measure_from && rng.random_bool(measure_p);
        stats.packets += u64::from(fragments.n);
        if decoy {
            stats.decoys += 1;
        } else {
            stats.messages += 1;
        }
        let trip = Trip {
            sender,
            recipient,
            submitted: t,
            class: fragments.k,
            delivered,
            packets,
            measure,
        };
        engine.schedule(&trip, sink)?;
    }
    engine.finish(sink);
    stats.events_peak = engine.events_peak();
    stats.wall = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// The `j`-th contact of `user`: a fixed pseudo-random user (SplitMix64 of
/// seed, user and j), so contact lists cost no memory.
pub fn contact(seed: u64, user: u32, j: u64, users: u32) -> u32 {
    let mut z = seed ^ (u64::from(user) << 20) ^ j;
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % u64::from(users)) as u32
}

/// Summary of measured messages.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Measured messages.
    pub count: usize,
    /// Mean sender entropy, bits.
    pub entropy_mean: f64,
    /// Median entropy.
    pub entropy_median: f64,
    /// 5th percentile of entropy (the worst-off messages).
    pub entropy_p5: f64,
    /// Mean probability of the true sender.
    pub p_true_mean: f64,
    /// Largest probability of the true sender.
    pub p_true_max: f64,
    /// Mean latency, seconds.
    pub latency_mean: f64,
    /// 95th percentile latency, seconds.
    pub latency_p95: f64,
    /// Largest mass lost to the window.
    pub lost_mass_max: f64,
}

/// Summarises measured messages.
pub fn summarise(m: &[Measured]) -> Summary {
    if m.is_empty() {
        return Summary::default();
    }
    let n = m.len() as f64;
    let mut e: Vec<f64> = m.iter().map(|x| x.entropy).collect();
    e.sort_by(f64::total_cmp);
    let mut l: Vec<f64> = m.iter().map(|x| x.latency).collect();
    l.sort_by(f64::total_cmp);
    let pick = |v: &[f64], q: f64| -> f64 {
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v.get(i).copied().unwrap_or(0.0)
    };
    Summary {
        count: m.len(),
        entropy_mean: e.iter().sum::<f64>() / n,
        entropy_median: pick(&e, 0.5),
        entropy_p5: pick(&e, 0.05),
        p_true_mean: m.iter().map(|x| x.p_true).sum::<f64>() / n,
        p_true_max: m.iter().map(|x| x.p_true).fold(0.0, f64::max),
        latency_mean: l.iter().sum::<f64>() / n,
        latency_p95: pick(&l, 0.95),
        lost_mass_max: m.iter().map(|x| x.lost_mass).fold(0.0, f64::max),
    }
}

/// Runs a scenario and summarises its measured messages.
pub fn run_summary(scenario: &Scenario) -> Result<(Summary, RunStats), RunError> {
    let mut measured = Vec::new();
    let stats = run(scenario, &mut |m| measured.push(m))?;
    Ok((summarise(&measured), stats))
}
