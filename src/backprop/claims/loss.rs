//! Eqs (8)–(12) of the post: the loss unit and the output layer (LOSS-08, LOSS-09, LOSS-10,
//! OUT-11, OUT-12), where backpropagation starts.

use rand::Rng;

use super::fixtures::{loss_band, networks, sample, vector_fd};
use crate::claims::gradcheck::{self, band_ratio, band_ratio_at, central_difference};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Tally,
    identity_error,
};
use derivations::backprop::{self as spec, Network, Param};

const ROOM: &str = "backprop";

pub(super) fn claims() -> Vec<Claim> {
    vec![loss_08(), loss_09(), loss_10(), out_11(), out_12()]
}

/// Random (y, ŷ) pairs in [−3, 3]².
fn pairs(ctx: &Ctx, n: usize) -> Vec<(f64, f64)> {
    let mut rng = ctx.rng();
    (0..n)
        .map(|_| (rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0)))
        .collect()
}

// ---------------------------------------------------------------- LOSS-08

#[derive(Clone, Copy)]
enum LossBug {
    Unsquared,
    Halved,
    LayerN,
}

// ANCHOR: loss_08
fn loss_08() -> Claim {
    Claim::checked(
        "LOSS-08",
        ROOM,
        "eq (8)",
        "ℓ = (y − ŷ)² with ŷ = Σ_j W_{n,j}·O_{n,j} + b_out: the loss unit is layer n+1, fed from layer n \
         (the post calls it neuron k of layer n)",
        PostVerdict::Typo,
        &[
            (
                LossBug::Unsquared,
                Planted::bug("the unsquared residual y − ŷ"),
            ),
            (
                LossBug::Halved,
                Planted::bug("½(y − ŷ)² where the un-halved loss is documented"),
            ),
            (
                LossBug::LayerN,
                Planted::post("the loss unit as neuron k of layer n: ℓ = (y − O_{n,k})²")
                    .typeset(r"the loss unit as neuron $k$ of layer $n$: $\ell = (y - O_{n,k})^2$"),
            ),
        ],
        |bug, ctx| {
            let loss = |y: f64, y_hat: f64| match bug {
                Some(LossBug::Unsquared) => y - y_hat,
                Some(LossBug::Halved) => 0.5 * spec::eq08_loss(y, y_hat),
                _ => spec::eq08_loss(y, y_hat),
            };
            let mut f = Findings::default();
            f.bound(
                Label::from("ℓ(y = 0.7, ŷ = 0.2) − 0.25").markdown(r"$\ell(y = 0.7, \hat y = 0.2) - 0.25$"),
                (loss(0.7, 0.2) - 0.25).abs(),
                1e-15,
                1,
                "one subtraction and one product of O(1) values",
            );
            let mut e = MaxError::default();
            let mut rng = ctx.rng();
            for net in networks(&mut rng, ctx.size(200, 5_000), 5) {
                let (x, y) = sample(&mut rng, &net);
                let fwd = spec::eq01_forward(&net, &x);
                let y_hat = match bug {
                    Some(LossBug::LayerN) => fwd.o(net.n(), 1),
                    _ => fwd.y_hat,
                };
                // The claim's formula written out here, independently of the spec's output
                // unit (C3): b_out first, then the products from j = J_n down to 1.
                let n = net.n();
                let direct_y_hat = (1..=net.width(n))
                    .rev()
                    .fold(net.b_out(), |acc, j| acc + net.w_out()[j - 1] * fwd.o(n, j));
                let direct = (direct_y_hat - y) * (direct_y_hat - y);
                e.record(identity_error(loss(y, y_hat), direct), y);
            }
            f.max_error(
                Label::from("ℓ of a network = (y − Σ_j W_{n,j}O_{n,j} − b_out)², ŷ summed independently").markdown(r"$\ell$ of a network $= (y - \sum_j W_{n,j} O_{n,j} - b_{\text{out}})^2$, $\hat y$ summed independently"),
                &e,
                IDENTITY_TOL,
                "|W_n|, |b_out|, |O_n| ≤ 1 and J_n ≤ 5: ŷ (≤ 6 terms) in two summation orders \
                 differs by ≤ 2·γ₆·6 ≈ 8e-15; ℓ = r² then by ≤ 2|r|·8e-15, which relative to \
                 max(1, r²) is ≤ 1.6e-14, inside the identity tolerance",
            );
            f
        },
    )
    .typeset(r"$\ell = (y - \hat y)^2$ with $\hat y = \sum_j W_{n,j}\, O_{n,j} + b_{\text{out}}$: the loss unit is layer $n+1$, fed from layer $n$ (the post calls it neuron $k$ of layer $n$)")
}
// ANCHOR_END: loss_08

