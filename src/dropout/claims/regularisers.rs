//! REG-L0, REG-L1, REG-L2 and REG-MAXNORM: the regularisers the post lists by name
//! (§其他提高泛化的方法), with the standard definitions, on the f64 specification and the
//! f32 kernels of [`crate::dropout::regularisers`].

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::{ROOM, uniform};
use crate::activation::Activation;
use crate::backprop::Dense;
use crate::claims::gradcheck::{self, band_ratio, central_difference};
use crate::claims::{Claim, Ctx, Findings, Label, MaxError, Planted, PostVerdict, Tally};
use crate::dropout::regularisers as fast;
use derivations::dropout as spec;

const LOCATION: &str = "§其他提高泛化的方法";

/// A vector with exact zeros, tiny (down to subnormal) and ordinary entries.
fn sparse_vector(rng: &mut impl Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| match rng.random_range(0..5) {
            0 => 0.0,
            1 => 10f64.powf(uniform(rng, -300.0, -10.0)) * if rng.random() { 1.0 } else { -1.0 },
            2 => 5e-324,
            _ => uniform(rng, -3.0, 3.0),
        })
        .collect()
}

// ---------------------------------------------------------------- REG-L0
// ANCHOR: reg_l0

#[derive(Clone, Copy)]
enum L0Bug {
    Tolerance,
}

pub(super) fn reg_l0() -> Claim {
    Claim::checked(
        "REG-L0",
        ROOM,
        LOCATION,
        "‖w‖₀ = #{j : w_j ≠ 0} counts every non-zero, however small; it is not a norm \
         (‖a·w‖₀ = ‖w‖₀ ≠ |a|·‖w‖₀), satisfies the triangle inequality, and equals \
         lim_{q→0⁺} Σ|w_j|^q (f64 spec and f32 kernel)",
        PostVerdict::Correct,
        &[(
            L0Bug::Tolerance,
            Planted::bug("counting |w_j| > 1e-8, an undocumented tolerance"),
        )],
        |bug, ctx| {
            let l0 = |w: &[f64]| match bug {
                None => spec::l0(w),
                Some(L0Bug::Tolerance) => w.iter().filter(|v| v.abs() > 1e-8).count(),
            };
            let mut rng = ctx.rng();
            let (mut count, mut homog, mut tri, mut kernel) = (
                Tally::default(),
                Tally::default(),
                Tally::default(),
                Tally::default(),
            );
            for _ in 0..ctx.size(2_000, 50_000) {
                let n = rng.random_range(1..20);
                let (x, y) = (sparse_vector(&mut rng, n), sparse_vector(&mut rng, n));
                let nonzero = x.iter().filter(|v| v.abs() > 0.0).count();
                count.check(l0(&x) == nonzero, || format!("‖{x:?}‖₀ = {}", l0(&x)));
                // a ≥ 1: a·5e-324 must not round to 0; a < 2: no overflow.
                let a = uniform(&mut rng, 1.0, 2.0);
                let ax: Vec<f64> = x.iter().map(|v| a * v).collect();
                homog.check(l0(&ax) == l0(&x), || {
                    format!("a = {a}: ‖ax‖₀ = {}, ‖x‖₀ = {}", l0(&ax), l0(&x))
                });
                let sum: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
                tri.check(l0(&sum) <= l0(&x) + l0(&y), || {
                    format!("triangle fails at {x:?}, {y:?}")
                });
                let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                let want = x32.iter().filter(|v| v.abs() > 0.0).count();
                kernel.check(fast::l0_count(&x32) == want, || {
                    format!("kernel ‖{x32:?}‖₀")
                });
            }
            let mut f = Findings::default();
            f.tally(
                Label::from("‖w‖₀ counts every non-zero entry (down to subnormals 5e-324)").markdown(r"$\lVert w \rVert_0$ counts every non-zero entry (down to subnormals $5 \times 10^{-324}$)"),
                count,
            );
            f.tally(Label::from("‖a·w‖₀ = ‖w‖₀ for a ∈ [1, 2), so homogeneity (|a|·‖w‖₀) fails for every w ≠ 0, a ≠ 1").markdown(r"$\lVert a w \rVert_0 = \lVert w \rVert_0$ for $a \in [1, 2)$, so homogeneity ($\lvert a \rvert\, \lVert w \rVert_0$) fails for every $w \ne 0$, $a \ne 1$"), homog);
            f.tally(Label::from("triangle inequality ‖x + y‖₀ ≤ ‖x‖₀ + ‖y‖₀").markdown(r"triangle inequality $\lVert x + y \rVert_0 \le \lVert x \rVert_0 + \lVert y \rVert_0$"), tri);
            f.tally(
                "f32 kernel counts every non-zero f32 (subnormals included)",
                kernel,
            );
            lq_limit(&mut f, ctx, &l0);
            f
        },
    )
    .typeset(r"$\lVert w \rVert_0 = \#\{j : w_j \ne 0\}$ counts every non-zero, however small; it is not a norm ($\lVert a w \rVert_0 = \lVert w \rVert_0 \ne \lvert a \rvert\, \lVert w \rVert_0$), satisfies the triangle inequality, and equals $\lim_{q \to 0^+} \sum \lvert w_j \rvert^q$ (f64 spec and f32 kernel)")
}

