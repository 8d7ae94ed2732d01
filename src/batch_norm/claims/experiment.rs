//! The network-level claims: BN-CTX (ReLU with Xavier), EXP-BN-INIT (BN removes the
//! sensitivity to the weights' scale), EXP-BN-LR and BN-ROLE-LR (BN allows larger steps).
//!
//! The experiments follow the catalogue appendix: a teacher–student regression task (the
//! teacher a random 2-layer tanh network), tanh MLPs with Xavier weights, mini-batch SGD. Each
//! replicate draws its own task and initialisation (`ctx.rng()` on the replicate's seed); the
//! replicates are decided by a sign test on the catalogue's inequality, and each replicate's
//! health evidence shows it ran as designed. A decision means "in this setting", no more.

use nalgebra::DMatrix;
use rand::Rng;

use super::ROOM;
use super::mlp::{Mlp, Norm, check_gradients, check_kernel_glue};
use super::sample::normal;
use crate::activation::Activation;
use crate::claims::{
    Claim, Control, Ctx, Design, Findings, IDENTITY_TOL, Label, Planted, PostVerdict, Power, Tally,
    Trial, identity_error,
};
use crate::report::figure::{LinePlot, Series};
use crate::stats::{ALPHA, z_test};
use crate::xavier::{Fans, Init};
use derivations::batch_norm as spec;

/// A network's shape and how it is trained.
#[derive(Clone, Copy)]
struct Setup {
    /// Input width, then the hidden layers' widths.
    widths: &'static [usize],
    /// Mini-batch size M.
    batch: usize,
    /// SGD steps (one fresh mini-batch each).
    steps: usize,
    /// Held-out samples the loss is scored on.
    eval: usize,
}

/// The regression task: a held-out evaluation set and `steps` training batches, targets from
/// a random teacher y = vᵀ·tanh(W₁ᵀ·x) (W₁ square, N(0, 1/d) entries) scaled to unit mean
/// square on the evaluation set.
struct Task {
    train: Vec<(DMatrix<f32>, DMatrix<f32>)>,
    eval: (DMatrix<f32>, DMatrix<f32>),
}

fn task(rng: &mut impl Rng, setup: &Setup) -> Task {
    let d = setup.widths[0];
    let w1 = DMatrix::from_fn(d, d, |_, _| (normal(rng) / (d as f64).sqrt()) as f32);
    let v = DMatrix::from_fn(d, 1, |_, _| normal(rng) as f32);
    let mut draw = |n: usize| {
        let x = DMatrix::from_fn(d, n, |_, _| normal(rng) as f32);
        let mut h = w1.transpose() * &x;
        Activation::Tanh.forward_in_place(h.as_mut_slice());
        (x, v.transpose() * h)
    };
    let (ex, ey) = draw(setup.eval);
    let scale = 1.0 / (ey.iter().map(|t| t * t).sum::<f32>() / setup.eval as f32).sqrt();
    let train = (0..setup.steps)
        .map(|_| draw(setup.batch))
        .map(|(x, y)| (x, y * scale))
        .collect();
    Task {
        train,
        eval: (ex, ey * scale),
    }
}

/// Trains `net` on the task's batches with step size `lr` and returns (initial, final)
/// evaluation loss. A run whose training loss leaves the finite range, or exceeds a million
/// times the initial loss, has diverged: it stops there with a final loss of +∞. `curve`
/// receives (step, log10 training loss) up to where the run stopped.
fn train(
    task: &Task,
    net: &mut Mlp<f32>,
    lr: f64,
    curve: Option<&mut Vec<(f64, f64)>>,
) -> (f64, f64) {
    let initial = net.loss(&task.eval.0, &task.eval.1);
    let mut points = Vec::new();
    let mut diverged = false;
    for (step, (x, y)) in task.train.iter().enumerate() {
        let loss = net.train_step(x, y, lr);
        points.push((step as f64, loss.log10()));
        if !loss.is_finite() || loss > 1e6 * initial {
            diverged = true;
            break;
        }
    }
    if let Some(c) = curve {
        *c = points;
    }
    let last = if diverged {
        f64::INFINITY
    } else {
        net.loss(&task.eval.0, &task.eval.1)
    };
    (initial, last)
}

// ---------------------------------------------------------------- EXP-BN-LR, BN-ROLE-LR
// ANCHOR: exp_bn_lr