// ---------------------------------------------------------------- LOSS-09, LOSS-10

#[derive(Clone, Copy)]
enum LossInputBug {
    Prediction,
    Loss,
}

// ANCHOR: loss_09
fn loss_09() -> Claim {
    Claim::checked(
        "LOSS-09",
        ROOM,
        "eq (9)",
        "the loss unit's input must be the residual IN_ℓ := ŷ − y (activation u ↦ u²), so that \
         ℓ = IN_ℓ² and (10) is ∂ℓ/∂ŷ; the post's V_{IN_ℓ} = V(O_{n,k}) makes it ℓ (or ŷ)",
        PostVerdict::Wrong,
        &[
            (
                LossInputBug::Prediction,
                Planted::bug("IN_ℓ := ŷ (forgets y)"),
            ),
            (
                LossInputBug::Loss,
                Planted::post("IN_ℓ := O_{n,k} = ℓ, the post read literally")
                    .typeset(r"$IN_\ell := O_{n,k} = \ell$, the post read literally"),
            ),
        ],
        |bug, ctx| {
            let input = |y: f64, y_hat: f64| match bug {
                None => spec::eq09_loss_input(y, y_hat),
                Some(LossInputBug::Prediction) => y_hat,
                Some(LossInputBug::Loss) => spec::eq08_loss(y, y_hat),
            };
            let (mut square, mut grad) = (MaxError::default(), MaxError::default());
            for (y, y_hat) in pairs(ctx, ctx.size(10_000, 200_000)) {
                let in_l = input(y, y_hat);
                square.record(
                    identity_error(in_l * in_l, spec::eq08_loss(y, y_hat)),
                    y_hat,
                );
                // (10) applied to this input, times ∂IN_ℓ/∂ŷ = 1, must be ∂ℓ/∂ŷ.
                let fd = central_difference(|v| spec::eq08_loss(y, v), y_hat);
                grad.record(
                    band_ratio(spec::eq10_loss_derivative(in_l, &mut 0), fd),
                    y_hat,
                );
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("ℓ = IN_ℓ²").markdown(r"$\ell = IN_\ell^2$"),
                &square,
                IDENTITY_TOL,
                "one subtraction and one square",
            );
            f.max_error(
                Label::from("(10) at IN_ℓ = ∂ℓ/∂ŷ (finite differences)").markdown(r"(10) at $IN_\ell$ = $\partial \ell/\partial \hat y$ (finite differences)"),
                &grad,
                1.0,
                gradcheck::WHY,
            );
            f
        },
    )
    .typeset(r"the loss unit's input must be the residual $IN_\ell := \hat y - y$ (activation $u \mapsto u^2$), so that $\ell = IN_\ell^2$ and (10) is $\partial \ell/\partial \hat y$; the post's $V_{IN_\ell} = V(O_{n,k})$ makes it $\ell$ (or $\hat y$)")
}
// ANCHOR_END: loss_09

#[derive(Clone, Copy)]
enum LossDerivBug {
    FlippedSign,
    TwiceYHat,
    TwiceLoss,
    HalfMse,
}

