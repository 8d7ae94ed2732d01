//! χ² tests: the exact test for the variance of Gaussian data and Pearson's goodness of fit.
//!
//! The χ² CDF is the regularised incomplete gamma function, F(x; k) = P(k/2, x/2), from
//! `statrs` (its series and continued fraction have no iteration cap, and each computes the
//! smaller tail directly, so small p-values keep their relative accuracy).

use statrs::function::gamma::{gamma_lr, gamma_ur};

use super::{TestOutcome, require};
use crate::{Result, error::check_len};

/// How far the probabilities of [`chi_square_gof`] may sum from 1.
const PROBABILITY_SUM_TOLERANCE: f64 = 1e-9;

/// Both tails of χ²_df at x: (F(x), 1 − F(x)), each computed directly. NaN for df ≤ 0 or NaN.
fn chi_square_tails(x: f64, df: f64) -> (f64, f64) {
    if x.is_nan() || df.is_nan() || df <= 0.0 || df.is_infinite() {
        (f64::NAN, f64::NAN)
    } else if x <= 0.0 {
        (0.0, 1.0)
    } else if x == f64::INFINITY {
        (1.0, 0.0)
    } else {
        (gamma_lr(df / 2.0, x / 2.0), gamma_ur(df / 2.0, x / 2.0))
    }
}

/// The χ² CDF with `df` degrees of freedom, F(x) = P(df/2, x/2) (regularised lower incomplete
/// gamma). 0 for x ≤ 0; NaN for df ≤ 0, infinite df, or NaN.
pub fn chi_square_cdf(x: f64, df: f64) -> f64 {
    chi_square_tails(x, df).0
}

/// The χ² survival function 1 − F(x) = Q(df/2, x/2), computed directly (not as 1 − F).
/// 1 for x ≤ 0; NaN for df ≤ 0, infinite df, or NaN.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    chi_square_tails(x, df).1
}

/// Exact two-sided test that `n` i.i.d. normal draws with unbiased sample variance
/// `sample_variance` (divisor n − 1) have variance `sigma2`:
/// χ² = (n − 1)·s²/σ² ~ χ²_{n−1}, p = 2·min(F(χ²), 1 − F(χ²)) capped at 1.
///
/// Only for Gaussian data; for other data use [`crate::stats::z_test_variance`].
///
/// # Errors
/// [`crate::Error::ParameterOutOfRange`] when n < 2 or σ² is not finite and positive.
/// A NaN or negative sample variance is invalid data: the outcome rejects (p = 0).
pub fn chi_square_variance(sample_variance: f64, n: u64, sigma2: f64) -> Result<TestOutcome> {
    const TEST: &str = "chi-square variance";
    require(n >= 2, "n", n as f64, "[2, ∞)")?;
    require(
        sigma2.is_finite() && sigma2 > 0.0,
        "sigma2",
        sigma2,
        "(0, ∞)",
    )?;
    if sample_variance.is_nan() || sample_variance < 0.0 {
        return Ok(TestOutcome::invalid_data(TEST, n));
    }
    let df = (n - 1) as f64;
    let statistic = df * sample_variance / sigma2;
    let (lower, upper) = chi_square_tails(statistic, df);
    Ok(TestOutcome {
        test: TEST,
        statistic,
        n,
        p_value: (2.0 * lower.min(upper)).min(1.0),
    })
}

