//! The activation kernels: f32 SIMD on slices of any length.
//!
//! Conventions, documented once and tested in `tests/activation.rs`:
//! - **ReLU kink** (ACT-RELU): f'(0) := 0, the common frameworks' choice; leaky ReLU uses
//!   f'(0) := α, of which ReLU is the case α = 0. −0.0 counts as 0.
//! - **NaN** propagates through every function and derivative (IEEE 754-2019 `maximum`
//!   semantics for ReLU, not `maxNum`, which would turn max(0, NaN) into a silent 0).
//! - **Infinities**: σ(+∞) = 1, σ(−∞) = 0, tanh(±∞) = ±1, softsign(±∞) = ±1, ReLU(+∞) = +∞;
//!   derivatives at ±∞ are their limits (0 for σ, tanh and softsign).
//! - **Lengths**: any length; the tail that does not fill a vector goes through the same
//!   lane code (padded), so the last elements get exactly the same arithmetic as the rest.

use super::lanes;
use crate::error::{Error, Result, check_len};
use crate::simd::{F32s, LANES};

/// The slope α of leaky ReLU, validated to lie in [0, 1) (ACT-LRELU: in that range
/// f(x) = max(x, αx); α ≥ 1 or NaN is rejected rather than silently accepted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slope(f32);

impl Slope {
    /// α ∈ [0, 1), else [`Error::ParameterOutOfRange`].
    pub fn new(alpha: f32) -> Result<Self> {
        if (0.0..1.0).contains(&alpha) {
            Ok(Self(alpha))
        } else {
            Err(Error::ParameterOutOfRange {
                name: "leaky ReLU slope alpha",
                value: f64::from(alpha),
                range: "[0, 1)",
            })
        }
    }

    /// The value α.
    pub fn get(self) -> f32 {
        self.0
    }
}

/// An activation function f, applied elementwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// f(x) = x. A network of these is one affine map (ACT-ROLE).
    Identity,
    /// ACT-SIGMOID: σ(x) = 1/(1 + e^{−x}); σ' = σ(1 − σ).
    Sigmoid,
    /// ACT-TANH: tanh(x); tanh' = 1 − tanh².
    Tanh,
    /// ACT-RELU: max(0, x); f'(0) := 0.
    Relu,
    /// ACT-LRELU: x for x ≥ 0, αx for x < 0; f'(0) := α.
    LeakyRelu(Slope),
    /// ACT-SOFTSIGN: x/(1 + |x|); f' = 1/(1 + |x|)² = (1 − |f|)².
    Softsign,
}

impl Activation {
    /// Every kind, with leaky ReLU at α = 0.01 (Maas et al. 2013), for sweeps and tables.
    pub fn all() -> [Activation; 6] {
        [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
            Activation::LeakyRelu(Slope(0.01)),
            Activation::Softsign,
        ]
    }

    /// Leaky ReLU with slope α ∈ [0, 1).
    pub fn leaky_relu(alpha: f32) -> Result<Self> {
        Slope::new(alpha).map(Activation::LeakyRelu)
    }

