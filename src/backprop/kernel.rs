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

/// Mᵀ as a strided view (no copy), so `gemm` can multiply by it: nalgebra's `gemm_tr`
/// is a dot-product loop, while `gemm` on any strides reaches `matrixmultiply`.
pub(crate) fn transposed(m: &DMatrix<f32>) -> DMatrixView<'_, f32, Dyn, Dyn> {
    DMatrixView::from_slice_with_strides(m.as_slice(), m.ncols(), m.nrows(), m.nrows(), 1)
}
