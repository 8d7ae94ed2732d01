//! The mask generator: counter-based, so mask entry i is a pure function of (key, i).
//!
//! # Definition
//!
//! A [`MaskStream`] holds a 64-bit key, derived from a seed and a stream number (a training
//! step, a layer) with SplitMix64. Counter c of key block b gets the 32-bit hash
//!
//! ```text
//! h(c) = mix(mix(c + k0) ⊕ k1),   (k0, k1) = halves of key(b)
//! ```
//!
//! where `mix` is a 32-bit integer hash of two multiply–xorshift rounds (x ⊕= x≫16;
//! x ×= 0x7feb352d; x ⊕= x≫15; x ×= 0x846ca68b; x ⊕= x≫16 — the constants of C. Wellons'
//! "lowbias32", found by a search for low avalanche bias), and key(b) re-keys each block of
//! 2^32 elements with SplitMix64. Each hash gives two elements their 16-bit uniforms, its low
//! and its high half: in block b, element j (i = b·2^32 + j) takes
//!
//! ```text
//! u_i = half number ⌊j/16⌋ mod 2 of h(16·⌊j/32⌋ + j mod 16)
//! ```
//!
//! so the 32 elements of a run share 16 consecutive counters, the first 16 elements taking
//! the low halves and the next 16 the high halves. Unit i is kept when u_i < round(p·2^16).
//!
//! # Why this generator
//!
//! - **Reproducible across lane widths and runs.** u_i depends only on the key and i, never
//!   on which lane or vector computes it, so the f32x8 build (AVX2 or SSE) and the f32x16
//!   build (AVX-512) draw bit-identical masks, and so does the scalar oracle
//!   [`MaskStream::uniform`]. There is no state to carry between calls.
//! - **Lane-parallel and cheap.** A vector of lanes hashes 16 consecutive counters at once
//!   (or 8 twice): 4 multiplies and 10 shifts, xors and adds per vector (see
//!   `double_mix_lanes`), no memory traffic, and one hash serves two mask entries: the mask
//!   costs less than the memory it is applied to (`benches/dropout.rs` measures it). With
//!   32-bit uniforms, one hash per entry, the forward pass ran at a third of the copy's speed
//!   in L2; two 16-bit halves per hash bring it to about two thirds.
//! - **Statistically sound for masks.** Two rounds of the hash, keyed between them, give a
//!   different bijection of the 2^32 counters for every key: streams of different keys are
//!   not shifted copies of each other (a single keyed round `mix(lo + k)` would be). The
//!   claims test the keep rate with an exact binomial test at several p, and independence
//!   across units, examples, steps, neighbouring lanes and lane-block boundaries with χ²
//!   tests (DROP-P, DROP-MASK); the pairs of elements 16 apart, which share a hash, are among
//!   the neighbours those tests pair.
//! - **Keep probability.** The threshold round(p·2^16) makes P(keep) = round(p·2^16)/2^16,
//!   within 2^-17 (7.6e-6) of p: for p ∈ {0.5, 0.25, 0.75} exact, for p = 0.8 it is
//!   0.8000031. A binomial test of N draws sees that offset only when N reaches about
//!   (4·√(p(1 − p))/2^-17)², over 10^11 (the claims draw at most 10^7). p ≥ 1 − 2^-17 keeps
//!   everything, and p < 2^-17 keeps nothing.

use crate::simd::LANES;

/// u32 lanes of the same width as [`crate::simd::F32s`] (the cfg mirrors `crate::simd`).
#[cfg(target_feature = "avx512f")]
pub(crate) type U32s = wide::u32x16;
#[cfg(not(target_feature = "avx512f"))]
pub(crate) type U32s = wide::u32x8;

const _: () = assert!(core::mem::size_of::<U32s>() == LANES * 4);

/// Elements per key block: the counter inside a block is 32 bits.
pub(crate) const BLOCK: u64 = 1 << 32;

/// SplitMix64's output function (Steele, Lea and Flood 2014): a bijection of u64 with good
/// avalanche, used to derive keys.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ANCHOR: generator
/// The 32-bit hash `mix`, one lane.
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// mix(mix(x) ⊕ k1) in every lane, with two operations of the middle cancelled.
///
/// Write mix(x) = a ⊕ (a ≫ 16), where a is mix's value before its last step. The second
/// mix begins with z ⊕ (z ≫ 16) on z = a ⊕ (a ≫ 16) ⊕ k1, and since a ≫ 32 = 0 for 32 bits,
/// z ≫ 16 = (a ≫ 16) ⊕ (k1 ≫ 16): the two a ≫ 16 cancel and z ⊕ (z ≫ 16) = a ⊕ K with
/// K = k1 ⊕ (k1 ≫ 16). So the lanes skip one shift and one xor of each round's seam, the
/// same bits as the scalar [`mix`] twice (tested against [`MaskStream::uniform`]), in about
/// three quarters of the operations.
#[inline(always)]
fn double_mix_lanes(mut x: U32s, seam: U32s) -> U32s {
    x ^= x >> 16;
    x *= U32s::splat(0x7feb_352d);
    x ^= x >> 15;
    x *= U32s::splat(0x846c_a68b);
    x ^= seam;
    x *= U32s::splat(0x7feb_352d);
    x ^= x >> 15;
    x *= U32s::splat(0x846c_a68b);
    x ^ (x >> 16)
}

