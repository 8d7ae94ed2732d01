//! Backpropagation (eqs (1)–(17) of the post): a dense f32 network, mini-batch first.
//!
//! - [`network`]: what a user calls: [`Network`], its forward and backward passes and the
//!   SGD update, on nalgebra matrices with the elementwise work fused in SIMD.
//! - `kernel`: the matrix products (faer, on nalgebra's storage), the SIMD axpy and row sum
//!   around them, and [`Threads`], the split of a step over threads.
//! - [`accuracy`]: how far the f32 network's gradients may be from the f64 derivation (a
//!   per-parameter rounding bound from the operation count), and the conversions between the
//!   literal network and ours.
//! - [`claims`]: eqs (1)–(17), the training procedure, their experiments and extensions, with
//!   their planted bugs.

pub mod accuracy;
pub mod claims;
pub(crate) mod kernel;
pub mod network;

pub use kernel::Threads;
pub use network::{Dense, Gradients, Network, Workspace};
