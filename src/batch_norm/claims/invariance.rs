//! BN's invariances and what they do not fix: EXT-BN-SCALE and BN-ROLE-INIT.

use rand::Rng;

use super::ROOM;
use super::sample::{batch, to_matrix};
use crate::batch_norm::{BatchNorm, accuracy};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Tally,
    identity_error,
};
use derivations::batch_norm as spec;

// ---------------------------------------------------------------- EXT-BN-SCALE
// ANCHOR: ext_bn_scale

#[derive(Clone, Copy)]
enum ScaleBug {
    GradientScalesWithA,
    DivideByVariance,
}

/// One feature's BN (γ = 1, β = 0) forward, by the code under test.
fn bn_forward(bug: Option<ScaleBug>, z: &[f64], eps: f64) -> Vec<f64> {
    match bug {
        Some(ScaleBug::DivideByVariance) => {
            let (mu, var) = (spec::batch_mean(z), spec::batch_variance(z));
            z.iter().map(|v| (v - mu) / (var + eps)).collect()
        }
        _ => spec::normalize(z, eps),
    }
}

/// ∂ℓ/∂z of one feature's BN (γ = 1), by the code under test.
fn bn_backward(bug: Option<ScaleBug>, z: &[f64], eps: f64, g: &[f64]) -> Vec<f64> {
    let dz = spec::backward_compact(z, 1.0, eps, g);
    match bug {
        // s multiplied where it divides: the gradient grows as a instead of shrinking as 1/a.
        Some(ScaleBug::GradientScalesWithA) => {
            let s2 = spec::batch_variance(z) + eps;
            dz.iter().map(|d| d * s2).collect()
        }
        _ => dz,
    }
}

/// A linear layer z = Wᵀ·u followed by BN on each unit, with ℓ = Σ c·y: returns y, ∂ℓ/∂u and
/// ∂ℓ/∂W. `u[i]` is sample i (d inputs), `w[j][k]` is W_{j,k} (d × J, C2).
fn layer(
    bug: Option<ScaleBug>,
    u: &[Vec<f64>],
    w: &[Vec<f64>],
    c: &[Vec<f64>],
    eps: f64,
) -> [Vec<Vec<f64>>; 3] {
    let (m, d, units) = (u.len(), w.len(), w[0].len());
    let z: Vec<Vec<f64>> = (0..units)
        .map(|k| {
            (0..m)
                .map(|i| (0..d).map(|j| w[j][k] * u[i][j]).sum())
                .collect()
        })
        .collect();
    let y: Vec<Vec<f64>> = z.iter().map(|zk| bn_forward(bug, zk, eps)).collect();
    let dz: Vec<Vec<f64>> = (0..units)
        .map(|k| bn_backward(bug, &z[k], eps, &spec::feature(c, k)))
        .collect();
    let du = (0..m)
        .map(|i| {
            (0..d)
                .map(|j| (0..units).map(|k| w[j][k] * dz[k][i]).sum())
                .collect()
        })
        .collect();
    let dw = (0..d)
        .map(|j| {
            (0..units)
                .map(|k| (0..m).map(|i| u[i][j] * dz[k][i]).sum())
                .collect()
        })
        .collect();
    [y, du, dw]
}

