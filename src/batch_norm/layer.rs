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

use std::ops::Range;

use nalgebra::{DMatrix, DVector};

use super::kernel::{self, ColumnsMut, Flat, Order};
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

/// How a call spreads over its threads. The sums split the *features*: each thread reads its
/// rows of every column and adds them in column order, the one-thread order. The maps split
/// the *columns*: each thread writes one contiguous block of samples. (Split by features, the
/// two threads' writes interleave within every column, and on the two-core machines this was
/// measured on a map then ran at 6.2–6.5 elements/ns against 9.6–10.1 split by columns, in
/// the same process, with 4096 features × 256.) Beyond the cache, training and backward give
/// each thread whole feature ranges instead ([`BatchNorm::train_by_features`]). Either way
/// every output comes from the same operations as on one thread, so the split decides speed,
/// never bits.
#[derive(Debug, Clone, Copy)]
struct Split {
    threads: Threads,
    /// The fewest elements worth a piece of its own ([`MIN_PIECE`]; tests lower it).
    min_piece: usize,
}

/// A piece on a helper thread starts when that thread wakes, which can take as long as a copy
/// of 128 Ki floats in cache (≈ 11 µs; `rayon::join` of two empty closures from outside its
/// pool took 12–16 µs here): smaller pieces stay together on the caller's thread.
const MIN_PIECE: usize = 128 << 10;

/// Feature pieces are whole multiples of this many rows but the last: a multiple of every
/// lane width, so pieces add no vector tails.
const PIECE_ROWS: usize = 64;

impl Split {
    fn new(threads: Threads) -> Self {
        Self {
            threads,
            min_piece: MIN_PIECE,
        }
    }

    /// Up to one range per thread of `units` units of `size` elements each: whole multiples
    /// of `align` units but the last, and each at least `min_piece` elements unless there is
    /// only one.
    fn ranges(self, units: usize, size: usize, align: usize) -> Vec<Range<usize>> {
        let aligned = units.div_ceil(align);
        let by_size = (units.saturating_mul(size) / self.min_piece.max(1)).max(1);
        let count = self.threads.get().min(by_size).min(aligned).max(1);
        let per = (aligned.div_ceil(count) * align).max(1);
        let mut ranges: Vec<_> = (0..units)
            .step_by(per)
            .map(|start| start..(start + per).min(units))
            .collect();
        // Only the last can fall short (the others hold at least units/count each): then it
        // joins the one before.
        if ranges.len() > 1 && ranges[ranges.len() - 1].len() * size < self.min_piece {
            let last = ranges.pop().expect("two ranges");
            ranges.last_mut().expect("one range").end = last.end;
        }
        ranges
    }

    /// Pieces of the features `rows`, over a batch of m.
    fn features(self, rows: &Range<usize>, m: usize) -> Vec<Range<usize>> {
        let shift = |r: Range<usize>| r.start + rows.start..r.end + rows.start;
        let pieces = self.ranges(rows.len(), m, PIECE_ROWS);
        pieces.into_iter().map(shift).collect()
    }

    /// Pieces of m columns, each with `rows` elements of work.
    fn columns(self, m: usize, rows: usize) -> Vec<Range<usize>> {
        self.ranges(m, rows, 1)
    }
}

/// `values` cut into consecutive pieces of `unit` × each range's length (a per-feature
/// slice cut by feature ranges: unit 1; a column-major buffer cut by column ranges: unit F).
fn cut<'a, T>(mut values: &'a mut [T], pieces: &[Range<usize>], unit: usize) -> Vec<&'a mut [T]> {
    pieces
        .iter()
        .map(|range| {
            let (piece, rest) = std::mem::take(&mut values).split_at_mut(range.len() * unit);
            values = rest;
            piece
        })
        .collect()
}

/// Two per-feature slices cut at the pieces' boundaries, paired piece by piece.
fn cut_pair<'a, T, U>(
    first: &'a mut [T],
    second: &'a mut [U],
    pieces: &[Range<usize>],
) -> impl Iterator<Item = (&'a mut [T], &'a mut [U])> + use<'a, T, U> {
    cut(first, pieces, 1)
        .into_iter()
        .zip(cut(second, pieces, 1))
}

