//! Training-procedure properties of our f32 network, through the public API only:
//! SGD-17 (a)–(d) bit for bit on networks whose arithmetic is exact, a zeroed gradient
//! accumulator, TRAIN-LOOP's descent lemma on random least-squares problems, and
//! EXT-SIGMOID-VANISH's per-layer bound.

use dnn_proofs::activation::Activation;
use dnn_proofs::backprop::{Dense, Gradients, Network};
use nalgebra::{DMatrix, DVector};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

/// A fixed seed for the properties, so every run checks the same cases.
const SEED: u64 = 0xB9_0002;

/// An integer in −r..=r.
fn int(g: &mut Gen, r: i16) -> f32 {
    f32::from(i16::arbitrary(g).rem_euclid(2 * r + 1) - r)
}

// ------------------------------------------------------------------ SGD-17, exactly

/// A problem on which f32 arithmetic is exact: 1 to 3 layers of widths 1..=20, weights and
/// biases in {−1, 0, 1}, inputs and targets integers in [−2, 2], identity and ReLU layers (f' ∈ {0, 1}), batches of 1, 2, 4
/// or 8 and α = 1/16. Every forward value, δ and gradient is then an integer, and the SGD
/// step and the divisions by M only move the binary point; [`IntegerProblem::exact`] checks
/// that no magnitude reaches 2^23. Any summation order then gives the same bits, so SGD-17's
/// identities must hold with tolerance 0.
#[derive(Clone, Debug)]
struct IntegerProblem {
    net: Network,
    x: DMatrix<f32>,
    y: DMatrix<f32>,
    /// A permutation of the batch's columns.
    order: Vec<usize>,
    /// Columns ..split form batch A, split.. batch B (1 ≤ split < M when M ≥ 2).
    split: usize,
}

const ALPHA: f32 = 1.0 / 16.0;

impl Arbitrary for IntegerProblem {
    fn arbitrary(g: &mut Gen) -> Self {
        let depth = 1 + usize::arbitrary(g) % 3;
        // Widths up to 20: past one SIMD vector of 16, so the lane tails run too.
        let widths: Vec<usize> = (0..=depth).map(|_| 1 + usize::arbitrary(g) % 20).collect();
        let layers = widths
            .windows(2)
            .map(|w| Dense {
                weights: DMatrix::from_fn(w[0], w[1], |_, _| int(g, 1)),
                bias: DVector::from_fn(w[1], |_, _| int(g, 1)),
                activation: if bool::arbitrary(g) {
                    Activation::Relu
                } else {
                    Activation::Identity
                },
            })
            .collect();
        let m = [1, 2, 4, 8][usize::arbitrary(g) % 4];
        let mut order: Vec<usize> = (0..m).collect();
        for i in (1..m).rev() {
            order.swap(i, usize::arbitrary(g) % (i + 1));
        }
        IntegerProblem {
            net: Network::new(layers).expect("widths chain"),
            x: DMatrix::from_fn(widths[0], m, |_, _| int(g, 2)),
            y: DMatrix::from_fn(widths[depth], m, |_, _| int(g, 2)),
            order,
            split: if m > 1 {
                1 + usize::arbitrary(g) % (m - 1)
            } else {
                0
            },
        }
    }
}

impl IntegerProblem {
    /// Whether every value the forward pass, the backward pass, the batch sums and the step
    /// can produce stays below 2^23 in magnitude: the same passes on |W|, |b|, |x| and |y|
    /// (f' ≤ 1) bound every partial sum in any order.
    fn exact(&self) -> bool {
        let abs = |m: &DMatrix<f32>| m.map(|v| f64::from(v.abs()));
        let mut a = vec![abs(&self.x)];
        let mut largest = 0.0f64;
        for l in self.net.layers() {
            let bias = DMatrix::from_fn(l.fan_out(), self.x.ncols(), |r, _| {
                f64::from(l.bias[r].abs())
            });
            let next = abs(&l.weights).transpose() * a.last().expect("input") + bias;
            largest = largest.max(next.max());
            a.push(next);
        }
        let mut delta = (a.last().expect("output") + abs(&self.y)) * 2.0;
        for (l, layer) in self.net.layers().iter().enumerate().rev() {
            largest = largest
                .max(delta.max())
                .max((&a[l] * delta.transpose()).max())
                .max(delta.sum());
            delta = abs(&layer.weights) * delta;
        }
        largest < f64::from(1u32 << 23)
    }

