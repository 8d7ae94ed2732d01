//! The extensions (catalogue appendix, "beyond the post") of this room: EXT-SGD-UNBIASED, EXT-SOFTMAX-CE,
//! EXT-BP-MATRIX, EXT-BP-COST and EXT-SIGMOID-VANISH.
//!
//! Sub-modules (declared here with `#[path]`, siblings of this file): `sgd_unbiased`
//! (EXT-SGD-UNBIASED), `softmax_ce` (EXT-SOFTMAX-CE) and `bp_matrix` (EXT-BP-MATRIX, with
//! the f32-against-f64 rounding bound). EXT-BP-COST and EXT-SIGMOID-VANISH are here.

use nalgebra::DMatrix;
use rand::Rng;

use super::training::{ROOM, random_batch};
use crate::claims::{Claim, Findings, Label, MaxError, Planted, PostVerdict, Tally};
use crate::report::figure::{LinePlot, Series};
use derivations::activation::sigmoid_stable;
use derivations::backprop::{self as spec, Activation as Act, Network as Net};

#[path = "bp_matrix.rs"]
pub(super) mod bp_matrix;
#[path = "sgd_unbiased.rs"]
mod sgd_unbiased;
#[path = "softmax_ce.rs"]
mod softmax_ce;

/// The extensions of this room, in catalogue order.
pub(super) fn claims() -> Vec<Claim> {
    vec![
        sgd_unbiased::ext_sgd_unbiased(),
        softmax_ce::ext_softmax_ce(),
        bp_matrix::ext_bp_matrix(),
        ext_bp_cost(),
        ext_sigmoid_vanish(),
    ]
}

// ------------------------------------------------------------------ EXT-BP-COST

#[derive(Clone, Copy)]
enum CostBug {
    PathRangeOffByOne,
    DeltaFormCount,
    RecomputedDownstream,
}

// ANCHOR: cost_closed_forms
/// EXT-BP-COST, the BP count per sample for every gradient, from eq (15)'s pieces (J_i =
/// `widths[i − 1]`): (10) 1, (11) J_n, (12) J_n, (14) 2·J_{i−1}·J_i and (16) J_i for
/// i = 2..n, (13) 2·J_i·J_{i+1} for i = 2..n−1. Linear in the number of weights.
fn bp_multiplications(widths: &[usize], bug: Option<CostBug>) -> u64 {
    let n = widths.len();
    let j = |i: usize| widths[i - 1] as u64;
    // Planted: (14) counted as one product per weight (the δ-form O·δ), forgetting that the
    // literal (14) multiplies g·f'·O.
    let per_weight = if matches!(bug, Some(CostBug::DeltaFormCount)) {
        1
    } else {
        2
    };
    let weights_and_biases: u64 = (2..=n).map(|i| per_weight * j(i - 1) * j(i) + j(i)).sum();
    let recurrence: u64 = (2..n).map(|i| 2 * j(i) * j(i + 1)).sum();
    1 + 2 * j(n) + weights_and_biases + recurrence
}

/// EXT-BP-COST, one call of eq (4) for ∂O_{n,j_n}/∂W_{i,j,k}: Π_{x=i+2}^{n−1} J_x paths of
/// 2(n−i) − 1 products each for i ≤ n−2; for i = n−1 one product if j_n = k, else none.
fn path_multiplications(
    widths: &[usize],
    j_n: usize,
    i: usize,
    k: usize,
    bug: Option<CostBug>,
) -> u64 {
    let n = widths.len();
    if i == n - 1 {
        return u64::from(j_n == k);
    }
    // Planted: the product over layers started one layer early (x = i+1).
    let first = if matches!(bug, Some(CostBug::PathRangeOffByOne)) {
        i + 1
    } else {
        i + 2
    };
    let paths: u64 = (first..n).map(|x| widths[x - 1] as u64).product();
    paths * (2 * (n - i) as u64 - 1)
}
// ANCHOR_END: cost_closed_forms

