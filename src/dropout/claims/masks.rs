//! DROP-P (what p means) and DROP-MASK (masks i.i.d. per unit, per example and per step),
//! both run on the SIMD kernel's own masks.

use super::{ROOM, bonferroni, dropout, keep};
use crate::claims::{Claim, Ctx, Findings, Label, Planted, PostVerdict, Power, Tally};
use crate::dropout::{Dropout, KeepProb, Mask, MaskStream, Scaling};
use crate::stats::TestOutcome;
use crate::stats::{ALPHA, binomial, chi_square_gof, chi_square_sf};

/// The kept count of `n` entries drawn by the kernel from `stream` at keep probability `p`.
fn kept_count(p: KeepProb, stream: MaskStream, n: usize) -> u64 {
    let x = vec![1.0f32; n];
    let (mut y, mut mask) = (vec![0.0f32; n], Mask::new(n));
    Dropout::new(p, Scaling::Standard)
        .forward(stream, &x, &mut y, &mut mask)
        .expect("equal lengths");
    mask.count_kept()
}

// ---------------------------------------------------------------- DROP-P
// ANCHOR: drop_p

#[derive(Clone, Copy)]
enum PBug {
    DropReading,
}

/// The keep probabilities tested: none is 0.5, where the two readings of p coincide.
const PS: [f32; 4] = [0.8, 0.3, 0.95, 0.05];

pub(super) fn drop_p() -> Claim {
    Claim::checked(
        "DROP-P",
        ROOM,
        "§基本思想, §参数训练, §模型预测",
        "p is the keep probability throughout (C6): each unit is kept with probability p and \
         dropped with 1 − p in training, the same p that scales the weights at prediction; the \
         kernel's kept count at p ∈ {0.8, 0.3, 0.95, 0.05} is Binomial(N, p); p ∉ (0, 1] is a \
         typed error and p = 1 is the identity",
        PostVerdict::Wrong,
        &[(
            PBug::DropReading,
            Planted::post(
                "p used as the drop probability in training (§参数训练 read literally), the \
                 weights still scaled by p at prediction",
            )
            .typeset(r"$p$ used as the drop probability in training (§参数训练 read literally), the weights still scaled by $p$ at prediction"),
        )],
        |bug, ctx| {
            let n = ctx.size(100_000, 10_000_000);
            let mut f = Findings::default();
            for (i, &p) in PS.iter().enumerate() {
                // The post's training paragraphs: "closed with probability p".
                let trained = match bug {
                    None => keep(p),
                    Some(PBug::DropReading) => keep(1.0 - p),
                };
                let k = kept_count(trained, MaskStream::new(ctx.seed, i as u64), n);
                let pf = f64::from(p);
                // Power: the drop reading (the only planted variant) centres the count on
                // N(1−p), |2p−1|·√(N/(p(1−p))) standard errors from Np: at N = 1e5 (CI) at
                // least 0.6·√(1e5/0.16) = 474 of them (p = 0.8), so its miss probability is 0
                // to f64 precision. The kernel keeps with probability round(p·2^16)/2^16,
                // within 2^-17 of p: at N = 1e7 (full) that is under 0.06 standard errors
                // (√(p(1−p)/N) ≥ 6.9e-5 for these p), which moves α by a negligible amount.
                let effect = (2.0 * pf - 1.0).abs() * (n as f64 / (pf * (1.0 - pf))).sqrt();
                f.test(
                    Label::from(format!(
                        "kernel's kept count at p = {p}: Binomial(N, p), the factor prediction uses"
                    ))
                    .markdown(format!(
                        r"kernel's kept count at $p = {p}$: $\mathrm{{Binomial}}(N, p)$, the factor prediction uses"
                    )),
                    binomial(k, n as u64, pf).expect("valid counts"),
                    ALPHA,
                    super::z_power(effect, "the drop reading (mean N(1−p))"),
                );
            }
            typed_errors(&mut f);
            identity_at_one(&mut f, ctx);
            f
        },
    )
    .typeset(r"$p$ is the keep probability throughout (C6): each unit is kept with probability $p$ and dropped with $1 - p$ in training, the same $p$ that scales the weights at prediction; the kernel's kept count at $p \in \{0.8, 0.3, 0.95, 0.05\}$ is $\mathrm{Binomial}(N, p)$; $p \notin (0, 1]$ is a typed error and $p = 1$ is the identity")
}

