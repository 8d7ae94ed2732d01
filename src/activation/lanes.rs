//! Per-vector mathematics for the activation kernels.
//!
//! PROVISIONAL: these use `wide`'s lane functions; they are being replaced by our own
//! approximations with proven error bounds (see accuracy.rs).

use crate::simd::F32s;

/// σ(v) lane-wise.
#[inline(always)]
pub(crate) fn sigmoid(v: F32s) -> F32s {
    F32s::ONE / (F32s::ONE + (-v).exp())
}

/// tanh(v) lane-wise.
#[inline(always)]
pub(crate) fn tanh(v: F32s) -> F32s {
    let two = F32s::splat(2.0);
    let e = (two * v.abs()).exp();
    let t = F32s::ONE - two / (e + F32s::ONE);
    t.copysign(v)
}