/// EXP-BN-LR's network: 4 tanh layers of width 16 on inputs in ℝ⁸, M = 16, 100 steps, scored
/// on 256 held-out samples. Sized for cost (one replicate trains up to 20 networks; the
/// experiment runs 40 replicates at the CI budget), not for the outcome.
const LR_SETUP: Setup = Setup {
    widths: &[8, 16, 16, 16, 16],
    batch: 16,
    steps: 100,
    eval: 256,
};

/// The step sizes: ×3 from 1e-3 up to 30.
fn grid() -> Vec<f64> {
    (0..10).map(|k| 1e-3 * 3f64.powi(k)).collect()
}

/// How one network fared over the grid: the index of the largest stable step (stable: final
/// loss finite and below half the initial loss), and the final/initial loss ratio of each step
/// tried, from the top of the grid down.
struct Scan {
    best: Option<usize>,
    ratios: Vec<(usize, f64)>,
}

/// Trains a fresh network (initialised from `init_seed`, so both networks of a replicate start
/// from the same weights) at the steps of the grid from the largest down, until one is stable:
/// that one is the largest stable step. `sign` = −1 steps up the gradient.
fn scan(task: &Task, init_seed: u64, norm: Norm, sign: f64) -> Scan {
    let mut ratios = Vec::new();
    for (k, lr) in grid().into_iter().enumerate().rev() {
        let mut init = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(init_seed);
        let mut net = Mlp::<f32>::new(&mut init, LR_SETUP.widths, 1.0, norm);
        let (initial, last) = train(task, &mut net, sign * lr, None);
        let ratio = last / initial;
        ratios.push((k, ratio));
        if ratio.is_finite() && ratio < 0.5 {
            return Scan {
                best: Some(k),
                ratios,
            };
        }
    }
    Scan { best: None, ratios }
}

/// EXP-BN-LR's broken controls.
#[derive(Clone, Copy)]
enum LrArm {
    /// BN whose backward pass treats μ_B and σ_B as constants.
    DetachedStatistics,
    /// A trainer that steps up the gradient: it never trains.
    Uphill,
}

/// One replicate: a fresh task and initialisation; the largest stable step of the grid with
/// and without BN. The margin is log₃(η_BN/η_plain) − ½ = (k_BN − k_plain) − ½ in grid
/// steps: the grid is geometric with ratio 3, so η_BN ≥ 3·η_plain ⇔ k_BN − k_plain ≥ 1 ⇔
/// margin ≥ ½, and otherwise margin ≤ −½. The offset ½ sits halfway between, so "≥ 3×" is
/// counted as a win and equality of steps is not, whatever the rounding of the grid values.
fn lr_trial(arm: Option<LrArm>, ctx: &Ctx) -> Trial {
    let mut rng = ctx.rng();
    let task = task(&mut rng, &LR_SETUP);
    let init_seed: u64 = rng.random();
    let (bn_norm, sign) = match arm {
        None => (Norm::Batch, 1.0),
        Some(LrArm::DetachedStatistics) => (Norm::BatchStatsDetached, 1.0),
        Some(LrArm::Uphill) => (Norm::Batch, -1.0),
    };
    let mut f = Findings::default();
    // The trainer itself, on this replicate's draws: its gradient in f64 against central
    // differences, and its f32 BN calls against the f64 ones. Both are deterministic given
    // their draws; over 20 000 independent draws (`measure::trainer_checks_margin`) the worst
    // was 0.38 of the band for the gradient and 0.53 of the bound for the BN calls, so they
    // do not fail by chance.
    check_gradients(&mut f, &mut rng, Norm::Plain);
    check_gradients(&mut f, &mut rng, bn_norm);
    check_kernel_glue(&mut f, &mut rng, bn_norm);
    let plain = scan(&task, init_seed, Norm::Plain, sign);
    let bn = scan(&task, init_seed, bn_norm, sign);
    let g = grid();
    for (name, s) in [("with BN", &bn), ("without BN", &plain)] {
        let mut t = Tally::default();
        t.check(s.best.is_some(), || {
            let lowest = s.ratios.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
            format!("no grid step halves the loss (lowest final/initial {lowest:.3})")
        });
        let found = s.best.map_or("none".into(), |k| {
            let ratio = s.ratios.last().map_or(f64::NAN, |r| r.1);
            format!("{:.3e} (final/initial {ratio:.3})", g[k])
        });
        f.tally(
            Label::from(format!(
                "{name}: some step of the grid trains (final held-out loss finite, < ½ the \
                 initial); the largest: {found}"
            ))
            .markdown(format!(
                r"{name}: some step of the grid trains (final held-out loss finite, $< \frac12$ the initial); the largest: {found}"
            )),
            t,
        );
    }
    let margin = match (bn.best, plain.best) {
        (Some(b), Some(p)) => b as f64 - p as f64 - 0.5,
        _ => f64::NAN,
    };
    let curve = |s: &Scan| {
        s.ratios
            .iter()
            .rev()
            .map(|&(k, r)| (g[k].log10(), r.min(1e3).log10()))
            .collect()
    };
    if arm.is_none() {
        f.figures.push(LinePlot {
            file_stem: "batch_norm-learning-rate".into(),
            title: format!(
                "Final / initial held-out loss after {} SGD steps against the step size (from 30 \
                 down to the largest stable step)",
                LR_SETUP.steps
            ),
            x_label: "log10 step size".into(),
            y_label: "log10 (final loss / initial loss), capped at 3".into(),
            series: vec![
                Series {
                    name: "with BN".into(),
                    points: curve(&bn),
                },
                Series {
                    name: "without BN".into(),
                    points: curve(&plain),
                },
            ],
        });
    }
    Trial::new(margin, f)
}

