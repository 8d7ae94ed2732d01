//! Normal-theory tests and the threshold arithmetic: z-tests, critical values, power, and the
//! Hoeffding radius for bounded variables.

use statrs::function::erf::{erfc, erfc_inv};

use super::{TestOutcome, require};
use crate::Result;

/// The standard normal CDF, Φ(x) = erfc(−x/√2)/2 (accurate in both tails: no 1 − Φ).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The two-sided normal p-value of a z statistic: P(|Z| ≥ |z|) = erfc(|z|/√2).
/// NaN gives NaN.
pub fn normal_two_sided_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Two-sided z-test of `estimate` against `expected`:
/// z = (estimate − expected) / standard_error, p = P(|Z| ≥ |z|) = erfc(|z|/√2).
///
/// `n` is recorded for the report only (the standard error already accounts for it).
///
/// # Errors
/// [`crate::Error::ParameterOutOfRange`] when `expected` is not finite or `standard_error` is
/// not finite and positive. A NaN `estimate` is invalid data, not an error: the outcome
/// rejects (p = 0). An infinite estimate gives z = ±∞ and p = 0.
pub fn z_test(estimate: f64, expected: f64, standard_error: f64, n: u64) -> Result<TestOutcome> {
    const TEST: &str = "two-sided z-test";
    require(expected.is_finite(), "expected", expected, "finite values")?;
    require(
        standard_error.is_finite() && standard_error > 0.0,
        "standard_error",
        standard_error,
        "(0, ∞)",
    )?;
    if estimate.is_nan() {
        return Ok(TestOutcome::invalid_data(TEST, n));
    }
    let z = (estimate - expected) / standard_error;
    Ok(TestOutcome {
        test: TEST,
        statistic: z,
        n,
        p_value: normal_two_sided_p(z),
    })
}

/// The two-sided critical value z_{α/2} = Φ⁻¹(1 − α/2) = √2·erfc⁻¹(α): the |z| above which the
/// two-sided z-test rejects at level α: 4.8916 for α = 1e-6 (the conventions appendix rounds
/// it to 4.89), 1.96 for 0.05.
///
/// α = 0 gives +∞, α = 1 gives 0; α outside [0, 1] or NaN gives NaN.
pub fn z_critical(alpha: f64) -> f64 {
    if !(0.0..=1.0).contains(&alpha) {
        f64::NAN
    } else if alpha == 0.0 {
        f64::INFINITY
    } else if alpha == 1.0 {
        0.0
    } else {
        std::f64::consts::SQRT_2 * erfc_inv(alpha)
    }
}

/// Power of the two-sided level-α z-test when the true mean is shifted by `effect` standard
/// errors: P(|Z + δ| > z_{α/2}) = Φ(|δ| − z_{α/2}) + Φ(−|δ| − z_{α/2}).
///
/// δ = 0 gives α; δ = 8 at α = 1e-6 gives 0.99906 (the "(4.89 + 3.09)·SE ≈ 8 SE" rule of
/// the conventions appendix, "Statistics"). NaN in, NaN out.
pub fn z_power(effect_in_standard_errors: f64, alpha: f64) -> f64 {
    let z = z_critical(alpha);
    let d = effect_in_standard_errors.abs();
    if z.is_infinite() {
        // α = 0 never rejects (unless the shift is infinite too, which we call no power).
        return if d.is_nan() { f64::NAN } else { 0.0 };
    }
    normal_cdf(d - z) + normal_cdf(-d - z)
}

/// The shift, in standard errors, at which the two-sided level-α z-test reaches `power`:
/// δ = z_{α/2} + z_{1−power} (the far tail, below α/2, is ignored, so the true power is a
/// hair higher). 7.9819 for power 0.999 at α = 1e-6: the "≈ 8 SE" of the conventions appendix.
///
/// `power` outside (0, 1) or α outside [0, 1] gives NaN (α = 0 gives +∞).
pub fn z_required_effect(power: f64, alpha: f64) -> f64 {
    if !(power > 0.0 && power < 1.0) {
        return f64::NAN;
    }
    z_critical(alpha) + std::f64::consts::SQRT_2 * erfc_inv(2.0 * (1.0 - power))
}

