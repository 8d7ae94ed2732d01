//! Distribution shape: the Kolmogorov–Smirnov distance with the Dvoretzky–Kiefer–Wolfowitz
//! bound, with Massart's (1990) tight constant: for n i.i.d. draws from a continuous F,
//! P(sup_x |F_n(x) − F(x)| > ε) ≤ 2·exp(−2·n·ε²) for every ε > 0.

use super::{TestOutcome, hoeffding_radius, require};
use crate::Result;

/// The KS distance D = sup_x |F_n(x) − F(x)| of `sample` from the CDF `cdf`. Sorts the sample
/// (ascending, `total_cmp`), then with x₍₁₎ ≤ … ≤ x₍ₙ₎,
/// D = max_i max(i/n − F(x₍ᵢ₎), F(x₍ᵢ₎) − (i − 1)/n), which is exact for continuous F, ties
/// in the sample included.
///
/// A NaN in the sample gives `Ok(NaN)`.
///
/// # Errors
/// [`crate::Error::ParameterOutOfRange`] for an empty sample, or when `cdf` returns a value
/// outside [0, 1] (or NaN) at a sample point.
pub fn ks_statistic(sample: &mut [f64], cdf: impl Fn(f64) -> f64) -> Result<f64> {
    require(!sample.is_empty(), "n", 0.0, "[1, ∞)")?;
    if sample.iter().any(|x| x.is_nan()) {
        return Ok(f64::NAN);
    }
    sample.sort_unstable_by(f64::total_cmp);
    let n = sample.len() as f64;
    let mut d = 0.0f64;
    for (i, &x) in sample.iter().enumerate() {
        let f = cdf(x);
        require((0.0..=1.0).contains(&f), "cdf value", f, "[0, 1]")?;
        let above = (i + 1) as f64 / n - f;
        let below = f - i as f64 / n;
        d = d.max(above).max(below);
    }
    Ok(d)
}

/// KS test with the DKW–Massart bound: statistic D = sup|F_n − F| (see [`ks_statistic`]; the
/// sample is sorted in place) and p-value bound min(1, 2·exp(−2·n·D²)).
///
/// The bound is conservative (the true KS p-value is smaller), so the false-failure rate is at
/// most α, and `rejects_at(α)` holds exactly when D > [`dkw_radius`]`(n, α)`.
/// A NaN in the sample rejects (p = 0).
///
/// # Errors
/// As [`ks_statistic`].
pub fn ks_dkw(sample: &mut [f64], cdf: impl Fn(f64) -> f64) -> Result<TestOutcome> {
    const TEST: &str = "DKW/KS";
    let d = ks_statistic(sample, cdf)?;
    let n = sample.len() as u64;
    if d.is_nan() {
        return Ok(TestOutcome::invalid_data(TEST, n));
    }
    Ok(TestOutcome {
        test: TEST,
        statistic: d,
        n,
        p_value: (2.0 * (-2.0 * n as f64 * d * d).exp()).min(1.0),
    })
}

