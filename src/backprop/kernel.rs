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

/// C ← Aᵀ·B (the forward product Z = Wᵀ·A), without copying Aᵀ when the product is large.
///
/// nalgebra's `gemm_tr` is a dot-product loop, while `gemm` hands dynamic f32 matrices with
/// any strides to `matrixmultiply` — but only when C and A both have more than
/// `SMALL_DIM = 5` rows and columns. Below that, nalgebra 0.34's fallback (`axcpy_uninit`)
/// walks a row-strided left operand by its slice length instead of its row count and reads
/// out of bounds (nalgebra issue #1616, PR #1613). So a strided view of Aᵀ is used only where `matrixmultiply` takes the
/// product, and small products transpose into a (small) temporary instead.
pub(crate) fn gemm_transposed_a(c: &mut DMatrix<f32>, a: &DMatrix<f32>, b: &DMatrix<f32>) {
    const NALGEBRA_SMALL_DIM: usize = 5;
    let large = [c.nrows(), c.ncols(), a.nrows(), a.ncols()]
        .iter()
        .all(|&d| d > NALGEBRA_SMALL_DIM);
    if large {
        c.gemm(1.0, &transposed(a), b, 0.0);
    } else {
        c.gemm(1.0, &a.transpose(), b, 0.0);
    }
}

/// Mᵀ as a strided view (no copy). As a *right* operand of `gemm` it is safe at any size
/// (nalgebra reads it through `vget_unchecked`, which honours strides); as a left operand
/// use [`gemm_transposed_a`].
fn transposed(m: &DMatrix<f32>) -> DMatrixView<'_, f32, Dyn, Dyn> {
    DMatrixView::from_slice_with_strides(m.as_slice(), m.ncols(), m.nrows(), m.nrows(), 1)
}

/// C ← A·Bᵀ (the weight gradient O_{i−1}·δᵀ): Bᵀ as a strided right operand, no copy.
pub(crate) fn gemm_transposed_b(c: &mut DMatrix<f32>, a: &DMatrix<f32>, b: &DMatrix<f32>) {
    c.gemm(1.0, a, &transposed(b), 0.0);
}
