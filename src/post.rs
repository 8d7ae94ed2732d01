//! The post's catalogue: every claim of "深度神经网络简介" registered by the derivation it
//! belongs to, and the catalogue appendix of the book that says what each must come out as.
//! This module sits above every derivation; the engine ([`crate::claims`]) knows none.

use crate::claims::{Claim, Suite};

/// The catalogue appendix (`book/src/catalogue.md`), the source of every expected result.
pub const CATALOGUE: &str = include_str!("../book/src/catalogue.md");

/// Every registered claim of the post, in catalogue order.
pub fn registry() -> Vec<Claim> {
    let mut all = Vec::new();
    all.extend(crate::activation::claims::claims());
    all.extend(crate::backprop::claims::claims());
    all.extend(crate::xavier::claims::claims());
    all.extend(crate::batch_norm::claims::claims());
    all.extend(crate::dropout::claims::claims());
    all
}

/// The post's suite: the registry judged by the catalogue appendix.
///
/// # Panics
/// If the catalogue appendix cannot be parsed (a test keeps it parseable).
pub fn suite() -> Suite {
    Suite::new(
        concat!("dnn-proofs ", env!("CARGO_PKG_VERSION")),
        registry(),
        CATALOGUE,
    )
    .expect("book/src/catalogue.md parses")
    .with_build(format!(
        "SIMD: {} × f32 lanes ({})",
        crate::simd::LANES,
        crate::simd::instruction_set()
    ))
    .with_book_dir("book/src/generated")
}
