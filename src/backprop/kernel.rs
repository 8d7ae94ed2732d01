//! The elementwise pieces of a training step: SIMD on slices of any length.
//!
//! Matrix products go through nalgebra (its `gemm`, which hands dynamic f32 matrices with
//! any strides to `matrixmultiply`); what is left around them — the bias gradient as a row
//! sum and the SGD update as an axpy — is here, one read and one write per element.

use nalgebra::{DMatrix, DMatrixView, Dyn};

use crate::simd::{F32s, LANES};

/// `y ← y + a·x` (the SGD update (17) with a = −α). Lengths must match; the caller checks.
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
    for (yv, xv) in yc.into_remainder().iter_mut().zip(xc.remainder()) {
        *yv = xv.mul_add(a, *yv);
    }
}

/// `out[j] = Σ_c m[j, c]`: the row sums of a column-major matrix, a column at a time (the
/// bias gradient (16) summed over the batch, 1ᵀΔ in EXT-BP-MATRIX's row-sample form).
pub(crate) fn row_sums(m: &DMatrix<f32>, out: &mut [f32]) {
    debug_assert_eq!(m.nrows(), out.len());
    out.fill(0.0);
    for column in m.as_slice().chunks_exact(m.nrows().max(1)) {
        axpy(1.0, column, out);
    }
}

/// nalgebra's `gemm` reaches `matrixmultiply` only when C and A have more than 5 rows and
/// columns. Below that, nalgebra 0.34's fallback (`axcpy_uninit`) walks a row-strided left
/// operand by its slice length instead of its row count and reads out of bounds (nalgebra
/// issue #1616, PR #1613).
const NALGEBRA_SMALL_DIM: usize = 5;

/// C ← Aᵀ·B (the forward product Z = Wᵀ·A). Large products: Aᵀ as a strided view into
/// `matrixmultiply`, no copy (nalgebra's `gemm_tr` is a dot-product loop). Small ones (a
/// layer of ≤ 5 units in or out): `gemm_tr`, one contiguous dot product per entry, which
/// avoids the fallback above and is several times faster than it there.
pub(crate) fn gemm_transposed_a(c: &mut DMatrix<f32>, a: &DMatrix<f32>, b: &DMatrix<f32>) {
    let large = [c.nrows(), c.ncols(), a.nrows(), a.ncols()]
        .iter()
        .all(|&d| d > NALGEBRA_SMALL_DIM);
    if large {
        c.gemm(1.0, &transposed(a), b, 0.0);
    } else {
        c.gemm_tr(1.0, a, b, 0.0);
    }
}

/// C ← A·Bᵀ (the weight gradient O_prev·δᵀ): Bᵀ as a strided right operand, which nalgebra
/// reads through stride-aware accessors at any size. When C has ≤ 5 rows (a tiny fan-in),
/// the fallback would run one axpy of that length per batch column; C = (B·Aᵀ)ᵀ runs axpys
/// of B's column length instead, which vectorise.
pub(crate) fn gemm_transposed_b(c: &mut DMatrix<f32>, a: &DMatrix<f32>, b: &DMatrix<f32>) {
    if c.nrows() > NALGEBRA_SMALL_DIM {
        c.gemm(1.0, a, &transposed(b), 0.0);
    } else {
        c.copy_from(&(b * a.transpose()).transpose());
    }
}

/// Mᵀ as a strided view, no copy.
fn transposed(m: &DMatrix<f32>) -> DMatrixView<'_, f32, Dyn, Dyn> {
    DMatrixView::from_slice_with_strides(m.as_slice(), m.ncols(), m.nrows(), m.nrows(), 1)
}