/// Σ|w_j|^q → ‖w‖₀ as q → 0⁺ on entries with 1e-3 ≤ |w_j| ≤ 1e3 (plus exact zeros):
/// |w|^q = e^{q ln|w|} differs from 1 by at most e^{q·6.91} − 1 ≈ 6.91·q.
fn lq_limit(f: &mut Findings, ctx: &Ctx, l0: &dyn Fn(&[f64]) -> usize) {
    let mut rng = ctx.rng();
    let q = 1e-6;
    let mut worst = 0.0f64;
    let mut cases = 0;
    for _ in 0..ctx.size(1_000, 20_000) {
        let n = rng.random_range(1..30);
        let w: Vec<f64> = (0..n)
            .map(|_| {
                if rng.random_range(0..4) == 0 {
                    0.0
                } else {
                    10f64.powf(uniform(&mut rng, -3.0, 3.0))
                }
            })
            .collect();
        let allowed = n as f64 * ((q * 1e3f64.ln()).exp() - 1.0);
        worst = worst.max((spec::lq_sum(&w, q) - l0(&w) as f64).abs() / allowed);
        cases += 1;
    }
    f.bound(
        Label::from("Σ|w_j|^q → ‖w‖₀ at q = 1e-6, 1e-3 ≤ |w_j| ≤ 1e3 (in units of the bound n·(e^{q ln 1e3} − 1))").markdown(r"$\sum \lvert w_j \rvert^q \to \lVert w \rVert_0$ at $q = 10^{-6}$, $10^{-3} \le \lvert w_j \rvert \le 10^3$ (in units of the bound $n (e^{q \ln 10^3} - 1)$)"),
        worst,
        1.0,
        cases,
        "each |w|^q lies within e^{q·ln 1e3} − 1 ≈ 6.9e-6 of 1; rounding (≤ 30·ε) is far below",
    );
}

// ANCHOR_END: reg_l0
// ---------------------------------------------------------------- REG-L1
// ANCHOR: reg_l1

#[derive(Clone, Copy)]
enum L1Bug {
    L2Gradient,
    Overshoot,
}

/// argmin_u ½(u − w)² + t|u|, found numerically: bisection on the optimality condition
/// 0 ∈ (u − w) + t·∂|u|, whose one-sided derivatives are monotone in u. (Comparing objective
/// values, as a ternary search does, stalls at √ε ≈ 1e-8 where the objective is flat;
/// the derivative's sign is exact to an ulp.) 200 halvings of a bracket of width ≤ 8.
fn prox_by_search(w: f64, t: f64) -> f64 {
    let right = |u: f64| u - w + if u >= 0.0 { t } else { -t };
    let left = |u: f64| u - w + if u > 0.0 { t } else { -t };
    let (mut lo, mut hi) = (-w.abs() - 1.0, w.abs() + 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if right(mid) < 0.0 {
            lo = mid;
        } else if left(mid) > 0.0 {
            hi = mid;
        } else {
            return mid; // 0 lies in the subdifferential at mid
        }
    }
    0.5 * (lo + hi)
}

