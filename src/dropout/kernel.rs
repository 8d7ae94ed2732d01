//! The dropout kernels: mask-and-scale in one pass (forward), the same mask replayed from its
//! bits (backward), and the prediction-time weight scaling.
//!
//! **p is the keep probability** everywhere (conventions appendix, C6): [`KeepProb`] holds it, and
//! [`KeepProb::from_drop_rate`] converts the "rate" most frameworks take (PyTorch's `p`,
//! Keras' `rate`), so a call site always says which one it means.
//!
//! Conventions, tested in `tests/dropout.rs`:
//! - **Forward** (training): y_i = r_i·s·x_i with r_i ∈ {0, 1} drawn by the counter-based
//!   generator of [`MaskStream`] (P(r_i = 1) = p), and s the training factor: 1 for
//!   [`Scaling::Standard`], 1/p (rounded to f32) for [`Scaling::Inverted`]. One read of x, one
//!   write of y and one bit written per element.
//! - **Backward**: g_i ← r_i·s·g_i, the same factor from the stored bits (∂y_i/∂x_i).
//! - **Prediction**: standard dropout multiplies the *outgoing* weights of the dropped layer
//!   by p ([`Dropout::scale_outgoing_weights`]); inverted dropout uses the weights as they are.
//! - **IEEE**: the factor multiplies, so NaN stays NaN and ±∞ gives NaN when dropped
//!   (∞·0), as the literal r·x does; −0.0 and signs follow IEEE products.
//! - **p = 1** is the identity: every bit set, y = x bit for bit.
//! - **Lengths**: any, including 0; mask and output must have the input's length.

use super::generator::{BLOCK, BlockKeys, MaskStream, U32s};
use super::mask::Mask;
use crate::error::{Error, Result, check_len};
use crate::simd::{F32s, LANES};

/// The keep probability p ∈ (0, 1] of dropout (conventions appendix, C6): a unit is *kept* with
/// probability p and dropped with probability 1 − p.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeepProb(f32);

impl KeepProb {
    /// p ∈ (0, 1], else [`Error::ParameterOutOfRange`] (p = 0 would drop everything and make
    /// inverted dropout divide by zero; NaN is rejected).
    pub fn new(p: f32) -> Result<Self> {
        if p > 0.0 && p <= 1.0 {
            Ok(Self(p))
        } else {
            Err(Error::ParameterOutOfRange {
                name: "dropout keep probability p",
                value: f64::from(p),
                range: "(0, 1]",
            })
        }
    }

    /// From a drop rate q ∈ [0, 1) (PyTorch's `p`, Keras' `rate`): p = 1 − q.
    pub fn from_drop_rate(rate: f32) -> Result<Self> {
        if (0.0..1.0).contains(&rate) {
            Self::new(1.0 - rate)
        } else {
            Err(Error::ParameterOutOfRange {
                name: "dropout drop rate",
                value: f64::from(rate),
                range: "[0, 1)",
            })
        }
    }

    /// p, the keep probability.
    pub fn get(self) -> f32 {
        self.0
    }

    /// 1 − p, the drop probability.
    pub fn drop_rate(self) -> f32 {
        1.0 - self.0
    }

    /// round(p·2^16): a unit is kept when its 16-bit uniform u < threshold. `None` when it
    /// rounds to 2^16 (p ≥ 1 − 2^-17, p = 1 included): every unit is kept.
    pub fn threshold(self) -> Option<u16> {
        let t = (f64::from(self.0) * 65536.0).round();
        if t >= 65536.0 { None } else { Some(t as u16) }
    }
}

/// Where dropout's 1/p goes (DROP-SCALE, DROP-INVERTED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// Srivastava et al.: train with y = r·x, predict with the outgoing weights × p.
    Standard,
    /// Inverted dropout: train with y = r·x/p, predict with the weights as they are.
    Inverted,
}

/// Dropout on one layer's outputs: a keep probability and where the scaling goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    keep: KeepProb,
    scaling: Scaling,
}

impl Dropout {
    /// Dropout that keeps each unit with probability `keep`.
    pub fn new(keep: KeepProb, scaling: Scaling) -> Self {
        Self { keep, scaling }
    }

    /// The keep probability p.
    pub fn keep(&self) -> KeepProb {
        self.keep
    }

