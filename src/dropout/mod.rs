//! Dropout (§Dropout of the post; Srivastava et al. 2014) and the regularisers the post
//! lists at its end: fast f32 kernels and their claims.
//!
//! **p is the keep probability** (conventions appendix, C6); [`KeepProb`] says so in every
//! signature.
//!
//! - [`generator`]: the counter-based mask generator, [`MaskStream`].
//! - [`mask`]: the mask as bits, [`Mask`].
//! - [`kernel`]: [`Dropout`]: mask-and-scale forward, backward from the bits, prediction
//!   scaling.
//! - [`network`]: a dense network with dropout on its hidden layers, built from
//!   [`crate::backprop::Dense`] layers.
//! - [`regularisers`]: L0, L1 (soft-thresholding), L2 (weight decay) and max-norm in f32.
//! - [`claims`]: DROP-*, REG-*, EXP-DROP-*, EXT-DROP-*, with their planted bugs.

pub mod claims;
pub mod generator;
pub mod kernel;
pub mod mask;
pub mod network;
pub mod regularisers;

pub use generator::MaskStream;
pub use kernel::{Dropout, KeepProb, Scaling};
pub use mask::Mask;
pub use network::{DropoutNetwork, DropoutWorkspace, Loss};