pub(super) fn reg_l1() -> Claim {
    Claim::checked(
        "REG-L1",
        ROOM,
        LOCATION,
        "λ‖w‖₁ has subgradient λ·sign(w) (0 at w = 0) and proximal step S_t(w) = \
         sign(w)·max(|w| − t, 0) = argmin_u ½(u − w)² + t|u|, which sets |w| ≤ t to exactly 0 \
         (f64 spec; the f32 kernel rounds the spec once)",
        PostVerdict::Correct,
        &[
            (L1Bug::L2Gradient, Planted::bug("gradient λ·w (the L2 one)")),
            (
                L1Bug::Overshoot,
                Planted::bug("plain step w − t·sign(w): overshoots past 0 when |w| < t"),
            ),
        ],
        |bug, ctx| {
            let grad = |w: f64, lambda: f64| match bug {
                Some(L1Bug::L2Gradient) => lambda * w,
                _ => spec::l1_subgradient(w, lambda),
            };
            let prox = |w: f64, t: f64| match bug {
                Some(L1Bug::Overshoot) => w - t * w.signum(),
                _ => spec::soft_threshold(w, t),
            };
            let mut rng = ctx.rng();
            let (mut argmin, mut fd) = (MaxError::default(), MaxError::default());
            let (mut zeros, mut kernel) = (Tally::default(), Tally::default());
            for _ in 0..ctx.size(2_000, 50_000) {
                let (w, t) = (uniform(&mut rng, -3.0, 3.0), uniform(&mut rng, 0.0, 2.0));
                argmin.record((prox(w, t) - prox_by_search(w, t)).abs(), w);
                if w.abs() <= t {
                    zeros.check(prox(w, t) == 0.0, || format!("S_{t}({w}) = {}", prox(w, t)));
                }
                let lambda = uniform(&mut rng, 0.1, 2.0);
                if w.abs() >= 1e-3 {
                    let penalty = |v: f64| spec::l1(&[v], lambda);
                    fd.record(
                        band_ratio(grad(w, lambda), central_difference(penalty, w)),
                        w,
                    );
                }
                let (w32, t32) = (w as f32, t as f32);
                let mut v = [w32];
                fast::soft_threshold_in_place(&mut v, t32).expect("t ≥ 0");
                let want = spec::soft_threshold(f64::from(w32), f64::from(t32)) as f32;
                kernel.check(v[0].to_bits() == want.to_bits(), || {
                    format!("kernel S_{t32}({w32}) = {}", v[0])
                });
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from(format!(
                    "prox = argmin ½(u − w)² + t|u| (bisection), worst at w = {:.4}",
                    argmin.at
                ))
                .markdown(format!(
                    r"prox $= \operatorname{{argmin}}_u \frac12 (u - w)^2 + t \lvert u \rvert$ (bisection), worst at $w = {:.4}$",
                    argmin.at
                )),
                &argmin,
                1e-9,
                "the bisection brackets the minimiser to an ulp of |w| ≤ 3 and S_t rounds once, so the \
                 two agree to a few 1e-16; 1e-9 is far above that and far below the planted \
                 bugs' effects, which are of the order of t",
            );
            f.tally(
                Label::from("S_t(w) = 0 exactly for |w| ≤ t")
                    .markdown(r"$S_t(w) = 0$ exactly for $\lvert w \rvert \le t$"),
                zeros,
            );
            let mut sub = Tally::default();
            sub.check(grad(0.0, 1.0) == 0.0, || {
                format!("subgradient at 0 = {}", grad(0.0, 1.0))
            });
            f.tally(Label::from("subgradient convention: 0 at w = 0").markdown(r"subgradient convention: $0$ at $w = 0$"), sub);
            f.max_error(
                Label::from("λ·sign(w) against finite differences of λ|w|, |w| ≥ 1e-3").markdown(r"$\lambda \operatorname{sign}(w)$ against finite differences of $\lambda \lvert w \rvert$, $\lvert w \rvert \ge 10^{-3}$"),
                &fd,
                1.0,
                gradcheck::WHY,
            );
            f.tally(
                Label::from("f32 kernel = the spec rounded once to f32 (w − t is exact or correctly rounded)").markdown(r"f32 kernel = the spec rounded once to f32 ($w - t$ is exact or correctly rounded)"),
                kernel,
            );
            let mut typed = Tally::default();
            typed.check(
                fast::soft_threshold_in_place(&mut [1.0], -0.1).is_err(),
                || "t < 0 accepted".into(),
            );
            f.tally(Label::from("t < 0 is a typed error").markdown(r"$t < 0$ is a typed error"), typed);
            f
        },
    )
    .typeset(r"$\lambda \lVert w \rVert_1$ has subgradient $\lambda \operatorname{sign}(w)$ ($0$ at $w = 0$) and proximal step $S_t(w) = \operatorname{sign}(w) \max(\lvert w \rvert - t, 0) = \operatorname{argmin}_u \frac12 (u - w)^2 + t \lvert u \rvert$, which sets $\lvert w \rvert \le t$ to exactly 0 (f64 spec; the f32 kernel rounds the spec once)")
}

