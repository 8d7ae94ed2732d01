//! Backpropagation (eqs (1)–(17) of the post): a dense f32 network, mini-batch first.
//!
//! - [`network`]: what a user calls: [`Network`], its forward and backward passes and the
//!   SGD update, on nalgebra matrices with the elementwise work fused in SIMD.
//! - `kernel`: the SIMD axpy and row sum around the matrix products.

pub mod claims;
mod equations;
mod extensions;
mod fixtures;
mod gradients;
pub(crate) mod kernel;
pub mod network;
mod training;

pub use network::{Dense, Gradients, Network, Workspace};
