//! The dropout extensions of the catalogue appendix: the variance dropout injects
//! (EXT-DROP-VAR), the learning-rate caveat of inverted dropout (EXT-DROP-INV-LR), dropout as
//! ridge regression (EXT-DROP-RIDGE), and weight scaling as a normalised geometric mean
//! (EXT-DROP-NWGM).

use rand::Rng;

use super::{LONG_SUM_WHY, ROOM, dropout, uniform, worst_gap};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Power, Tally,
};
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
            f.bound(Label::from("Var by enumeration (one unit; 2^10 masks of the next pre-activation) = the formulas").markdown(r"Var by enumeration (one unit; $2^{10}$ masks of the next pre-activation) = the formulas"), worst, 1e-10, n, LONG_SUM_WHY);
            kernel_moments(&mut f, ctx, p, ratio(p), bug);
            f
        },
    )
    .typeset(r"standard dropout $y = r x$ has $\mathbb{E} = p x$, $\mathrm{Var} = p(1-p)\, x^2$; inverted $y = r x/p$ has $\mathbb{E} = x$, $\mathrm{Var} = x^2 (1-p)/p$; the next pre-activation $\sum W_j r_j x_j/p$ has variance $(1-p)/p \cdot \sum W_j^2 x_j^2$ given $x$ (exact over all masks; z-tests on the kernel's masks)")
}

