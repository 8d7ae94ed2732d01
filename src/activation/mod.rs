//! Activation functions (§激励函数 of the post): fast f32 SIMD kernels and their claims.
//!
//! - [`kernel`]: what a user calls, [`Activation`] on slices of any length.
//! - `lanes`: the per-vector mathematics (the exp, tanh and sigmoid approximations).
//! - [`claims`]: the ACT-* claims, EXP-ACT-NONLIN and INF-*, with their planted bugs.
//! - [`accuracy`]: the measured ulp error of every kernel against the f64 specification.

pub mod accuracy;
pub mod claims;
pub mod kernel;
mod lanes;

pub use kernel::{Activation, Slope};
