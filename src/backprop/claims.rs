//! The backprop claims: the training procedure and SGD, eqs (1)–(17), their experiments and
//! extensions (the backprop rows of the catalogue appendix).

use crate::claims::Claim;

/// Every claim of this derivation, in catalogue order.
pub fn claims() -> Vec<Claim> {
    let mut all = super::training::claims();
    all.extend(super::equations::claims());
    all.extend(super::gradients::claims());
    all.extend(super::extensions::claims());
    all
}
