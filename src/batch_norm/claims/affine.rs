//! BN as an affine map per feature: BN-GAUSS (it keeps the shape of the data), BN-AFFINE (the
//! learned scale and shift) and BN-IDENTITY (what the affine step can undo).

use rand::Rng;
use statrs::distribution::{ContinuousCDF, Normal};

use super::ROOM;
use super::sample::{batch, exponential, f32_values, to_matrix};
use crate::batch_norm::{BatchNorm, accuracy};
use crate::claims::gradcheck::{band_ratio, central_difference};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Tally,
    identity_error,
};
use crate::stats::{ALPHA, Moments, dkw_radius, ks_statistic, normal_cdf};
use derivations::batch_norm as spec;

/// ε for checks where its value does not matter (PyTorch's default).
const EPS: f64 = 1e-5;

// ---------------------------------------------------------------- BN-GAUSS
// ANCHOR: bn_gauss

#[derive(Clone, Copy)]
enum GaussBug {
    RankGaussianisation,
}

/// The post's statement implemented literally: make each feature N(0, 1) by ranks,
/// x̂_i = Φ⁻¹((rank_i − ½)/m).
fn rank_gaussianise(x: &[f64]) -> Vec<f64> {
    let std_normal = Normal::standard();
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut out = vec![0.0; x.len()];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = std_normal.inverse_cdf((rank as f64 + 0.5) / x.len() as f64);
    }
    out
}