// ANCHOR_END: reg_l1
// ---------------------------------------------------------------- REG-L2
// ANCHOR: reg_l2

#[derive(Clone, Copy)]
enum L2Bug {
    FactorTwo,
    BiasDecayed,
    DecayAfterStep,
}

pub(super) fn reg_l2() -> Claim {
    Claim::checked(
        "REG-L2",
        ROOM,
        LOCATION,
        "(λ/2)‖w‖² has gradient λw, and one SGD step on ℓ + (λ/2)‖w‖² is exactly weight decay, \
         w ← (1 − αλ)w − α∇ℓ; biases are not decayed (f64 spec; the f32 layer step)",
        PostVerdict::Correct,
        &[
            (
                L2Bug::FactorTwo,
                Planted::bug("penalty λ‖w‖² with gradient λw (factor 2)"),
            ),
            (L2Bug::BiasDecayed, Planted::bug("biases decayed as well")),
            (
                L2Bug::DecayAfterStep,
                Planted::bug("decay after the step: (w − α∇ℓ)(1 − αλ)"),
            ),
        ],
        |bug, ctx| {
            let penalty = |w: &[f64], lambda: f64| match bug {
                Some(L2Bug::FactorTwo) => 2.0 * spec::l2(w, lambda),
                _ => spec::l2(w, lambda),
            };
            let decay = |w: f64, g: f64, a: f64, l: f64| match bug {
                Some(L2Bug::DecayAfterStep) => (w - a * g) * (1.0 - a * l),
                _ => spec::weight_decay_step(w, g, a, l),
            };
            let mut rng = ctx.rng();
            let (mut same, mut fd) = (MaxError::default(), MaxError::default());
            for _ in 0..ctx.size(2_000, 50_000) {
                let (w, g) = (uniform(&mut rng, -3.0, 3.0), uniform(&mut rng, -3.0, 3.0));
                let (a, l) = (uniform(&mut rng, 0.0, 0.5), uniform(&mut rng, 0.0, 0.5));
                let scale = f64::EPSILON * (w.abs() + a * g.abs() + a * l * w.abs()).max(1e-300);
                same.record(
                    (spec::l2_sgd_step(w, g, a, l) - decay(w, g, a, l)).abs() / scale,
                    w,
                );
                let lambda = uniform(&mut rng, 0.1, 2.0);
                fd.record(
                    band_ratio(
                        spec::l2_gradient(w, lambda),
                        central_difference(|v| penalty(&[v], lambda), w),
                    ),
                    w,
                );
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("w − α(∇ℓ + λw) = (1 − αλ)w − α∇ℓ (in units of ε·(|w| + α|∇ℓ| + αλ|w|))").markdown(r"$w - \alpha(\nabla\ell + \lambda w) = (1 - \alpha\lambda)w - \alpha\nabla\ell$ (in units of $\varepsilon(\lvert w \rvert + \alpha\lvert\nabla\ell\rvert + \alpha\lambda\lvert w \rvert)$)"),
                &same,
                10.0,
                "each side makes ≤ 4 roundings of terms bounded by |w| + α|∇ℓ| + αλ|w|: ≤ 4 + 4 \
                 ulps of that scale, 10 with room",
            );
            f.max_error(
                Label::from("λw against finite differences of (λ/2)‖w‖²").markdown(
                    r"$\lambda w$ against finite differences of $(\lambda/2)\lVert w \rVert^2$",
                ),
                &fd,
                1.0,
                gradcheck::WHY,
            );
            layer_step(&mut f, ctx, bug);
            f
        },
    )
    .typeset(r"$(\lambda/2) \lVert w \rVert^2$ has gradient $\lambda w$, and one SGD step on $\ell + (\lambda/2) \lVert w \rVert^2$ is exactly weight decay, $w \leftarrow (1 - \alpha\lambda) w - \alpha \nabla\ell$; biases are not decayed (f64 spec; the f32 layer step)")
}

