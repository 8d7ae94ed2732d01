//! Xavier initialisation (eqs (18)–(23) of the post) and its corrections: the initialisers,
//! their SIMD sampling kernels, the depth experiment, and the claims.
//!
//! - [`init`]: what a user calls: [`Init`] (Xavier uniform and normal with gain, He uniform
//!   and normal, LeCun, the "standard" heuristic, naive normal) filling an nalgebra matrix
//!   from an injected RNG; fans come from the shape, rows in and columns out (C2).
//! - [`kernel`]: random bits to f32 weights in SIMD lanes (uniform, normal, truncated).
//! - [`experiment`]: per-layer activation and gradient statistics through deep networks,
//!   from real forward and backward passes of [`crate::backprop`] (EXP-XAV-DEPTH).
//! - [`claims`]: XAV-*, VAR-*, EXP-XAV-*, and the extensions EXT-HE, EXT-LECUN, ….

pub mod claims;
pub mod experiment;
pub mod init;
pub mod kernel;

pub use init::{Distribution, Fans, Init};