// ANCHOR: loss_10
fn loss_10() -> Claim {
    Claim::checked(
        "LOSS-10",
        ROOM,
        "eq (10)",
        "∂ℓ/∂ŷ = 2(ŷ − y) = −2(y − ŷ), i.e. ℓ'(IN_ℓ) = 2·IN_ℓ only with IN_ℓ := ŷ − y; a step \
         ŷ ← ŷ − 0.1·ℓ' strictly lowers ℓ whenever ŷ ≠ y",
        PostVerdict::Wrong,
        &[
            (
                LossDerivBug::FlippedSign,
                Planted::post("2(y − ŷ), the post's sign (SGD ascends)")
                    .typeset(r"$\ell' = 2(y - \hat y)$, the post's sign (SGD ascends)"),
            ),
            (LossDerivBug::TwiceYHat, Planted::bug("2ŷ")),
            (LossDerivBug::TwiceLoss, Planted::bug("2ℓ")),
            (
                LossDerivBug::HalfMse,
                Planted::bug("ŷ − y, the half-MSE derivative on the un-halved loss"),
            ),
        ],
        |bug, ctx| {
            let derivative = |y: f64, y_hat: f64| match bug {
                None => spec::eq10_loss_derivative(spec::eq09_loss_input(y, y_hat), &mut 0),
                Some(LossDerivBug::FlippedSign) => 2.0 * (y - y_hat),
                Some(LossDerivBug::TwiceYHat) => 2.0 * y_hat,
                Some(LossDerivBug::TwiceLoss) => 2.0 * spec::eq08_loss(y, y_hat),
                Some(LossDerivBug::HalfMse) => y_hat - y,
            };
            let mut grad = MaxError::default();
            let mut descent = Tally::default();
            for (y, y_hat) in pairs(ctx, ctx.size(10_000, 200_000)) {
                let d = derivative(y, y_hat);
                grad.record(
                    band_ratio(d, central_difference(|v| spec::eq08_loss(y, v), y_hat)),
                    y_hat,
                );
                if y != y_hat {
                    let stepped = y_hat - 0.1 * d;
                    descent.check(
                        spec::eq08_loss(y, stepped) < spec::eq08_loss(y, y_hat),
                        || format!("y = {y}, ŷ = {y_hat}: the step raised ℓ"),
                    );
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("ℓ'(ŷ) against finite differences of (y − ŷ)²")
                    .markdown(r"$\ell'(\hat y)$ against finite differences of $(y - \hat y)^2$"),
                &grad,
                1.0,
                gradcheck::WHY,
            );
            f.tally(Label::from("ŷ ← ŷ − 0.1·ℓ'(ŷ) lowers ℓ (|y|, |ŷ| ≤ 3)").markdown(r"$\hat y \leftarrow \hat y - 0.1\, \ell'(\hat y)$ lowers $\ell$ ($\lvert y \rvert, \lvert \hat y \rvert \le 3$)"), descent);
            f
        },
    )
    .typeset(r"$\partial \ell/\partial \hat y = 2(\hat y - y) = -2(y - \hat y)$, i.e. $\ell'(IN_\ell) = 2\, IN_\ell$ only with $IN_\ell := \hat y - y$; a step $\hat y \leftarrow \hat y - 0.1\, \ell'$ strictly lowers $\ell$ whenever $\hat y \ne y$")
}
// ANCHOR_END: loss_10

// ---------------------------------------------------------------- OUT-11, OUT-12

#[derive(Clone, Copy)]
enum OutputBug {
    LayerOff,
    FrozenBias,
}

// ANCHOR: out_11
fn out_11() -> Claim {
    Claim::checked(
        "OUT-11",
        ROOM,
        "eq (11)",
        "∂ℓ/∂W_{n,j_n} = ℓ'(IN_ℓ)·O_{n,j_n} for every j_n, and ∂ℓ/∂b_out = ℓ'(IN_ℓ) (linear output unit)",
        PostVerdict::Correct,
        &[
            (
                OutputBug::LayerOff,
                Planted::bug("O_{n−1,·} for O_{n,·} (a layer off)"),
            ),
            (
                OutputBug::FrozenBias,
                Planted::bug("the output bias never updated (gradient 0)"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut e = MaxError::default();
            for net in networks(&mut rng, ctx.size(300, 10_000), 5) {
                let (x, y) = sample(&mut rng, &net);
                let fwd = spec::eq01_forward(&net, &x);
                let n = net.n();
                let l_prime =
                    spec::eq10_loss_derivative(spec::eq09_loss_input(y, fwd.y_hat), &mut 0);
                for j in 1..=net.width(n) {
                    let g = match bug {
                        // O_{n−1,j}: out of range when J_{n−1} < j, a NaN the check must see.
                        Some(OutputBug::LayerOff) => {
                            fwd.outs[n - 2].get(j - 1).map_or(f64::NAN, |o| l_prime * o)
                        }
                        _ => spec::eq11_output_weight_gradient(&net, &fwd, l_prime, &mut 0)[j - 1],
                    };
                    e.record(loss_band(&net, &x, y, Param::WOut { j }, g), 0.0);
                }
                let gb = if matches!(bug, Some(OutputBug::FrozenBias)) {
                    0.0
                } else {
                    spec::eq11_output_bias_gradient(l_prime)
                };
                e.record(loss_band(&net, &x, y, Param::BOut, gb), 0.0);
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("(11) on every W_{n,j} and b_out against finite differences").markdown(
                    r"(11) on every $W_{n,j}$ and $b_{\text{out}}$ against finite differences",
                ),
                &e,
                1.0,
                gradcheck::WHY_SCALED,
            );
            f
        },
    )
    .typeset(r"$\partial \ell/\partial W_{n,j_n} = \ell'(IN_\ell)\, O_{n,j_n}$ for every $j_n$, and $\partial \ell/\partial b_{\text{out}} = \ell'(IN_\ell)$ (linear output unit)")
}
// ANCHOR_END: out_11

#[derive(Clone, Copy)]
enum LastLayerBug {
    OutputForWeight,
}

/// ℓ as a function of O_n treated as a free input (C4).
fn loss_of_last_layer(net: &Network, y: f64) -> impl Fn(&[f64]) -> f64 + '_ {
    move |o_n| spec::eq08_loss(y, spec::c3_output_unit(net, o_n))
}

// ANCHOR: out_12
fn out_12() -> Claim {
    Claim::checked(
        "OUT-12",
        ROOM,
        "eq (12)",
        "g_{n,j_n} = ∂ℓ/∂O_{n,j_n} = ℓ'(IN_ℓ)·W_{n,j_n}",
        PostVerdict::Correct,
        &[(
            LastLayerBug::OutputForWeight,
            Planted::bug("ℓ'·O_{n,j_n} for ℓ'·W_{n,j_n}"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut e = MaxError::default();
            for net in networks(&mut rng, ctx.size(300, 10_000), 5) {
                let (x, y) = sample(&mut rng, &net);
                let fwd = spec::eq01_forward(&net, &x);
                let l_prime =
                    spec::eq10_loss_derivative(spec::eq09_loss_input(y, fwd.y_hat), &mut 0);
                let g = match bug {
                    None => spec::eq12_last_layer(&net, l_prime, &mut 0),
                    Some(LastLayerBug::OutputForWeight) => {
                        fwd.outs[net.n() - 1].iter().map(|o| l_prime * o).collect()
                    }
                };
                let o_n = &fwd.outs[net.n() - 1];
                for (j, gj) in g.iter().enumerate() {
                    e.record(
                        band_ratio_at(
                            *gj,
                            vector_fd(loss_of_last_layer(&net, y), o_n, j),
                            spec::eq08_loss(y, fwd.y_hat),
                        ),
                        0.0,
                    );
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("(12) against finite differences in O_n")
                    .markdown("(12) against finite differences in $O_n$"),
                &e,
                1.0,
                gradcheck::WHY_SCALED,
            );
            f
        },
    )
    .typeset(r"$g_{n,j_n} = \partial \ell/\partial O_{n,j_n} = \ell'(IN_\ell)\, W_{n,j_n}$")
}
// ANCHOR_END: out_12
