//! How far our f32 network's gradients may be from the literal f64 derivation, and why: a
//! first-order rounding bound per parameter, derived from the operation count (the depth,
//! the widths, the batch size and each activation's kernel error), not tuned to pass.
//!
//! Use it to check your own training code against `derivations::backprop`: convert the
//! literal network with [`to_fast`], run both, read ours back with [`to_literal`], and
//! compare every parameter θ against γ_K(u)·S_θ from [`error_bound`].
//!
//! ```
//! use derivations::backprop::{self as spec, Activation, Network as Literal};
//! use dnn_proofs::backprop::accuracy::{error_bound, fast_inputs, gamma, to_fast, to_literal, U32, U64};
//!
//! // Parameters and inputs that are f32 values, so both precisions start from the same numbers.
//! let mut k = 0.0f32;
//! let net = Literal::from_fn(&[3, 4, 2], &[Activation::Tanh; 2], || {
//!     k += 0.37;
//!     f64::from(k.sin())
//! })?;
//! let batch: Vec<spec::Sample> = (0..5).map(|m| (vec![0.25 * m as f64, -0.5, 0.75], 0.5)).collect();
//! let exact = spec::eq17_batch_gradient(&net, &batch);
//! let fast = to_fast(&net);
//! let (x, y) = fast_inputs(&net, &batch);
//! let mut ws = fast.workspace(batch.len());
//! fast.backward(&x, &y, &mut ws).unwrap();
//! let g = ws.gradients();
//! let ours = to_literal(&net, |l| &g.weights[l], |l| &g.biases[l]);
//! let (scale, k) = error_bound(&net, &batch);
//! // The f32 run against the f64 one: the bound of both precisions' rounding.
//! let tol = gamma(k, U32) + gamma(k, U64);
//! assert!(net.params().into_iter().all(|p| (ours.get(p) - exact.get(p)).abs() <= tol * scale.get(p)));
//! # Ok::<(), derivations::backprop::ShapeError>(())
//! ```

use nalgebra::{DMatrix, DVector};

use crate::activation::Activation;
use crate::backprop::{Dense, Network};
use derivations::backprop::{
    self as spec, Activation as Act, Gradient, Network as Net, Param, Sample,
};

fn fast_activation(f: Act) -> Activation {
    match f {
        Act::Tanh => Activation::Tanh,
        Act::Sigmoid => Activation::Sigmoid,
        Act::Softsign => Activation::Softsign,
        Act::Relu => Activation::Relu,
        Act::LeakyRelu(a) => Activation::leaky_relu(a as f32).expect("slope in [0, 1)"),
        Act::Identity => Activation::Identity,
    }
}

/// The literal network as our f32 layers: layer i−1 → i is `Dense { W_{i−1}, b_i, f_i }`, and
/// C3's output unit is an identity layer of width 1. Exact when every parameter is an f32.
pub fn to_fast(net: &Net) -> Network {
    let n = net.n();
    let mut layers: Vec<Dense> = (1..n)
        .map(|i| Dense {
            weights: DMatrix::from_fn(net.width(i), net.width(i + 1), |j, k| {
                net.w(i, j + 1, k + 1) as f32
            }),
            bias: DVector::from_fn(net.width(i + 1), |k, _| net.b(i + 1, k + 1) as f32),
            activation: fast_activation(net.f(i + 1)),
        })
        .collect();
    layers.push(Dense {
        weights: DMatrix::from_fn(net.width(n), 1, |j, _| net.w_n(j + 1) as f32),
        bias: DVector::from_element(1, net.b_out() as f32),
        activation: Activation::Identity,
    });
    Network::new(layers).expect("the widths chain")
}

/// A batch as our network's inputs: x is J_1 × M and y is 1 × M, one column per sample.
pub fn fast_inputs(net: &Net, batch: &[Sample]) -> (DMatrix<f32>, DMatrix<f32>) {
    let m = batch.len();
    let x = DMatrix::from_fn(net.width(1), m, |r, c| batch[c].0[r] as f32);
    let y = DMatrix::from_fn(1, m, |_, c| batch[c].1 as f32);
    (x, y)
}

