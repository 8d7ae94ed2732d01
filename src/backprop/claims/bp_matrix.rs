//! EXT-BP-MATRIX: the batched matrix form of (13), (14), (16) and (17) equals the per-sample
//! loops of the literal derivation, summed over the batch.
//!
//! Two implementations of the matrix form are checked against Σ of [`spec::eq15_gradient`]:
//! (A) the catalogue's equations in f64 with rows as samples, written here (the planted
//! transposes live in it), and (B) our f32 network, columns as samples. Both comparisons use
//! the rounding-error bound of [`error_bound`], derived from the depth, the widths, the batch
//! size and the unit roundoff of each precision.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::super::training::ROOM;
use crate::activation::Activation;
use crate::backprop::{Dense, Network};
use crate::claims::{Claim, Findings, MaxError, Planted, PostVerdict, Tally};
use derivations::backprop::{
    self as spec, Activation as Act, Gradient, Network as Net, Param, Sample,
};

#[derive(Clone, Copy)]
enum Bug {
    TransposedBackward,
    TransposedWeightGradient,
    MeanForSum,
}

// ------------------------------------------------------------------ (A) the f64 matrix form

/// W_i as a J_i × J_{i+1} matrix (C2).
fn weights(net: &Net, i: usize) -> DMatrix<f64> {
    DMatrix::from_fn(net.width(i), net.width(i + 1), |r, c| {
        net.w(i, r + 1, c + 1)
    })
}