/// Pearson's χ² goodness-of-fit test of category counts against category probabilities:
/// χ² = Σ (O_i − N·p_i)²/(N·p_i) with N = Σ O_i, p-value 1 − F(χ²) for χ²_{k−1}, k the number
/// of categories with p_i > 0. A category with p_i = 0 and no observations is ignored; one with
/// observations makes χ² = ∞ and p = 0. The usual validity condition is N·p_i ≥ 5 in every
/// category (the caller's job: the test is asymptotic). `n` in the outcome is N.
///
/// # Errors
/// [`crate::Error::LengthMismatch`] when the slices differ in length;
/// [`crate::Error::ParameterOutOfRange`] for fewer than 2 categories, a probability outside
/// [0, 1] or NaN, probabilities that do not sum to 1 within 1e-9, or N = 0.
pub fn chi_square_gof(observed: &[u64], probabilities: &[f64]) -> Result<TestOutcome> {
    const TEST: &str = "chi-square goodness of fit";
    check_len("probabilities", observed.len(), probabilities.len())?;
    let k = observed.len();
    require(k >= 2, "number of categories", k as f64, "[2, ∞)")?;
    for &p in probabilities {
        require((0.0..=1.0).contains(&p), "probability", p, "[0, 1]")?;
    }
    let sum: f64 = probabilities.iter().sum();
    require(
        (sum - 1.0).abs() <= PROBABILITY_SUM_TOLERANCE,
        "sum of probabilities",
        sum,
        "1 ± 1e-9",
    )?;
    let total: u64 = observed.iter().sum();
    require(total > 0, "total count", 0.0, "[1, ∞)")?;
    let n = total as f64;
    let mut statistic = 0.0;
    let mut cells = 0u32;
    for (&o, &p) in observed.iter().zip(probabilities) {
        if p == 0.0 {
            if o > 0 {
                statistic = f64::INFINITY;
            }
            continue;
        }
        cells += 1;
        let expected = n * p;
        let d = o as f64 - expected;
        statistic += d * d / expected;
    }
    let p_value = if statistic == f64::INFINITY {
        0.0
    } else if cells <= 1 {
        // All mass on one category, which holds every observation: nothing can deviate.
        1.0
    } else {
        chi_square_sf(statistic, f64::from(cells - 1))
    };
    Ok(TestOutcome {
        test: TEST,
        statistic,
        n: total,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn variance_test_matches_scipy() {
        // scipy 1.17.1: F = chi2.cdf(stat, df); S = chi2.sf(stat, df); 2 * min(F, S).
        // The sample variance is chosen so that (n − 1)·s²/σ² = stat with σ² = 2.
        for (stat, df, want, rel) in [
            (18.0, 9u64, 0.07034707893396959, 1e-12),
            (2.0, 9, 0.017064786742372932, 1e-12),
            (9.0, 9, 0.8745483778277339, 1e-12),
            (0.5, 1, 0.9590002443739067, 1e-12),
            (1200.0, 999, 2.225870089651786e-05, 1e-10),
            (800.0, 999, 1.820445882850331e-06, 1e-10),
            // Large df: ln Γ(a) and a·ln x cancel (measured 5e-10 relative here).
            (1_010_000.0, 999_999, 1.8045295295780072e-12, 1e-7),
            (995_000.0, 999_999, 0.0003997263385741853, 1e-7),
            // n = 1e8, ±5 SD (SD of χ²_k is √(2k)); measured 1.3e-7 relative. These two are
            // from mpmath at 50 digits (P(a, x) = x^a·e^(−x)/Γ(a+1)·Σ_j x^j/((a+1)…(a+j))):
            // scipy 1.17.1 agrees on the upper tail but its chi2.cdf gives 4.4376e-7 for the
            // lower one, 22% low.
            (100_070_711.0, 99_999_999, 5.7639590937866e-07, 1e-6),
            (99_929_289.0, 99_999_999, 5.700889318569023e-07, 1e-6),
        ] {
            let n = df + 1;
            let o = chi_square_variance(2.0 * stat / df as f64, n, 2.0).unwrap();
            assert_eq!((o.test, o.n), ("chi-square variance", n));
            assert!(close(o.statistic, stat, 1e-14));
            assert!(
                close(o.p_value, want, rel),
                "{stat}, {df}: {} vs {want}",
                o.p_value
            );
        }
    }

    #[test]
    fn quantiles_give_their_level() {
        // scipy 1.17.1: chi2.ppf(q, df). At the two-sided α quantiles the p-value is α.
        for (q, df, x) in [
            (0.975f64, 10.0, 20.483177350807388),
            (1.0 - 0.5e-6, 99.0, 183.6852130606914),
            (0.5e-6, 99.0, 44.699273085787674),
            (1.0 - 0.5e-6, 9999.0, 10706.097122064273),
            (0.5e-6, 9999.0, 9322.47186763989),
        ] {
            let (lower, upper) = (chi_square_cdf(x, df), chi_square_sf(x, df));
            let tail = if q > 0.5 { upper } else { lower };
            assert!(close(tail, q.min(1.0 - q), 1e-8), "{q}, {df}: {tail}");
            assert!((lower + upper - 1.0).abs() < 1e-14);
            let n = df as u64 + 1;
            let p = chi_square_variance(x / df, n, 1.0).unwrap().p_value;
            assert!(close(p, 2.0 * q.min(1.0 - q), 1e-8), "{q}, {df}: p {p}");
        }
    }

    #[test]
    fn variance_edges() {
        assert!(matches!(
            chi_square_variance(1.0, 1, 1.0),
            Err(Error::ParameterOutOfRange { name: "n", .. })
        ));
        assert!(chi_square_variance(1.0, 10, 0.0).is_err());
        assert!(chi_square_variance(1.0, 10, f64::INFINITY).is_err());
        let bad = chi_square_variance(f64::NAN, 10, 1.0).unwrap();
        assert!(bad.statistic.is_nan() && bad.p_value == 0.0);
        assert_eq!(chi_square_variance(-1.0, 10, 1.0).unwrap().p_value, 0.0);
        // Zero variance from a continuous distribution has probability 0; infinite too.
        assert_eq!(chi_square_variance(0.0, 10, 1.0).unwrap().p_value, 0.0);
        assert_eq!(
            chi_square_variance(f64::INFINITY, 10, 1.0).unwrap().p_value,
            0.0
        );
        assert_eq!(chi_square_cdf(-1.0, 3.0), 0.0);
        assert_eq!(chi_square_sf(0.0, 3.0), 1.0);
        assert!(chi_square_cdf(1.0, 0.0).is_nan());
        assert!(chi_square_sf(f64::NAN, 2.0).is_nan());
    }

    #[test]
    fn goodness_of_fit_matches_scipy() {
        // scipy 1.17.1: r = scipy.stats.chisquare(obs, [p * N for p in probs]);
        // (r.statistic, r.pvalue)
        for (obs, probs, stat, want) in [
            (
                &[10u64, 20, 30, 40][..],
                &[0.25, 0.25, 0.25, 0.25][..],
                20.0,
                0.00016974243555282632,
            ),
            (&[18, 55, 27], &[0.25, 0.5, 0.25], 2.62, 0.26982005638468687),
            (
                &[5000, 2600, 2400],
                &[0.5, 0.25, 0.25],
                8.0,
                0.018315638888734182,
            ),
        ] {
            let o = chi_square_gof(obs, probs).unwrap();
            assert_eq!(o.test, "chi-square goodness of fit");
            assert_eq!(o.n, obs.iter().sum::<u64>());
            assert!(close(o.statistic, stat, 1e-12), "{} vs {stat}", o.statistic);
            assert!(close(o.p_value, want, 1e-12), "{} vs {want}", o.p_value);
        }
        // χ²₂ survival is exp(−x/2) exactly: a closed form.
        assert!(close(chi_square_sf(8.0, 2.0), (-4.0f64).exp(), 1e-14));
    }

    #[test]
    fn goodness_of_fit_edges() {
        assert!(matches!(
            chi_square_gof(&[1, 2], &[1.0]),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(chi_square_gof(&[5], &[1.0]).is_err());
        assert!(chi_square_gof(&[5, 5], &[0.6, 0.6]).is_err());
        assert!(chi_square_gof(&[5, 5], &[1.5, -0.5]).is_err());
        assert!(chi_square_gof(&[5, 5], &[f64::NAN, 0.5]).is_err());
        assert!(chi_square_gof(&[0, 0], &[0.5, 0.5]).is_err());
        // A zero-probability category: ignored when empty (df drops), fatal when not.
        let a = chi_square_gof(&[10, 20, 30, 40, 0], &[0.25, 0.25, 0.25, 0.25, 0.0]).unwrap();
        assert!(close(a.p_value, 0.00016974243555282632, 1e-12));
        let b = chi_square_gof(&[10, 20, 30, 40, 1], &[0.25, 0.25, 0.25, 0.25, 0.0]).unwrap();
        assert_eq!((b.statistic, b.p_value), (f64::INFINITY, 0.0));
        assert_eq!(chi_square_gof(&[7, 0], &[1.0, 0.0]).unwrap().p_value, 1.0);
        // A perfect fit has χ² = 0 and p = 1.
        let c = chi_square_gof(&[25, 25, 50], &[0.25, 0.25, 0.5]).unwrap();
        assert_eq!((c.statistic, c.p_value), (0.0, 1.0));
    }
}
