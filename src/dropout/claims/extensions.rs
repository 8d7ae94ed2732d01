//! The dropout extensions of CLAIMS.md §13: the variance dropout injects (EXT-DROP-VAR), the
//! learning-rate caveat of inverted dropout (EXT-DROP-INV-LR), dropout as ridge regression
//! (EXT-DROP-RIDGE), and weight scaling as a normalised geometric mean (EXT-DROP-NWGM).

use rand::Rng;

use super::{LONG_SUM_WHY, ROOM, dropout, uniform, worst_gap};
use crate::claims::{Claim, Ctx, Findings, IDENTITY_TOL, Planted, PostVerdict, Power, Tally};
use crate::dropout::{Mask, MaskStream, Scaling};
use crate::stats::{ALPHA, Moments, z_test, z_test_mean};
use derivations::dropout as spec;

const LOCATION: &str = "beyond the post";

fn vector(rng: &mut impl Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| uniform(rng, lo, hi)).collect()
}

// ---------------------------------------------------------------- EXT-DROP-VAR
// ANCHOR: ext_drop_var

#[derive(Clone, Copy)]
enum VarBug {
    RatioSwapped,
    PSquared,
}

pub(super) fn ext_drop_var() -> Claim {
    Claim::checked(
        "EXT-DROP-VAR",
        ROOM,
        LOCATION,
        "standard dropout y = r·x has E = p·x, Var = p(1−p)·x²; inverted y = r·x/p has E = x, \
         Var = x²(1−p)/p; the next pre-activation Σ W_j r_j x_j/p has variance \
         (1−p)/p·Σ W_j² x_j² given x (exact over all masks; z-tests on the kernel's masks)",
        PostVerdict::Extension,
        &[
            (
                VarBug::RatioSwapped,
                Planted::bug("p/(1−p) instead of (1−p)/p"),
            ),
            (VarBug::PSquared, Planted::bug("p² instead of p(1−p)")),
        ],
        |bug, ctx| {
            let p = 0.8f64;
            let ratio = |p: f64| match bug {
                Some(VarBug::RatioSwapped) => p / (1.0 - p),
                _ => (1.0 - p) / p,
            };
            let bernoulli = |p: f64| match bug {
                Some(VarBug::PSquared) => p * p,
                _ => p * (1.0 - p),
            };
            let mut rng = ctx.rng();
            let j = 10;
            let mut pairs = Vec::new();
            for _ in 0..ctx.size(20, 200) {
                let (w, x) = (
                    vector(&mut rng, j, -1.0, 1.0),
                    vector(&mut rng, j, -2.0, 2.0),
                );
                let a = |r: &[bool]| -> f64 {
                    w.iter()
                        .zip(spec::train_inverted(&x, r, p))
                        .map(|(wj, v)| wj * v)
                        .sum()
                };
                let mean = spec::expectation_over_masks(j, p, a);
                let var = spec::expectation_over_masks(j, p, |r| (a(r) - mean).powi(2));
                let claimed = ratio(p)
                    * w.iter()
                        .zip(&x)
                        .map(|(wj, xj)| (wj * xj).powi(2))
                        .sum::<f64>();
                pairs.push((var, claimed));
                let xj = x[0];
                let sv = spec::expectation_over_masks(1, p, |r| {
                    (spec::train_standard(&[xj], r)[0] - p * xj).powi(2)
                });
                pairs.push((sv, bernoulli(p) * xj * xj));
                let iv = spec::expectation_over_masks(1, p, |r| {
                    (spec::train_inverted(&[xj], r, p)[0] - xj).powi(2)
                });
                pairs.push((iv, ratio(p) * xj * xj));
            }
            let (worst, n) = worst_gap(pairs);
            let mut f = Findings::default();
            f.bound("Var by enumeration (one unit; 2^10 masks of the next pre-activation) = the formulas", worst, 1e-10, n, LONG_SUM_WHY);
            kernel_moments(&mut f, ctx, p, ratio(p));
            f
        },
    )
}

