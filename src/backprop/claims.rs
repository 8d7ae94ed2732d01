//! The backprop claims: §6 (training procedure, SGD) and §7 (eqs (1)–(17)) of CLAIMS.md,
//! with their experiments and extensions.

use crate::claims::Claim;

/// Every claim of this derivation, in catalogue order.
pub fn claims() -> Vec<Claim> {
    let mut all = super::training::claims();
    all.extend(super::equations::claims());
    all.extend(super::gradients::claims());
    all.extend(super::extensions::claims());
    all
}