pub(super) fn bn_gauss() -> Claim {
    Claim::checked(
        "BN-GAUSS",
        ROOM,
        "§BN, §BN基本思想",
        "BN does not make x̂ ~ N(0, 1): per feature it is an increasing affine map of x built from \
         the batch's statistics, so x̂ keeps the shape of x (skewness and excess kurtosis \
         unchanged) and is Gaussian only if x was",
        PostVerdict::Wrong,
        &[(
            GaussBug::RankGaussianisation,
            Planted::post("x̂ ~ N(0, 1) as written: rank-based Gaussianisation Φ⁻¹((rank − ½)/m)")
                .typeset(r"$\hat x \sim N(0, 1)$ as written: rank-based Gaussianisation $\Phi^{-1}((\mathrm{rank} - \tfrac12)/m)$"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let n = ctx.size(10_000, 100_000);
            let x: Vec<f64> = (0..n).map(|_| exponential(&mut rng)).collect();
            let x_hat = match bug {
                None => spec::normalize(&x, EPS),
                Some(GaussBug::RankGaussianisation) => rank_gaussianise(&x),
            };
            let mut f = Findings::default();
            let (mx, mh) = (Moments::from_slice(&x), Moments::from_slice(&x_hat));
            let skew = |m: &Moments| m.central_moment_3() / m.variance_biased().powf(1.5);
            let kurt = |m: &Moments| m.central_moment_4() / m.variance_biased().powi(2) - 3.0;
            // Moments of an affine image are the same up to rounding: Welford's one-pass sums
            // over n ≤ 1e5 values are good to ~n·ε ≈ 2e-11 relative, well inside 1e-10.
            let why = "an affine map leaves standardised moments unchanged; Welford sums over \
                       n ≤ 1e5 values in f64 are good to ~n·ε ≈ 2e-11 relative (conventions \
                       appendix, Tolerances: 1e-10 for a long sum)";
            f.bound(
                {
                    let s = skew(&mx);
                    Label::from(format!("skewness of x̂ = skewness of x ({s:.4}, Exp(1): 2)"))
                        .markdown(format!(
                            r"skewness of $\hat x$ = skewness of $x$ (${s:.4}$, $\mathrm{{Exp}}(1)$: $2$)"
                        ))
                },
                identity_error(skew(&mh), skew(&mx)),
                1e-10,
                n as u64,
                why,
            );
            f.bound(
                {
                    let k = kurt(&mx);
                    Label::from(format!("excess kurtosis of x̂ = that of x ({k:.4}, Exp(1): 6)"))
                        .markdown(format!(
                            r"excess kurtosis of $\hat x$ = that of $x$ (${k:.4}$, $\mathrm{{Exp}}(1)$: $6$)"
                        ))
                },
                identity_error(kurt(&mh), kurt(&mx)),
                1e-10,
                n as u64,
                why,
            );
            let (slope, residual) = least_squares(&x, &x_hat);
            f.bound(
                Label::from(format!("x̂ is collinear with x: largest residual of the line fit (slope {slope:.6})"))
                    .markdown(format!(r"$\hat x$ is collinear with $x$: largest residual of the line fit (slope ${slope:.6}$)")),
                residual,
                1e-9,
                n as u64,
                "the least-squares line through an affine image fits to rounding: sums over n ≤ 1e5 \
                 values (~n·ε ≈ 2e-11 relative) times the data's range (≤ 20), with a factor 2",
            );
            let mut t = Tally::default();
            t.check(slope > 0.0, || format!("slope {slope}"));
            f.tally("the map is increasing (positive slope)", t);
            let mut sample = x_hat.clone();
            let d = ks_statistic(&mut sample, normal_cdf).unwrap_or(f64::NAN);
            f.bound(
                Label::from(format!("normality rejected: the DKW radius ε(n, α = 1e-6) ≤ D = sup|F_n − Φ| = {d:.4}"))
                    .markdown(format!(r"normality rejected: the DKW radius $\varepsilon(n, \alpha = 10^{{-6}}) \le D = \sup \lvert F_n - \Phi \rvert = {d:.4}$")),
                dkw_radius(n as u64, ALPHA),
                d,
                n as u64,
                "DKW–Massart: a N(0,1) sample has D ≤ ε(n, α) with probability ≥ 1 − α; standardised \
                 Exp(1) has no mass below −1, where Φ(−1) = 0.159, so D ≈ 0.159 ≫ ε = 0.027 (n = 1e4)",
            );
            f
        },
    )
    .typeset(r"BN does not make $\hat x \sim N(0, 1)$: per feature it is an increasing affine map of $x$ built from the batch's statistics, so $\hat x$ keeps the shape of $x$ (skewness and excess kurtosis unchanged) and is Gaussian only if $x$ was")
}

// ANCHOR_END: bn_gauss

/// Least-squares line x̂ ≈ a + b·x: returns b and the largest |residual|/max(1, |x̂|).
fn least_squares(x: &[f64], y: &[f64]) -> (f64, f64) {
    let (mx, my) = (spec::batch_mean(x), spec::batch_mean(y));
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let b = sxy / sxx;
    let residual = x
        .iter()
        .zip(y)
        .map(|(a, c)| (c - (my + b * (a - mx))).abs() / c.abs().max(1.0))
        .fold(0.0, f64::max);
    (b, residual)
}

// ---------------------------------------------------------------- BN-AFFINE
// ANCHOR: bn_affine

#[derive(Clone, Copy)]
enum AffineBug {
    ScalarGamma,
    GammaPerSample,
    BetaGradientMean,
}

/// Parameters per layer of F features and batch m, by the code under test.
fn gamma_len(bug: Option<AffineBug>, features: usize, m: usize) -> usize {
    match bug {
        Some(AffineBug::GammaPerSample) => m,
        _ => features,
    }
}

/// y[i][k] = γ·x̂ + β by the code under test.
fn affine_forward(
    bug: Option<AffineBug>,
    x: &[Vec<f64>],
    gamma: &[f64],
    beta: &[f64],
) -> Vec<Vec<f64>> {
    let features = beta.len();
    let x_hat: Vec<Vec<f64>> = (0..features)
        .map(|k| spec::normalize(&spec::feature(x, k), EPS))
        .collect();
    (0..x.len())
        .map(|i| {
            (0..features)
                .map(|k| {
                    let g = match bug {
                        Some(AffineBug::ScalarGamma) => gamma[0],
                        Some(AffineBug::GammaPerSample) => gamma[i],
                        _ => gamma[k],
                    };
                    g * x_hat[k][i] + beta[k]
                })
                .collect()
        })
        .collect()
}

/// (∂ℓ/∂γ_k, ∂ℓ/∂β_k) for upstream gradients c, by the code under test.
fn affine_gradients(
    bug: Option<AffineBug>,
    x: &[Vec<f64>],
    c: &[Vec<f64>],
    k: usize,
) -> (f64, f64) {
    let grads = spec::backward(&spec::feature(x, k), 1.0, EPS, &spec::feature(c, k));
    match bug {
        Some(AffineBug::BetaGradientMean) => (grads.gamma, grads.beta / x.len() as f64),
        _ => (grads.gamma, grads.beta),
    }
}

pub(super) fn bn_affine() -> Claim {
    Claim::checked(
        "BN-AFFINE",
        ROOM,
        "§BN训练",
        "y_i = γ·x̂_i + β with one learned (γ, β) per feature shared by all samples: γ and β have \
         F entries, ∂ℓ/∂γ_k = Σ_i g_{ik}·x̂_{ik} and ∂ℓ/∂β_k = Σ_i g_{ik} (sums over the batch)",
        PostVerdict::Correct,
        &[
            (
                AffineBug::ScalarGamma,
                Planted::bug("one scalar γ for all features"),
            ),
            (AffineBug::GammaPerSample, Planted::bug("γ per sample")),
            (
                AffineBug::BetaGradientMean,
                Planted::bug("∂ℓ/∂β averaged where the sum is documented"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (features, m) = (5, 8);
            let (mut eg, mut eb, mut ek) = (
                MaxError::default(),
                MaxError::default(),
                MaxError::default(),
            );
            for _ in 0..ctx.size(50, 1_000) {
                let x = batch(&mut rng, m, features);
                let c: Vec<Vec<f64>> = (0..m)
                    .map(|_| (0..features).map(|_| rng.random_range(-1.0..1.0)).collect())
                    .collect();
                let n_gamma = gamma_len(bug, features, m);
                let gamma =
                    f32_values((0..n_gamma.max(features)).map(|_| rng.random_range(0.5..2.0)));
                let beta = f32_values((0..features).map(|_| rng.random_range(-1.0..1.0)));
                // Our kernel with one (γ_k, β_k) per feature against the code under test.
                let y_ours = affine_forward(bug, &x, &gamma, &beta);
                let bn = BatchNorm::with_affine(
                    gamma[..features].iter().map(|&v| v as f32).collect(),
                    beta.iter().map(|&v| v as f32).collect(),
                    EPS as f32,
                )
                .expect("valid layer");
                let xm = to_matrix(&x);
                let mut y32 = xm.clone();
                if bn.forward_train(&xm, &mut y32).is_err() {
                    ek.record(f64::NAN, 0.0);
                }
                let eps32 = f64::from(EPS as f32);
                for k in 0..features {
                    let xk = spec::feature(&x, k);
                    let (mu, var) = (spec::batch_mean(&xk), spec::batch_variance(&xk));
                    let scale = gamma[k] / (var + eps32).sqrt();
                    for i in 0..m {
                        let exact = spec::train_forward(&xk, gamma[k], beta[k], eps32)[i];
                        let bound = accuracy::affine_bound(
                            xk[i],
                            scale,
                            beta[k] - scale * mu,
                            beta[k],
                            exact,
                        );
                        ek.record(
                            (f64::from(y32[(k, i)]) - y_ours[i][k]).abs() / bound,
                            k as f64,
                        );
                    }
                }
                // ℓ = Σ_ik c_ik·y_ik, so g = c.
                let loss = |gamma: &[f64], beta: &[f64]| -> f64 {
                    let y = affine_forward(bug, &x, gamma, beta);
                    y.iter()
                        .zip(&c)
                        .flat_map(|(yr, cr)| yr.iter().zip(cr).map(|(a, b)| a * b))
                        .sum()
                };
                // The gradient-check band's floor 1e-9 is the rounding noise of a loss of unit size; this loss's
                // 40 terms add up to `size`, so the rule is applied to the loss divided by it.
                let y = affine_forward(bug, &x, &gamma, &beta);
                let size = y
                    .iter()
                    .zip(&c)
                    .flat_map(|(yr, cr)| yr.iter().zip(cr).map(|(a, b)| (a * b).abs()))
                    .sum::<f64>()
                    .max(1.0);
                for k in 0..features {
                    let (dg, db) = affine_gradients(bug, &x, &c, k);
                    let fd_g = central_difference(
                        |t| {
                            let mut g = gamma.clone();
                            g[k] = t;
                            loss(&g, &beta)
                        },
                        gamma[k],
                    );
                    let fd_b = central_difference(
                        |t| {
                            let mut b = beta.clone();
                            b[k] = t;
                            loss(&gamma, &b)
                        },
                        beta[k],
                    );
                    eg.record(band_ratio(dg / size, fd_g / size), k as f64);
                    eb.record(band_ratio(db / size, fd_b / size), k as f64);
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("y_ik = γ_k·x̂_ik + β_k: our f32 kernel (one γ_k, β_k per feature, shared by the \
                 batch) against the code under test, F = 5 ≠ m = 8").markdown(r"$y_{ik} = \gamma_k \hat x_{ik} + \beta_k$: our f32 kernel (one $\gamma_k$, $\beta_k$ per feature, shared by the batch) against the code under test, $F = 5 \ne m = 8$"),
                &ek,
                1.0,
                "|y₃₂ − y| / accuracy::affine_bound (the kernel's derived bound, ε = 1e-5 as f32); \
                 at most 1 is accepted",
            );
            f.max_error(
                Label::from("∂ℓ/∂γ_k = Σ_i g_ik·x̂_ik against finite differences (loss scaled to unit size)").markdown(r"$\partial\ell/\partial\gamma_k = \sum_i g_{ik}\,\hat x_{ik}$ against finite differences (loss scaled to unit size)"),
                &eg,
                1.0,
                super::FD_WHY,
            );
            f.max_error(
                Label::from("∂ℓ/∂β_k = Σ_i g_ik against finite differences (loss scaled to unit size)").markdown(r"$\partial\ell/\partial\beta_k = \sum_i g_{ik}$ against finite differences (loss scaled to unit size)"),
                &eb,
                1.0,
                super::FD_WHY,
            );
            kernel_param_gradients(&mut f, ctx);
            f
        },
    )
    .typeset(r"$y_i = \gamma \hat x_i + \beta$ with one learned $(\gamma, \beta)$ per feature shared by all samples: $\gamma$ and $\beta$ have $F$ entries, $\partial\ell/\partial\gamma_k = \sum_i g_{ik}\, \hat x_{ik}$ and $\partial\ell/\partial\beta_k = \sum_i g_{ik}$ (sums over the batch)")
}

// ANCHOR_END: bn_affine

/// The kernel's ∂ℓ/∂γ and ∂ℓ/∂β against the specification, and its shape checks.
fn kernel_param_gradients(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let mut e = MaxError::default();
    for case in 0..ctx.size(40, 400) {
        let (fe, m) = ([3, 17, 40][case % 3], [2, 7, 32][case / 3 % 3]);
        let (x, g) = (batch(&mut rng, m, fe), batch(&mut rng, m, fe));
        let bn = BatchNorm::new(fe, EPS as f32).expect("valid layer");
        let (xm, gm) = (to_matrix(&x), to_matrix(&g));
        let mut out = xm.clone();
        let grads = bn
            .forward_train(&xm, &mut out)
            .and_then(|stats| bn.backward(&xm, &gm, &stats, &mut out));
        let Ok(grads) = grads else {
            e.record(f64::NAN, m as f64);
            continue;
        };
        for k in 0..fe {
            let (xk, gk) = (spec::feature(&x, k), spec::feature(&g, k));
            let r = spec::backward(&xk, 1.0, f64::from(EPS as f32), &gk);
            let x_hat = spec::normalize(&xk, f64::from(EPS as f32));
            let abs_gx: f64 = gk.iter().zip(&x_hat).map(|(a, b)| (a * b).abs()).sum();
            let abs_g: f64 = gk.iter().map(|a| a.abs()).sum();
            e.record(
                (f64::from(grads.gamma[k]) - r.gamma).abs() / accuracy::sum_bound(abs_gx),
                k as f64,
            );
            e.record(
                (f64::from(grads.beta[k]) - r.beta).abs() / accuracy::sum_bound(abs_g),
                k as f64,
            );
        }
    }
    f.max_error(
        Label::from("f32 kernel's ∂ℓ/∂γ, ∂ℓ/∂β vs the specification").markdown(r"f32 kernel's $\partial\ell/\partial\gamma$, $\partial\ell/\partial\beta$ vs the specification"),
        &e,
        1.0,
        "|Δ| / accuracy::sum_bound: f64 sums rounded once to f32; at most 1 is accepted",
    );
    let mut t = Tally::default();
    let (fe, m) = (5, 8);
    let bn = BatchNorm::new(fe, 1e-5).expect("valid layer");
    let x = nalgebra::DMatrix::from_fn(fe, m, |k, i| (k * m + i) as f32);
    let mut y = x.clone();
    let lengths = bn
        .forward_train(&x, &mut y)
        .and_then(|stats| bn.backward(&x, &x, &stats, &mut y))
        .map(|p| (p.gamma.len(), p.beta.len()));
    t.check(
        bn.gamma().len() == fe && bn.beta().len() == fe && lengths.ok() == Some((fe, fe)),
        || format!("γ, β or their gradients do not have F = {fe} entries (m = {m})"),
    );
    let mismatched = BatchNorm::with_affine(vec![1.0; 4], vec![0.0; 5], 1e-5);
    t.check(mismatched.is_err(), || "γ of 4 and β of 5 accepted".into());
    let bn = BatchNorm::new(4, 1e-5).expect("valid layer");
    let mut y = nalgebra::DMatrix::zeros(4, 3);
    t.check(
        bn.forward_train(&nalgebra::DMatrix::zeros(5, 3), &mut y)
            .is_err(),
        || "5 rows accepted by a 4-feature layer".into(),
    );
    f.tally(
        Label::from("the kernel keeps one γ, β (and ∂ℓ/∂γ, ∂ℓ/∂β) per feature, F = 5 ≠ m = 8, and rejects \
         mismatched shapes with a typed error").markdown(r"the kernel keeps one $\gamma$, $\beta$ (and $\partial\ell/\partial\gamma$, $\partial\ell/\partial\beta$) per feature, $F = 5 \ne m = 8$, and rejects mismatched shapes with a typed error"),
        t,
    );
}

// ---------------------------------------------------------------- BN-IDENTITY
// ANCHOR: bn_identity

#[derive(Clone, Copy)]
enum IdentityBug {
    GammaWithoutEps,
    GammaIsVariance,
}

/// The (γ, β) that should make BN the identity on this batch, by the code under test.
fn identity_params(bug: Option<IdentityBug>, x: &[f64], eps: f64) -> (f64, f64) {
    let (mu, var) = (spec::batch_mean(x), spec::batch_variance(x));
    match bug {
        None => ((var + eps).sqrt(), mu),
        Some(IdentityBug::GammaWithoutEps) => (var.sqrt(), mu),
        Some(IdentityBug::GammaIsVariance) => (var + eps, mu),
    }
}

pub(super) fn bn_identity() -> Claim {
    Claim::checked(
        "BN-IDENTITY",
        ROOM,
        "§BN基本思想 2",
        "the BN transform can represent the identity: with γ = √(σ_B² + ε) and β = μ_B, y = x \
         exactly for that batch; fixed (γ, β) cannot undo the normalisation of every batch",
        PostVerdict::Imprecise,
        &[
            (
                IdentityBug::GammaWithoutEps,
                Planted::bug("γ = σ_B (ε left out)"),
            ),
            (
                IdentityBug::GammaIsVariance,
                Planted::bug("γ = σ_B² + ε (variance for standard deviation)"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let eps = 0.1;
            let (mut e, mut worst_other) = (MaxError::default(), f64::INFINITY);
            for _ in 0..ctx.size(500, 20_000) {
                let m = rng.random_range(2..=16);
                let x = spec::feature(&batch(&mut rng, m, 1), 0);
                let (gamma, beta) = identity_params(bug, &x, eps);
                let y = spec::train_forward(&x, gamma, beta, eps);
                for (a, b) in y.iter().zip(&x) {
                    e.record(identity_error(*a, *b), m as f64);
                }
                // The same (γ, β) on another batch of the same size: not the identity.
                let other = spec::feature(&batch(&mut rng, m, 1), 0);
                let y2 = spec::train_forward(&other, gamma, beta, eps);
                let off = y2
                    .iter()
                    .zip(&other)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                worst_other = worst_other.min(off);
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("γ = √(σ_B² + ε), β = μ_B: y = x (ε = 0.1)").markdown(r"$\gamma = \sqrt{\sigma_B^2 + \varepsilon}$, $\beta = \mu_B$: $y = x$ ($\varepsilon = 0.1$)"),
                &e,
                IDENTITY_TOL,
                "normalise then rescale: a few roundings of O(1) values (conventions appendix, \
                 Tolerances)",
            );
            f.bound(
                Label::from(format!("fixed (γ, β) of one batch on another: the smallest max|y − x| ({worst_other:.3}) stays ≥ 1e-3"))
                    .markdown(format!(r"fixed $(\gamma, \beta)$ of one batch on another: the smallest $\max \lvert y - x \rvert$ (${worst_other:.3}$) stays $\ge 10^{{-3}}$")),
                1e-3,
                worst_other,
                e.cases,
                "another batch has other statistics, so the fixed map is not its inverse",
            );
            f
        },
    )
    .typeset(r"the BN transform can represent the identity: with $\gamma = \sqrt{\sigma_B^2 + \varepsilon}$ and $\beta = \mu_B$, $y = x$ exactly for that batch; fixed $(\gamma, \beta)$ cannot undo the normalisation of every batch")
}

// ANCHOR_END: bn_identity
