//! (being written)

use crate::claims::Claim;

pub(super) fn claims() -> Vec<Claim> {
    Vec::new()
}