/// The kernel's inverted-dropout masks on 64 units, M draws of a = Σ_j W_j·y_j: mean = Σ W x
/// (z-test, variance known) and unbiased sample variance = (1−p)/p·Σ W²x² (z-test with the
/// exact fourth central moment of a sum of independent two-point terms).
fn kernel_moments(f: &mut Findings, ctx: &Ctx, p: f64, ratio: f64) {
    let mut rng = ctx.rng();
    let units = 64;
    let x: Vec<f32> = (0..units)
        .map(|_| uniform(&mut rng, -2.0, 2.0) as f32)
        .collect();
    let w: Vec<f64> = vector(&mut rng, units, -1.0, 1.0);
    let d = dropout(p as f32, Scaling::Inverted);
    let draws = ctx.size(20_000, 500_000);
    let (mut y, mut mask) = (vec![0.0f32; units], Mask::new(units));
    let mut m = Moments::new();
    for t in 0..draws {
        d.forward(MaskStream::new(ctx.seed, t as u64), &x, &mut y, &mut mask)
            .expect("equal lengths");
        m.push(w.iter().zip(&y).map(|(wj, &v)| wj * f64::from(v)).sum());
    }
    // Term j: c_j = W_j x_j, value c_j/p w.p. p and 0 otherwise (up to the f32 factor
    // 1/p, relative error ≤ 2^-23, far below the test's resolution): variance c²(1−p)/p,
    // fourth central moment c⁴(1−p)[(1−p)³/p³ + 1]; for the sum μ₄ = Σμ₄ⱼ + 3[(Σσ²ⱼ)² − Σσ⁴ⱼ].
    let c: Vec<f64> = w
        .iter()
        .zip(&x)
        .map(|(wj, &xj)| wj * f64::from(xj))
        .collect();
    let s2: Vec<f64> = c.iter().map(|cj| cj * cj * (1.0 - p) / p).collect();
    let mu4: f64 = c
        .iter()
        .map(|cj| cj.powi(4) * (1.0 - p) * ((1.0 - p).powi(3) / p.powi(3) + 1.0))
        .sum::<f64>()
        + 3.0 * (s2.iter().sum::<f64>().powi(2) - s2.iter().map(|v| v * v).sum::<f64>());
    let var_true: f64 = s2.iter().sum();
    let claimed = ratio * c.iter().map(|cj| cj * cj).sum::<f64>();
    f.test(
        "kernel masks: mean of Σ W_j y_j = Σ W_j x_j (inverted dropout is unbiased)",
        z_test_mean(&m, c.iter().sum(), var_true).expect("positive variance"),
        ALPHA,
        Power::new(
            f64::NAN,
            "a sanity check of the sampler: no planted bug moves the mean",
        ),
    );
    // The standard error of s² under the sampler's law (σ², μ₄ above):
    // Var(s²) = μ₄/M − σ⁴(M − 3)/(M(M − 1)). Power: the swapped ratio claims 16× the
    // variance and p² claims 4× (for the standard form, checked above); SE(s²)/σ² ≈ √(κ/M)
    // with κ = μ₄/σ⁴ − 1 ≈ 2 here, 0.01 at M = 2e4: the bug is ≥ 1000 standard errors away.
    let mf = draws as f64;
    let se = (mu4 / mf - var_true * var_true * (mf - 3.0) / (mf * (mf - 1.0))).sqrt();
    f.test(
        "kernel masks: sample variance of Σ W_j y_j = (1−p)/p·Σ W_j² x_j²",
        z_test(m.variance_unbiased(), claimed, se, draws as u64).expect("positive standard error"),
        ALPHA,
        Power::new(
            f64::NAN,
            format!(
                "vs p/(1−p): 16× the variance, ≥ 1000 standard errors at M = {draws}; power ≈ 1"
            ),
        ),
    );
}

// ANCHOR_END: ext_drop_var
// ---------------------------------------------------------------- EXT-DROP-INV-LR
// ANCHOR: ext_drop_inv_lr

#[derive(Clone, Copy)]
enum LrBug {
    SameStep,
    StepTimesP,
    BiasStepScaled,
}

