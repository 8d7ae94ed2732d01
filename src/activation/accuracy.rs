//! Measured accuracy of the activation kernels (being written).
