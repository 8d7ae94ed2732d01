//! The sampling kernels behind the initialisers: random bits to f32 weights in SIMD lanes.
//!
//! # Where the bits come from
//!
//! A fill draws `4·LANES` words from the caller's RNG (the injected, seedable one) and seeds
//! `LaneRng`: one xoshiro128++ generator per lane (Blackman and Vigna, "Scrambled linear
//! pseudorandom number generators", 2021), stepped with a dozen lane-wide integer operations
//! for `LANES` words at a time. The fill is therefore a deterministic function of the injected
//! RNG, and a fresh fill draws fresh seeds.
//!
//! Why not take every word from the injected RNG: ChaCha8, the generator the claims use,
//! produces about 6 GB/s here, 0.65 ns per 32-bit word, while a scalar
//! `rng.random_range(-a..a)` loop costs about 1.5 ns per weight. A kernel that consumed a
//! ChaCha word per weight could never be more than 2.3× faster than that loop
//! (`benches/xavier.rs` measures both). [`uniform_from_bits`] is that direct variant, for
//! callers who want every bit to come from their own generator.
//!
//! # From bits to floats
//!
//! The top 23 bits of a word become the mantissa of x ∈ [1, 2); then v = (2x − 3) + 2⁻²³ is
//! exact in f32 and takes the 2²³ values ±(2k + 1)·2⁻²³, k = 0..2²²−1: the midpoints of 2²³
//! equal cells of [−1, 1], a grid symmetric about 0 (mean exactly 0, variance
//! (1 − 4⁻²²)/3). A uniform weight is w = fl(a·v); since |v| < 1 and rounding is monotone,
//! |w| ≤ a always holds (XAV-23's support check relies on it).

use rand::{Rng, RngCore};

use crate::error::{Error, Result};
use crate::simd::{F32s, LANES};

/// The unsigned lanes matching [`F32s`] (`F32s::to_bits` returns this type, so a mismatch
/// would not compile).
#[cfg(target_feature = "avx512f")]
type U32s = wide::u32x16;
#[cfg(not(target_feature = "avx512f"))]
type U32s = wide::u32x8;

/// Half a grid step of [`symmetric_unit`]: 2⁻²³.
const HALF_STEP: f32 = 1.0 / 8_388_608.0;

/// 1.0f32's bit pattern: exponent 0, mantissa 0.
const ONE_BITS: u32 = 0x3f80_0000;

/// `LANES` independent xoshiro128++ generators, one per lane.
pub(crate) struct LaneRng {
    s: [U32s; 4],
}

impl LaneRng {
    /// Seeds every lane from `4·LANES` words of `rng`: word `k·LANES + lane` is state word
    /// `k` of that lane. An all-zero lane state (xoshiro's one fixed point; a stub RNG can
    /// produce it) is replaced by the state (1, 0, 0, 0).
    pub(crate) fn seed_from<R: RngCore + ?Sized>(rng: &mut R) -> Self {
        let mut words = [[0u32; LANES]; 4];
        for w in &mut words {
            rng.fill(&mut w[..]);
        }
        for lane in 0..LANES {
            if words.iter().all(|w| w[lane] == 0) {
                words[0][lane] = 1;
            }
        }
        Self {
            s: words.map(U32s::from),
        }
    }

    /// The next word of every lane: result = rotl(s₀ + s₃, 7) + s₀, then the state update
    /// t = s₁ ≪ 9; s₂ ^= s₀; s₃ ^= s₁; s₁ ^= s₂; s₀ ^= s₃; s₂ ^= t; s₃ = rotl(s₃, 11).
    #[inline(always)]
    pub(crate) fn next(&mut self) -> U32s {
        let [s0, s1, s2, s3] = self.s;
        let result = rotl(s0 + s3, 7) + s0;
        let t = s1 << 9;
        let s2 = s2 ^ s0;
        let s3 = s3 ^ s1;
        let s1 = s1 ^ s2;
        let s0 = s0 ^ s3;
        let s2 = s2 ^ t;
        let s3 = rotl(s3, 11);
        self.s = [s0, s1, s2, s3];
        result
    }
}

#[inline(always)]
fn rotl(x: U32s, k: u32) -> U32s {
    (x << k) | (x >> (32 - k))
}

/// v ∈ (−1, 1) from the top 23 bits of each lane: ±(2k + 1)·2⁻²³ (see the module docs).
#[inline(always)]
fn symmetric_unit(bits: U32s) -> F32s {
    let x = F32s::from_bits((bits >> 9) | U32s::splat(ONE_BITS));
    (x + x - F32s::splat(3.0)) + F32s::splat(HALF_STEP)
}

