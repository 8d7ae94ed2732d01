//! The SIMD loops of batch normalisation on a column-major features × batch buffer.
//!
//! **Layout.** `x[j·F + k]` is feature k of sample j: nalgebra's column-major storage of an
//! F × m matrix, one sample per column. A sample's features are contiguous, so a vector of
//! lanes holds consecutive *features* of one sample, and a per-feature statistic is a sum
//! *across* columns: the loops vectorise across features and walk the columns, adding
//! columns into per-feature accumulators. No transposition, no gather.
//!
//! **Rows and columns.** Every loop works on a range of rows (a tile of features, see
//! `layer::tile_rows`) of every column. The maps write through [`Columns`]: a block of whole
//! columns ([`Flat`]), or the rows of every column a thread owns ([`ColumnsMut`]), so that two
//! threads can hold disjoint feature ranges.
//! - The sums take [`GROUP`] columns at a time: a vector of per-row accumulators is loaded
//!   once, takes the group's columns in registers, and is stored once, and the group's
//!   columns are that many sequential streams through memory. (With accumulators loaded and
//!   stored for every column, or for every four, the f64 sums were bound by those loads and
//!   stores: about half the speed.)
//! - The elementwise maps have two orders. Data that fit in cache go in blocks of
//!   [`ROW_BLOCK`] rows, one column at a time: a block's coefficients stay in L1 and each
//!   column is one stream. Data beyond the cache go four columns at a time, which keeps four
//!   long streams from memory and loads the coefficients once for four columns; in cache that
//!   order is slower (the four streams with stores in between, 4 KiB apart, make the core
//!   wait), from memory it is faster (the blocked order's short runs defeat the prefetchers).
//!   Measured by `benches/batch_norm.rs` at 1 Mi and 16 Mi elements.
//!
//! **Precision.** Elementwise work is f32 (one fused multiply-add per element and output);
//! sums over the batch are accumulated in f64, whose 2⁻⁵³ rounding keeps them exact to f32
//! precision for any batch a layer sees. Statistics are shifted sums (see [`shifted_sums`]).
//!
//! **Tails.** A row range that is not a whole number of vectors ends in a padded vector that
//! goes through the same lane code, so an output never depends on its position in the batch
//! or on the batch size, on any target: without hardware FMA, `wide`'s lane `mul_add` rounds
//! the product and the sum separately, where a scalar `f64::mul_add` would still fuse them.
//!
//! Callers check the shapes (`layer`); these loops assume them.

use std::ops::Range;

use crate::simd::{F32s, LANES};

/// f64 lanes: half an f32 vector's worth of elements, the same register width.
#[cfg(target_feature = "avx512f")]
type F64s = wide::f64x8;
#[cfg(not(target_feature = "avx512f"))]
type F64s = wide::f64x4;

/// f64 lanes per [`F64s`].
const HALF: usize = LANES / 2;

/// Columns a sum takes per load and store of its accumulators.
const GROUP: usize = 8;

/// Rows (features) per block of the in-cache order: the block's coefficients (at most three
/// f32 arrays of 4 KiB) stay in L1 while every column passes. Public so that the bench's
/// `copy/row-blocks` yardstick walks the same blocks.
pub const ROW_BLOCK: usize = 1024;

/// Above this many bytes of data read and written, an elementwise map takes the
/// from-memory order: half the 32 MiB L3 of the machines this was tuned on.
const IN_CACHE_BYTES: usize = 16 << 20;

/// The two orders of an elementwise map (module docs, "Rows and columns").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// Blocks of [`ROW_BLOCK`] rows, one column at a time: for data in cache.
    Blocked,
    /// Four columns at a time, whole row ranges: for data from memory.
    Streams,
}

/// The order for a map over `elements` f32 values of each of `buffers` buffers.
pub(super) fn order(elements: usize, buffers: usize) -> Order {
    if elements.saturating_mul(4 * buffers) <= IN_CACHE_BYTES {
        Order::Blocked
    } else {
        Order::Streams
    }
}

// ANCHOR: shifted_sums
/// Shifted sums of the rows `rows` over all columns of `x` (F = `features` rows), in f64:
/// with the shift K_k = x_{1,k} (the first sample), S_k = Σ_j (x_{j,k} − K_k) and
/// Q_k = Σ_j (x_{j,k} − K_k)². Then μ_B = K + S/m and σ_B² = Q/m − (S/m)² (see [`finish`]).
///
/// Why shifted: the plain one-pass E[x²] − μ² cancels catastrophically when |μ| ≫ σ. After
/// the shift the data are centred within the batch's own spread (|K − μ_B|² ≤ (m − 1)·σ_B²),
/// so Q/m and (S/m)² are at most about m·σ_B² and the f64 cancellation loses at most a
/// factor ~2m of 2⁻⁵³: one read of the data, two-pass accuracy.
pub(super) fn shifted_sums(
    x: &[f32],
    features: usize,
    rows: Range<usize>,
    shift: &mut [f64],
    sum: &mut [f64],
    sum_sq: &mut [f64],
) {
    for (k, &v) in shift.iter_mut().zip(&x[rows.clone()]) {
        *k = f64::from(v);
    }
    sum.fill(0.0);
    sum_sq.fill(0.0);
    // The first column adds x − K = 0 exactly; it is kept so the columns go in groups.
    let mut groups = x.chunks_exact(GROUP * features);
    for group in &mut groups {
        add_shifted(
            &columns::<GROUP>(group, features, &rows),
            shift,
            sum,
            sum_sq,
        );
    }
    for column in groups.remainder().chunks_exact(features) {
        add_shifted(&[&column[rows.clone()]], shift, sum, sum_sq);
    }
}

