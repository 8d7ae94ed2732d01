//! EXP-DROP-OVERFIT (does dropout lower the test loss on a small noisy task?) and
//! EXP-DROP-WSI (is the weight-scaled network nearer the geometric or the arithmetic mean of
//! its sub-networks?), on the f32 [`DropoutNetwork`], each decided over independent
//! replicates by a sign test (conventions appendix, Experiments).
//!
//! One replicate (its own seed: fresh data, fresh initial weights, fresh masks):
//! - data: two noisy concentric circles, radius 0.5 (class 0) and 1 (class 1), angle
//!   uniform, Gaussian noise σ = 0.1 per coordinate, 20% of labels flipped; [`SETUP`] gives
//!   the training and test sizes, drawn independently (the test set shares no point with the
//!   training set, and a health check says so on every replicate);
//! - network 2-H-H-1, tanh hidden layers, a logit output, cross-entropy; Xavier-uniform
//!   weights, zero biases; the same initial weights in both arms;
//! - full-batch gradient descent on the mean loss, without dropout and with inverted dropout
//!   of keep probability p = 0.5 on both hidden layers.
//!
//! The sizes were first a 2-64-64-1 network, 100 training points and 3000 steps, decided on
//! 10 seeds (3 at the CI budget); one replicate of that cost about 0.5 s. Replicated about
//! 100 times, the experiment must be far cheaper per replicate, so [`SETUP`] was shrunk for
//! cost — from the measured time per training step, before any replicate's margin was
//! looked at — keeping a network much larger than the training set, which the undropped
//! network then fits noise and all. The first shrunken setup (learning rate 1.0, 400 steps)
//! was replaced because its trainer was unstable (over 2000 replicates one no-dropout run
//! ended above its initial loss, which a health check must reject); the original learning
//! rate 0.5 with 600 steps is stable. Its margins had been seen: that setup won 1957 of
//! 2000 replicates (0.979), the one kept wins 1888 of 2000 (0.944), so the change did not
//! favour the claim. The planning rates and the replicate counts follow from the
//! measurements on the setup kept (see the designs; `--planning N` in the runner repeats
//! them).

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ROOM, dropout};
use crate::activation::Activation;
use crate::backprop::{Dense, Network};
use crate::claims::{Claim, Control, Ctx, Design, Findings, Label, Tally, Trial};
use crate::dropout::{DropoutNetwork, Loss, MaskStream, Scaling};
use crate::stats::standard_normal as normal;
use derivations::dropout as spec;

/// The sizes of one replicate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setup {
    pub n_train: usize,
    pub n_test: usize,
    pub hidden: usize,
    pub steps: u64,
    pub learning_rate: f32,
}

/// The setup both experiments use (see the module docs for how it was chosen).
pub(crate) const SETUP: Setup = Setup {
    n_train: 40,
    n_test: 1000,
    hidden: 16,
    steps: 600,
    learning_rate: 0.5,
};

/// Keep probability of the dropout arm.
const P: f32 = 0.5;

/// One data set: inputs 2 × n, labels 1 × n in {0, 1}.
struct Data {
    x: DMatrix<f32>,
    y: DMatrix<f32>,
}

// ANCHOR: circles
/// Two noisy concentric circles with 20% label noise.
fn circles(rng: &mut impl Rng, n: usize) -> Data {
    let mut x = DMatrix::zeros(2, n);
    let mut y = DMatrix::zeros(1, n);
    for i in 0..n {
        let class: bool = rng.random();
        let radius = if class { 1.0 } else { 0.5 };
        let angle = rng.random::<f64>() * std::f64::consts::TAU;
        x[(0, i)] = (radius * angle.cos() + 0.1 * normal(rng)) as f32;
        x[(1, i)] = (radius * angle.sin() + 0.1 * normal(rng)) as f32;
        let flipped = rng.random::<f64>() < 0.2;
        y[(0, i)] = if class != flipped { 1.0 } else { 0.0 };
    }
    Data { x, y }
}
// ANCHOR_END: circles

