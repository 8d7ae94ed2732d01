//! The inference mean and transform (Algorithm 2, §BN层的使用): BN-INF-MEAN and
//! BN-INF-TRANSFORM, with the f32 kernel against the specification.

use rand::Rng;
use rand::seq::SliceRandom;

use super::sample::{batch, f32_values, normal, to_matrix};
use super::{ROOM, power_against};
use crate::batch_norm::{BatchNorm, RunningStats, accuracy};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Power, Tally,
    identity_error,
};
use crate::stats::{ALPHA, z_test};
use derivations::batch_norm as spec;

// ---------------------------------------------------------------- BN-INF-MEAN
// ANCHOR: bn_inf_mean

#[derive(Clone, Copy)]
enum MeanBug {
    LastBatch,
    InvertedMomentum,
}

/// The inference mean from the training batches' means, by the code under test.
fn inference_mean(bug: Option<MeanBug>, batch_means: &[f64]) -> f64 {
    match bug {
        None => spec::inference_mean(batch_means),
        Some(MeanBug::LastBatch) => *batch_means.last().expect("at least one batch"),
        // PyTorch's momentum = 0.1 used as the weight of the old value: r ← 0.1·r + 0.9·μ_B.
        Some(MeanBug::InvertedMomentum) => batch_means
            .iter()
            .fold(0.0, |r, &s| spec::ema_step(r, s, 0.1)),
    }
}