/// A literal-layout value read from our network's per-layer matrices: `w(l)` is layer l's
/// J_{l+1} × J_{l+2} matrix (the last layer is C3's output unit) and `b(l)` its vector.
pub fn to_literal<'a>(
    net: &Net,
    w: impl Fn(usize) -> &'a DMatrix<f32>,
    b: impl Fn(usize) -> &'a DVector<f32>,
) -> Gradient {
    let n = net.n();
    let mut g = Gradient::zeros(net);
    for p in net.params() {
        let (v, slot) = match p {
            Param::W { i, j, k } => (w(i - 1)[(j - 1, k - 1)], &mut g.w[i - 1][j - 1][k - 1]),
            Param::B { i, k } => (b(i - 2)[k - 1], &mut g.b[i - 2][k - 1]),
            Param::WOut { j } => (w(n - 1)[(j - 1, 0)], &mut g.w_out[j - 1]),
            Param::BOut => (b(n - 1)[0], &mut g.b_out),
        };
        *slot = f64::from(v);
    }
    g
}

/// Rounding errors per activation, in units of the unit roundoff u: (kernel error of f, kept
/// absolute since the outputs are bounded by 1; error of f' computed from the output,
/// relative; bound on |d f'/dO| and on |f''|).
/// - tanh, sigmoid, softsign: the kernels' committed bounds (ACT-KERNEL-ULP: ≤ 2.5 ulp,
///   i.e. ≤ 5u relative) are ≤ 5u absolute on outputs in [−1, 1]: take 8. f' from the output is
///   1 − y² (one fused rounding), y(1 − y) or (1 − |y|)² (≤ 3 roundings): take 3.
///   |d f'/dO| = |2y|, |1 − 2y|, 2(1 − |y|) ≤ 2, and |f''| ≤ 0.77, 0.1, 2: take 2.
/// - identity, ReLU, leaky ReLU: exact f (leaky: one rounding of αz) and constant f'.
fn activation_constants(f: Act) -> (u32, u32, f64, bool) {
    match f {
        Act::Tanh | Act::Sigmoid | Act::Softsign => (8, 3, 2.0, true),
        Act::LeakyRelu(_) => (1, 0, 0.0, false),
        Act::Relu | Act::Identity => (0, 0, 0.0, false),
    }
}

// ANCHOR: error_bound
/// Rounding counts of the forward pass: `k_o[i]` for O_i (layer 1, the input, is exact):
/// J_{i−1} + 1 for the dot product with its bias, then the activation's own error.
pub fn forward_counts(net: &Net) -> Vec<u32> {
    let mut k_o = vec![0u32; net.n() + 1];
    for i in 2..=net.n() {
        k_o[i] = k_o[i - 1] + net.width(i - 1) as u32 + 1 + activation_constants(net.f(i)).0;
    }
    k_o
}

/// Forward magnitudes for one sample: `(in_bar, a_bar)` with, at index i − 1, ĪN_i =
/// |W_{i−1}|ᵀ·Ā_{i−1} + |b_i| and Ā_i = ĪN_i, or max(ĪN_i, 1) where the kernel's error is
/// absolute (Ā_1 = |x|; `in_bar[0]` is empty).
pub fn forward_magnitudes(net: &Net, x: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut in_bar = vec![Vec::new()];
    let mut a_bar: Vec<Vec<f64>> = vec![x.iter().map(|v| v.abs()).collect()];
    for i in 2..=net.n() {
        let layer: Vec<f64> = (1..=net.width(i))
            .map(|k| {
                (1..=net.width(i - 1))
                    .map(|j| net.w(i - 1, j, k).abs() * a_bar[i - 2][j - 1])
                    .sum::<f64>()
                    + net.b(i, k).abs()
            })
            .collect();
        let bounded = activation_constants(net.f(i)).3;
        a_bar.push(
            layer
                .iter()
                .map(|&v| if bounded { v.max(1.0) } else { v })
                .collect(),
        );
        in_bar.push(layer);
    }
    (in_bar, a_bar)
}

