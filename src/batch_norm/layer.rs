//! The batch-normalisation layer: training forward, backward, and inference as one affine map.
//!
//! A batch is an F × m `DMatrix<f32>`: F features (rows) by m samples (columns), the layout of
//! `backprop::Network` (each column one sample). Per-feature quantities (γ, β, the statistics,
//! the running averages) are O(F) and kept in f64 where they are computed; the O(F·m)
//! elementwise work is f32 SIMD (`kernel`).
//!
//! Inputs are validated once at the boundary (shapes, m ≥ 2 in training, ε ≥ 0, finite running
//! statistics) and the loops then run without checks. NaN and ±∞ in the *data* propagate as
//! IEEE arithmetic says: a NaN in feature k of any sample makes feature k's statistics, and so
//! all of feature k's outputs, NaN; other features are untouched. ε = 0 with a constant
//! feature gives 0/0 = NaN for that feature, as the formula does.

use nalgebra::{DMatrix, DVector};

use super::kernel;
use super::running::RunningStats;
use crate::error::{Error, Result, check_len};

/// The rows (features) of one tile for a batch of m: the tile's data, TILE_BYTES, stay in
/// cache between the statistics pass and the normalising pass (and between the backward's
/// two passes), so a large batch is read from memory once; each column contributes a run of
/// at least 4 KiB, long enough for the hardware prefetchers. A multiple of every lane width.
fn tile_rows(m: usize) -> usize {
    let rows = TILE_BYTES / (4 * m.max(1));
    rows.clamp(MIN_TILE_ROWS, MAX_TILE_ROWS) / 64 * 64
}

/// A quarter of the 32 MiB L3 of the machines this was tuned on.
const TILE_BYTES: usize = 8 << 20;
const MIN_TILE_ROWS: usize = 1024;
const MAX_TILE_ROWS: usize = 1 << 16;

/// Batch normalisation of F features: y = γ·(x − μ)/√(σ² + ε) + β per feature (BN-AFFINE),
/// with the batch's statistics in training (Algorithm 1) and fixed ones at inference
/// (Algorithm 2).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

/// What the training forward measured: per-feature batch mean μ_B and *biased* variance
/// σ_B² = (1/m)·Σ(x − μ_B)² (C8), in f64, and the batch size m. The backward pass and the
/// running averages read them.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats {
    mean: Vec<f64>,
    variance: Vec<f64>,
    batch: usize,
}

/// ∂ℓ/∂γ = Σ_i g_i·x̂_i and ∂ℓ/∂β = Σ_i g_i per feature, summed over the batch (BN-AFFINE).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamGradients {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// Inference BN as one affine map per feature, y = scale·x + shift with
/// scale = γ/√(σ² + ε) and shift = β − scale·μ (BN-INF-TRANSFORM, Algorithm 2).
#[derive(Debug, Clone, PartialEq)]
pub struct Affine {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
}

impl BatchNorm {
    /// F features with γ = 1 and β = 0, as the paper and the frameworks initialise them.
    /// Errors: F = 0, or ε negative or not finite.
    pub fn new(features: usize, eps: f32) -> Result<Self> {
        Self::with_affine(vec![1.0; features], vec![0.0; features], eps)
    }

