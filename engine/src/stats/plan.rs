//! Sample sizes: how many draws a check needs to reject a planted effect with a stated power
//! at a stated α. Each planner assumes *independent* draws; see the module docs of
//! [`crate::stats`] for what to do with dependent ones.
//!
//! ```
//! use proofs_engine::stats::plan;
//! // A uniform initialiser whose bound is √3/√(J_i+J_{i+1}) instead of √6/…: the sample
//! // variance is half the target. For uniform draws μ₄/σ⁴ = 9/5, so one draw's s² has
//! // relative SD √(9/5 − 1) ≈ 0.894. Power 0.999 at α = 1e-6 against a ratio of ½:
//! let n = plan::variance_ratio(0.5, 9.0 / 5.0, 1e-6, 0.999);
//! assert_eq!(n, 204);
//! ```

use super::normal::z_critical;

/// The one-sided normal quantile z_{1−β} for power 1 − β (the far tail ignored).
fn z_power_quantile(power: f64) -> f64 {
    z_critical(2.0 * (1.0 - power))
}

fn ceil(x: f64) -> u64 {
    if x.is_finite() {
        x.ceil().max(1.0) as u64
    } else {
        u64::MAX
    }
}

/// Draws for a two-sided z-test of a mean to detect a shift of `effect` when one draw has
/// standard deviation `sd`: n = ((z_{α/2} + z_{power})·sd/effect)².
///
/// A zero effect needs infinitely many draws (`u64::MAX`).
pub fn mean_shift(effect: f64, sd: f64, alpha: f64, power: f64) -> u64 {
    let z = z_critical(alpha) + z_power_quantile(power);
    ceil((z * sd / effect.abs()).powi(2))
}

/// Draws for the variance test (z with the standard error from the fourth moment) to detect a
/// true variance of `ratio` times the claimed one, when the draws have kurtosis
/// `kurtosis` = μ₄/σ⁴ (3 for a normal, 9/5 for a uniform): Var(s²)/σ⁴ ≈ (κ − 1)/n, so
/// n = ((z_{α/2} + z_{power})·√(κ − 1)/|ratio − 1|)², with the null's standard error (the
/// alternative's is ratio times it; for ratio < 1 this is conservative).
pub fn variance_ratio(ratio: f64, kurtosis: f64, alpha: f64, power: f64) -> u64 {
    let sd = (kurtosis - 1.0).max(0.0).sqrt() * ratio.max(1.0);
    mean_shift(ratio - 1.0, sd, alpha, power)
}

/// Draws for the DKW test to reject a law whose CDF differs from the claimed one by
/// `distance` = sup|F − F₀| somewhere: the empirical CDF is within ε_α of F₀ under the
/// claim and within ε_β of F under the bug (both by DKW), so n must make
/// √(ln(2/α)/(2n)) + √(ln(2/β)/(2n)) ≤ distance, β = 1 − power.
pub fn dkw_distance(distance: f64, alpha: f64, power: f64) -> u64 {
    let r = ((2.0 / alpha).ln() / 2.0).sqrt() + ((2.0 / (1.0 - power)).ln() / 2.0).sqrt();
    ceil((r / distance.abs()).powi(2))
}

/// Trials for an exact binomial test of a rate `p0` to detect a true rate `p1` (normal
/// approximation): n = ((z_{α/2}·√(p0 q0) + z_{power}·√(p1 q1)) / |p1 − p0|)².
pub fn binomial_rate(p0: f64, p1: f64, alpha: f64, power: f64) -> u64 {
    let a = z_critical(alpha) * (p0 * (1.0 - p0)).sqrt();
    let b = z_power_quantile(power) * (p1 * (1.0 - p1)).sqrt();
    ceil(((a + b) / (p1 - p0).abs()).powi(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{dkw_radius, z_power};

    #[test]
    fn mean_shift_reaches_the_power() {
        let n = mean_shift(0.1, 1.0, 1e-6, 0.999);
        // 7.9819² / 0.01 = 6371.1, rounded up.
        assert_eq!(n, 6372);
        let se = 1.0 / (n as f64).sqrt();
        assert!(z_power(0.1 / se, 1e-6) >= 0.999);
        let se = 1.0 / ((n - 60) as f64).sqrt();
        assert!(z_power(0.1 / se, 1e-6) < 0.999);
        assert_eq!(mean_shift(0.0, 1.0, 1e-6, 0.999), u64::MAX);
    }

    #[test]
    fn variance_and_dkw_and_binomial() {
        // Doubling the variance of normal draws: with the alternative's SE, 2·√(2/n), the
        // effect of 1 is still at least the 7.98 SE that power 0.999 needs.
        let n = variance_ratio(2.0, 3.0, 1e-6, 0.999);
        let se_alt = 2.0 * (2.0 / n as f64).sqrt();
        assert!(1.0 / se_alt >= 7.98 - 1e-2, "{n}");
        // DKW: at the planned n the two radii add up to at most the distance.
        let n = dkw_distance(0.05, 1e-6, 0.999);
        assert!(dkw_radius(n, 1e-6) + dkw_radius(n, 1e-3) <= 0.05);
        assert!(dkw_radius(n - 10, 1e-6) + dkw_radius(n - 10, 1e-3) > 0.05);
        // Keep rate 0.8 against a drop-rate bug at 0.2: a handful of trials.
        let n = binomial_rate(0.8, 0.2, 1e-6, 0.999);
        assert!((10..40).contains(&n), "{n}");
        let n = binomial_rate(0.5, 0.51, 1e-6, 0.999);
        assert!((150_000..170_000).contains(&n), "{n}");
    }
}
