//! One-pass sample moments (Welford's update extended to the third and fourth central
//! moments), mergeable so that threads can each summarise a chunk; and the z-tests built on
//! them.

use super::{TestOutcome, require, z_test};
use crate::Result;

/// Running count, mean and central sums M_p = Σ (x − x̄)^p for p = 2, 3, 4, in f64.
///
/// Each `push` updates them without ever forming Σ x² (which cancels catastrophically when the
/// mean is large against the spread). With δ = x − x̄_old, n the new count and d = δ/n:
///
/// - x̄ += d
/// - M₄ += δ·d·(n−1)·d²·(n² − 3n + 3) + 6·d²·M₂ − 4·d·M₃
/// - M₃ += δ·d·(n−1)·d·(n − 2) − 3·d·M₂
/// - M₂ += δ·d·(n−1)
///
/// (right-hand sides use the old M₂, M₃). [`Moments::merge`] combines two summaries exactly
/// (the pairwise formulas of Chan, Golub & LeVeque and their higher-moment extension), so
/// `a.merge(&b)` equals pushing b's data after a's, up to rounding.
///
/// NaN data propagate: one NaN makes the mean and every moment NaN, which the tests below turn
/// into a rejection.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
    m3: f64,
    m4: f64,
}

impl Moments {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The summary of a slice.
    pub fn from_slice(xs: &[f64]) -> Self {
        xs.iter().copied().collect()
    }

    /// Add one observation.
    pub fn push(&mut self, x: f64) {
        let n1 = self.n as f64;
        self.n += 1;
        let n = self.n as f64;
        let delta = x - self.mean;
        let d = delta / n;
        let d2 = d * d;
        let term = delta * d * n1;
        self.mean += d;
        self.m4 += term * d2 * (n * n - 3.0 * n + 3.0) + 6.0 * d2 * self.m2 - 4.0 * d * self.m3;
        self.m3 += term * d * (n - 2.0) - 3.0 * d * self.m2;
        self.m2 += term;
    }

    /// Combine with the summary of another sample, as if its data had been pushed here.
    /// With n = n_a + n_b and δ = x̄_b − x̄_a:
    /// x̄ = x̄_a + δ·n_b/n, M₂ = M₂a + M₂b + δ²·n_a·n_b/n,
    /// M₃ = M₃a + M₃b + δ³·n_a·n_b·(n_a − n_b)/n² + 3δ·(n_a·M₂b − n_b·M₂a)/n,
    /// M₄ = M₄a + M₄b + δ⁴·n_a·n_b·(n_a² − n_a·n_b + n_b²)/n³ + 6δ²·(n_a²·M₂b + n_b²·M₂a)/n²
    /// + 4δ·(n_a·M₃b − n_b·M₃a)/n.
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        let (d2, nab) = (delta * delta, na * nb);
        let (a, b) = (*self, *other);
        self.n += other.n;
        self.mean = a.mean + delta * nb / n;
        self.m2 = a.m2 + b.m2 + d2 * nab / n;
        self.m3 = a.m3
            + b.m3
            + d2 * delta * nab * (na - nb) / (n * n)
            + 3.0 * delta * (na * b.m2 - nb * a.m2) / n;
        self.m4 = a.m4
            + b.m4
            + d2 * d2 * nab * (na * na - nab + nb * nb) / (n * n * n)
            + 6.0 * d2 * (na * na * b.m2 + nb * nb * a.m2) / (n * n)
            + 4.0 * delta * (na * b.m3 - nb * a.m3) / n;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Sample mean x̄; NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.n == 0 { f64::NAN } else { self.mean }
    }

    /// Unbiased sample variance s² = M₂/(n − 1); NaN when n < 2.
    pub fn variance_unbiased(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// Biased (maximum-likelihood) variance M₂/n, as batch normalisation uses; NaN when empty.
    pub fn variance_biased(&self) -> f64 {
        self.central_moment(self.m2)
    }

    /// Third sample central moment M₃/n; NaN when empty.
    pub fn central_moment_3(&self) -> f64 {
        self.central_moment(self.m3)
    }

    /// Fourth sample central moment M₄/n; NaN when empty.
    pub fn central_moment_4(&self) -> f64 {
        self.central_moment(self.m4)
    }

    fn central_moment(&self, sum: f64) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            sum / self.n as f64
        }
    }
}

impl FromIterator<f64> for Moments {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut m = Moments::new();
        m.extend(iter);
        m
    }
}

impl Extend<f64> for Moments {
    fn extend<I: IntoIterator<Item = f64>>(&mut self, iter: I) {
        for x in iter {
            self.push(x);
        }
    }
}

