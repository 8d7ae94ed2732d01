//! Draws for the checks' inputs, from any generator (the claims use [`crate::claims::Rng`]).
//!
//! Exact transforms of uniforms, no rejection loop, so one draw always consumes the same
//! number of uniforms and a seeded stream stays aligned between our code and every planted
//! variant.

use rand::Rng;

/// A standard normal draw by Box–Muller, from two uniforms: u₁ = 1 − U ∈ (0, 1] so the
/// logarithm is finite, and √(−2 ln u₁)·cos(2π u₂).
///
/// ```
/// use proofs_engine::rand::SeedableRng;
/// use proofs_engine::stats::standard_normal;
/// let mut rng = proofs_engine::claims::Rng::seed_from_u64(1);
/// let n = 20_000;
/// let mean = (0..n).map(|_| standard_normal(&mut rng)).sum::<f64>() / n as f64;
/// assert!(mean.abs() < 5.0 / (n as f64).sqrt()); // five standard errors
/// ```
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An Exp(1) draw by inversion, −ln(1 − U) with 1 − U ∈ (0, 1].
pub fn exponential(rng: &mut impl Rng) -> f64 {
    -(1.0 - rng.random::<f64>()).ln()
}