/// The f32 layer step: weights decayed (within f32 rounding of the spec), biases not.
fn layer_step(f: &mut Findings, ctx: &Ctx, bug: Option<L2Bug>) {
    let mut rng = ctx.rng();
    let (a, l) = (0.1f32, 0.3f32);
    let (mut weights, mut biases) = (MaxError::default(), Tally::default());
    for _ in 0..ctx.size(50, 500) {
        let mut layer = Dense {
            weights: DMatrix::from_fn(5, 3, |_, _| uniform(&mut rng, -2.0, 2.0) as f32),
            bias: DVector::from_fn(3, |_, _| uniform(&mut rng, -2.0, 2.0) as f32),
            activation: Activation::Tanh,
        };
        let gw = DMatrix::from_fn(5, 3, |_, _| uniform(&mut rng, -2.0, 2.0) as f32);
        let gb: Vec<f32> = (0..3)
            .map(|_| uniform(&mut rng, -2.0, 2.0) as f32)
            .collect();
        let before = layer.clone();
        fast::weight_decay_step(&mut layer, &gw, &gb, a, l).expect("valid parameters");
        if matches!(bug, Some(L2Bug::BiasDecayed)) {
            for (b, (b0, g)) in layer.bias.iter_mut().zip(before.bias.iter().zip(&gb)) {
                *b = (1.0 - a * l) * b0 - a * g;
            }
        }
        for ((w, w0), g) in layer
            .weights
            .iter()
            .zip(before.weights.iter())
            .zip(gw.iter())
        {
            let want =
                spec::weight_decay_step(f64::from(*w0), f64::from(*g), f64::from(a), f64::from(l));
            let scale = f64::from(w0.abs()) + f64::from(a * g.abs());
            weights.record(
                (f64::from(*w) - want).abs() / (f64::from(f32::EPSILON) * scale),
                want,
            );
        }
        for ((b, b0), g) in layer.bias.iter().zip(before.bias.iter()).zip(&gb) {
            biases.check(*b == b0 - a * g, || {
                format!("bias {b0} → {b}, not {}", b0 - a * g)
            });
        }
    }
    f.max_error(
        Label::from("f32 layer step: W ← (1 − αλ)W − α∇ℓ (in units of ε₃₂·(|w| + α|∇ℓ|))").markdown(r"f32 layer step: $W \leftarrow (1 - \alpha\lambda)W - \alpha\nabla\ell$ (in units of $\varepsilon_{32}(\lvert w \rvert + \alpha\lvert\nabla\ell\rvert)$)"),
        &weights,
        4.0,
        "1 − αλ, two products and a difference in f32 (α, λ are f32): ≤ 4 roundings of u = ε₃₂/2 each, 2 with room ×2");
    f.tally(
        Label::from("biases take the plain step b − α∇ℓ (not decayed)")
            .markdown(r"biases take the plain step $b - \alpha\nabla\ell$ (not decayed)"),
        biases,
    );
}

