//! Eqs (1)–(2) of the post: the forward pass (BP-01, BP-02) and which units a weight reaches
//! (BP-DEP).
//!
//! The code under test is the literal specification in `derivations::backprop` and, for
//! BP-01, the matrix form our f32 network uses. Planted bugs are alternative code paths
//! written here, each a realistic slip in transcribing the equation.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::fixtures::{random_network, sample};
use crate::claims::{
    Claim, Ctx, Findings, Label, MaxError, Planted, PostVerdict, Tally, identity_error,
};
use derivations::backprop::{self as spec, Network, Param};

const ROOM: &str = "backprop";

pub(super) fn claims() -> Vec<Claim> {
    vec![bp_01(), bp_02(), bp_dep()]
}

/// W_i as an nalgebra matrix, J_i × J_{i+1} (C2).
fn weight_matrix(net: &Network, i: usize) -> DMatrix<f64> {
    DMatrix::from_fn(net.width(i), net.width(i + 1), |r, c| {
        net.w(i, r + 1, c + 1)
    })
}

/// Records the largest identity error (conventions appendix, Tolerances) between two equally long vectors, or a shape
/// violation when their lengths differ.
fn compare(e: &mut MaxError, shapes: &mut Tally, a: &[f64], b: &[f64]) {
    shapes.check(a.len() == b.len(), || {
        format!("{} entries against {}", a.len(), b.len())
    });
    for (x, y) in a.iter().zip(b) {
        e.record(identity_error(*x, *y), 0.0);
    }
}

/// Relative 1e-13 for a forward pass of ≤ 6 layers and widths ≤ 9: each IN is a sum of
/// ≤ 10 products of O(1) terms (≤ 10 ε ≈ 2e-15 each), amplified by ≤ 1 per layer through
/// tanh/sigmoid/softsign slopes ≤ 1 and |W| ≤ 1 row sums ≤ 9: ≈ 5 × 9 × 2e-15 ≈ 1e-13.
const FORWARD_TOL: f64 = 1e-13;
const FORWARD_WHY: &str = "≤ 10-term f64 dot products per unit, slopes ≤ 1, |W| ≤ 1, ≤ 6 layers";

// ---------------------------------------------------------------- BP-01, BP-02

#[derive(Clone, Copy)]
enum ForwardBug {
    TransposedWeights,
    SourceBias,
    ShiftedNeighbour,
}

/// O_i = f(W_{i−1}ᵀ·O_{i−1} + b_i), the matrix form, with the planted slips. `None` when
/// the shapes do not fit (a transposed W on non-square layers).
fn matrix_forward(net: &Network, x: &[f64], bug: Option<ForwardBug>) -> Option<Vec<Vec<f64>>> {
    let mut outs = vec![x.to_vec()];
    for i in 2..=net.n() {
        let w = weight_matrix(net, i - 1);
        let o = DVector::from_column_slice(&outs[i - 2]);
        let b = DVector::from_column_slice(&net.biases()[i - 2]);
        let z = match bug {
            Some(ForwardBug::TransposedWeights) => {
                if w.ncols() != o.len() {
                    return None;
                }
                &w * o + b
            }
            Some(ForwardBug::SourceBias) if i > 2 => {
                // b_{i−1} where b_i belongs: wrong length unless J_{i−1} = J_i.
                let prev = DVector::from_column_slice(&net.biases()[i - 3]);
                if prev.len() != b.len() {
                    return None;
                }
                w.transpose() * o + prev
            }
            Some(ForwardBug::ShiftedNeighbour) => {
                // Eq (2) as printed: O_{i−1, j−1} for every term, j the destination unit.
                DVector::from_fn(w.ncols(), |k, _| {
                    let neighbour = if k == 0 {
                        0.0
                    } else {
                        o.get(k - 1).copied().unwrap_or(0.0)
                    };
                    (0..w.nrows()).map(|j| w[(j, k)]).sum::<f64>() * neighbour + b[k]
                })
            }
            _ => w.transpose() * o + b,
        };
        let f = net.f(i);
        outs.push(z.iter().map(|&v| f.f(v)).collect());
    }
    Some(outs)
}