    fn columns(&self, cols: &[usize]) -> (DMatrix<f32>, DMatrix<f32>) {
        (self.x.select_columns(cols), self.y.select_columns(cols))
    }
}

/// The batch gradients (summed, as (17) documents) of `net` on the columns `x`, `y`.
fn gradients(net: &Network, x: &DMatrix<f32>, y: &DMatrix<f32>) -> Gradients {
    let mut ws = net.workspace(x.ncols());
    net.backward(x, y, &mut ws).expect("shapes fit");
    ws.gradients().clone()
}

fn add(a: &Gradients, b: &Gradients) -> Gradients {
    Gradients {
        weights: a
            .weights
            .iter()
            .zip(&b.weights)
            .map(|(p, q)| p + q)
            .collect(),
        biases: a.biases.iter().zip(&b.biases).map(|(p, q)| p + q).collect(),
    }
}

fn scale(a: &Gradients, s: f32) -> Gradients {
    Gradients {
        weights: a.weights.iter().map(|w| w * s).collect(),
        biases: a.biases.iter().map(|b| b * s).collect(),
    }
}

/// SGD-17 (a)–(d) and a zeroed accumulator, with equality of bits.
fn sgd_17_exactly(p: IntegerProblem) -> TestResult {
    if !p.exact() {
        return TestResult::discard();
    }
    let m = p.x.ncols();
    let batch = gradients(&p.net, &p.x, &p.y);
    // (a) The batch gradient is the sum of the per-sample gradients, all at the same W.
    let per_sample = (0..m)
        .map(|c| {
            let (x, y) = p.columns(&[c]);
            gradients(&p.net, &x, &y)
        })
        .reduce(|s, g| add(&s, &g))
        .expect("M ≥ 1");
    if per_sample != batch {
        return TestResult::error("(a) batch gradient ≠ Σ per-sample gradients");
    }
    // (b) Permuting the batch changes nothing.
    let (xp, yp) = p.columns(&p.order);
    if gradients(&p.net, &xp, &yp) != batch {
        return TestResult::error("(b) a permuted batch gives another gradient");
    }
    // (c) The sum at α is the mean at M·α.
    let (mut by_sum, mut by_mean) = (p.net.clone(), p.net.clone());
    by_sum.sgd_step(&batch, ALPHA).expect("shapes fit");
    by_mean
        .sgd_step(&scale(&batch, 1.0 / m as f32), m as f32 * ALPHA)
        .expect("shapes fit");
    if by_sum != by_mean {
        return TestResult::error("(c) update(α, sum) ≠ update(M·α, mean)");
    }
    if m > 1 {
        // (d) Additivity over disjoint batches at the same W.
        let a: Vec<usize> = (0..p.split).collect();
        let b: Vec<usize> = (p.split..m).collect();
        let ((xa, ya), (xb, yb)) = (p.columns(&a), p.columns(&b));
        if add(&gradients(&p.net, &xa, &ya), &gradients(&p.net, &xb, &yb)) != batch {
            return TestResult::error("(d) Δ(A∪B) ≠ Δ(A) + Δ(B)");
        }
    }
    // The workspace's accumulator starts from zero at every backward pass: a second pass on
    // another batch (the permuted one, reversed) equals a fresh one.
    let mut ws = p.net.workspace(m);
    p.net.backward(&p.x, &p.y, &mut ws).expect("shapes fit");
    let reversed: Vec<usize> = (0..m).rev().collect();
    let (xr, yr) = p.columns(&reversed);
    let y_other = yr.map(|v| v + 1.0);
    p.net.backward(&xr, &y_other, &mut ws).expect("shapes fit");
    TestResult::from_bool(*ws.gradients() == gradients(&p.net, &xr, &y_other))
}