    /// Given γ and β (one per feature, same length). Errors: no features, lengths differ,
    /// or ε negative or not finite (ε sits inside the square root: a negative ε can make
    /// σ² + ε negative, and NaN).
    pub fn with_affine(gamma: Vec<f32>, beta: Vec<f32>, eps: f32) -> Result<Self> {
        if gamma.is_empty() {
            return Err(Error::ParameterOutOfRange {
                name: "number of features",
                value: 0.0,
                range: "at least 1",
            });
        }
        check_len("beta", gamma.len(), beta.len())?;
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(Error::ParameterOutOfRange {
                name: "epsilon",
                value: f64::from(eps),
                range: "[0, ∞), finite",
            });
        }
        Ok(Self { gamma, beta, eps })
    }

    /// F, the number of features.
    pub fn features(&self) -> usize {
        self.gamma.len()
    }

    /// ε.
    pub fn eps(&self) -> f32 {
        self.eps
    }

    /// γ, one per feature.
    pub fn gamma(&self) -> &[f32] {
        &self.gamma
    }

    /// γ, to update in place (the length is fixed).
    pub fn gamma_mut(&mut self) -> &mut [f32] {
        &mut self.gamma
    }

    /// β, one per feature.
    pub fn beta(&self) -> &[f32] {
        &self.beta
    }

    /// β, to update in place (the length is fixed).
    pub fn beta_mut(&mut self) -> &mut [f32] {
        &mut self.beta
    }

    // ANCHOR: forward_train
    /// Training forward (Algorithm 1): y = γ·(x − μ_B)/√(σ_B² + ε) + β with the batch's own
    /// per-feature mean and biased variance, written as one FMA per element,
    /// y = x·a + b with a = γ/√(σ_B² + ε) and b = β − a·μ_B.
    ///
    /// Per tile of features: one pass of shifted f64 sums for the statistics
    /// (`kernel::shifted_sums`), then the FMA pass over the same tile while it is in cache.
    ///
    /// Errors: `x` not F × m, `y` not the shape of `x`, or m < 2 — one sample has σ_B² = 0 and
    /// x̂ = 0, and the inference variance m/(m − 1)·E\[σ_B²\] divides by zero (BN-INF-VAR).
    pub fn forward_train(&self, x: &DMatrix<f32>, y: &mut DMatrix<f32>) -> Result<BatchStats> {
        let (f, m) = (self.features(), x.ncols());
        check_len("input rows (features)", f, x.nrows())?;
        check_batch(m)?;
        check_len("output rows", f, y.nrows())?;
        check_len("output columns (batch)", m, y.ncols())?;
        let mut stats = BatchStats {
            mean: vec![0.0; f],
            variance: vec![0.0; f],
            batch: m,
        };
        let (xs, ys) = (x.as_slice(), y.as_mut_slice());
        let tile = tile_rows(m).min(f);
        let order = kernel::order(xs.len(), 2); // x in, y out
        let (mut shift, mut sum, mut sum_sq) = (vec![0.0; tile], vec![0.0; tile], vec![0.0; tile]);
        let (mut a, mut b) = (vec![0.0f32; tile], vec![0.0f32; tile]);
        for start in (0..f).step_by(tile) {
            let rows = start..(start + tile).min(f);
            let w = rows.len();
            kernel::shifted_sums(
                xs,
                f,
                rows.clone(),
                &mut shift[..w],
                &mut sum[..w],
                &mut sum_sq[..w],
            );
            // Per feature (plain loops over slices, which the compiler vectorises):
            // (μ_B, σ_B²), then a = γ/√(σ_B² + ε) and b = β − a·μ_B, rounded once to f32.
            let moments = shift[..w].iter().zip(&sum[..w]).zip(&sum_sq[..w]);
            let out = stats.mean[rows.clone()]
                .iter_mut()
                .zip(&mut stats.variance[rows.clone()]);
            for (((k, s), q), (mu, var)) in moments.zip(out) {
                (*mu, *var) = kernel::finish(*k, *s, *q, m);
            }
            let params = self.gamma[rows.clone()]
                .iter()
                .zip(&self.beta[rows.clone()]);
            let moments = stats.mean[rows.clone()]
                .iter()
                .zip(&stats.variance[rows.clone()]);
            for (((g, bt), (mu, var)), (ar, br)) in
                params.zip(moments).zip(a.iter_mut().zip(b.iter_mut()))
            {
                let scale = f64::from(*g) / (var + f64::from(self.eps)).sqrt();
                *ar = scale as f32;
                *br = (f64::from(*bt) - scale * mu) as f32;
            }
            kernel::affine(order, xs, ys, f, rows, &a[..w], &b[..w]);
        }
        Ok(stats)
    }
    // ANCHOR_END: forward_train

    // ANCHOR: backward
    /// Backward pass (EXT-BN-BWD) for the batch `x` of the last [`BatchNorm::forward_train`]
    /// (whose statistics are `stats`) and upstream gradients `dy` = ∂ℓ/∂y: writes ∂ℓ/∂x into
    /// `dx` and returns ∂ℓ/∂γ, ∂ℓ/∂β.
    ///
    /// The compact form ∂ℓ/∂x_i = (γ/(m·s))·(m·g_i − Σg − x̂_i·Σ g·x̂) with s = √(σ_B² + ε) is,
    /// per feature, an affine map of (g_i, x_i): dx = g·A + (x·B + C) with A = γ/s,
    /// B = −A·c₂/s, C = −A·c₁ + A·c₂·μ_B/s, c₁ = Σg/m, c₂ = Σg·x̂/m. So one pass of f64 sums
    /// (`kernel::gradient_sums`) and one pass of two FMAs per element, per tile.
    ///
    /// Errors: any of `x`, `dy`, `dx` not F × m, or `stats` from another shape.
    pub fn backward(
        &self,
        x: &DMatrix<f32>,
        dy: &DMatrix<f32>,
        stats: &BatchStats,
        dx: &mut DMatrix<f32>,
    ) -> Result<ParamGradients> {
        let (f, m) = (self.features(), x.ncols());
        check_len("input rows (features)", f, x.nrows())?;
        check_len("statistics (features)", f, stats.mean.len())?;
        check_len("batch size of the statistics", stats.batch, m)?;
        check_len("upstream gradient rows", f, dy.nrows())?;
        check_len("upstream gradient columns", m, dy.ncols())?;
        check_len("input gradient rows", f, dx.nrows())?;
        check_len("input gradient columns", m, dx.ncols())?;
        let mut grads = ParamGradients {
            gamma: vec![0.0; f],
            beta: vec![0.0; f],
        };
        let (xs, gs, ds) = (x.as_slice(), dy.as_slice(), dx.as_mut_slice());
        let tile = tile_rows(2 * m).min(f); // two inputs, x and dy, per tile
        let order = kernel::order(xs.len(), 3); // x and dy in, dx out
        let (mut inv, mut sum_g, mut sum_gx) = (vec![0.0; tile], vec![0.0; tile], vec![0.0; tile]);
        let (mut a, mut b, mut c) = (vec![0.0f32; tile], vec![0.0f32; tile], vec![0.0f32; tile]);
        let mf = m as f64;
        for start in (0..f).step_by(tile) {
            let rows = start..(start + tile).min(f);
            let w = rows.len();
            for (i, v) in inv.iter_mut().zip(&stats.variance[rows.clone()]) {
                *i = 1.0 / (v + f64::from(self.eps)).sqrt();
            }
            let mean = &stats.mean[rows.clone()];
            kernel::gradient_sums(
                xs,
                gs,
                f,
                rows.clone(),
                mean,
                &inv[..w],
                &mut sum_g[..w],
                &mut sum_gx[..w],
            );
            for r in 0..w {
                let k = start + r;
                grads.beta[k] = sum_g[r] as f32;
                grads.gamma[k] = sum_gx[r] as f32;
                let big_a = f64::from(self.gamma[k]) * inv[r];
                let (c1, c2) = (sum_g[r] / mf, sum_gx[r] / mf);
                a[r] = big_a as f32;
                b[r] = (-big_a * c2 * inv[r]) as f32;
                c[r] = (-big_a * c1 + big_a * c2 * inv[r] * mean[r]) as f32;
            }
            kernel::affine2(order, xs, gs, ds, f, rows, &a[..w], &b[..w], &c[..w]);
        }
        Ok(grads)
    }
    // ANCHOR_END: backward

    // ANCHOR: inference_affine
    /// Inference BN (Algorithm 2) as one affine map per feature from the running statistics:
    /// scale = γ/√(σ² + ε), shift = β − scale·μ, computed in f64 and rounded once.
    ///
    /// Errors: `running` for another number of features, with no batch averaged yet, or with
    /// a non-finite mean or a variance that is negative or not finite.
    pub fn inference_affine(&self, running: &RunningStats) -> Result<Affine> {
        check_len(
            "running statistics (features)",
            self.features(),
            running.features(),
        )?;
        let (mean, var) = running.values()?;
        let eps = f64::from(self.eps);
        let (mut scale, mut shift) = (vec![0.0f32; mean.len()], vec![0.0f32; mean.len()]);
        let params = self.gamma.iter().zip(&self.beta).zip(mean.iter().zip(&var));
        for (((g, b), (mu, v)), (sc, sh)) in params.zip(scale.iter_mut().zip(shift.iter_mut())) {
            let s = f64::from(*g) / (v + eps).sqrt();
            *sc = s as f32;
            *sh = (f64::from(*b) - s * mu) as f32;
        }
        Ok(Affine { scale, shift })
    }
    // ANCHOR_END: inference_affine

    /// Inference forward: [`BatchNorm::inference_affine`] then [`Affine::apply`]. Each
    /// sample's output depends on that sample alone, bit for bit (BN-INF-TRANSFORM).
    pub fn forward_inference(
        &self,
        running: &RunningStats,
        x: &DMatrix<f32>,
        y: &mut DMatrix<f32>,
    ) -> Result<()> {
        self.inference_affine(running)?.apply(x, y)
    }

    /// Inference in place, x ← BN(x): [`BatchNorm::inference_affine`] then
    /// [`Affine::apply_in_place`]. The same bits as [`BatchNorm::forward_inference`].
    pub fn forward_inference_in_place(
        &self,
        running: &RunningStats,
        x: &mut DMatrix<f32>,
    ) -> Result<()> {
        self.inference_affine(running)?.apply_in_place(x)
    }
}