pub(super) fn ext_bn_scale() -> Claim {
    Claim::checked(
        "EXT-BN-SCALE",
        ROOM,
        "beyond the post (Ioffe & Szegedy §3.3)",
        "for a > 0 and ε = 0: BN((aW)u) = BN(Wu), ∂BN((aW)u)/∂u = ∂BN(Wu)/∂u and \
         ∂BN((aW)u)/∂(aW) = (1/a)·∂BN(Wu)/∂W; for ε > 0 the same hold exactly with ε/a² on the \
         right, so the deviation is the change of ε",
        PostVerdict::Extension,
        &[
            (
                ScaleBug::GradientScalesWithA,
                Planted::bug("the weight gradient scales as a instead of 1/a"),
            ),
            (
                ScaleBug::DivideByVariance,
                Planted::bug("normalising by σ_B² instead of σ_B (output scales as 1/a)"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut ey, mut eu, mut ew) = (
                MaxError::default(),
                MaxError::default(),
                MaxError::default(),
            );
            for case in 0..ctx.size(100, 2_000) {
                let (m, d, units) = (6, 3, 4);
                let a = [0.1, 3.0, 1e3][case % 3];
                let eps = [0.0, 1e-3][case / 3 % 2];
                let u = batch(&mut rng, m, d);
                let w: Vec<Vec<f64>> = (0..d)
                    .map(|_| (0..units).map(|_| rng.random_range(-1.0..1.0)).collect())
                    .collect();
                let c = batch(&mut rng, m, units);
                let aw: Vec<Vec<f64>> = w
                    .iter()
                    .map(|r| r.iter().map(|v| a * v).collect())
                    .collect();
                let [y1, du1, dw1] = layer(bug, &u, &w, &c, eps / (a * a));
                let [ya, dua, dwa] = layer(bug, &u, &aw, &c, eps);
                // Normwise: max|p − q| / max(1, max|q|), since single entries of a gradient can
                // cancel far below the matrix's size.
                let pairs = |p: &[Vec<f64>], q: &[Vec<f64>], e: &mut MaxError, factor: f64| {
                    let size = q.iter().flatten().fold(1.0f64, |s, v| s.max(v.abs()));
                    let diff = p
                        .iter()
                        .flatten()
                        .zip(q.iter().flatten())
                        .fold(0.0f64, |d, (vp, vq)| d.max((vp * factor - vq).abs()));
                    e.record(diff / size, a);
                };
                pairs(&ya, &y1, &mut ey, 1.0);
                pairs(&dua, &du1, &mut eu, 1.0);
                pairs(&dwa, &dw1, &mut ew, a);
            }
            let why = "normwise max|p − q|/max(1, max|q|) over the layer: sums of ≤ 6 products of O(1) \
                       values, the scale a ∈ {0.1, 3, 1e3} rounded once: a few ε";
            let mut f = Findings::default();
            f.max_error(
                Label::from("BN_ε((aW)u) = BN_{ε/a²}(Wu) (= BN(Wu) at ε = 0)").markdown(r"$\mathrm{BN}_\varepsilon((aW)u) = \mathrm{BN}_{\varepsilon/a^2}(Wu)$ ($= \mathrm{BN}(Wu)$ at $\varepsilon = 0$)"),
                &ey,
                IDENTITY_TOL,
                why,
            );
            f.max_error(
                Label::from("∂/∂u unchanged by the scale a")
                    .markdown(r"$\partial/\partial u$ unchanged by the scale $a$"),
                &eu,
                IDENTITY_TOL,
                why,
            );
            f.max_error(
                Label::from("a·∂/∂(aW) = ∂/∂W: the weight gradient scales as 1/a").markdown(r"$a\,\partial/\partial(aW) = \partial/\partial W$: the weight gradient scales as $1/a$"),
                &ew,
                IDENTITY_TOL,
                why,
            );
            f
        },
    )
    .typeset(r"for $a > 0$ and $\varepsilon = 0$: $\mathrm{BN}((aW)u) = \mathrm{BN}(Wu)$, $\partial \mathrm{BN}((aW)u)/\partial u = \partial \mathrm{BN}(Wu)/\partial u$ and $\partial \mathrm{BN}((aW)u)/\partial (aW) = (1/a)\, \partial \mathrm{BN}(Wu)/\partial W$; for $\varepsilon > 0$ the same hold exactly with $\varepsilon/a^2$ on the right, so the deviation is the change of $\varepsilon$")
}

// ANCHOR_END: ext_bn_scale

// ---------------------------------------------------------------- BN-ROLE-INIT
// ANCHOR: bn_role_init

#[derive(Clone, Copy)]
enum InitBug {
    CentreOnly,
}

/// One feature's BN (γ = 1, β = 0), by the code under test.
fn bn(bug: Option<InitBug>, z: &[f64], eps: f64) -> Vec<f64> {
    match bug {
        None => spec::normalize(z, eps),
        Some(InitBug::CentreOnly) => {
            let mu = spec::batch_mean(z);
            z.iter().map(|v| v - mu).collect()
        }
    }
}

pub(super) fn bn_role_init() -> Claim {
    Claim::checked(
        "BN-ROLE-INIT",
        ROOM,
        "§BN的作用 1",
        "precisely: BN(a·z) = BN(z) for a > 0 and ε = 0 (scale invariance, within an ε-term bound \
         for ε > 0) and BN(z + c) = BN(z) (a bias before BN is redundant); BN does not fix \
         symmetric initialisations (identical units stay identical after BN and an SGD step), \
         zero initialisation (the output is β) or a sign flip (x̂ is negated)",
        PostVerdict::Imprecise,
        &[(
            InitBug::CentreOnly,
            Planted::bug("BN that centres but does not scale"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut scale0, mut scale_eps, mut shift, mut flip) = (
                MaxError::default(),
                MaxError::default(),
                MaxError::default(),
                MaxError::default(),
            );
            for case in 0..ctx.size(300, 10_000) {
                let m = rng.random_range(2..=16);
                let z = spec::feature(&batch(&mut rng, m, 1), 0);
                let a = [0.1, 3.0, 1e3][case % 3];
                let az: Vec<f64> = z.iter().map(|v| a * v).collect();
                // Both sides are computed in f64 from data whose centring can cancel: with
                // κ = max|z|/σ_B, the mean carries (m − 1)·ε·max|z|, so x − μ and then x̂ carry
                // ε·(1 + m + (m + 1)·κ) relative to max(1, |x̂|), and a·z one more ε·κ; two
                // such computations differ by at most 2(m + 1)(κ + 1)·ε.
                let sigma = spec::batch_variance(&z).sqrt();
                let kappa = z.iter().fold(0.0f64, |k, v| k.max(v.abs())) / sigma;
                let tol = 2.0 * (m as f64 + 1.0) * (kappa + 1.0) * f64::EPSILON;
                for (p, q) in bn(bug, &az, 0.0).iter().zip(bn(bug, &z, 0.0)) {
                    scale0.record(identity_error(*p, q) / tol, a);
                }
                // ε > 0: |x̂_ε(az) − x̂_ε(z)| ≤ |x̂₀|·ε·|1 − a⁻²|/(2σ²) by the mean value theorem on
                // t ↦ (σ² + t)^{−1/2}, whose slope is at most σ⁻³/2.
                let eps = 1e-2;
                let var = spec::batch_variance(&z);
                let x0 = spec::normalize(&z, 0.0);
                for ((p, q), h) in bn(bug, &az, eps).iter().zip(bn(bug, &z, eps)).zip(&x0) {
                    let bound = h.abs() * eps * (1.0 - 1.0 / (a * a)).abs() / (2.0 * var)
                        + tol * q.abs().max(1.0);
                    scale_eps.record((p - q).abs() / bound, a);
                }
                let c = rng.random_range(-10.0..10.0);
                let zc: Vec<f64> = z.iter().map(|v| v + c).collect();
                for (p, q) in bn(bug, &zc, 1e-3).iter().zip(bn(bug, &z, 1e-3)) {
                    shift.record(identity_error(*p, q), c);
                }
                let neg: Vec<f64> = z.iter().map(|v| -v).collect();
                for (p, q) in bn(bug, &neg, 1e-3).iter().zip(bn(bug, &z, 1e-3)) {
                    flip.record(identity_error(*p, -q), 0.0);
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("BN(a·z) = BN(z), ε = 0, a ∈ {0.1, 3, 1e3}, in units of 2(m + 1)(κ + 1)·ε").markdown(r"$\mathrm{BN}(a z) = \mathrm{BN}(z)$, $\varepsilon = 0$, $a \in \{0.1, 3, 10^3\}$, in units of $2(m + 1)(\kappa + 1)\, \epsilon_{\text{mach}}$"),
                &scale0,
                1.0,
                "rounding of the mean, the centring and a·z, amplified by the centring's condition \
                 number κ = max|z|/σ_B (identity error relative to max(1, |x̂|))",
            );
            f.max_error(Label::from("ε = 1e-2: |BN(a·z) − BN(z)| / (|x̂₀|·ε·|1 − a⁻²|/(2σ²))").markdown(r"$\varepsilon = 10^{-2}$: $\lvert \mathrm{BN}(a z) - \mathrm{BN}(z) \rvert / (\lvert \hat x_0 \rvert\, \varepsilon\, \lvert 1 - a^{-2} \rvert/(2\sigma^2))$"), &scale_eps, 1.0,
                    "mean value theorem on (σ² + t)^{−1/2} between t = ε/a² and ε, plus the rounding bound \
                     2(m + 1)(κ + 1)·ε·max(1, |x̂|) of the ε = 0 check");
            f.max_error(
                Label::from("BN(z + c) = BN(z), |c| ≤ 10 (a bias before BN is redundant)").markdown(r"$\mathrm{BN}(z + c) = \mathrm{BN}(z)$, $\lvert c \rvert \le 10$ (a bias before BN is redundant)"),
                &shift,
                IDENTITY_TOL,
                "z + c rounds at |c|·ε, relative to the spread ≥ 0.5: below 1e-14",
            );
            f.max_error(
                Label::from("not fixed: a sign flip negates x̂, BN(−z) = −BN(z)").markdown(r"not fixed: a sign flip negates $\hat x$, $\mathrm{BN}(-z) = -\mathrm{BN}(z)$"),
                &flip,
                IDENTITY_TOL,
                "exact up to rounding",
            );
            symmetric_and_zero(&mut f, ctx);
            if bug.is_none() {
                f.figures.push(super::experiment::init_curves(ctx));
            }
            f
        },
    )
    .typeset(r"precisely: $\mathrm{BN}(a z) = \mathrm{BN}(z)$ for $a > 0$ and $\varepsilon = 0$ (scale invariance, within an $\varepsilon$-term bound for $\varepsilon > 0$) and $\mathrm{BN}(z + c) = \mathrm{BN}(z)$ (a bias before BN is redundant); BN does not fix symmetric initialisations (identical units stay identical after BN and an SGD step), zero initialisation (the output is $\beta$) or a sign flip ($\hat x$ is negated)")
}

// ANCHOR_END: bn_role_init

/// What BN does not fix, on our f32 kernel (`BatchNorm`), where a realistic bug could break
/// it: two units with identical incoming weights see identical rows z; they stay identical
/// through BN's forward and backward (so an SGD step, ΔW = −η·U·∂zᵀ, moves them alike), unless
/// the kernel mixes features (statistics or ∂γ, ∂β over the wrong axis, a row offset in the
/// tail loop). Rows 0 and 16 of F = 17 are compared: one in the SIMD body, one in the tail
/// (a tail loop that reads the previous row's shift fails it by 1e8 times the bound: tried by
/// hand). And a constant feature (all-zero weights, or any constant input) has σ_B² = 0
/// exactly (the shifted sums are 0) and output β (an ε left out of the kernel's scale makes
/// it 0·∞ = NaN, which fails the check: tried by hand).
fn symmetric_and_zero(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let (features, m, eps) = (17, 8, 1e-3f32);
    let (mut same, mut zero) = (MaxError::default(), Tally::default());
    let mut beta_err = MaxError::default();
    for _ in 0..ctx.size(50, 1_000) {
        let x = batch(&mut rng, m, features);
        let g = batch(&mut rng, m, features);
        let mut gamma: Vec<f32> = (0..features)
            .map(|_| rng.random_range(0.5f32..2.0))
            .collect();
        let mut beta: Vec<f32> = (0..features)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        (gamma[16], beta[16]) = (gamma[0], beta[0]);
        let (mut xm, mut gm) = (to_matrix(&x), to_matrix(&g));
        for i in 0..m {
            (xm[(16, i)], gm[(16, i)]) = (xm[(0, i)], gm[(0, i)]);
        }
        let bn = BatchNorm::with_affine(gamma.clone(), beta.clone(), eps).expect("valid layer");
        let mut y = xm.clone();
        let mut dz = xm.clone();
        let grads = bn
            .forward_train(&xm, &mut y)
            .and_then(|stats| bn.backward(&xm, &gm, &stats, &mut dz));
        let Ok(grads) = grads else {
            same.record(f64::NAN, 0.0);
            continue;
        };
        // Each of the two rows is within the kernel's derived bound of the same exact value,
        // so they are within twice that bound of each other.
        let xk: Vec<f64> = (0..m).map(|i| f64::from(xm[(0, i)])).collect();
        let gk: Vec<f64> = (0..m).map(|i| f64::from(gm[(0, i)])).collect();
        let epsf = f64::from(eps);
        let (mu, var) = (spec::batch_mean(&xk), spec::batch_variance(&xk));
        let s = (var + epsf).sqrt();
        let (g0, b0) = (f64::from(gamma[0]), f64::from(beta[0]));
        let (scale, shift) = (g0 / s, b0 - g0 / s * mu);
        let x_hat = spec::normalize(&xk, epsf);
        let sum_abs_g: f64 = gk.iter().map(|v| v.abs()).sum();
        let sum_abs_gx: f64 = gk.iter().zip(&x_hat).map(|(a, b)| (a * b).abs()).sum();
        let y_exact = spec::train_forward(&xk, g0, b0, epsf);
        for i in 0..m {
            let bound = accuracy::affine_bound(xk[i], scale, shift, b0, y_exact[i]);
            same.record(
                f64::from((y[(0, i)] - y[(16, i)]).abs()) / (2.0 * bound),
                0.0,
            );
            let bound = accuracy::backward_bound(g0, s, gk[i], xk[i], mu, sum_abs_g, sum_abs_gx, m);
            same.record(
                f64::from((dz[(0, i)] - dz[(16, i)]).abs()) / (2.0 * bound),
                1.0,
            );
        }
        same.record(
            f64::from((grads.gamma[0] - grads.gamma[16]).abs())
                / (2.0 * accuracy::sum_bound(sum_abs_gx)),
            2.0,
        );
        same.record(
            f64::from((grads.beta[0] - grads.beta[16]).abs())
                / (2.0 * accuracy::sum_bound(sum_abs_g)),
            3.0,
        );
        // Constant features at offsets up to 1e3 (feature 0 exactly 0: zero weights), m = 7.
        let constants: Vec<f32> = (0..features)
            .map(|k| {
                if k == 0 {
                    0.0
                } else {
                    rng.random_range(-1e3f32..1e3)
                }
            })
            .collect();
        let c = nalgebra::DMatrix::from_fn(features, 7, |k, _| constants[k]);
        let mut yc = c.clone();
        let Ok(stats) = bn.forward_train(&c, &mut yc) else {
            zero.check(false, || "the kernel refused a constant batch".into());
            continue;
        };
        for k in 0..features {
            let v = stats.variance()[k];
            zero.check(v == 0.0, || {
                format!("σ_B² = {v:e} for the constant {}", constants[k])
            });
            let (b, ck) = (f64::from(beta[k]), f64::from(constants[k]));
            let sc = f64::from(gamma[k]) / epsf.sqrt();
            for i in 0..7 {
                let bound = accuracy::affine_bound(ck, sc, b - sc * ck, b, b);
                beta_err.record((f64::from(yc[(k, i)]) - b).abs() / bound, ck);
            }
        }
    }
    f.max_error(
        Label::from("not fixed, f32 kernel: identical units (rows 0 and 16 of 17) keep identical outputs, \
         ∂ℓ/∂z, ∂ℓ/∂γ and ∂ℓ/∂β, so an SGD step moves them alike").markdown(r"not fixed, f32 kernel: identical units (rows 0 and 16 of 17) keep identical outputs, $\partial\ell/\partial z$, $\partial\ell/\partial\gamma$ and $\partial\ell/\partial\beta$, so an SGD step moves them alike"),
        &same,
        1.0,
        "|row 0 − row 16| / (2 × the kernel's derived bound: accuracy::affine_bound, \
         backward_bound, sum_bound): both rows are within the bound of the same exact value",
    );
    f.tally(
        Label::from("not fixed, f32 kernel: a constant feature (zero weights: 0; or offsets up to 1e3) has \
         σ_B² = 0 exactly, m = 7").markdown(r"not fixed, f32 kernel: a constant feature (zero weights: 0; or offsets up to $10^3$) has $\sigma_B^2 = 0$ exactly, $m = 7$"),
        zero,
    );
    f.max_error(
        Label::from("not fixed, f32 kernel: a constant feature's output is β (ε = 1e-3)").markdown(r"not fixed, f32 kernel: a constant feature's output is $\beta$ ($\varepsilon = 10^{-3}$)"),
        &beta_err,
        1.0,
        "|y − β| / accuracy::affine_bound: the fused y = c·a + (β − a·c) cancels to β up to \
         three f32 roundings",
    );
}
