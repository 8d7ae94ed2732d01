//! # proofs-engine
//!
//! The engine behind `dnn-proofs`, for anyone's code: claims whose checks run against the
//! code under test *and* against planted wrong variants of it, evidence that is never a bare
//! bool (and never passes on a NaN, a panic or nothing), experiments decided over
//! independent replicates, a catalogue that says what each claim must come out as, the
//! statistics with stated α and power, and a runner with a report and a seed meter.
//!
//! - [`claims`]: claims, planted bugs, evidence, experiments, the catalogue, suites, the
//!   runner.
//! - [`stats`]: exact and asymptotic tests (binomial, χ², DKW/KS, z) and the arithmetic that
//!   sizes samples.
//! - [`report`]: the terminal table, JSON, Markdown and SVG figures.
//!
//! It knows no derivation: `dnn-proofs`'s catalogue of a blog post is one user of it.

#![forbid(unsafe_code)]

pub mod claims;
pub mod error;
pub mod report;
pub mod stats;

pub use error::{Error, Result};
/// The `rand` the checks draw with, so a user's crate needs no matching version.
pub use rand;