pub(super) fn ext_drop_inv_lr() -> Claim {
    Claim::checked(
        "EXT-DROP-INV-LR",
        ROOM,
        LOCATION,
        "with w = w'/p and shared masks, inverted dropout trained with weight step α' = p²·α \
         follows exactly the trajectory of standard dropout with step α (biases keep step α); \
         with the same step α the two differ (20 SGD steps of a linear unit, p = 0.8)",
        PostVerdict::Extension,
        &[
            (
                LrBug::SameStep,
                Planted::bug(
                    "the same step α for both (DROP-INVERTED read as training-equivalent)",
                ),
            ),
            (LrBug::StepTimesP, Planted::bug("α' = p·α")),
            (
                LrBug::BiasStepScaled,
                Planted::bug("the bias step scaled by p² as well"),
            ),
        ],
        |bug, ctx| {
            let p = 0.8f64;
            let (alpha, steps) = (0.02, 20);
            let (weight_step, bias_step) = match bug {
                None => (p * p * alpha, alpha),
                Some(LrBug::SameStep) => (alpha, alpha),
                Some(LrBug::StepTimesP) => (p * alpha, alpha),
                Some(LrBug::BiasStepScaled) => (p * p * alpha, p * p * alpha),
            };
            let mut rng = ctx.rng();
            let d = 5;
            let t = dropout(p as f32, Scaling::Inverted)
                .keep()
                .threshold()
                .expect("p < 1");
            let (mut gap, mut apart) = (Vec::new(), Tally::default());
            for run in 0..ctx.size(20, 200) {
                let (w0, b0) = (vector(&mut rng, d, -1.0, 1.0), uniform(&mut rng, -1.0, 1.0));
                let data: Vec<(Vec<f64>, f64)> = (0..steps)
                    .map(|_| (vector(&mut rng, d, -2.0, 2.0), uniform(&mut rng, -2.0, 2.0)))
                    .collect();
                let stream = MaskStream::new(ctx.seed, run as u64);
                let mask = |s: usize| -> Vec<bool> {
                    (0..d)
                        .map(|j| stream.uniform((s * d + j) as u64) < t)
                        .collect()
                };
                // Standard: ŷ = Σ w_j r_j x_j + b, ℓ = (ŷ − y)².
                let (mut w, mut b) = (w0.clone(), b0);
                // Inverted: ŷ = Σ w'_j r_j x_j/p + b', w' = p·w at the start.
                let (mut wp, mut bp): (Vec<f64>, f64) = (w0.iter().map(|v| p * v).collect(), b0);
                let (mut ws, mut bs): (Vec<f64>, f64) = (wp.clone(), b0); // inverted, same step α
                for (s, (x, y)) in data.iter().enumerate() {
                    let r = mask(s);
                    let xs = spec::train_standard(x, &r);
                    let xi = spec::train_inverted(x, &r, p);
                    let step =
                        |w: &mut Vec<f64>, b: &mut f64, inputs: &[f64], a_w: f64, a_b: f64| {
                            let e = 2.0
                                * (w.iter().zip(inputs).map(|(a, c)| a * c).sum::<f64>() + *b - y);
                            w.iter_mut()
                                .zip(inputs)
                                .for_each(|(wj, xj)| *wj -= a_w * e * xj);
                            *b -= a_b * e;
                        };
                    step(&mut w, &mut b, &xs, alpha, alpha);
                    step(&mut wp, &mut bp, &xi, weight_step, bias_step);
                    step(&mut ws, &mut bs, &xi, alpha, alpha);
                    for (wj, wpj) in w.iter().zip(&wp) {
                        gap.push((*wj, wpj / p));
                    }
                    gap.push((b, bp));
                }
                let diff = w
                    .iter()
                    .zip(&ws)
                    .map(|(a, c)| (a - c / p).abs())
                    .fold(0.0, f64::max);
                apart.check(diff > 1e-6, || {
                    format!("run {run}: same-step trajectories agree to {diff:e}")
                });
            }
            let (worst, n) = worst_gap(gap);
            let mut f = Findings::default();
            f.bound(
                "every step: w = w'/p and b = b' (inverted with α' = p²α, biases α)",
                worst,
                IDENTITY_TOL,
                n,
                "the two recursions differ only in rounding (p·w, /p, p²α), a few ulps per step over 20 steps of order-one values (CLAIMS.md §4)",
            );
            f.tally(
                "with the same step α the trajectories differ (> 1e-6 after 20 steps)",
                apart,
            );
            f
        },
    )
}

// ANCHOR_END: ext_drop_inv_lr
// ---------------------------------------------------------------- EXT-DROP-RIDGE
// ANCHOR: ext_drop_ridge

#[derive(Clone, Copy)]
enum RidgeBug {
    PSquared,
    GammaFromRows,
}

