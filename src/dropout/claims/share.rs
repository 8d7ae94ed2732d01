//! DROP-SHARE: a dropped unit gets exactly zero gradient on its incoming weights, its bias
//! and its outgoing weights, through the f32 network built from the backprop module's
//! layers ([`DropoutNetwork`]).
//!
//! Network 5-7-6-3 (non-square), sigmoid hidden layers with inverted dropout (p = 0.7) on
//! both, identity output, squared loss. Sigmoid, not tanh: with the mask on the
//! pre-activation (a planted bug) a dropped sigmoid unit outputs σ(0) = 1/2, while tanh or
//! ReLU would output 0 and hide the bug.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::{ROOM, dropout, uniform};
use crate::activation::Activation;
use crate::backprop::{Dense, Gradients};
use crate::claims::{Claim, Ctx, Findings, Label, Planted, PostVerdict, Tally};
use crate::dropout::{DropoutNetwork, Loss, Mask, MaskStream, Scaling};

#[derive(Clone, Copy, PartialEq)]
enum ShareBug {
    MaskOnInput,
    NoMaskInBackward,
}

const WIDTHS: [usize; 4] = [5, 7, 6, 3];
const P: f32 = 0.7;
const BATCH: usize = 8;

fn network(rng: &mut impl Rng) -> DropoutNetwork {
    let layers = WIDTHS
        .windows(2)
        .enumerate()
        .map(|(l, w)| Dense {
            weights: DMatrix::from_fn(w[0], w[1], |_, _| uniform(rng, -1.0, 1.0) as f32),
            bias: DVector::from_fn(w[1], |_, _| uniform(rng, -1.0, 1.0) as f32),
            activation: if l + 2 < WIDTHS.len() {
                Activation::Sigmoid
            } else {
                Activation::Identity
            },
        })
        .collect();
    let drop = Some(dropout(P, Scaling::Inverted));
    DropoutNetwork::new(layers, vec![drop, drop, None]).expect("matching shapes")
}

fn batch(rng: &mut impl Rng, rows: usize) -> DMatrix<f32> {
    DMatrix::from_fn(rows, BATCH, |_, _| uniform(rng, -2.0, 2.0) as f32)
}

/// The gradients of the code under test for inputs `x`, targets `y` and the given masks
/// (one per hidden layer): ours is [`DropoutNetwork::backward_with_masks`].
fn gradients(
    bug: Option<ShareBug>,
    net: &DropoutNetwork,
    x: &DMatrix<f32>,
    y: &DMatrix<f32>,
    masks: &[Mask],
) -> Gradients {
    match bug {
        None => {
            let mut ws = net.workspace(x.ncols());
            for (l, m) in masks.iter().enumerate() {
                ws.set_mask(l, m.clone()).expect("mask of the layer's size");
            }
            net.backward_with_masks(x, y, Loss::Squared, &mut ws)
                .expect("matching shapes");
            ws.gradients().clone()
        }
        Some(bug) => planted_gradients(bug, net, x, y, masks),
    }
}

/// The planted variants, written out with nalgebra: the same network and loss, with the
/// mask on the pre-activation (and its chain rule), or left out of the backward pass.
fn planted_gradients(
    bug: ShareBug,
    net: &DropoutNetwork,
    x: &DMatrix<f32>,
    y: &DMatrix<f32>,
    masks: &[Mask],
) -> Gradients {
    let s = 1.0 / P;
    let factor = |l: usize, i: usize| masks.get(l).map_or(1.0, |m| if m.get(i) { s } else { 0.0 });
    let layers = net.layers();
    let (mut inputs, mut z_seen) = (vec![x.clone()], Vec::new());
    for (l, layer) in layers.iter().enumerate() {
        let mut z = layer.weights.transpose() * &inputs[l];
        for mut col in z.column_iter_mut() {
            col += &layer.bias;
        }
        if bug == ShareBug::MaskOnInput {
            z.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v *= factor(l, i));
        }
        let mut o = z.map(|v| layer.activation.apply(v));
        if bug == ShareBug::NoMaskInBackward {
            o.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v *= factor(l, i));
        }
        z_seen.push(z);
        inputs.push(o);
    }
    let n = layers.len();
    let mut g = (&inputs[n] - y) * 2.0;
    let mut grads = Gradients {
        weights: Vec::new(),
        biases: Vec::new(),
    };
    for l in (0..n).rev() {
        let act = layers[l].activation;
        let mut delta = g.clone();
        for (i, d) in delta.iter_mut().enumerate() {
            *d *= act.apply_derivative(z_seen[l][i]);
            if bug == ShareBug::MaskOnInput {
                *d *= factor(l, i); // ∂(r·s·z)/∂z
            }
            // NoMaskInBackward: the r·s of the forward pass is not applied here.
        }
        grads.weights.push(&inputs[l] * delta.transpose());
        grads.biases.push(delta.column_sum());
        g = &layers[l].weights * &delta;
    }
    grads.weights.reverse();
    grads.biases.reverse();
    grads
}