/// 2-H-H-1 with Xavier-uniform weights (a = √(6/(fan_in + fan_out))) and zero biases, with
/// inverted dropout of keep probability `p` on both hidden layers (none for `None`).
fn network(init: &[DMatrix<f32>], p: Option<f32>) -> DropoutNetwork {
    let layers = init
        .iter()
        .enumerate()
        .map(|(l, w)| Dense {
            weights: w.clone(),
            bias: DVector::zeros(w.ncols()),
            activation: if l < 2 {
                Activation::Tanh
            } else {
                Activation::Identity
            },
        })
        .collect();
    let d = p.map(|p| dropout(p, Scaling::Inverted));
    DropoutNetwork::new(layers, vec![d, d, None]).expect("matching shapes")
}

/// Xavier-uniform initial weights of a 2-H-H-1 network.
fn initial_weights(rng: &mut impl Rng, hidden: usize) -> Vec<DMatrix<f32>> {
    [2, hidden, hidden, 1]
        .windows(2)
        .map(|w| {
            let a = (6.0 / (w[0] + w[1]) as f64).sqrt();
            DMatrix::from_fn(w[0], w[1], |_, _| rng.random_range(-a..a) as f32)
        })
        .collect()
}

// ANCHOR: train
/// Full-batch gradient descent on the mean cross-entropy (the network sums, so the step on
/// the sum is α/N), with fresh masks every step from `mask_seed`.
fn train(net: &mut DropoutNetwork, data: &Data, setup: &Setup, rate: f32, mask_seed: u64) {
    let mut ws = net.workspace(data.x.ncols());
    let step = rate / data.x.ncols() as f32;
    for t in 0..setup.steps {
        net.backward(
            &data.x,
            &data.y,
            Loss::Logistic,
            MaskStream::new(mask_seed, t),
            &mut ws,
        )
        .expect("matching shapes");
        net.sgd_step(step, &ws);
    }
}
// ANCHOR_END: train

/// Mean cross-entropy of a prediction network's logits.
fn log_loss(net: &Network, data: &Data) -> f64 {
    let mut ws = net.workspace(data.x.ncols());
    let z = net.forward(&data.x, &mut ws).expect("matching shapes");
    let total: f64 = z
        .iter()
        .zip(data.y.iter())
        .map(|(&z, &y)| {
            let (z, y) = (f64::from(z), f64::from(y));
            z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
        })
        .sum();
    total / data.x.ncols() as f64
}

/// One replicate's data, initial weights and mask seed, from its own seed.
struct Replicate {
    train: Data,
    test: Data,
    init: Vec<DMatrix<f32>>,
    mask_seed: u64,
}

impl Replicate {
    fn draw(ctx: &Ctx, setup: &Setup) -> Self {
        let mut rng = ctx.rng();
        let train = circles(&mut rng, setup.n_train);
        let test = circles(&mut rng, setup.n_test);
        let init = initial_weights(&mut rng, setup.hidden);
        Self {
            train,
            test,
            init,
            mask_seed: rng.random(),
        }
    }
}

/// One trained arm: its network and its mean log-loss on the training set before and after
/// training (of the prediction network), and on the scored set.
struct Arm {
    net: DropoutNetwork,
    initial: f64,
    trained: f64,
    scored: f64,
    /// ‖W − W₀‖/‖W₀‖ over all weights (Frobenius): how far training moved them.
    moved: f64,
}

fn run_arm(r: &Replicate, setup: &Setup, p: Option<f32>, rate: f32, scored: &Data) -> Arm {
    let mut net = network(&r.init, p);
    let initial = log_loss(&net.prediction_network(), &r.train);
    train(&mut net, &r.train, setup, rate, r.mask_seed);
    let predict = net.prediction_network();
    let (mut change, mut size) = (0.0f64, 0.0f64);
    for (layer, w0) in net.layers().iter().zip(&r.init) {
        for (a, b) in layer.weights.iter().zip(w0.iter()) {
            change += f64::from(a - b).powi(2);
            size += f64::from(*b).powi(2);
        }
    }
    Arm {
        initial,
        trained: log_loss(&predict, &r.train),
        scored: log_loss(&predict, scored),
        moved: (change / size).sqrt(),
        net,
    }
}