/// A first-order bound on the rounding error of every batch gradient entry, as a scale S_θ
/// and a rounding count K: |computed − exact| ≤ γ_K·S_θ with γ_K = K·u/(1 − K·u).
///
/// Higham (Accuracy and Stability of Numerical Algorithms, §3.1): a dot product of J terms
/// errs by at most γ_J·Σ|x_j·y_j|, and first-order errors add along the computation. So we
/// evaluate the network once more on magnitudes, every quantity q replaced by q̄ ≥ |q|
/// ([`forward_magnitudes`]; f̄' = max(2·Ā, |f'|); δ̄ = Ḡ·f̄'; Ḡ_{i−1} = |W_{i−1}|·δ̄), and
/// count the roundings K on the longest chain: J + 1 per dot product with its bias, the
/// activation's constants, one per product, and M for the batch sum. The activations are
/// 1-Lipschitz, so a forward error passes through f at most unchanged; |d f'/dO| ≤ 2 and
/// |f''| ≤ 2 carry it into f'. S_θ = Σ_m Ā·δ̄ for a weight, Σ_m δ̄ for a bias.
pub fn error_bound(net: &Net, batch: &[Sample]) -> (Gradient, u32) {
    let n = net.n();
    let k_o = forward_counts(net);
    let k_out = k_o[n] + net.width(n) as u32 + 2; // ŷ = W_nᵀO_n + b_out, then ŷ − y
    let mut k = k_o[n] + k_out + 1; // ∂W_n = O_n·δ_out
    let mut k_g = k_out + 1; // G_n = W_n·δ_out
    for i in (2..=n).rev() {
        let k_delta = k_g + k_o[i] + activation_constants(net.f(i)).1 + 1;
        k = k.max(k_o[i - 1] + k_delta + 1);
        k_g = k_delta + net.width(i) as u32;
    }
    let k = k + batch.len() as u32;

    let mut s = Gradient::zeros(net);
    for (x, y) in batch {
        let fwd = spec::eq01_forward(net, x);
        let (_, a) = forward_magnitudes(net, x);
        let y_bar = (1..=net.width(n))
            .map(|j| net.w_n(j).abs() * a[n - 1][j - 1])
            .sum::<f64>()
            + net.b_out().abs();
        let delta_out = 2.0 * (y_bar + y.abs());
        for j in 1..=net.width(n) {
            s.w_out[j - 1] += a[n - 1][j - 1] * delta_out;
        }
        s.b_out += delta_out;
        let mut g_bar: Vec<f64> = (1..=net.width(n))
            .map(|j| net.w_n(j).abs() * delta_out)
            .collect();
        for i in (2..=n).rev() {
            let slope = activation_constants(net.f(i)).2;
            let delta: Vec<f64> = (1..=net.width(i))
                .map(|kk| {
                    g_bar[kk - 1]
                        * (slope * a[i - 1][kk - 1]).max(spec::f_prime(net, &fwd, i, kk).abs())
                })
                .collect();
            for j in 1..=net.width(i - 1) {
                for kk in 1..=net.width(i) {
                    s.w[i - 2][j - 1][kk - 1] += a[i - 2][j - 1] * delta[kk - 1];
                }
            }
            for kk in 1..=net.width(i) {
                s.b[i - 2][kk - 1] += delta[kk - 1];
            }
            g_bar = (1..=net.width(i - 1))
                .map(|j| {
                    (1..=net.width(i))
                        .map(|kk| net.w(i - 1, j, kk).abs() * delta[kk - 1])
                        .sum()
                })
                .collect();
        }
    }
    (s, k)
}
// ANCHOR_END: error_bound

/// γ_K for unit roundoff u.
pub fn gamma(k: u32, u: f64) -> f64 {
    let ku = f64::from(k) * u;
    ku / (1.0 - ku)
}

pub const U32: f64 = f32::EPSILON as f64 / 2.0;
pub const U64: f64 = f64::EPSILON / 2.0;
