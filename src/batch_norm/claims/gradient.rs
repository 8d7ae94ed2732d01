//! The backward pass through BN: EXT-BN-BWD, with the f32 kernel against the specification.

use rand::Rng;

use super::ROOM;
use super::sample::{batch, normal, to_matrix};
use crate::batch_norm::{BatchNorm, accuracy};
use crate::claims::gradcheck::{band_ratio, central_difference};
use crate::claims::{Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict};
use derivations::batch_norm as spec;

/// The magnitude the terms of ∂ℓ/∂x_i have: |γ/s|·(|g_i| + Σ|g|/m + |x̂_i|·Σ|g·x̂|/m). An
/// identity between two forms of the gradient is judged relative to it (at least 1), since
/// the gradient itself can cancel to far below its terms.
fn gradient_scale(x: &[f64], gamma: f64, eps: f64, g: &[f64], i: usize) -> f64 {
    let m = x.len() as f64;
    let s = (spec::batch_variance(x) + eps).sqrt();
    let x_hat = spec::normalize(x, eps);
    let sum_g: f64 = g.iter().map(|v| v.abs()).sum();
    let sum_gx: f64 = g.iter().zip(&x_hat).map(|(a, b)| (a * b).abs()).sum();
    ((gamma / s).abs() * (g[i].abs() + sum_g / m + x_hat[i].abs() * sum_gx / m)).max(1.0)
}

// ---------------------------------------------------------------- EXT-BN-BWD
// ANCHOR: ext_bn_bwd

#[derive(Clone, Copy)]
enum BackwardBug {
    StatisticsConstant,
    VarianceSign,
    MeanTermWithoutOneOverM,
}

/// ∂ℓ/∂x of one feature's BN for upstream g, the paper's step-by-step form, by the code under
/// test.
fn backward(bug: Option<BackwardBug>, x: &[f64], gamma: f64, eps: f64, g: &[f64]) -> Vec<f64> {
    let Some(bug) = bug else {
        return spec::backward(x, gamma, eps, g).x;
    };
    let m = x.len() as f64;
    let (mu, var) = (spec::batch_mean(x), spec::batch_variance(x));
    let s = (var + eps).sqrt();
    let d_x_hat: Vec<f64> = g.iter().map(|gi| gi * gamma).collect();
    let sign = if matches!(bug, BackwardBug::VarianceSign) {
        1.0
    } else {
        -1.0
    };
    let d_var: f64 = x
        .iter()
        .zip(&d_x_hat)
        .map(|(xi, dh)| dh * (xi - mu) * sign * 0.5 / (s * s * s))
        .sum();
    let d_mu: f64 = d_x_hat.iter().map(|dh| -dh / s).sum();
    let mu_weight = if matches!(bug, BackwardBug::MeanTermWithoutOneOverM) {
        1.0
    } else {
        1.0 / m
    };
    x.iter()
        .zip(&d_x_hat)
        .map(|(xi, dh)| match bug {
            BackwardBug::StatisticsConstant => dh / s,
            _ => dh / s + d_var * 2.0 * (xi - mu) / m + d_mu * mu_weight,
        })
        .collect()
}