/// The points of `scored` that are also points of `train` (as f32 bit patterns): must be
/// none, or the "test" loss measures memorisation.
fn overlap(scored: &Data, train: &Data) -> Tally {
    let key = |d: &Data, i: usize| (d.x[(0, i)].to_bits(), d.x[(1, i)].to_bits());
    let seen: std::collections::HashSet<_> = (0..train.x.ncols()).map(|i| key(train, i)).collect();
    let mut t = Tally::default();
    for i in 0..scored.x.ncols() {
        t.check(!seen.contains(&key(scored, i)), || {
            format!("scored point {i} is a training point")
        });
    }
    t
}

/// The no-dropout trainer trained when its training loss fell to at most this fraction of its
/// initial value (about ln 2 at a Xavier start with zero biases); an untrained network stays
/// at 1 and a wrong-signed one rises. Measured over 2000 replicates (see `planning`): median
/// 0.351, 99.9% below 0.825, the largest 0.838.
const TRAINED: f64 = 0.98;

/// The dropout trainer moved its weights by at least this fraction (Frobenius norm); an
/// untrained one moves them by 0. (Its training loss is no health signal: with p = 0.5 on 16
/// units the prediction network's training loss may stay near ln 2 in a replicate where
/// dropout keeps it from fitting the circles at all, and may even rise.) Measured over 2000
/// replicates (see `planning`): median 0.81, the smallest 0.31.
const MOVED: f64 = 0.01;

/// Health of one arm: finite losses, and the trainer trained (see [`TRAINED`], [`MOVED`]).
fn arm_health(f: &mut Findings, name: &str, a: &Arm, dropout: bool) {
    let mut finite = Tally::default();
    for (what, v) in [
        ("initial", a.initial),
        ("trained", a.trained),
        ("scored", a.scored),
    ] {
        finite.check(v.is_finite(), || format!("{what} loss {v}"));
    }
    f.tally(format!("{name}: every loss finite"), finite);
    if dropout {
        f.experiment(
            Label::from(format!(
                "{name}: the trainer moved the weights (−‖W − W₀‖/‖W₀‖ = −{:.4} below −{MOVED})",
                a.moved
            ))
            .markdown(format!(
                r"{name}: the trainer moved the weights ($-\lVert W - W_0 \rVert / \lVert W_0 \rVert = -{:.4}$ below $-{MOVED}$)",
                a.moved
            )),
            -a.moved,
            -MOVED,
            "an untrained network does not move",
        );
    } else {
        f.bound(
            format!(
                "{name}: trained (training loss / initial = {:.4} / {:.4})",
                a.trained, a.initial
            ),
            a.trained / a.initial,
            TRAINED,
            1,
            "the trainer must have trained: the no-dropout arm ends well below its initial \
             loss in every measured replicate; an untrained one stays at 1",
        );
    }
}

// ---------------------------------------------------------------- EXP-DROP-OVERFIT
// ANCHOR: exp_drop_overfit

#[derive(Clone, Copy)]
enum OverfitArm {
    ScoredOnTrainingSet,
    NotTrained,
}

/// The sign test's design. Measured over 2000 replicates when the setup was chosen: dropout
/// lowered the test log-loss in 1888 (0.944; margins from −0.136 to 2.58, median 0.279), so the
/// planning rate is 0.925, below the one-sided 99.9% lower confidence bound 0.928
/// (0.944 − 3.09·√(0.944·0.056/2000)). At α = 1e-6, 96 replicates need 72 wins
/// (P(Bin(96, ½) ≥ 72) ≤ 1e-6), and at rate 0.925 fewer than 72 occur with probability
/// 2.9e-8; 84 replicates would be the least with an error below 1e-6 (7.4e-7). The same
/// count at both budgets: fewer cannot decide at this rate. Cost: about 9 ms CPU per
/// replicate (two trainings of 600 steps), so about 0.9 s per run at either budget.
/// Re-measured on the runner's planning stream (`cargo run --release -- --claim
/// EXP-DROP-OVERFIT --budget ci --planning 2000`): 1896 of 2000, one-sided 95 % lower bound
/// 0.939 ≥ 0.925; again after the masks' generator changed to 16-bit halves (other masks,
/// the same law): 1888 of 2000, lower bound 0.935.
const OVERFIT: Design = Design {
    inequality: "test log-loss without dropout − with dropout > 0",
    ci: 96,
    full: 96,
    alpha: 1e-6,
    planning_rate: 0.925,
};