/// Adds N columns' x − K and (x − K)² into the per-row sums, column after column.
#[inline(always)]
fn add_shifted<const N: usize>(
    columns: &[&[f32]; N],
    shift: &[f64],
    sum: &mut [f64],
    sum_sq: &mut [f64],
) {
    let n = shift.len();
    let full = n - n % HALF;
    for i in (0..full).step_by(HALF) {
        let r = i..i + HALF;
        let k = load64(&shift[r.clone()]);
        let (mut s, mut q) = (load64(&sum[r.clone()]), load64(&sum_sq[r.clone()]));
        for c in columns {
            let d = widen(&c[r.clone()]) - k;
            s += d;
            q = d.mul_add(d, q);
        }
        sum[r.clone()].copy_from_slice(&s.to_array());
        sum_sq[r].copy_from_slice(&q.to_array());
    }
    if full < n {
        let r = full..n;
        let k = pad64(&shift[r.clone()]);
        let (mut s, mut q) = (pad64(&sum[r.clone()]), pad64(&sum_sq[r.clone()]));
        for c in columns {
            let d = widen_pad(&c[r.clone()]) - k;
            s += d;
            q = d.mul_add(d, q);
        }
        sum[r.clone()].copy_from_slice(&s.to_array()[..n - full]);
        sum_sq[r].copy_from_slice(&q.to_array()[..n - full]);
    }
}

/// (μ_B, σ_B²) of each feature from its shifted sums over m samples: μ_B = K + S/m and
/// σ_B² = Q/m − (S/m)², clamped at 0 (rounding can leave −1 ulp when every sample is equal;
/// a NaN stays NaN). In f64 lanes, [`HALF`] features at a time (for the two divisions), with
/// the same IEEE operations as one feature at a time, so the same bits.
pub(super) fn finish(
    [shift, sum, sum_sq]: [&[f64]; 3],
    m: usize,
    mean: &mut [f64],
    variance: &mut [f64],
) {
    let m = F64s::splat(m as f64);
    for r in lane_groups(shift.len()) {
        let d = lane64(&sum[r.clone()]) / m;
        let var = lane64(&sum_sq[r.clone()]) / m - d * d;
        let var = var.to_array().map(|v| if v < 0.0 { 0.0 } else { v });
        let mu = lane64(&shift[r.clone()]) + d;
        let n = r.len();
        mean[r.clone()].copy_from_slice(&mu.to_array()[..n]);
        variance[r].copy_from_slice(&var[..n]);
    }
}
// ANCHOR_END: shifted_sums

// ANCHOR: coefficients
/// The coefficients of the normalisation y = x·a + b of each feature: with μ = mean/t and
/// σ² = variance/t, a = γ/√(σ² + ε) and b = β − a·μ, computed in f64 and each rounded once
/// to f32. t = 1 for a batch's own statistics, the running statistics' divisor at inference.
///
/// In f64 lanes, [`HALF`] features at a time, with the same IEEE operations as one feature at
/// a time, so the same bits. The divisions and the square root are the cost: for 4096
/// features `BatchNorm::inference_affine` took 16.2 µs one feature at a time and 8.3 µs in
/// lanes (with its checks), against about 140 µs for the map over 4096 × 256 in cache.
pub(super) fn coefficients(
    [gamma, beta]: [&[f32]; 2],
    [mean, variance]: [&[f64]; 2],
    t: f64,
    eps: f64,
    [a, b]: [&mut [f32]; 2],
) {
    // v/1 = v exactly: a batch's own statistics skip two divisions per feature.
    let averaged = |v: F64s| if t == 1.0 { v } else { v / F64s::splat(t) };
    let eps = F64s::splat(eps);
    for r in lane_groups(gamma.len()) {
        let mu = averaged(lane64(&mean[r.clone()]));
        let var = averaged(lane64(&variance[r.clone()]));
        let scale = widen_lane(&gamma[r.clone()]) / (var + eps).sqrt();
        let shift = widen_lane(&beta[r.clone()]) - scale * mu;
        let n = r.len();
        a[r.clone()].copy_from_slice(&scale.to_array().map(|v| v as f32)[..n]);
        b[r].copy_from_slice(&shift.to_array().map(|v| v as f32)[..n]);
    }
}
// ANCHOR_END: coefficients

