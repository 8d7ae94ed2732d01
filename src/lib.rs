//! # dnn-proofs
//!
//! Fast f32 kernels for the derivations of deep-network training, and the executable proofs
//! that they (and the blog post they come from) are right, or exactly where they are wrong.
//!
//! - [`activation`]: activation functions and their derivatives (claims ACT-*).
//! - [`backprop`]: the dense network, its backward pass and SGD (BP-*, LOSS-*, SGD-*).
//! - [`xavier`]: initialisers and the variance conditions (XAV-*, VAR-*).
//! - [`batch_norm`]: batch normalisation, training and inference (BN-*).
//! - [`dropout`]: masks, scaling and inverted dropout (DROP-*, REG-*).
//! - [`claims`]: the registry of claims, each with its check and its planted bugs.
//! - [`stats`]: the exact and asymptotic tests the statistical checks use.
//!
//! Kernels know nothing of claims; claims use kernels, the literal `derivations` crate and
//! the statistics. The runner (`cargo run --release`) uses the claims.

#![forbid(unsafe_code)]

pub mod activation;
pub mod backprop;
pub mod batch_norm;
pub mod claims;
pub mod dropout;
pub mod error;
pub mod post;
pub mod report;
pub mod simd;
pub mod stats;
pub mod xavier;

pub use error::{Error, Result};
