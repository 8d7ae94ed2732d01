//! EXP-SGD-SPEED, and SGD-FAST which follows it (catalogue appendix): mini-batch SGD against
//! full-batch GD on redundant data, at an equal budget of samples processed.
//!
//! One replicate is one independent data set: a fresh logistic teacher, fresh points and
//! fresh shuffles ([`epoch_batches`] reshuffles each epoch). Both trainers run one epoch
//! from w = 0 with each step size of their grid; the replicate's margin is
//!
//! (best full-batch loss after 1 epoch) − (best mini-batch loss after 1 epoch) − 0.02,
//!
//! positive when mini-batch is ahead by the catalogue's 0.02. The sign test over replicates
//! decides (conventions appendix, Experiments). The bookkeeping of the equal budget (one
//! mini-batch epoch processes N per-sample gradients) and "both trainers trained" are the
//! replicate's health, not its margin.
//!
//! The two grids are the catalogue's: full-batch GD takes one step per epoch, so it is given
//! the large steps {0.3, 1, 3, 10}; mini-batch SGD takes N/M = 128 steps per epoch with
//! {0.03, 0.1, 0.3}. The comparison is per sample processed, each trainer at the best step of
//! its own grid. No per-iteration comparison is made: one full-batch iteration processes N
//! samples, one mini-batch iteration M, so "per iteration" is not an equal budget, and with
//! different grids it would measure the grids (an earlier version did).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{ROOM, epoch_batches, standard_normal};
use crate::claims::{Claim, Control, Ctx, Design, Findings, Label, PostVerdict, Tally, Trial};
use crate::report::figure::{LinePlot, Series};

const D: usize = 10;
/// The mini-batch size and the two step-size grids of the catalogue.
const M: usize = 32;
const FULL_STEPS: [f64; 4] = [0.3, 1.0, 3.0, 10.0];
const MINI_STEPS: [f64; 3] = [0.03, 0.1, 0.3];
/// The catalogue's margin: mini-batch ahead by at least this much training log-loss.
const MARGIN: f64 = 0.02;
/// A data set's shape: `distinct` points, each repeated `repeats` times (N = distinct ×
/// repeats), feature k scaled by spread^(−k/(d−1)) (from 1 down to 1/spread).
#[derive(Clone, Copy)]
struct Setting {
    distinct: usize,
    repeats: usize,
    spread: f64,
}

/// The catalogue's setting: 256 distinct points, each repeated 16 times, isotropic features.
const CATALOGUE: Setting = Setting {
    distinct: 256,
    repeats: 16,
    spread: 1.0,
};

/// The positive control: far more redundancy (16 distinct points, each repeated 4096 times,
/// so one epoch of N = 65536 is 2048 mini-batch steps) and feature scales from 1 to 1/10,
/// where one full-batch step, capped by the largest curvature, cannot do what many small
/// steps do. Measured: mini-batch ahead by ≥ 0.02 in 19996 of 20000 replicates.
const REDUNDANT: Setting = Setting {
    distinct: 16,
    repeats: 4096,
    spread: 10.0,
};

/// The control arms.
#[derive(Clone, Copy)]
enum Arm {
    /// Far more redundancy ([`REDUNDANT`]): mini-batch's lead must be large.
    Redundant,
    /// A broken mini-batch trainer that climbs the loss (the update's sign flipped).
    Ascends,
}

/// Logistic regression on redundant data: x ~ N(0, I_d), labels from a logistic teacher
/// w* ~ N(0, I_d), y ~ Bernoulli(σ(w*·x)); `distinct` points, each repeated N/distinct
/// times. Sample s of the N is distinct point s / repeats, so losses and the full-batch
/// gradient are exact means over the distinct points.
struct Logistic {
    x: Vec<[f64; D]>,
    y: Vec<f64>,
    repeats: usize,
    /// N = distinct × repeats.
    n: usize,
}