#[test]
fn sgd_17_holds_bit_for_bit_on_exact_networks() {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(100, SEED))
        .tests(300)
        .quickcheck(sgd_17_exactly as fn(IntegerProblem) -> TestResult);
}

// ------------------------------------------------------------------ TRAIN-LOOP

/// Least squares through one identity layer: L(W, b) = Σ_m ‖Wᵀx_m + b − y_m‖², with a step
/// α = c·2/λ for c ∈ [0.05, 0.95] and λ the largest eigenvalue of the Hessian.
#[derive(Clone, Debug)]
struct LeastSquares {
    net: Network,
    x: DMatrix<f32>,
    y: DMatrix<f32>,
    c: f64,
}

/// A value in [−4, 4) on a 1/8192 grid (never NaN or infinite).
fn value(g: &mut Gen) -> f32 {
    f32::from(i16::arbitrary(g)) / 8192.0
}

impl Arbitrary for LeastSquares {
    fn arbitrary(g: &mut Gen) -> Self {
        let (d, k, n) = (
            1 + usize::arbitrary(g) % 6,
            1 + usize::arbitrary(g) % 3,
            1 + usize::arbitrary(g) % 24,
        );
        let layer = Dense {
            weights: DMatrix::from_fn(d, k, |_, _| value(g)),
            bias: DVector::from_fn(k, |_, _| value(g)),
            activation: Activation::Identity,
        };
        LeastSquares {
            net: Network::new(vec![layer]).expect("one layer"),
            x: DMatrix::from_fn(d, n, |_, _| value(g)),
            y: DMatrix::from_fn(k, n, |_, _| value(g)),
            c: 0.05 + 0.9 * f64::from(u8::arbitrary(g)) / 255.0,
        }
    }
}

impl LeastSquares {
    /// The loss of the current parameters, in f64 from their f32 values.
    fn loss(&self, net: &Network) -> f64 {
        let l = &net.layers()[0];
        let (w, b) = (l.weights.map(f64::from), l.bias.map(f64::from));
        let r = w.transpose() * self.x.map(f64::from) - self.y.map(f64::from);
        r.column_iter().map(|c| (c + &b).norm_squared()).sum()
    }

    /// λ_max of the Hessian: every output's (W column, b entry) sees 2·X̃X̃ᵀ, X̃ = [X; 1ᵀ].
    fn smoothness(&self) -> f64 {
        let (d, n) = self.x.shape();
        let xt = DMatrix::from_fn(d + 1, n, |r, c| {
            if r < d {
                f64::from(self.x[(r, c)])
            } else {
                1.0
            }
        });
        (&xt * xt.transpose() * 2.0).symmetric_eigenvalues().max()
    }
}

fn norm_squared(g: &Gradients) -> f64 {
    let sq = |v: &f32| f64::from(*v) * f64::from(*v);
    g.weights.iter().flat_map(|w| w.iter()).map(sq).sum::<f64>()
        + g.biases.iter().flat_map(|b| b.iter()).map(sq).sum::<f64>()
}

/// The descent lemma: with α < 2/λ each GD step lowers L by at least α(1 − αλ/2)‖g‖².
///
/// With our f32 gradient ĝ = g + e the exact quadratic gives a decrease of at least
/// α‖ĝ‖²(1 − αλ/2) − α‖e‖‖ĝ‖, so asking for half the guarantee tolerates ‖e‖/‖ĝ‖ up to
/// (1 − c)/2 ≥ 0.025. Steps whose guarantee is below 1e-3·(1 + L) are skipped: there the f32
/// residuals (rounding ~1e-6 of terms ≤ 30) and the f32 rounding of the new weights could
/// rival the decrease.
fn descent_lemma(p: LeastSquares) -> TestResult {
    let lambda = p.smoothness();
    let alpha = (p.c * 2.0 / lambda) as f32;
    let a = f64::from(alpha);
    let mut net = p.net.clone();
    let mut ws = net.workspace(p.x.ncols());
    for step in 0..5 {
        net.backward(&p.x, &p.y, &mut ws).expect("shapes fit");
        let g = ws.gradients().clone();
        let before = p.loss(&net);
        let guaranteed = a * (1.0 - a * lambda / 2.0) * norm_squared(&g);
        net.sgd_step(&g, alpha).expect("shapes fit");
        let after = p.loss(&net);
        if guaranteed >= 1e-3 * (1.0 + before) && before - after < 0.5 * guaranteed {
            return TestResult::error(format!(
                "step {step}: L {before:.6e} → {after:.6e}, guaranteed decrease {guaranteed:.3e}"
            ));
        }
    }
    TestResult::passed()
}