pub(super) fn ext_bn_bwd() -> Claim {
    Claim::checked(
        "EXT-BN-BWD",
        ROOM,
        "beyond the post (Ioffe & Szegedy §3)",
        "the BN backward pass: the paper's step-by-step ∂ℓ/∂x equals finite differences and the \
         compact (γ/(m·s))·(m·g_i − Σg − x̂_i·Σ g·x̂); Σ_i ∂ℓ/∂x_i = 0 for any ε, and \
         Σ_i x̂_i·∂ℓ/∂x_i = (γ/s)·(ε/(σ_B² + ε))·Σ g·x̂, zero only for ε = 0; with m = 2 and ε = 0 \
         no gradient flows at all (x̂ = ±1)",
        PostVerdict::Extension,
        &[
            (
                BackwardBug::StatisticsConstant,
                Planted::bug("μ_B and σ_B² treated as constants"),
            ),
            (
                BackwardBug::VarianceSign,
                Planted::bug("sign error in ∂ℓ/∂σ_B²"),
            ),
            (
                BackwardBug::MeanTermWithoutOneOverM,
                Planted::bug("missing 1/m in the μ_B term"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut fd, mut compact, mut flat) = (
                MaxError::default(),
                MaxError::default(),
                MaxError::default(),
            );
            let (mut sum0, mut moment, mut nonzero) =
                (MaxError::default(), MaxError::default(), 0.0f64);
            for case in 0..ctx.size(300, 5_000) {
                let m = [2, 3, 5, 8][case % 4];
                let eps = [0.0, 1e-3, 0.5][case / 4 % 3];
                // Centred inputs: BN is shift invariant (BN-ROLE-INIT), so an offset changes no
                // gradient, only multiplies the finite difference's rounding noise
                // (~ε·|ℓ|·(|x|/σ_B)/h) by |x|/σ_B, which at offsets of 5 reaches the band's floor 1e-9.
                let spread = rng.random_range(0.5..3.0);
                let x: Vec<f64> = (0..m).map(|_| spread * normal(&mut rng)).collect();
                let (gamma, beta) = (rng.random_range(0.5..2.0), rng.random_range(-1.0..1.0));
                let c: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
                // ℓ = Σ c_i·y_i + ½·Σ y_i², so g_i = c_i + y_i.
                let loss = |x: &[f64]| -> f64 {
                    let y = spec::train_forward(x, gamma, beta, eps);
                    y.iter()
                        .zip(&c)
                        .map(|(yi, ci)| ci * yi + 0.5 * yi * yi)
                        .sum()
                };
                let y = spec::train_forward(&x, gamma, beta, eps);
                let g: Vec<f64> = y.iter().zip(&c).map(|(yi, ci)| ci + yi).collect();
                // The gradient-check band's absolute floor 1e-9 (conventions appendix) is the rounding noise ε/h ≈ 1e-10 of a loss of unit
                // size, with room for ten roundings; this loss's terms add up to `size` (≈ 10),
                // so the rule is applied to the loss divided by it.
                let size = y
                    .iter()
                    .zip(&c)
                    .map(|(yi, ci)| (ci * yi).abs() + 0.5 * yi * yi)
                    .sum::<f64>()
                    .max(1.0);
                let dx = backward(bug, &x, gamma, eps, &g);
                let dx_compact = spec::backward_compact(&x, gamma, eps, &g);
                for j in 0..m {
                    let scale = gradient_scale(&x, gamma, eps, &g, j);
                    compact.record((dx[j] - dx_compact[j]).abs() / scale, m as f64);
                    if m == 2 && eps == 0.0 {
                        // x̂ = ±1 whatever x: ℓ is flat, and a finite difference would measure
                        // only its rounding noise (~ε/h), so the gradient must be 0 instead.
                        flat.record(dx[j].abs() / scale, x[j]);
                    } else {
                        let d = central_difference(
                            |t| {
                                let mut v = x.clone();
                                v[j] = t;
                                loss(&v)
                            },
                            x[j],
                        );
                        fd.record(band_ratio(dx[j] / size, d / size), m as f64);
                    }
                }
                let scale = gradient_scale(&x, gamma, eps, &g, 0);
                sum0.record(dx.iter().sum::<f64>().abs() / scale, eps);
                let x_hat = spec::normalize(&x, eps);
                let var = spec::batch_variance(&x);
                let s = (var + eps).sqrt();
                let sum_gx: f64 = g.iter().zip(&x_hat).map(|(a, b)| a * b).sum();
                let predicted = gamma / s * (eps / (var + eps)) * sum_gx;
                let measured: f64 = x_hat.iter().zip(&dx).map(|(h, d)| h * d).sum();
                moment.record((measured - predicted).abs() / scale, eps);
                if eps > 0.0 {
                    nonzero = nonzero.max(predicted.abs());
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from(format!("∂ℓ/∂x against finite differences (the loss scaled to unit size), m ∈ {{2, 3, 5, 8}} but not m = 2 with ε = 0 (worst at m = {})", fd.at))
                    .markdown(format!(r"$\partial\ell/\partial x$ against finite differences (the loss scaled to unit size), $m \in \{{2, 3, 5, 8\}}$ but not $m = 2$ with $\varepsilon = 0$ (worst at $m = {}$)", fd.at)),
                &fd,
                1.0,
                super::FD_WHY);
            f.max_error(
                Label::from("m = 2, ε = 0: x̂ = ±1 for every input, so ∂ℓ/∂x = 0 (relative to the size of its terms)").markdown(r"$m = 2$, $\varepsilon = 0$: $\hat x = \pm 1$ for every input, so $\partial\ell/\partial x = 0$ (relative to the size of its terms)"),
                &flat,
                IDENTITY_TOL,
                "the terms cancel exactly in exact arithmetic; a few roundings remain");
            let why = "two forms of one gradient, relative to the size of its terms |γ/s|·(|g_i| + Σ|g|/m + \
                       |x̂_i|·Σ|g·x̂|/m) (at least 1): a few roundings (conventions appendix, Tolerances)";
            f.max_error(
                "step-by-step form = compact form",
                &compact,
                IDENTITY_TOL,
                why,
            );
            f.max_error(
                Label::from("Σ_i ∂ℓ/∂x_i = 0, ε ∈ {0, 1e-3, 0.5}").markdown(r"$\sum_i \partial\ell/\partial x_i = 0$, $\varepsilon \in \{0, 10^{-3}, 0.5\}$"),
                &sum0,
                IDENTITY_TOL,
                why,
            );
            f.max_error(
                Label::from(format!("Σ_i x̂_i·∂ℓ/∂x_i = (γ/s)·(ε/(σ² + ε))·Σ g·x̂ (up to {nonzero:.2e} for ε > 0, 0 for ε = 0)"))
                    .markdown(format!(r"$\sum_i \hat x_i\, \partial\ell/\partial x_i = (\gamma/s)(\varepsilon/(\sigma^2 + \varepsilon)) \sum g \hat x$ (up to ${}$ for $\varepsilon > 0$, $0$ for $\varepsilon = 0$)", crate::report::book::num(nonzero, 2))),
                &moment,
                IDENTITY_TOL,
                why);
            kernel_backward(&mut f, ctx);
            f
        },
    )
    .typeset(r"the BN backward pass: the paper's step-by-step $\partial\ell/\partial x$ equals finite differences and the compact $(\gamma/(m s))(m g_i - \sum g - \hat x_i \sum g \hat x)$; $\sum_i \partial\ell/\partial x_i = 0$ for any $\varepsilon$, and $\sum_i \hat x_i\, \partial\ell/\partial x_i = (\gamma/s)(\varepsilon/(\sigma_B^2 + \varepsilon)) \sum g \hat x$, zero only for $\varepsilon = 0$; with $m = 2$ and $\varepsilon = 0$ no gradient flows at all ($\hat x = \pm 1$)")
}

// ANCHOR_END: ext_bn_bwd

/// The f32 backward pass against the specification, within `accuracy::backward_bound`.
fn kernel_backward(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let mut e = MaxError::default();
    let eps = 1e-3f32;
    for case in 0..ctx.size(60, 600) {
        let (fe, m) = ([1, 15, 17, 40][case % 4], [2, 3, 8, 64][case / 4 % 4]);
        let (x, g) = (batch(&mut rng, m, fe), batch(&mut rng, m, fe));
        let gamma: Vec<f32> = (0..fe).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        let bn = BatchNorm::with_affine(gamma.clone(), vec![0.0; fe], eps).expect("valid layer");
        let (xm, gm) = (to_matrix(&x), to_matrix(&g));
        let mut out = xm.clone();
        let ok = bn
            .forward_train(&xm, &mut out)
            .and_then(|stats| bn.backward(&xm, &gm, &stats, &mut out));
        if ok.is_err() {
            e.record(f64::NAN, m as f64);
            continue;
        }
        for k in 0..fe {
            let (xk, gk) = (spec::feature(&x, k), spec::feature(&g, k));
            let (gam, ep) = (f64::from(gamma[k]), f64::from(eps));
            let reference = spec::backward_compact(&xk, gam, ep, &gk);
            let (mu, var) = (spec::batch_mean(&xk), spec::batch_variance(&xk));
            let s = (var + ep).sqrt();
            let x_hat = spec::normalize(&xk, ep);
            let abs_g: f64 = gk.iter().map(|v| v.abs()).sum();
            let abs_gx: f64 = gk.iter().zip(&x_hat).map(|(a, b)| (a * b).abs()).sum();
            for i in 0..m {
                let bound = accuracy::backward_bound(gam, s, gk[i], xk[i], mu, abs_g, abs_gx, m);
                e.record(
                    (f64::from(out[(k, i)]) - reference[i]).abs() / bound,
                    m as f64,
                );
            }
        }
    }
    f.max_error(
        Label::from(format!("f32 backward vs the specification, F ∈ {{1, 15, 17, 40}} (worst at m = {})", e.at))
            .markdown(format!(r"f32 backward vs the specification, $F \in \{{1, 15, 17, 40\}}$ (worst at $m = {}$)", e.at)),
        &e,
        1.0,
        "|Δ| / accuracy::backward_bound: five f32 roundings of the two-FMA form, each below u times \
         the size of the terms; at most 1 is accepted");
}
