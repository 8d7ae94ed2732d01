//! Per-vector mathematics for the activation kernels: one exponential, and σ and tanh built
//! on it. Every lane computes exactly the same sequence of operations (no branches), so the
//! kernels give the same bits whatever the slice length or the lane a value lands in.
//!
//! # The exponential
//!
//! Write u = n·ln 2 + r with n = round(u / ln 2), so |r| ≤ ln(2)/2 ≈ 0.347. Then
//! e^u = 2^n · e^r, where 2^n is exact (built from exponent bits) and e^r − 1 is a polynomial
//! in r. Keeping e^r − 1 rather than e^r gives e^u − 1 without cancellation near u = 0 (the
//! small-input end of tanh): e^u − 1 = 2^n·(e^r − 1) + (2^n − 1), one fused multiply-add.
//!
//! # Accuracy
//!
//! Measured, not hoped: [`super::accuracy`] compares every f32 where the result varies
//! (exhaustively) against the f64 specification in `derivations`, and the committed bounds
//! live there: tanh within 2.5 ulp (measured 2.42), σ within 2.5 ulp where σ is a normal f32
//! (measured 2.44) and within 2^-126 absolute below. The coefficients come from a fit
//! described at [`C1`]; the reduction and the reconstruction are exact, so what remains is
//! f32 rounding, a handful of operations each.

use crate::simd::F32s;

/// 1.5·2^23. Adding it to |y| < 2^22 rounds y to an integer n (round to nearest even, the
/// default rounding), which then sits in the low bits of the sum's significand.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// ln 2 = LN2_HI + LN2_LO (Cody and Waite). LN2_HI has only 16 significant bits, so n·LN2_HI
/// is exact for |n| < 2^8 and u − n·LN2_HI is exact as well: the reduction loses nothing
/// even without a fused multiply-add (the SSE fallback). LN2_LO is the f32 nearest to
/// ln 2 − LN2_HI; the reduced r carries one rounding.
const LN2_HI: f32 = 0.693_145_75; // 0x1.62e4p-1 exactly
const LN2_LO: f32 = 1.428_606_8e-6; // 0x1.7f7d1cp-20

/// e^r − 1 ≈ r + r²/2 + r³·(C1 + C2·r + C3·r² + C4·r³ + C5·r⁴) for |r| ≤ ln(2)/2.
///
/// How they were produced: minimax of the *relative* error of e^r − 1 on
/// |r| ≤ 1.0005·ln(2)/2, by Lawson's iteratively reweighted least squares at 600 Chebyshev
/// nodes in 40-digit arithmetic (Python mpmath), fixing the r and r²/2 terms; then each
/// coefficient in turn was rounded to f32 and the remaining ones refitted. The polynomial's
/// own relative error is 4.3e-10 (0.007 of 2^-24), negligible next to f32 rounding.
const C1: f32 = 0.166_666_66; // 0x1.555554p-3
const C2: f32 = 0.041_666_493; // 0x1.5554f8p-5
const C3: f32 = 0.008_333_545; // 0x1.1112d8p-7
const C4: f32 = 0.001_393_233_1; // 0x1.6d3a4ap-10
const C5: f32 = 0.000_197_625_72; // 0x1.9e738p-13

/// (2^n, e^r − 1) with e^u = 2^n·(1 + (e^r − 1)), for u in [−88, 88] (so |n| ≤ 127).
///
/// 2^n is assembled from exponent bits, (n + 127)·2^23; n = −127 gives exactly +0 (the
/// true 2^-127 is subnormal), which only happens where e^u is negligible next to 1. NaN
/// propagates through e^r − 1 (the 2^n of a NaN lane is meaningless, and anything times
/// NaN is NaN).
#[inline(always)]
fn exp_parts(u: F32s) -> (F32s, F32s) {
    let magic = F32s::splat(ROUND_MAGIC);
    let shifted = u.mul_add(F32s::splat(core::f32::consts::LOG2_E), magic);
    let n = shifted - magic;
    // u − n·ln 2 in two steps; the first is exact (see LN2_HI).
    let r = n.mul_neg_add(F32s::splat(LN2_HI), u);
    let r = n.mul_neg_add(F32s::splat(LN2_LO), r);
    // The low bits of `shifted` hold n in two's complement; shifting by 23 drops the
    // magic's own bits and leaves n·2^23, which added to the bits of 1.0 gives 2^n.
    let scale = F32s::from_bits((shifted.to_bits() << 23) + F32s::ONE.to_bits());
    let q = F32s::splat(C5).mul_add(r, F32s::splat(C4));
    let q = q.mul_add(r, F32s::splat(C3));
    let q = q.mul_add(r, F32s::splat(C2));
    let q = q.mul_add(r, F32s::splat(C1));
    let q = q.mul_add(r, F32s::splat(0.5));
    let expm1_r = q.mul_add(r * r, r);
    (scale, expm1_r)
}

/// Below this x, σ(x) < 6.1e-39 is subnormal and the kernel returns 0 (absolute error
/// under 2^-126; see `sigmoid`).
const SIGMOID_ZERO_BELOW: f32 = -88.0;

/// σ(v) = 1/(1 + e^{−v}) lane-wise, with a true division.
///
/// d = 1 + e^{−v} is formed as one fused multiply-add, 2^n·(e^r − 1) + (2^n + 1), where
/// 2^n + 1 is exact for |n| ≤ 23; so σ carries the exponential's error, one rounding of d
/// and one of the quotient. The exponent is clamped to [−88, 88] (e^{−88} makes d round to 1,
/// so σ = 1 for every v ≥ 88; e^{88} is finite), and v < −88 returns +0 explicitly:
/// there σ(v) ≤ 6.1e-39 < 2^-126, below the normal range. For v in [−88, −87.34) the
/// result is a correctly computed subnormal quotient. σ(+∞) = 1, σ(−∞) = 0, NaN → NaN.
#[inline(always)]
pub(crate) fn sigmoid(v: F32s) -> F32s {
    let u = (-v).fast_clamp(F32s::splat(-88.0), F32s::splat(88.0));
    let (scale, expm1_r) = exp_parts(u);
    let d = scale.mul_add(expm1_r, scale + F32s::ONE);
    let s = F32s::ONE / d;
    v.simd_lt(F32s::splat(SIGMOID_ZERO_BELOW))
        .select(F32s::ZERO, s)
}

/// tanh(v) lane-wise, as tanh|v| = m/(m + 2) with m = e^{2|v|} − 1, and the sign of v.
///
/// m comes from `exp_parts` without cancellation, so this one formula is accurate from
/// subnormal inputs (m/(m + 2) rounds to |v|) to saturation. |v| is clamped to 9.5, past
/// which tanh rounds to 1 in f32 (1 − tanh(9.5) ≈ 1.1e-8 < 2^-25). Exactly odd:
/// tanh(−v) = −tanh(v) bit for bit, tanh(−0) = −0, tanh(±∞) = ±1, NaN → NaN.
#[inline(always)]
pub(crate) fn tanh(v: F32s) -> F32s {
    let a = v.abs().fast_clamp(F32s::ZERO, F32s::splat(9.5));
    let (scale, expm1_r) = exp_parts(a + a);
    let m = scale.mul_add(expm1_r, scale - F32s::ONE);
    let t = m / (m + F32s::splat(2.0));
    t.copysign(v)
}