/// The shared check of BP-01 and BP-02: the literal triple loop (eqs (1)–(2)) against the
/// matrix form on non-square and on square networks. (O = f(IN) is how the spec computes O,
/// so comparing the two would compare the spec with itself; the matrix form applies f on its
/// own, which is what the comparison of outputs tests.)
fn forward_check(bug: Option<ForwardBug>, ctx: &Ctx) -> Findings {
    let mut rng = ctx.rng();
    let mut e = MaxError::default();
    let mut shapes = Tally::default();
    for c in 0..ctx.size(300, 20_000) {
        // Every other network square (widths all 3), where a transposed W fits the shapes
        // and only the values can reject it (catalogue appendix, BP-01).
        let net = if c % 2 == 0 {
            let f = super::fixtures::smooth(&mut rng);
            let depth = rng.random_range(2..=6);
            Network::from_fn(&vec![3; depth], &vec![f; depth - 1], || {
                rng.random_range(-1.0..1.0)
            })
            .expect("fixed widths and activations fit")
        } else {
            let f = super::fixtures::smooth(&mut rng);
            random_network(&mut rng, 2 + c % 5, 9, f)
        };
        let (x, _) = sample(&mut rng, &net);
        let literal = spec::eq01_forward(&net, &x);
        match matrix_forward(&net, &x, bug) {
            None => shapes.check(false, || "W_{i−1} does not fit O_{i−1}".into()),
            Some(outs) => {
                for i in 2..=net.n() {
                    compare(&mut e, &mut shapes, &literal.outs[i - 1], &outs[i - 1]);
                }
            }
        }
    }
    let mut f = Findings::default();
    f.max_error(
        Label::from("literal eqs (1)–(2) = matrix form f(Wᵀ·O + b), every unit")
            .markdown(r"literal eqs (1)–(2) = matrix form $f(W^\top O + b)$, every unit"),
        &e,
        FORWARD_TOL,
        FORWARD_WHY,
    );
    f.tally("shapes agree (non-square and square networks)", shapes);
    f
}

// ANCHOR: bp_01
fn bp_01() -> Claim {
    Claim::checked(
        "BP-01",
        ROOM,
        "eq (1)",
        "O_{i,j_i} = f(Σ_{j} W_{i−1,j,j_i}·O_{i−1,j} + b_{i,j_i}) for i ≥ 2, O_{1,j} = x_j; the \
         scalar triple loop equals the matrix form O_i = f(W_{i−1}ᵀ·O_{i−1} + b_i)",
        PostVerdict::Correct,
        &[
            (
                ForwardBug::TransposedWeights,
                Planted::bug("transposed weights W_{i−1,j_i,j_{i−1}}"),
            ),
            (
                ForwardBug::SourceBias,
                Planted::bug("bias taken from the source layer, b_{i−1}"),
            ),
        ],
        forward_check,
    )
    .typeset(r"$O_{i,j_i} = f(\sum_j W_{i-1,j,j_i}\, O_{i-1,j} + b_{i,j_i})$ for $i \ge 2$, $O_{1,j} = x_j$; the scalar triple loop equals the matrix form $O_i = f(W_{i-1}^\top O_{i-1} + b_i)$")
}
// ANCHOR_END: bp_01

fn bp_02() -> Claim {
    Claim::checked(
        "BP-02",
        ROOM,
        "eq (2)",
        "IN_{i,j_i} = Σ_{j_{i−1}} W_{i−1,j_{i−1},j_i}·O_{i−1,j_{i−1}} + b_{i,j_i} (the post prints \
         O_{i−1,j−1}); O_{i,j} = f(IN_{i,j})",
        PostVerdict::Typo,
        &[(
            ForwardBug::ShiftedNeighbour,
            Planted::post("the printed index O_{i−1,j−1} (a shifted neighbour)")
                .typeset(r"the printed index $O_{i-1,\,j-1}$ (a shifted neighbour)"),
        )],
        forward_check,
    )
    .typeset(r"$IN_{i,j_i} = \sum_{j_{i-1}} W_{i-1,j_{i-1},j_i}\, O_{i-1,j_{i-1}} + b_{i,j_i}$ (the post prints $O_{i-1,j-1}$); $O_{i,j} = f(IN_{i,j})$")
}

// ---------------------------------------------------------------- BP-DEP

#[derive(Clone, Copy)]
enum DepBug {
    TransposedIndexing,
}

