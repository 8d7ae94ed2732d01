//! The specification: the seed post's mathematics transcribed literally in plain `f64`.
//!
//! Every function here follows the post's notation index for index, with the corrections
//! that the catalogue (the book's Appendix A) records where the post misprints an index or a
//! sign. Nothing here is fast or clever; it is what the fast kernels of `dnn_proofs` are
//! checked against.
//! This crate depends on nothing of ours: the specification knows nothing of the fast code.

#![forbid(unsafe_code)]

pub mod activation;
pub mod backprop;
pub mod batch_norm;
pub mod dropout;
pub mod xavier;