/// u ∈ (0, 1] from the top 23 bits: 2 − x for x ∈ [1, 2), exact; a multiple of 2⁻²³.
#[inline(always)]
fn open_unit(bits: U32s) -> F32s {
    F32s::splat(2.0) - F32s::from_bits((bits >> 9) | U32s::splat(ONE_BITS))
}

/// Two independent N(0, 1) vectors by the Box–Muller transform:
/// r = √(−2 ln u₁), θ = π·v, (r·cos θ, r·sin θ), with u₁ ∈ (0, 1] and v ∈ (−1, 1).
///
/// u₁ ≥ 2⁻²³ caps r at √(46 ln 2) ≈ 5.65: the normal's mass beyond ±5.65 is 1.6e-8, far
/// below what any test here resolves (it lowers the variance by about 1e-6 relative).
/// `wide`'s `ln` (1.2 ulp) and `sin_cos` keep each value within a few f32 ulps.
#[inline(always)]
fn normal_pair(lanes: &mut LaneRng) -> (F32s, F32s) {
    let u1 = open_unit(lanes.next());
    let v = symmetric_unit(lanes.next());
    let r = (F32s::splat(-2.0) * u1.ln()).sqrt();
    let (s, c) = (v * F32s::splat(core::f32::consts::PI)).sin_cos();
    (r * c, r * s)
}

/// `Ok` for a finite, non-negative scale.
fn check_scale(name: &'static str, value: f32) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::ParameterOutOfRange {
            name,
            value: f64::from(value),
            range: "[0, ∞), finite",
        })
    }
}

/// Writes `f()` into `out` a vector at a time; the last, partial vector is cut to fit.
#[inline(always)]
fn fill_lanes(out: &mut [f32], mut f: impl FnMut() -> F32s) {
    let mut chunks = out.chunks_exact_mut(LANES);
    for c in &mut chunks {
        c.copy_from_slice(&f().to_array());
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&f().to_array()[..n]);
    }
}

// ANCHOR: fill_uniform
/// Fills `out` with i.i.d. draws from U[−bound, bound] (on the symmetric 2²³-point grid of
/// the module docs, scaled by `bound`), the bits coming from lanes seeded by `rng`.
///
/// # Errors
/// [`Error::ParameterOutOfRange`] unless `bound` is finite and ≥ 0.
pub fn fill_uniform<R: RngCore + ?Sized>(out: &mut [f32], bound: f32, rng: &mut R) -> Result<()> {
    check_scale("uniform bound", bound)?;
    let mut lanes = LaneRng::seed_from(rng);
    let a = F32s::splat(bound);
    fill_lanes(out, || symmetric_unit(lanes.next()) * a);
    Ok(())
}
// ANCHOR_END: fill_uniform

/// `out[i] = bound·v(bits[i])`: the uniform mapping of [`fill_uniform`] applied to words the
/// caller supplies (every bit from the caller's generator, or a stub's known words).
///
/// # Errors
/// [`Error::LengthMismatch`] when the lengths differ; [`Error::ParameterOutOfRange`] unless
/// `bound` is finite and ≥ 0.
pub fn uniform_from_bits(bits: &[u32], bound: f32, out: &mut [f32]) -> Result<()> {
    crate::error::check_len("output", bits.len(), out.len())?;
    check_scale("uniform bound", bound)?;
    let a = F32s::splat(bound);
    let mut words = bits.chunks(LANES);
    fill_lanes(out, || {
        let mut w = [0u32; LANES];
        let c = words.next().expect("one chunk of bits per output vector");
        w[..c.len()].copy_from_slice(c);
        symmetric_unit(U32s::from(w)) * a
    });
    Ok(())
}

// ANCHOR: fill_normal
/// Fills `out` with i.i.d. N(0, std²) draws (Box–Muller in lanes; tails beyond 5.65σ are
/// cut, see `normal_pair`), the bits coming from lanes seeded by `rng`.
///
/// # Errors
/// [`Error::ParameterOutOfRange`] unless `std` is finite and ≥ 0.
pub fn fill_normal<R: RngCore + ?Sized>(out: &mut [f32], std: f32, rng: &mut R) -> Result<()> {
    check_scale("normal std", std)?;
    let mut lanes = LaneRng::seed_from(rng);
    let s = F32s::splat(std);
    let mut spare: Option<F32s> = None;
    fill_lanes(out, || match spare.take() {
        Some(z) => z * s,
        None => {
            let (z0, z1) = normal_pair(&mut lanes);
            spare = Some(z1);
            z0 * s
        }
    });
    Ok(())
}
// ANCHOR_END: fill_normal

