//! The training statistics and normalisation (Algorithm 1, the figure in §BN训练):
//! BN-TRAIN-STATS and BN-TRAIN-NORM, with the f32 kernel against the specification.

use rand::Rng;

use super::ROOM;
use super::sample::{batch, to_matrix};
use crate::batch_norm::{BatchNorm, accuracy};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, identity_error,
};
use crate::stats::Moments;
use derivations::batch_norm as spec;

// ---------------------------------------------------------------- BN-TRAIN-STATS
// ANCHOR: bn_train_stats

#[derive(Clone, Copy)]
enum StatsBug {
    BesselInTraining,
    OnePass,
    FeatureAxis,
}

/// (μ_B, σ_B²) of feature k of the batch `x[i][k]`, by the code under test.
fn batch_stats(bug: Option<StatsBug>, x: &[Vec<f64>], k: usize) -> (f64, f64) {
    let column = spec::feature(x, k);
    let m = column.len() as f64;
    match bug {
        None => (spec::batch_mean(&column), spec::batch_variance(&column)),
        Some(StatsBug::BesselInTraining) => (
            spec::batch_mean(&column),
            spec::batch_variance(&column) * m / (m - 1.0),
        ),
        Some(StatsBug::OnePass) => {
            let mu = spec::batch_mean(&column);
            let sq: Vec<f64> = column.iter().map(|v| v * v).collect();
            (mu, spec::batch_mean(&sq) - mu * mu)
        }
        // LayerNorm's axis: sample k's features instead of feature k's samples.
        Some(StatsBug::FeatureAxis) => (spec::batch_mean(&x[k]), spec::batch_variance(&x[k])),
    }
}