/// 1/√(σ² + ε) per feature, in f64 lanes (the same bits as one feature at a time).
pub(super) fn inverse_deviations(variance: &[f64], eps: f64, inv: &mut [f64]) {
    let eps = F64s::splat(eps);
    for r in lane_groups(variance.len()) {
        let n = r.len();
        let v = F64s::ONE / (lane64(&variance[r.clone()]) + eps).sqrt();
        inv[r].copy_from_slice(&v.to_array()[..n]);
    }
}

/// The backward pass's per-feature outputs from its sums Σg and Σg·x̂ over m samples: ∂ℓ/∂β
/// = Σg and ∂ℓ/∂γ = Σg·x̂, and the coefficients of dx = g·A + (x·B + C) (see
/// `BatchNorm::backward`): A = γ·inv, B = −A·c₂·inv, C = −A·c₁ + A·c₂·inv·μ with
/// c₁ = Σg/m, c₂ = Σg·x̂/m and inv = 1/√(σ² + ε), computed in f64 lanes and each rounded
/// once to f32 (the same bits as one feature at a time).
pub(super) fn backward_coefficients(
    gamma: &[f32],
    [mean, inv]: [&[f64]; 2],
    [sum_g, sum_g_x_hat]: [&[f64]; 2],
    m: usize,
    [d_gamma, d_beta]: [&mut [f32]; 2],
    [a, b, c]: [&mut [f32]; 3],
) {
    let m = F64s::splat(m as f64);
    let round = |v: F64s| v.to_array().map(|v| v as f32);
    for r in lane_groups(gamma.len()) {
        let (s, t) = (lane64(&sum_g[r.clone()]), lane64(&sum_g_x_hat[r.clone()]));
        let (mu, iv) = (lane64(&mean[r.clone()]), lane64(&inv[r.clone()]));
        let big_a = widen_lane(&gamma[r.clone()]) * iv;
        let (c1, c2) = (s / m, t / m);
        let big_b = -big_a * c2 * iv;
        let big_c = -big_a * c1 + big_a * c2 * iv * mu;
        let n = r.len();
        let outputs = [
            (&mut *d_beta, s),
            (&mut *d_gamma, t),
            (&mut *a, big_a),
            (&mut *b, big_b),
            (&mut *c, big_c),
        ];
        for (out, v) in outputs {
            out[r.clone()].copy_from_slice(&round(v)[..n]);
        }
    }
}

/// A group of at most [`HALF`] f64 values as lanes, a short group padded with zeros. (A full
/// group is one load: the padded copy, stored a value at a time and read as a vector, would
/// stall on the store forwarding.)
#[inline(always)]
fn lane64(v: &[f64]) -> F64s {
    if v.len() == HALF { load64(v) } else { pad64(v) }
}

/// [`lane64`] for f32 values, widened exactly to f64.
#[inline(always)]
fn widen_lane(v: &[f32]) -> F64s {
    if v.len() == HALF {
        widen(v)
    } else {
        widen_pad(v)
    }
}

/// The ranges of [`HALF`] features (the last may be shorter) that cover `n` features.
fn lane_groups(n: usize) -> impl Iterator<Item = Range<usize>> {
    (0..n)
        .step_by(HALF)
        .map(move |start| start..(start + HALF).min(n))
}

/// `y = x·a + b` (one FMA per element) on the rows `rows` of every column, with `a` and `b`
/// indexed by row within the range, in the given [`Order`] (from [`order`]).
pub(super) fn affine(
    order: Order,
    x: &[f32],
    features: usize,
    rows: Range<usize>,
    y: &mut impl Columns,
    a: &[f32],
    b: &[f32],
) {
    if order == Order::Blocked {
        for block in blocks(&rows) {
            let (a, b) = (&a[block.local.clone()], &b[block.local]);
            for (j, xc) in x.chunks_exact(features).enumerate() {
                let r = block.rows.clone();
                affine_columns([&xc[r.clone()]], [y.column(j, &r)], a, b);
            }
        }
        return;
    }
    for (j, xs) in x.chunks_exact(4 * features).enumerate() {
        affine_columns(
            columns::<4>(xs, features, &rows),
            y.quad(4 * j, &rows),
            a,
            b,
        );
    }
    for (j, xc) in x.chunks_exact(features).enumerate().skip(y.width() / 4 * 4) {
        affine_columns([&xc[rows.clone()]], [y.column(j, &rows)], a, b);
    }
}

#[inline(always)]
fn affine_columns<const N: usize>(x: [&[f32]; N], mut y: [&mut [f32]; N], a: &[f32], b: &[f32]) {
    let n = a.len();
    let full = n - n % LANES;
    for i in 0..full / LANES {
        let r = i * LANES..(i + 1) * LANES;
        let (av, bv) = (load(&a[r.clone()]), load(&b[r.clone()]));
        for (xc, yc) in x.iter().zip(y.iter_mut()) {
            yc[r.clone()].copy_from_slice(&load(&xc[r.clone()]).mul_add(av, bv).to_array());
        }
    }
    if full < n {
        let (av, bv) = (pad(&a[full..]), pad(&b[full..]));
        for (xc, yc) in x.iter().zip(y) {
            let v = pad(&xc[full..]).mul_add(av, bv);
            yc[full..].copy_from_slice(&v.to_array()[..n - full]);
        }
    }
}