impl BatchStats {
    /// Statistics measured elsewhere (another framework's batch, a replayed log): μ_B and the
    /// *biased* σ_B² per feature, over a batch of m samples, as [`BatchNorm::forward_train`]
    /// returns them.
    ///
    /// Errors: lengths differ, no features, m = 0, a mean not finite, a variance negative or
    /// not finite. (m = 1 is a valid batch; [`RunningStats::update`] refuses it, because the
    /// Bessel factor m/(m − 1) divides by zero.)
    ///
    /// ```
    /// use dnn_proofs::batch_norm::BatchStats;
    /// let s = BatchStats::new(vec![0.0, 1.0], vec![1.0, 4.0], 32)?;
    /// assert_eq!((s.features(), s.batch(), s.variance()[1]), (2, 32, 4.0));
    /// assert!(BatchStats::new(vec![0.0], vec![-1.0], 32).is_err());
    /// # Ok::<(), dnn_proofs::error::Error>(())
    /// ```
    pub fn new(mean: Vec<f64>, variance: Vec<f64>, batch: usize) -> Result<Self> {
        check_len("batch variance (features)", mean.len(), variance.len())?;
        for (name, value) in [("features", mean.len()), ("batch size m", batch)] {
            if value == 0 {
                return Err(Error::ParameterOutOfRange {
                    name,
                    value: 0.0,
                    range: "at least 1",
                });
            }
        }
        super::running::validate(&mean, &variance)?;
        Ok(Self {
            mean,
            variance,
            batch,
        })
    }