impl Logistic {
    fn new(rng: &mut impl Rng, setting: Setting) -> Self {
        let Setting {
            distinct,
            repeats,
            spread,
        } = setting;
        let teacher: [f64; D] = std::array::from_fn(|_| standard_normal(rng));
        let (mut x, mut y) = (Vec::with_capacity(distinct), Vec::with_capacity(distinct));
        for _ in 0..distinct {
            let xp: [f64; D] = std::array::from_fn(|k| {
                spread.powf(-(k as f64) / (D - 1) as f64) * standard_normal(rng)
            });
            let p = sigmoid(dot(&teacher, &xp));
            y.push(if rng.random::<f64>() < p { 1.0 } else { 0.0 });
            x.push(xp);
        }
        Self {
            x,
            y,
            repeats,
            n: distinct * repeats,
        }
    }

    /// The training log-loss over all N samples, (1/N)·Σ_s [softplus(z_s) − y_s·z_s] with
    /// z_s = w·x_s: the mean over the distinct points, each weighing N/distinct.
    fn loss(&self, w: &[f64; D]) -> f64 {
        let total: f64 = self
            .x
            .iter()
            .zip(&self.y)
            .map(|(x, y)| {
                let z = dot(w, x);
                z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
            })
            .sum();
        total / self.x.len() as f64
    }

    /// Adds the per-sample gradient (σ(w·x_s) − y_s)·x_s of sample `s` (of N) to `sum`,
    /// scaled by `weight`.
    fn add_gradient(&self, w: &[f64; D], s: usize, weight: f64, sum: &mut [f64; D]) {
        let p = s / self.repeats;
        let r = weight * (sigmoid(dot(w, &self.x[p])) - self.y[p]);
        sum.iter_mut()
            .zip(&self.x[p])
            .for_each(|(s, x)| *s += r * x);
    }
}