    /// A short lower-case name, as used in bench IDs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Softsign => "softsign",
        }
    }

    /// f(x) for one value, through exactly the lane code the slice kernels use.
    pub fn apply(self, x: f32) -> f32 {
        self.forward_lanes(F32s::splat(x)).to_array()[0]
    }

    /// f'(x) for one value, through the lane code of [`Activation::derivative`].
    pub fn apply_derivative(self, x: f32) -> f32 {
        self.derivative_lanes(F32s::splat(x)).to_array()[0]
    }

    /// `out[i] = f(z[i])`. Lengths must match; any length works (the tail past the last
    /// whole SIMD vector runs the same lane code on a padded vector).
    ///
    /// ```
    /// use dnn_proofs::activation::Activation;
    /// let z = [-2.0f32, -0.5, 0.0, 0.5, 2.0];
    /// let mut y = [0.0f32; 5];
    /// Activation::Tanh.forward(&z, &mut y)?;
    /// // The accuracy claim bounds tanh by 2.42 ulp; an ulp of |y| < 1 is at most 2⁻²⁴.
    /// let ulp = 2f64.powi(-24);
    /// assert!(z.iter().zip(&y).all(|(&z, &y)| (f64::from(y) - f64::from(z).tanh()).abs() < 2.42 * ulp));
    /// // A length mismatch is an error naming both lengths, not a panic or a short write.
    /// assert!(Activation::Tanh.forward(&z, &mut [0.0; 4]).is_err());
    /// # Ok::<(), dnn_proofs::error::Error>(())
    /// ```
    pub fn forward(self, z: &[f32], out: &mut [f32]) -> Result<()> {
        check_len("output", z.len(), out.len())?;
        self.per_kind(Job::Map(z, out), Activation::forward_lanes);
        Ok(())
    }

    /// `z[i] = f(z[i])`.
    pub fn forward_in_place(self, z: &mut [f32]) {
        self.per_kind(Job::InPlace(z), Activation::forward_lanes);
    }

    /// The dense layer's fused step: `z = f(z + b)` with `b` broadcast along each column.
    ///
    /// `z` holds whole columns of length `bias.len()` one after another (nalgebra's
    /// column-major layout of a units × batch matrix), so `z[c·n + j] ← f(z[c·n + j] + b[j])`.
    /// One read and one write per element.
    pub fn forward_with_bias(self, z: &mut [f32], bias: &[f32]) -> Result<()> {
        let n = bias.len();
        if n == 0 || !z.len().is_multiple_of(n) {
            return Err(Error::NotWholeColumns {
                what: "pre-activations",
                column: n,
                found: z.len(),
            });
        }
        self.per_kind(Job::AddBias(z, bias), Activation::forward_lanes);
        Ok(())
    }

    /// `out[i] = f'(z[i])`, the derivative at the input.
    pub fn derivative(self, z: &[f32], out: &mut [f32]) -> Result<()> {
        check_len("output", z.len(), out.len())?;
        self.per_kind(Job::Map(z, out), Activation::derivative_lanes);
        Ok(())
    }

    /// `z[i] = f'(z[i])`.
    pub fn derivative_in_place(self, z: &mut [f32]) {
        self.per_kind(Job::InPlace(z), Activation::derivative_lanes);
    }

    /// `out[i] = f'(z[i])` computed from the stored output `y[i] = f(z[i])`, as backprop
    /// does: σ' = y(1 − y), tanh' = 1 − y², softsign' = (1 − |y|)², ReLU' = \[y > 0\],
    /// leaky' = 1 if y > 0 else α. No transcendental function is evaluated.
    pub fn derivative_from_output(self, y: &[f32], out: &mut [f32]) -> Result<()> {
        check_len("output", y.len(), out.len())?;
        self.per_kind(Job::Map(y, out), Activation::derivative_from_output_lanes);
        Ok(())
    }

    /// `y[i] = f'(z[i])` in place, from the stored output `y[i] = f(z[i])`.
    pub fn derivative_from_output_in_place(self, y: &mut [f32]) {
        self.per_kind(Job::InPlace(y), Activation::derivative_from_output_lanes);
    }

    /// Runs `job` with `lanes(kind, ·)` for this activation's kind.
    ///
    /// Each arm fixes the kind as a constant, so once `lanes` is inlined its `match` folds
    /// away and every arm compiles to its own loop: the kind is matched once per call, not
    /// once per vector (a jump per vector, which also kept the compiler from hoisting the
    /// constants out of the loop, cost up to half the speed).
    #[inline(always)]
    fn per_kind(self, job: Job<'_>, lanes: impl Fn(Activation, F32s) -> F32s) {
        match self {
            Activation::Identity => job.run(|v| lanes(Activation::Identity, v)),
            Activation::Sigmoid => job.run(|v| lanes(Activation::Sigmoid, v)),
            Activation::Tanh => job.run(|v| lanes(Activation::Tanh, v)),
            Activation::Relu => job.run(|v| lanes(Activation::Relu, v)),
            Activation::LeakyRelu(s) => job.run(|v| lanes(Activation::LeakyRelu(s), v)),
            Activation::Softsign => job.run(|v| lanes(Activation::Softsign, v)),
        }
    }

    /// Backprop's elementwise step, fused: `grad[i] ← grad[i]·f'(z[i])` with f' computed
    /// from the stored output `y[i] = f(z[i])` (δ = g ⊙ f'(IN), eq. (13)/(14) and C4).
    /// One read of each buffer and one write.
    pub fn backward_in_place(self, y: &[f32], grad: &mut [f32]) -> Result<()> {
        check_len("gradient", y.len(), grad.len())?;
        self.per_kind(
            Job::ScaleInPlace(grad, y),
            Activation::derivative_from_output_lanes,
        );
        Ok(())
    }

    #[inline(always)]
    fn forward_lanes(self, v: F32s) -> F32s {
        match self {
            Activation::Identity => v,
            Activation::Sigmoid => lanes::sigmoid(v),
            Activation::Tanh => lanes::tanh(v),
            // v ≤ 0 → +0; NaN compares false and passes through.
            Activation::Relu => v.simd_le(F32s::ZERO).select(F32s::ZERO, v),
            Activation::LeakyRelu(Slope(a)) => v.simd_lt(F32s::ZERO).select(v * F32s::splat(a), v),
            Activation::Softsign => softsign(v),
        }
    }

    #[inline(always)]
    fn derivative_lanes(self, v: F32s) -> F32s {
        match self {
            Activation::Identity => nan_or(v, F32s::ONE),
            Activation::Sigmoid | Activation::Tanh => {
                self.derivative_from_output_lanes(self.forward_lanes(v))
            }
            Activation::Relu => step(v, F32s::ZERO),
            Activation::LeakyRelu(Slope(a)) => step(v, F32s::splat(a)),
            Activation::Softsign => {
                let d = F32s::ONE + v.abs();
                F32s::ONE / (d * d)
            }
        }
    }

    #[inline(always)]
    fn derivative_from_output_lanes(self, y: F32s) -> F32s {
        match self {
            Activation::Identity => nan_or(y, F32s::ONE),
            Activation::Sigmoid => y * (F32s::ONE - y),
            Activation::Tanh => y.mul_neg_add(y, F32s::ONE),
            // Both ReLUs keep the sign of z in y (y > 0 ⇔ z > 0), so the step reads y.
            Activation::Relu => step(y, F32s::ZERO),
            Activation::LeakyRelu(Slope(a)) => step(y, F32s::splat(a)),
            Activation::Softsign => {
                let d = F32s::ONE - y.abs();
                d * d
            }
        }
    }
}