/// The DKW radius ε = √(ln(2/α)/(2n)): with probability ≥ 1 − α, sup|F_n − F| ≤ ε.
/// 0.0269 at n = 1e4 and 0.0085 at n = 1e5 for α = 1e-6 (conventions appendix, "Statistics").
///
/// n = 0 or α = 0 gives +∞; α outside [0, 1] or NaN gives NaN.
pub fn dkw_radius(n: u64, alpha: f64) -> f64 {
    hoeffding_radius(n, 1.0, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{ALPHA, normal_cdf};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn uniform_cdf(x: f64) -> f64 {
        x.clamp(0.0, 1.0)
    }

    #[test]
    fn dkw_radius_matches_claims() {
        // The conventions appendix, "Statistics": 0.0269 at N = 1e4 and 0.0085 at N = 1e5, α = 1e-6.
        assert!((dkw_radius(10_000, ALPHA) - 0.0269).abs() < 5e-5);
        assert!((dkw_radius(100_000, ALPHA) - 0.0085).abs() < 5e-5);
        // By hand: √(ln(2e6)/2e5), ln(2e6) = ln 2 + 6·ln 10 = 14.508657738524219.
        let want = (14.508657738524219f64 / 2e5).sqrt();
        assert!((dkw_radius(100_000, ALPHA) - want).abs() < 1e-16);
        assert_eq!(dkw_radius(0, ALPHA), f64::INFINITY);
    }

    #[test]
    fn statistic_by_hand() {
        // Sorted (0.1, 0.4, 0.7) vs U(0, 1): i/n − x = (0.233, 0.267, 0.3), x − (i−1)/n =
        // (0.1, 0.067, 0.033), so D = 1 − 0.7 = 0.3. scipy.stats.kstest(.., 'uniform') agrees.
        let mut s = [0.7, 0.1, 0.4];
        let o = ks_dkw(&mut s, uniform_cdf).unwrap();
        assert_eq!(s, [0.1, 0.4, 0.7]);
        assert!((o.statistic - 0.3).abs() < 1e-15);
        assert_eq!((o.test, o.n), ("DKW/KS", 3));
        // 2·exp(−2·3·0.09) = 1.166 > 1, capped.
        assert_eq!(o.p_value, 1.0);
        // (0.05, 0.1, 0.15, 0.9): 3/4 − 0.15 = 0.6 is the largest gap (scipy: 0.6).
        let d = ks_statistic(&mut [0.9, 0.05, 0.15, 0.1], uniform_cdf).unwrap();
        assert!((d - 0.6).abs() < 1e-15);
        // p-value bound 2·exp(−2·4·0.36) = 0.1122...
        let p = ks_dkw(&mut [0.9, 0.05, 0.15, 0.1], uniform_cdf)
            .unwrap()
            .p_value;
        assert!((p - 2.0 * (-2.88f64).exp()).abs() < 1e-15);
        // Against N(0, 1): sorted (−1, 0, 0.25, 0.5, 2); the largest gap is just below 0,
        // Φ(0) − 1/5 = 0.3 (next: Φ(0.25) − 2/5 ≈ 0.199, Φ(2) − 4/5 ≈ 0.177).
        // scipy.stats.kstest([-1, 0, 0.5, 2, 0.25], 'norm').statistic = 0.3.
        let d = ks_statistic(&mut [-1.0, 0.0, 0.5, 2.0, 0.25], normal_cdf).unwrap();
        assert!((d - 0.3).abs() < 1e-15);
        // Ties: all mass at one point x = 0.5 gives D = max(1 − 0.5, 0.5 − 0) = 0.5.
        let d = ks_statistic(&mut [0.5; 4], uniform_cdf).unwrap();
        assert!((d - 0.5).abs() < 1e-15);
    }

    #[test]
    fn edges() {
        assert!(ks_dkw(&mut [], uniform_cdf).is_err());
        assert!(ks_dkw(&mut [0.5], |_| 1.5).is_err());
        assert!(ks_dkw(&mut [0.5], |_| f64::NAN).is_err());
        let o = ks_dkw(&mut [0.5, f64::NAN], uniform_cdf).unwrap();
        assert!(o.statistic.is_nan() && o.p_value == 0.0 && o.n == 2);
        // Infinities are legitimate sample points for a CDF that handles them.
        let d = ks_statistic(&mut [f64::NEG_INFINITY, f64::INFINITY], uniform_cdf).unwrap();
        assert!((d - 0.5).abs() < 1e-15);
    }

    #[test]
    fn seeded_uniform_passes_and_shift_is_rejected() {
        // n = 1e5: the DKW radius at α = 1e-6 is 0.0085. A correct sample has D ≈ 1/√n·0.87
        // ≈ 0.003 typically; a shift by 0.02 moves F by 0.02 everywhere, D ≥ 0.02 − 0.003.
        let n = 100_000;
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_d1c5);
        let mut good: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
        let mut shifted: Vec<f64> = good.iter().map(|x| x + 0.02).collect();
        let pass = ks_dkw(&mut good, uniform_cdf).unwrap();
        assert!(!pass.rejects_at(ALPHA), "{pass}");
        assert!(pass.statistic < dkw_radius(n as u64, ALPHA));
        let fail = ks_dkw(&mut shifted, uniform_cdf).unwrap();
        assert!(fail.rejects_at(ALPHA), "{fail}");
        assert!(fail.statistic > dkw_radius(n as u64, ALPHA));
        // rejects_at(α) and D > radius agree (up to rounding at the boundary itself).
        let r = dkw_radius(n as u64, ALPHA);
        let at = |d: f64| TestOutcome {
            test: "",
            statistic: d,
            n: n as u64,
            p_value: (2.0 * (-2.0 * n as f64 * d * d).exp()).min(1.0),
        };
        assert!(at(r * 1.000001).rejects_at(ALPHA) && !at(r * 0.999999).rejects_at(ALPHA));
    }
}