fn dot(a: &[f64; D], b: &[f64; D]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn sigmoid(z: f64) -> f64 {
    derivations::activation::sigmoid_stable(z)
}

/// One trainer's epoch from w = 0: its loss after the epoch, the curve (samples processed / N,
/// loss) for the figure, and the per-sample gradients it computed.
struct Trace {
    loss: f64,
    curve: Vec<(f64, f64)>,
    per_sample: u64,
}

/// Full-batch GD for one epoch: one step w ← w − η·(1/N)·Σ_s ∇ℓ_s. The N per-sample gradients
/// are summed as the distinct points' gradients times their multiplicity.
fn full_batch(data: &Logistic, eta: f64) -> Trace {
    let mut w = [0.0; D];
    let mut g = [0.0; D];
    for p in 0..data.x.len() {
        data.add_gradient(&w, p * data.repeats, data.repeats as f64, &mut g);
    }
    w.iter_mut()
        .zip(g)
        .for_each(|(w, g)| *w -= eta * g / data.n as f64);
    let loss = data.loss(&w);
    Trace {
        loss,
        curve: vec![(0.0, data.loss(&[0.0; D])), (1.0, loss)],
        per_sample: data.n as u64,
    }
}

// ANCHOR: mini_batch
/// Mini-batch SGD for one epoch: M = 32, the batches of one reshuffle (from `rng`), each step
/// w ← w − η·(1/M)·Σ_{s∈B} ∇ℓ_s. The broken control flips the step's sign.
fn mini_batch(data: &Logistic, eta: f64, mut rng: ChaCha8Rng, ascends: bool) -> Trace {
    let sign = if ascends { -1.0 } else { 1.0 };
    let mut w = [0.0; D];
    let mut curve = vec![(0.0, data.loss(&w))];
    let mut per_sample = 0;
    for (step, batch) in epoch_batches(data.n, M, &mut rng).into_iter().enumerate() {
        let mut g = [0.0; D];
        for &s in &batch {
            data.add_gradient(&w, s, 1.0, &mut g);
            per_sample += 1;
        }
        let scale = sign * eta / batch.len() as f64;
        w.iter_mut().zip(g).for_each(|(w, g)| *w -= scale * g);
        if (step + 1) % (data.n / M / 8) == 0 {
            curve.push((((step + 1) * M) as f64 / data.n as f64, data.loss(&w)));
        }
    }
    Trace {
        loss: data.loss(&w),
        curve,
        per_sample,
    }
}
// ANCHOR_END: mini_batch

/// The index and loss of the best trace.
fn best(traces: &[Trace]) -> (usize, f64) {
    traces
        .iter()
        .map(|t| t.loss)
        .enumerate()
        .fold(
            (0, f64::INFINITY),
            |b, (i, l)| if l < b.1 { (i, l) } else { b },
        )
}

/// One replicate: a fresh data set (and, for the positive control, a more redundant one),
/// both grids for one epoch, the margin and the health evidence.
fn replicate(arm: Option<Arm>, ctx: &Ctx) -> Trial {
    let setting = match arm {
        Some(Arm::Redundant) => REDUNDANT,
        _ => CATALOGUE,
    };
    let mut rng = ctx.rng();
    let data = Logistic::new(&mut rng, setting);
    rng.set_stream(1); // the shuffles: the same for every step size
    let full: Vec<Trace> = FULL_STEPS.iter().map(|&e| full_batch(&data, e)).collect();
    let mini: Vec<Trace> = MINI_STEPS
        .iter()
        .map(|&e| mini_batch(&data, e, rng.clone(), matches!(arm, Some(Arm::Ascends))))
        .collect();
    let ((fi, full_best), (mi, mini_best)) = (best(&full), best(&mini));

    let mut f = Findings::default();
    let mut finite = Tally::default();
    for (name, t) in full
        .iter()
        .map(|t| ("full", t))
        .chain(mini.iter().map(|t| ("mini", t)))
    {
        finite.check(t.loss.is_finite(), || {
            format!("{name}-batch loss {}", t.loss)
        });
    }
    f.tally("every trainer's loss after 1 epoch is finite", finite);
    // Training lowers the loss from its value ln 2 at w₀ = 0: the loss is L-smooth with
    // L ≤ λ_max(XᵀX/N)/4 (about 0.36 here, at most about 0.8 in the positive control), so full-batch GD with
    // η = 0.3 ≤ 1/L drops it by ≥ (η/2)·‖∇L(0)‖², and ‖∇L(0)‖ ~ 0.1 even for random labels:
    // 1e-6 below ln 2 fails only for a trainer that does not train (a step never applied) or
    // climbs.
    let ln2 = std::f64::consts::LN_2;
    let why = "the loss at w₀ = 0 is ln 2; a trainer that trains ends below it";
    f.bound(
        Label::from("trained: best full-batch loss after 1 epoch ≤ ln 2 − 1e-6")
            .markdown(r"trained: best full-batch loss after 1 epoch $\le \ln 2 - 10^{-6}$"),
        full_best,
        ln2 - 1e-6,
        FULL_STEPS.len() as u64,
        why,
    );
    f.bound(
        Label::from("trained: best mini-batch loss after 1 epoch ≤ ln 2 − 1e-6")
            .markdown(r"trained: best mini-batch loss after 1 epoch $\le \ln 2 - 10^{-6}$"),
        mini_best,
        ln2 - 1e-6,
        MINI_STEPS.len() as u64,
        why,
    );
    let mut count = Tally::default();
    for t in &mini {
        count.check(t.per_sample == data.n as u64, || {
            format!(
                "{} per-sample gradients in one mini-batch epoch",
                t.per_sample
            )
        });
    }
    f.tally(
        Label::from("equal budget: one mini-batch epoch computes N per-sample gradients")
            .markdown(r"equal budget: one mini-batch epoch computes $N$ per-sample gradients"),
        count,
    );
    f.figures.push(LinePlot {
        file_stem: "backprop-sgd-speed".into(),
        title: format!(
            "EXP-SGD-SPEED, one replicate: logistic regression, N = {} ({} points × {})",
            data.n, setting.distinct, setting.repeats
        ),
        x_label: "samples processed / N (epochs)".into(),
        y_label: "training log-loss".into(),
        series: vec![
            Series {
                name: format!("mini-batch SGD, M = 32, η = {}", MINI_STEPS[mi]),
                points: mini[mi].curve.clone(),
            },
            Series {
                name: format!("full-batch GD, η = {}", FULL_STEPS[fi]),
                points: full[fi].curve.clone(),
            },
        ],
    });
    Trial::new(full_best - mini_best - MARGIN, f)
}

// ANCHOR: exp_sgd_speed
pub(super) fn exp_sgd_speed() -> Claim {
    Claim::experiment(
        "EXP-SGD-SPEED",
        ROOM,
        "experiment → SGD-FAST",
        "logistic regression (d = 10, x ~ N(0, I), teacher w* ~ N(0, I), 256 points × 16, w₀ = 0), \
         a fresh data set per replicate: after 1 epoch the best mini-batch SGD (M = 32, \
         η ∈ {0.03, 0.1, 0.3}) is below the best full-batch GD (η ∈ {0.3, 1, 3, 10}) by ≥ 0.02 \
         training log-loss — inconclusive: it holds in about half of the data sets",
        DESIGN,
        &[
            (
                Arm::Redundant,
                Control::positive("16 distinct points × 256: far more redundancy"),
            ),
            (
                Arm::Ascends,
                Control::broken("a mini-batch trainer whose update climbs the loss"),
            ),
        ],
        replicate,
    )
    .typeset(r"logistic regression ($d = 10$, $x \sim N(0, I)$, teacher $w^* \sim N(0, I)$, $256$ points $\times\, 16$, $w_0 = 0$), a fresh data set per replicate: after 1 epoch the best mini-batch SGD ($M = 32$, $\eta \in \{0.03, 0.1, 0.3\}$) is below the best full-batch GD ($\eta \in \{0.3, 1, 3, 10\}$) by $\ge 0.02$ training log-loss — inconclusive: it holds in about half of the data sets")
}
// ANCHOR_END: exp_sgd_speed

/// The sign test's design. Re-measured on the planning stream, apart from the deciding
/// replicates (`cargo run --release -- --claim EXP-SGD-SPEED --budget ci --planning 20000`):
/// 9775 of 20000, the rate within [0.483, 0.495] (one-sided 95 % bounds), inside
/// [0.475, 0.525] as planned. First measured on base seed 0 at these settings (the experiment is the
/// same at both budgets): the inequality held in 9782 of 20000 replicates, a rate of 0.489
/// (SE 0.0035; the 99.9 % interval is [0.477, 0.501]), so the honest decision is
/// inconclusive: in the median data set mini-batch is ahead by almost exactly 0.02 (median
/// margin −4e-4). The planning rate is the end of that interval farthest from ½, 0.475. The
/// chance that the sign test decides either way at that rate is, with Bin(n, 0.475): at the
/// CI budget (n = 32, supported from 30 wins, not supported up to 2) 5.1e-7; at the full
/// budget (n = 52, 44 and 8) 1.2e-6, the smallest n ≥ 50 keeping it near 1e-6 (n = 64 gives
/// 6.1e-6). Both ≤ 1e-5.
///
/// The positive control ([`REDUNDANT`]) held in 19996 of 20000 replicates: with a miss rate
/// q ≤ 7.4e-4 (the 99.9 % upper bound), it fails to come out supported with probability
/// ≤ C(32, 3)·q³ ≈ 2e-6 at the CI budget (it may lose 2 of 32) and < 1e-15 at the full one.
/// The broken control fails its health check in its first replicate (a loss of ≈ 1.9 > ln 2).
const DESIGN: Design = Design {
    inequality: "best full-batch loss − best mini-batch loss after 1 epoch > 0.02",
    ci: 32,
    full: 52,
    alpha: 1e-6,
    planning_rate: 0.475,
};

// ANCHOR: sgd_fast
pub(super) fn sgd_fast() -> Claim {
    Claim::follows(
        "SGD-FAST",
        ROOM,
        "§训练方法",
        "mini-batch SGD \"converges faster\": in the testable sense, per sample processed, on \
         redundant data, early in training (one epoch); decided by EXP-SGD-SPEED",
        PostVerdict::Imprecise,
        "EXP-SGD-SPEED",
    )
}
// ANCHOR_END: sgd_fast