pub(super) fn bn_train_stats() -> Claim {
    Claim::checked(
        "BN-TRAIN-STATS",
        ROOM,
        "§BN训练 (figure = Algorithm 1)",
        "per feature, from the current batch: μ_B = (1/m)·Σ x_i and the biased σ_B² = (1/m)·Σ \
         (x_i − μ_B)², computed stably (two-pass in the specification, shifted f64 sums in the \
         kernel): exact on shifted data x + 1e8",
        PostVerdict::Correct,
        &[
            (
                StatsBug::BesselInTraining,
                Planted::bug("1/(m − 1) in training"),
            ),
            (
                StatsBug::OnePass,
                Planted::bug("one-pass E[x²] − μ² (cancels on x + 1e8)"),
            ),
            (
                StatsBug::FeatureAxis,
                Planted::bug("statistics over the feature axis (LayerNorm mix-up)"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut f = Findings::default();
            // 1. Against an independent reference (Welford's one pass, crate::stats), on
            //    batches with m = 8 ≠ F = 5 and feature-dependent distributions.
            let (mut em, mut ev) = (MaxError::default(), MaxError::default());
            for _ in 0..ctx.size(200, 5_000) {
                let x = batch(&mut rng, 8, 5);
                for k in 0..5 {
                    let reference = Moments::from_slice(&spec::feature(&x, k));
                    let (mu, var) = batch_stats(bug, &x, k);
                    em.record(identity_error(mu, reference.mean()), k as f64);
                    ev.record(identity_error(var, reference.variance_biased()), k as f64);
                }
            }
            let why = "sums of 8 terms of size ≤ 20 in f64, two algorithms: a few ε (conventions appendix, Tolerances)";
            f.max_error(
                Label::from("μ_B = Welford mean (m = 8, F = 5)")
                    .markdown(r"$\mu_B$ = Welford mean ($m = 8$, $F = 5$)"),
                &em,
                IDENTITY_TOL,
                why,
            );
            f.max_error(
                Label::from("σ_B² = Welford biased variance")
                    .markdown(r"$\sigma_B^2$ = Welford biased variance"),
                &ev,
                IDENTITY_TOL,
                why,
            );
            // 2. Shifted data: x = 1e8 + d with d on a grid of 1/8, exact in f64, so the exact
            //    statistics are 1e8 + mean(d) and var(d).
            let mut es = MaxError::default();
            for _ in 0..ctx.size(200, 5_000) {
                let m = rng.random_range(2..=16);
                let d: Vec<Vec<f64>> = (0..m)
                    .map(|_| vec![f64::from(rng.random_range(-32i32..=32)) / 8.0])
                    .collect();
                let shifted: Vec<Vec<f64>> = d.iter().map(|r| vec![r[0] + 1e8]).collect();
                let exact = spec::batch_variance(&spec::feature(&d, 0));
                let (_, var) = batch_stats(bug, &shifted, 0);
                es.record((var - exact).abs() / exact.max(1e-300), m as f64);
            }
            f.max_error(
                Label::from(format!("σ_B² of x + 1e8 (worst at m = {})", es.at))
                    .markdown(format!(r"$\sigma_B^2$ of $x + 10^8$ (worst at $m = {}$)", es.at)),
                &es,
                1e-6,
                "two passes on x + 1e8 with unit spread: the mean's rounding, ~ε·1e8 ≈ 2e-8, on \
                 deviations of size 1 leaves ~4e-8 relative, inside 1e-6; the one-pass form \
                 subtracts squares of size 1e16, whose ulp is 2",
            );
            // 3. The f32 kernel's statistics against the specification on the same data,
            //    including offsets up to 1e4 spreads.
            kernel_stats(&mut f, ctx);
            f
        },
    )
    .typeset(r"per feature, from the current batch: $\mu_B = (1/m) \sum x_i$ and the biased $\sigma_B^2 = (1/m) \sum (x_i - \mu_B)^2$, computed stably (two-pass in the specification, shifted f64 sums in the kernel): exact on shifted data $x + 10^8$")
}

// ANCHOR_END: bn_train_stats

/// The kernel's μ_B and σ_B² against the specification's, within `accuracy`'s bounds.
fn kernel_stats(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let (mut em, mut ev) = (MaxError::default(), MaxError::default());
    for case in 0..ctx.size(100, 1_000) {
        let (fe, m) = ([1, 7, 16, 37][case % 4], [2, 3, 8, 64][case / 4 % 4]);
        let offset = [0.0, 1e2, 1e4][case % 3];
        let mut x = batch(&mut rng, m, fe);
        for row in &mut x {
            for v in row.iter_mut() {
                *v = f64::from((*v + offset) as f32);
            }
        }
        let bn = BatchNorm::new(fe, 1e-5).expect("valid layer");
        let mut y = to_matrix(&x);
        let stats = match bn.forward_train(&to_matrix(&x), &mut y) {
            Ok(s) => s,
            Err(_) => {
                em.record(f64::NAN, m as f64);
                continue;
            }
        };
        for k in 0..fe {
            let col = spec::feature(&x, k);
            let (mu, var) = (spec::batch_mean(&col), spec::batch_variance(&col));
            let dev = col.iter().map(|v| (v - mu).abs()).fold(0.0, f64::max);
            em.record(
                (stats.mean()[k] - mu).abs() / accuracy::mean_bound(m, mu, dev),
                m as f64,
            );
            let bound = accuracy::variance_bound(m, var, mu, dev).max(f64::MIN_POSITIVE);
            ev.record((stats.variance()[k] - var).abs() / bound, m as f64);
        }
    }
    let why = "|kernel − specification| / accuracy::mean_bound and variance_bound (shifted f64 \
               sums vs two passes, derived from the operation count); at most 1 is accepted";
    f.max_error(
        Label::from("f32 kernel's μ_B vs the specification (offsets to 1e4)")
            .markdown(r"f32 kernel's $\mu_B$ vs the specification (offsets to $10^4$)"),
        &em,
        1.0,
        why,
    );
    f.max_error(
        Label::from("f32 kernel's σ_B² vs the specification")
            .markdown(r"f32 kernel's $\sigma_B^2$ vs the specification"),
        &ev,
        1.0,
        why,
    );
}

// ---------------------------------------------------------------- BN-TRAIN-NORM
// ANCHOR: bn_train_norm

#[derive(Clone, Copy)]
enum NormBug {
    EpsOutsideRoot,
    DivideByVariance,
    NoMeanSubtraction,
}

/// x̂ of one feature's batch by the code under test.
fn normalize(bug: Option<NormBug>, x: &[f64], eps: f64) -> Vec<f64> {
    let (mu, var) = (spec::batch_mean(x), spec::batch_variance(x));
    match bug {
        None => spec::normalize(x, eps),
        Some(NormBug::EpsOutsideRoot) => x.iter().map(|v| (v - mu) / (var.sqrt() + eps)).collect(),
        Some(NormBug::DivideByVariance) => x.iter().map(|v| (v - mu) / (var + eps)).collect(),
        Some(NormBug::NoMeanSubtraction) => x.iter().map(|v| v / (var + eps).sqrt()).collect(),
    }
}

pub(super) fn bn_train_norm() -> Claim {
    Claim::checked(
        "BN-TRAIN-NORM",
        ROOM,
        "§BN训练 (figure = Algorithm 1)",
        "x̂_i = (x_i − μ_B)/√(σ_B² + ε): Σ_i x̂_i = 0 and (1/m)·Σ_i x̂_i² = σ_B²/(σ_B² + ε), which is \
         1 for ε = 0; with σ_B² = 1 and ε = 1, x̂ = ±1/√2",
        PostVerdict::Correct,
        &[
            (
                NormBug::EpsOutsideRoot,
                Planted::bug("ε outside the root: (x − μ)/(σ + ε)"),
            ),
            (NormBug::DivideByVariance, Planted::bug("(x − μ)/(σ² + ε)")),
            (
                NormBug::NoMeanSubtraction,
                Planted::bug("no mean subtraction"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut es, mut eq) = (MaxError::default(), MaxError::default());
            for case in 0..ctx.size(500, 20_000) {
                let m = rng.random_range(2..=16);
                let eps = [0.0, 1e-5, 1.0][case % 3];
                let x = spec::feature(&batch(&mut rng, m, 1), 0);
                let x_hat = normalize(bug, &x, eps);
                let abs: f64 = x_hat.iter().map(|v| v.abs()).sum();
                // Σ x̂ cancels m terms of size ≤ (|μ| + max|x − μ|)/s: ~m·ε·(1 + |μ|/σ) relative
                // to Σ|x̂|, below 1e-13 here.
                es.record(x_hat.iter().sum::<f64>().abs() / abs.max(1.0), m as f64);
                let var = spec::batch_variance(&x);
                let mean_sq = x_hat.iter().map(|v| v * v).sum::<f64>() / m as f64;
                eq.record(identity_error(mean_sq, var / (var + eps)), eps);
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("Σ_i x̂_i = 0 (relative to Σ|x̂_i|)").markdown(
                    r"$\sum_i \hat x_i = 0$ (relative to $\sum_i \lvert \hat x_i \rvert$)",
                ),
                &es,
                IDENTITY_TOL,
                "m ≤ 16 terms, ~m·ε·(1 + |μ|/σ) ≈ 1e-14 (conventions appendix, Tolerances)",
            );
            f.max_error(
                Label::from(format!(
                    "(1/m)·Σ x̂² = σ_B²/(σ_B² + ε), ε ∈ {{0, 1e-5, 1}} (worst at ε = {})",
                    eq.at
                ))
                .markdown(format!(
                    r"$(1/m) \sum \hat x^2 = \sigma_B^2/(\sigma_B^2 + \varepsilon)$, $\varepsilon \in \{{0, 10^{{-5}}, 1\}}$ (worst at $\varepsilon = {}$)",
                    eq.at
                )),
                &eq,
                IDENTITY_TOL,
                "a few roundings of O(1) values (conventions appendix, Tolerances)",
            );
            // σ_B² = 1 and ε = 1 exactly: the batch {2, 4}.
            let x_hat = normalize(bug, &[2.0, 4.0], 1.0);
            let target = [
                -std::f64::consts::FRAC_1_SQRT_2,
                std::f64::consts::FRAC_1_SQRT_2,
            ];
            let err = x_hat
                .iter()
                .zip(target)
                .map(|(a, b)| identity_error(*a, b))
                .fold(0.0, f64::max);
            f.bound(
                Label::from("batch {2, 4} (σ_B² = 1), ε = 1: x̂ = ±1/√2 (ε outside the root gives ±1/2)").markdown(r"batch $\{2, 4\}$ ($\sigma_B^2 = 1$), $\varepsilon = 1$: $\hat x = \pm 1/\sqrt{2}$ ($\varepsilon$ outside the root gives $\pm 1/2$)"),
                err,
                IDENTITY_TOL,
                2,
                "two roundings and a square root",
            );
            kernel_forward(&mut f, ctx);
            f
        },
    )
    .typeset(r"$\hat x_i = (x_i - \mu_B)/\sqrt{\sigma_B^2 + \varepsilon}$: $\sum_i \hat x_i = 0$ and $(1/m) \sum_i \hat x_i^2 = \sigma_B^2/(\sigma_B^2 + \varepsilon)$, which is 1 for $\varepsilon = 0$; with $\sigma_B^2 = 1$ and $\varepsilon = 1$, $\hat x = \pm 1/\sqrt{2}$")
}

// ANCHOR_END: bn_train_norm

/// The f32 training forward against the specification (Algorithm 1) on awkward shapes:
/// F one off a lane multiple, batches of 2.
fn kernel_forward(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let mut e = MaxError::default();
    for case in 0..ctx.size(60, 600) {
        let (fe, m) = ([1, 15, 17, 33, 100][case % 5], [2, 3, 5, 64][case / 5 % 4]);
        let x = batch(&mut rng, m, fe);
        let gamma: Vec<f64> = (0..fe)
            .map(|_| f64::from(rng.random_range(-2.0f32..2.0)))
            .collect();
        let beta: Vec<f64> = (0..fe)
            .map(|_| f64::from(rng.random_range(-2.0f32..2.0)))
            .collect();
        let eps = 1e-3f32;
        let bn = BatchNorm::with_affine(
            gamma.iter().map(|&g| g as f32).collect(),
            beta.iter().map(|&b| b as f32).collect(),
            eps,
        )
        .expect("valid layer");
        let mut y = to_matrix(&x);
        if bn.forward_train(&to_matrix(&x), &mut y).is_err() {
            e.record(f64::NAN, m as f64);
            continue;
        }
        let reference = spec::layer_train_forward(&x, &gamma, &beta, f64::from(eps));
        for k in 0..fe {
            let col = spec::feature(&x, k);
            let (mu, var) = (spec::batch_mean(&col), spec::batch_variance(&col));
            let scale = gamma[k] / (var + f64::from(eps)).sqrt();
            for i in 0..m {
                let r = reference[i][k];
                let bound =
                    accuracy::affine_bound(x[i][k], scale, beta[k] - scale * mu, beta[k], r);
                e.record((f64::from(y[(k, i)]) - r).abs() / bound, m as f64);
            }
        }
    }
    f.max_error(
        Label::from(format!("f32 training forward vs Algorithm 1 in f64, F ∈ {{1, 15, 17, 33, 100}} (worst at m = {})", e.at))
            .markdown(format!(r"f32 training forward vs Algorithm 1 in f64, $F \in \{{1, 15, 17, 33, 100\}}$ (worst at $m = {}$)", e.at)),
        &e,
        1.0,
        "|y₃₂ − y| / accuracy::affine_bound: three f32 roundings of the fused x·a + b and the \
         statistics' error; at most 1 is accepted");
}
