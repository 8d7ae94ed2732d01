//! The inference statistics: running averages of the training batches' statistics.
//!
//! Two rules, one type:
//!
//! - [`Averaging::Cumulative`], the post's and Algorithm 2's: μ = E_B[μ_B] and
//!   σ² = m/(m − 1)·E_B[σ_B²], the plain average over every batch seen (BN-INF-MEAN,
//!   BN-INF-VAR). Each batch's variance is Bessel-corrected before averaging,
//!   m_t/(m_t − 1)·σ_t², which is the post's formula when every batch has the same m.
//! - [`Averaging::Exponential`], what frameworks do (EXT-BN-EMA): r ← (1 − momentum)·r +
//!   momentum·s, with s = μ_B for the mean and s = m/(m − 1)·σ_B² for the variance.
//!
//! **Momentum convention.** `momentum` is the weight of the *new* batch, as in PyTorch's
//! `BatchNorm1d(momentum=0.1)`, whose documentation writes the update as
//! x̂_new = (1 − momentum)·x̂ + momentum·x_t. The catalogue's ρ (catalogue appendix, EXT-BN-EMA,
//! r ← ρ·r + (1 − ρ)·s) is 1 − momentum; Keras's `momentum=0.99` and MindSpore's `0.9` are ρ.
//! As in PyTorch, the exponential average starts from μ = 0 and σ² = 1.
//!
//! All values are f64: the work is O(F) per batch, and a long cumulative sum keeps its digits.

use super::layer::BatchStats;
use crate::error::{Error, Result, check_len};

/// How the batch statistics are averaged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Averaging {
    /// Algorithm 2's E_B: the plain average over all batches seen.
    Cumulative,
    /// r ← (1 − momentum)·r + momentum·s; `momentum` ∈ (0, 1] is the new batch's weight
    /// (PyTorch's convention; the catalogue's ρ = 1 − momentum).
    Exponential { momentum: f64 },
}

/// Running per-feature mean and (Bessel-corrected) variance for inference.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningStats {
    averaging: Averaging,
    batches: u64,
    /// Cumulative: Σ_t μ_t. Exponential: the current average.
    mean: Vec<f64>,
    /// Cumulative: Σ_t m_t/(m_t − 1)·σ_t². Exponential: the current average.
    variance: Vec<f64>,
}

impl RunningStats {
    /// Algorithm 2's plain average over batches, empty until the first [`RunningStats::update`].
    pub fn cumulative(features: usize) -> Self {
        Self {
            averaging: Averaging::Cumulative,
            batches: 0,
            mean: vec![0.0; features],
            variance: vec![0.0; features],
        }
    }

    /// The exponential moving average with PyTorch's `momentum` (weight of the new batch),
    /// starting from μ = 0, σ² = 1. Errors: momentum outside (0, 1] (or NaN).
    pub fn exponential(features: usize, momentum: f64) -> Result<Self> {
        if !(momentum > 0.0 && momentum <= 1.0) {
            return Err(Error::ParameterOutOfRange {
                name: "momentum (weight of the new batch, PyTorch's convention)",
                value: momentum,
                range: "(0, 1]",
            });
        }
        Ok(Self {
            averaging: Averaging::Exponential { momentum },
            batches: 0,
            mean: vec![0.0; features],
            variance: vec![1.0; features],
        })
    }

    /// Statistics set by hand (e.g. from a trained model), kept as a cumulative average of
    /// one batch. Errors: lengths differ, a mean not finite, a variance negative or not finite.
    pub fn fixed(mean: Vec<f64>, variance: Vec<f64>) -> Result<Self> {
        check_len("running variance", mean.len(), variance.len())?;
        validate(&mean, &variance)?;
        Ok(Self {
            averaging: Averaging::Cumulative,
            batches: 1,
            mean,
            variance,
        })
    }

    /// The rule in use.
    pub fn averaging(&self) -> Averaging {
        self.averaging
    }

    /// Batches averaged so far.
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// F, the number of features.
    pub fn features(&self) -> usize {
        self.mean.len()
    }

    // ANCHOR: update
    /// Averages in one training batch's statistics: μ_B, and the Bessel-corrected
    /// m/(m − 1)·σ_B² (BN-INF-VAR; PyTorch stores the same unbiased value).
    ///
    /// Errors: another number of features, m < 2, or non-finite batch statistics (a NaN in
    /// the training data): the running values are then left unchanged rather than poisoned.
    pub fn update(&mut self, batch: &BatchStats) -> Result<()> {
        check_len(
            "batch statistics (features)",
            self.features(),
            batch.features(),
        )?;
        let m = batch.batch();
        if m < 2 {
            return Err(Error::ParameterOutOfRange {
                name: "batch size m",
                value: m as f64,
                range: "[2, ∞): the Bessel factor m/(m − 1)",
            });
        }
        validate(batch.mean(), batch.variance())?;
        let bessel = m as f64 / (m as f64 - 1.0);
        let unbiased = batch.variance().iter().map(|v| bessel * v);
        match self.averaging {
            Averaging::Cumulative => {
                for (r, s) in self.mean.iter_mut().zip(batch.mean()) {
                    *r += s;
                }
                for (r, s) in self.variance.iter_mut().zip(unbiased) {
                    *r += s;
                }
            }
            Averaging::Exponential { momentum } => {
                for (r, s) in self.mean.iter_mut().zip(batch.mean()) {
                    *r = (1.0 - momentum) * *r + momentum * s;
                }
                for (r, s) in self.variance.iter_mut().zip(unbiased) {
                    *r = (1.0 - momentum) * *r + momentum * s;
                }
            }
        }
        self.batches += 1;
        Ok(())
    }
    // ANCHOR_END: update