    /// Standard or inverted.
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }

    /// s, the factor a kept unit's output gets in training: 1, or 1/p (inverted).
    pub fn train_factor(&self) -> f32 {
        match self.scaling {
            Scaling::Standard => 1.0,
            Scaling::Inverted => 1.0 / self.keep.get(),
        }
    }

    /// The factor the outgoing weights get at prediction: p (standard) or 1 (inverted).
    pub fn predict_factor(&self) -> f32 {
        match self.scaling {
            Scaling::Standard => self.keep.get(),
            Scaling::Inverted => 1.0,
        }
    }

    // ANCHOR: forward
    /// The training forward pass (§参数训练): draws r_i ~ Bernoulli(p) from `stream` for
    /// i = 0..len, i.i.d. over the slice (DROP-P, DROP-MASK), writes y_i = r_i·s·x_i
    /// (s = 1, or 1/p for inverted dropout: DROP-INVERTED) and stores r_i in `mask`, in one
    /// pass. Element i of a units × batch matrix is unit i mod units of example i / units.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] unless `y` and `mask` have the length of `x`.
    pub fn forward(
        &self,
        stream: MaskStream,
        x: &[f32],
        y: &mut [f32],
        mask: &mut Mask,
    ) -> Result<()> {
        check_len("dropout output", x.len(), y.len())?;
        check_len("dropout mask", x.len(), mask.len())?;
        let Some(threshold) = self.keep.threshold() else {
            y.copy_from_slice(x);
            set_all(mask);
            return Ok(());
        };
        let factor = U32s::splat(self.train_factor().to_bits());
        let threshold = U32s::splat(u32::from(threshold) << 16);
        let block = usize::try_from(BLOCK).unwrap_or(usize::MAX);
        let pieces = x.chunks(block).zip(y.chunks_mut(block));
        let words = mask.words_mut().chunks_mut(block / 64);
        for (b, ((x, y), words)) in pieces.zip(words).enumerate() {
            let keys = stream.block_keys(b as u64);
            let hashes = |j: u32| keys.hashes(BlockKeys::counter(j));
            let step = |j: u32, h: U32s, v: F32s| {
                let keep = BlockKeys::keep(h, j, threshold);
                (v * F32s::from_bits(keep & factor), bitmask(keep))
            };
            forward_block(x, y, words, hashes, step);
        }
        Ok(())
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    /// The backward pass: g_i ← r_i·s·g_i, with r_i read from the bits the forward pass
    /// stored (∂y_i/∂x_i = r_i·s): a dropped unit passes no gradient (DROP-SHARE).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] unless `mask` has the length of `grad`.
    pub fn backward(&self, mask: &Mask, grad: &mut [f32]) -> Result<()> {
        self.apply_in_place(mask, grad)
    }

    /// v_i ← r_i·s·v_i: replays a stored mask with the training factor (the forward pass's
    /// product for given r, and the backward pass's).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] unless `mask` has the length of `v`.
    pub fn apply_in_place(&self, mask: &Mask, v: &mut [f32]) -> Result<()> {
        check_len("dropout mask", v.len(), mask.len())?;
        let factor = U32s::splat(self.train_factor().to_bits());
        let lane_bits = lane_bits();
        let mut chunks = v.chunks_exact_mut(64);
        for (c, &word) in (&mut chunks).zip(mask.words()) {
            for (k, c) in c.chunks_exact_mut(LANES).enumerate() {
                let keep = expand(word >> (k * LANES), lane_bits);
                store(c, load(c) * F32s::from_bits(keep & factor));
            }
        }
        let last_word = mask.words().get(mask.len() / 64).copied();
        let tail = chunks.into_remainder();
        if let Some(word) = last_word {
            for (k, c) in tail.chunks_mut(LANES).enumerate() {
                let keep = expand(word >> (k * LANES), lane_bits);
                store_partial(c, load_partial(c) * F32s::from_bits(keep & factor));
            }
        }
        Ok(())
    }
    // ANCHOR_END: backward

    // ANCHOR: predict
    /// Prediction with standard dropout (DROP-SCALE): multiplies the *outgoing* weights of
    /// the dropped layer — the next layer's whole W, fan_in × fan_out, since every unit of
    /// the dropped layer feeds it — by p. Not its bias, not the incoming weights. A no-op for
    /// inverted dropout.
    pub fn scale_outgoing_weights(&self, outgoing: &mut [f32]) {
        let p = self.predict_factor();
        outgoing.iter_mut().for_each(|w| *w *= p);
    }
    // ANCHOR_END: predict
}

/// Every bit of the mask set (p = 1), bits past the length left 0.
fn set_all(mask: &mut Mask) {
    let len = mask.len();
    for (k, w) in mask.words_mut().iter_mut().enumerate() {
        let left = len - 64 * k;
        *w = if left >= 64 {
            u64::MAX
        } else {
            (1 << left) - 1
        };
    }
}

/// Hashes per run of 32 elements: 16 counters, in vectors of LANES.
const HASHES: usize = 16 / LANES;

