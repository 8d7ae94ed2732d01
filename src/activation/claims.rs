//! ACT-* claims (being written).