pub(super) fn bn_inf_mean() -> Claim {
    Claim::checked(
        "BN-INF-MEAN",
        ROOM,
        "§BN层的使用",
        "μ = E_B[μ_B] is unbiased for the population mean; when N equal batches partition the \
         data, the average of the batch means is the data mean exactly",
        PostVerdict::Correct,
        &[
            (
                MeanBug::LastBatch,
                Planted::bug("the last batch's μ_B (statistics never accumulated)")
                    .by("partition the data"),
            ),
            (
                MeanBug::InvertedMomentum,
                Planted::bug("a running average with the momentum convention inverted")
                    .by("partition the data"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut f = Findings::default();
            // 1. The partition identity, with the batch means from our f32 kernel and through
            //    the kernel's cumulative running statistics as well.
            let (mut e, mut ek) = (MaxError::default(), MaxError::default());
            for _ in 0..ctx.size(100, 2_000) {
                let (n, m, features) = (16, 8, 3);
                let data = batch(&mut rng, n * m, features);
                let bn = BatchNorm::new(features, 1e-5).expect("valid layer");
                let mut running = RunningStats::cumulative(features);
                let mut means = vec![Vec::new(); features];
                for chunk in data.chunks(m) {
                    let xm = to_matrix(chunk);
                    let mut y = xm.clone();
                    let Ok(stats) = bn.forward_train(&xm, &mut y) else {
                        continue;
                    };
                    let _ = running.update(&stats);
                    for (k, mk) in means.iter_mut().enumerate() {
                        mk.push(stats.mean()[k]);
                    }
                }
                let kernel_mean = running.values().map(|(mu, _)| mu).unwrap_or_default();
                for (k, mk) in means.iter().enumerate() {
                    let all = spec::batch_mean(&spec::feature(&data, k));
                    e.record(identity_error(inference_mean(bug, mk), all), k as f64);
                    ek.record(
                        identity_error(kernel_mean.get(k).copied().unwrap_or(f64::NAN), all),
                        k as f64,
                    );
                }
            }
            let why = "means of 8 and of 16 values of size ≤ 20: a few ε (conventions appendix, \
                       Tolerances)";
            f.max_error(
                Label::from("16 batches of 8 partition the data: E_B[μ_B] = data mean").markdown(
                    r"16 batches of 8 partition the data: $\mathbb{E}_B[\mu_B]$ = data mean",
                ),
                &e,
                IDENTITY_TOL,
                why,
            );
            f.max_error(
                "the same through the f32 kernel and RunningStats::cumulative",
                &ek,
                IDENTITY_TOL,
                why,
            );
            // 2. Randomly drawn batches (without replacement from P = 64 values): E[μ_B] = x̄.
            let population = f32_values((0..64).map(|_| 3.0 + 2.0 * normal(&mut rng)));
            let pop_mean = spec::batch_mean(&population);
            let s2 = spec::batch_variance(&population) * 64.0 / 63.0;
            let (m, draws) = (8, ctx.size(10_000, 200_000));
            let mut pool = population.clone();
            let means: Vec<f64> = (0..draws)
                .map(|_| {
                    pool.shuffle(&mut rng);
                    spec::batch_mean(&pool[..m])
                })
                .collect();
            // Var(μ_B) = (S²/m)·(1 − m/P) for draws without replacement. The test uses the
            // estimator's mean over the draws; only an unbiased estimator passes. Both planted
            // variants are unbiased too, but noisy: they weight the last batches, Σ_j w_j·μ_j
            // with Σ w_j² = 1 (the last batch) or 0.81/0.99 (weights 0.9·0.1^j), so their
            // statistic is N(0, B·Σw²) in units of the SE and the test rejects them only with
            // probability 2Φ(−4.89/√(B·Σw²)) ≈ 0.96 at B = 1e4. The exact partition identity
            // above is what rejects them (every time); this test is for the unbiasedness.
            let var_mu = s2 / m as f64 * (1.0 - m as f64 / 64.0);
            let se = (var_mu / draws as f64).sqrt();
            let noisy = |b: MeanBug| {
                let sum_w2 = match b {
                    MeanBug::LastBatch => 1.0,
                    MeanBug::InvertedMomentum => 0.81 / 0.99,
                };
                power_against(0.0, se, (var_mu * sum_w2).sqrt())
            };
            let stated = match bug {
                Some(b) => Power::new(
                    noisy(b),
                    "this variant is unbiased but weights the last batches: its mean over the \
                     draws has the SD of a single batch mean, not Var(μ_B)/B",
                ),
                None => Power::new(
                    noisy(MeanBug::InvertedMomentum),
                    "the noisier of the planted variants' spread; both are rejected by the \
                     partition identity",
                ),
            };
            match z_test(inference_mean(bug, &means), pop_mean, se, draws as u64) {
                Ok(o) => f.test(
                    Label::from(format!(
                        "random batches of 8 from 64 values: E_B[μ_B] over {draws} batches = x̄"
                    ))
                    .markdown(format!(
                        r"random batches of 8 from 64 values: $\mathbb{{E}}_B[\mu_B]$ over {draws} batches $= \bar x$"
                    )),
                    o,
                    ALPHA,
                    stated,
                ),
                Err(err) => f.bound(
                    format!("z-test refused: {err}"),
                    f64::NAN,
                    0.0,
                    0,
                    "invalid test",
                ),
            }
            f
        },
    )
    .typeset(r"$\mu = \mathbb{E}_B[\mu_B]$ is unbiased for the population mean; when $N$ equal batches partition the data, the average of the batch means is the data mean exactly")
}

// ANCHOR_END: bn_inf_mean

// ---------------------------------------------------------------- BN-INF-TRANSFORM
// ANCHOR: bn_inf_transform

#[derive(Clone, Copy)]
enum TransformBug {
    BatchStatistics,
    EpsMissing,
}

/// Inference on one feature's batch with the running (μ, σ²), by the code under test.
fn infer(
    bug: Option<TransformBug>,
    x: &[f64],
    mean: f64,
    var: f64,
    gamma: f64,
    beta: f64,
    eps: f64,
) -> Vec<f64> {
    match bug {
        None => x
            .iter()
            .map(|&v| spec::inference_transform(v, mean, var, gamma, beta, eps))
            .collect(),
        Some(TransformBug::BatchStatistics) => spec::train_forward(x, gamma, beta, eps),
        Some(TransformBug::EpsMissing) => x
            .iter()
            .map(|&v| gamma * (v - mean) / var.sqrt() + beta)
            .collect(),
    }
}

pub(super) fn bn_inf_transform() -> Claim {
    Claim::checked(
        "BN-INF-TRANSFORM",
        ROOM,
        "§BN层的使用",
        "at inference x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β with the fixed statistics: a sample's output \
         does not depend on its batch (bit for bit), equals Algorithm 2's single affine map \
         y = (γ/√(σ² + ε))·x + (β − γμ/√(σ² + ε)), and uses ε as training does",
        PostVerdict::Correct,
        &[
            (
                TransformBug::BatchStatistics,
                Planted::bug("batch statistics used at inference"),
            ),
            (
                TransformBug::EpsMissing,
                Planted::bug("ε missing at inference only"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let eps = 0.5;
            // That a sample's output does not depend on its batch is checked on our kernel
            // (`kernel_inference`), where it could fail: the specification maps each value
            // on its own by construction.
            let (mut fused, mut consistent) = (MaxError::default(), MaxError::default());
            for _ in 0..ctx.size(300, 10_000) {
                let m = rng.random_range(2..=16);
                let x = spec::feature(&batch(&mut rng, m, 1), 0);
                let (mean, var) = (rng.random_range(-3.0..3.0), rng.random_range(0.2..5.0));
                let (gamma, beta) = (rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0));
                let together = infer(bug, &x, mean, var, gamma, beta, eps);
                // (a) Algorithm 2's fused affine map.
                let (a, b) = spec::inference_affine(mean, var, gamma, beta, eps);
                for (&v, &y) in x.iter().zip(&together) {
                    fused.record(identity_error(y, a * v + b), v);
                }
                // (b) Running statistics set to this batch's: inference = training output.
                let (mu_b, var_b) = (spec::batch_mean(&x), spec::batch_variance(&x));
                let inf = infer(bug, &x, mu_b, var_b, gamma, beta, eps);
                let train = spec::train_forward(&x, gamma, beta, eps);
                for (p, q) in inf.iter().zip(&train) {
                    consistent.record(identity_error(*p, *q), m as f64);
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("(a) y = the fused a·x + b of Algorithm 2").markdown(r"(a) $y$ = the fused $a x + b$ of Algorithm 2"),
                &fused,
                IDENTITY_TOL,
                "two forms of the same affine map on O(10) values: a few ε",
            );
            f.max_error(
                Label::from("(b) running statistics set to (μ_B, σ_B²): inference = training output (ε = 0.5)").markdown(r"(b) running statistics set to $(\mu_B, \sigma_B^2)$: inference = training output ($\varepsilon = 0.5$)"),
                &consistent,
                IDENTITY_TOL,
                "the same formula with the same ε",
            );
            kernel_inference(&mut f, ctx);
            f
        },
    )
    .typeset(r"at inference $\hat x = (x - \mu)/\sqrt{\sigma^2 + \varepsilon}$, $y = \gamma \hat x + \beta$ with the fixed statistics: a sample's output does not depend on its batch (bit for bit), equals Algorithm 2's single affine map $y = (\gamma/\sqrt{\sigma^2 + \varepsilon})\, x + (\beta - \gamma\mu/\sqrt{\sigma^2 + \varepsilon})$, and uses $\varepsilon$ as training does")
}

// ANCHOR_END: bn_inf_transform

/// The f32 inference against the specification, and its batch independence, bit for bit.
fn kernel_inference(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let (mut e, mut alone) = (MaxError::default(), Tally::default());
    for case in 0..ctx.size(60, 600) {
        let (fe, m) = ([1, 16, 17, 47][case % 4], [1, 2, 9, 33][case / 4 % 4]);
        let x = batch(&mut rng, m, fe);
        let mean = f32_values((0..fe).map(|_| rng.random_range(-3.0..3.0)));
        let var = f32_values((0..fe).map(|_| rng.random_range(0.1..4.0)));
        let gamma = f32_values((0..fe).map(|_| rng.random_range(-2.0..2.0)));
        let beta = f32_values((0..fe).map(|_| rng.random_range(-2.0..2.0)));
        let eps = 1e-3f32;
        let bn = BatchNorm::with_affine(
            gamma.iter().map(|&v| v as f32).collect(),
            beta.iter().map(|&v| v as f32).collect(),
            eps,
        )
        .expect("valid layer");
        let running = RunningStats::fixed(mean.clone(), var.clone()).expect("finite statistics");
        let xm = to_matrix(&x);
        let mut y = xm.clone();
        if bn.forward_inference(&running, &xm, &mut y).is_err() {
            e.record(f64::NAN, m as f64);
            continue;
        }
        for k in 0..fe {
            let (a, b) = spec::inference_affine(mean[k], var[k], gamma[k], beta[k], f64::from(eps));
            for i in 0..m {
                let r = spec::inference_transform(
                    x[i][k],
                    mean[k],
                    var[k],
                    gamma[k],
                    beta[k],
                    f64::from(eps),
                );
                e.record(
                    (f64::from(y[(k, i)]) - r).abs()
                        / accuracy::affine_bound(x[i][k], a, b, beta[k], r),
                    m as f64,
                );
            }
        }
        let i = rng.random_range(0..m);
        let single = xm.columns(i, 1).into_owned();
        let mut ys = single.clone();
        let ok = bn.forward_inference(&running, &single, &mut ys).is_ok()
            && ys
                .iter()
                .zip(y.column(i).iter())
                .all(|(p, q)| p.to_bits() == q.to_bits());
        alone.check(ok, || {
            format!("column {i} of {m} differs when evaluated alone")
        });
    }
    f.max_error(Label::from("f32 inference vs the specification, F ∈ {1, 16, 17, 47}, m ∈ {1, 2, 9, 33}").markdown(r"f32 inference vs the specification, $F \in \{1, 16, 17, 47\}$, $m \in \{1, 2, 9, 33\}$"), &e, 1.0,
            "|y₃₂ − y| / accuracy::affine_bound: three f32 roundings of the fused map; at most 1 is accepted");
    f.tally(
        "f32 inference: a column alone = inside its batch, bit for bit",
        alone,
    );
}