#[test]
fn descent_lemma_on_random_least_squares() {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(100, SEED))
        .tests(300)
        .quickcheck(descent_lemma as fn(LeastSquares) -> TestResult);
}

// ------------------------------------------------------------------ EXT-SIGMOID-VANISH

/// A sigmoid network (widths 1..=20, so past one SIMD vector) with weights in [−s, s],
/// s ∈ [0.1, 2], and a batch of 1..=8.
#[derive(Clone, Debug)]
struct SigmoidProblem {
    net: Network,
    x: DMatrix<f32>,
    y: DMatrix<f32>,
}

impl Arbitrary for SigmoidProblem {
    fn arbitrary(g: &mut Gen) -> Self {
        let depth = 2 + usize::arbitrary(g) % 4;
        let widths: Vec<usize> = (0..=depth).map(|_| 1 + usize::arbitrary(g) % 20).collect();
        let s = 0.1 + 1.9 * f32::from(u8::arbitrary(g)) / 255.0;
        let layers = widths
            .windows(2)
            .map(|w| Dense {
                weights: DMatrix::from_fn(w[0], w[1], |_, _| s * value(g) / 4.0),
                bias: DVector::from_fn(w[1], |_, _| value(g) / 4.0),
                activation: Activation::Sigmoid,
            })
            .collect();
        let m = 1 + usize::arbitrary(g) % 8;
        SigmoidProblem {
            net: Network::new(layers).expect("widths chain"),
            x: DMatrix::from_fn(widths[0], m, |_, _| value(g)),
            y: DMatrix::from_fn(widths[depth], m, |_, _| value(g)),
        }
    }
}

/// ‖δ_l‖_F ≤ (1/4)·‖W_{l+1}‖₂·‖δ_{l+1}‖_F for every layer, since δ_l = σ'(IN_l) ⊙ (W_{l+1}·δ_{l+1})
/// and |σ'| ≤ 1/4 (Frobenius of a product ≤ spectral norm × Frobenius). In f32 the product
/// errs by at most γ_{J+1}·|W|·|δ| entrywise (J = fan-out), so ‖W‖₂ becomes
/// ‖W‖₂ + γ_{J+1}·‖W‖_F; y(1 − y) and the product with it add ≤ 4 roundings.
fn sigmoid_bound(p: SigmoidProblem) -> TestResult {
    let mut ws = p.net.workspace(p.x.ncols());
    p.net.backward(&p.x, &p.y, &mut ws).expect("shapes fit");
    let u = f64::from(f32::EPSILON) / 2.0;
    let frob = |m: &DMatrix<f32>| m.map(f64::from).norm();
    for l in 0..p.net.layers().len() - 1 {
        let w = p.net.layers()[l + 1].weights.map(f64::from);
        let j = w.ncols() as f64 + 1.0;
        let spectral = w.singular_values().max() + j * u / (1.0 - j * u) * w.norm();
        let bound = 0.25 * spectral * frob(&ws.deltas()[l + 1]) * (1.0 + 4.0 * u);
        if frob(&ws.deltas()[l]) > bound {
            return TestResult::error(format!(
                "layer {l}: ‖δ‖ {} > {bound}",
                frob(&ws.deltas()[l])
            ));
        }
    }
    TestResult::passed()
}

#[test]
fn sigmoid_gradients_shrink_by_a_quarter_per_layer() {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(100, SEED))
        .tests(300)
        .quickcheck(sigmoid_bound as fn(SigmoidProblem) -> TestResult);
}
