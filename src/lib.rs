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
//! - [`Threads`]: how many threads the training step and batch norm may use.
//! - [`post`]: the post's catalogue: every claim registered, judged by the book's catalogue
//!   appendix.
//! - [`claims`], [`stats`], [`report`]: the engine (the `proofs-engine` crate, re-exported):
//!   claims with planted bugs, evidence, experiments, suites, the runner, the statistics.
//!
//! Kernels know nothing of claims; claims use kernels, the literal `derivations` crate and
//! the engine; the engine knows no derivation. The runner (`cargo run --release`) runs the
//! post's suite.

#![forbid(unsafe_code)]

pub mod activation;
pub mod backprop;
pub mod batch_norm;
pub mod dropout;
pub mod post;
pub mod simd;
pub mod threads;
pub mod xavier;

pub use threads::Threads;

/// One `#[test]` per claim: see [`claims::testing`].
pub use proofs_engine::claim_tests;
/// The engine: claims, evidence, experiments, the catalogue, suites and the runner.
pub use proofs_engine::claims;
/// Error types shared with the engine: bad input is refused with a message naming the value.
pub use proofs_engine::error;
pub use proofs_engine::error::{Error, Result};
/// The `rand` every check draws with ([`claims::Ctx::rng`] is a [`claims::Rng`]), so a
/// user's crate needs no matching version.
pub use proofs_engine::rand;
/// The report: table, JSON, Markdown and figures.
pub use proofs_engine::report;
/// The statistics: exact and asymptotic tests with stated α and power.
pub use proofs_engine::stats;