/// x/(1 + |x|), with ±∞ ↦ ±1 (the quotient would be ∞/∞).
#[inline(always)]
fn softsign(v: F32s) -> F32s {
    let q = v / (F32s::ONE + v.abs());
    v.is_inf().select(F32s::ONE.copysign(v), q)
}

/// 1 where v > 0, `below` where v ≤ 0, NaN where v is NaN.
#[inline(always)]
fn step(v: F32s, below: F32s) -> F32s {
    nan_or(v, v.simd_gt(F32s::ZERO).select(F32s::ONE, below))
}

/// `value`, except NaN where `v` is NaN.
#[inline(always)]
fn nan_or(v: F32s, value: F32s) -> F32s {
    v.is_nan().select(v, value)
}

/// Which slices a kernel reads and writes.
enum Job<'a> {
    /// `dst[i] = f(src[i])`; the lengths are equal (checked by the caller).
    Map(&'a [f32], &'a mut [f32]),
    /// `x[i] = f(x[i])`.
    InPlace(&'a mut [f32]),
    /// `z[c·n + j] = f(z[c·n + j] + b[j])` for whole columns of n = b.len() (checked).
    AddBias(&'a mut [f32], &'a [f32]),
    /// `g[i] = g[i]·f(y[i])`; the lengths are equal (checked by the caller).
    ScaleInPlace(&'a mut [f32], &'a [f32]),
}

impl Job<'_> {
    /// Runs the loop for this job with the lane function `f`.
    #[inline(always)]
    fn run(self, f: impl Fn(F32s) -> F32s) {
        match self {
            Job::Map(src, dst) => map(src, dst, f),
            Job::InPlace(x) => map_in_place(x, f),
            Job::AddBias(z, b) => add_bias(z, b, |v, w| f(v + w)),
            Job::ScaleInPlace(g, y) => map_pair_in_place(g, y, |g, v| g * f(v)),
        }
    }
}

// The loops. Each takes two vectors per step: tanh and σ are long chains of dependent
// operations, and two independent chains let the core overlap them (about 25% faster for
// slices in L1). What is left after the pairs, fewer than 2·LANES elements, goes one vector
// at a time through the same lane function, the last vector padded with zeros.

/// A whole vector from a slice of exactly `LANES` elements.
#[inline(always)]
fn load(s: &[f32]) -> F32s {
    F32s::from(<[f32; LANES]>::try_from(s).expect("a whole vector"))
}

/// Up to `LANES` elements, padded with zeros. A whole vector takes the fixed-size load: a
/// copy of variable length is a call to `memcpy`, which for the short columns of a small
/// layer (16 units: every column is a tail) cost more than the activation itself.
#[inline(always)]
fn load_padded(s: &[f32]) -> F32s {
    if s.len() == LANES {
        return load(s);
    }
    let mut pad = [0.0f32; LANES];
    for (p, &v) in pad.iter_mut().zip(s) {
        *p = v;
    }
    F32s::from(pad)
}

