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

use std::borrow::Cow;
use std::ops::Range;

use nalgebra::{DMatrix, DVector};

use super::kernel::{self, ColumnsMut, Order};
use super::running::{RunningStats, Stored};
use crate::error::{Error, Result, check_len};
use crate::threads::{Threads, run_pieces};

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

/// The feature ranges one call splits into, one per thread at most: each a whole number of
/// [`PIECE_ROWS`] rows but the last, and each at least [`MIN_PIECE`] elements (rows × m):
/// a piece handed to a sleeping helper thread starts when it wakes, about as late as a copy
/// of 128 Ki floats in cache takes (≈ 11 µs; `rayon::join` of two empty closures from
/// outside its pool took 12–16 µs here). A feature's arithmetic is the same in whichever
/// piece holds it, so the pieces decide speed, never bits.
fn pieces(features: usize, m: usize, threads: Threads, min_piece: usize) -> Vec<Range<usize>> {
    let units = features.div_ceil(PIECE_ROWS);
    let by_size = (features.saturating_mul(m) / min_piece.max(1)).max(1);
    let count = threads.get().min(by_size).min(units).max(1);
    let per = units.div_ceil(count) * PIECE_ROWS;
    (0..features)
        .step_by(per)
        .map(|start| start..(start + per).min(features))
        .collect()
}

/// Rows per unit of a piece: a multiple of every lane width, so pieces add no vector tails.
const PIECE_ROWS: usize = 64;
/// The fewest elements worth a piece of its own (see [`pieces`]).
const MIN_PIECE: usize = 128 << 10;

/// `values` (one per feature) cut at the pieces' boundaries.
fn cut<'a, T>(mut values: &'a mut [T], pieces: &[Range<usize>]) -> Vec<&'a mut [T]> {
    pieces
        .iter()
        .map(|rows| {
            let (piece, rest) = std::mem::take(&mut values).split_at_mut(rows.len());
            values = rest;
            piece
        })
        .collect()
}

/// Every column of `data` cut at the pieces' boundaries: piece i gets rows `pieces[i]` of
/// every column.
fn cut_columns<'a>(
    data: &'a mut [f32],
    features: usize,
    pieces: &[Range<usize>],
) -> Vec<ColumnsMut<'a>> {
    let mut rest = ColumnsMut::new(data, features);
    let mut out = Vec::with_capacity(pieces.len());
    for rows in &pieces[..pieces.len() - 1] {
        let (piece, tail) = rest.split_at(rows.end);
        out.push(piece);
        rest = tail;
    }
    out.push(rest);
    out
}

/// (scale, shift) of a piece's features: borrowed from an [`Affine`], or computed by the
/// piece itself from the running statistics.
type Coefficients<'a> = (Cow<'a, [f32]>, Cow<'a, [f32]>);

/// y = scale·x + shift on each piece of features, over the threads, with each piece's
/// coefficients from `coefficients`.
fn affine_pieces<'a>(
    xs: &[f32],
    ys: &mut [f32],
    f: usize,
    pieces: &[Range<usize>],
    coefficients: impl Fn(Range<usize>) -> Coefficients<'a> + Sync,
) {
    let order = kernel::order(xs.len(), 2); // x in, y out
    let work: Vec<_> = pieces
        .iter()
        .cloned()
        .zip(cut_columns(ys, f, pieces))
        .collect();
    run_pieces(work, |(rows, mut y)| {
        let (scale, shift) = coefficients(rows.clone());
        kernel::affine(order, xs, f, rows, &mut y, &scale, &shift);
    });
}

/// x ← scale·x + shift on each piece of features, over the threads.
fn affine_in_place_pieces<'a>(
    xs: &mut [f32],
    f: usize,
    pieces: &[Range<usize>],
    coefficients: impl Fn(Range<usize>) -> Coefficients<'a> + Sync,
) {
    let order = kernel::order(xs.len(), 2);
    let work: Vec<_> = pieces
        .iter()
        .cloned()
        .zip(cut_columns(xs, f, pieces))
        .collect();
    run_pieces(work, |(rows, mut x)| {
        let (scale, shift) = coefficients(rows.clone());
        kernel::affine_in_place(order, &mut x, rows, &scale, &shift);
    });
}