/// The design of EXP-BN-LR.
///
/// Planning rate, measured when the design was chosen (2000 replicates on seeds no claim
/// uses): 1966 wins; the 34 losses are 33 replicates with the same largest stable step with
/// and without BN and one with BN's one grid step lower. The other 1958 wins are exactly one
/// grid step (3×) and 8 are two. Rate 0.983, its one-sided 99.9% upper confidence bound on
/// the loss rate 0.017 + 3.09·√(0.017·0.983/2000) = 0.026: we plan with 0.97. Re-measured on
/// the runner's planning stream (`cargo run --release -- --claim EXP-BN-LR --budget ci
/// --planning 2000`): 1973 wins, one-sided 95 % lower bound 0.981; the trainer's health
/// checks came within 0.27 (gradients) and 0.48 (f32 BN calls) of their bands at worst.
///
/// Decision error at 0.97, sign test at α = 1e-6: with 56 replicates (CI) "supported" needs
/// ≥ 46 wins, and P(Bin(56, 0.03) ≥ 11 losses) = 7.6e-7; with 64 (full) ≥ 51 wins, and
/// P(Bin(64, 0.03) ≥ 14) = 5.6e-9. Both ≤ 1e-6.
const LR_DESIGN: Design = Design {
    inequality: "largest stable step with BN ≥ 3 × without (margin: grid steps between them − ½)",
    ci: 56,
    full: 64,
    alpha: 1e-6,
    planning_rate: 0.97,
};

pub(super) fn exp_bn_lr() -> Claim {
    Claim::experiment(
        "EXP-BN-LR",
        ROOM,
        "experiment → BN-ROLE-LR",
        "on a teacher–student task (4-layer tanh MLP of width 16, BN before each tanh, linear \
         readout whose step is divided by its fan-in in both networks, M = 16, 100 SGD steps), the \
         largest stable step of the grid ×3 from 1e-3 to 30 (final held-out loss finite and \
         below half the initial) is at least 3 times larger with BN than without, replicate by \
         replicate",
        LR_DESIGN,
        &[
            (
                LrArm::DetachedStatistics,
                Control::broken(
                    "BN whose backward pass treats μ_B and σ_B as constants (caught by the \
                     gradient check)",
                ),
            ),
            (
                LrArm::Uphill,
                Control::broken("a trainer that steps up the gradient (no step trains)"),
            ),
        ],
        lr_trial,
    )
    .typeset(r"on a teacher–student task (4-layer tanh MLP of width 16, BN before each tanh, linear readout whose step is divided by its fan-in in both networks, $M = 16$, 100 SGD steps), the largest stable step of the grid $\times 3$ from $10^{-3}$ to $30$ (final held-out loss finite and below half the initial) is at least 3 times larger with BN than without, replicate by replicate")
}

