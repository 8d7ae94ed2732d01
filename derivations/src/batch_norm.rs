//! Batch normalisation (§Batch Normalization of the post; Ioffe & Szegedy 2015, Algorithms 1
//! and 2), transcribed literally in `f64`.
//!
//! Notation (the conventions appendix, C8): a batch holds m samples; statistics are per feature k. The
//! per-feature functions take the m values x_1..x_m of *one* feature; the layer functions take
//! a batch as `x[i][k]` (sample i, feature k), as the post indexes x^{(k)}.
//!
//! Claim IDs: BN-TRAIN-STATS, BN-TRAIN-NORM, BN-AFFINE, BN-IDENTITY, BN-INF-MEAN, BN-INF-VAR,
//! BN-INF-TRANSFORM, EXT-BN-BWD, EXT-BN-FOLD, EXT-BN-EMA.
//!
//! Preconditions are the mathematics' own: a batch is non-empty (the mean of no values is 0/0),
//! and the inference variance needs m ≥ 2, which [`inference_variance`] returns as `None`
//! otherwise. Nothing here is fast; the kernels of `dnn_proofs::batch_norm` are checked
//! against it.

// ANCHOR: batch_mean
/// BN-TRAIN-STATS, the mini-batch mean of Algorithm 1: μ_B = (1/m)·Σ_{i=1}^{m} x_i.
pub fn batch_mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}
// ANCHOR_END: batch_mean

// ANCHOR: batch_variance
/// BN-TRAIN-STATS, the mini-batch variance of Algorithm 1, *biased* (divisor m, C8):
/// σ_B² = (1/m)·Σ_{i=1}^{m} (x_i − μ_B)².
///
/// Two passes: the mean first, then the squared deviations from it, so no large squares
/// cancel (the one-pass E\[x²\] − μ² loses every digit on data like x + 1e8).
pub fn batch_variance(x: &[f64]) -> f64 {
    let mu = batch_mean(x);
    x.iter().map(|&xi| (xi - mu) * (xi - mu)).sum::<f64>() / x.len() as f64
}
// ANCHOR_END: batch_variance

// ANCHOR: normalize
/// BN-TRAIN-NORM: x̂_i = (x_i − μ_B)/√(σ_B² + ε), with ε inside the root.
pub fn normalize(x: &[f64], eps: f64) -> Vec<f64> {
    let mu = batch_mean(x);
    let var = batch_variance(x);
    x.iter().map(|&xi| (xi - mu) / (var + eps).sqrt()).collect()
}
// ANCHOR_END: normalize

// ANCHOR: scale_and_shift
/// BN-AFFINE: y_i = γ·x̂_i + β, one learned pair (γ, β) per feature, shared by all samples.
pub fn scale_and_shift(x_hat: &[f64], gamma: f64, beta: f64) -> Vec<f64> {
    x_hat.iter().map(|&h| gamma * h + beta).collect()
}
// ANCHOR_END: scale_and_shift

// ANCHOR: train_forward
/// Algorithm 1 for one feature: normalise with the batch's own statistics, then scale and
/// shift. y_i = γ·(x_i − μ_B)/√(σ_B² + ε) + β.
pub fn train_forward(x: &[f64], gamma: f64, beta: f64, eps: f64) -> Vec<f64> {
    scale_and_shift(&normalize(x, eps), gamma, beta)
}
// ANCHOR_END: train_forward

// ANCHOR: inference_mean
/// BN-INF-MEAN (Algorithm 2): μ = E_B\[μ_B\], the average of the batch means over the
/// training batches.
pub fn inference_mean(batch_means: &[f64]) -> f64 {
    batch_means.iter().sum::<f64>() / batch_means.len() as f64
}
// ANCHOR_END: inference_mean