/// The forward pass with W indexed W_{i,k,j} where W_{i,j,k} belongs (square layers only).
fn transposed_forward(net: &Network, x: &[f64]) -> Vec<Vec<f64>> {
    let mut outs = vec![x.to_vec()];
    for i in 2..=net.n() {
        let o = &outs[i - 2];
        let next = (1..=net.width(i))
            .map(|k| {
                let z: f64 = (1..=net.width(i - 1))
                    .map(|j| net.w(i - 1, k, j) * o[j - 1])
                    .sum();
                net.f(i).f(z + net.b(i, k))
            })
            .collect();
        outs.push(next);
    }
    outs
}

// ANCHOR: bp_dep
fn bp_dep() -> Claim {
    Claim::checked(
        "BP-DEP",
        ROOM,
        "text before eq (3)",
        "W_{i,j,k} reaches unit k of layer i+1 and every unit of layers i+2..n, and no other unit: \
         perturbing it leaves layers ≤ i and units k' ≠ k of layer i+1 bit-identical",
        PostVerdict::Correct,
        &[(
            DepBug::TransposedIndexing,
            Planted::bug("transposed indexing W_{i,k,j} in the forward pass"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut untouched, mut moved, mut later) =
                (Tally::default(), Tally::default(), Tally::default());
            for _ in 0..ctx.size(300, 20_000) {
                // Square layers so the transposed variant runs; widths ≥ 2 so k' ≠ k exists.
                let (depth, width) = (rng.random_range(3..=6), rng.random_range(2..=5));
                let f = super::fixtures::smooth(&mut rng);
                let net = Network::from_fn(&vec![width; depth], &vec![f; depth - 1], || {
                    rng.random_range(-1.0..1.0)
                })
                .expect("fixed widths and activations fit");
                let (x, _) = sample(&mut rng, &net);
                let (i, j, k) = (
                    rng.random_range(1..depth),
                    rng.random_range(1..=width),
                    rng.random_range(1..=width),
                );
                let forward = |n: &Network| match bug {
                    None => spec::eq01_forward(n, &x).outs,
                    Some(DepBug::TransposedIndexing) => transposed_forward(n, &x),
                };
                let before = forward(&net);
                if before[i - 1][j - 1] == 0.0 {
                    continue; // O_{i,j} = 0: the perturbation cannot show (catalogue appendix, BP-DEP)
                }
                let mut bumped = net.clone();
                *bumped.param_mut(Param::W { i, j, k }) += 1e-3;
                let after = forward(&bumped);
                let same = |l: usize, u: usize| {
                    before[l - 1][u - 1].to_bits() == after[l - 1][u - 1].to_bits()
                };
                let ok = (1..=i).all(|l| (1..=net.width(l)).all(|u| same(l, u)))
                    && (1..=width).filter(|&u| u != k).all(|u| same(i + 1, u));
                untouched.check(ok, || {
                    format!("W_{{{i},{j},{k}}} changed a unit it cannot reach")
                });
                moved.check(!same(i + 1, k), || {
                    format!("W_{{{i},{j},{k}}} left O_{{{},{k}}} unchanged", i + 1)
                });
                // Generically every later unit moves (a tanh network has no exact cancellation).
                let all_later = (i + 2..=depth).all(|l| (1..=width).all(|u| !same(l, u)));
                later.check(all_later, || {
                    format!(
                        "W_{{{i},{j},{k}}} left a unit of layers > {} unchanged",
                        i + 1
                    )
                });
            }
            let mut f = Findings::default();
            f.tally(
                Label::from("layers ≤ i and units k' ≠ k of layer i+1 bit-identical").markdown(r"layers $\le i$ and units $k' \ne k$ of layer $i+1$ bit-identical"),
                untouched,
            );
            f.tally(Label::from("unit k of layer i+1 changes").markdown(r"unit $k$ of layer $i+1$ changes"), moved);
            f.tally(Label::from("every unit of layers i+2..n changes").markdown(r"every unit of layers $i+2, \dots, n$ changes"), later);
            f
        },
    )
    .typeset(r"$W_{i,j,k}$ reaches unit $k$ of layer $i+1$ and every unit of layers $i+2, \dots, n$, and no other unit: perturbing it leaves layers $\le i$ and units $k' \ne k$ of layer $i+1$ bit-identical")
}
// ANCHOR_END: bp_dep