/// BN-ROLE-LR's check is EXP-BN-LR (catalogue appendix, rule 4): it takes its outcome.
pub(super) fn bn_role_lr() -> Claim {
    Claim::follows(
        "BN-ROLE-LR",
        ROOM,
        "§BN的作用 2",
        "BN allows high learning rates: decided by EXP-BN-LR (the largest stable step with BN at \
         least 3 times that without, over independent replicates)",
        PostVerdict::Informal,
        "EXP-BN-LR",
    )
}

// ANCHOR_END: exp_bn_lr

// ---------------------------------------------------------------- EXP-BN-INIT
// ANCHOR: exp_bn_init

/// EXP-BN-INIT's network: 8 tanh layers of width 64 on inputs in ℝ³², evaluated at
/// initialisation on a batch of 64 samples.
const INIT_WIDTHS: [usize; 9] = [32, 64, 64, 64, 64, 64, 64, 64, 64];
const INIT_BATCH: usize = 64;

/// EXP-BN-INIT's broken control.
#[derive(Clone, Copy)]
enum InitArm {
    /// A "BN" that centres but does not scale.
    CentreOnly,
}

/// What an f64 replica of the network measures at initialisation on a batch.
struct Initial {
    output: Vec<f64>,
    /// Mean of z² at the last hidden layer.
    last_q: f64,
    /// Fraction of hidden units (all layers, all samples) with |O| > 0.99.
    saturated: f64,
}

/// The network at initialisation in f64, with weights a·W: BN (ε = 0, γ = 1, β = 0) by the
/// specification, or centring only (the broken control), or none (zero biases).
fn initial(
    weights: &[&DMatrix<f64>],
    readout: &DMatrix<f64>,
    x: &DMatrix<f64>,
    a: f64,
    bn: Option<Option<InitArm>>,
) -> Initial {
    let mut h = x.clone();
    let (mut saturated, mut units) = (0usize, 0usize);
    let mut last_q = 0.0;
    for w in weights {
        let mut z = (*w * a).transpose() * &h;
        last_q = z.iter().map(|v| v * v).sum::<f64>() / z.len() as f64;
        if let Some(arm) = bn {
            for mut row in z.row_iter_mut() {
                let values: Vec<f64> = row.iter().copied().collect();
                let normed = match arm {
                    None => spec::normalize(&values, 0.0),
                    Some(InitArm::CentreOnly) => {
                        let mu = spec::batch_mean(&values);
                        values.iter().map(|v| v - mu).collect()
                    }
                };
                row.iter_mut().zip(normed).for_each(|(r, v)| *r = v);
            }
        }
        h = z.map(f64::tanh);
        saturated += h.iter().filter(|v| v.abs() > 0.99).count();
        units += h.len();
    }
    Initial {
        output: (readout.transpose() * &h).iter().copied().collect(),
        last_q,
        saturated: saturated as f64 / units as f64,
    }
}

/// One replicate: fresh inputs N(0, I) and fresh Xavier weights. Health: with BN the outputs
/// at a = 0.1 and 10 equal those at a = 1 (an exact property). Margin: the relative slack of
/// the tightest of the three inequalities without BN — a = 10 saturates ≥ 60% of the units,
/// a = 1 < 5%, a = 0.1 leaves a last-layer mean square < 1e-6 — so it is positive iff all
/// three hold.
fn init_trial(arm: Option<InitArm>, ctx: &Ctx) -> Trial {
    let mut rng = ctx.rng();
    let x = DMatrix::from_fn(INIT_WIDTHS[0], INIT_BATCH, |_, _| normal(&mut rng));
    let net = Mlp::<f64>::new(&mut rng, &INIT_WIDTHS, 1.0, Norm::Plain);
    let (weights, readout) = (net.weights(), net.readout());
    let mut f = Findings::default();
    let base = initial(&weights, readout, &x, 1.0, Some(arm));
    let mut worst = 0.0f64;
    let mut cases = 0u64;
    for a in [0.1, 10.0] {
        let other = initial(&weights, readout, &x, a, Some(arm));
        for (p, q) in other.output.iter().zip(&base.output) {
            worst = worst.max(identity_error(*p, *q));
            cases += 1;
        }
    }
    f.bound(
        Label::from("with BN (ε = 0): outputs at a = 0.1 and 10 = outputs at a = 1").markdown(
            r"with BN ($\varepsilon = 0$): outputs at $a = 0.1$ and $10$ = outputs at $a = 1$",
        ),
        worst,
        IDENTITY_TOL,
        cases,
        "BN(a·z) = BN(z) exactly; a·W rounds once per weight and 8 layers of sums of 64 terms \
         add a few ε each",
    );
    let plain = |a| initial(&weights, readout, &x, a, None);
    let (big, one, small) = (plain(10.0), plain(1.0), plain(0.1));
    let slack = [
        big.saturated / 0.6 - 1.0,
        1.0 - one.saturated / 0.05,
        1.0 - small.last_q / 1e-6,
    ];
    Trial::new(slack.into_iter().fold(f64::INFINITY, f64::min), f)
}