pub(super) fn exp_drop_overfit() -> Claim {
    Claim::experiment(
        "EXP-DROP-OVERFIT",
        ROOM,
        "experiment → DROP-OVERFIT",
        "on two noisy circles (40 training points, 20% label noise), a 2-16-16-1 tanh network \
         trained by full-batch GD (600 steps, rate 0.5) has a lower test log-loss (1000 fresh \
         test points) with inverted dropout (keep p = 0.5) than without: decided by a sign test \
         over independent replicates (fresh data, initial weights and masks each)",
        OVERFIT,
        &[
            (
                OverfitArm::ScoredOnTrainingSet,
                Control::broken("the \"test\" loss scored on the training set"),
            ),
            (
                OverfitArm::NotTrained,
                Control::broken("a trainer that does not train (learning rate 0)"),
            ),
        ],
        |arm, ctx| overfit_replicate(arm, ctx, &SETUP),
    )
    .typeset(r"on two noisy circles (40 training points, 20% label noise), a 2-16-16-1 tanh network trained by full-batch GD (600 steps, rate $0.5$) has a lower test log-loss (1000 fresh test points) with inverted dropout (keep $p = 0.5$) than without: decided by a sign test over independent replicates (fresh data, initial weights and masks each)")
}

/// One replicate: margin = test log-loss without dropout − with dropout.
fn overfit_replicate(arm: Option<OverfitArm>, ctx: &Ctx, setup: &Setup) -> Trial {
    let r = Replicate::draw(ctx, setup);
    let rate = match arm {
        Some(OverfitArm::NotTrained) => 0.0,
        _ => setup.learning_rate,
    };
    let scored = match arm {
        Some(OverfitArm::ScoredOnTrainingSet) => &r.train,
        _ => &r.test,
    };
    let plain = run_arm(&r, setup, None, rate, scored);
    let dropped = run_arm(&r, setup, Some(P), rate, scored);
    let mut f = Findings::default();
    f.tally(
        "the scored set shares no point with the training set",
        overlap(scored, &r.train),
    );
    arm_health(&mut f, "no dropout", &plain, false);
    arm_health(&mut f, "dropout p = 0.5", &dropped, true);
    Trial::new(plain.scored - dropped.scored, f)
}

// ANCHOR_END: exp_drop_overfit
// ---------------------------------------------------------------- EXP-DROP-WSI
// ANCHOR: exp_drop_wsi

#[derive(Clone, Copy)]
enum WsiArm {
    Unnormalised,
    NotTrained,
}

/// Inputs and masks of one replicate's Monte Carlo.
const WSI_INPUTS: usize = 64;
const WSI_MASKS: u64 = 500;

/// The sign test's design. Measured over 2000 replicates when the setup was chosen: the
/// weight-scaled output was nearer the NWGM in 1864 (0.932; margins from −0.0041 to 0.070, median
/// 0.0078), so the planning rate is 0.91, below the one-sided 99.9% lower confidence bound
/// 0.915. At α = 1e-6, 100 replicates need 74 wins, and at rate 0.91 fewer occur with
/// probability 1.5e-7 (96 replicates would give 9.1e-7). The same count at both budgets.
/// Re-measured on the runner's planning stream (`cargo run --release -- --claim EXP-DROP-WSI
/// --budget ci --planning 2000`): 1875 of 2000, one-sided 95 % lower bound 0.928 ≥ 0.91;
/// again after the masks' generator changed to 16-bit halves: 1876 of 2000, lower bound 0.928.
const WSI: Design = Design {
    inequality: "mean |weight-scaled − arithmetic mean| − mean |weight-scaled − NWGM| > 0",
    ci: 100,
    full: 100,
    alpha: 1e-6,
    planning_rate: 0.91,
};