/// Example m's own masks: columns m of the batch masks.
fn column_masks(masks: &[Mask], m: usize) -> Vec<Mask> {
    masks
        .iter()
        .enumerate()
        .map(|(l, mask)| {
            let units = WIDTHS[l + 1];
            Mask::from_fn(units, |j| mask.get(m * units + j))
        })
        .collect()
}

// ANCHOR: drop_share
pub(super) fn drop_share() -> Claim {
    Claim::checked(
        "DROP-SHARE",
        ROOM,
        "§权值共享",
        "for a training case in which a unit is dropped, its outgoing weights AND its incoming \
         weights and bias get exactly zero gradient (the post names only the outgoing ones); \
         with a batch, each parameter's gradient is the sum over the cases that used it \
         (f32 network from the backprop module's layers, inverted dropout p = 0.7)",
        PostVerdict::Imprecise,
        &[
            (
                ShareBug::MaskOnInput,
                Planted::bug(
                    "mask applied to the pre-activation IN instead of the output O (σ(0) = 1/2)",
                ),
            ),
            (
                ShareBug::NoMaskInBackward,
                Planted::bug("mask not applied in the backward pass"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut zeros, mut live) = (Tally::default(), Tally::default());
            let (mut worst, mut sums) = (0.0f64, 0u64);
            for case in 0..ctx.size(10, 200) {
                let net = network(&mut rng);
                let (x, y) = (batch(&mut rng, WIDTHS[0]), batch(&mut rng, WIDTHS[3]));
                let masks = draw_masks(&net, &x, ctx, case);
                let whole = gradients(bug, &net, &x, &y, &masks);
                let mut summed = whole.clone();
                summed.weights.iter_mut().for_each(|w| w.fill(0.0));
                summed.biases.iter_mut().for_each(|b| b.fill(0.0));
                let mut scale = vec![0.0f64; WIDTHS.len() - 1];
                for m in 0..BATCH {
                    let own = column_masks(&masks, m);
                    let (xm, ym) = (x.columns(m, 1).into_owned(), y.columns(m, 1).into_owned());
                    let g = gradients(bug, &net, &xm, &ym, &own);
                    exact_zeros(&g, &xm, &own, &mut zeros, &mut live);
                    for (l, (s, gw)) in summed.weights.iter_mut().zip(&g.weights).enumerate() {
                        *s += gw;
                        scale[l] += f64::from(gw.amax());
                    }
                    for (s, gb) in summed.biases.iter_mut().zip(&g.biases) {
                        *s += gb;
                    }
                }
                for (l, (a, b)) in whole.weights.iter().zip(&summed.weights).enumerate() {
                    let gap = (a - b).amax();
                    worst = worst.max(
                        f64::from(gap) / (f64::from(f32::EPSILON / 2.0) * scale[l].max(1e-30)),
                    );
                    sums += a.len() as u64;
                }
            }
            let mut f = Findings::default();
            f.tally(Label::from("dropped unit, single case: incoming column, bias and outgoing row of ∂L/∂W are exactly 0.0").markdown(r"dropped unit, single case: incoming column, bias and outgoing row of $\partial L/\partial W$ are exactly 0.0"), zeros);
            // The non-vacuity check, conditioned on the masks: a kept unit with a non-zero
            // input (some kept unit upstream, or the input layer) and a kept unit downstream
            // (or the output) gets a non-zero incoming gradient from correct code unless
            // f32 arithmetic cancels exactly: δ_j = f'·(Σ_k W_jk δ_k)/p is 0.0 only if the
            // sum's last addition cancels to the bit (or ŷ = y exactly at every output),
            // each of probability about an ulp over the spread of the terms, 2^-24 ≈ 6e-8,
            // so ≤ 1e-6 per case however generous. Without the conditioning, the cases with
            // every unit upstream dropped (0.3^7 ≈ 2.2e-4 per example) gave exact zeros by
            // construction, 3 of 14,542 at the full budget. Since an exact cancellation is
            // still possible, the check bounds the fraction of zero columns by 1% (an
            // implementation that zeroes the gradient shows 100%), and a correct one exceeds
            // it with probability ≤ P(Bin(n, 1e-6) ≥ ⌈n/100⌉), stated with the evidence.
            let n = live.cases;
            let limit = n.div_ceil(100).max(1);
            let chance = crate::stats::binomial_tail(limit, n, 1e-6);
            f.bound(
                format!(
                    "kept unit with a kept (or input) unit upstream and a kept unit (or the \
                     output) downstream, single case: fraction whose incoming gradient is \
                     identically 0 (the check is not vacuous){}",
                    live.first
                        .map_or(String::new(), |s| format!(", first: {s}"))
                ),
                live.violations as f64 / n.max(1) as f64,
                0.01,
                n,
                format!(
                    "given the masks, correct f32 code gives an identically zero column only by \
                     an exact cancellation, ≤ 1e-6 per case; more than 1% of {n} cases then \
                     has probability ≤ {chance:.1e}; an implementation that zeroes the \
                     gradient gives 100%"
                ),
            );
            f.bound(
                Label::from("batch of 8: ∂L/∂W = Σ over cases of their own gradients (in units of u·scale)").markdown(r"batch of 8: $\partial L/\partial W = \sum$ over cases of their own gradients (in units of $u \cdot \text{scale}$)"),
                worst,
                82.0,
                sums,
                "the two sides differ only in rounding: n = M + L·(K + 4) = 8 + 3·11 = 41 \
                 roundings (the batch sum, and per layer a dot product of length K ≤ 7 plus the \
                 mask, f' and product roundings), each ≤ u = 2^-24 relative to magnitudes bounded \
                 by the layer's scale Σ_cases max|g_case| (|W| ≤ 1, σ ≤ 1 keep the chain from \
                 growing), on each side: 2·41 = 82",
            );
            f
        },
    )
    .typeset(r"for a training case in which a unit is dropped, its outgoing weights AND its incoming weights and bias get exactly zero gradient (the post names only the outgoing ones); with a batch, each parameter's gradient is the sum over the cases that used it (f32 network from the backprop module's layers, inverted dropout $p = 0.7$)")
}

/// The masks the network draws for this batch (one per hidden layer).
fn draw_masks(net: &DropoutNetwork, x: &DMatrix<f32>, ctx: &Ctx, case: usize) -> Vec<Mask> {
    let mut ws = net.workspace(x.ncols());
    net.forward_train(x, MaskStream::new(ctx.seed, case as u64), &mut ws)
        .expect("matching shapes");
    (0..2)
        .map(|l| ws.mask(l).expect("hidden layers have dropout").clone())
        .collect()
}

/// Every dropped unit of a single case: incoming column, bias and outgoing row exactly 0.0;
/// every kept unit with a non-zero input (a kept unit upstream, or a non-zero input x) and a
/// kept unit downstream (or the output): some non-zero incoming gradient (`live` counts the
/// exceptions). Units whose whole layer above or below is dropped are not counted in `live`:
/// nothing reaches them, so their zero gradient is right.
fn exact_zeros(
    g: &Gradients,
    x: &DMatrix<f32>,
    masks: &[Mask],
    zeros: &mut Tally,
    live: &mut Tally,
) {
    for (l, mask) in masks.iter().enumerate() {
        let fed = if l == 0 {
            x.iter().any(|&v| v != 0.0)
        } else {
            masks[l - 1].count_kept() > 0
        };
        let reached = masks.get(l + 1).is_none_or(|next| next.count_kept() > 0);
        for j in 0..mask.len() {
            let incoming = g.weights[l].column(j);
            let outgoing = g.weights[l + 1].row(j);
            if mask.get(j) && reached && fed {
                live.check(incoming.iter().any(|&v| v != 0.0), || {
                    format!("layer {l} unit {j} kept, zero gradient")
                });
            } else if !mask.get(j) {
                let ok = incoming.iter().all(|&v| v == 0.0)
                    && g.biases[l][j] == 0.0
                    && outgoing.iter().all(|&v| v == 0.0);
                zeros.check(ok, || {
                    format!(
                        "layer {l} unit {j} dropped: incoming {:?}, bias {}, outgoing {:?}",
                        incoming.iter().collect::<Vec<_>>(),
                        g.biases[l][j],
                        outgoing.iter().collect::<Vec<_>>()
                    )
                });
            }
        }
    }
}
// ANCHOR_END: drop_share