// ANCHOR_END: reg_l2
// ---------------------------------------------------------------- REG-MAXNORM
// ANCHOR: reg_maxnorm

#[derive(Clone, Copy)]
enum MaxNormBug {
    Frobenius,
    Rows,
    AlwaysRescale,
}

const C: f64 = 1.5;

/// The projection under test, on a J × K matrix stored row by row (C2).
fn project(bug: Option<MaxNormBug>, w: &mut [Vec<f64>]) {
    match bug {
        None => spec::max_norm_project(w, C),
        Some(MaxNormBug::Frobenius) => {
            let norm = w.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
            let s = (C / norm).min(1.0);
            w.iter_mut().flatten().for_each(|v| *v *= s);
        }
        Some(MaxNormBug::Rows) => {
            for row in w.iter_mut() {
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > C {
                    row.iter_mut().for_each(|v| *v *= C / norm);
                }
            }
        }
        Some(MaxNormBug::AlwaysRescale) => {
            for k in 0..w[0].len() {
                let norm = w.iter().map(|r| r[k] * r[k]).sum::<f64>().sqrt();
                w.iter_mut().for_each(|r| r[k] *= C / norm);
            }
        }
    }
}

fn column_norm(w: &[Vec<f64>], k: usize) -> f64 {
    w.iter().map(|r| r[k] * r[k]).sum::<f64>().sqrt()
}