    /// The running mean μ per feature (see [`RunningStats::values`], which this is the first
    /// half of).
    ///
    /// ```
    /// use dnn_proofs::batch_norm::{BatchStats, RunningStats};
    /// let mut r = RunningStats::cumulative(2);
    /// r.update(&BatchStats::new(vec![1.0, 2.0], vec![0.5, 1.0], 4)?)?;
    /// r.update(&BatchStats::new(vec![3.0, 4.0], vec![1.5, 2.0], 4)?)?;
    /// assert_eq!(r.mean()?, [2.0, 3.0]);
    /// // Bessel-corrected: 4/3 · (σ²₁ + σ²₂)/2.
    /// assert_eq!(r.variance()?, [4.0 / 3.0, 2.0]);
    /// # Ok::<(), dnn_proofs::error::Error>(())
    /// ```
    pub fn mean(&self) -> Result<Vec<f64>> {
        Ok(self.values()?.0)
    }

    /// The running (Bessel-corrected) variance σ² per feature; see [`RunningStats::mean`].
    pub fn variance(&self) -> Result<Vec<f64>> {
        Ok(self.values()?.1)
    }

    /// The inference statistics (μ, σ²) per feature. Errors: a cumulative average of no
    /// batches, or values that are not finite (σ² < 0 cannot arise from updates but is
    /// checked too).
    pub fn values(&self) -> Result<(Vec<f64>, Vec<f64>)> {
        let t = self.divisor()?;
        Ok((
            self.mean.iter().map(|s| s / t).collect(),
            self.variance.iter().map(|s| s / t).collect(),
        ))
    }

    /// The stored per-feature values and their divisor (see [`Stored`]). Errors as [`RunningStats::values`], checked here so that a
    /// caller can compute the statistics of any range of features itself, without building
    /// them all (inference splits them over threads).
    pub(super) fn stored(&self) -> Result<Stored<'_>> {
        Ok(Stored {
            mean: &self.mean,
            variance: &self.variance,
            divisor: self.divisor()?,
        })
    }

    /// The divisor t (see [`Stored`]), after checking that some batch was averaged and that
    /// the statistics are valid. Dividing by t ≥ 1 keeps a value finite, and its sign, so the
    /// stored values are checked, and a bad one is reported divided, as `values` holds it.
    fn divisor(&self) -> Result<f64> {
        let t = match self.averaging {
            Averaging::Cumulative if self.batches == 0 => {
                return Err(Error::ParameterOutOfRange {
                    name: "batches averaged into the running statistics",
                    value: 0.0,
                    range: "at least 1 before inference",
                });
            }
            Averaging::Cumulative => self.batches as f64,
            Averaging::Exponential { .. } => 1.0,
        };
        validate(&self.mean, &self.variance).map_err(|e| match e {
            Error::ParameterOutOfRange { name, value, range } => Error::ParameterOutOfRange {
                name,
                value: value / t,
                range,
            },
            other => other,
        })?;
        Ok(t)
    }
}

/// The running statistics as stored: the inference statistics are μ_k = mean[k]/t and
/// σ²_k = variance[k]/t, with t = `divisor`, the number of batches (cumulative) or 1
/// (exponential; x/1 = x exactly).
#[derive(Debug, Clone, Copy)]
pub(super) struct Stored<'a> {
    pub mean: &'a [f64],
    pub variance: &'a [f64],
    pub divisor: f64,
}

/// Means finite, variances finite and ≥ 0. Inference checks every call, so each scan is a
/// fold without an early exit (which the compiler vectorises); only a failed scan looks for
/// the value to report.
pub(super) fn validate(mean: &[f64], variance: &[f64]) -> Result<()> {
    fn finite(v: &f64) -> bool {
        v.is_finite()
    }
    fn finite_non_negative(v: &f64) -> bool {
        v.is_finite() & (*v >= 0.0)
    }
    let all =
        |values: &[f64], good: fn(&f64) -> bool| values.iter().fold(true, |ok, v| ok & good(v));
    if !all(mean, finite)
        && let Some(&bad) = mean.iter().find(|v| !finite(v))
    {
        return Err(Error::ParameterOutOfRange {
            name: "running mean",
            value: bad,
            range: "finite values",
        });
    }
    if !all(variance, finite_non_negative)
        && let Some(&bad) = variance.iter().find(|v| !finite_non_negative(v))
    {
        return Err(Error::ParameterOutOfRange {
            name: "running variance",
            value: bad,
            range: "[0, ∞), finite",
        });
    }
    Ok(())
}
