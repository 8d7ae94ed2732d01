//! Batch normalisation (§Batch Normalization of the post; Ioffe & Szegedy 2015): fast f32
//! kernels and the BN-* claims.
//!
//! - [`BatchNorm`]: the layer. Training forward (Algorithm 1) with one stable pass for the
//!   statistics, the backward pass (EXT-BN-BWD), and inference as one fused affine map per
//!   element (Algorithm 2, [`Affine`], out of place or in place, which also folds into the
//!   preceding layer, EXT-BN-FOLD).
//! - [`RunningStats`]: the inference statistics, as the post's cumulative average or as an
//!   exponential moving average with PyTorch's momentum convention (EXT-BN-EMA).
//! - `kernel`: the SIMD loops on the column-major features × batch layout.
//! - [`accuracy`]: how far the f32 kernels may be from the f64 specification, and why.
//! - [`claims`]: BN-*, EXP-BN-* and EXT-BN-*, with their planted bugs.
//!
//! Layout: a batch is an F × m `DMatrix<f32>`, one sample per column (features × batch, as in
//! `backprop`). Per-feature statistics are then sums across columns, vectorised across the
//! contiguous features of each column.

pub mod accuracy;
pub mod claims;
mod kernel;
mod layer;
mod running;

pub use kernel::ROW_BLOCK;
pub use layer::{Affine, BatchNorm, BatchStats, ParamGradients};
pub use running::{Averaging, RunningStats};