pub(super) fn ext_drop_ridge() -> Claim {
    Claim::checked(
        "EXT-DROP-RIDGE",
        ROOM,
        LOCATION,
        "linear regression with dropout on the inputs is ridge regression in expectation: \
         E_R‖y − (R∘X)w‖² = ‖y − pXw‖² + p(1−p)‖Γw‖², Γ = diag(XᵀX)^{1/2} (all 2^12 masks, \
         N = 4, d = 3, p = 0.7); with w̃ = p·w the strength (1−p)/p falls monotonically in p",
        PostVerdict::Extension,
        &[
            (RidgeBug::PSquared, Planted::bug("p² instead of p(1−p)")),
            (
                RidgeBug::GammaFromRows,
                Planted::bug("Γ built from XXᵀ (rows, N entries) instead of XᵀX"),
            ),
        ],
        |bug, ctx| {
            let p = 0.7;
            let mut rng = ctx.rng();
            let (mut pairs, mut shapes) = (Vec::new(), Tally::default());
            for _ in 0..ctx.size(5, 50) {
                let x: Vec<Vec<f64>> = (0..4).map(|_| vector(&mut rng, 3, -2.0, 2.0)).collect();
                let (y, w) = (
                    vector(&mut rng, 4, -2.0, 2.0),
                    vector(&mut rng, 3, -2.0, 2.0),
                );
                let gamma = match bug {
                    Some(RidgeBug::GammaFromRows) => x
                        .iter()
                        .map(|row| row.iter().map(|v| v * v).sum::<f64>().sqrt())
                        .collect(),
                    _ => spec::ridge_gamma(&x),
                };
                shapes.check(gamma.len() == w.len(), || {
                    format!("Γ has {} entries for {} weights", gamma.len(), w.len())
                });
                let lhs = spec::dropout_regression_loss(&x, &y, &w, p);
                let rhs = match bug {
                    // p² where p(1−p) belongs: ‖y − pXw‖² + p²‖Γw‖².
                    Some(RidgeBug::PSquared) => {
                        spec::ridge_form(&x, &y, &w, p, &gamma)
                            + (p * p - p * (1.0 - p))
                                * gamma
                                    .iter()
                                    .zip(&w)
                                    .map(|(g, v)| (g * v).powi(2))
                                    .sum::<f64>()
                    }
                    _ => spec::ridge_form(&x, &y, &w, p, &gamma),
                };
                pairs.push((lhs, rhs));
            }
            let (worst, n) = worst_gap(pairs);
            let mut f = Findings::default();
            f.bound(
                "E_R‖y − (R∘X)w‖² (2^12 masks) = ‖y − pXw‖² + p(1−p)‖Γw‖²",
                worst,
                1e-10,
                n,
                LONG_SUM_WHY,
            );
            f.tally("Γ has one entry per weight (d = 3)", shapes);
            let mut monotone = Tally::default();
            let strength = |p: f64| (1.0 - p) / p;
            for k in 1..99 {
                let (a, b) = (f64::from(k) / 100.0, f64::from(k + 1) / 100.0);
                monotone.check(strength(b) < strength(a), || {
                    format!("(1−p)/p not falling at {a}")
                });
            }
            f.tally(
                "the strength (1−p)/p after w̃ = p·w falls monotonically on p = 0.01 … 0.99",
                monotone,
            );
            f
        },
    )
}

// ANCHOR_END: ext_drop_ridge
// ---------------------------------------------------------------- EXT-DROP-NWGM
// ANCHOR: ext_drop_nwgm

#[derive(Clone, Copy)]
enum NwgmBug {
    ArithmeticReference,
}

pub(super) fn ext_drop_nwgm() -> Claim {
    Claim::checked(
        "EXT-DROP-NWGM",
        ROOM,
        LOCATION,
        "for a sigmoid unit with dropout on its d inputs, the weight-scaled output σ(Σ p·w_j x_j \
         + b) equals the normalised weighted geometric mean G/(G + G') of the 2^d sub-networks' \
         outputs exactly, and differs from their arithmetic mean (enumeration, p = 0.8)",
        PostVerdict::Extension,
        &[(
            NwgmBug::ArithmeticReference,
            Planted::bug("the arithmetic mean E_r[σ(z_r)] used as the reference"),
        )],
        |bug, ctx| {
            let p = 0.8;
            let mut rng = ctx.rng();
            let d = ctx.size(10, 12);
            let (mut pairs, mut differs) = (Vec::new(), Tally::default());
            for _ in 0..ctx.size(20, 100) {
                let (w, x) = (
                    vector(&mut rng, d, -1.0, 1.0),
                    vector(&mut rng, d, -2.0, 2.0),
                );
                let b = uniform(&mut rng, -1.0, 1.0);
                let scaled = spec::weight_scaled_sigmoid(&w, &x, b, p);
                let reference = match bug {
                    None => spec::normalised_geometric_mean(&w, &x, b, p),
                    Some(NwgmBug::ArithmeticReference) => spec::arithmetic_mean(&w, &x, b, p),
                };
                pairs.push((scaled, reference));
                let am = spec::arithmetic_mean(&w, &x, b, p);
                differs.check((am - scaled).abs() > 1e-9, || {
                    format!("arithmetic mean {am} = σ(E z) {scaled}")
                });
            }
            let (worst, n) = worst_gap(pairs);
            let mut f = Findings::default();
            f.bound(
                format!("σ(E_r z_r) = G/(G + G') over all 2^{d} masks"),
                worst,
                1e-10,
                n,
                LONG_SUM_WHY,
            );
            f.tally(
                "the arithmetic mean E_r[σ(z_r)] differs from σ(E_r z_r) (gap > 1e-9)",
                differs,
            );
            f
        },
    )
}

// ANCHOR_END: ext_drop_nwgm