/// p ∉ (0, 1] and drop rates ∉ [0, 1) are refused; the drop-rate constructor says 1 − rate.
fn typed_errors(f: &mut Findings) {
    let mut t = Tally::default();
    for v in [
        0.0,
        -0.0,
        -0.1,
        1.0 + f32::EPSILON,
        1.5,
        f32::NAN,
        f32::INFINITY,
    ] {
        t.check(KeepProb::new(v).is_err(), || {
            format!("KeepProb::new({v}) accepted")
        });
    }
    for v in [1.0, -0.1, f32::NAN] {
        t.check(KeepProb::from_drop_rate(v).is_err(), || {
            format!("KeepProb::from_drop_rate({v}) accepted")
        });
    }
    for p in [1.0, f32::MIN_POSITIVE, 0.8] {
        t.check(KeepProb::new(p).is_ok(), || {
            format!("KeepProb::new({p}) refused")
        });
    }
    let rate = 0.2f32;
    let from_rate = KeepProb::from_drop_rate(rate).map(KeepProb::get);
    t.check(from_rate == Ok(1.0 - rate), || {
        format!("from_drop_rate(0.2) = {from_rate:?}")
    });
    f.tally(
        Label::from("p ∉ (0, 1] (and rate ∉ [0, 1)) is a typed error; rate q gives p = 1 − q").markdown(r"$p \notin (0, 1]$ (and rate $\notin [0, 1)$) is a typed error; rate $q$ gives $p = 1 - q$"),
        t,
    );
}

/// p = 1: every entry kept and y = x bit for bit (NaN payloads and −0 included).
fn identity_at_one(f: &mut Findings, ctx: &Ctx) {
    let x: Vec<f32> = (0..1000)
        .map(|i| match i % 7 {
            0 => f32::NAN,
            1 => -0.0,
            2 => f32::INFINITY,
            _ => i as f32 * 0.37 - 100.0,
        })
        .collect();
    let mut t = Tally::default();
    for scaling in [Scaling::Standard, Scaling::Inverted] {
        let (mut y, mut mask) = (vec![0.0f32; x.len()], Mask::new(x.len()));
        dropout(1.0, scaling)
            .forward(MaskStream::new(ctx.seed, 99), &x, &mut y, &mut mask)
            .expect("equal lengths");
        for (i, (a, b)) in x.iter().zip(&y).enumerate() {
            t.check(a.to_bits() == b.to_bits() && mask.get(i), || {
                format!("{scaling:?}: x[{i}] = {a} gave {b}")
            });
        }
    }
    f.tally(
        Label::from("p = 1 is the identity: all kept, y = x bit for bit")
            .markdown(r"$p = 1$ is the identity: all kept, $y = x$ bit for bit"),
        t,
    );
}

// ANCHOR_END: drop_p
// ---------------------------------------------------------------- DROP-MASK
// ANCHOR: drop_mask

#[derive(Clone, Copy, PartialEq)]
enum MaskBug {
    SharedByBatch,
    FrozenAcrossSteps,
    LaneBroadcast,
    CounterPerVector,
}

/// Units and batch size: 64 × 64, so each example's mask is one u64 word.
const UNITS: usize = 64;
const BATCH: usize = 64;
const P_MASK: f32 = 0.8;
/// The widest lane count of any build (AVX-512's f32x16): the lane bugs are planted at it.
const WIDE: usize = 16;
/// Lags (in the flat column-major index) whose pairs are tested for independence: every
/// neighbour within and across a 16-lane vector (1..=17), the vector and word boundaries
/// (31..33, 63, 65, 128), and 64 = the same unit in the next example.
const LAGS: [usize; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 32, 33, 63, 64, 65, 128,
];

/// The mask of one training step (UNITS × BATCH, column-major), as the code under test draws it.
fn step_mask(bug: Option<MaskBug>, seed: u64, step: u64) -> Mask {
    let d = dropout(P_MASK, Scaling::Inverted);
    let t = d.keep().threshold().expect("p < 1");
    let len = UNITS * BATCH;
    let kernel = |stream: MaskStream, n: usize| {
        let (x, mut y, mut m) = (vec![1.0f32; n], vec![0.0f32; n], Mask::new(n));
        d.forward(stream, &x, &mut y, &mut m)
            .expect("equal lengths");
        m
    };
    let s = MaskStream::new(seed, step);
    match bug {
        None => kernel(s, len),
        Some(MaskBug::SharedByBatch) => {
            let one = kernel(s, UNITS);
            Mask::from_fn(len, |i| one.get(i % UNITS))
        }
        Some(MaskBug::FrozenAcrossSteps) => kernel(MaskStream::new(seed, 0), len),
        Some(MaskBug::LaneBroadcast) => {
            Mask::from_fn(len, |i| s.uniform((i - i % WIDE) as u64) < t)
        }
        Some(MaskBug::CounterPerVector) => {
            Mask::from_fn(len, |i| s.uniform((i / WIDE + i % WIDE) as u64) < t)
        }
    }
}

