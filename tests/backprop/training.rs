//! Training-procedure properties (being written).