pub(super) fn exp_drop_wsi() -> Claim {
    Claim::experiment(
        "EXP-DROP-WSI",
        ROOM,
        "experiment → DROP-EXPECT",
        "for a network trained with dropout as in EXP-DROP-OVERFIT (p = 0.5), the weight-scaled \
         output is nearer the normalised geometric mean G/(G + G') of 500 sampled sub-networks \
         than their arithmetic mean, on average over 64 fresh inputs: decided by a sign test \
         over independent replicates; each replicate also checks that the NWGM it computes is \
         exact for a single sigmoid layer (all 2^10 masks)",
        WSI,
        &[
            (
                WsiArm::Unnormalised,
                Control::broken("the geometric mean G without the normalisation G/(G + G')"),
            ),
            (
                WsiArm::NotTrained,
                Control::broken("a trainer that does not train (learning rate 0)"),
            ),
        ],
        |arm, ctx| wsi_replicate(arm, ctx, &SETUP),
    )
    .typeset(r"for a network trained with dropout as in EXP-DROP-OVERFIT ($p = 0.5$), the weight-scaled output is nearer the normalised geometric mean $G/(G + G')$ of 500 sampled sub-networks than their arithmetic mean, on average over 64 fresh inputs: decided by a sign test over independent replicates; each replicate also checks that the NWGM it computes is exact for a single sigmoid layer (all $2^{10}$ masks)")
}

/// G/(G + G') from ln G and ln G', or G alone for the broken control.
fn geometric(arm: Option<WsiArm>, ln_g: f64, ln_g1: f64) -> f64 {
    match arm {
        Some(WsiArm::Unnormalised) => ln_g.exp(),
        _ => 1.0 / (1.0 + (ln_g1 - ln_g).exp()),
    }
}

/// The Monte Carlo comparison on a trained dropout network: (mean |ws − NWGM|, mean |ws −
/// AM|) over `inputs` columns of `x`, `masks` sampled sub-networks.
fn wsi_gaps(arm: Option<WsiArm>, net: &DropoutNetwork, x: &DMatrix<f32>, seed: u64) -> (f64, f64) {
    let inputs = x.ncols();
    // Weight-scaled output: the prediction network (inverted dropout: weights as they are).
    let predict = net.prediction_network();
    let mut pws = predict.workspace(inputs);
    let ws_out: Vec<f64> = predict
        .forward(x, &mut pws)
        .expect("matching shapes")
        .iter()
        .map(|&z| sigmoid(f64::from(z)))
        .collect();
    // Monte Carlo over sub-networks: the arithmetic mean of σ(z), and in logarithms
    // ln G = mean ln σ(z), ln G' = mean ln(1 − σ(z)).
    let (mut am, mut ln_g, mut ln_g1) = (vec![0.0; inputs], vec![0.0; inputs], vec![0.0; inputs]);
    let mut dws = net.workspace(inputs);
    let m = WSI_MASKS as f64;
    for t in 0..WSI_MASKS {
        let z = net
            .forward_train(x, MaskStream::new(seed, t), &mut dws)
            .expect("matching shapes");
        for (i, &zi) in z.iter().enumerate() {
            let zi = f64::from(zi);
            // ln σ(z) and ln σ(−z) share ln(1 + e^{−|z|}): computed once, the same bits as
            // two calls of `ln_sigmoid`.
            let shared = softplus_tail(zi);
            am[i] += sigmoid(zi) / m;
            ln_g[i] += -(shared + (-zi).max(0.0)) / m;
            ln_g1[i] += -(shared + zi.max(0.0)) / m;
        }
    }
    let nwgm: Vec<f64> = ln_g
        .iter()
        .zip(&ln_g1)
        .map(|(&g, &g1)| geometric(arm, g, g1))
        .collect();
    (mean_gap(&ws_out, &nwgm), mean_gap(&ws_out, &am))
}

