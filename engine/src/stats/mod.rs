//! The exact and asymptotic tests the statistical checks use (conventions appendix,
//! `book/src/conventions.md`, "Statistics").
//!
//! Every test returns a [`TestOutcome`]: the name of the test, its statistic, the sample size
//! and a p-value, so a claim can report it as evidence and judge it against [`ALPHA`].
//!
//! - [`z_test`], [`z_test_mean`], [`z_test_variance`]: two-sided normal tests (CLT), the
//!   variance test with its standard error from the known fourth moment.
//! - [`binomial`], [`binomial_greater`], [`sign_test`]: exact binomial tests, accurate for
//!   `n` up to 1e9 and beyond (no normal approximation, no O(n) loops).
//! - [`chi_square_variance`], [`chi_square_gof`]: χ² tests for the variance of Gaussian data
//!   and for goodness of fit.
//! - [`ks_dkw`]: Kolmogorov–Smirnov distance with the DKW–Massart p-value bound.
//! - [`z_critical`], [`z_power`], [`z_required_effect`], [`dkw_radius`],
//!   [`hoeffding_radius`]: the arithmetic that sets thresholds and sample sizes.
//! - [`Moments`]: one-pass (Welford) mean, variance and third and fourth central moments,
//!   mergeable across threads.
//! - [`plan`]: the sample size that gives a stated power against a stated effect.
//!
//! # Independence
//!
//! Every test here assumes independent draws. The outputs of one layer on one sample are not
//! independent (a normalisation's outputs have mean exactly 0; a dense layer's share the
//! sample's input), so pooling them as if they were understates the standard error, and a
//! planted bug can then slip through at the stated α. Take one statistic per independent
//! unit instead: per sample (its own batch, weights or mask), or per replicate of a small
//! experiment, and test those.
//!
//! # Conventions
//!
//! - Invalid *parameters* (a probability outside [0, 1], a non-positive standard error,
//!   `n < 2` for a variance test, mismatched lengths, probabilities that do not sum to 1) are
//!   refused with [`crate::Error`].
//! - Invalid *data* (a NaN estimate, a NaN in a sample, a negative sample variance) are what a
//!   broken kernel produces, so they are not an error but a rejection: the outcome has
//!   `p_value = 0.0`, which fails at every alpha, and usually a NaN statistic.
//! - The threshold helpers return `f64` and follow the mathematical limits at the edges
//!   (`alpha = 0` gives an infinite critical value or radius, `n = 0` an infinite radius);
//!   outside their domain (alpha < 0 or > 1, NaN) they return NaN.

mod binomial;
mod chi_square;
mod ks;
mod moments;
mod normal;
pub mod plan;
mod sample;

use std::fmt;

use serde::Serialize;

pub use binomial::{
    binomial, binomial_greater, binomial_ln_pmf, binomial_lower_bound, binomial_tail,
    binomial_upper_bound, sign_test,
};
pub use chi_square::{chi_square_cdf, chi_square_gof, chi_square_sf, chi_square_variance};
pub use ks::{dkw_radius, ks_dkw, ks_statistic};
pub use moments::{Moments, z_test_mean, z_test_variance};
pub use normal::{
    hoeffding_radius, normal_cdf, normal_two_sided_p, z_critical, z_power, z_required_effect,
    z_test,
};
pub use sample::{exponential, standard_normal};

/// The outcome of one hypothesis test: what a claim reports as evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestOutcome {
    /// Which test, e.g. "two-sided z-test", "exact two-sided binomial", "chi-square variance",
    /// "DKW/KS".
    pub test: &'static str,
    /// The statistic: z, χ², the count k, or the distance D.
    pub statistic: f64,
    /// The sample size (trials for a binomial test, total count for goodness of fit).
    pub n: u64,
    /// The p-value, two-sided where that makes sense (each test says which).
    pub p_value: f64,
}

impl TestOutcome {
    /// Whether the null hypothesis (the claim) is rejected at level `alpha`: `p < alpha`.
    /// A NaN p-value never rejects here, but no test in this module produces one.
    pub fn rejects_at(&self, alpha: f64) -> bool {
        self.p_value < alpha
    }

    /// The outcome a test gives for invalid data (NaN, impossible values): rejected at every
    /// level, with a NaN statistic.
    pub(crate) fn invalid_data(test: &'static str, n: u64) -> Self {
        TestOutcome {
            test,
            statistic: f64::NAN,
            n,
            p_value: 0.0,
        }
    }
}

impl fmt::Display for TestOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: statistic {:.6}, n = {}, p = {:.3e}",
            self.test, self.statistic, self.n, self.p_value
        )
    }
}

/// The false-failure rate every check uses unless it says otherwise (conventions appendix, "Statistics"): a correct
/// implementation fails a check on a fresh seed with probability at most 1e-6.
pub const ALPHA: f64 = 1e-6;

/// `Err(ParameterOutOfRange)` unless `ok`.
pub(crate) fn require(
    ok: bool,
    name: &'static str,
    value: f64,
    range: &'static str,
) -> crate::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(crate::Error::ParameterOutOfRange { name, value, range })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_strictly_below_alpha() {
        let o = TestOutcome {
            test: "t",
            statistic: 0.0,
            n: 1,
            p_value: 1e-6,
        };
        assert!(!o.rejects_at(1e-6));
        assert!(o.rejects_at(1.1e-6));
        assert!(TestOutcome::invalid_data("t", 3).rejects_at(1e-300));
    }

    #[test]
    fn display_and_serialize() {
        let o = TestOutcome {
            test: "two-sided z-test",
            statistic: 2.0,
            n: 10,
            p_value: 0.0455,
        };
        assert_eq!(
            o.to_string(),
            "two-sided z-test: statistic 2.000000, n = 10, p = 4.550e-2"
        );
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(
            json,
            r#"{"test":"two-sided z-test","statistic":2.0,"n":10,"p_value":0.0455}"#
        );
    }
}