/// The first `d.len()` (at most `LANES`) lanes of `v` into `d` (a whole vector as one
/// fixed-size store, see [`load_padded`]).
#[inline(always)]
fn store(d: &mut [f32], v: F32s) {
    if let Ok(d) = <&mut [f32; LANES]>::try_from(&mut *d) {
        *d = v.to_array();
        return;
    }
    for (d, &v) in d.iter_mut().zip(v.as_array()) {
        *d = v;
    }
}

/// The longest bias pattern [`add_bias`] repeats on the stack: 1 KiB.
const PATTERN: usize = 256;

/// `z[c·n + j] = f(z[c·n + j], b[j])` for whole columns of n = b.len().
///
/// Columns shorter than two vectors (a layer of 16 units, or the one output of a
/// regression) would each go through the padded tail, one column at a time. Instead the bias
/// is repeated into a pattern of L = lcm(n, 2·LANES) values, and the matrix is processed
/// as a flat slice in runs of L: the same f on the same pairs of values (the lane functions
/// are elementwise), so the same bits, in whole vectors.
#[inline(always)]
fn add_bias(z: &mut [f32], b: &[f32], f: impl Fn(F32s, F32s) -> F32s) {
    let n = b.len();
    let period = lcm(n, 2 * LANES);
    if n >= 2 * LANES || period > PATTERN {
        for column in z.chunks_exact_mut(n) {
            map_pair_in_place(column, b, &f);
        }
        return;
    }
    let mut pattern = [0.0f32; PATTERN];
    for (p, &v) in pattern[..period].iter_mut().zip(b.iter().cycle()) {
        *p = v;
    }
    let mut runs = z.chunks_exact_mut(period);
    for run in &mut runs {
        map_pair_in_place(run, &pattern[..period], &f);
    }
    // Whole columns remain (the run is a whole number of columns), so the pattern's start
    // lines up with them.
    let rest = runs.into_remainder();
    map_pair_in_place(rest, &pattern[..rest.len()], &f);
}

/// The least common multiple of two positive integers.
const fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

/// `dst[i] = f(src[i])` (same length).
#[inline(always)]
fn map(src: &[f32], dst: &mut [f32], f: impl Fn(F32s) -> F32s) {
    let mut s = src.chunks_exact(2 * LANES);
    let mut d = dst.chunks_exact_mut(2 * LANES);
    for (s, d) in (&mut s).zip(&mut d) {
        let (s0, s1) = s.split_at(LANES);
        let (d0, d1) = d.split_at_mut(LANES);
        let (y0, y1) = (f(load(s0)), f(load(s1)));
        store(d0, y0);
        store(d1, y1);
    }
    let tail = s.remainder().chunks(LANES);
    for (s, d) in tail.zip(d.into_remainder().chunks_mut(LANES)) {
        store(d, f(load_padded(s)));
    }
}

/// `x[i] = f(x[i])`.
#[inline(always)]
fn map_in_place(x: &mut [f32], f: impl Fn(F32s) -> F32s) {
    let mut c = x.chunks_exact_mut(2 * LANES);
    for d in &mut c {
        let (d0, d1) = d.split_at_mut(LANES);
        let (y0, y1) = (f(load(d0)), f(load(d1)));
        store(d0, y0);
        store(d1, y1);
    }
    for d in c.into_remainder().chunks_mut(LANES) {
        let y = f(load_padded(d));
        store(d, y);
    }
}

/// `x[i] = f(x[i], b[i])` (same length).
#[inline(always)]
fn map_pair_in_place(x: &mut [f32], b: &[f32], f: impl Fn(F32s, F32s) -> F32s) {
    let mut c = x.chunks_exact_mut(2 * LANES);
    let mut bc = b.chunks_exact(2 * LANES);
    for (d, b) in (&mut c).zip(&mut bc) {
        let (d0, d1) = d.split_at_mut(LANES);
        let (b0, b1) = b.split_at(LANES);
        let (y0, y1) = (f(load(d0), load(b0)), f(load(d1), load(b1)));
        store(d0, y0);
        store(d1, y1);
    }
    let tail = c.into_remainder().chunks_mut(LANES);
    for (d, b) in tail.zip(bc.remainder().chunks(LANES)) {
        let y = f(load_padded(d), load_padded(b));
        store(d, y);
    }
}