/// One replicate: margin = mean |ws − AM| − mean |ws − NWGM|.
fn wsi_replicate(arm: Option<WsiArm>, ctx: &Ctx, setup: &Setup) -> Trial {
    let r = Replicate::draw(ctx, setup);
    let rate = match arm {
        Some(WsiArm::NotTrained) => 0.0,
        _ => setup.learning_rate,
    };
    let trained = run_arm(&r, setup, Some(P), rate, &r.test);
    let x = r.test.x.columns(0, WSI_INPUTS).into_owned();
    let (to_geo, to_arith) = wsi_gaps(arm, &trained.net, &x, r.mask_seed ^ 0x5751);
    let mut f = Findings::default();
    single_layer(&mut f, ctx, arm);
    arm_health(&mut f, "dropout p = 0.5", &trained, true);
    let mut finite = Tally::default();
    finite.check(to_geo.is_finite() && to_arith.is_finite(), || {
        format!("gaps {to_geo}, {to_arith}")
    });
    f.tally(
        Label::from(format!(
            "Monte Carlo gaps finite: mean |ws − NWGM| = {to_geo:.4e}, mean |ws − AM| = \
             {to_arith:.4e}"
        ))
        .markdown(format!(
            r"Monte Carlo gaps finite: mean $\lvert \text{{ws}} - \text{{NWGM}} \rvert = {}$, mean $\lvert \text{{ws}} - \text{{AM}} \rvert = {}$",
            crate::report::book::num(to_geo, 4),
            crate::report::book::num(to_arith, 4)
        )),
        finite,
    );
    Trial::new(to_arith - to_geo, f)
}

/// The exact case, as a health check of the NWGM computed here (EXT-DROP-NWGM checks it as a
/// claim): one sigmoid unit with dropout (p = 0.5) on 10 inputs, all 2^10 masks:
/// σ(E_r z_r) = G/(G + G').
fn single_layer(f: &mut Findings, ctx: &Ctx, arm: Option<WsiArm>) {
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x51C1);
    let p = 0.5;
    let mut pairs = Vec::new();
    for _ in 0..5 {
        let w: Vec<f64> = (0..10).map(|_| rng.random_range(-1.0..1.0)).collect();
        let x: Vec<f64> = (0..10).map(|_| rng.random_range(-2.0..2.0)).collect();
        let b = rng.random_range(-1.0..1.0);
        let z = |r: &[bool]| -> f64 {
            w.iter()
                .zip(&x)
                .zip(r)
                .map(|((wj, xj), &rj)| spec::r_value(rj) * wj * xj)
                .sum::<f64>()
                + b
        };
        let ln_g = spec::expectation_over_masks(10, p, |r| ln_sigmoid(z(r)));
        let ln_g1 = spec::expectation_over_masks(10, p, |r| ln_sigmoid(-z(r)));
        pairs.push((
            spec::weight_scaled_sigmoid(&w, &x, b, p),
            geometric(arm, ln_g, ln_g1),
        ));
    }
    let (worst, n) = super::worst_gap(pairs);
    f.bound(
        Label::from("single sigmoid layer, all 2^10 masks: σ(E_r z_r) = G/(G + G')").markdown(
            r"single sigmoid layer, all $2^{10}$ masks: $\sigma(\mathbb{E}_r z_r) = G/(G + G')$",
        ),
        worst,
        1e-10,
        n,
        super::LONG_SUM_WHY,
    );
}

fn mean_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// ln σ(z) = −ln(1 + e^{−z}), finite for every z.
fn ln_sigmoid(z: f64) -> f64 {
    -(softplus_tail(z) + (-z).max(0.0))
}

/// ln(1 + e^{−|z|}): what ln σ(z) and ln σ(−z) add to max(∓z, 0).
fn softplus_tail(z: f64) -> f64 {
    (-z.abs()).exp().ln_1p()
}

// ANCHOR_END: exp_drop_wsi