/// a·b, or the shape error a transposed operand gives on a non-square layer.
fn product(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<DMatrix<f64>, String> {
    if a.ncols() == b.nrows() {
        Ok(a * b)
    } else {
        Err(format!(
            "{}×{} times {}×{}",
            a.nrows(),
            a.ncols(),
            b.nrows(),
            b.ncols()
        ))
    }
}

// ANCHOR: matrix_gradient
/// EXT-BP-MATRIX in the catalogue's form, rows as samples (M × J matrices):
/// IN_i = O_{i−1}·W_{i−1} + 1·b_iᵀ, O_i = f(IN_i); ℓ' = 2(ŷ − y) (M × 1);
/// Δ_i = G_i ⊙ f'(IN_i); ∂L/∂W_{i−1} = O_{i−1}ᵀ·Δ_i; ∂L/∂b_i = 1ᵀ·Δ_i; G_{i−1} = Δ_i·W_{i−1}ᵀ,
/// starting from G_n = ℓ'·W_nᵀ (eq (12)). Sums over the batch, as eq (17) does.
fn matrix_gradient(net: &Net, batch: &[Sample], bug: Option<Bug>) -> Result<Gradient, String> {
    let (n, m) = (net.n(), batch.len());
    let ones = DMatrix::from_element(m, 1, 1.0);
    let mut outs = vec![DMatrix::from_fn(m, net.width(1), |r, c| batch[r].0[c])];
    let mut ins = vec![DMatrix::zeros(0, 0)]; // layer 1 has no IN
    for i in 2..=n {
        let bias = DMatrix::from_fn(1, net.width(i), |_, k| net.b(i, k + 1));
        let z = product(&outs[i - 2], &weights(net, i - 1))? + &ones * bias;
        outs.push(z.map(|v| net.f(i).f(v)));
        ins.push(z);
    }
    let w_out = DMatrix::from_fn(net.width(n), 1, |j, _| net.w_n(j + 1));
    let y = DMatrix::from_fn(m, 1, |r, _| batch[r].1);
    let l_prime = (product(&outs[n - 1], &w_out)?.add_scalar(net.b_out()) - y) * 2.0;
    let scale = match bug {
        Some(Bug::MeanForSum) => 1.0 / m as f64, // planted: the mean
        _ => 1.0,
    };
    let mut grad = Gradient::zeros(net);
    grad.w_out = (outs[n - 1].transpose() * &l_prime * scale)
        .iter()
        .copied()
        .collect();
    grad.b_out = l_prime.sum() * scale;
    let mut g = product(&l_prime, &w_out.transpose())?;
    for i in (2..=n).rev() {
        let delta = g.zip_map(&ins[i - 1], |gv, z| gv * net.f(i).derivative(z));
        let w_grad = match bug {
            Some(Bug::TransposedWeightGradient) => product(&delta.transpose(), &outs[i - 2])?,
            _ => product(&outs[i - 2].transpose(), &delta)?,
        } * scale;
        if w_grad.shape() != (net.width(i - 1), net.width(i)) {
            return Err(format!(
                "∂L/∂W_{} is {:?}, W_{} is {}×{}",
                i - 1,
                w_grad.shape(),
                i - 1,
                net.width(i - 1),
                net.width(i)
            ));
        }
        grad.w[i - 2] = w_grad
            .row_iter()
            .map(|r| r.iter().copied().collect())
            .collect();
        grad.b[i - 2] = (ones.transpose() * &delta * scale)
            .iter()
            .copied()
            .collect();
        if i > 2 {
            g = match bug {
                Some(Bug::TransposedBackward) => product(&delta, &weights(net, i - 1))?,
                _ => product(&delta, &weights(net, i - 1).transpose())?,
            };
        }
    }
    Ok(grad)
}
// ANCHOR_END: matrix_gradient

// ------------------------------------------------------------------ (B) our f32 network

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
pub(in crate::backprop) fn to_fast(net: &Net) -> Network {
    let n = net.n();
    let mut layers: Vec<Dense> = (1..n)
        .map(|i| Dense {
            weights: weights(net, i).map(|v| v as f32),
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
pub(in crate::backprop) fn fast_inputs(
    net: &Net,
    batch: &[Sample],
) -> (DMatrix<f32>, DMatrix<f32>) {
    let m = batch.len();
    let x = DMatrix::from_fn(net.width(1), m, |r, c| batch[c].0[r] as f32);
    let y = DMatrix::from_fn(1, m, |_, c| batch[c].1 as f32);
    (x, y)
}

/// A literal-layout value read from our network's per-layer matrices: `w(l)` is layer l's
/// J_{l+1} × J_{l+2} matrix (the last layer is C3's output unit) and `b(l)` its vector.
pub(in crate::backprop) fn to_literal<'a>(
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

/// Our network's batch gradients (one backward pass on the M columns), in the literal layout.
/// The planted mean-for-sum bug averages them where the sum is documented.
fn fast_gradient(net: &Net, batch: &[Sample], bug: Option<Bug>) -> Gradient {
    let fast = to_fast(net);
    let (x, y) = fast_inputs(net, batch);
    let mut ws = fast.workspace(batch.len());
    fast.backward(&x, &y, &mut ws).expect("shapes fit");
    let gr = ws.gradients();
    let g = to_literal(net, |l| &gr.weights[l], |l| &gr.biases[l]);
    if matches!(bug, Some(Bug::MeanForSum)) {
        g.scale(1.0 / batch.len() as f64)
    } else {
        g
    }
}

// ------------------------------------------------------------------ the error bound

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
fn forward_counts(net: &Net) -> Vec<u32> {
    let mut k_o = vec![0u32; net.n() + 1];
    for i in 2..=net.n() {
        k_o[i] = k_o[i - 1] + net.width(i - 1) as u32 + 1 + activation_constants(net.f(i)).0;
    }
    k_o
}

/// Forward magnitudes for one sample: `(in_bar, a_bar)` with, at index i − 1, ĪN_i =
/// |W_{i−1}|ᵀ·Ā_{i−1} + |b_i| and Ā_i = ĪN_i, or max(ĪN_i, 1) where the kernel's error is
/// absolute (Ā_1 = |x|; `in_bar[0]` is empty).
fn forward_magnitudes(net: &Net, x: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
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
pub(in crate::backprop) fn error_bound(net: &Net, batch: &[Sample]) -> (Gradient, u32) {
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
pub(in crate::backprop) fn gamma(k: u32, u: f64) -> f64 {
    let ku = f64::from(k) * u;
    ku / (1.0 - ku)
}

pub(in crate::backprop) const U32: f64 = f32::EPSILON as f64 / 2.0;
pub(in crate::backprop) const U64: f64 = f64::EPSILON / 2.0;

/// The largest |a_θ − b_θ| / tol_θ over every parameter (∞ where tol_θ = 0 and a_θ ≠ b_θ).
fn worst(net: &Net, a: &Gradient, b: &Gradient, s: &Gradient, gamma: f64) -> f64 {
    worst_over(net, a, b, s, gamma, |_| true)
}

/// As [`worst`], over the parameters `keep` selects.
pub(in crate::backprop) fn worst_over(
    net: &Net,
    a: &Gradient,
    b: &Gradient,
    s: &Gradient,
    gamma: f64,
    keep: impl Fn(Param) -> bool,
) -> f64 {
    net.params()
        .into_iter()
        .filter(|&p| keep(p))
        .map(|p| {
            let (diff, tol) = ((a.get(p) - b.get(p)).abs(), gamma * s.get(p));
            if diff == 0.0 {
                0.0
            } else if tol > 0.0 {
                diff / tol
            } else {
                f64::INFINITY
            }
        })
        .fold(0.0, f64::max)
}

// ------------------------------------------------------------------ problems

const ACTIVATIONS: [Act; 6] = [
    Act::Tanh,
    Act::Sigmoid,
    Act::Softsign,
    Act::Identity,
    Act::Relu,
    Act::LeakyRelu(0.01),
];

/// An f32 value from U(−1, 1), as f64.
fn f32_unit(rng: &mut impl Rng) -> f64 {
    f64::from(rng.random_range(-1.0f32..1.0))
}

/// A random problem with every parameter and input an f32 value (so both precisions start
/// from the same numbers): depth 2..=6, widths 1..=20 (past one SIMD vector of 16), a third
/// of them square (so transposes must be caught by values, not shapes), batches of 1..=24.
/// In ReLU-type layers every |IN| stays above 1e-3 (conventions appendix, Gradient checks) and above twice its f32
/// forward error bound γ_k·ĪN, so f32 and f64 take the same side of the kink.
pub(in crate::backprop) fn problem(rng: &mut impl Rng) -> (Net, Vec<Sample>) {
    loop {
        let n = rng.random_range(2..=6);
        let square = rng.random_range(0..3) == 0;
        let j = rng.random_range(1..=20);
        let widths: Vec<usize> = (0..n)
            .map(|_| if square { j } else { rng.random_range(1..=20) })
            .collect();
        let acts: Vec<Act> = (1..n)
            .map(
                |_| match ACTIVATIONS[rng.random_range(0..ACTIVATIONS.len())] {
                    // The f32 slope 0.01 is not the f64 0.01: both use the f32 one.
                    Act::LeakyRelu(_) => Act::LeakyRelu(f64::from(0.01f32)),
                    f => f,
                },
            )
            .collect();
        let net = Net::from_fn(&widths, &acts, || f32_unit(rng))
            .expect("fixed widths and activations fit");
        let m = rng.random_range(1..=24);
        let batch: Vec<Sample> = (0..m)
            .map(|_| {
                (
                    (0..widths[0]).map(|_| f32_unit(rng)).collect(),
                    f32_unit(rng),
                )
            })
            .collect();
        let k_o = forward_counts(&net);
        let kink_free = batch.iter().all(|(x, _)| {
            let fwd = spec::eq01_forward(&net, x);
            let (in_bar, _) = forward_magnitudes(&net, x);
            (2..=n).all(|i| {
                let margin = 2.0 * gamma(k_o[i - 1] + net.width(i - 1) as u32 + 1, U32);
                !matches!(net.f(i), Act::Relu | Act::LeakyRelu(_))
                    || fwd.ins[i - 1]
                        .iter()
                        .zip(&in_bar[i - 1])
                        .all(|(v, bar)| v.abs() > 1e-3_f64.max(margin * bar))
            })
        });
        if kink_free {
            return (net, batch);
        }
    }
}

// ANCHOR: ext_bp_matrix
pub(super) fn ext_bp_matrix() -> Claim {
    Claim::checked(
        "EXT-BP-MATRIX",
        ROOM,
        "beyond the post",
        "for a batch: Δ_i = G_i ⊙ f'(IN_i), G_{i−1} = Δ_i·W_{i−1}ᵀ, ∂L/∂W_{i−1} = O_{i−1}ᵀ·Δ_i, \
         ∂L/∂b_i = 1ᵀ·Δ_i (rows as samples) equal the per-sample loops (13), (14), (16) summed \
         as in (17): in f64 (the catalogue's form) and in our f32 network (columns as samples), \
         within a rounding bound derived from depth, widths, batch size and unit roundoff",
        PostVerdict::Extension,
        &[
            (
                Bug::TransposedBackward,
                Planted::bug("G_{i−1} = Δ_i·W_{i−1} (transposed W in the backward product)"),
            ),
            (
                Bug::TransposedWeightGradient,
                Planted::bug("∂L/∂W_{i−1} = Δ_iᵀ·O_{i−1} (transposed outer product)"),
            ),
            (
                Bug::MeanForSum,
                Planted::bug("the mean over the batch where the sum is documented"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut shapes, mut f64_form, mut f32_net) =
                (Tally::default(), MaxError::default(), MaxError::default());
            let mut largest_k = 0;
            for _ in 0..ctx.size(40, 400) {
                let (net, batch) = problem(&mut rng);
                let loops = spec::eq17_batch_gradient(&net, &batch);
                let (s, k) = error_bound(&net, &batch);
                largest_k = largest_k.max(k);
                match matrix_gradient(&net, &batch, bug) {
                    Ok(g) => {
                        shapes.check(true, String::new);
                        // Both sides are f64 computations, each within γ_K(u₆₄)·S.
                        f64_form.record(worst(&net, &g, &loops, &s, 2.0 * gamma(k, U64)), k as f64);
                    }
                    Err(e) => shapes.check(false, || format!("widths {:?}: {e}", net.widths())),
                }
                let fast = fast_gradient(&net, &batch, bug);
                f32_net.record(
                    worst(&net, &fast, &loops, &s, gamma(k, U32) + gamma(k, U64)),
                    k as f64,
                );
            }
            let mut f = Findings::default();
            f.max_error(
                "f64 matrix form vs Σ per-sample loops: max |error| / (2γ_K(u₆₄)·S_θ)",
                &f64_form,
                1.0,
                "first-order rounding bound of `error_bound` for both f64 computations",
            );
            f.tally("the f64 matrix form has the parameters' shapes", shapes);
            f.max_error(
                format!("our f32 network vs Σ per-sample f64 loops: max |error| / ((γ_K(u₃₂) + γ_K(u₆₄))·S_θ), K ≤ {largest_k}"),
                &f32_net,
                1.0,
                "first-order rounding bound of `error_bound`: f32 network plus f64 reference");
            f
        },
    )
}
// ANCHOR_END: ext_bp_matrix