pub(super) fn reg_maxnorm() -> Claim {
    Claim::checked(
        "REG-MAXNORM",
        ROOM,
        LOCATION,
        "the max-norm constraint keeps each hidden unit's incoming weight vector (column k of \
         the J × K matrix W, C2) in ‖w_{·,k}‖₂ ≤ c by projection after each update: columns \
         outside land on the sphere, columns inside are untouched bit for bit, the projection \
         is idempotent and keeps directions (f64 spec; f32 kernel within its rounding)",
        PostVerdict::Correct,
        &[
            (
                MaxNormBug::Frobenius,
                Planted::bug("the whole matrix projected (Frobenius norm)"),
            ),
            (
                MaxNormBug::Rows,
                Planted::bug("outgoing rows projected instead of incoming columns"),
            ),
            (
                MaxNormBug::AlwaysRescale,
                Planted::bug("every column rescaled to norm c"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut inside, mut sphere, mut norms) =
                (Tally::default(), MaxError::default(), MaxError::default());
            let (mut idem, mut dir) = (MaxError::default(), MaxError::default());
            for _ in 0..ctx.size(500, 10_000) {
                // 7 × 4, columns of random length, some inside the ball and some outside.
                let mut w: Vec<Vec<f64>> = (0..7)
                    .map(|_| (0..4).map(|_| uniform(&mut rng, -1.0, 1.0)).collect())
                    .collect();
                for k in 0..4 {
                    let s = uniform(&mut rng, 0.2, 2.0);
                    w.iter_mut().for_each(|r| r[k] *= s);
                }
                let before = w.clone();
                project(bug, &mut w);
                for k in 0..4 {
                    let (n0, n1) = (column_norm(&before, k), column_norm(&w, k));
                    norms.record(n1 / C - 1.0, n0);
                    if n0 <= C {
                        inside.check(
                            w.iter()
                                .zip(&before)
                                .all(|(a, b)| a[k].to_bits() == b[k].to_bits()),
                            || format!("column {k} of norm {n0} changed"),
                        );
                    } else {
                        sphere.record((n1 - C).abs() / C, n0);
                    }
                    // Same direction: w1 = (n1/n0)·w0 entrywise.
                    for (a, b) in w.iter().zip(&before) {
                        dir.record((a[k] - b[k] * n1 / n0).abs(), n0);
                    }
                }
                let once = w.clone();
                project(bug, &mut w);
                for (a, b) in w.iter().flatten().zip(once.iter().flatten()) {
                    idem.record((a - b).abs(), *b);
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("every column norm ≤ c(1 + 1e-12) after projection (as ‖w‖/c − 1)").markdown(r"every column norm $\le c(1 + 10^{-12})$ after projection (as $\lVert w \rVert / c - 1$)"),
                &norms,
                1e-12,
                "a few roundings of c/‖w‖ and the products: the identity tolerance (conventions \
                 appendix, Tolerances)",
            );
            f.tally("columns already inside the ball are bit-identical", inside);
            f.max_error(Label::from("columns outside land on the sphere: |‖w‖ − c|/c").markdown(r"columns outside land on the sphere: $\lvert \lVert w \rVert - c \rvert / c$"), &sphere, 1e-14, "the rescaled norm carries ≤ 8 roundings of ε = 2.2e-16 (sum of 7 squares, sqrt, quotient, products)");
            f.max_error(
                Label::from("directions kept: |w_new − (‖w_new‖/‖w‖)·w|").markdown(r"directions kept: $\lvert w_{\text{new}} - (\lVert w_{\text{new}} \rVert / \lVert w \rVert)\, w \rvert$"),
                &dir,
                1e-14,
                "entries ≤ 2 and a few roundings each",
            );
            f.max_error(Label::from("idempotent: projecting twice moves nothing (max |Δw|)").markdown(r"idempotent: projecting twice moves nothing ($\max \lvert \Delta w \rvert$)"), &idem, 1e-15, "a column on the sphere may be rescaled by 1 ± ε once more: entries ≤ 2 move ≤ 2ε·2");
            kernel(&mut f, ctx);
            f
        },
    )
    .typeset(r"the max-norm constraint keeps each hidden unit's incoming weight vector (column $k$ of the $J \times K$ matrix $W$, C2) in $\lVert w_{\cdot,k} \rVert_2 \le c$ by projection after each update: columns outside land on the sphere, columns inside are untouched bit for bit, the projection is idempotent and keeps directions (f64 spec; f32 kernel within its rounding)")
}

/// The f32 kernel: norms ≤ c(1 + 3u) (u = 2^-24: rounding of c/‖w‖ and of each product),
/// columns inside untouched.
fn kernel(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let c = C as f32;
    let (mut norms, mut inside) = (MaxError::default(), Tally::default());
    for _ in 0..ctx.size(500, 10_000) {
        let mut w = DMatrix::from_fn(7, 4, |_, _| uniform(&mut rng, -1.0, 1.0) as f32);
        for k in 0..4 {
            let s = uniform(&mut rng, 0.2, 2.0) as f32;
            w.column_mut(k).iter_mut().for_each(|v| *v *= s);
        }
        let before = w.clone();
        fast::max_norm_project(&mut w, c).expect("c > 0");
        for k in 0..4 {
            let norm = |m: &DMatrix<f32>| {
                m.column(k)
                    .iter()
                    .map(|&v| f64::from(v).powi(2))
                    .sum::<f64>()
                    .sqrt()
            };
            norms.record(norm(&w) / C - 1.0, norm(&before));
            if norm(&before) <= C {
                inside.check(w.column(k) == before.column(k), || {
                    format!("column {k} changed")
                });
            }
        }
    }
    f.max_error(
        Label::from("f32 kernel: column norms ≤ c(1 + 3u)")
            .markdown(r"f32 kernel: column norms $\le c(1 + 3u)$"),
        &norms,
        3.0 * 2f64.powi(-24),
        "c/‖w‖ rounded to f32 (u) and each product rounded (u): (1 + u)² < 1 + 3u",
    );
    f.tally("f32 kernel: columns inside the ball untouched", inside);
}

// ANCHOR_END: reg_maxnorm
