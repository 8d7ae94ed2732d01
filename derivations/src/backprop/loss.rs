//! Eqs (8)–(12): the loss unit and the output layer, where backpropagation starts.

use super::*;

// ANCHOR: eq08_loss
/// Eq (8), LOSS-08: ℓ = (y − ŷ)² for one sample.
///
/// The post calls the loss unit "neuron k of layer n"; since (11)–(12) feed it from layer n,
/// it is layer n+1 (C3; a typo in the layer index).
pub fn eq08_loss(y: f64, y_hat: f64) -> f64 {
    (y - y_hat) * (y - y_hat)
}
// ANCHOR_END: eq08_loss

// ANCHOR: eq09_loss_input
/// Eq (9), LOSS-09, in the catalogue's reading: the loss unit's input is IN_ℓ := ŷ − y, and its
/// "activation" is u ↦ u², so ℓ = IN_ℓ².
///
/// The post prints V_{IN_ℓ} = V(O_{n,k}), which read literally is ℓ itself (or ŷ); under
/// neither reading is (10) the derivative of ℓ (wrong as written).
pub fn eq09_loss_input(y: f64, y_hat: f64) -> f64 {
    y_hat - y
}
// ANCHOR_END: eq09_loss_input

// ANCHOR: eq10_loss_derivative
/// Eq (10), LOSS-10: ℓ'(IN_ℓ) = 2·IN_ℓ = 2(ŷ − y) = ∂ℓ/∂ŷ. One multiplication.
///
/// Right only with IN_ℓ := ŷ − y ([`eq09_loss_input`]). With IN_ℓ = y − ŷ, the expression
/// inside the square of (8), the sign flips and SGD ascends; with IN_ℓ = ℓ it gives 2ℓ.
pub fn eq10_loss_derivative(in_l: f64, muls: &mut u64) -> f64 {
    *muls += 1;
    2.0 * in_l
}
// ANCHOR_END: eq10_loss_derivative

// ANCHOR: eq11_output_weight_gradient
/// Eq (11), OUT-11: ∂ℓ/∂W_{n,j_n} = ℓ'(IN_ℓ)·O_{n,j_n}, for j_n = 1..J_n. J_n multiplications.
pub fn eq11_output_weight_gradient(
    net: &Network,
    fwd: &Forward,
    l_prime: f64,
    muls: &mut u64,
) -> Vec<f64> {
    let n = net.n();
    let mut grad = vec![0.0; net.width(n)];
    for j_n in 1..=net.width(n) {
        grad[j_n - 1] = l_prime * fwd.o(n, j_n);
        *muls += 1;
    }
    grad
}
// ANCHOR_END: eq11_output_weight_gradient

// ANCHOR: eq11_output_bias_gradient
/// OUT-11's note (the post gives no output bias): ∂ℓ/∂b_out = ℓ'(IN_ℓ)·1 = ℓ'(IN_ℓ).
pub fn eq11_output_bias_gradient(l_prime: f64) -> f64 {
    l_prime
}
// ANCHOR_END: eq11_output_bias_gradient

// ANCHOR: eq12_last_layer
/// Eq (12), OUT-12: g_{n,j_n} = ∂ℓ/∂O_{n,j_n} = ℓ'(IN_ℓ)·W_{n,j_n}. J_n multiplications.
pub fn eq12_last_layer(net: &Network, l_prime: f64, muls: &mut u64) -> Vec<f64> {
    let n = net.n();
    let mut g_n = vec![0.0; net.width(n)];
    for j_n in 1..=net.width(n) {
        g_n[j_n - 1] = l_prime * net.w_n(j_n);
        *muls += 1;
    }
    g_n
}
// ANCHOR_END: eq12_last_layer