/// The kernel's inverted-dropout masks on 64 units, M draws of a = Σ_j W_j·y_j: mean = Σ W x
/// (z-test, variance known) and unbiased sample variance = (1−p)/p·Σ W²x² (z-test with the
/// exact fourth central moment of a sum of independent two-point terms).
fn kernel_moments(f: &mut Findings, ctx: &Ctx, p: f64, ratio: f64, bug: Option<VarBug>) {
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
        Label::from("kernel masks: mean of Σ W_j y_j = Σ W_j x_j (inverted dropout is unbiased)").markdown(r"kernel masks: mean of $\sum_j W_j y_j = \sum_j W_j x_j$ (inverted dropout is unbiased)"),
        z_test_mean(&m, c.iter().sum(), var_true).expect("positive variance"),
        ALPHA,
        // A sanity check of the sampler: no planted variant moves the mean, so none is
        // this test's to reject and it states no power.
        Power::none(),
    );
    // The standard error of s² under the sampler's law (σ², μ₄ above):
    // Var(s²) = μ₄/M − σ⁴(M − 3)/(M(M − 1)). Power: the swapped ratio p/(1−p) claims 16×
    // the variance, (16 − 1)·σ² away; SE(s²)/σ² ≈ √(κ/M) with κ = μ₄/σ⁴ − 1 ≈ 2 here, 0.01
    // at M = 2e4: about 1500 standard errors. The p² variant changes only the standard
    // form's variance, which the enumeration checks; it predicts the same σ² here.
    let mf = draws as f64;
    let se = (mu4 / mf - var_true * var_true * (mf - 3.0) / (mf * (mf - 1.0))).sqrt();
    let sum_c2 = c.iter().map(|cj| cj * cj).sum::<f64>();
    let swapped = ((p / (1.0 - p) - (1.0 - p) / p) * sum_c2).abs() / se;
    let power = match bug {
        Some(VarBug::PSquared) => Power::new(
            crate::stats::ALPHA,
            "p² in place of p(1−p) leaves the inverted variance alone (no shift: power α); \
             the enumeration rejects it",
        ),
        _ => super::z_power(swapped, "p/(1−p) in place of (1−p)/p"),
    };
    f.test(
        Label::from("kernel masks: sample variance of Σ W_j y_j = (1−p)/p·Σ W_j² x_j²").markdown(
            r"kernel masks: sample variance of $\sum_j W_j y_j = \frac{1-p}{p} \sum_j W_j^2 x_j^2$",
        ),
        z_test(m.variance_unbiased(), claimed, se, draws as u64).expect("positive standard error"),
        ALPHA,
        power,
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
                Label::from("every step: w = w'/p and b = b' (inverted with α' = p²α, biases α)").markdown(r"every step: $w = w'/p$ and $b = b'$ (inverted with $\alpha' = p^2\alpha$, biases $\alpha$)"),
                worst,
                IDENTITY_TOL,
                n,
                "the two recursions differ only in rounding (p·w, /p, p²α), a few ulps per step over 20 steps of order-one values (conventions appendix, Tolerances)",
            );
            f.tally(
                Label::from("with the same step α the trajectories differ (> 1e-6 after 20 steps)").markdown(r"with the same step $\alpha$ the trajectories differ ($> 10^{-6}$ after 20 steps)"),
                apart,
            );
            f
        },
    )
    .typeset(r"with $w = w'/p$ and shared masks, inverted dropout trained with weight step $\alpha' = p^2 \alpha$ follows exactly the trajectory of standard dropout with step $\alpha$ (biases keep step $\alpha$); with the same step $\alpha$ the two differ (20 SGD steps of a linear unit, $p = 0.8$)")
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
         N = 4, d = 3, p = 0.7); with w̃ = p·w the strength, measured from the enumerated \
         loss, is (1−p)/p and falls monotonically in p",
        PostVerdict::Extension,
        &[
            (
                RidgeBug::PSquared,
                Planted::bug("p² instead of p(1−p)").by("E_R"),
            ),
            (
                RidgeBug::GammaFromRows,
                Planted::bug("Γ built from XXᵀ (rows, N entries) instead of XᵀX").by("E_R"),
            ),
        ],
        |bug, ctx| {
            let p = 0.7;
            let mut rng = ctx.rng();
            // The penalty coefficient of ‖Γw‖² as the code under test states it.
            let coefficient = |p: f64| match bug {
                Some(RidgeBug::PSquared) => p * p,
                _ => p * (1.0 - p),
            };
            // Γ as the code under test builds it. With the rows' norms Γ has N = 4 entries
            // for d = 3 weights; the penalty then pairs w with the first three row norms, so
            // the variant is rejected on values, not on its length.
            let gamma_of = |x: &[Vec<f64>]| -> Vec<f64> {
                match bug {
                    Some(RidgeBug::GammaFromRows) => x
                        .iter()
                        .map(|row| row.iter().map(|v| v * v).sum::<f64>().sqrt())
                        .collect(),
                    _ => spec::ridge_gamma(x),
                }
            };
            let penalty = |gamma: &[f64], w: &[f64]| -> f64 {
                gamma.iter().zip(w).map(|(g, v)| (g * v).powi(2)).sum()
            };
            let fit = |x: &[Vec<f64>], y: &[f64], w: &[f64]| -> f64 {
                x.iter()
                    .zip(y)
                    .map(|(xi, yi)| {
                        (yi - xi.iter().zip(w).map(|(a, b)| a * b).sum::<f64>()).powi(2)
                    })
                    .sum()
            };
            let grid: Vec<f64> = (1..10).map(|k| f64::from(k) / 10.0).collect();
            let (mut pairs, mut strengths) = (Vec::new(), MaxError::default());
            let mut monotone = Tally::default();
            for _ in 0..ctx.size(5, 50) {
                let x: Vec<Vec<f64>> = (0..4).map(|_| vector(&mut rng, 3, -2.0, 2.0)).collect();
                let (y, w) = (
                    vector(&mut rng, 4, -2.0, 2.0),
                    vector(&mut rng, 3, -2.0, 2.0),
                );
                let gamma = gamma_of(&x);
                let lhs = spec::dropout_regression_loss(&x, &y, &w, p);
                let scaled: Vec<f64> = w.iter().map(|v| p * v).collect();
                let rhs = fit(&x, &y, &scaled) + coefficient(p) * penalty(&gamma, &w);
                pairs.push((lhs, rhs));
                // The strength after w̃ = p·w: the enumerated loss at weights w̃/p, less the
                // fit of w̃, per unit of ‖Γw̃‖². Measured from the enumeration on a grid of p,
                // against the stated coefficient/p², and it must fall as p grows.
                let tilde = &w;
                let mut previous = f64::INFINITY;
                for &q in &grid {
                    let unscaled: Vec<f64> = tilde.iter().map(|v| v / q).collect();
                    let (a, b) = (
                        spec::dropout_regression_loss(&x, &y, &unscaled, q),
                        fit(&x, &y, tilde),
                    );
                    let c = penalty(&gamma, tilde);
                    let measured = (a - b) / c;
                    // The rounding of a − b: A is a probability-weighted sum of 4096
                    // non-negative terms, so its recursive summation errs by ≤ 4096·u·A
                    // (plus the terms' own few roundings), B by a few u·B; the division
                    // adds one rounding of the result. In units of ε = 2u:
                    // tolerance (4096 + 64)·ε·(A + B)/C.
                    let tol = (4096.0 + 64.0) * f64::EPSILON * (a + b) / c;
                    strengths.record((measured - coefficient(q) / (q * q)).abs() / tol, q);
                    monotone.check(measured < previous, || {
                        format!("strength {measured} at p = {q} not below {previous}")
                    });
                    previous = measured;
                }
            }
            let (worst, n) = worst_gap(pairs);
            let mut f = Findings::default();
            f.bound(
                Label::from("E_R‖y − (R∘X)w‖² (2^12 masks) = ‖y − pXw‖² + p(1−p)‖Γw‖²").markdown(r"$\mathbb{E}_R\lVert y - (R \circ X)w \rVert^2$ ($2^{12}$ masks) $= \lVert y - pXw \rVert^2 + p(1-p)\lVert \Gamma w \rVert^2$"),
                worst,
                1e-10,
                n,
                LONG_SUM_WHY,
            );
            f.max_error(
                Label::from("strength after w̃ = p·w, from the enumerated loss: (E_R‖y − (R∘X)w̃/p‖² − ‖y − Xw̃‖²)/‖Γw̃‖² = (1−p)/p, p = 0.1 … 0.9 (in units of its rounding bound)").markdown(r"strength after $\widetilde{w} = p w$, from the enumerated loss: $(\mathbb{E}_R \lVert y - (R \circ X)\widetilde{w}/p \rVert^2 - \lVert y - X\widetilde{w} \rVert^2)/\lVert \Gamma \widetilde{w} \rVert^2 = (1-p)/p$, $p = 0.1, \dots, 0.9$ (in units of its rounding bound)"),
                &strengths,
                1.0,
                "per case: the enumerated loss A sums 4096 non-negative weighted terms \
                 (≤ 4096·u·A), the fit B a few terms (≤ 64·u·B), so |error| ≤ (4096 + 64)·ε·(A + \
                 B)/‖Γw̃‖² with ε = 2u, a factor 2 of room",
            );
            f.tally(
                Label::from("the measured strength falls monotonically on p = 0.1, 0.2, …, 0.9").markdown(r"the measured strength falls monotonically on $p = 0.1, 0.2, \dots, 0.9$"),
                monotone,
            );
            f
        },
    )
    .typeset(r"linear regression with dropout on the inputs is ridge regression in expectation: $\mathbb{E}_R \lVert y - (R \circ X)w \rVert^2 = \lVert y - pXw \rVert^2 + p(1-p) \lVert \Gamma w \rVert^2$, $\Gamma = \mathrm{diag}(X^\top X)^{1/2}$ (all $2^{12}$ masks, $N = 4$, $d = 3$, $p = 0.7$); with $\widetilde{w} = p w$ the strength, measured from the enumerated loss, is $(1-p)/p$ and falls monotonically in $p$")
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
                Label::from(format!("σ(E_r z_r) = G/(G + G') over all 2^{d} masks"))
                    .markdown(format!(r"$\sigma(\mathbb{{E}}_r z_r) = G/(G + G')$ over all $2^{{{d}}}$ masks")),
                worst,
                1e-10,
                n,
                LONG_SUM_WHY,
            );
            f.tally(
                Label::from("the arithmetic mean E_r[σ(z_r)] differs from σ(E_r z_r) (gap > 1e-9)").markdown(r"the arithmetic mean $\mathbb{E}_r[\sigma(z_r)]$ differs from $\sigma(\mathbb{E}_r z_r)$ (gap $> 10^{-9}$)"),
                differs,
            );
            f
        },
    )
    .typeset(r"for a sigmoid unit with dropout on its $d$ inputs, the weight-scaled output $\sigma(\sum p\, w_j x_j + b)$ equals the normalised weighted geometric mean $G/(G + G')$ of the $2^d$ sub-networks' outputs exactly, and differs from their arithmetic mean (enumeration, $p = 0.8$)")
}

// ANCHOR_END: ext_drop_nwgm