/// `x = x·a + b` in place on the rows `rows` of every column: one read and one write per
/// element, and no read-for-ownership of a separate output.
pub(super) fn affine_in_place(
    order: Order,
    x: &mut impl Columns,
    rows: Range<usize>,
    a: &[f32],
    b: &[f32],
) {
    if order == Order::Blocked {
        for block in blocks(&rows) {
            let (a, b) = (&a[block.local.clone()], &b[block.local]);
            for j in 0..x.width() {
                affine_in_place_columns([x.column(j, &block.rows)], a, b);
            }
        }
        return;
    }
    for j in (0..x.width() / 4 * 4).step_by(4) {
        affine_in_place_columns(x.quad(j, &rows), a, b);
    }
    for j in x.width() / 4 * 4..x.width() {
        affine_in_place_columns([x.column(j, &rows)], a, b);
    }
}

#[inline(always)]
fn affine_in_place_columns<const N: usize>(mut x: [&mut [f32]; N], a: &[f32], b: &[f32]) {
    let n = a.len();
    let full = n - n % LANES;
    for i in 0..full / LANES {
        let r = i * LANES..(i + 1) * LANES;
        let (av, bv) = (load(&a[r.clone()]), load(&b[r.clone()]));
        for xc in x.iter_mut() {
            let v = load(&xc[r.clone()]).mul_add(av, bv);
            xc[r.clone()].copy_from_slice(&v.to_array());
        }
    }
    if full < n {
        let (av, bv) = (pad(&a[full..]), pad(&b[full..]));
        for xc in x {
            let v = pad(&xc[full..]).mul_add(av, bv);
            xc[full..].copy_from_slice(&v.to_array()[..n - full]);
        }
    }
}

/// Σ_j g_{j,k} and Σ_j g_{j,k}·x̂_{j,k} over all columns for the rows `rows`, in f64, with
/// x̂ = (x − μ)·inv computed in f64 from the per-row `mean` and `inv` = 1/√(σ_B² + ε).
#[allow(clippy::too_many_arguments)]
pub(super) fn gradient_sums(
    x: &[f32],
    g: &[f32],
    features: usize,
    rows: Range<usize>,
    mean: &[f64],
    inv: &[f64],
    sum_g: &mut [f64],
    sum_g_x_hat: &mut [f64],
) {
    sum_g.fill(0.0);
    sum_g_x_hat.fill(0.0);
    // Four columns of each of x and g: eight streams, as the statistics' one group (sixteen
    // streams ran at two thirds of the speed from memory, and at 0.83 in cache).
    let (mut xq, mut gq) = (x.chunks_exact(4 * features), g.chunks_exact(4 * features));
    for (xs, gs) in (&mut xq).zip(&mut gq) {
        let xr = columns::<4>(xs, features, &rows);
        let gr = columns::<4>(gs, features, &rows);
        add_gradient(xr, gr, mean, inv, sum_g, sum_g_x_hat);
    }
    let rest = xq.remainder().chunks_exact(features);
    for (xc, gc) in rest.zip(gq.remainder().chunks_exact(features)) {
        let (xr, gr) = ([&xc[rows.clone()]], [&gc[rows.clone()]]);
        add_gradient(xr, gr, mean, inv, sum_g, sum_g_x_hat);
    }
}

#[inline(always)]
fn add_gradient<const N: usize>(
    x: [&[f32]; N],
    g: [&[f32]; N],
    mean: &[f64],
    inv: &[f64],
    sum_g: &mut [f64],
    sum_g_x_hat: &mut [f64],
) {
    let n = mean.len();
    let full = n - n % HALF;
    for i in 0..full / HALF {
        let r = i * HALF..(i + 1) * HALF;
        let (mu, iv) = (load64(&mean[r.clone()]), load64(&inv[r.clone()]));
        let (mut s, mut t) = (load64(&sum_g[r.clone()]), load64(&sum_g_x_hat[r.clone()]));
        for (xc, gc) in x.iter().zip(&g) {
            let gv = widen(&gc[r.clone()]);
            s += gv;
            t = gv.mul_add((widen(&xc[r.clone()]) - mu) * iv, t);
        }
        sum_g[r.clone()].copy_from_slice(&s.to_array());
        sum_g_x_hat[r].copy_from_slice(&t.to_array());
    }
    if full < n {
        let r = full..n;
        let (mu, iv) = (pad64(&mean[r.clone()]), pad64(&inv[r.clone()]));
        let (mut s, mut t) = (pad64(&sum_g[r.clone()]), pad64(&sum_g_x_hat[r.clone()]));
        for (xc, gc) in x.iter().zip(&g) {
            let gv = widen_pad(&gc[r.clone()]);
            s += gv;
            t = gv.mul_add((widen_pad(&xc[r.clone()]) - mu) * iv, t);
        }
        sum_g[r.clone()].copy_from_slice(&s.to_array()[..n - full]);
        sum_g_x_hat[r].copy_from_slice(&t.to_array()[..n - full]);
    }
}

