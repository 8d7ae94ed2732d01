//! The running statistics and the inference map's folding: EXT-BN-EMA and EXT-BN-FOLD.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::sample::{batch, f32_values, normal};
use super::{ROOM, power_against};
use crate::batch_norm::{BatchNorm, BatchStats, RunningStats, accuracy};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Power,
    identity_error,
};
use crate::stats::{ALPHA, z_test};
use derivations::batch_norm as spec;

// ---------------------------------------------------------------- EXT-BN-EMA
// ANCHOR: ext_bn_ema

#[derive(Clone, Copy)]
enum EmaBug {
    RhoSwapped,
    BesselOmitted,
}

/// The catalogue's ρ (weight of the old value); PyTorch's momentum is 1 − ρ = 0.1.
const RHO: f64 = 0.9;

/// The running (mean, variance) per feature after the batches `stats`, by the code under test.
/// `None` is our kernel's `RunningStats::exponential` with momentum 1 − ρ; the bugs are the
/// same recursion written wrongly.
fn running(bug: Option<EmaBug>, stats: &[BatchStats]) -> (Vec<f64>, Vec<f64>) {
    let features = stats[0].features();
    let Some(bug) = bug else {
        let mut r = RunningStats::exponential(features, 1.0 - RHO).expect("momentum in (0, 1]");
        for s in stats {
            if r.update(s).is_err() {
                return (vec![f64::NAN; features], vec![f64::NAN; features]);
            }
        }
        return r
            .values()
            .unwrap_or((vec![f64::NAN; features], vec![f64::NAN; features]));
    };
    let (mut mean, mut var) = (vec![0.0; features], vec![1.0; features]);
    for s in stats {
        let m = s.batch() as f64;
        let bessel = if matches!(bug, EmaBug::BesselOmitted) {
            1.0
        } else {
            m / (m - 1.0)
        };
        let rho = if matches!(bug, EmaBug::RhoSwapped) {
            1.0 - RHO
        } else {
            RHO
        };
        for k in 0..features {
            mean[k] = spec::ema_step(mean[k], s.mean()[k], rho);
            var[k] = spec::ema_step(var[k], bessel * s.variance()[k], rho);
        }
    }
    (mean, var)
}

/// The batch statistics of T batches of m samples, F features, from N(μ, σ²), by our kernel.
fn batch_stats(
    rng: &mut impl Rng,
    t: usize,
    m: usize,
    features: usize,
    mu: f64,
    sigma: f64,
) -> Vec<BatchStats> {
    let bn = BatchNorm::new(features, 1e-5).expect("valid layer");
    (0..t)
        .filter_map(|_| {
            let x = DMatrix::from_fn(features, m, |_, _| (mu + sigma * normal(rng)) as f32);
            let mut y = x.clone();
            bn.forward_train(&x, &mut y).ok()
        })
        .collect()
}

