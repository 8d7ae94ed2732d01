//! EXP-DROP-OVERFIT (does dropout lower the test loss on a small noisy task?) and
//! EXP-DROP-WSI (is the weight-scaled network nearer the geometric or the arithmetic mean of
//! its sub-networks?), on the f32 [`DropoutNetwork`].
//!
//! Setup (CLAIMS.md §12), fixed before the first run and not tuned afterwards:
//! - data: two noisy concentric circles, radius 0.5 (class 0) and 1 (class 1), angle
//!   uniform, Gaussian noise σ = 0.1 per coordinate, 20% of labels flipped; 100 training and
//!   5000 test points per seed;
//! - network 2-64-64-1, tanh hidden layers, a logit output, cross-entropy; Xavier-uniform
//!   weights, zero biases;
//! - full-batch gradient descent, 3000 steps, learning rate 0.5 on the mean loss;
//! - arms: no dropout; inverted dropout on both hidden layers with keep p = 0.5 (asserted)
//!   and p = 0.8 (reported); the same data and initial weights in every arm;
//! - 10 seeds (CI budget: the first 3, the same runs).
//!
//! The first honest run (base seed 0) supported both expectations; the numbers are in the
//! book's table. Both experiments draw on the same trained networks, memoised per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ROOM, dropout};
use crate::activation::Activation;
use crate::backprop::{Dense, Network};
use crate::claims::{Claim, Ctx, Findings, Planted, PostVerdict};
use crate::dropout::{DropoutNetwork, Loss, MaskStream, Scaling};
use crate::stats::sign_test;
use derivations::dropout as spec;

const SEEDS: u64 = 10;
const N_TRAIN: usize = 100;
const N_TEST: usize = 5000;
const STEPS: u64 = 3000;
const LEARNING_RATE: f32 = 0.5;
const HIDDEN: usize = 64;

/// One data set: inputs 2 × n, labels 1 × n in {0, 1}.
struct Data {
    x: DMatrix<f32>,
    y: DMatrix<f32>,
}

/// A standard normal by Box–Muller.
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
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

/// 2-64-64-1 with Xavier-uniform weights (a = √(6/(fan_in + fan_out))) and zero biases, with
/// inverted dropout of keep probability `p` on both hidden layers (none for `None`).
fn network(rng: &mut impl Rng, p: Option<f32>) -> DropoutNetwork {
    let widths = [2, HIDDEN, HIDDEN, 1];
    let layers = widths
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let a = (6.0 / (w[0] + w[1]) as f64).sqrt();
            Dense {
                weights: DMatrix::from_fn(w[0], w[1], |_, _| rng.random_range(-a..a) as f32),
                bias: DVector::zeros(w[1]),
                activation: if l < 2 {
                    Activation::Tanh
                } else {
                    Activation::Identity
                },
            }
        })
        .collect();
    let d = p.map(|p| dropout(p, Scaling::Inverted));
    DropoutNetwork::new(layers, vec![d, d, None]).expect("matching shapes")
}