/// `out = g·a + (x·b + c)` (two FMAs per element) on the rows `rows` of every column: the
/// backward pass's ∂ℓ/∂x as an affine map of (g, x) per feature.
#[allow(clippy::too_many_arguments)]
pub(super) fn affine2(
    order: Order,
    x: &[f32],
    g: &[f32],
    features: usize,
    rows: Range<usize>,
    out: &mut impl Columns,
    a: &[f32],
    b: &[f32],
    c: &[f32],
) {
    let columns1 = x.chunks_exact(features).zip(g.chunks_exact(features));
    if order == Order::Blocked {
        for block in blocks(&rows) {
            let l = block.local;
            let coefficients = [&a[l.clone()], &b[l.clone()], &c[l]];
            for (j, (xc, gc)) in columns1.clone().enumerate() {
                let r = block.rows.clone();
                let (xr, gr) = ([&xc[r.clone()]], [&gc[r.clone()]]);
                affine2_columns(xr, gr, [out.column(j, &r)], coefficients);
            }
        }
        return;
    }
    let quads = x
        .chunks_exact(4 * features)
        .zip(g.chunks_exact(4 * features));
    for (j, (xs, gs)) in quads.enumerate() {
        let (xr, gr) = (
            columns::<4>(xs, features, &rows),
            columns::<4>(gs, features, &rows),
        );
        affine2_columns(xr, gr, out.quad(4 * j, &rows), [a, b, c]);
    }
    for (j, (xc, gc)) in columns1.enumerate().skip(out.width() / 4 * 4) {
        let (xr, gr) = ([&xc[rows.clone()]], [&gc[rows.clone()]]);
        affine2_columns(xr, gr, [out.column(j, &rows)], [a, b, c]);
    }
}

#[inline(always)]
fn affine2_columns<const N: usize>(
    x: [&[f32]; N],
    g: [&[f32]; N],
    mut out: [&mut [f32]; N],
    [a, b, c]: [&[f32]; 3],
) {
    let n = a.len();
    let full = n - n % LANES;
    for i in 0..full / LANES {
        let r = i * LANES..(i + 1) * LANES;
        let (av, bv, cv) = (
            load(&a[r.clone()]),
            load(&b[r.clone()]),
            load(&c[r.clone()]),
        );
        for ((xc, gc), oc) in x.iter().zip(&g).zip(out.iter_mut()) {
            let v = load(&gc[r.clone()]).mul_add(av, load(&xc[r.clone()]).mul_add(bv, cv));
            oc[r.clone()].copy_from_slice(&v.to_array());
        }
    }
    if full < n {
        let (av, bv, cv) = (pad(&a[full..]), pad(&b[full..]), pad(&c[full..]));
        for ((xc, gc), oc) in x.iter().zip(&g).zip(out) {
            let v = pad(&gc[full..]).mul_add(av, pad(&xc[full..]).mul_add(bv, cv));
            oc[full..].copy_from_slice(&v.to_array()[..n - full]);
        }
    }
}

/// One block of the in-cache order: its rows in the column, and the same rows counted
/// from the start of the range (where the coefficients are indexed).
struct Block {
    rows: Range<usize>,
    local: Range<usize>,
}

/// The range `rows` in blocks of [`ROW_BLOCK`] rows (a multiple of every lane width).
fn blocks(rows: &Range<usize>) -> impl Iterator<Item = Block> + use<> {
    let (start, end) = (rows.start, rows.end);
    (start..end).step_by(ROW_BLOCK).map(move |from| {
        let to = (from + ROW_BLOCK).min(end);
        Block {
            rows: from..to,
            local: from - start..to - start,
        }
    })
}

/// The rows `rows` of the N columns in `group` (N·F values).
#[inline(always)]
fn columns<'a, const N: usize>(
    group: &'a [f32],
    features: usize,
    rows: &Range<usize>,
) -> [&'a [f32]; N] {
    std::array::from_fn(|c| &group[c * features + rows.start..c * features + rows.end])
}

/// Where a map writes: rows of each of its columns, by column index.
pub(super) trait Columns {
    /// The number of columns.
    fn width(&self) -> usize;
    /// The rows `rows` of column j.
    fn column(&mut self, j: usize, rows: &Range<usize>) -> &mut [f32];
    /// The rows `rows` of columns j..j + 4.
    fn quad(&mut self, j: usize, rows: &Range<usize>) -> [&mut [f32]; 4];
}

/// A whole column-major buffer of F = `features` rows: a block of samples.
pub(super) struct Flat<'a> {
    pub data: &'a mut [f32],
    pub features: usize,
}

impl Columns for Flat<'_> {
    fn width(&self) -> usize {
        self.data.len() / self.features
    }

    #[inline(always)]
    fn column(&mut self, j: usize, rows: &Range<usize>) -> &mut [f32] {
        let at = j * self.features;
        &mut self.data[at + rows.start..at + rows.end]
    }

    #[inline(always)]
    fn quad(&mut self, j: usize, rows: &Range<usize>) -> [&mut [f32]; 4] {
        let f = self.features;
        rows4_mut(&mut self.data[j * f..(j + 4) * f], f, rows)
    }
}