pub(super) fn drop_mask() -> Claim {
    Claim::checked(
        "DROP-MASK",
        ROOM,
        "§基本思想 (\"每个mini-batch训练时\")",
        "masks are drawn i.i.d. per unit and per training example, and afresh every step (not \
         once per mini-batch): no two examples share a mask, a fixed example's mask changes \
         between steps, and mask bits are independent across units, examples, steps, \
         neighbouring SIMD lanes and lane-block boundaries (kernel masks, p = 0.8)",
        PostVerdict::Imprecise,
        &[
            (
                MaskBug::SharedByBatch,
                Planted::post(
                    "one mask shared by the whole batch (\"per mini-batch\" read literally)",
                ),
            ),
            (
                MaskBug::FrozenAcrossSteps,
                Planted::bug("the generator re-seeded every step: the mask freezes"),
            ),
            (
                MaskBug::LaneBroadcast,
                Planted::bug("one draw per 16-lane vector, repeated in every lane"),
            ),
            (
                MaskBug::CounterPerVector,
                Planted::bug("counter advanced by 1 per vector, not 16: vectors overlap, shifted"),
            ),
        ],
        |bug, ctx| {
            let steps = ctx.size(25, 250);
            let masks: Vec<Mask> = (0..steps as u64)
                .map(|s| step_mask(bug, ctx.seed, s + 1))
                .collect();
            let mut f = Findings::default();
            distinct_rows(&mut f, &masks, bug);
            independence(&mut f, &masks, bug);
            f
        },
    )
    .typeset(r"masks are drawn i.i.d. per unit and per training example, and afresh every step (not once per mini-batch): no two examples share a mask, a fixed example's mask changes between steps, and mask bits are independent across units, examples, steps, neighbouring SIMD lanes and lane-block boundaries (kernel masks, $p = 0.8$)")
}

/// No two examples share a mask within a step, and example 0's mask changes every step.
///
/// Two examples agree on a unit with probability p² + (1−p)² = 0.68, so on a correct sampler
/// a given pair of examples shares its mask with probability 0.68^64 ≈ 1.9e-11: C(64,2) =
/// 2016 pairs per step over 20 steps expect 7.7e-7 chance collisions, and 19 pairs of steps
/// 3.6e-10. A chance collision is possible, so each count is a test, not an exact tally: by
/// Markov's inequality P(K ≥ k) ≤ E[K]/k, so p = min(1, E[K]/k) (1 when k = 0) is a valid
/// p-value, and a single collision among the examples (p ≤ 7.7e-7) already rejects at
/// α = 1e-6. Both tests are counted in the suite's α.
fn distinct_rows(f: &mut Findings, masks: &[Mask], bug: Option<MaskBug>) {
    let p = f64::from(P_MASK);
    let agree = (p * p + (1.0 - p) * (1.0 - p)).powi(UNITS as i32);
    let checked = &masks[..masks.len().min(20)];
    let (mut clashes, mut pairs, mut first) = (0u64, 0u64, None);
    for (s, m) in checked.iter().enumerate() {
        let w = m.words(); // one word per example (UNITS = 64)
        for a in 0..BATCH {
            for b in a + 1..BATCH {
                pairs += 1;
                if w[a] == w[b] {
                    clashes += 1;
                    first.get_or_insert((s, a, b));
                }
            }
        }
    }
    let designed = |b: MaskBug, against: MaskBug, what: &str| {
        if b == against {
            Power::new(
                1.0,
                format!(
                    "{what}: every pair shares its draws by construction, so K = n and p ≤ E[K]/n ≪ α on every seed; miss probability 0"
                ),
            )
        } else {
            Power::new(
                0.0,
                "not designed against this variant (the χ² test is); stated as 0",
            )
        }
    };
    let power = |against: MaskBug, what: &str| designed(bug.unwrap_or(against), against, what);
    f.test(
        format!(
            "no two of the 64 examples share a mask (first 20 steps){}",
            first.map_or(String::new(), |(s, a, b)| format!(
                ", first clash: step {s}, examples {a} and {b}"
            ))
        ),
        collision_test(clashes, pairs, agree),
        ALPHA,
        power(MaskBug::SharedByBatch, "one mask shared by the batch"),
    );
    let (mut kept, mut step_pairs) = (0u64, 0u64);
    for pair in checked.windows(2) {
        step_pairs += 1;
        kept += u64::from(pair[0].words()[0] == pair[1].words()[0]);
    }
    f.test(
        "a fixed example's mask changes between steps",
        collision_test(kept, step_pairs, agree),
        ALPHA,
        power(MaskBug::FrozenAcrossSteps, "mask frozen across steps"),
    );
}

