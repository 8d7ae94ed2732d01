//! The claims of this derivation (being written).

use crate::claims::Claim;

/// Every claim of this derivation, in catalogue order.
pub fn claims() -> Vec<Claim> {
    Vec::new()
}