/// Runs `step(j, hash vector, x vector) -> (y vector, bits)` over one key block, with
/// `hashes(j)` the hash vector of the element j's counter: whole 64-element words first,
/// each as two runs of 32 that hash their 16 counters once and use each hash for two vectors
/// (its low halves, then its high halves), then the tail with padded vectors and the bits
/// past the end cleared.
///
/// A word's hashes are computed one word ahead: the hash is a chain of four dependent
/// multiplies, and started a word early it no longer stands between a word's loads and its
/// stores (`dropout/forward/simd/256Ki`, in cache: 7.30–7.41 elements/ns against 7.13–7.16,
/// three alternating pairs of runs; the same hashes, so the same bits).
#[inline(always)]
fn forward_block(
    x: &[f32],
    y: &mut [f32],
    words: &mut [u64],
    hashes: impl Fn(u32) -> U32s,
    step: impl Fn(u32, U32s, F32s) -> (F32s, u64),
) {
    let mut xs = x.chunks_exact(64);
    let mut ys = y.chunks_exact_mut(64);
    let word_hashes = |j: u32| -> [[U32s; HASHES]; 2] {
        std::array::from_fn(|run| {
            std::array::from_fn(|k| hashes(j.wrapping_add((32 * run + k * LANES) as u32)))
        })
    };
    let mut j = 0u32;
    let mut next = word_hashes(j);
    for ((x, y), word) in (&mut xs).zip(&mut ys).zip(words.iter_mut()) {
        let (now, mut bits) = (next, 0);
        // Past the block's last word this hashes counters no element uses.
        next = word_hashes(j.wrapping_add(64));
        for (run, h) in now.iter().enumerate() {
            let base = 32 * run;
            for v in 0..32 / LANES {
                let at = base + v * LANES;
                let r = at..at + LANES;
                let (out, b) = step(j + at as u32, h[(at % 16) / LANES], load(&x[r.clone()]));
                store(&mut y[r], out);
                bits |= b << at;
            }
        }
        *word = bits;
        j = j.wrapping_add(64);
    }
    let (x, y) = (xs.remainder(), ys.into_remainder());
    if !x.is_empty() {
        let mut bits = 0;
        for (v, (x, y)) in x.chunks(LANES).zip(y.chunks_mut(LANES)).enumerate() {
            let at = j + (v * LANES) as u32;
            let (out, b) = step(at, hashes(at), load_partial(x));
            store_partial(y, out);
            bits |= b << (v * LANES);
        }
        *words.last_mut().expect("a word for the tail") = bits & ((1 << x.len()) - 1);
    }
}

/// The lanes' keep flags (all-ones lanes) as the low LANES bits of a word.
#[inline(always)]
fn bitmask(keep: U32s) -> u64 {
    u64::from(keep.to_bitmask())
}

/// Bit l of the vector's slice of the mask word as an all-ones/all-zeros lane l.
#[inline(always)]
fn expand(bits: u64, lane_bits: U32s) -> U32s {
    let low = (bits & ((1 << LANES) - 1)) as u32;
    (U32s::splat(low) & lane_bits).simd_ne(U32s::ZERO)
}

/// 1, 2, 4, …, 2^(LANES−1).
#[inline(always)]
fn lane_bits() -> U32s {
    let mut a = [0u32; LANES];
    for (l, v) in a.iter_mut().enumerate() {
        *v = 1 << l;
    }
    U32s::from(a)
}

#[inline(always)]
fn load(s: &[f32]) -> F32s {
    F32s::from(<[f32; LANES]>::try_from(s).expect("exact chunk"))
}

#[inline(always)]
fn store(d: &mut [f32], v: F32s) {
    d.copy_from_slice(&v.to_array());
}

/// A vector from fewer than LANES values, padded with zeros.
#[inline(always)]
fn load_partial(s: &[f32]) -> F32s {
    let mut pad = [0.0f32; LANES];
    pad[..s.len()].copy_from_slice(s);
    F32s::from(pad)
}

#[inline(always)]
fn store_partial(d: &mut [f32], v: F32s) {
    let n = d.len();
    d.copy_from_slice(&v.to_array()[..n]);
}

// Keep the block loop honest: a key block is a whole number of words and of vectors.
const _: () = assert!(BLOCK.is_multiple_of(64) && 64usize.is_multiple_of(LANES));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_matches_the_scalar_oracle() {
        let stream = MaskStream::new(11, 2);
        let d = Dropout::new(KeepProb::new(0.3).unwrap(), Scaling::Inverted);
        let t = d.keep().threshold().unwrap();
        for n in [0, 1, LANES - 1, LANES, 63, 64, 65, 200] {
            let x: Vec<f32> = (0..n).map(|i| i as f32 - 7.5).collect();
            let (mut y, mut m) = (vec![f32::NAN; n], Mask::new(n));
            d.forward(stream, &x, &mut y, &mut m).unwrap();
            for i in 0..n {
                let kept = stream.uniform(i as u64) < t;
                assert_eq!(m.get(i), kept, "n {n} i {i}");
                let want = if kept {
                    x[i] * d.train_factor()
                } else {
                    x[i] * 0.0
                };
                assert_eq!(y[i].to_bits(), want.to_bits(), "n {n} i {i}");
            }
            if n % 64 != 0 {
                assert_eq!(m.words()[n / 64] >> (n % 64), 0, "bits past the end");
            }
        }
    }
}