/// Fills `out` with i.i.d. draws of std·Z conditioned on |Z| ≤ `cut`, Z ~ N(0, 1), by
/// rejection from the Box–Muller lanes (acceptance 2Φ(cut) − 1: 95.4% at cut = 2).
///
/// # Errors
/// [`Error::ParameterOutOfRange`] unless `std` is finite and ≥ 0 and `cut` is in [0.5, 5.5]
/// (below 0.5 the rejection loop wastes most draws; above 5.5 the Box–Muller cap at 5.65
/// would distort the shape).
pub fn fill_truncated_normal<R: RngCore + ?Sized>(
    out: &mut [f32],
    std: f32,
    cut: f32,
    rng: &mut R,
) -> Result<()> {
    check_scale("normal std", std)?;
    if !(0.5..=5.5).contains(&cut) {
        return Err(Error::ParameterOutOfRange {
            name: "truncation point (in standard deviations)",
            value: f64::from(cut),
            range: "[0.5, 5.5]",
        });
    }
    let mut lanes = LaneRng::seed_from(rng);
    let mut filled = 0;
    while filled < out.len() {
        let (z0, z1) = normal_pair(&mut lanes);
        for z in z0.to_array().into_iter().chain(z1.to_array()) {
            if z.abs() <= cut && filled < out.len() {
                out[filled] = z * std;
                filled += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The scalar reference of one lane: xoshiro128++ as published.
    struct Scalar([u32; 4]);

    impl Scalar {
        fn next(&mut self) -> u32 {
            let s = &mut self.0;
            let result = s[0].wrapping_add(s[3]).rotate_left(7).wrapping_add(s[0]);
            let t = s[1] << 9;
            s[2] ^= s[0];
            s[3] ^= s[1];
            s[1] ^= s[2];
            s[0] ^= s[3];
            s[2] ^= t;
            s[3] = s[3].rotate_left(11);
            result
        }
    }

    #[test]
    fn lanes_match_the_scalar_generator() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut lanes = LaneRng::seed_from(&mut rng);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut words = [[0u32; LANES]; 4];
        for w in &mut words {
            rng.fill(&mut w[..]);
        }
        let mut scalars: Vec<Scalar> = (0..LANES)
            .map(|l| Scalar([words[0][l], words[1][l], words[2][l], words[3][l]]))
            .collect();
        for _ in 0..100 {
            let v = lanes.next().to_array();
            for (lane, s) in scalars.iter_mut().enumerate() {
                assert_eq!(v[lane], s.next());
            }
        }
    }

    #[test]
    fn the_grid_is_symmetric_and_exact() {
        // The extreme words map to ∓(1 − 2⁻²³) exactly; a word and its complement to ±v.
        let lo = symmetric_unit(U32s::splat(0)).to_array()[0];
        let hi = symmetric_unit(U32s::splat(u32::MAX)).to_array()[0];
        assert_eq!(lo, -(1.0 - HALF_STEP));
        assert_eq!(hi, 1.0 - HALF_STEP);
        for w in [1u32 << 9, 12_345 << 9, 0x8000_0000, 0x7fff_fe00] {
            let a = symmetric_unit(U32s::splat(w)).to_array()[0];
            let b = symmetric_unit(U32s::splat(!w)).to_array()[0];
            assert_eq!(a, -b);
            let k = f64::from(w >> 9);
            assert_eq!(f64::from(a), -1.0 + (2.0 * k + 1.0) * f64::from(HALF_STEP));
        }
        // The smallest u is 2 − (2 − 2⁻²³) = 2⁻²³ (the Box–Muller cap u₁ ≥ 2⁻²³).
        assert_eq!(open_unit(U32s::splat(u32::MAX)).to_array()[0], HALF_STEP);
        assert_eq!(open_unit(U32s::splat(0)).to_array()[0], 1.0);
    }

    #[test]
    fn zero_seed_is_repaired() {
        struct Zeros;
        impl RngCore for Zeros {
            fn next_u32(&mut self) -> u32 {
                0
            }
            fn next_u64(&mut self) -> u64 {
                0
            }
            fn fill_bytes(&mut self, dst: &mut [u8]) {
                dst.fill(0);
            }
        }
        let mut lanes = LaneRng::seed_from(&mut Zeros);
        let first: Vec<u32> = (0..4).map(|_| lanes.next().to_array()[0]).collect();
        assert!(first.iter().any(|&w| w != 0), "{first:?}");
    }
}