    /// μ_B per feature.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// σ_B² per feature, biased (divisor m).
    pub fn variance(&self) -> &[f64] {
        &self.variance
    }

    /// m, the batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// F, the number of features.
    pub fn features(&self) -> usize {
        self.mean.len()
    }
}

impl Affine {
    // ANCHOR: affine_apply
    /// y = scale·x + shift per feature: one read, one FMA and one write per element.
    /// Errors: `x` not F × m or `y` not the shape of `x`.
    pub fn apply(&self, x: &DMatrix<f32>, y: &mut DMatrix<f32>) -> Result<()> {
        let f = self.scale.len();
        check_len("shift", f, self.shift.len())?;
        check_len("input rows (features)", f, x.nrows())?;
        check_len("output rows", f, y.nrows())?;
        check_len("output columns (batch)", x.ncols(), y.ncols())?;
        if f > 0 {
            kernel::affine(
                kernel::order(x.len(), 2),
                x.as_slice(),
                y.as_mut_slice(),
                f,
                0..f,
                &self.scale,
                &self.shift,
            );
        }
        Ok(())
    }
    // ANCHOR_END: affine_apply

    /// x ← scale·x + shift per feature, in place: one read and one write per element, the
    /// same bits as [`Affine::apply`]. Errors: `x` not F × m.
    pub fn apply_in_place(&self, x: &mut DMatrix<f32>) -> Result<()> {
        let f = self.scale.len();
        check_len("shift", f, self.shift.len())?;
        check_len("input rows (features)", f, x.nrows())?;
        if f > 0 {
            let order = kernel::order(x.len(), 2);
            kernel::affine_in_place(order, x.as_mut_slice(), f, 0..f, &self.scale, &self.shift);
        }
        Ok(())
    }

    // ANCHOR: fold_into
    /// EXT-BN-FOLD: folds this inference BN into the affine layer z = Wᵀ·o + b before it
    /// (W is fan_in × fan_out, C2): column k of W is scaled by scale_k and
    /// b_k ← scale_k·b_k + shift_k = (b_k − μ_k)·γ_k/√(σ_k² + ε) + β_k.
    /// Errors: W's column count or b's length is not F.
    pub fn fold_into(&self, weights: &mut DMatrix<f32>, bias: &mut DVector<f32>) -> Result<()> {
        let f = self.scale.len();
        check_len("shift", f, self.shift.len())?;
        check_len("weight columns (fan_out)", f, weights.ncols())?;
        check_len("bias", f, bias.len())?;
        for (k, mut column) in weights.column_iter_mut().enumerate() {
            column *= self.scale[k];
            bias[k] = bias[k].mul_add(self.scale[k], self.shift[k]);
        }
        Ok(())
    }
    // ANCHOR_END: fold_into
}

/// m ≥ 2 in training (BN-INF-VAR: the Bessel factor m/(m − 1)).
fn check_batch(m: usize) -> Result<()> {
    if m >= 2 {
        Ok(())
    } else {
        Err(Error::ParameterOutOfRange {
            name: "batch size m in training",
            value: m as f64,
            range: "[2, ∞): with m = 1, σ_B² = 0 and the inference factor m/(m − 1) divides by zero",
        })
    }
}