// ANCHOR: train
/// Full-batch gradient descent on the mean cross-entropy (the network sums, so the step on
/// the sum is α/N), with fresh masks every step from `mask_seed`.
fn train(net: &mut DropoutNetwork, data: &Data, mask_seed: u64) {
    let mut ws = net.workspace(data.x.ncols());
    let step = LEARNING_RATE / data.x.ncols() as f32;
    for t in 0..STEPS {
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

/// One trained arm: the network and its mean log-loss on the training and test sets.
struct Trained {
    net: DropoutNetwork,
    train_loss: f64,
    test_loss: f64,
}

/// Seed s's data: the training set and the test set.
fn data(ctx: &Ctx, s: u64) -> (Data, Data) {
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ (s << 32));
    (circles(&mut rng, N_TRAIN), circles(&mut rng, N_TEST))
}

/// The arms trained so far, by (claim seed, seed, keep probability): both experiments and
/// every planted variant use the same deterministic runs, so each is trained once per
/// process (the second caller waits for the first).
type Cache = Mutex<HashMap<(u64, u64, Option<u32>), Arc<OnceLock<Trained>>>>;
static TRAINED: OnceLock<Cache> = OnceLock::new();

/// Arm p (keep probability; `None` = no dropout) of seed s, trained on first use. Every arm
/// of a seed starts from the same weights and sees the same data.
fn trained(ctx: &Ctx, s: u64, p: Option<f32>) -> Arc<OnceLock<Trained>> {
    let key = (ctx.seed, s, p.map(f32::to_bits));
    let cell = {
        let mut map = TRAINED
            .get_or_init(Cache::default)
            .lock()
            .expect("no poisoned lock");
        Arc::clone(map.entry(key).or_default())
    };
    cell.get_or_init(|| {
        let (train_set, test) = data(ctx, s);
        let mut init = ChaCha8Rng::seed_from_u64(ctx.seed ^ (s << 32) ^ 0x1417);
        let mut net = network(&mut init, p);
        train(&mut net, &train_set, ctx.seed ^ (s << 32) ^ 0x3A5C);
        let predict = net.prediction_network();
        Trained {
            train_loss: log_loss(&predict, &train_set),
            test_loss: log_loss(&predict, &test),
            net,
        }
    });
    cell
}

// ---------------------------------------------------------------- EXP-DROP-OVERFIT
// ANCHOR: exp_drop_overfit

#[derive(Clone, Copy)]
enum OverfitBug {
    TrainSetScored,
    DropReading,
}

pub(super) fn exp_drop_overfit() -> Claim {
    Claim::checked(
        "EXP-DROP-OVERFIT",
        ROOM,
        "experiment → DROP-OVERFIT",
        "supported in this setting: on two noisy circles (100 training points, 20% label \
         noise), a 2-64-64-1 tanh network trained by full-batch GD for 3000 steps has lower \
         test log-loss with inverted dropout (keep p = 0.5) than without in ≥ 8 of 10 seeds \
         (CI budget: the first 3 of the same seeds, same threshold on the losses)",
        PostVerdict::Experiment,
        &[
            (
                OverfitBug::TrainSetScored,
                Planted::bug("the \"test\" loss scored on the training set"),
            ),
            (
                OverfitBug::DropReading,
                Planted::harmless(
                    "p read as the drop probability: at p = 0.5 the readings coincide",
                ),
            ),
        ],
        overfit_findings,
    )
}

/// The experiment's evidence: the asserted count of seeds not won, and the reported numbers.
fn overfit_findings(bug: Option<OverfitBug>, ctx: &Ctx) -> Findings {
    let seeds = ctx.size(3, SEEDS as usize) as u64;
    let keep = |p: f32| match bug {
        Some(OverfitBug::DropReading) => 1.0 - p,
        _ => p,
    };
    let scored = |t: &Trained| match bug {
        Some(OverfitBug::TrainSetScored) => t.train_loss,
        _ => t.test_loss,
    };
    let arm = |p: Option<f32>| -> Vec<(f64, f64)> {
        (0..seeds)
            .map(|s| {
                let cell = trained(ctx, s, p.map(keep));
                let t = cell.get().expect("trained");
                (scored(t), t.train_loss)
            })
            .collect()
    };
    let (none, half) = (arm(None), arm(Some(0.5)));
    let wins =
        |with: &[(f64, f64)]| with.iter().zip(&none).filter(|(d, n)| d.0 < n.0).count() as u64;
    let mean = |v: &[(f64, f64)], i: usize| {
        v.iter()
            .map(|x| if i == 0 { x.0 } else { x.1 })
            .sum::<f64>()
            / v.len() as f64
    };
    let gap = |v: &[(f64, f64)]| mean(v, 0) - mean(v, 1);
    let sign = |w: u64| sign_test(w, seeds).expect("wins ≤ seeds").p_value;
    let w5 = wins(&half);
    let per_seed = |v: &[(f64, f64)]| {
        v.iter()
            .map(|x| format!("{:.4}", x.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut f = Findings::default();
    f.experiment(
        format!(
            "seeds where dropout p = 0.5 did NOT lower the test log-loss: {} of {seeds} (wins \
             {w5}/{seeds}, one-sided sign-test p = {:.4}); mean test log-loss {:.4} with vs {:.4} \
             without; train–test gap {:.4} with vs {:.4} without",
            seeds - w5,
            sign(w5),
            mean(&half, 0),
            mean(&none, 0),
            gap(&half),
            gap(&none)
        ),
        (seeds - w5) as f64,
        3.0,
        format!(
            "per-seed test log-loss without: [{}]; with p = 0.5: [{}]",
            per_seed(&none),
            per_seed(&half)
        ),
    );
    if ctx.budget == crate::claims::Budget::Full {
        let eight = arm(Some(0.8));
        let w8 = wins(&eight);
        f.experiment(
            format!(
                "reported, not asserted: dropout p = 0.8 won {w8}/{seeds} (sign-test p = {:.4}); \
                 mean test log-loss {:.4}; train–test gap {:.4}",
                sign(w8),
                mean(&eight, 0),
                gap(&eight)
            ),
            0.0,
            f64::INFINITY,
            format!(
                "per-seed test log-loss with p = 0.8: [{}]",
                per_seed(&eight)
            ),
        );
    }
    f
}

// ANCHOR_END: exp_drop_overfit
// ---------------------------------------------------------------- EXP-DROP-WSI
// ANCHOR: exp_drop_wsi

#[derive(Clone, Copy)]
enum WsiBug {
    Unnormalised,
}

pub(super) fn exp_drop_wsi() -> Claim {
    Claim::checked(
        "EXP-DROP-WSI",
        ROOM,
        "experiment → DROP-EXPECT",
        "for a single sigmoid layer the weight-scaled output IS the normalised geometric mean \
         G/(G + G') (exact); supported in this setting: for the EXP-DROP-OVERFIT network (seed \
         0, p = 0.5), on 1000 test inputs (CI: 200) the weight-scaled output is nearer the \
         NWGM of 1000 sampled sub-networks than their arithmetic mean",
        PostVerdict::Experiment,
        &[(
            WsiBug::Unnormalised,
            Planted::bug("the geometric mean G without the normalisation G/(G + G')"),
        )],
        wsi_findings,
    )
}

/// G/(G + G') from ln G and ln G', or G alone for the planted bug.
fn geometric(bug: Option<WsiBug>, ln_g: f64, ln_g1: f64) -> f64 {
    match bug {
        None => 1.0 / (1.0 + (ln_g1 - ln_g).exp()),
        Some(WsiBug::Unnormalised) => ln_g.exp(),
    }
}

fn wsi_findings(bug: Option<WsiBug>, ctx: &Ctx) -> Findings {
    let mut f = Findings::default();
    single_layer(&mut f, ctx, bug);
    let cell = trained(ctx, 0, Some(0.5));
    let net = &cell.get().expect("trained").net;
    let inputs = ctx.size(200, 1000);
    let x = data(ctx, 0).1.x.columns(0, inputs).into_owned();
    let masks = 1000u64;
    // Weight-scaled output: the prediction network (inverted dropout: weights as they are).
    let predict = net.prediction_network();
    let mut pws = predict.workspace(inputs);
    let ws_out: Vec<f64> = predict
        .forward(&x, &mut pws)
        .expect("matching shapes")
        .iter()
        .map(|&z| sigmoid(f64::from(z)))
        .collect();
    // Monte Carlo over sub-networks: the arithmetic mean of σ(z), and in logarithms
    // ln G = mean ln σ(z), ln G' = mean ln(1 − σ(z)). Column i's masks do not depend on the
    // batch size (counter-based generator), so the CI budget's 200 inputs see exactly the
    // masks of the full budget's first 200.
    let (mut am, mut ln_g, mut ln_g1) = (vec![0.0; inputs], vec![0.0; inputs], vec![0.0; inputs]);
    let mut dws = net.workspace(inputs);
    let m = masks as f64;
    for t in 0..masks {
        let z = net
            .forward_train(&x, MaskStream::new(ctx.seed ^ 0x5751, t), &mut dws)
            .expect("matching shapes");
        for (i, &zi) in z.iter().enumerate() {
            let zi = f64::from(zi);
            am[i] += sigmoid(zi) / m;
            ln_g[i] += ln_sigmoid(zi) / m;
            ln_g1[i] += ln_sigmoid(-zi) / m;
        }
    }
    let nwgm: Vec<f64> = ln_g
        .iter()
        .zip(&ln_g1)
        .map(|(&g, &g1)| geometric(bug, g, g1))
        .collect();
    let (to_geo, to_arith) = (mean_gap(&ws_out, &nwgm), mean_gap(&ws_out, &am));
    f.experiment(
        format!(
            "mean |weight-scaled − NWGM| = {to_geo:.4e} < mean |weight-scaled − arithmetic \
             mean| = {to_arith:.4e} ({inputs} inputs, {masks} masks)"
        ),
        to_geo,
        to_arith,
        format!(
            "mean |NWGM − arithmetic mean| = {:.4e}",
            mean_gap(&nwgm, &am)
        ),
    );
    f
}

/// The asserted exact case (CLAIMS.md EXP-DROP-WSI, EXT-DROP-NWGM): one sigmoid unit with
/// dropout (p = 0.5) on 10 inputs, all 2^10 masks: σ(E_r z_r) = G/(G + G').
fn single_layer(f: &mut Findings, ctx: &Ctx, bug: Option<WsiBug>) {
    let mut rng = ctx.rng();
    let p = 0.5;
    let mut pairs = Vec::new();
    for _ in 0..20 {
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
            geometric(bug, ln_g, ln_g1),
        ));
    }
    let (worst, n) = super::worst_gap(pairs);
    f.bound(
        "single sigmoid layer, all 2^10 masks: σ(E_r z_r) = G/(G + G')",
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
    -((-z.abs()).exp().ln_1p() + (-z).max(0.0))
}

// ANCHOR_END: exp_drop_wsi