// ANCHOR: inference_variance
/// BN-INF-VAR (Algorithm 2): σ² = m/(m−1)·E_B\[σ_B²\], the Bessel-corrected average of the
/// (biased) batch variances of batches of size m. `None` for m < 2, where the factor is
/// undefined.
pub fn inference_variance(batch_variances: &[f64], m: usize) -> Option<f64> {
    if m < 2 {
        return None;
    }
    let mean_var = batch_variances.iter().sum::<f64>() / batch_variances.len() as f64;
    Some(m as f64 / (m as f64 - 1.0) * mean_var)
}
// ANCHOR_END: inference_variance

// ANCHOR: inference_transform
/// BN-INF-TRANSFORM: at inference x̂ = (x − μ)/√(σ² + ε) and y = γ·x̂ + β, with the fixed
/// population statistics (μ, σ²) in place of the batch's. Each sample on its own.
pub fn inference_transform(x: f64, mean: f64, var: f64, gamma: f64, beta: f64, eps: f64) -> f64 {
    let x_hat = (x - mean) / (var + eps).sqrt();
    gamma * x_hat + beta
}
// ANCHOR_END: inference_transform

// ANCHOR: inference_affine
/// BN-INF-TRANSFORM, Algorithm 2's single affine map: y = a·x + b with
/// a = γ/√(σ² + ε) and b = β − γ·μ/√(σ² + ε). Returns (a, b).
pub fn inference_affine(mean: f64, var: f64, gamma: f64, beta: f64, eps: f64) -> (f64, f64) {
    let a = gamma / (var + eps).sqrt();
    (a, beta - a * mean)
}
// ANCHOR_END: inference_affine

/// The gradients of one feature's BN with respect to its inputs and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients {
    /// ∂ℓ/∂x_i, one per sample.
    pub x: Vec<f64>,
    /// ∂ℓ/∂γ.
    pub gamma: f64,
    /// ∂ℓ/∂β.
    pub beta: f64,
}

// ANCHOR: backward
/// EXT-BN-BWD, the backward pass step by step as Ioffe & Szegedy §3 write it, for one
/// feature with upstream gradients g_i = ∂ℓ/∂y_i:
///
/// - ∂ℓ/∂x̂_i = g_i·γ
/// - ∂ℓ/∂σ_B² = Σ_i ∂ℓ/∂x̂_i·(x_i − μ_B)·(−½)(σ_B² + ε)^{−3/2}
/// - ∂ℓ/∂μ_B = Σ_i ∂ℓ/∂x̂_i·(−1/√(σ_B² + ε)) + ∂ℓ/∂σ_B²·Σ_i −2(x_i − μ_B)/m
/// - ∂ℓ/∂x_i = ∂ℓ/∂x̂_i/√(σ_B² + ε) + ∂ℓ/∂σ_B²·2(x_i − μ_B)/m + ∂ℓ/∂μ_B/m
/// - ∂ℓ/∂γ = Σ_i g_i·x̂_i and ∂ℓ/∂β = Σ_i g_i.
pub fn backward(x: &[f64], gamma: f64, eps: f64, g: &[f64]) -> Gradients {
    let m = x.len() as f64;
    let mu = batch_mean(x);
    let var = batch_variance(x);
    let x_hat = normalize(x, eps);
    let d_x_hat: Vec<f64> = g.iter().map(|&gi| gi * gamma).collect();
    let d_var = x
        .iter()
        .zip(&d_x_hat)
        .map(|(&xi, &dh)| dh * (xi - mu) * -0.5 * (var + eps).powf(-1.5))
        .sum::<f64>();
    let d_mu = d_x_hat
        .iter()
        .map(|&dh| dh * (-1.0 / (var + eps).sqrt()))
        .sum::<f64>()
        + d_var * x.iter().map(|&xi| -2.0 * (xi - mu)).sum::<f64>() / m;
    let d_x = x
        .iter()
        .zip(&d_x_hat)
        .map(|(&xi, &dh)| dh / (var + eps).sqrt() + d_var * 2.0 * (xi - mu) / m + d_mu / m)
        .collect();
    Gradients {
        x: d_x,
        gamma: g.iter().zip(&x_hat).map(|(gi, h)| gi * h).sum(),
        beta: g.iter().sum(),
    }
}
// ANCHOR_END: backward