pub(super) fn ext_bn_ema() -> Claim {
    Claim::checked(
        "EXT-BN-EMA",
        ROOM,
        "beyond the post",
        "frameworks replace E_B by r ← ρ·r + (1 − ρ)·s (PyTorch's momentum is 1 − ρ), with \
         s = m/(m − 1)·σ_B² for the variance: r_T = ρ^T·r₀ + (1 − ρ)·Σ ρ^{T−t}·s_t, and for i.i.d. \
         batches E[r_T] = ρ^T·r₀ + (1 − ρ^T)·E[s]",
        PostVerdict::Extension,
        &[
            (EmaBug::RhoSwapped, Planted::bug("ρ and 1 − ρ swapped")),
            (
                EmaBug::BesselOmitted,
                Planted::bug("Bessel's factor omitted in the running variance"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut f = Findings::default();
            // 1. The deterministic recursion against its unrolled closed form.
            let (mut em, mut ev) = (MaxError::default(), MaxError::default());
            for _ in 0..ctx.size(50, 500) {
                let t = rng.random_range(1..=30);
                let m = rng.random_range(2..=9);
                let stats = batch_stats(&mut rng, t, m, 3, 2.0, 1.5);
                let (mean, var) = running(bug, &stats);
                for k in 0..3 {
                    let s_mean: Vec<f64> = stats.iter().map(|s| s.mean()[k]).collect();
                    let s_var: Vec<f64> = stats
                        .iter()
                        .map(|s| s.variance()[k] * s.batch() as f64 / (s.batch() as f64 - 1.0))
                        .collect();
                    em.record(
                        identity_error(mean[k], spec::ema_closed_form(0.0, &s_mean, RHO)),
                        t as f64,
                    );
                    ev.record(
                        identity_error(var[k], spec::ema_closed_form(1.0, &s_var, RHO)),
                        t as f64,
                    );
                }
            }
            let why = "T ≤ 30 contracting steps of O(1) values: a few ε per step";
            f.max_error(
                Label::from("running mean = ρ^T·0 + (1 − ρ)·Σ ρ^{T−t}·μ_t (ρ = 0.9, momentum 0.1)").markdown(r"running mean $= \rho^T \cdot 0 + (1 - \rho) \sum_t \rho^{T-t} \mu_t$ ($\rho = 0.9$, momentum 0.1)"),
                &em,
                IDENTITY_TOL,
                why,
            );
            f.max_error(
                Label::from("running variance = ρ^T·1 + (1 − ρ)·Σ ρ^{T−t}·m/(m − 1)·σ_t²").markdown(r"running variance $= \rho^T \cdot 1 + (1 - \rho) \sum_t \rho^{T-t} \frac{m}{m-1} \sigma_t^2$"),
                &ev,
                IDENTITY_TOL,
                why,
            );
            // 2. E[r_T] over independent replicates: each feature of one layer is a replicate.
            //    N(μ = 5, σ² = 4), m = 4, T = 10, from r₀ = (0, 1).
            //    Var(r_T) = (1 − ρ)/(1 + ρ)·(1 − ρ^{2T})·Var(s), with Var(μ_B) = σ²/m and
            //    Var(m/(m − 1)·σ_B²) = 2σ⁴/(m − 1) for Gaussian data. With R = 1024 replicates
            //    the SEs are 0.0067 (mean) and 0.022 (variance); omitting Bessel shifts the
            //    variance by (1 − ρ^T)·σ²/m = 0.65 (30 SE) and leaves the mean alone, swapping ρ
            //    shifts the mean by (ρ^T − (1 − ρ)^T)·μ = 1.74 (260 SE) and the variance by 1.05
            //    (48 SE). The power against each variant is computed from its own E[r_T] and
            //    Var(r_T) (`law` below) at the R used.
            let (mu, sigma2, m, t) = (5.0, 4.0f64, 4usize, 10);
            let replicates = ctx.size(1_024, 16_384);
            let stats = batch_stats(&mut rng, t, m, replicates, mu, sigma2.sqrt());
            let (mean, var) = running(bug, &stats);
            let mf = m as f64;
            // (E[r_T], Var(r_T)) of the running mean and variance for weight ρ of the old value
            // and factor `bessel` on σ_B², from r₀ = (0, 1).
            let law = |rho: f64, bessel: f64| {
                let decay = rho.powi(t as i32);
                let shrink = (1.0 - rho) / (1.0 + rho) * (1.0 - rho.powi(2 * t as i32));
                let var_s = bessel * bessel * 2.0 * sigma2 * sigma2 * (mf - 1.0) / (mf * mf);
                [
                    ((1.0 - decay) * mu, shrink * sigma2 / mf),
                    (
                        decay + (1.0 - decay) * bessel * (mf - 1.0) / mf * sigma2,
                        shrink * var_s,
                    ),
                ]
            };
            let ours = law(RHO, mf / (mf - 1.0));
            let variant = |b: EmaBug| match b {
                EmaBug::RhoSwapped => law(1.0 - RHO, mf / (mf - 1.0)),
                EmaBug::BesselOmitted => law(RHO, 1.0),
            };
            let names = ["mean", "variance"];
            for (i, values) in [&mean, &var].into_iter().enumerate() {
                let (expected, var_r) = ours[i];
                let avg = values.iter().sum::<f64>() / replicates as f64;
                let se = (var_r / replicates as f64).sqrt();
                let power = |b: EmaBug| {
                    let (e, v) = variant(b)[i];
                    (
                        power_against(e - expected, se, (v / replicates as f64).sqrt()),
                        (e - expected) / se,
                    )
                };
                let stated = match bug {
                    Some(b) => {
                        let (p, shift) = power(b);
                        Power::new(p, format!("this variant moves E[r_T] by {shift:.1} SE"))
                    }
                    None => {
                        let (p, b) = [EmaBug::RhoSwapped, EmaBug::BesselOmitted]
                            .into_iter()
                            .map(|b| (power(b).0, b))
                            .filter(|(_, b)| variant(*b)[i].0 != expected)
                            .fold((f64::INFINITY, None), |acc, (p, b)| {
                                if p < acc.0 { (p, Some(b)) } else { acc }
                            });
                        Power::new(
                            p,
                            match b {
                                Some(EmaBug::RhoSwapped) => {
                                    "ρ swapped, the weakest variant that moves it"
                                }
                                Some(EmaBug::BesselOmitted) => {
                                    "Bessel omitted, the weakest variant that moves it"
                                }
                                None => "no variant moves it",
                            },
                        )
                    }
                };
                match z_test(avg, expected, se, replicates as u64) {
                    Ok(o) => f.test(
                        Label::from(format!("E[running {}] after T = {t} = ρ^T·r₀ + (1 − ρ^T)·E[s] = {expected:.4} ({replicates} replicates)", names[i]))
                            .markdown(format!(r"$\mathbb{{E}}[\text{{running {}}}]$ after $T = {t}$: $\rho^T r_0 + (1 - \rho^T)\, \mathbb{{E}}[s] = {expected:.4}$ ({replicates} replicates)", names[i])),
                        o,
                        ALPHA,
                        stated,
                    ),
                    Err(err) => f.bound(format!("z-test refused: {err}"), f64::NAN, 0.0, 0, "invalid test"),
                }
            }
            f
        },
    )
    .typeset(r"frameworks replace $\mathbb{E}_B$ by $r \leftarrow \rho r + (1 - \rho) s$ (PyTorch's momentum is $1 - \rho$), with $s = m/(m - 1)\, \sigma_B^2$ for the variance: $r_T = \rho^T r_0 + (1 - \rho) \sum \rho^{T-t} s_t$, and for i.i.d. batches $\mathbb{E}[r_T] = \rho^T r_0 + (1 - \rho^T)\, \mathbb{E}[s]$")
}

// ANCHOR_END: ext_bn_ema

// ---------------------------------------------------------------- EXT-BN-FOLD
// ANCHOR: ext_bn_fold

#[derive(Clone, Copy)]
enum FoldBug {
    RowsScaled,
    BetaBeforeScaling,
}

/// Per-unit inference statistics and parameters.
struct Bn {
    mean: Vec<f64>,
    var: Vec<f64>,
    gamma: Vec<f64>,
    beta: Vec<f64>,
    eps: f64,
}

/// (W', b') folding `bn` into the layer (W, b), by the code under test; `None` when the
/// variant cannot even match the shapes.
fn fold(
    bug: Option<FoldBug>,
    w: &[Vec<f64>],
    b: &[f64],
    bn: &Bn,
) -> Option<(Vec<Vec<f64>>, Vec<f64>)> {
    let scale: Vec<f64> = (0..b.len())
        .map(|k| bn.gamma[k] / (bn.var[k] + bn.eps).sqrt())
        .collect();
    match bug {
        None => Some(spec::fold(
            w, b, &bn.mean, &bn.var, &bn.gamma, &bn.beta, bn.eps,
        )),
        // diag(scale)·W: needs as many rows as units, which a non-square W does not have.
        Some(FoldBug::RowsScaled) => (w.len() == scale.len()).then(|| {
            let w2 = w
                .iter()
                .zip(&scale)
                .map(|(row, s)| row.iter().map(|v| v * s).collect())
                .collect();
            (
                w2,
                spec::fold(w, b, &bn.mean, &bn.var, &bn.gamma, &bn.beta, bn.eps).1,
            )
        }),
        Some(FoldBug::BetaBeforeScaling) => {
            let (w2, _) = spec::fold(w, b, &bn.mean, &bn.var, &bn.gamma, &bn.beta, bn.eps);
            Some((
                w2,
                (0..b.len())
                    .map(|k| (b[k] - bn.mean[k] + bn.beta[k]) * scale[k])
                    .collect(),
            ))
        }
    }
}

pub(super) fn ext_bn_fold() -> Claim {
    Claim::checked(
        "EXT-BN-FOLD",
        ROOM,
        "beyond the post",
        "with W ∈ ℝ^{J_i × J_{i+1}} (C2), inference BN(Wᵀ·o + b) = W'ᵀ·o + b' with W' = W·diag(γ/√(σ² + ε)) \
         (columns scaled) and b' = (b − μ)⊙γ/√(σ² + ε) + β",
        PostVerdict::Extension,
        &[
            (
                FoldBug::RowsScaled,
                Planted::bug("rows scaled instead of columns"),
            ),
            (
                FoldBug::BetaBeforeScaling,
                Planted::bug("β added before scaling"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let units = 5;
            let mut e = MaxError::default();
            for case in 0..ctx.size(300, 10_000) {
                // W alternates between 3 × 5 and square 5 × 5: on a square W, rows scaled
                // instead of columns is a finite, wrong W'; on 3 × 5 it cannot even be formed
                // and the case is skipped for that variant (it measures nothing).
                let fan_in = [3, units][case % 2];
                let w: Vec<Vec<f64>> = (0..fan_in)
                    .map(|_| f32_values((0..units).map(|_| rng.random_range(-1.0..1.0))))
                    .collect();
                let b = f32_values((0..units).map(|_| rng.random_range(-1.0..1.0)));
                let bn = Bn {
                    mean: f32_values((0..units).map(|_| rng.random_range(-2.0..2.0))),
                    var: f32_values((0..units).map(|_| rng.random_range(0.1..4.0))),
                    gamma: f32_values((0..units).map(|_| rng.random_range(-2.0..2.0))),
                    beta: f32_values((0..units).map(|_| rng.random_range(-2.0..2.0))),
                    eps: 1e-3,
                };
                let Some((w2, b2)) = fold(bug, &w, &b, &bn) else {
                    continue;
                };
                let o: Vec<f64> = (0..fan_in).map(|_| rng.random_range(-3.0..3.0)).collect();
                for k in 0..units {
                    let z: f64 = (0..fan_in).map(|j| w[j][k] * o[j]).sum::<f64>() + b[k];
                    let bn_out = spec::inference_transform(
                        z,
                        bn.mean[k],
                        bn.var[k],
                        bn.gamma[k],
                        bn.beta[k],
                        bn.eps,
                    );
                    let folded: f64 = (0..fan_in).map(|j| w2[j][k] * o[j]).sum::<f64>() + b2[k];
                    e.record(identity_error(folded, bn_out), k as f64);
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from(format!("BN(Wᵀo + b) = W'ᵀo + b', W is 3 × {units} or {units} × {units}"))
                    .markdown(format!(r"$\mathrm{{BN}}(W^\top o + b) = W'^\top o + b'$, $W$ is $3 \times {units}$ or ${units} \times {units}$")),
                &e,
                IDENTITY_TOL,
                "three products and sums of O(10) values in either order: a few ε",
            );
            kernel_fold(&mut f, ctx);
            f
        },
    )
    .typeset(r"with $W \in \mathbb{R}^{J_i \times J_{i+1}}$ (C2), inference $\mathrm{BN}(W^\top o + b) = W'^\top o + b'$ with $W' = W \operatorname{diag}(\gamma/\sqrt{\sigma^2 + \varepsilon})$ (columns scaled) and $b' = (b - \mu) \odot \gamma/\sqrt{\sigma^2 + \varepsilon} + \beta$")
}

// ANCHOR_END: ext_bn_fold

/// `Affine::fold_into` in f32 against the specification's fold.
fn kernel_fold(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let mut e = MaxError::default();
    for case in 0..ctx.size(50, 500) {
        let (fan_in, units) = ([1, 3, 20][case % 3], [1, 5, 17][case / 3 % 3]);
        let x = batch(&mut rng, 8, units);
        let gamma: Vec<f32> = (0..units).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        let beta: Vec<f32> = (0..units).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        let bn = BatchNorm::with_affine(gamma.clone(), beta.clone(), 1e-3).expect("valid layer");
        let mut running = RunningStats::cumulative(units);
        let mut y = super::sample::to_matrix(&x);
        let stats = bn.forward_train(&super::sample::to_matrix(&x), &mut y);
        let ok = stats.map(|s| running.update(&s).is_ok()).unwrap_or(false);
        let (Ok(affine), Ok((mean, var)), true) =
            (bn.inference_affine(&running), running.values(), ok)
        else {
            e.record(f64::NAN, 0.0);
            continue;
        };
        let w = DMatrix::from_fn(fan_in, units, |_, _| rng.random_range(-1.0f32..1.0));
        let b = DVector::from_fn(units, |_, _| rng.random_range(-1.0f32..1.0));
        let (mut w2, mut b2) = (w.clone(), b.clone());
        if affine.fold_into(&mut w2, &mut b2).is_err() {
            e.record(f64::NAN, 0.0);
            continue;
        }
        let wv: Vec<Vec<f64>> = (0..fan_in)
            .map(|j| (0..units).map(|k| f64::from(w[(j, k)])).collect())
            .collect();
        let bv: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
        let (g64, b64): (Vec<f64>, Vec<f64>) = gamma
            .iter()
            .zip(&beta)
            .map(|(&g, &b)| (f64::from(g), f64::from(b)))
            .unzip();
        let (wr, br) = spec::fold(&wv, &bv, &mean, &var, &g64, &b64, f64::from(1e-3f32));
        for k in 0..units {
            let scale = g64[k] / (var[k] + f64::from(1e-3f32)).sqrt();
            let shift = b64[k] - scale * mean[k];
            for j in 0..fan_in {
                // fl(W·fl(scale)), with scale the same f64 value as the specification's:
                // two roundings, (1 + u)² − 1 = 2u + u².
                let bound = ((2.0 * accuracy::U + accuracy::U * accuracy::U) * wr[j][k].abs())
                    .max(f64::MIN_POSITIVE);
                e.record((f64::from(w2[(j, k)]) - wr[j][k]).abs() / bound, j as f64);
            }
            let bound = accuracy::affine_bound(bv[k], scale, shift, b64[k], br[k]);
            e.record((f64::from(b2[k]) - br[k]).abs() / bound, k as f64);
        }
    }
    f.max_error(Label::from("f32 Affine::fold_into vs the specification's fold").markdown(r"f32 `Affine::fold_into` vs the specification's fold"), &e, 1.0,
            "W': two roundings ((2u + u²)·|W'|); b' = fl(b·scale + shift): accuracy::affine_bound; at most 1 is accepted");
}