/// Writable rows of every column of a column-major buffer: `columns[j]` holds rows
/// `first..first + n` of column j. Splitting it at a row hands two threads the two row
/// ranges of every column (a feature range is not contiguous in this layout, but each of its
/// columns is). On a whole buffer [`Flat`] is a few per cent faster (no list of slices).
pub(super) struct ColumnsMut<'a> {
    columns: Vec<&'a mut [f32]>,
    first: usize,
}

impl<'a> ColumnsMut<'a> {
    /// All rows of the columns of `data` (F = `features` > 0 rows each).
    pub(super) fn new(data: &'a mut [f32], features: usize) -> Self {
        Self {
            columns: data.chunks_exact_mut(features).collect(),
            first: 0,
        }
    }

    /// The rows before `at` and the rows from `at` on, of every column.
    pub(super) fn split_at(self, at: usize) -> (Self, Self) {
        let first = self.first;
        let (low, high) = self
            .columns
            .into_iter()
            .map(|c| c.split_at_mut(at - first))
            .unzip();
        let low = Self {
            columns: low,
            first,
        };
        (
            low,
            Self {
                columns: high,
                first: at,
            },
        )
    }
}

impl Columns for ColumnsMut<'_> {
    fn width(&self) -> usize {
        self.columns.len()
    }

    #[inline(always)]
    fn column(&mut self, j: usize, rows: &Range<usize>) -> &mut [f32] {
        &mut self.columns[j][rows.start - self.first..rows.end - self.first]
    }

    #[inline(always)]
    fn quad(&mut self, j: usize, rows: &Range<usize>) -> [&mut [f32]; 4] {
        let local = rows.start - self.first..rows.end - self.first;
        let [c0, c1, c2, c3] = &mut self.columns[j..j + 4] else {
            unreachable!("a range of four columns")
        };
        [c0, c1, c2, c3].map(|c| &mut c[local.clone()])
    }
}

/// The rows `rows` of the four columns in `quad`, mutable.
#[inline(always)]
fn rows4_mut<'a>(quad: &'a mut [f32], features: usize, rows: &Range<usize>) -> [&'a mut [f32]; 4] {
    let (c0, rest) = quad.split_at_mut(features);
    let (c1, rest) = rest.split_at_mut(features);
    let (c2, c3) = rest.split_at_mut(features);
    [c0, c1, c2, c3].map(|c| &mut c[rows.clone()])
}

/// HALF consecutive f32 values, widened exactly to f64.
#[inline(always)]
fn widen(v: &[f32]) -> F64s {
    let v: &[f32; HALF] = v.try_into().expect("HALF values");
    F64s::from(v.map(f64::from))
}

/// At most HALF f32 values, widened to f64 and padded with zeros.
#[inline(always)]
fn widen_pad(v: &[f32]) -> F64s {
    let mut p = [0.0f64; HALF];
    for (p, &v) in p.iter_mut().zip(v) {
        *p = f64::from(v);
    }
    F64s::from(p)
}

/// At most HALF f64 values, padded with zeros.
#[inline(always)]
fn pad64(v: &[f64]) -> F64s {
    let mut p = [0.0f64; HALF];
    p[..v.len()].copy_from_slice(v);
    F64s::from(p)
}

#[inline(always)]
fn load64(v: &[f64]) -> F64s {
    F64s::from(<[f64; HALF]>::try_from(v).expect("HALF values"))
}

#[inline(always)]
fn load(v: &[f32]) -> F32s {
    F32s::from(<[f32; LANES]>::try_from(v).expect("LANES values"))
}