/// The design of EXP-BN-INIT.
///
/// Planning rate, measured (2000 replicates on the runner's planning stream, `cargo run
/// --release -- --claim EXP-BN-INIT --budget ci --planning 2000`): 2000 wins, margins 0.28 to 0.31 (the a = 10 saturation, 77–79%, is the tightest).
/// With no loss in 2000 the one-sided 99.9% upper confidence bound on the loss rate is
/// ln(1000)/2000 = 0.0035: we plan with 0.996.
///
/// Decision error at 0.996, sign test at α = 1e-6: with 40 replicates (CI) "supported" needs
/// ≥ 35 wins, and P(Bin(40, 0.004) ≥ 6 losses) = 1.4e-8; with 64 (full) ≥ 51 wins, and
/// P(Bin(64, 0.004) ≥ 14) < 1e-16. Both ≤ 1e-6.
const INIT_DESIGN: Design = Design {
    inequality: "without BN: ≥ 60% saturated at a = 10, < 5% at a = 1, last-layer mean square \
                 < 1e-6 at a = 0.1 (margin: the tightest relative slack)",
    ci: 40,
    full: 64,
    alpha: 1e-6,
    planning_rate: 0.996,
};

pub(super) fn exp_bn_init() -> Claim {
    Claim::experiment(
        "EXP-BN-INIT",
        ROOM,
        "experiment → BN-ROLE-INIT",
        "8-layer tanh MLP of width 64 with Xavier weights times a ∈ {0.1, 1, 10}, fresh inputs and \
         weights per replicate: with BN (ε = 0) the initial outputs are identical for every a; \
         without BN, a = 10 saturates (≥ 60% of units with |O| > 0.99, against < 5% at a = 1) \
         and a = 0.1 collapses the variance (< 1e-6 at the last layer)",
        INIT_DESIGN,
        &[(
            InitArm::CentreOnly,
            Control::broken("a BN that centres but does not scale (caught by the identity check)"),
        )],
        init_trial,
    )
    .typeset(r"8-layer tanh MLP of width 64 with Xavier weights times $a \in \{0.1, 1, 10\}$, fresh inputs and weights per replicate: with BN ($\varepsilon = 0$) the initial outputs are identical for every $a$; without BN, $a = 10$ saturates ($\ge 60\%$ of units with $\lvert O \rvert > 0.99$, against $< 5\%$ at $a = 1$) and $a = 0.1$ collapses the variance ($< 10^{-6}$ at the last layer)")
}

// ANCHOR_END: exp_bn_init

/// The training curves of the BN-ROLE-INIT report: log10 training loss against the step, for
/// weights a × Xavier, a ∈ {0.1, 1, 10}, with and without BN (EXP-BN-LR's network and task,
/// step size 0.05).
pub(super) fn init_curves(ctx: &Ctx) -> LinePlot {
    let mut rng = ctx.rng();
    let task = task(&mut rng, &LR_SETUP);
    let init_seed: u64 = rng.random();
    let mut series = Vec::new();
    for norm in [Norm::Batch, Norm::Plain] {
        for a in [0.1f32, 1.0, 10.0] {
            let mut init = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(init_seed);
            let mut net = Mlp::<f32>::new(&mut init, LR_SETUP.widths, a, norm);
            let mut curve = Vec::new();
            train(&task, &mut net, 0.05, Some(&mut curve));
            let name = format!(
                "{} BN, a = {a}",
                if norm == Norm::Batch {
                    "with"
                } else {
                    "without"
                }
            );
            series.push(Series {
                name,
                points: curve,
            });
        }
    }
    LinePlot {
        file_stem: "batch_norm-init-curves".into(),
        title: "Training loss with weights a × Xavier, step size 0.05".into(),
        x_label: "SGD step".into(),
        y_label: "log10 training loss".into(),
        series,
    }
}