/// Two-sided Hoeffding radius for the mean of `n` independent variables each in an interval of
/// length `range`: P(|X̄ − μ| ≥ t) ≤ 2·exp(−2·n·t²/range²), so with probability ≥ 1 − α,
/// |X̄ − μ| < t = range·√(ln(2/α)/(2n)).
///
/// n = 0 or α = 0 gives +∞; α outside [0, 1], a negative or non-finite range, or NaN gives NaN.
pub fn hoeffding_radius(n: u64, range: f64, alpha: f64) -> f64 {
    if !((0.0..=1.0).contains(&alpha) && range.is_finite() && range >= 0.0) {
        return f64::NAN;
    }
    if n == 0 || alpha == 0.0 {
        return f64::INFINITY;
    }
    range * ((2.0 / alpha).ln() / (2.0 * n as f64)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ALPHA;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn critical_values_match_scipy() {
        // scipy 1.17.1: scipy.stats.norm.isf(alpha / 2)
        for (alpha, z) in [
            (1e-6, 4.891638475698591),
            (0.05, 1.9599639845400545),
            (1e-3, 3.2905267314918945),
            (1e-12, 7.130506848171324),
        ] {
            let got = z_critical(alpha);
            assert!(close(got, z, 1e-12), "alpha {alpha}: {got} vs {z}");
        }
        // The conventions appendix quotes 4.89.
        assert!((z_critical(ALPHA) - 4.89).abs() < 0.005);
        assert_eq!(z_critical(0.0), f64::INFINITY);
        assert_eq!(z_critical(1.0), 0.0);
        assert!(z_critical(-0.1).is_nan() && z_critical(1.5).is_nan());
        assert!(z_critical(f64::NAN).is_nan());
    }

    #[test]
    fn two_sided_p_matches_scipy() {
        // scipy 1.17.1: 2 * scipy.stats.norm.sf(abs(z))
        for (z, p) in [
            (0.0, 1.0),
            (1.0, 0.31731050786291415),
            (2.0, 0.04550026389635839),
            (-3.0, 0.0026997960632601866),
            (5.0, 5.733031437583866e-07),
            (10.0, 1.523970604832094e-23),
            (30.0, 9.813427854295816e-198),
        ] {
            let got = normal_two_sided_p(z);
            assert!(close(got, p, 1e-10), "z {z}: {got} vs {p}");
        }
    }

    #[test]
    fn z_test_outcome_and_edges() {
        let o = z_test(12.0, 10.0, 1.0, 100).unwrap();
        assert_eq!(o.test, "two-sided z-test");
        assert_eq!(o.statistic, 2.0);
        assert_eq!(o.n, 100);
        assert!(close(o.p_value, 0.04550026389635839, 1e-10));
        assert!(!o.rejects_at(ALPHA));
        // 5 SE below: p = 5.73e-7 < 1e-6, rejected.
        assert!(z_test(5.0, 10.0, 1.0, 1).unwrap().rejects_at(ALPHA));
        assert!(z_test(1.0, 1.0, 0.0, 1).is_err());
        assert!(z_test(1.0, 1.0, -1.0, 1).is_err());
        assert!(z_test(1.0, 1.0, f64::NAN, 1).is_err());
        assert!(z_test(1.0, f64::INFINITY, 1.0, 1).is_err());
        let nan = z_test(f64::NAN, 1.0, 1.0, 7).unwrap();
        assert!(nan.statistic.is_nan() && nan.p_value == 0.0 && nan.n == 7);
        let inf = z_test(f64::INFINITY, 1.0, 1.0, 7).unwrap();
        assert_eq!((inf.statistic, inf.p_value), (f64::INFINITY, 0.0));
    }

    #[test]
    fn power_matches_scipy() {
        // scipy 1.17.1: zc = norm.isf(alpha/2); norm.cdf(d - zc) + norm.cdf(-d - zc)
        for (d, alpha, power) in [
            (8.0, 1e-6, 0.9990593610807257),
            (-8.0, 1e-6, 0.9990593610807257),
            (0.0, 1e-6, 9.999999999999938e-07),
            (4.0, 0.05, 0.9793266319025757),
            (4.891638475699412, 1e-6, 0.5000000000003274),
        ] {
            let got = z_power(d, alpha);
            assert!(close(got, power, 1e-9), "d {d}: {got} vs {power}");
        }
        // The conventions appendix's rule "(4.89 + 3.09)·SE ≈ 8 SE": 8 SE gives power ≥ 0.999, but the
        // rounded sum 7.98 falls just short (0.99899), since z_crit is 4.8916, not 4.89.
        assert!(z_power(8.0, ALPHA) >= 0.999);
        assert!(z_power(7.98, ALPHA) < 0.999);
        let needed = z_required_effect(0.999, ALPHA);
        assert!((needed - (4.891638475698591 + 3.090232306167813)).abs() < 1e-9);
        assert!((z_power(needed, ALPHA) - 0.999).abs() < 1e-12);
        assert_eq!(z_power(3.0, 0.0), 0.0);
        assert!(z_power(f64::NAN, ALPHA).is_nan());
    }

    #[test]
    fn hoeffding_radius_formula() {
        // By hand: √(ln(2e6)/(2·1e4)) = √(14.508657738524219 / 2e4) = 0.026933847...
        let t = hoeffding_radius(10_000, 1.0, 1e-6);
        assert!(close(t, (14.508657738524219f64 / 2e4).sqrt(), 1e-14));
        assert!(close(hoeffding_radius(10_000, 2.0, 1e-6), 2.0 * t, 1e-14));
        // Quadrupling n halves the radius.
        assert!(close(hoeffding_radius(40_000, 1.0, 1e-6), t / 2.0, 1e-14));
        assert_eq!(hoeffding_radius(0, 1.0, 1e-6), f64::INFINITY);
        assert_eq!(hoeffding_radius(10, 1.0, 0.0), f64::INFINITY);
        assert!(hoeffding_radius(10, -1.0, 1e-6).is_nan());
        assert!(hoeffding_radius(10, 1.0, 2.0).is_nan());
    }
}
