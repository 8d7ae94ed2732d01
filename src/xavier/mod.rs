//! (being written)

pub mod claims;
