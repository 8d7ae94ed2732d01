//! How far the f32 kernels may be from the f64 specification, derived from the operation
//! count (conventions appendix, Tolerances: f32 kernels against f64 references). The claims and `tests/batch_norm.rs` compare the
//! kernels with `derivations::batch_norm` run on the same f32 inputs (converted exactly to
//! f64) against these bounds; none is tuned.
//!
//! Notation: u = 2⁻²⁴, the unit roundoff of f32 (each f32 rounding or FMA has relative error
//! ≤ u); ε = 2⁻⁵³, that of f64. The per-feature coefficients are computed in f64 from f64
//! statistics and rounded once to f32. The statistics themselves are accurate to
//! ≲ (m + 2)(2m + 1)·ε relative (shifted sums, `kernel::shifted_sums`), which is below u/10
//! for every m ≤ 4096: the factors 2 (and 4) below leave room for them and for the second
//! order terms.

/// u = 2⁻²⁴.
pub const U: f64 = f32::EPSILON as f64 / 2.0;

/// ε = 2⁻⁵³.
pub const EPS64: f64 = f64::EPSILON / 2.0;

/// y = x·scale + shift computed as fl(x·fl(scale) + fl(shift)) (the training forward and
/// inference): three roundings, |Δy| ≤ u·(|x·scale| + |shift| + |y|) to first order, plus the
/// statistics' error on scale and shift. Bound: 2u·(|x·scale| + |shift| + |β| + |y|)
/// (|β| bounds the part of the shift the statistics do not touch: shift = β − μ·scale).
///
/// The terms |x·scale| and |shift| are what |y| hides when |μ| ≫ σ: the fused form
/// inherits the conditioning (|x| + |μ|)/σ of x − μ, which f32 data at that offset carry
/// anyway.
pub fn affine_bound(x: f64, scale: f64, shift: f64, beta: f64, y: f64) -> f64 {
    2.0 * U * ((x * scale).abs() + shift.abs() + beta.abs() + y.abs())
}

/// The backward pass ∂ℓ/∂x_i = A·(g_i − c₁ − x̂_i·c₂) (A = γ/s, c₁ = Σg/m, c₂ = Σg·x̂/m)
/// computed as fl(g·a + fl(x·b + c)) with a, b, c the f32-rounded coefficients A, −A·c₂/s
/// and −A·c₁ + A·c₂·μ/s. Five roundings (a, b, c and two FMAs), each at most u times a term
/// bounded by M = |A|·(|g_i| + S₁ + S₂·(|x_i| + |μ|)/s), with S₁ = Σ|g|/m ≥ |c₁| and
/// S₂ = Σ|g·x̂|/m ≥ |c₂|: the sum is ≤ 3u·M. Bound: 4u·M.
#[allow(clippy::too_many_arguments)]
pub fn backward_bound(
    gamma: f64,
    s: f64,
    g: f64,
    x: f64,
    mean: f64,
    sum_abs_g: f64,
    sum_abs_g_x_hat: f64,
    m: usize,
) -> f64 {
    let m = m as f64;
    let big_m = (gamma / s).abs()
        * (g.abs() + sum_abs_g / m + sum_abs_g_x_hat / m * (x.abs() + mean.abs()) / s);
    4.0 * U * big_m
}

/// A sum Σ_i t_i of m terms accumulated in f64 and rounded once to f32 (∂ℓ/∂γ = Σ g·x̂,
/// ∂ℓ/∂β = Σ g): |Δ| ≤ u·|Σ t| + m·ε·Σ|t| ≤ 2u·Σ|t| for m ≤ 2²⁹.
pub fn sum_bound(sum_abs: f64) -> f64 {
    2.0 * U * sum_abs
}

/// The kernel's batch mean against the two-pass specification's, both f64: each is a sum of
/// m terms of size at most |μ| + max|x − μ| (the kernel adds the shift K back), so each is
/// within (m + 1)·ε·(|μ| + max|x − μ|) of the exact mean. Bound: 4(m + 1)·ε·(|μ| + max|x − μ|).
pub fn mean_bound(m: usize, mean: f64, max_deviation: f64) -> f64 {
    4.0 * (m as f64 + 1.0) * EPS64 * (mean.abs() + max_deviation)
}

/// The kernel's biased batch variance against the two-pass specification's. The kernel's
/// Q/m − (S/m)² loses at most a factor (2m + 1) to cancellation (|K − μ|² ≤ (m − 1)σ²) on
/// top of (m + 2)·ε per sum; the specification's is within (m + 2)·ε·σ² plus the square of its
/// mean's error. Bound: 4(m + 2)(2m + 1)·ε·σ² + 2·((m + 1)·ε·(|μ| + max|x − μ|))².
pub fn variance_bound(m: usize, variance: f64, mean: f64, max_deviation: f64) -> f64 {
    let mf = m as f64;
    let mean_err = (mf + 1.0) * EPS64 * (mean.abs() + max_deviation);
    4.0 * (mf + 2.0) * (2.0 * mf + 1.0) * EPS64 * variance + 2.0 * mean_err * mean_err
}
