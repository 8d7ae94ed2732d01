//! The backprop claims: the training procedure and SGD, eqs (1)–(17), their experiments and
//! extensions (the backprop rows of the catalogue appendix).

mod derivatives;
mod extensions;
mod fixtures;
mod forward;
mod gradients;
mod loss;
mod training;

use crate::claims::Claim;

/// Every claim of this derivation, in catalogue order.
pub fn claims() -> Vec<Claim> {
    let mut all = training::claims();
    all.extend(forward::claims());
    all.extend(derivatives::claims());
    all.extend(loss::claims());
    all.extend(gradients::claims());
    all.extend(extensions::claims());
    all
}
