//! The pieces of a training step: matrix products through faer, SIMD elementwise loops, and
//! the split of both over the threads the caller chose.
//!
//! **Products.** faer's GEMM (`faer::linalg::matmul::matmul`) runs on nalgebra's column-major
//! storage through faer views of the same slices — Mᵀ is the view's `transpose()`, a stride
//! swap — so nothing is copied. faer was chosen by measurement against nalgebra's
//! `matrixmultiply` and the `gemm` crate on the 784-1024-1024-10 × 256 step's products (the
//! fastest on one core of the three, and a safe API where `gemm` takes raw pointers);
//! `benches/backprop.rs` keeps faer and `matrixmultiply` side by side on those products. It
//! is correct at every size, so the small-dimension detour
//! nalgebra 0.34 needed (its fallback below 6 rows or columns read out of bounds on a
//! row-strided operand) is gone.
//!
//! **Threads.** [`Threads`] is the caller's choice. With one, everything runs on the calling
//! thread; with more, faer splits each product large enough to pay (M·N·K ≥ 16 Ki in faer
//! 0.24) over rayon's pool, and the elementwise loops split their data into contiguous pieces.
//! The elementwise results and row sums are computed by the same operations in whichever
//! piece holds them; faer 0.24.4 (pinned) computes an entry's sum over k the same way in
//! whichever thread's block holds it. So the thread-agreement bound is zero:
//! `tests/backprop/network.rs` holds two and three threads to one thread bit for bit, on
//! shapes above and below faer's threshold, and would catch an upgrade that split the sums.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef};
use nalgebra::DMatrix;

use crate::error::Result;
use crate::simd::{F32s, LANES};
pub use crate::threads::Threads;

/// `y ← y + a·x` (the SGD update (17) with a = −α), split over `threads`. Lengths must match;
/// the caller checks.
pub(crate) fn axpy_split(a: f32, x: &[f32], y: &mut [f32], threads: Threads) {
    debug_assert_eq!(x.len(), y.len());
    let done = threads.split(y, LANES, |start, piece| {
        let from = start * LANES;
        axpy(a, &x[from..from + piece.len()], piece);
        Ok(())
    });
    debug_assert!(done.is_ok(), "the closure returns Ok");
}

/// `y ← y + a·x`, one fused multiply-add per element. Lengths must match; the caller checks.
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    let av = F32s::splat(a);
    let mut yc = y.chunks_exact_mut(LANES);
    let mut xc = x.chunks_exact(LANES);
    for (yv, xv) in (&mut yc).zip(&mut xc) {
        let r = F32s::from(<[f32; LANES]>::try_from(xv).expect("exact chunk")).mul_add(
            av,
            F32s::from(<[f32; LANES]>::try_from(&*yv).expect("exact chunk")),
        );
        yv.copy_from_slice(&r.to_array());
    }
    // The tail as a padded vector: the same lane operation as the rest (a scalar `mul_add`
    // would fuse where a lane without hardware FMA rounds twice).
    let (yt, xt) = (yc.into_remainder(), xc.remainder());
    if !yt.is_empty() {
        let (mut xp, mut yp) = ([0.0f32; LANES], [0.0f32; LANES]);
        xp[..xt.len()].copy_from_slice(xt);
        yp[..yt.len()].copy_from_slice(yt);
        let r = F32s::from(xp).mul_add(av, F32s::from(yp));
        let n = yt.len();
        yt.copy_from_slice(&r.to_array()[..n]);
    }
}

/// `out[j] = Σ_c m[j, c]`: the row sums of a column-major matrix, a column at a time (the
/// bias gradient (16) summed over the batch, 1ᵀΔ in EXT-BP-MATRIX's row-sample form). With
/// more threads each takes a range of rows through all columns, so every sum adds the same
/// terms in the same order. Plain elementwise f32 additions: the compiler's vectors give the
/// bits of the scalar column-order loop on any target, with no padded tail per column (which
/// cost more than the sum on a small network's one-row output layer).
pub(crate) fn row_sums(m: &DMatrix<f32>, out: &mut [f32], threads: Threads) {
    debug_assert_eq!(m.nrows(), out.len());
    let rows = m.nrows().max(1);
    let done = threads.split(out, LANES, |start, piece| {
        piece.fill(0.0);
        let from = start * LANES;
        for column in m.as_slice().chunks_exact(rows) {
            let column = &column[from..from + piece.len()];
            piece.iter_mut().zip(column).for_each(|(s, &v)| *s += v);
        }
        Ok(())
    });
    debug_assert!(done.is_ok(), "the closure returns Ok");
}

/// Runs `f(first column, columns)` on pieces of whole columns of `m`, split over `threads`;
/// the first error any piece returns.
pub(crate) fn split_columns(
    m: &mut DMatrix<f32>,
    threads: Threads,
    f: impl Fn(usize, &mut [f32]) -> Result<()> + Sync,
) -> Result<()> {
    let rows = m.nrows();
    threads.split(m.as_mut_slice(), rows, f)
}

/// C ← Aᵀ·B (the forward product Z = Wᵀ·A).
pub(crate) fn gemm_transposed_a(
    c: &mut DMatrix<f32>,
    a: &DMatrix<f32>,
    b: &DMatrix<f32>,
    threads: Threads,
) {
    product(c, view(a).transpose(), view(b), threads);
}

