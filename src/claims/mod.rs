//! Claim registry (being written).