// ---------------------------------------------------------------- BN-CTX
// ANCHOR: bn_ctx

#[derive(Clone, Copy)]
enum CtxBug {
    XavierMatchesRelu,
}

/// The initialisation the code under test calls matched to ReLU: ours is
/// `Init::recommended(Relu)` (He, Var(W) = 2/fan_in); the post's pairing is Xavier's eq. (23).
fn matched_relu_init(bug: Option<CtxBug>) -> Init {
    match bug {
        None => Init::recommended(Activation::Relu),
        Some(CtxBug::XavierMatchesRelu) => Init::XavierUniform { gain: 1.0 },
    }
}

/// Width, depth and batch of BN-CTX's ReLU networks.
const CTX_WIDTH: usize = 512;
const CTX_DEPTH: usize = 10;
const CTX_BATCH: usize = 128;

/// The pre-activations' second moment q_l = mean(z_l²) at every layer of a ReLU network of
/// width 512 and depth 10 with weights from `init` (our initialiser kernels and ReLU kernel),
/// inputs N(0, I).
fn relu_profile(init: Init, rng: &mut impl Rng) -> Vec<f64> {
    let mut h = DMatrix::from_fn(CTX_WIDTH, CTX_BATCH, |_, _| normal(rng) as f32);
    let mut q = Vec::with_capacity(CTX_DEPTH);
    for _ in 0..CTX_DEPTH {
        let w = init
            .matrix(CTX_WIDTH, CTX_WIDTH, rng)
            .expect("valid fans and parameters");
        h = w.transpose() * &h;
        q.push(h.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / h.len() as f64);
        Activation::Relu.forward_in_place(h.as_mut_slice());
    }
    q
}

