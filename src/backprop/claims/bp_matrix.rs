//! EXT-BP-MATRIX: the batched matrix form of (13), (14), (16) and (17) equals the per-sample
//! loops of the literal derivation, summed over the batch.
//!
//! Two implementations of the matrix form are checked against Σ of [`spec::eq15_gradient`]:
//! (A) the catalogue's equations in f64 with rows as samples, written here (the planted
//! transposes live in it), and (B) our f32 network, columns as samples. Both comparisons use
//! the rounding-error bound of [`error_bound`], derived from the depth, the widths, the batch
//! size and the unit roundoff of each precision.

use nalgebra::DMatrix;
use rand::Rng;

use super::super::training::ROOM;
use crate::backprop::accuracy::{
    U32, U64, error_bound, fast_inputs, forward_counts, forward_magnitudes, gamma, to_fast,
    to_literal,
};
use crate::claims::{Claim, Findings, Label, MaxError, Planted, PostVerdict, Tally};
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
                Label::from("f64 matrix form vs Σ per-sample loops: max |error| / (2γ_K(u₆₄)·S_θ)").markdown(r"f64 matrix form vs $\sum$ per-sample loops: $\max \lvert \text{error} \rvert / (2\gamma_K(u_{64})\, S_\theta)$"),
                &f64_form,
                1.0,
                "first-order rounding bound of `error_bound` for both f64 computations",
            );
            f.tally("the f64 matrix form has the parameters' shapes", shapes);
            f.max_error(
                Label::from(format!("our f32 network vs Σ per-sample f64 loops: max |error| / ((γ_K(u₃₂) + γ_K(u₆₄))·S_θ), K ≤ {largest_k}")).markdown(format!(r"our f32 network vs $\sum$ per-sample f64 loops: $\max \lvert \text{{error}} \rvert / ((\gamma_K(u_{{32}}) + \gamma_K(u_{{64}}))\, S_\theta)$, $K \le {largest_k}$")),
                &f32_net,
                1.0,
                "first-order rounding bound of `error_bound`: f32 network plus f64 reference");
            f
        },
    )
    .typeset(r"for a batch: $\Delta_i = G_i \odot f'(IN_i)$, $G_{i-1} = \Delta_i W_{i-1}^\top$, $\partial L/\partial W_{i-1} = O_{i-1}^\top \Delta_i$, $\partial L/\partial b_i = \mathbf{1}^\top \Delta_i$ (rows as samples) equal the per-sample loops (13), (14), (16) summed as in (17): in f64 (the catalogue's form) and in our f32 network (columns as samples), within a rounding bound derived from depth, widths, batch size and unit roundoff")
}
// ANCHOR_END: ext_bp_matrix