/// A reproducible stream of mask entries: the generator's key.
///
/// Give each draw of a mask its own stream, e.g. `MaskStream::new(seed, step)` and
/// [`MaskStream::substream`] per layer: reusing a stream reuses the mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskStream {
    key: u64,
}

/// The two 32-bit keys of one block of 2^32 elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockKeys {
    k0: u32,
    k1: u32,
}

impl MaskStream {
    /// The stream number `stream` (a training step, say) of the generator seeded with `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        Self {
            key: splitmix64(seed ^ splitmix64(stream)),
        }
    }

    /// An independent stream derived from this one, e.g. one per layer within a step.
    pub fn substream(self, index: u64) -> Self {
        Self::new(self.key, index)
    }

    /// The keys of block `b` (elements b·2^32 .. (b+1)·2^32).
    pub(crate) fn block_keys(self, b: u64) -> BlockKeys {
        let k = splitmix64(self.key ^ b.wrapping_mul(0xd6e8_feb8_6659_fd93));
        BlockKeys {
            k0: k as u32,
            k1: (k >> 32) as u32,
        }
    }

    /// The scalar oracle: u_i, the uniform 16-bit integer of element i. The SIMD kernels
    /// produce exactly these values.
    pub fn uniform(self, i: u64) -> u16 {
        let keys = self.block_keys(i / BLOCK);
        let j = (i % BLOCK) as u32;
        let counter = 16 * (j / 32) + j % 16;
        let h = mix(mix(counter.wrapping_add(keys.k0)) ^ keys.k1);
        let half = (j / 16) % 2;
        (h >> (16 * half)) as u16
    }
}
// ANCHOR_END: generator

impl BlockKeys {
    /// h for the LANES consecutive counters `c, c + 1, …` of this block.
    #[inline(always)]
    pub(crate) fn hashes(self, c: u32) -> U32s {
        let first = U32s::splat(c.wrapping_add(self.k0));
        let seam = U32s::splat(self.k1 ^ (self.k1 >> 16));
        double_mix_lanes(first + lane_offsets(), seam)
    }

    /// The keep flags (all-ones lanes) of the LANES elements j, j + 1, … of this block
    /// (j a multiple of LANES), from `hashes` = [`BlockKeys::hashes`] of their counters:
    /// u < t, compared as the hash's half against t·2^16 so that neither half needs a shift
    /// back (low: (h ≪ 16) < t·2^16; high: h < t·2^16, since h ≫ 16 < t ⇔ h < t·2^16).
    #[inline(always)]
    pub(crate) fn keep(hashes: U32s, j: u32, threshold_high: U32s) -> U32s {
        let half = if (j / 16).is_multiple_of(2) {
            hashes << 16
        } else {
            hashes
        };
        half.simd_lt(threshold_high)
    }

    /// The counter of element j's hash (the first lane's, for a vector).
    #[inline(always)]
    pub(crate) fn counter(j: u32) -> u32 {
        16 * (j / 32) + j % 16
    }
}

/// 0, 1, …, LANES − 1.
#[inline(always)]
fn lane_offsets() -> U32s {
    let mut a = [0u32; LANES];
    for (l, v) in a.iter_mut().enumerate() {
        *v = l as u32;
    }
    U32s::from(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_match_the_scalar_oracle_across_a_block_boundary() {
        // Many keys, so the cancelled seam of `double_mix_lanes` meets every kind of k1.
        for (seed, stream) in (0..64).map(|i| (i * 7919, i)) {
            lanes_match(MaskStream::new(seed, stream));
        }
    }

    fn lanes_match(s: MaskStream) {
        let starts = [
            0u64,
            16,
            48,
            96,
            BLOCK - LANES as u64,
            BLOCK,
            5 * BLOCK + 1024,
        ];
        for start in starts.into_iter().flat_map(|s| [s, s + LANES as u64]) {
            let (keys, j) = (s.block_keys(start / BLOCK), (start % BLOCK) as u32);
            let hashes = keys.hashes(BlockKeys::counter(j)).to_array();
            for (l, &h) in hashes.iter().enumerate() {
                let i = start + l as u64;
                let half = (h >> (16 * ((j / 16) % 2))) as u16;
                assert_eq!(half, s.uniform(i), "start {start} lane {l}");
                // Every threshold's flag agrees with u < t.
                for t in [0u32, 1, 0x7fff, 0x8000, 0xffff] {
                    let keep = BlockKeys::keep(
                        keys.hashes(BlockKeys::counter(j)),
                        j,
                        U32s::splat(t << 16),
                    );
                    let flag = keep.to_array()[l] != 0;
                    assert_eq!(
                        flag,
                        u32::from(s.uniform(i)) < t,
                        "start {start} lane {l} t {t}"
                    );
                }
            }
        }
    }

    #[test]
    fn streams_differ() {
        let a = MaskStream::new(1, 0);
        assert_ne!(a.uniform(0), MaskStream::new(1, 1).uniform(0));
        assert_ne!(a.uniform(0), MaskStream::new(2, 0).uniform(0));
        assert_ne!(a.uniform(0), a.substream(0).uniform(0));
    }
}