/// The Markov-bound test of a count of collisions: `k` observed among `pairs`, each a chance
/// collision with probability `chance` on a correct sampler. p = min(1, E[K]/k), 1 for k = 0.
fn collision_test(k: u64, pairs: u64, chance: f64) -> TestOutcome {
    let expected = pairs as f64 * chance;
    TestOutcome {
        test: "collision count, Markov bound P(K ≥ k) ≤ E[K]/k",
        statistic: k as f64,
        n: pairs,
        p_value: if k == 0 {
            1.0
        } else {
            (expected / k as f64).min(1.0)
        },
    }
}

/// χ² goodness of fit of the 2×2 table of pairs (r_i, r_{i+d}) to the product law
/// (p², p(1−p), (1−p)p, (1−p)²), for every lag d in [`LAGS`] within a step and for the
/// same entry in consecutive steps; Bonferroni over the 25 tables.
///
/// The pairs of a table are disjoint — i runs over the blocks [2kd, 2kd + d), so every entry
/// is in one pair — and the steps are paired (0, 1), (2, 3), …: under the null the pairs are
/// then independent and the counts multinomial, as the χ² test assumes. (Overlapping pairs
/// (i, i+d), (i+d, i+2d) are positively correlated; at p = 0.8 they nearly double the variance
/// of the counts and would make the test reject a correct sampler far more often than α.)
fn independence(f: &mut Findings, masks: &[Mask], bug: Option<MaskBug>) {
    let p = f64::from(P_MASK);
    let law = [p * p, p * (1.0 - p), (1.0 - p) * p, (1.0 - p) * (1.0 - p)];
    let cell = |a: bool, b: bool| usize::from(!a) * 2 + usize::from(!b);
    let mut tables = Vec::new();
    let mut names = Vec::new();
    for d in LAGS {
        let mut counts = [0u64; 4];
        for m in masks {
            for i in (0..m.len() - d).filter(|i| (i / d) % 2 == 0) {
                counts[cell(m.get(i), m.get(i + d))] += 1;
            }
        }
        tables.push(chi_square_gof(&counts, &law).expect("valid table"));
        names.push(format!("lag {d}"));
    }
    let mut counts = [0u64; 4];
    for pair in masks.chunks_exact(2) {
        for i in 0..pair[0].len() {
            counts[cell(pair[0].get(i), pair[1].get(i))] += 1;
        }
    }
    tables.push(chi_square_gof(&counts, &law).expect("valid table"));
    names.push("consecutive steps".into());
    let worst = (0..tables.len())
        .min_by(|&a, &b| tables[a].p_value.total_cmp(&tables[b].p_value))
        .expect("tables");
    // Power, from each planted variant's construction (see `guaranteed_chi_square`): its
    // smallest guaranteed χ² against the Bonferroni critical value. On our code, the weakest
    // planted variant's.
    let len = masks.first().map_or(0, Mask::len);
    let power = |b: MaskBug| guaranteed_chi_square(b, len, masks.len());
    let (name, (table, lower)) = match bug {
        Some(b) => (PLANTED_NAMES[b as usize], power(b)),
        None => MaskBug::ALL
            .iter()
            .map(|&b| (PLANTED_NAMES[b as usize], power(b)))
            .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .expect("planted variants"),
    };
    let critical = chi_square_critical(3.0, ALPHA / tables.len() as f64);
    let certain = lower > critical;
    f.test(
        Label::from(format!(
            "independence of mask bits: χ² of 25 tables of disjoint pairs (units, lanes, lane \
             blocks, examples, steps), worst at {}",
            names[worst]
        ))
        .markdown(format!(
            "independence of mask bits: $\\chi^2$ of 25 tables of disjoint pairs (units, lanes, \
             lane blocks, examples, steps), worst at {}",
            names[worst]
        )),
        bonferroni(&tables, "χ² independence, Bonferroni over 25 tables"),
        ALPHA,
        Power::new(
            if certain { 1.0 } else { 0.0 },
            format!(
                "{name}: by construction its pairs at {table} share their draw, so χ² ≥ \
                 {lower:.0} on every seed, against the critical value {critical:.1} (α/25, 3 \
                 df): {}",
                if certain {
                    "rejected with certainty, miss probability 0"
                } else {
                    "no guaranteed power (stated as 0)"
                }
            ),
        ),
    );
}

