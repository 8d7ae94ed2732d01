//! The SIMD loops of batch normalisation on a column-major features × batch buffer.
//!
//! **Layout.** `x[j·F + k]` is feature k of sample j: nalgebra's column-major storage of an
//! F × m matrix, one sample per column. A sample's features are contiguous, so a vector of
//! lanes holds consecutive *features* of one sample, and a per-feature statistic is a sum
//! *across* columns: the loops vectorise across features and walk the columns, adding
//! columns into per-feature accumulators. No transposition, no gather.
//!
//! **Rows and columns.** Every loop works on a range of rows (a tile of features, see
//! `layer::tile_rows`) of every column, four columns at a time: the per-row accumulators or
//! coefficients are loaded once for four columns, and the four columns are four sequential
//! streams through memory.
//!
//! **Precision.** Elementwise work is f32 (one fused multiply-add per element and output);
//! sums over the batch are accumulated in f64, whose 2⁻⁵³ rounding keeps them exact to f32
//! precision for any batch a layer sees. Statistics are shifted sums (see [`shifted_sums`]).
//!
//! **Tails.** A row range that is not a whole number of vectors ends in a padded vector that
//! goes through the same lane code (f32) or a scalar loop with the same operations (f64
//! sums), so an output never depends on its position in the batch or on the batch size.
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
    // The first column adds x − K = 0 exactly; it is kept so the columns go in fours.
    let mut quads = x.chunks_exact(4 * features);
    for quad in &mut quads {
        add_shifted(rows4(quad, features, &rows), shift, sum, sum_sq);
    }
    for column in quads.remainder().chunks_exact(features) {
        add_shifted([&column[rows.clone()]], shift, sum, sum_sq);
    }
}

/// Adds N columns' x − K and (x − K)² into the per-row sums.
#[inline(always)]
fn add_shifted<const N: usize>(
    columns: [&[f32]; N],
    shift: &[f64],
    sum: &mut [f64],
    sum_sq: &mut [f64],
) {
    let n = shift.len();
    let full = n - n % HALF;
    for i in 0..full / HALF {
        let r = i * HALF..(i + 1) * HALF;
        let k = load64(&shift[r.clone()]);
        let d = columns.map(|c| widen(&c[r.clone()]) - k);
        let s = load64(&sum[r.clone()]) + tree_sum(d);
        let q = load64(&sum_sq[r.clone()]) + tree_sum(d.map(|v| v * v));
        sum[r.clone()].copy_from_slice(&s.to_array());
        sum_sq[r].copy_from_slice(&q.to_array());
    }
    for r in full..n {
        for c in &columns {
            let d = f64::from(c[r]) - shift[r];
            sum[r] += d;
            sum_sq[r] = d.mul_add(d, sum_sq[r]);
        }
    }
}

/// (μ_B, σ_B²) of one feature from its shifted sums over m samples. The variance is clamped
/// at 0 (rounding can leave −1 ulp when every sample is equal); a NaN stays NaN.
pub(super) fn finish(shift: f64, sum: f64, sum_sq: f64, m: usize) -> (f64, f64) {
    let m = m as f64;
    let d = sum / m;
    let var = sum_sq / m - d * d;
    (shift + d, if var < 0.0 { 0.0 } else { var })
}
// ANCHOR_END: shifted_sums

/// `y = x·a + b` (one FMA per element) on the rows `rows` of every column, with `a` and `b`
/// indexed by row within the range.
pub(super) fn affine(
    x: &[f32],
    y: &mut [f32],
    features: usize,
    rows: Range<usize>,
    a: &[f32],
    b: &[f32],
) {
    let mut xq = x.chunks_exact(4 * features);
    let mut yq = y.chunks_exact_mut(4 * features);
    for (xs, ys) in (&mut xq).zip(&mut yq) {
        affine_columns(
            rows4(xs, features, &rows),
            rows4_mut(ys, features, &rows),
            a,
            b,
        );
    }
    let rest = xq.remainder().chunks_exact(features);
    for (xc, yc) in rest.zip(yq.into_remainder().chunks_exact_mut(features)) {
        affine_columns([&xc[rows.clone()]], [&mut yc[rows.clone()]], a, b);
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
    x: &mut [f32],
    features: usize,
    rows: Range<usize>,
    a: &[f32],
    b: &[f32],
) {
    let mut quads = x.chunks_exact_mut(4 * features);
    for quad in &mut quads {
        affine_in_place_columns(rows4_mut(quad, features, &rows), a, b);
    }
    for column in quads.into_remainder().chunks_exact_mut(features) {
        affine_in_place_columns([&mut column[rows.clone()]], a, b);
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
    let (mut xq, mut gq) = (x.chunks_exact(4 * features), g.chunks_exact(4 * features));
    for (xs, gs) in (&mut xq).zip(&mut gq) {
        let (xr, gr) = (rows4(xs, features, &rows), rows4(gs, features, &rows));
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
    for r in full..n {
        for (xc, gc) in x.iter().zip(&g) {
            let gv = f64::from(gc[r]);
            sum_g[r] += gv;
            sum_g_x_hat[r] = gv.mul_add((f64::from(xc[r]) - mean[r]) * inv[r], sum_g_x_hat[r]);
        }
    }
}

/// `out = g·a + (x·b + c)` (two FMAs per element) on the rows `rows` of every column: the
/// backward pass's ∂ℓ/∂x as an affine map of (g, x) per feature.
#[allow(clippy::too_many_arguments)]
pub(super) fn affine2(
    x: &[f32],
    g: &[f32],
    out: &mut [f32],
    features: usize,
    rows: Range<usize>,
    a: &[f32],
    b: &[f32],
    c: &[f32],
) {
    let (mut xq, mut gq) = (x.chunks_exact(4 * features), g.chunks_exact(4 * features));
    let mut oq = out.chunks_exact_mut(4 * features);
    for ((xs, gs), os) in (&mut xq).zip(&mut gq).zip(&mut oq) {
        let (xr, gr) = (rows4(xs, features, &rows), rows4(gs, features, &rows));
        affine2_columns(xr, gr, rows4_mut(os, features, &rows), [a, b, c]);
    }
    let rest = xq
        .remainder()
        .chunks_exact(features)
        .zip(gq.remainder().chunks_exact(features));
    for ((xc, gc), oc) in rest.zip(oq.into_remainder().chunks_exact_mut(features)) {
        let (xr, gr) = ([&xc[rows.clone()]], [&gc[rows.clone()]]);
        affine2_columns(xr, gr, [&mut oc[rows.clone()]], [a, b, c]);
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

/// v₀ + v₁ + … for the one or four columns of a step, four summed pairwise so the
/// additions do not form one dependent chain.
#[inline(always)]
fn tree_sum<const N: usize>(v: [F64s; N]) -> F64s {
    match v.as_slice() {
        [a] => *a,
        [a, b, c, d] => (*a + *b) + (*c + *d),
        _ => v.iter().fold(F64s::ZERO, |s, &x| s + x),
    }
}

/// The rows `rows` of the four columns in `quad` (4·F values).
#[inline(always)]
fn rows4<'a>(quad: &'a [f32], features: usize, rows: &Range<usize>) -> [&'a [f32]; 4] {
    std::array::from_fn(|c| &quad[c * features + rows.start..c * features + rows.end])
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