/// A planted BP implementation (the instrumented code, not its closed form): the gradients
/// of eq (15), each layer's g_i recomputed from g_n by the recurrence (13) instead of taken
/// from g_{i+1}, the downstream sum done again for every layer. Same values, quadratic cost
/// in depth.
fn recomputing_gradient(net: &Net, x: &[f64], y: f64, muls: &mut u64) -> spec::Gradient {
    let n = net.n();
    let fwd = spec::eq01_forward(net, x);
    let l_prime = spec::eq10_loss_derivative(spec::eq09_loss_input(y, fwd.y_hat), muls);
    let mut grad = spec::Gradient::zeros(net);
    grad.w_out = spec::eq11_output_weight_gradient(net, &fwd, l_prime, muls);
    grad.b_out = spec::eq11_output_bias_gradient(l_prime);
    for i in (2..=n).rev() {
        let mut g_i = spec::eq12_last_layer(net, l_prime, muls);
        for l in (i..n).rev() {
            g_i = spec::eq13_recurrence(net, &fwd, l, &g_i, muls);
        }
        grad.w[i - 2] = spec::eq14_weight_gradient(net, &fwd, i, &g_i, muls);
        grad.b[i - 2] = spec::eq16_bias_gradient(net, &fwd, i, &g_i, muls);
    }
    grad
}

/// Counted multiplications for a sample: (eq (4) over every (j_n, i, j, k), BP's eq (15)),
/// and whether every single eq (4) call matched its closed form.
fn counted(net: &Net, x: &[f64], y: f64, bug: Option<CostBug>, calls: &mut Tally) -> (u64, u64) {
    let n = net.n();
    let fwd = spec::eq01_forward(net, x);
    let mut path_total = 0;
    for j_n in 1..=net.width(n) {
        for i in 1..n {
            for j in 1..=net.width(i) {
                for k in 1..=net.width(i + 1) {
                    let mut muls = 0;
                    spec::eq04_path_sum(net, &fwd, j_n, i, j, k, &mut muls);
                    let want = path_multiplications(net.widths(), j_n, i, k, bug);
                    calls.check(muls == want, || {
                        format!("widths {:?}, (j_n, i, j, k) = ({j_n}, {i}, {j}, {k}): counted {muls}, closed form {want}", net.widths())
                    });
                    path_total += muls;
                }
            }
        }
    }
    let mut bp = 0;
    if matches!(bug, Some(CostBug::RecomputedDownstream)) {
        recomputing_gradient(net, x, y, &mut bp);
    } else {
        spec::eq15_gradient(net, x, y, &mut bp);
    }
    (path_total, bp)
}

