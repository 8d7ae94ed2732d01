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

    /// `out[i] = f(z[i])`. Lengths must match.
    pub fn forward(self, z: &[f32], out: &mut [f32]) -> Result<()> {
        check_len("output", z.len(), out.len())?;
        map(z, out, |v| self.forward_lanes(v));
        Ok(())
    }

    /// `z[i] = f(z[i])`.
    pub fn forward_in_place(self, z: &mut [f32]) {
        map_in_place(z, |v| self.forward_lanes(v));
    }

    /// The dense layer's fused step: `z = f(z + b)` with `b` broadcast along each column.
    ///
    /// `z` holds whole columns of length `bias.len()` one after another (nalgebra's
    /// column-major layout of a units × batch matrix), so `z[c·n + j] ← f(z[c·n + j] + b[j])`.
    /// One read and one write per element.
    pub fn forward_with_bias(self, z: &mut [f32], bias: &[f32]) -> Result<()> {
        let n = bias.len();
        if n == 0 || z.len() % n != 0 {
            return Err(Error::NotWholeColumns {
                what: "pre-activations",
                column: n,
                found: z.len(),
            });
        }
        for column in z.chunks_exact_mut(n) {
            map_pair_in_place(column, bias, |v, b| self.forward_lanes(v + b));
        }
        Ok(())
    }

    /// `out[i] = f'(z[i])`, the derivative at the input.
    pub fn derivative(self, z: &[f32], out: &mut [f32]) -> Result<()> {
        check_len("output", z.len(), out.len())?;
        map(z, out, |v| self.derivative_lanes(v));
        Ok(())
    }

    /// `z[i] = f'(z[i])`.
    pub fn derivative_in_place(self, z: &mut [f32]) {
        map_in_place(z, |v| self.derivative_lanes(v));
    }

    /// `out[i] = f'(z[i])` computed from the stored output `y[i] = f(z[i])`, as backprop
    /// does: σ' = y(1 − y), tanh' = 1 − y², softsign' = (1 − |y|)², ReLU' = [y > 0],
    /// leaky' = 1 if y > 0 else α. No transcendental function is evaluated.
    pub fn derivative_from_output(self, y: &[f32], out: &mut [f32]) -> Result<()> {
        check_len("output", y.len(), out.len())?;
        map(y, out, |v| self.derivative_from_output_lanes(v));
        Ok(())
    }

    /// `y[i] = f'(z[i])` in place, from the stored output `y[i] = f(z[i])`.
    pub fn derivative_from_output_in_place(self, y: &mut [f32]) {
        map_in_place(y, |v| self.derivative_from_output_lanes(v));
    }

    /// Backprop's elementwise step, fused: `grad[i] ← grad[i]·f'(z[i])` with f' computed
    /// from the stored output `y[i] = f(z[i])` (δ = g ⊙ f'(IN), eq. (13)/(14) and C4).
    /// One read of each buffer and one write.
    pub fn backward_in_place(self, y: &[f32], grad: &mut [f32]) -> Result<()> {
        check_len("gradient", y.len(), grad.len())?;
        map_pair_in_place(grad, y, |g, v| g * self.derivative_from_output_lanes(v));
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

/// Applies `f` to `src` a vector at a time into `dst` (same length); the tail is padded.
#[inline(always)]
fn map(src: &[f32], dst: &mut [f32], f: impl Fn(F32s) -> F32s) {
    let mut s = src.chunks_exact(LANES);
    let mut d = dst.chunks_exact_mut(LANES);
    for (s, d) in (&mut s).zip(&mut d) {
        let v = F32s::from(<[f32; LANES]>::try_from(s).expect("exact chunk"));
        d.copy_from_slice(&f(v).to_array());
    }
    let (s, d) = (s.remainder(), d.into_remainder());
    if !s.is_empty() {
        let mut pad = [0.0f32; LANES];
        pad[..s.len()].copy_from_slice(s);
        d.copy_from_slice(&f(F32s::from(pad)).to_array()[..s.len()]);
    }
}

/// Applies `f` in place, a vector at a time; the tail is padded.
#[inline(always)]
fn map_in_place(x: &mut [f32], f: impl Fn(F32s) -> F32s) {
    let mut c = x.chunks_exact_mut(LANES);
    for d in &mut c {
        let v = F32s::from(<[f32; LANES]>::try_from(&*d).expect("exact chunk"));
        d.copy_from_slice(&f(v).to_array());
    }
    let d = c.into_remainder();
    if !d.is_empty() {
        let mut pad = [0.0f32; LANES];
        pad[..d.len()].copy_from_slice(d);
        let n = d.len();
        d.copy_from_slice(&f(F32s::from(pad)).to_array()[..n]);
    }
}

/// `x[i] = f(x[i], b[i])` in place (same length); the tail is padded.
#[inline(always)]
fn map_pair_in_place(x: &mut [f32], b: &[f32], f: impl Fn(F32s, F32s) -> F32s) {
    let mut c = x.chunks_exact_mut(LANES);
    let mut bc = b.chunks_exact(LANES);
    for (d, b) in (&mut c).zip(&mut bc) {
        let v = F32s::from(<[f32; LANES]>::try_from(&*d).expect("exact chunk"));
        let w = F32s::from(<[f32; LANES]>::try_from(b).expect("exact chunk"));
        d.copy_from_slice(&f(v, w).to_array());
    }
    let (d, b) = (c.into_remainder(), bc.remainder());
    if !d.is_empty() {
        let (mut pv, mut pb) = ([0.0f32; LANES], [0.0f32; LANES]);
        let n = d.len();
        pv[..n].copy_from_slice(d);
        pb[..n].copy_from_slice(b);
        d.copy_from_slice(&f(F32s::from(pv), F32s::from(pb)).to_array()[..n]);
    }
}