/// C ← A·Bᵀ (the weight gradient O_prev·δᵀ).
pub(crate) fn gemm_transposed_b(
    c: &mut DMatrix<f32>,
    a: &DMatrix<f32>,
    b: &DMatrix<f32>,
    threads: Threads,
) {
    product(c, view(a), view(b).transpose(), threads);
}

/// C ← A·B (the gradient handed down, W·δ).
pub(crate) fn gemm(c: &mut DMatrix<f32>, a: &DMatrix<f32>, b: &DMatrix<f32>, threads: Threads) {
    product(c, view(a), view(b), threads);
}

/// C ← A·B on views; the shapes must agree (the callers' workspaces guarantee it).
fn product(c: &mut DMatrix<f32>, a: MatRef<'_, f32>, b: MatRef<'_, f32>, threads: Threads) {
    debug_assert_eq!((c.nrows(), c.ncols()), (a.nrows(), b.ncols()));
    debug_assert_eq!(a.ncols(), b.nrows());
    let (rows, cols) = c.shape();
    let c = MatMut::from_column_major_slice_mut(c.as_mut_slice(), rows, cols);
    matmul(c, Accum::Replace, a, b, 1.0, threads.par());
}

/// A faer view of nalgebra's column-major storage, no copy.
fn view(m: &DMatrix<f32>) -> MatRef<'_, f32> {
    MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::LaneFma;

    /// Each kernel against a scalar f64 loop, on shapes with widths one off a lane multiple,
    /// one row, and odd sizes, on one and on three threads (more pieces than the machine's
    /// cores, so uneven splits are exercised).
    #[test]
    fn products_and_row_sums_match_the_f64_oracle_on_odd_shapes() {
        let shapes = [
            (1, 1, 1),
            (1, 7, 2),
            (LANES - 1, 3, 2),
            (LANES + 1, 5, LANES + 1),
            (2 * LANES - 1, 2, 9),
            (37, 33, 2),
        ];
        for threads in [Threads::ONE, Threads::new(3).unwrap()] {
            for (m, k, n) in shapes {
                let a = DMatrix::from_fn(m, k, |i, j| ((i * 7 + j * 3) % 11) as f32 - 5.0);
                let b = DMatrix::from_fn(k, n, |i, j| ((i * 5 + j * 2) % 13) as f32 * 0.25);
                // Small integers and quarters: every product and sum is exact in f32, so
                // the oracle's f64 value is the only correct answer.
                let want = |i: usize, j: usize| -> f64 {
                    (0..k)
                        .map(|t| f64::from(a[(i, t)]) * f64::from(b[(t, j)]))
                        .sum()
                };
                let mut c = DMatrix::from_element(m, n, f32::NAN);
                gemm(&mut c, &a, &b, threads);
                let at = a.transpose();
                let mut c2 = DMatrix::from_element(m, n, f32::NAN);
                gemm_transposed_a(&mut c2, &at, &b, threads);
                let bt = b.transpose();
                let mut c3 = DMatrix::from_element(m, n, f32::NAN);
                gemm_transposed_b(&mut c3, &a, &bt, threads);
                for i in 0..m {
                    for j in 0..n {
                        for got in [c[(i, j)], c2[(i, j)], c3[(i, j)]] {
                            assert_eq!(f64::from(got), want(i, j), "{m}x{k}x{n} ({i},{j})");
                        }
                    }
                }
                let mut sums = vec![f32::NAN; m];
                row_sums(&c, &mut sums, threads);
                for (i, s) in sums.iter().enumerate() {
                    let w: f64 = (0..n).map(|j| want(i, j)).sum();
                    assert_eq!(f64::from(*s), w, "row sum {i} of {m}x{n}");
                }
            }
        }
    }

    /// Row sums in f32 that round (the oracle test above keeps every sum exact): the bits
    /// of the scalar loop adding the columns in order, at widths one off a lane multiple and
    /// on one, two and three threads.
    #[test]
    fn row_sums_add_the_columns_in_order() {
        for (rows, columns) in [(1, 9), (LANES - 1, 7), (LANES + 1, 33), (3 * LANES + 5, 2)] {
            let m = DMatrix::from_fn(rows, columns, |i, j| {
                (i as f32 + 1.0) * 0.1 + (j as f32).powi(3) * 1e-3 - 0.77
            });
            let want: Vec<f32> = (0..rows)
                .map(|i| (0..columns).fold(0.0f32, |s, j| s + m[(i, j)]))
                .collect();
            for t in [1, 2, 3] {
                let mut got = vec![f32::NAN; rows];
                row_sums(&m, &mut got, Threads::new(t).unwrap());
                for i in 0..rows {
                    let case = format!("{rows}x{columns} threads {t} row {i}");
                    assert_eq!(got[i].to_bits(), want[i].to_bits(), "{case}");
                }
            }
        }
    }

    #[test]
    fn axpy_split_matches_the_scalar_loop_at_any_length_and_split() {
        for n in [0, 1, LANES - 1, LANES + 1, 3 * LANES + 5] {
            let x: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - 1.0).collect();
            let y0: Vec<f32> = (0..n).map(|i| 2.0 - i as f32 * 0.11).collect();
            for t in [1, 2, 3, 7] {
                let mut y = y0.clone();
                axpy_split(-0.3, &x, &mut y, Threads::new(t).unwrap());
                for i in 0..n {
                    let want = x[i].lane_fma(-0.3, y0[i]);
                    assert_eq!(y[i].to_bits(), want.to_bits(), "n {n} threads {t} i {i}");
                }
            }
        }
    }
}