/// An affine map's shapes: `x` has F rows, and a separate output `y` the shape of `x`.
fn check_affine_shapes(f: usize, x: &DMatrix<f32>, y: Option<&DMatrix<f32>>) -> Result<()> {
    check_len("input rows (features)", f, x.nrows())?;
    if let Some(y) = y {
        check_len("output rows", f, y.nrows())?;
        check_len("output columns (batch)", x.ncols(), y.ncols())?;
    }
    Ok(())
}

/// Batch normalisation of F features: y = γ·(x − μ)/√(σ² + ε) + β per feature (BN-AFFINE),
/// with the batch's statistics in training (Algorithm 1) and fixed ones at inference
/// (Algorithm 2).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
    threads: Threads,
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
        Ok(Self {
            gamma,
            beta,
            eps,
            threads: Threads::ONE,
        })
    }

    /// F, the number of features.
    pub fn features(&self) -> usize {
        self.gamma.len()
    }

    /// The same layer on `threads` threads: each call splits its features into one range per
    /// thread (when the batch is large enough to pay, see `pieces` in this module's source).
    /// Every output is the same, bit for bit, on any number of threads.
    ///
    /// ```
    /// use dnn_proofs::{Threads, batch_norm::BatchNorm};
    /// let bn = BatchNorm::new(512, 1e-5)?.with_threads(Threads::new(2)?);
    /// assert_eq!(bn.threads().get(), 2);
    /// # Ok::<(), dnn_proofs::Error>(())
    /// ```
    pub fn with_threads(mut self, threads: Threads) -> Self {
        self.threads = threads;
        self
    }

    /// The threads a call may use (one unless [`BatchNorm::with_threads`] said otherwise).
    pub fn threads(&self) -> Threads {
        self.threads
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
    /// The features go in pieces, one per thread ([`BatchNorm::with_threads`]), and each
    /// piece tile by tile: one pass of shifted f64 sums for the tile's statistics
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
        let pieces = pieces(f, m, self.threads, MIN_PIECE);
        self.train_pieces(x.as_slice(), y.as_mut_slice(), m, &pieces, &mut stats);
        Ok(stats)
    }
    // ANCHOR_END: forward_train

    /// The training forward on each piece of features, over the threads.
    fn train_pieces(
        &self,
        xs: &[f32],
        ys: &mut [f32],
        m: usize,
        pieces: &[Range<usize>],
        stats: &mut BatchStats,
    ) {
        let f = self.features();
        let order = kernel::order(xs.len(), 2); // x in, y out
        let outputs = cut_columns(ys, f, pieces);
        let means = cut(&mut stats.mean, pieces);
        let variances = cut(&mut stats.variance, pieces);
        let work: Vec<_> = pieces
            .iter()
            .cloned()
            .zip(outputs)
            .zip(means.into_iter().zip(variances))
            .collect();
        run_pieces(work, |((rows, mut y), (mean, var))| {
            self.train_rows(xs, m, order, rows, &mut y, mean, var);
        });
    }

    // ANCHOR: train_rows
    /// The training forward on the features `rows`, tile by tile: one pass of shifted f64
    /// sums for a tile's statistics, then the FMA pass over the same tile while it is in
    /// cache. `mean` and `variance` are the statistics of these rows.
    #[allow(clippy::too_many_arguments)]
    fn train_rows(
        &self,
        xs: &[f32],
        m: usize,
        order: Order,
        rows: Range<usize>,
        y: &mut ColumnsMut<'_>,
        mean: &mut [f64],
        variance: &mut [f64],
    ) {
        let f = self.features();
        let tile = tile_rows(m).min(rows.len());
        let (mut shift, mut sum, mut sum_sq) = (vec![0.0; tile], vec![0.0; tile], vec![0.0; tile]);
        let (mut a, mut b) = (vec![0.0f32; tile], vec![0.0f32; tile]);
        for start in rows.clone().step_by(tile) {
            let tile_rows = start..(start + tile).min(rows.end);
            let (w, local) = (
                tile_rows.len(),
                start - rows.start..start - rows.start + tile_rows.len(),
            );
            kernel::shifted_sums(
                xs,
                f,
                tile_rows.clone(),
                &mut shift[..w],
                &mut sum[..w],
                &mut sum_sq[..w],
            );
            // Per feature (plain loops over slices, which the compiler vectorises):
            // (μ_B, σ_B²), then a = γ/√(σ_B² + ε) and b = β − a·μ_B, rounded once to f32.
            let moments = shift[..w].iter().zip(&sum[..w]).zip(&sum_sq[..w]);
            let out = mean[local.clone()]
                .iter_mut()
                .zip(&mut variance[local.clone()]);
            for (((k, s), q), (mu, var)) in moments.zip(out) {
                (*mu, *var) = kernel::finish(*k, *s, *q, m);
            }
            let params = self.gamma[tile_rows.clone()]
                .iter()
                .zip(&self.beta[tile_rows.clone()]);
            let moments = mean[local.clone()].iter().zip(&variance[local]);
            for (((g, bt), (mu, var)), (ar, br)) in
                params.zip(moments).zip(a.iter_mut().zip(b.iter_mut()))
            {
                let scale = f64::from(*g) / (var + f64::from(self.eps)).sqrt();
                *ar = scale as f32;
                *br = (f64::from(*bt) - scale * mu) as f32;
            }
            kernel::affine(order, xs, f, tile_rows, y, &a[..w], &b[..w]);
        }
    }
    // ANCHOR_END: train_rows

    // ANCHOR: backward
    /// Backward pass (EXT-BN-BWD) for the batch `x` of the last [`BatchNorm::forward_train`]
    /// (whose statistics are `stats`) and upstream gradients `dy` = ∂ℓ/∂y: writes ∂ℓ/∂x into
    /// `dx` and returns ∂ℓ/∂γ, ∂ℓ/∂β.
    ///
    /// The compact form ∂ℓ/∂x_i = (γ/(m·s))·(m·g_i − Σg − x̂_i·Σ g·x̂) with s = √(σ_B² + ε) is,
    /// per feature, an affine map of (g_i, x_i): dx = g·A + (x·B + C) with A = γ/s,
    /// B = −A·c₂/s, C = −A·c₁ + A·c₂·μ_B/s, c₁ = Σg/m, c₂ = Σg·x̂/m. So one pass of f64 sums
    /// (`kernel::gradient_sums`) and one pass of two FMAs per element, per tile of each
    /// thread's piece of the features.
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
        let pieces = pieces(f, m, self.threads, MIN_PIECE);
        self.backward_pieces(
            x.as_slice(),
            dy.as_slice(),
            stats,
            dx.as_mut_slice(),
            &pieces,
            &mut grads,
        );
        Ok(grads)
    }
    // ANCHOR_END: backward

    /// The backward pass on each piece of features, over the threads.
    fn backward_pieces(
        &self,
        xs: &[f32],
        gs: &[f32],
        stats: &BatchStats,
        ds: &mut [f32],
        pieces: &[Range<usize>],
        grads: &mut ParamGradients,
    ) {
        let f = self.features();
        let order = kernel::order(xs.len(), 3); // x and dy in, dx out
        let outputs = cut_columns(ds, f, pieces);
        let gammas = cut(&mut grads.gamma, pieces);
        let betas = cut(&mut grads.beta, pieces);
        let work: Vec<_> = pieces
            .iter()
            .cloned()
            .zip(outputs)
            .zip(gammas.into_iter().zip(betas))
            .collect();
        run_pieces(work, |((rows, mut dx), (d_gamma, d_beta))| {
            self.backward_rows(xs, gs, stats, order, rows, &mut dx, d_gamma, d_beta);
        });
    }

    // ANCHOR: backward_rows
    /// The backward pass on the features `rows`, tile by tile: one pass of f64 sums, then
    /// one pass of two FMAs per element over the same tile. `d_gamma` and `d_beta` are these
    /// rows' parameter gradients.
    #[allow(clippy::too_many_arguments)]
    fn backward_rows(
        &self,
        xs: &[f32],
        gs: &[f32],
        stats: &BatchStats,
        order: Order,
        rows: Range<usize>,
        dx: &mut ColumnsMut<'_>,
        d_gamma: &mut [f32],
        d_beta: &mut [f32],
    ) {
        let (f, m) = (self.features(), stats.batch);
        let tile = tile_rows(2 * m).min(rows.len()); // two inputs, x and dy, per tile
        let (mut inv, mut sum_g, mut sum_gx) = (vec![0.0; tile], vec![0.0; tile], vec![0.0; tile]);
        let (mut a, mut b, mut c) = (vec![0.0f32; tile], vec![0.0f32; tile], vec![0.0f32; tile]);
        let mf = m as f64;
        for start in rows.clone().step_by(tile) {
            let tile_rows = start..(start + tile).min(rows.end);
            let w = tile_rows.len();
            for (i, v) in inv.iter_mut().zip(&stats.variance[tile_rows.clone()]) {
                *i = 1.0 / (v + f64::from(self.eps)).sqrt();
            }
            let mean = &stats.mean[tile_rows.clone()];
            kernel::gradient_sums(
                xs,
                gs,
                f,
                tile_rows.clone(),
                mean,
                &inv[..w],
                &mut sum_g[..w],
                &mut sum_gx[..w],
            );
            for r in 0..w {
                let (k, local) = (start + r, start - rows.start + r);
                d_beta[local] = sum_g[r] as f32;
                d_gamma[local] = sum_gx[r] as f32;
                let big_a = f64::from(self.gamma[k]) * inv[r];
                let (c1, c2) = (sum_g[r] / mf, sum_gx[r] / mf);
                a[r] = big_a as f32;
                b[r] = (-big_a * c2 * inv[r]) as f32;
                c[r] = (-big_a * c1 + big_a * c2 * inv[r] * mean[r]) as f32;
            }
            kernel::affine2(order, xs, gs, f, tile_rows, dx, &a[..w], &b[..w], &c[..w]);
        }
    }
    // ANCHOR_END: backward_rows

    // ANCHOR: inference_affine
    /// Inference BN (Algorithm 2) as one affine map per feature from the running statistics:
    /// scale = γ/√(σ² + ε), shift = β − scale·μ, computed in f64 and rounded once.
    ///
    /// Errors: `running` for another number of features, with no batch averaged yet, or with
    /// a non-finite mean or a variance that is negative or not finite.
    pub fn inference_affine(&self, running: &RunningStats) -> Result<Affine> {
        let stored = self.running_values(running)?;
        let f = self.features();
        let (mut scale, mut shift) = (vec![0.0f32; f], vec![0.0f32; f]);
        self.inference_coefficients(stored, 0..f, &mut scale, &mut shift);
        Ok(Affine { scale, shift })
    }

    /// scale and shift of the features `rows` (indexed from the range's start), from the
    /// running statistics μ = mean/t and σ² = variance/t ([`Stored`]).
    fn inference_coefficients(
        &self,
        running: Stored<'_>,
        rows: Range<usize>,
        scale: &mut [f32],
        shift: &mut [f32],
    ) {
        let eps = f64::from(self.eps);
        let params = self.gamma[rows.clone()]
            .iter()
            .zip(&self.beta[rows.clone()]);
        let t = running.divisor;
        let stats = running.mean[rows.clone()]
            .iter()
            .zip(&running.variance[rows]);
        for (((g, b), (mean, var)), (sc, sh)) in params.zip(stats).zip(scale.iter_mut().zip(shift))
        {
            let (mu, v) = (mean / t, var / t);
            let s = f64::from(*g) / (v + eps).sqrt();
            *sc = s as f32;
            *sh = (f64::from(*b) - s * mu) as f32;
        }
    }
    // ANCHOR_END: inference_affine

    /// The running statistics' stored values and divisor, checked against this layer.
    fn running_values<'a>(&self, running: &'a RunningStats) -> Result<Stored<'a>> {
        check_len(
            "running statistics (features)",
            self.features(),
            running.features(),
        )?;
        running.stored()
    }

    /// Inference forward: [`BatchNorm::inference_affine`] then [`Affine::apply`], with each
    /// thread computing the coefficients of its own features. Each sample's output depends
    /// on that sample alone, bit for bit (BN-INF-TRANSFORM).
    pub fn forward_inference(
        &self,
        running: &RunningStats,
        x: &DMatrix<f32>,
        y: &mut DMatrix<f32>,
    ) -> Result<()> {
        let stored = self.running_values(running)?;
        let f = self.features();
        check_affine_shapes(f, x, Some(y))?;
        let pieces = pieces(f, x.ncols(), self.threads, MIN_PIECE);
        affine_pieces(x.as_slice(), y.as_mut_slice(), f, &pieces, |rows| {
            self.piece_coefficients(stored, rows)
        });
        Ok(())
    }

    /// Inference in place, x ← BN(x): [`BatchNorm::inference_affine`] then
    /// [`Affine::apply_in_place`]. The same bits as [`BatchNorm::forward_inference`].
    pub fn forward_inference_in_place(
        &self,
        running: &RunningStats,
        x: &mut DMatrix<f32>,
    ) -> Result<()> {
        let stored = self.running_values(running)?;
        let f = self.features();
        check_affine_shapes(f, x, None)?;
        let pieces = pieces(f, x.ncols(), self.threads, MIN_PIECE);
        affine_in_place_pieces(x.as_mut_slice(), f, &pieces, |rows| {
            self.piece_coefficients(stored, rows)
        });
        Ok(())
    }

    /// [`BatchNorm::inference_coefficients`] of one piece, into new vectors.
    fn piece_coefficients<'a>(&self, stored: Stored<'_>, rows: Range<usize>) -> Coefficients<'a> {
        let (mut scale, mut shift) = (vec![0.0f32; rows.len()], vec![0.0f32; rows.len()]);
        self.inference_coefficients(stored, rows, &mut scale, &mut shift);
        (Cow::Owned(scale), Cow::Owned(shift))
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
        self.apply_with_threads(x, y, Threads::ONE)
    }

    /// [`Affine::apply`] with the features split over `threads` threads; the same bits.
    pub fn apply_with_threads(
        &self,
        x: &DMatrix<f32>,
        y: &mut DMatrix<f32>,
        threads: Threads,
    ) -> Result<()> {
        let f = self.scale.len();
        check_len("shift", f, self.shift.len())?;
        check_affine_shapes(f, x, Some(y))?;
        if f > 0 {
            let pieces = pieces(f, x.ncols(), threads, MIN_PIECE);
            affine_pieces(x.as_slice(), y.as_mut_slice(), f, &pieces, |rows| {
                self.coefficients(rows)
            });
        }
        Ok(())
    }
    // ANCHOR_END: affine_apply

    /// x ← scale·x + shift per feature, in place: one read and one write per element, the
    /// same bits as [`Affine::apply`]. Errors: `x` not F × m.
    pub fn apply_in_place(&self, x: &mut DMatrix<f32>) -> Result<()> {
        self.apply_in_place_with_threads(x, Threads::ONE)
    }

    /// [`Affine::apply_in_place`] with the features split over `threads` threads; the same
    /// bits.
    pub fn apply_in_place_with_threads(
        &self,
        x: &mut DMatrix<f32>,
        threads: Threads,
    ) -> Result<()> {
        let f = self.scale.len();
        check_len("shift", f, self.shift.len())?;
        check_affine_shapes(f, x, None)?;
        if f > 0 {
            let pieces = pieces(f, x.ncols(), threads, MIN_PIECE);
            affine_in_place_pieces(x.as_mut_slice(), f, &pieces, |rows| self.coefficients(rows));
        }
        Ok(())
    }

    /// The coefficients of the features `rows`, borrowed.
    fn coefficients(&self, rows: Range<usize>) -> Coefficients<'_> {
        let (scale, shift) = (&self.scale[rows.clone()], &self.shift[rows]);
        (Cow::Borrowed(scale), Cow::Borrowed(shift))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces cover the features in order, one per thread at most, whole units but the last,
    /// none smaller than the minimum unless there is only one.
    #[test]
    fn pieces_cover_the_features_in_whole_units() {
        for features in [1, 63, 64, 65, 129, 4096, 65537] {
            for m in [2, 3, 256] {
                for threads in 1..=4 {
                    for min_piece in [1, 4096, MIN_PIECE] {
                        let t = Threads::new(threads).unwrap();
                        let p = pieces(features, m, t, min_piece);
                        let what = format!("F = {features}, m = {m}, {threads} threads, {p:?}");
                        assert!(!p.is_empty() && p.len() <= threads, "{what}");
                        assert_eq!(p[0].start, 0, "{what}");
                        assert_eq!(p[p.len() - 1].end, features, "{what}");
                        for pair in p.windows(2) {
                            assert_eq!(pair[0].end, pair[1].start, "{what}");
                            assert_eq!(pair[0].len() % PIECE_ROWS, 0, "{what}");
                        }
                        if p.len() > 1 {
                            assert!(p.iter().all(|r| !r.is_empty()), "{what}");
                            assert!(features * m / p.len() >= min_piece, "{what}");
                        }
                    }
                }
            }
        }
        // Large enough to pay: the 1 Mi bench shape takes both threads.
        let two = Threads::new(2).unwrap();
        assert_eq!(pieces(4096, 256, two, MIN_PIECE), vec![0..2048, 2048..4096]);
        assert_eq!(pieces(64, 64, two, MIN_PIECE), vec![0..64]);
    }

    fn matrix(f: usize, m: usize, salt: usize) -> DMatrix<f32> {
        DMatrix::from_fn(f, m, |k, j| {
            let v = ((k * 37 + j * 53 + salt * 11) % 101) as f32 / 16.0;
            v + (k % 7) as f32 - 3.0
        })
    }

    /// Splits of the features that no thread count and size would choose (pieces of one
    /// unit, uneven last pieces): every kernel gives the bits of one piece.
    #[test]
    fn every_split_of_the_features_gives_the_same_bits() {
        // The last shape's batch makes tiles of 1024 rows, so its pieces span several tiles.
        for (f, m) in [
            (1, 2),
            (65, 3),
            (129, 5),
            (200, 2),
            (1041, 9),
            (2100, 4),
            (2211, 2048),
        ] {
            let bn = BatchNorm::with_affine(
                (0..f).map(|k| 0.5 + (k % 5) as f32 * 0.25).collect(),
                (0..f).map(|k| (k % 3) as f32 - 1.0).collect(),
                1e-5,
            )
            .unwrap();
            let (x, g) = (matrix(f, m, 1), matrix(f, m, 2));
            let run_with = |pieces: &[Range<usize>]| {
                let mut stats = BatchStats {
                    mean: vec![0.0; f],
                    variance: vec![0.0; f],
                    batch: m,
                };
                let mut y = DMatrix::from_element(f, m, f32::NAN);
                bn.train_pieces(x.as_slice(), y.as_mut_slice(), m, pieces, &mut stats);
                let mut grads = ParamGradients {
                    gamma: vec![0.0; f],
                    beta: vec![0.0; f],
                };
                let mut dx = DMatrix::from_element(f, m, f32::NAN);
                let (xs, gs) = (x.as_slice(), g.as_slice());
                bn.backward_pieces(xs, gs, &stats, dx.as_mut_slice(), pieces, &mut grads);
                let affine = Affine {
                    scale: stats.mean.iter().map(|&v| v as f32 * 0.5 + 1.0).collect(),
                    shift: stats.variance.iter().map(|&v| v as f32).collect(),
                };
                let mut z = DMatrix::from_element(f, m, f32::NAN);
                affine_pieces(xs, z.as_mut_slice(), f, pieces, |r| affine.coefficients(r));
                let mut w = x.clone();
                affine_in_place_pieces(w.as_mut_slice(), f, pieces, |r| affine.coefficients(r));
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                (
                    [bits(y.as_slice()), bits(dx.as_slice()), bits(z.as_slice())],
                    [bits(w.as_slice()), bits(&grads.gamma), bits(&grads.beta)],
                    [bits64(&stats.mean), bits64(&stats.variance)],
                )
            };
            let whole = run_with(std::slice::from_ref(&(0..f)));
            let units: Vec<Range<usize>> = (0..f)
                .step_by(PIECE_ROWS)
                .map(|s| s..(s + PIECE_ROWS).min(f))
                .collect();
            let mut splits = vec![units];
            for count in 2..=3 {
                splits.push(pieces(f, m, Threads::new(count).unwrap(), 1));
            }
            for split in splits {
                assert!(
                    whole == run_with(&split),
                    "F = {f}, m = {m}, pieces {split:?}"
                );
            }
        }
    }
}