// ANCHOR: backward_compact
/// EXT-BN-BWD, the compact form: with s = √(σ_B² + ε),
/// ∂ℓ/∂x_i = (γ/(m·s))·(m·g_i − Σ_j g_j − x̂_i·Σ_j g_j·x̂_j).
pub fn backward_compact(x: &[f64], gamma: f64, eps: f64, g: &[f64]) -> Vec<f64> {
    let m = x.len() as f64;
    let s = (batch_variance(x) + eps).sqrt();
    let x_hat = normalize(x, eps);
    let sum_g: f64 = g.iter().sum();
    let sum_g_x_hat: f64 = g.iter().zip(&x_hat).map(|(gi, h)| gi * h).sum();
    g.iter()
        .zip(&x_hat)
        .map(|(&gi, &h)| gamma / (m * s) * (m * gi - sum_g - h * sum_g_x_hat))
        .collect()
}
// ANCHOR_END: backward_compact

// ANCHOR: ema_step
/// EXT-BN-EMA, one step of the exponential moving average r ← ρ·r + (1 − ρ)·s, in the
/// catalogue's convention: ρ is the weight of the *old* value (PyTorch's `momentum` is 1 − ρ).
pub fn ema_step(r: f64, s: f64, rho: f64) -> f64 {
    rho * r + (1.0 - rho) * s
}
// ANCHOR_END: ema_step

// ANCHOR: ema_closed_form
/// EXT-BN-EMA, the recursion unrolled: after T steps from r_0,
/// r_T = ρ^T·r_0 + (1 − ρ)·Σ_{t=1}^{T} ρ^{T−t}·s_t.
pub fn ema_closed_form(r0: f64, s: &[f64], rho: f64) -> f64 {
    let t = s.len();
    let tail: f64 = s
        .iter()
        .enumerate()
        .map(|(i, &st)| rho.powi((t - 1 - i) as i32) * st)
        .sum();
    rho.powi(t as i32) * r0 + (1.0 - rho) * tail
}
// ANCHOR_END: ema_closed_form

// ANCHOR: layer_forward
/// Column k of a batch `x[i][k]`: the m values of feature k.
pub fn feature(x: &[Vec<f64>], k: usize) -> Vec<f64> {
    x.iter().map(|sample| sample[k]).collect()
}

/// Algorithm 1 on a whole layer: feature k of every sample is normalised with feature k's
/// batch statistics and its own (γ_k, β_k). Returns y\[i\]\[k\].
pub fn layer_train_forward(x: &[Vec<f64>], gamma: &[f64], beta: &[f64], eps: f64) -> Vec<Vec<f64>> {
    let mut y = vec![vec![0.0; gamma.len()]; x.len()];
    for k in 0..gamma.len() {
        let yk = train_forward(&feature(x, k), gamma[k], beta[k], eps);
        for (row, v) in y.iter_mut().zip(yk) {
            row[k] = v;
        }
    }
    y
}
// ANCHOR_END: layer_forward

// ANCHOR: fold
/// EXT-BN-FOLD: inference BN after the affine layer z = Wᵀ·o + b (W is J_i × J_{i+1}, C2)
/// equals the affine layer W'ᵀ·o + b' with
/// W' = W·diag(γ/√(σ² + ε)) (each *column* scaled) and b' = (b − μ)⊙γ/√(σ² + ε) + β.
/// `w[j][k]` is W_{j,k}; returns (W', b').
pub fn fold(
    w: &[Vec<f64>],
    b: &[f64],
    mean: &[f64],
    var: &[f64],
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let scale: Vec<f64> = (0..b.len())
        .map(|k| gamma[k] / (var[k] + eps).sqrt())
        .collect();
    let w_folded = w
        .iter()
        .map(|row| row.iter().zip(&scale).map(|(wjk, sk)| wjk * sk).collect())
        .collect();
    let b_folded = (0..b.len())
        .map(|k| (b[k] - mean[k]) * scale[k] + beta[k])
        .collect();
    (w_folded, b_folded)
}
// ANCHOR_END: fold
