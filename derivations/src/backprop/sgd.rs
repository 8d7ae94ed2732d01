//! Eq (17): the batch gradient summed over samples, and the SGD update.

use super::*;

/// One training sample (x, y): x has J_1 entries, y is the scalar target.
pub type Sample = (Vec<f64>, f64);

/// ℓ^{(m)} = (y^{(m)} − ŷ^{(m)})² for one sample (eq (8) after eq (1)).
pub fn sample_loss(net: &Network, x: &[f64], y: f64) -> f64 {
    eq08_loss(y, eq01_forward(net, x).y_hat)
}

/// Σ_{m=1}^{M} ℓ^{(m)}, the loss whose gradient eq (17) follows (C7's sum).
pub fn batch_loss(net: &Network, batch: &[Sample]) -> f64 {
    batch.iter().map(|(x, y)| sample_loss(net, x, *y)).sum()
}

// ANCHOR: eq17_batch_gradient
/// SGD-17: Σ_{m=1}^{M} ∂ℓ^{(m)}/∂θ for every parameter θ, all M terms at the *same* weights
/// (C7: the sum, not the mean). The post's summand carries no sample index, which read
/// literally sums one term M times (a typo).
pub fn eq17_batch_gradient(net: &Network, batch: &[Sample]) -> Gradient {
    let mut sum = Gradient::zeros(net);
    for (x, y) in batch {
        sum = sum.add(&eq15_gradient(net, x, *y, &mut 0));
    }
    sum
}
// ANCHOR_END: eq17_batch_gradient

// ANCHOR: eq17_sgd_update
/// Eq (17), SGD-17: θ ← θ − α·G_θ for every parameter θ (weights, and biases by the same rule,
/// which the post leaves unstated), given G = Σ_m ∂ℓ^{(m)}/∂θ. Returns the updated network.
pub fn eq17_apply(net: &Network, grad_sum: &Gradient, alpha: f64) -> Network {
    let mut next = net.clone();
    for p in net.params() {
        *next.param_mut(p) = net.param(p) - alpha * grad_sum.get(p);
    }
    next
}

/// Eq (17), SGD-17 (corrected): W ← W − α·Σ_{m=1}^{M} ∂ℓ^{(m)}/∂W, for every weight and bias,
/// with every per-sample gradient taken at the pre-update weights.
pub fn eq17_sgd_update(net: &Network, batch: &[Sample], alpha: f64) -> Network {
    eq17_apply(net, &eq17_batch_gradient(net, batch), alpha)
}
// ANCHOR_END: eq17_sgd_update