/// The last, partial vector of a row range, padded with zeros.
#[inline(always)]
fn pad(v: &[f32]) -> F32s {
    let mut p = [0.0f32; LANES];
    p[..v.len()].copy_from_slice(v);
    F32s::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::LaneFma;

    /// Shapes for the maps: one feature, widths one off a lane multiple and off
    /// [`ROW_BLOCK`], batches of 1, 2, 3, 5 and 9 (remainders of the four-column order).
    fn shapes() -> Vec<(usize, usize)> {
        let features = [
            1,
            7,
            LANES - 1,
            LANES,
            LANES + 1,
            33,
            ROW_BLOCK + 1,
            2 * ROW_BLOCK + 17,
        ];
        let batches = [1, 2, 3, 5, 9];
        features
            .iter()
            .flat_map(|&f| batches.iter().map(move |&m| (f, m)))
            .collect()
    }

    /// The full range and one that starts and ends off a lane multiple.
    fn ranges(f: usize) -> Vec<Range<usize>> {
        let inner = (f > 4).then(|| 3..f - 1);
        std::iter::once(0..f).chain(inner).collect()
    }

    fn values(n: usize, salt: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 + salt * 11) % 97) as f32 / 16.0 - 3.0)
            .collect()
    }

    /// Each map, in both orders, against its scalar FMA loop, bit for bit, writing through
    /// the columns of a piece that starts at the range, and through the whole buffer; rows
    /// outside the range are left as they were.
    #[test]
    fn both_orders_equal_the_scalar_maps_on_odd_shapes() {
        for (f, m) in shapes() {
            for rows in ranges(f) {
                let w = rows.len();
                let (x, g) = (values(f * m, 1), values(f * m, 2));
                let (a, b, c) = (values(w, 3), values(w, 4), values(w, 5));
                let in_rows = |i: usize| rows.contains(&(i % f));
                let k = |i: usize| i % f - rows.start;
                for order in [Order::Blocked, Order::Streams] {
                    let what = format!("{order:?}, F = {f}, m = {m}, rows {rows:?}");
                    // The output as a thread's piece would hold it: the rows from the
                    // range's start on (all rows when it starts at 0).
                    let from = |data| ColumnsMut::new(data, f).split_at(rows.start).1;
                    let mut y = vec![9.0f32; f * m];
                    affine(order, &x, f, rows.clone(), &mut from(&mut y), &a, &b);
                    let mut z = x.clone();
                    affine_in_place(order, &mut from(&mut z), rows.clone(), &a, &b);
                    let mut d = vec![9.0f32; f * m];
                    affine2(
                        order,
                        &x,
                        &g,
                        f,
                        rows.clone(),
                        &mut from(&mut d),
                        &a,
                        &b,
                        &c,
                    );
                    // The same maps writing to the whole buffer.
                    let flat = |data| Flat { data, features: f };
                    let mut y2 = vec![9.0f32; f * m];
                    affine(order, &x, f, rows.clone(), &mut flat(&mut y2), &a, &b);
                    let mut z2 = x.clone();
                    affine_in_place(order, &mut flat(&mut z2), rows.clone(), &a, &b);
                    let mut d2 = vec![9.0f32; f * m];
                    let mut out = flat(&mut d2);
                    affine2(order, &x, &g, f, rows.clone(), &mut out, &a, &b, &c);
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert!(bits(&y) == bits(&y2), "Flat affine, {what}");
                    assert!(bits(&z) == bits(&z2), "Flat in place, {what}");
                    assert!(bits(&d) == bits(&d2), "Flat affine2, {what}");
                    for i in 0..f * m {
                        let (want_y, want_z, want_d) = if in_rows(i) {
                            let fma = x[i].lane_fma(a[k(i)], b[k(i)]);
                            let fma2 = g[i].lane_fma(a[k(i)], x[i].lane_fma(b[k(i)], c[k(i)]));
                            (fma, fma, fma2)
                        } else {
                            (9.0, x[i], 9.0)
                        };
                        assert_eq!(y[i].to_bits(), want_y.to_bits(), "affine {what}, i {i}");
                        assert_eq!(z[i].to_bits(), want_z.to_bits(), "in place {what}, i {i}");
                        assert_eq!(d[i].to_bits(), want_d.to_bits(), "affine2 {what}, i {i}");
                    }
                }
            }
        }
    }

    /// Equal bits, or both NaN. Where two NaNs meet (a NaN feature's −A·c₂·inv), which one
    /// comes out, and so its sign, depends on the order the compiler gives a product's
    /// operands, and Rust leaves a NaN's sign unspecified: on the baseline x86-64 target the
    /// lanes gave −NaN where the scalar formula gave +NaN.
    fn same(got: f64, want: f64) -> bool {
        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
    }

    /// The lanes of `finish`, `coefficients`, `inverse_deviations` and `backward_coefficients`
    /// against the scalar formulas, bit for bit ([`same`]), on every length up to three lane
    /// groups: values that cancel to a tiny negative variance (clamped to 0), a NaN (stays
    /// NaN), ε = 0 with a zero variance (a = ∞), and a divisor t.
    #[test]
    fn lanes_of_the_per_feature_formulas_equal_one_feature_at_a_time() {
        for n in 1..3 * HALF + 2 {
            let f = |i: usize, salt: usize| ((i * 37 + salt * 11) % 23) as f64 / 7.0 - 1.5;
            let shift: Vec<f64> = (0..n).map(|i| f(i, 1)).collect();
            let mut sum: Vec<f64> = (0..n).map(|i| f(i, 2)).collect();
            // Q/m a hair below (S/m)²: σ² rounds below 0 before the clamp.
            let mut sum_sq: Vec<f64> = sum.iter().map(|s| s * s / 4.0 * (1.0 - 1e-15)).collect();
            sum_sq[0] = 0.0;
            sum[0] = 0.0;
            sum[n - 1] = if n > 1 { f64::NAN } else { sum[n - 1] };
            let m = 4;
            let (mut mean, mut var) = (vec![0.0; n], vec![0.0; n]);
            let mut clamped = 0;
            finish([&shift, &sum, &sum_sq], m, &mut mean, &mut var);
            let gamma: Vec<f32> = (0..n).map(|i| 0.5 + f(i, 3) as f32).collect();
            let beta: Vec<f32> = (0..n).map(|i| f(i, 4) as f32).collect();
            for (t, eps) in [(1.0, 0.0), (3.0, 1e-5)] {
                let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
                coefficients([&gamma, &beta], [&mean, &var], t, eps, [&mut a, &mut b]);
                for k in 0..n {
                    let d = sum[k] / m as f64;
                    let v = sum_sq[k] / m as f64 - d * d;
                    clamped += usize::from(v < 0.0);
                    let want_var = if v < 0.0 { 0.0 } else { v };
                    let want_mean = shift[k] + d;
                    let what = format!("n {n}, feature {k}, t {t}");
                    assert!(same(mean[k], want_mean), "μ, {what}");
                    assert!(same(var[k], want_var), "σ², {what}");
                    let scale = f64::from(gamma[k]) / (want_var / t + eps).sqrt();
                    let shift = f64::from(beta[k]) - scale * (want_mean / t);
                    assert!(
                        same(a[k].into(), (scale as f32).into()),
                        "a: {} ≠ {scale}, {what}",
                        a[k]
                    );
                    assert!(same(b[k].into(), (shift as f32).into()), "b, {what}");
                }
            }
            let eps = 1e-5;
            let mut inv = vec![0.0; n];
            inverse_deviations(&var, eps, &mut inv);
            let (sum_g, sum_gx): (Vec<f64>, Vec<f64>) = (0..n).map(|i| (f(i, 5), f(i, 6))).unzip();
            let mut out = [
                vec![0.0f32; n],
                vec![0.0f32; n],
                vec![0.0f32; n],
                vec![0.0f32; n],
                vec![0.0f32; n],
            ];
            let [d_gamma, d_beta, a, b, c] = out.each_mut().map(|v| &mut v[..]);
            backward_coefficients(
                &gamma,
                [&mean, &inv],
                [&sum_g, &sum_gx],
                m,
                [d_gamma, d_beta],
                [a, b, c],
            );
            let [d_gamma, d_beta, a, b, c] = &out;
            for k in 0..n {
                let iv = 1.0 / (var[k] + eps).sqrt();
                let big_a = f64::from(gamma[k]) * iv;
                let (c1, c2) = (sum_g[k] / m as f64, sum_gx[k] / m as f64);
                let want = [
                    sum_gx[k],
                    sum_g[k],
                    big_a,
                    -big_a * c2 * iv,
                    -big_a * c1 + big_a * c2 * iv * mean[k],
                ];
                let got = [d_gamma[k], d_beta[k], a[k], b[k], c[k]];
                assert!(same(inv[k], iv), "inv, n {n}, feature {k}");
                for (name, (got, want)) in
                    ["∂γ", "∂β", "A", "B", "C"].iter().zip(got.iter().zip(want))
                {
                    let (got, want) = (f64::from(*got), f64::from(want as f32));
                    assert!(
                        same(got, want),
                        "{name}: {got} ≠ {want}, n {n}, feature {k}"
                    );
                }
            }
            // The cases the comment promises are there.
            assert!(
                n < 3 || (clamped > 0 && var[n - 1].is_nan()),
                "n {n}: {var:?}"
            );
        }
    }

    /// The sums against sequential f64 loops over the columns in order, bit for bit: the
    /// groups of columns and the remainder add in the same order.
    #[test]
    fn sums_equal_the_sequential_f64_loops() {
        for (f, m) in shapes() {
            for rows in ranges(f) {
                let w = rows.len();
                let (x, g) = (values(f * m, 6), values(f * m, 7));
                let (mut shift, mut sum, mut sum_sq) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
                shifted_sums(&x, f, rows.clone(), &mut shift, &mut sum, &mut sum_sq);
                let mean: Vec<f64> = (0..w).map(|r| 0.1 * r as f64).collect();
                let inv: Vec<f64> = (0..w).map(|r| 1.0 + 0.01 * r as f64).collect();
                let (mut sg, mut sgx) = (vec![0.0; w], vec![0.0; w]);
                gradient_sums(&x, &g, f, rows.clone(), &mean, &inv, &mut sg, &mut sgx);
                for (r, row) in rows.clone().enumerate() {
                    let column = |v: &[f32], j: usize| f64::from(v[j * f + row]);
                    let k = column(&x, 0);
                    let (mut s, mut q, mut t, mut u) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
                    for j in 0..m {
                        let d = column(&x, j) - k;
                        s += d;
                        q = d.lane_fma(d, q);
                        let gv = column(&g, j);
                        t += gv;
                        u = gv.lane_fma((column(&x, j) - mean[r]) * inv[r], u);
                    }
                    let what = format!("F = {f}, m = {m}, rows {rows:?}, row {row}");
                    assert_eq!(shift[r].to_bits(), k.to_bits(), "shift, {what}");
                    assert_eq!(sum[r].to_bits(), s.to_bits(), "Σ(x − K), {what}");
                    assert_eq!(sum_sq[r].to_bits(), q.to_bits(), "Σ(x − K)², {what}");
                    assert_eq!(sg[r].to_bits(), t.to_bits(), "Σg, {what}");
                    assert_eq!(sgx[r].to_bits(), u.to_bits(), "Σg·x̂, {what}");
                }
            }
        }
    }
}