// ANCHOR: ext_bp_cost
fn ext_bp_cost() -> Claim {
    Claim::checked(
        "EXT-BP-COST",
        ROOM,
        "beyond the post",
        "eq (4) costs Π_{x=i+2}^{n−1} J_x paths of 2(n−i)−1 products per (j_n, i, j, k), exponential \
         in depth; BP (eq (15)) costs 1 + 2J_n + Σ_{i=2}^{n}(2J_{i−1}J_i + J_i) + \
         Σ_{i=2}^{n−1} 2J_iJ_{i+1} ≤ 4·(number of parameters) per sample for all gradients",
        PostVerdict::Extension,
        &[
            (
                CostBug::PathRangeOffByOne,
                Planted::bug("eq (4)'s closed form with the path product from layer i+1"),
            ),
            (
                CostBug::DeltaFormCount,
                Planted::bug("BP's closed form forgetting the f' product of (14)"),
            ),
            (
                CostBug::RecomputedDownstream,
                Planted::bug(
                    "a BP that recomputes each layer's g_i from g_n (the downstream sum again \
                     per layer)",
                )
                .by("BP's counted products"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut calls, mut bp_calls) = (Tally::default(), Tally::default());
            let mut linear = MaxError::default();
            for c in 0..ctx.size(20, 200) {
                let n = 2 + c % 5;
                let widths: Vec<usize> = (0..n).map(|_| rng.random_range(1..=4)).collect();
                let acts = vec![Act::Tanh; n - 1];
                let net = Net::from_fn(&widths, &acts, || rng.random_range(-1.0..1.0))
                    .expect("fixed widths and activations fit");
                let (x, y) = random_batch(&mut rng, &net, 1).remove(0);
                let (_, bp) = counted(&net, &x, y, bug, &mut calls);
                let want = bp_multiplications(&widths, bug);
                bp_calls.check(bp == want, || {
                    format!("widths {widths:?}: counted {bp}, closed form {want}")
                });
                linear.record(bp as f64 / (4 * net.params().len()) as f64, n as f64);
            }
            // Chains of width 3 and growing depth: the table and the figure.
            let mut table = Vec::new();
            for n in 2..=8 {
                let widths = vec![3; n];
                let net = Net::from_fn(&widths, &vec![Act::Tanh; n - 1], || {
                    rng.random_range(-1.0..1.0)
                })
                .expect("fixed widths and activations fit");
                let (x, y) = random_batch(&mut rng, &net, 1).remove(0);
                let (paths, bp) = counted(&net, &x, y, bug, &mut calls);
                table.push((n, paths, bp));
            }
            let shown: Vec<String> = table
                .iter()
                .map(|(n, p, b)| format!("n={n}: {p} vs {b}"))
                .collect();
            let mut f = Findings::default();
            f.tally(
                "every eq (4) call's counted products = its closed form",
                calls,
            );
            f.tally(
                format!(
                    "BP's counted products = its closed form (width-3 chains, eq (4) vs BP: {})",
                    shown.join(", ")
                ),
                bp_calls,
            );
            f.max_error(
                Label::from("BP products / (4 × number of parameters)").markdown(r"BP products / ($4 \times$ number of parameters)"),
                &linear,
                1.0,
                "2J_{i−1}J_i + 2J_iJ_{i+1} per weight matrix and J_i per bias layer: at most 4 per parameter");
            if bug.is_none() {
                let series = |name: &str, pick: fn(&(usize, u64, u64)) -> u64| Series {
                    name: name.into(),
                    points: table
                        .iter()
                        .map(|t| (t.0 as f64, (pick(t) as f64).log10()))
                        .collect(),
                };
                f.figures.push(LinePlot {
                    file_stem: "backprop-bp-cost".into(),
                    title: "EXT-BP-COST: multiplications per sample, width-3 chains".into(),
                    x_label: "number of layers n".into(),
                    y_label: "log10 multiplications".into(),
                    series: vec![
                        series("eq (4), every ∂O_n/∂W by its paths", |t| t.1),
                        series("BP, eq (15): every gradient", |t| t.2),
                    ],
                });
            }
            f
        },
    )
    .typeset(r"eq (4) costs $\prod_{x=i+2}^{n-1} J_x$ paths of $2(n-i)-1$ products per $(j_n, i, j, k)$, exponential in depth; BP (eq (15)) costs $1 + 2J_n + \sum_{i=2}^{n}(2J_{i-1}J_i + J_i) + \sum_{i=2}^{n-1} 2J_iJ_{i+1} \le 4 \cdot (\text{number of parameters})$ per sample for all gradients")
}
// ANCHOR_END: ext_bp_cost

// ------------------------------------------------------------------ EXT-SIGMOID-VANISH

#[derive(Clone, Copy)]
enum VanishBug {
    SigmaOnePlusSigma,
}

/// g_i from g_{i+1} by (13). The planted bug uses σ' = σ(1+σ) (a sign slip in σ(1−σ)).
fn recurrence(
    net: &Net,
    fwd: &spec::Forward,
    i: usize,
    g_next: &[f64],
    bug: Option<VanishBug>,
) -> Vec<f64> {
    match bug {
        None => spec::eq13_recurrence(net, fwd, i, g_next, &mut 0),
        Some(VanishBug::SigmaOnePlusSigma) => (1..=net.width(i))
            .map(|j| {
                (1..=net.width(i + 1))
                    .map(|k| {
                        let s = sigmoid_stable(fwd.in_(i + 1, k));
                        s * (1.0 + s) * net.w(i, j, k) * g_next[k - 1]
                    })
                    .sum()
            })
            .collect(),
    }
}

/// W_i as a matrix, J_i × J_{i+1}.
fn weight_matrix(net: &Net, i: usize) -> DMatrix<f64> {
    DMatrix::from_fn(net.width(i), net.width(i + 1), |r, c| {
        net.w(i, r + 1, c + 1)
    })
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// max over i of ‖g_i‖₂ / (factor^{n−i}·Π_{x=i}^{n−1}‖W_x‖·‖g_n‖₂), with ‖·‖ the spectral
/// norm, or the Frobenius norm when `frobenius`.
fn worst_ratio(
    net: &Net,
    x: &[f64],
    y: f64,
    factor: f64,
    frobenius: bool,
    bug: Option<VanishBug>,
) -> f64 {
    let n = net.n();
    let fwd = spec::eq01_forward(net, x);
    let l_prime = spec::eq10_loss_derivative(spec::eq09_loss_input(y, fwd.y_hat), &mut 0);
    let g_n = spec::eq12_last_layer(net, l_prime, &mut 0);
    let (mut g, mut bound, mut worst) = (g_n.clone(), norm(&g_n), 0.0f64);
    for i in (1..n).rev() {
        g = recurrence(net, &fwd, i, &g, bug);
        let w = weight_matrix(net, i);
        let w_norm = if frobenius {
            w.norm()
        } else {
            w.singular_values().max()
        };
        bound *= factor * w_norm;
        if bound > 0.0 {
            worst = worst.max(norm(&g) / bound);
        }
    }
    worst
}

// ANCHOR: ext_sigmoid_vanish
fn ext_sigmoid_vanish() -> Claim {
    Claim::checked(
        "EXT-SIGMOID-VANISH",
        ROOM,
        "beyond the post",
        "since |σ'| ≤ 1/4, ‖g_i‖₂ ≤ (1/4)^{n−i}·Π_{x=i}^{n−1}‖W_x‖₂·‖g_n‖₂ in a sigmoid network \
         (spectral norms; the Frobenius norm gives a looser valid bound); for tanh the factor is 1",
        PostVerdict::Extension,
        &[(
            VanishBug::SigmaOnePlusSigma,
            Planted::bug("σ' implemented as σ(1+σ)"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let [mut sig, mut fro, mut tanh] = std::array::from_fn(|_| MaxError::default());
            for _ in 0..ctx.size(300, 3_000) {
                let n = rng.random_range(2..=6);
                let widths: Vec<usize> = (0..n).map(|_| rng.random_range(1..=6)).collect();
                // Weight scales from 0.1 to 2: near 0 every σ' is close to its maximum 1/4.
                let scale = rng.random_range(0.1..2.0);
                let mut draw = || scale * rng.random_range(-1.0..1.0);
                let sigmoid_net = Net::from_fn(&widths, &vec![Act::Sigmoid; n - 1], &mut draw)
                    .expect("fixed widths and activations fit");
                let tanh_net = Net::from_fn(&widths, &vec![Act::Tanh; n - 1], &mut draw)
                    .expect("fixed widths and activations fit");
                let (x, y) = random_batch(&mut rng, &sigmoid_net, 1).remove(0);
                sig.record(worst_ratio(&sigmoid_net, &x, y, 0.25, false, bug), scale);
                fro.record(worst_ratio(&sigmoid_net, &x, y, 0.25, true, bug), scale);
                tanh.record(worst_ratio(&tanh_net, &x, y, 1.0, false, None), scale);
            }
            let mut f = Findings::default();
            let why = "per layer ‖W(f'⊙g)‖ ≤ ‖W‖₂·max|f'|·‖g‖; the f64 recurrence and the SVD \
                       round to ~1e-14 relative, so 1 + 1e-12 leaves 100× room";
            f.max_error(
                Label::from("sigmoid: max ‖g_i‖ / ((1/4)^{n−i}·Π‖W_x‖₂·‖g_n‖)").markdown(r"sigmoid: $\max \lVert g_i \rVert / ((1/4)^{n-i} \prod \lVert W_x \rVert_2\, \lVert g_n \rVert)$"),
                &sig,
                1.0 + 1e-12,
                why,
            );
            f.max_error(
                "sigmoid, Frobenius norms: max ratio",
                &fro,
                1.0 + 1e-12,
                why,
            );
            f.max_error(
                Label::from("tanh, factor 1: max ‖g_i‖ / (Π‖W_x‖₂·‖g_n‖)").markdown(r"tanh, factor 1: $\max \lVert g_i \rVert / (\prod \lVert W_x \rVert_2\, \lVert g_n \rVert)$"),
                &tanh,
                1.0 + 1e-12,
                why,
            );
            f
        },
    )
    .typeset(r"since $\lvert \sigma' \rvert \le 1/4$, $\lVert g_i \rVert_2 \le (1/4)^{n-i} \prod_{x=i}^{n-1} \lVert W_x \rVert_2\, \lVert g_n \rVert_2$ in a sigmoid network (spectral norms; the Frobenius norm gives a looser valid bound); for $\tanh$ the factor is 1")
}
// ANCHOR_END: ext_sigmoid_vanish