/// Every column of `data` cut at the pieces' boundaries: piece i gets rows `pieces[i]` of
/// every column, as separate slices (a feature range is not contiguous in this layout).
fn cut_columns<'a>(data: &'a mut [f32], f: usize, pieces: &[Range<usize>]) -> Vec<ColumnsMut<'a>> {
    let mut rest = ColumnsMut::new(data, f);
    let mut out = Vec::with_capacity(pieces.len());
    for rows in &pieces[..pieces.len() - 1] {
        let (piece, tail) = rest.split_at(rows.end);
        out.push(piece);
        rest = tail;
    }
    out.push(rest);
    out
}

/// y = x·a + b on the rows `rows` of every column (F = `f` rows), the columns split over
/// the threads.
fn affine_split(
    split: Split,
    xs: &[f32],
    ys: &mut [f32],
    f: usize,
    rows: Range<usize>,
    a: &[f32],
    b: &[f32],
) {
    let order = kernel::order(xs.len(), 2); // x in, y out
    let columns = split.columns(xs.len() / f, rows.len());
    let inputs = columns.iter().map(|c| &xs[c.start * f..c.end * f]);
    let work: Vec<_> = inputs.zip(cut(ys, &columns, f)).collect();
    run_pieces(work, |(x, y)| {
        let mut y = Flat {
            data: y,
            features: f,
        };
        kernel::affine(order, x, f, rows.clone(), &mut y, a, b);
    });
}

/// x ← x·a + b on every column (F = `f` rows), the columns split over the threads.
fn affine_in_place_split(split: Split, xs: &mut [f32], f: usize, a: &[f32], b: &[f32]) {
    let order = kernel::order(xs.len(), 2);
    let columns = split.columns(xs.len() / f, f);
    run_pieces(cut(xs, &columns, f), |x| {
        kernel::affine_in_place(
            order,
            &mut Flat {
                data: x,
                features: f,
            },
            0..f,
            a,
            b,
        );
    });
}