/// The planted variants' names, in [`MaskBug`] order, for the power statement.
const PLANTED_NAMES: [&str; 4] = [
    "one mask shared by the batch",
    "mask frozen across steps",
    "one draw per 16-lane vector",
    "counter advanced by 1 per vector",
];

impl MaskBug {
    const ALL: [MaskBug; 4] = [
        MaskBug::SharedByBatch,
        MaskBug::FrozenAcrossSteps,
        MaskBug::LaneBroadcast,
        MaskBug::CounterPerVector,
    ];

    /// Whether entries `i` and `j` of one step's mask use the same uniform draw, by the
    /// construction of the variant in [`step_mask`] (entry i of a correct mask uses draw i).
    fn same_draw(self, i: usize, j: usize) -> bool {
        match self {
            MaskBug::SharedByBatch => i % UNITS == j % UNITS,
            MaskBug::FrozenAcrossSteps => i == j,
            MaskBug::LaneBroadcast => i / WIDE == j / WIDE,
            MaskBug::CounterPerVector => i / WIDE + i % WIDE == j / WIDE + j % WIDE,
        }
    }
}

/// The χ² statistic a planted variant produces on every seed, at least, in its most affected
/// table, and that table's name.
///
/// If a fraction f of a table's N pairs share their draw, those pairs fall in the cells
/// (kept, kept) and (dropped, dropped) only, so the two mixed cells hold together at most
/// (1 − f)·N pairs against an expectation of 2N·p(1−p). Their two χ² terms alone are then at
/// least (2Np(1−p) − (1−f)N)²/(2Np(1−p)) (by (a − E)² + (b − E)² ≥ (a + b − 2E)²/2) whenever
/// (1 − f) < 2p(1−p) = 0.32: a bound that holds for every draw, so a variant whose bound
/// exceeds the critical value is rejected with probability 1.
fn guaranteed_chi_square(bug: MaskBug, len: usize, steps: usize) -> (String, f64) {
    let p = f64::from(P_MASK);
    let mixed = 2.0 * p * (1.0 - p);
    let bound = |pairs: f64, shared: f64| {
        let off = pairs - shared; // at most this many pairs in the mixed cells
        let e = mixed * pairs;
        if off < e { (e - off).powi(2) / e } else { 0.0 }
    };
    let mut best = ("consecutive steps".to_owned(), {
        // Entry i of steps 2k and 2k + 1: the same draw only when the mask is frozen.
        let pairs = (steps / 2 * len) as f64;
        let shared = if matches!(bug, MaskBug::FrozenAcrossSteps) {
            pairs
        } else {
            0.0
        };
        bound(pairs, shared)
    });
    for d in LAGS {
        let (mut pairs, mut shared) = (0u64, 0u64);
        for i in (0..len - d).filter(|i| (i / d) % 2 == 0) {
            pairs += 1;
            shared += u64::from(bug.same_draw(i, i + d));
        }
        let b = bound(
            (pairs * steps as u64) as f64,
            (shared * steps as u64) as f64,
        );
        if b > best.1 {
            best = (format!("lag {d}"), b);
        }
    }
    best
}

/// The upper-α quantile of χ² with `df` degrees of freedom, by bisection on the survival
/// function (monotone), to a relative 1e-12.
fn chi_square_critical(df: f64, alpha: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    while chi_square_sf(hi, df) > alpha {
        hi *= 2.0;
    }
    while hi - lo > 1e-12 * hi {
        let mid = 0.5 * (lo + hi);
        if chi_square_sf(mid, df) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

// ANCHOR_END: drop_mask