/// Two-sided z-test that the sample mean has expectation `mean`, given the population variance:
/// z = (x̄ − μ)/√(σ²/n) (CLT).
///
/// # Errors
/// [`crate::Error::ParameterOutOfRange`] for an empty sample, a non-finite `mean`, or a
/// `variance` that is not finite and positive. NaN data reject (p = 0).
pub fn z_test_mean(moments: &Moments, mean: f64, variance: f64) -> Result<TestOutcome> {
    let n = moments.count();
    require(n >= 1, "n", n as f64, "[1, ∞)")?;
    require(
        variance.is_finite() && variance > 0.0,
        "variance",
        variance,
        "(0, ∞)",
    )?;
    let mut outcome = z_test(moments.mean(), mean, (variance / n as f64).sqrt(), n)?;
    outcome.test = "two-sided z-test (mean)";
    Ok(outcome)
}

/// Two-sided z-test that the unbiased sample variance s² has expectation `sigma2`, with its
/// exact standard error from the known fourth central moment μ₄ (conventions appendix, "Statistics", for non-Gaussian
/// data): Var(s²) = μ₄/n − σ⁴·(n − 3)/(n·(n − 1)), z = (s² − σ²)/√Var(s²). For large n this
/// is the familiar √((μ₄ − σ⁴)/n).
///
/// # Errors
/// [`crate::Error::ParameterOutOfRange`] when n < 2, σ² is not finite and positive, or μ₄ is
/// not finite or below σ⁴ (impossible: μ₄ ≥ σ⁴ by Jensen). NaN data reject (p = 0).
pub fn z_test_variance(moments: &Moments, sigma2: f64, mu4: f64) -> Result<TestOutcome> {
    let n = moments.count();
    require(n >= 2, "n", n as f64, "[2, ∞)")?;
    require(
        sigma2.is_finite() && sigma2 > 0.0,
        "sigma2",
        sigma2,
        "(0, ∞)",
    )?;
    require(
        mu4.is_finite() && mu4 >= sigma2 * sigma2,
        "mu4",
        mu4,
        "[sigma2², ∞)",
    )?;
    let nf = n as f64;
    let var = mu4 / nf - sigma2 * sigma2 * (nf - 3.0) / (nf * (nf - 1.0));
    let mut outcome = z_test(moments.variance_unbiased(), sigma2, var.sqrt(), n)?;
    outcome.test = "two-sided z-test (variance, known fourth moment)";
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ALPHA;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Two-pass reference: mean, then Σ (x − x̄)^p / n for p = 2, 3, 4.
    fn two_pass(xs: &[f64]) -> (f64, f64, f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let c = |p: i32| xs.iter().map(|x| (x - mean).powi(p)).sum::<f64>() / n;
        (mean, c(2), c(3), c(4))
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn small_sample_by_hand() {
        // (2, 4, 4, 4, 5, 5, 7, 9): mean 5, Σd² = 32, Σd³ = 42, Σd⁴ = 4·... by hand:
        // deviations (−3, −1, −1, −1, 0, 0, 2, 4): Σd² = 9+1+1+1+4+16 = 32,
        // Σd³ = −27−3+8+64 = 42, Σd⁴ = 81+3+16+256 = 356.
        let m = Moments::from_slice(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m.count(), 8);
        assert!((m.mean() - 5.0).abs() < 1e-15);
        assert!((m.variance_biased() - 4.0).abs() < 1e-14);
        assert!((m.variance_unbiased() - 32.0 / 7.0).abs() < 1e-14);
        assert!((m.central_moment_3() - 42.0 / 8.0).abs() < 1e-13);
        assert!((m.central_moment_4() - 356.0 / 8.0).abs() < 1e-13);
        let empty = Moments::new();
        assert!(empty.mean().is_nan() && empty.variance_biased().is_nan());
        let one = Moments::from_slice(&[3.0]);
        assert_eq!((one.mean(), one.variance_biased()), (3.0, 0.0));
        assert!(one.variance_unbiased().is_nan());
    }

    #[test]
    fn welford_survives_a_large_shift() {
        // y uniform on [0, 1); x = y + 1e8 (rounded to f64, spacing 1.5e-8). The exact
        // moments of the stored x are those of x − 1e8, which is exact in f64 (Sterbenz), so
        // a two-pass on the unshifted differences is the reference.
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let xs: Vec<f64> = (0..100_000).map(|_| 1e8 + rng.random::<f64>()).collect();
        let ys: Vec<f64> = xs.iter().map(|x| x - 1e8).collect();
        let (mean, c2, c3, c4) = two_pass(&ys);
        let m = Moments::from_slice(&xs);
        // Each update rounds x̄ to half an ulp of 1e8 (7.5e-9): a random walk of ~1.4e-6
        // over 1e5 steps (3.3e-7 on this seed), 1e-14 relative; no f64 mean does much better.
        assert!((m.mean() - (1e8 + mean)).abs() < 1e-5);
        // Welford loses about log10(1e8 / 0.3) ≈ 8.5 digits to the shift in each δ, leaving
        // ~1e-8 relative; the textbook one-pass Σx²/n − x̄² loses everything.
        assert!(
            close(m.variance_biased(), c2, 1e-6),
            "{} vs {c2}",
            m.variance_biased()
        );
        assert!(close(m.central_moment_4(), c4, 1e-6));
        // μ₃ ≈ 0 for a uniform: compare on the scale of σ³.
        assert!((m.central_moment_3() - c3).abs() < 1e-6 * c2.powf(1.5));
        let n = xs.len() as f64;
        let naive =
            xs.iter().map(|x| x * x).sum::<f64>() / n - (xs.iter().sum::<f64>() / n).powi(2);
        assert!(
            !close(naive, c2, 0.1),
            "naive one-pass was accurate: {naive}"
        );
    }

    #[test]
    fn merge_equals_one_pass() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Skewed data (exponential-like) so that M₃ and M₄ are far from zero.
        let xs: Vec<f64> = (0..10_001)
            .map(|_| -(1.0 - rng.random::<f64>()).ln() * 3.0 + 10.0)
            .collect();
        let (mean, c2, c3, c4) = two_pass(&xs);
        // Uneven chunks, merged in order, including an empty one.
        let mut merged = Moments::new();
        for chunk in [
            &xs[..1],
            &xs[1..1],
            &xs[1..777],
            &xs[777..5000],
            &xs[5000..],
        ] {
            merged.merge(&Moments::from_slice(chunk));
        }
        let whole = Moments::from_slice(&xs);
        for m in [merged, whole] {
            assert_eq!(m.count(), xs.len() as u64);
            assert!(close(m.mean(), mean, 1e-13));
            assert!(close(m.variance_biased(), c2, 1e-12));
            assert!(close(m.central_moment_3(), c3, 1e-11));
            assert!(close(m.central_moment_4(), c4, 1e-11));
        }
    }

    #[test]
    fn z_tests_on_moments() {
        // N = 4 draws (−1, 1, −1, 1) with σ² = 1 known: x̄ = 0, z = 0, p = 1.
        let m = Moments::from_slice(&[-1.0, 1.0, -1.0, 1.0]);
        let o = z_test_mean(&m, 0.0, 1.0).unwrap();
        assert_eq!((o.statistic, o.p_value, o.n), (0.0, 1.0, 4));
        // x̄ = 0 against μ = 1, SE = √(1/4) = 0.5: z = −2, p = 0.0455 (scipy: 2·norm.sf(2)).
        let o = z_test_mean(&m, 1.0, 1.0).unwrap();
        assert_eq!(o.statistic, -2.0);
        assert!(close(o.p_value, 0.04550026389635839, 1e-10));
        // Variance: s² = 4/3 for (−1, 1, −1, 1); a ±1 coin has σ² = 1, μ₄ = 1, so
        // Var(s²) = 1/4 − 1·(1)/(4·3) = 1/6 and z = (4/3 − 1)/√(1/6) = √6/3.
        let o = z_test_variance(&m, 1.0, 1.0).unwrap();
        assert!(close(o.statistic, 6f64.sqrt() / 3.0, 1e-14));
        // Errors and NaN data.
        assert!(z_test_mean(&Moments::new(), 0.0, 1.0).is_err());
        assert!(z_test_mean(&m, 0.0, 0.0).is_err());
        assert!(z_test_variance(&Moments::from_slice(&[1.0]), 1.0, 3.0).is_err());
        assert!(z_test_variance(&m, 1.0, 0.5).is_err());
        let nan = Moments::from_slice(&[1.0, f64::NAN, 2.0]);
        assert_eq!(z_test_mean(&nan, 0.0, 1.0).unwrap().p_value, 0.0);
        assert_eq!(z_test_variance(&nan, 1.0, 3.0).unwrap().p_value, 0.0);
    }

    #[test]
    fn seeded_variance_z_test_passes_and_detects_wrong_scale() {
        // Uniform on [−√3, √3]: σ² = 1, μ₄ = 9/5. With n = 1e5, SE(s²) = √(0.8/1e5) ≈ 0.0028,
        // so a 5% wrong scale (σ² off by 0.1025, ≈ 36 SE) has power ≈ 1 (z_power(36, α)).
        let mut rng = ChaCha8Rng::seed_from_u64(2024);
        let s3 = 3f64.sqrt();
        let xs: Vec<f64> = (0..100_000).map(|_| rng.random_range(-s3..s3)).collect();
        let good = Moments::from_slice(&xs);
        assert!(!z_test_variance(&good, 1.0, 1.8).unwrap().rejects_at(ALPHA));
        assert!(!z_test_mean(&good, 0.0, 1.0).unwrap().rejects_at(ALPHA));
        let wrong: Moments = xs.iter().map(|x| x * 1.05).collect();
        assert!(z_test_variance(&wrong, 1.0, 1.8).unwrap().rejects_at(ALPHA));
    }
}