pub(super) fn bn_ctx() -> Claim {
    Claim::checked(
        "BN-CTX",
        ROOM,
        "§Batch Normalization",
        "the initialisation matched to ReLU is He's Var(W) = 2/fan_in: E[relu(z)²] = E[z²]/2, so \
         Xavier's 1/fan_in halves the second moment per ReLU layer (2^{−9} after 10 layers of equal \
         width) while He keeps it",
        PostVerdict::Imprecise,
        &[(
            CtxBug::XavierMatchesRelu,
            Planted::post("Xavier treated as matched to ReLU (the post's ReLU + Xavier pairing)")
                .by("matched to ReLU"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut f = Findings::default();
            // 1. E[relu(z)²] = E[z²]/2 through our ReLU kernel: for z ~ N(0, 1),
            //    Var(relu(z)²) = E[z⁴]/2 − 1/4 = 5/4, so with n = 1e5 draws the SE is 0.0035.
            //    The planted variant changes the initialiser, not ReLU: no power is claimed
            //    against it here.
            let n = ctx.size(100_000, 1_000_000);
            let mut z: Vec<f32> = (0..n).map(|_| normal(&mut rng) as f32).collect();
            Activation::Relu.forward_in_place(&mut z);
            let mean = z.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / n as f64;
            let se = (1.25 / n as f64).sqrt();
            match z_test(mean, 0.5, se, n as u64) {
                Ok(o) => f.test(
                    Label::from(format!(
                        "E[relu(z)²] = E[z²]/2 = 1/2 for z ~ N(0, 1), our ReLU kernel, {n} draws"
                    ))
                    .markdown(format!(
                        r"$\mathbb{{E}}[\mathrm{{relu}}(z)^2] = \mathbb{{E}}[z^2]/2 = 1/2$ for $z \sim N(0, 1)$, our ReLU kernel, {n} draws"
                    )),
                    o,
                    ALPHA,
                    match bug {
                        Some(_) => Power::new(
                            ALPHA,
                            "this variant changes the initialiser, not ReLU: no shift, power α",
                        ),
                        None => Power::none(),
                    },
                ),
                Err(err) => f.bound(
                    format!("z-test refused: {err}"),
                    f64::NAN,
                    0.0,
                    0,
                    "invalid test",
                ),
            }
            // 2. Ten ReLU layers of width 512 (our initialisers and kernels), inputs N(0, I):
            //    q_10 against q_1·(J·Var(W)/2)⁹ (He's halving per layer). Finite width makes
            //    ln q_l fluctuate with variance ≈ 5l/J (Hanin & Nica 2019), an SD of at most
            //    0.45 in log2 here: a factor 8 is 6.7 SD (a chance below 1e-10), and a wrong
            //    gain of 1 instead of ½ is off by 2⁹.
            let mut profiles: Vec<(Init, Vec<f64>)> = Vec::new();
            let mut profile = |init: Init, rng: &mut rand_chacha::ChaCha8Rng| {
                if let Some((_, p)) = profiles.iter().find(|(i, _)| *i == init) {
                    return p.clone();
                }
                let p = relu_profile(init, rng);
                profiles.push((init, p.clone()));
                p
            };
            let fans = Fans::new(CTX_WIDTH, CTX_WIDTH).expect("positive fans");
            let why = "a factor 8: 6.7 SD of the finite-width fluctuation of log2 q_l \
                       (SD ≈ √(5L/J)/ln 2 ≤ 0.45)";
            let matched = matched_relu_init(bug);
            let q = profile(matched, &mut rng);
            f.bound(
                {
                    let (first, last) = (q[0], q[CTX_DEPTH - 1]);
                    Label::from(format!(
                        "the initialisation matched to ReLU ({matched:?}) keeps the second moment: \
                         |log2(q_10/q_1)|, q_1 = {first:.3e}, q_10 = {last:.3e}"
                    ))
                    .markdown(format!(
                        r"the initialisation matched to ReLU (`{matched:?}`) keeps the second moment: $\lvert \log_2(q_{{10}}/q_1) \rvert$, $q_1 = {}$, $q_{{10}} = {}$",
                        crate::report::book::num(first, 3),
                        crate::report::book::num(last, 3)
                    ))
                },
                (q[CTX_DEPTH - 1] / q[0]).log2().abs(),
                3.0,
                (CTX_WIDTH * CTX_BATCH) as u64,
                why,
            );
            for (name, init) in [
                ("Xavier (eq. (23))", Init::XavierUniform { gain: 1.0 }),
                ("He", Init::HeNormal { slope: 0.0 }),
            ] {
                let q = profile(init, &mut rng);
                let var_w = init.variance(fans).unwrap_or(f64::NAN);
                let gain = CTX_WIDTH as f64 * var_w / 2.0;
                let predicted = q[0] * gain.powi(CTX_DEPTH as i32 - 1);
                f.bound(
                    {
                        let last = q[CTX_DEPTH - 1];
                        Label::from(format!(
                            "{name}: |log2(q_10 / (q_1·(J·Var(W)/2)⁹))|, q_10 = {last:.3e}, predicted \
                             {predicted:.3e}"
                        ))
                        .markdown(format!(
                            r"{name}: $\lvert \log_2(q_{{10}} / (q_1 (J\, \mathrm{{Var}}(W)/2)^9)) \rvert$, $q_{{10}} = {}$, predicted ${}$",
                            crate::report::book::num(last, 3),
                            crate::report::book::num(predicted, 3)
                        ))
                    },
                    (q[CTX_DEPTH - 1] / predicted).log2().abs(),
                    3.0,
                    (CTX_WIDTH * CTX_BATCH) as u64,
                    why,
                );
            }
            f
        },
    )
    .typeset(r"the initialisation matched to ReLU is He's $\mathrm{Var}(W) = 2/\text{fan}_{\text{in}}$: $\mathbb{E}[\mathrm{relu}(z)^2] = \mathbb{E}[z^2]/2$, so Xavier's $1/\text{fan}_{\text{in}}$ halves the second moment per ReLU layer ($2^{-9}$ after 10 layers of equal width) while He keeps it")
}

// ANCHOR_END: bn_ctx

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Budget;

    #[test]
    fn designs_meet_the_error_budget() {
        for (name, d) in [("EXP-BN-LR", LR_DESIGN), ("EXP-BN-INIT", INIT_DESIGN)] {
            for b in [Budget::Ci, Budget::Full] {
                let e = d.error(b, crate::claims::Decided::Supported);
                assert!(e <= 1e-6, "{name} at {b:?}: decision error {e:e}");
            }
        }
    }
}