/// The tiles of `tile` rows of `rows`, each as its rows and the same rows counted from the
/// start of `rows`.
fn tiles(
    rows: &Range<usize>,
    tile: usize,
) -> impl Iterator<Item = (Range<usize>, Range<usize>)> + use<> {
    let (first, end) = (rows.start, rows.end);
    (first..end).step_by(tile).map(move |start| {
        let stop = (start + tile).min(end);
        (start..stop, start - first..stop - first)
    })
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

    /// The same layer on `threads` threads: each call splits its sums over ranges of features
    /// and its maps over blocks of samples, one per thread, when the batch is large enough to
    /// pay (see `Split` in this module's source).
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
    /// Tile by tile: one pass of shifted f64 sums for the tile's statistics
    /// (`kernel::shifted_sums`), then the FMA pass over the same tile while it is in cache;
    /// on more threads, see [`BatchNorm::with_threads`].
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
        self.train_split(xs, ys, m, Split::new(self.threads), &mut stats);
        Ok(stats)
    }
    // ANCHOR_END: forward_train

    // ANCHOR: train_split
    /// The training forward, tile by tile: the tile's statistics and coefficients with its
    /// features split over the threads, then its normalisation with the columns split.
    fn train_split(
        &self,
        xs: &[f32],
        ys: &mut [f32],
        m: usize,
        split: Split,
        stats: &mut BatchStats,
    ) {
        if kernel::order(xs.len(), 2) == Order::Streams {
            return self.train_by_features(xs, ys, m, split, stats);
        }
        let f = self.features();
        let tile = tile_rows(m).min(f);
        let (mut a, mut b) = (vec![0.0f32; tile], vec![0.0f32; tile]);
        for start in (0..f).step_by(tile) {
            let rows = start..(start + tile).min(f);
            let w = rows.len();
            let pieces = split.features(&rows, m);
            let moments = cut_pair(
                &mut stats.mean[rows.clone()],
                &mut stats.variance[rows.clone()],
                &pieces,
            );
            let coefficients = cut_pair(&mut a[..w], &mut b[..w], &pieces);
            let work: Vec<_> = pieces
                .iter()
                .cloned()
                .zip(moments.zip(coefficients))
                .collect();
            run_pieces(work, |(rows, ((mean, var), (a, b)))| {
                self.train_coefficients(xs, m, rows, mean, var, a, b);
            });
            affine_split(split, xs, ys, f, rows, &a[..w], &b[..w]);
        }
    }

    /// The batch statistics of the features `rows` (one pass of shifted f64 sums) and the
    /// coefficients a = γ/√(σ_B² + ε), b = β − a·μ_B of y = x·a + b, each rounded once to f32.
    #[allow(clippy::too_many_arguments)]
    fn train_coefficients(
        &self,
        xs: &[f32],
        m: usize,
        rows: Range<usize>,
        mean: &mut [f64],
        variance: &mut [f64],
        a: &mut [f32],
        b: &mut [f32],
    ) {
        let w = rows.len();
        let (mut shift, mut sum, mut sum_sq) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
        kernel::shifted_sums(
            xs,
            self.features(),
            rows.clone(),
            &mut shift,
            &mut sum,
            &mut sum_sq,
        );
        kernel::finish([&shift, &sum, &sum_sq], m, mean, variance);
        let params = [&self.gamma[rows.clone()], &self.beta[rows]];
        let eps = f64::from(self.eps);
        kernel::coefficients(params, [mean, variance], 1.0, eps, [a, b]);
    }
    // ANCHOR_END: train_split

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
        self.backward_split(xs, gs, stats, ds, Split::new(self.threads), &mut grads);
        Ok(grads)
    }
    // ANCHOR_END: backward

    // ANCHOR: backward_split
    /// The backward pass, tile by tile: the tile's sums and coefficients with its features
    /// split over the threads, then dx with the columns split.
    fn backward_split(
        &self,
        xs: &[f32],
        gs: &[f32],
        stats: &BatchStats,
        ds: &mut [f32],
        split: Split,
        grads: &mut ParamGradients,
    ) {
        let (f, m) = (self.features(), stats.batch);
        let order = kernel::order(xs.len(), 3); // x and dy in, dx out
        if order == Order::Streams {
            return self.backward_by_features(xs, gs, stats, ds, split, grads);
        }
        let tile = tile_rows(2 * m).min(f); // two inputs, x and dy, per tile
        let mut coefficients = [vec![0.0f32; tile], vec![0.0f32; tile], vec![0.0f32; tile]];
        for start in (0..f).step_by(tile) {
            let rows = start..(start + tile).min(f);
            let w = rows.len();
            let pieces = split.features(&rows, m);
            let [a, b, c] = coefficients
                .each_mut()
                .map(|v| cut(&mut v[..w], &pieces, 1));
            let params = cut_pair(
                &mut grads.gamma[rows.clone()],
                &mut grads.beta[rows.clone()],
                &pieces,
            );
            let abc = a.into_iter().zip(b).zip(c);
            let work: Vec<_> = pieces.iter().cloned().zip(params.zip(abc)).collect();
            run_pieces(work, |(rows, ((d_gamma, d_beta), ((a, b), c)))| {
                self.backward_coefficients(xs, gs, stats, rows, [d_gamma, d_beta], [a, b, c]);
            });
            let [a, b, c] = coefficients.each_ref().map(|v| &v[..w]);
            let columns = split.columns(m, w);
            let inputs = columns
                .iter()
                .map(|c| (&xs[c.start * f..c.end * f], &gs[c.start * f..c.end * f]));
            let work: Vec<_> = inputs.zip(cut(ds, &columns, f)).collect();
            run_pieces(work, |((x, g), d)| {
                let mut d = Flat {
                    data: d,
                    features: f,
                };
                kernel::affine2(order, x, g, f, rows.clone(), &mut d, a, b, c);
            });
        }
    }

    /// Σg and Σg·x̂ of the features `rows` (one pass of f64 sums), which are ∂ℓ/∂β and
    /// ∂ℓ/∂γ, and the coefficients A, B, C of dx = g·A + (x·B + C), rounded once to f32.
    fn backward_coefficients(
        &self,
        xs: &[f32],
        gs: &[f32],
        stats: &BatchStats,
        rows: Range<usize>,
        [d_gamma, d_beta]: [&mut [f32]; 2],
        [a, b, c]: [&mut [f32]; 3],
    ) {
        let w = rows.len();
        let mut inv = vec![0.0; w];
        kernel::inverse_deviations(&stats.variance[rows.clone()], f64::from(self.eps), &mut inv);
        let mean = &stats.mean[rows.clone()];
        let (mut sum_g, mut sum_gx) = (vec![0.0; w], vec![0.0; w]);
        let f = self.features();
        kernel::gradient_sums(xs, gs, f, rows.clone(), mean, &inv, &mut sum_g, &mut sum_gx);
        kernel::backward_coefficients(
            &self.gamma[rows],
            [mean, &inv],
            [&sum_g, &sum_gx],
            stats.batch,
            [d_gamma, d_beta],
            [a, b, c],
        );
    }
    // ANCHOR_END: backward_split

    /// The training forward for data beyond the cache: each thread takes a range of features
    /// and runs its tiles alone, sums then map, so one thread's reads from memory overlap the
    /// other's writes. (Two phases per tile, as in cache, ran the backward at 16 Mi at 0.55–0.62
    /// of the copy against 0.63–0.76 this way, measured in separate runs; each thread's
    /// writes interleave with the other's within the columns, which in cache cost a third.)
    fn train_by_features(
        &self,
        xs: &[f32],
        ys: &mut [f32],
        m: usize,
        split: Split,
        stats: &mut BatchStats,
    ) {
        let f = self.features();
        let pieces = split.features(&(0..f), m);
        let moments = cut_pair(&mut stats.mean, &mut stats.variance, &pieces);
        let work: Vec<_> = pieces
            .iter()
            .cloned()
            .zip(cut_columns(ys, f, &pieces))
            .zip(moments)
            .collect();
        run_pieces(work, |((rows, mut y), (mean, var))| {
            let tile = tile_rows(m).min(rows.len());
            let (mut a, mut b) = (vec![0.0f32; tile], vec![0.0f32; tile]);
            for (tile_rows, local) in tiles(&rows, tile) {
                let w = tile_rows.len();
                let (mean, var) = (&mut mean[local.clone()], &mut var[local]);
                self.train_coefficients(
                    xs,
                    m,
                    tile_rows.clone(),
                    mean,
                    var,
                    &mut a[..w],
                    &mut b[..w],
                );
                kernel::affine(Order::Streams, xs, f, tile_rows, &mut y, &a[..w], &b[..w]);
            }
        });
    }

    /// The backward pass for data beyond the cache, each thread on its own features (see
    /// [`BatchNorm::train_by_features`]).
    fn backward_by_features(
        &self,
        xs: &[f32],
        gs: &[f32],
        stats: &BatchStats,
        ds: &mut [f32],
        split: Split,
        grads: &mut ParamGradients,
    ) {
        let (f, m) = (self.features(), stats.batch);
        let pieces = split.features(&(0..f), m);
        let params = cut_pair(&mut grads.gamma, &mut grads.beta, &pieces);
        let work: Vec<_> = pieces
            .iter()
            .cloned()
            .zip(cut_columns(ds, f, &pieces))
            .zip(params)
            .collect();
        run_pieces(work, |((rows, mut dx), (d_gamma, d_beta))| {
            let tile = tile_rows(2 * m).min(rows.len());
            let mut coefficients = [vec![0.0f32; tile], vec![0.0f32; tile], vec![0.0f32; tile]];
            for (tile_rows, local) in tiles(&rows, tile) {
                let w = tile_rows.len();
                let params = [&mut d_gamma[local.clone()], &mut d_beta[local]];
                let [a, b, c] = coefficients.each_mut().map(|v| &mut v[..w]);
                self.backward_coefficients(xs, gs, stats, tile_rows.clone(), params, [a, b, c]);
                let [a, b, c] = coefficients.each_ref().map(|v| &v[..w]);
                kernel::affine2(Order::Streams, xs, gs, f, tile_rows, &mut dx, a, b, c);
            }
        });
    }

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
        let params = [&self.gamma[rows.clone()], &self.beta[rows.clone()]];
        let stats = [&running.mean[rows.clone()], &running.variance[rows]];
        let eps = f64::from(self.eps);
        kernel::coefficients(params, stats, running.divisor, eps, [scale, shift]);
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

    /// Inference forward: [`BatchNorm::inference_affine`] then [`Affine::apply`], each split
    /// over the threads. Each sample's output depends on that sample alone, bit for bit
    /// (BN-INF-TRANSFORM).
    pub fn forward_inference(
        &self,
        running: &RunningStats,
        x: &DMatrix<f32>,
        y: &mut DMatrix<f32>,
    ) -> Result<()> {
        let split = Split::new(self.threads);
        let affine = self.inference_affine_split(running, x.ncols(), split)?;
        check_affine_shapes(self.features(), x, Some(y))?;
        let f = self.features();
        affine_split(
            split,
            x.as_slice(),
            y.as_mut_slice(),
            f,
            0..f,
            &affine.scale,
            &affine.shift,
        );
        Ok(())
    }

    /// Inference in place, x ← BN(x): [`BatchNorm::inference_affine`] then
    /// [`Affine::apply_in_place`]. The same bits as [`BatchNorm::forward_inference`].
    pub fn forward_inference_in_place(
        &self,
        running: &RunningStats,
        x: &mut DMatrix<f32>,
    ) -> Result<()> {
        let split = Split::new(self.threads);
        self.inference_affine_split(running, x.ncols(), split)?
            .apply_in_place_with_threads(x, self.threads)
    }

    /// [`BatchNorm::inference_affine`] with the features split over the threads, for a map
    /// over a batch of m.
    fn inference_affine_split(
        &self,
        running: &RunningStats,
        m: usize,
        split: Split,
    ) -> Result<Affine> {
        let stored = self.running_values(running)?;
        let f = self.features();
        let (mut scale, mut shift) = (vec![0.0f32; f], vec![0.0f32; f]);
        let pieces = split.features(&(0..f), m);
        let outputs = cut_pair(&mut scale, &mut shift, &pieces);
        let work: Vec<_> = pieces.iter().cloned().zip(outputs).collect();
        run_pieces(work, |(rows, (scale, shift))| {
            self.inference_coefficients(stored, rows, scale, shift);
        });
        Ok(Affine { scale, shift })
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
    // ANCHOR_END: affine_apply

    /// [`Affine::apply`] with the samples split over `threads` threads; the same bits.
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
            let (xs, ys) = (x.as_slice(), y.as_mut_slice());
            affine_split(
                Split::new(threads),
                xs,
                ys,
                f,
                0..f,
                &self.scale,
                &self.shift,
            );
        }
        Ok(())
    }

    /// x ← scale·x + shift per feature, in place: one read and one write per element, the
    /// same bits as [`Affine::apply`]. Errors: `x` not F × m.
    pub fn apply_in_place(&self, x: &mut DMatrix<f32>) -> Result<()> {
        self.apply_in_place_with_threads(x, Threads::ONE)
    }

    /// [`Affine::apply_in_place`] with the samples split over `threads` threads; the same
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
            let xs = x.as_mut_slice();
            affine_in_place_split(Split::new(threads), xs, f, &self.scale, &self.shift);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces cover their units in order, one per thread at most, whole multiples of the
    /// alignment but the last, none smaller than the minimum unless there is only one.
    #[test]
    fn split_ranges_cover_their_units_in_aligned_pieces() {
        for units in [0, 1, 63, 64, 65, 129, 4096, 65537] {
            for size in [1, 2, 256] {
                for threads in 1..=4 {
                    for min_piece in [1, 4096, MIN_PIECE] {
                        let split = Split {
                            threads: Threads::new(threads).unwrap(),
                            min_piece,
                        };
                        for align in [1, PIECE_ROWS] {
                            let p = split.ranges(units, size, align);
                            let what = format!("{units} × {size}, {threads} threads, {p:?}");
                            assert!(p.len() <= threads, "{what}");
                            let ends: Vec<usize> = p.iter().map(|r| r.end).collect();
                            let starts: Vec<usize> = p.iter().map(|r| r.start).collect();
                            assert_eq!(starts.first().copied().unwrap_or(0), 0, "{what}");
                            assert_eq!(ends.last().copied().unwrap_or(0), units, "{what}");
                            assert!(p.windows(2).all(|w| w[0].end == w[1].start), "{what}");
                            for r in &p[..p.len().saturating_sub(1)] {
                                assert_eq!(r.len() % align, 0, "{what}");
                            }
                            if p.len() > 1 {
                                assert!(p.iter().all(|r| r.len() * size >= min_piece), "{what}");
                            }
                        }
                    }
                }
            }
        }
        // Large enough to pay: the 1 Mi bench shape takes both threads; 64 × 64 does not.
        let two = Split::new(Threads::new(2).unwrap());
        assert_eq!(two.features(&(0..4096), 256), vec![0..2048, 2048..4096]);
        assert_eq!(two.columns(256, 4096), vec![0..128, 128..256]);
        assert_eq!(two.features(&(0..64), 64), vec![0..64]);
    }

    fn matrix(f: usize, m: usize, salt: usize) -> DMatrix<f32> {
        DMatrix::from_fn(f, m, |k, j| {
            let v = ((k * 37 + j * 53 + salt * 11) % 101) as f32 / 16.0;
            v + (k % 7) as f32 - 3.0
        })
    }

    /// Splits of every size (pieces down to one unit, more pieces than cores, uneven last
    /// pieces): every kernel gives the bits of one thread.
    #[test]
    fn every_split_gives_the_one_thread_bits() {
        // The last shape's batch makes tiles of 1024 rows, so the loop runs several tiles.
        let shapes = [
            (1, 2),
            (65, 3),
            (129, 5),
            (200, 2),
            (1041, 9),
            (2100, 4),
            (2211, 2048),
        ];
        for (f, m) in shapes {
            let bn = BatchNorm::with_affine(
                (0..f).map(|k| 0.5 + (k % 5) as f32 * 0.25).collect(),
                (0..f).map(|k| (k % 3) as f32 - 1.0).collect(),
                1e-5,
            )
            .unwrap();
            let (x, g) = (matrix(f, m, 1), matrix(f, m, 2));
            let run_with = |split: Split| {
                let mut stats = BatchStats {
                    mean: vec![0.0; f],
                    variance: vec![0.0; f],
                    batch: m,
                };
                let mut y = DMatrix::from_element(f, m, f32::NAN);
                bn.train_split(x.as_slice(), y.as_mut_slice(), m, split, &mut stats);
                let mut grads = ParamGradients {
                    gamma: vec![0.0; f],
                    beta: vec![0.0; f],
                };
                let mut dx = DMatrix::from_element(f, m, f32::NAN);
                let (xs, gs) = (x.as_slice(), g.as_slice());
                bn.backward_split(xs, gs, &stats, dx.as_mut_slice(), split, &mut grads);
                let mut running = RunningStats::cumulative(f);
                running.update(&stats).unwrap();
                let affine = bn.inference_affine_split(&running, m, split).unwrap();
                assert_eq!(affine, bn.inference_affine(&running).unwrap());
                let (a, b) = (&affine.scale, &affine.shift);
                let mut z = DMatrix::from_element(f, m, f32::NAN);
                affine_split(split, xs, z.as_mut_slice(), f, 0..f, a, b);
                let mut w = x.clone();
                affine_in_place_split(split, w.as_mut_slice(), f, a, b);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                (
                    [bits(y.as_slice()), bits(dx.as_slice()), bits(z.as_slice())],
                    [bits(w.as_slice()), bits(&grads.gamma), bits(&grads.beta)],
                    [bits64(&stats.mean), bits64(&stats.variance)],
                )
            };
            let one = run_with(Split::new(Threads::ONE));
            for threads in [2, 3, 7] {
                let split = Split {
                    threads: Threads::new(threads).unwrap(),
                    min_piece: 1,
                };
                assert!(
                    one == run_with(split),
                    "F = {f}, m = {m}, {threads} threads"
                );
            }
        }
    }
}
