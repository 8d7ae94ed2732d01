//! Eqs (13)–(16) of the post: the general recurrence, the weight and bias gradients and
//! their index ranges (BP-13 … BIAS-16), and the worked sigmoid-neuron example (BP-EX). The
//! loss unit and the output layer, eqs (8)–(12), are in `loss`.

use rand::Rng;

use super::fixtures::{loss_band, loss_fd, networks, sample, vector_fd};
use crate::claims::gradcheck::{self, band_ratio, band_ratio_at};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Tally,
    identity_error,
};
use derivations::backprop::{self as spec, Activation, Forward, Gradient, Network, Param};

const ROOM: &str = "backprop";

pub(super) fn claims() -> Vec<Claim> {
    vec![bp_13(), bp_14(), bp_15(), bias_16(), bp_ex()]
}

// ---------------------------------------------------------------- BP-13

#[derive(Clone, Copy)]
enum GeneralBug {
    SlopeOneLayerOff,
    TransposedW,
    SlopeOfOutput,
    StaleBuffer,
}

/// Eq (13) with a planted slip, writing into `buffer` (which the correct code zeroes).
fn recurrence13(
    net: &Network,
    fwd: &Forward,
    i: usize,
    g_next: &[f64],
    bug: Option<GeneralBug>,
    buffer: &mut Vec<f64>,
) {
    if !matches!(bug, Some(GeneralBug::StaleBuffer)) || buffer.len() != net.width(i) {
        *buffer = vec![0.0; net.width(i)];
    }
    for j_i in 1..=net.width(i) {
        for u in 1..=net.width(i + 1) {
            let slope = match bug {
                Some(GeneralBug::SlopeOneLayerOff) if i >= 2 => spec::f_prime(net, fwd, i, j_i),
                Some(GeneralBug::SlopeOfOutput) => net.f(i + 1).derivative(fwd.o(i + 1, u)),
                _ => spec::f_prime(net, fwd, i + 1, u),
            };
            let w = match bug {
                Some(GeneralBug::TransposedW) => {
                    if u > net.width(i) || j_i > net.width(i + 1) {
                        f64::NAN // W_{i,j_{i+1},j_i} does not exist on these shapes
                    } else {
                        net.w(i, u, j_i)
                    }
                }
                _ => net.w(i, j_i, u),
            };
            buffer[j_i - 1] += slope * w * g_next[u - 1];
        }
    }
}

// ANCHOR: bp_13
fn bp_13() -> Claim {
    Claim::checked(
        "BP-13",
        ROOM,
        "eq (13)",
        "g_{i,j_i} = Σ_{j_{i+1}} f'(IN_{i+1,j_{i+1}})·W_{i,j_i,j_{i+1}}·g_{i+1,j_{i+1}} (1 ≤ i ≤ n−1), g = ∂ℓ/∂O; \
         equals finite differences of ℓ in O_i, and δ_i = f'(IN_i)⊙g_i those of ℓ in IN_i",
        PostVerdict::Correct,
        &[
            (
                GeneralBug::SlopeOneLayerOff,
                Planted::bug("f' at the wrong layer"),
            ),
            (GeneralBug::TransposedW, Planted::bug("W transposed")),
            (GeneralBug::SlopeOfOutput, Planted::bug("f' of the output")),
            (
                GeneralBug::StaleBuffer,
                Planted::bug("the gradient buffer not zeroed between samples"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut fd_err, mut delta_err) = (MaxError::default(), MaxError::default());
            for c in 0..ctx.size(300, 8_000) {
                let depth = 2 + c % 5;
                let net = super::fixtures::random_network(&mut rng, depth, 5, Activation::Tanh);
                let n = net.n();
                // Two samples through the same buffers: a stale buffer leaks the first into the second.
                let mut buffers: Vec<Vec<f64>> = vec![Vec::new(); n];
                for _ in 0..2 {
                    let (x, y) = sample(&mut rng, &net);
                    let fwd = spec::eq01_forward(&net, &x);
                    let l_prime =
                        spec::eq10_loss_derivative(spec::eq09_loss_input(y, fwd.y_hat), &mut 0);
                    let mut g = vec![Vec::new(); n];
                    g[n - 1] = spec::eq12_last_layer(&net, l_prime, &mut 0);
                    for i in (1..n).rev() {
                        recurrence13(&net, &fwd, i, &g[i], bug, &mut buffers[i - 1]);
                        g[i - 1] = buffers[i - 1].clone();
                    }
                    for i in 1..n {
                        let o_i = &fwd.outs[i - 1];
                        let loss_of_o_i = |v: &[f64]| {
                            spec::eq08_loss(
                                y,
                                spec::c3_output_unit(&net, &spec::eq01_forward_from(&net, i, v)),
                            )
                        };
                        for (u, gu) in g[i - 1].iter().enumerate() {
                            fd_err.record(
                                band_ratio_at(
                                    *gu,
                                    vector_fd(loss_of_o_i, o_i, u),
                                    spec::eq08_loss(y, fwd.y_hat),
                                ),
                                0.0,
                            );
                        }
                    }
                    // δ-form (XAV-BWD-REC): δ_i = f'(IN_i)⊙g_i is ∂ℓ/∂IN_i, against finite
                    // differences of ℓ in IN_i (O_i = f(IN_i) fed forward), 2 ≤ i ≤ n−1.
                    for i in 2..n {
                        let in_i = &fwd.ins[i - 1];
                        let loss_of_in_i = |v: &[f64]| {
                            let o: Vec<f64> = v.iter().map(|&z| net.f(i).f(z)).collect();
                            spec::eq08_loss(
                                y,
                                spec::c3_output_unit(&net, &spec::eq01_forward_from(&net, i, &o)),
                            )
                        };
                        for u in 1..=net.width(i) {
                            let delta = spec::f_prime(&net, &fwd, i, u) * g[i - 1][u - 1];
                            delta_err.record(
                                band_ratio_at(
                                    delta,
                                    vector_fd(loss_of_in_i, in_i, u - 1),
                                    spec::eq08_loss(y, fwd.y_hat),
                                ),
                                0.0,
                            );
                        }
                    }
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("(13) against finite differences of ℓ in O_i, two samples per network").markdown(r"(13) against finite differences of $\ell$ in $O_i$, two samples per network"),
                &fd_err,
                1.0,
                gradcheck::WHY_SCALED,
            );
            f.max_error(
                Label::from("δ_i = f'(IN_i)⊙g_i against finite differences of ℓ in IN_i").markdown(r"$\delta_i = f'(IN_i) \odot g_i$ against finite differences of $\ell$ in $IN_i$"),
                &delta_err,
                1.0,
                gradcheck::WHY_SCALED,
            );
            f
        },
    )
    .typeset(r"$g_{i,j_i} = \sum_{j_{i+1}} f'(IN_{i+1,j_{i+1}})\, W_{i,j_i,j_{i+1}}\, g_{i+1,j_{i+1}}$ ($1 \le i \le n-1$), $g = \partial \ell/\partial O$; equals finite differences of $\ell$ in $O_i$, and $\delta_i = f'(IN_i) \odot g_i$ those of $\ell$ in $IN_i$")
}
// ANCHOR_END: bp_13

// ---------------------------------------------------------------- BP-14, BP-15, BIAS-16

/// g_i = ∂ℓ/∂O_i for i = 2..n by the literal (12) and (13): `g[i − 1]` = g_i (g[0] unused).
fn layer_gradients(net: &Network, fwd: &Forward, y: f64) -> Vec<Vec<f64>> {
    let n = net.n();
    let l_prime = spec::eq10_loss_derivative(spec::eq09_loss_input(y, fwd.y_hat), &mut 0);
    let mut g = vec![Vec::new(); n];
    g[n - 1] = spec::eq12_last_layer(net, l_prime, &mut 0);
    for i in (2..n).rev() {
        g[i - 1] = spec::eq13_recurrence(net, fwd, i, &g[i], &mut 0); // g_i from g_{i+1}
    }
    g
}

/// The per-sample gradient of every parameter as the literal (15) computes it, with a
/// planted slip in the weight or bias gradient or in the layer range.
fn gradient(net: &Network, x: &[f64], y: f64, slip: Slip) -> Gradient {
    if slip == Slip::None {
        return spec::eq15_gradient(net, x, y, &mut 0);
    }
    let n = net.n();
    let fwd = spec::eq01_forward(net, x);
    let l_prime = spec::eq10_loss_derivative(spec::eq09_loss_input(y, fwd.y_hat), &mut 0);
    let mut grad = Gradient::zeros(net);
    grad.w_out = spec::eq11_output_weight_gradient(net, &fwd, l_prime, &mut 0);
    grad.b_out = spec::eq11_output_bias_gradient(l_prime);
    // Eq (15) as printed runs i = 2..n−1; written `2..n` in Rust the last layer is skipped.
    let top = if slip == Slip::PostRange { n - 1 } else { n };
    let g = layer_gradients(net, &fwd, y);
    for i in 2..=top {
        let g_i = &g[i - 1];
        let fp = |u: usize| spec::f_prime(net, &fwd, i, u);
        for j in 1..=net.width(i - 1) {
            for u in 1..=net.width(i) {
                grad.w[i - 2][j - 1][u - 1] = match slip {
                    Slip::OutputOfLayerI => g_i[u - 1] * fp(u) * fwd.o(i, u),
                    Slip::MissingSlope => g_i[u - 1] * fwd.o(i - 1, j),
                    Slip::StrayIndex => fwd.outs[i - 2]
                        .get(u - 1)
                        .map_or(f64::NAN, |o| g_i[u - 1] * fp(u) * o),
                    Slip::TransposedOuter => {
                        // (O·δᵀ)ᵀ read back into W's shape: entry (j, u) from (u, j).
                        if u > net.width(i - 1) || j > net.width(i) {
                            f64::NAN
                        } else {
                            g_i[j - 1] * fp(j) * fwd.o(i - 1, u)
                        }
                    }
                    _ => g_i[u - 1] * fp(u) * fwd.o(i - 1, j),
                };
            }
        }
        let shared: f64 = (1..=net.width(i)).map(|u| g_i[u - 1] * fp(u)).sum();
        for u in 1..=net.width(i) {
            grad.b[i - 2][u - 1] = match slip {
                Slip::BiasTimesOutput => {
                    g_i[u - 1] * fp(u) * fwd.o(i - 1, (u - 1) % net.width(i - 1) + 1)
                }
                Slip::BiasMissingSlope => g_i[u - 1],
                Slip::SharedBias => shared,
                _ => g_i[u - 1] * fp(u),
            };
        }
    }
    grad
}

/// The planted slips of BP-14, BP-15 and BIAS-16 (one enum, since they share [`gradient`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slip {
    None,
    OutputOfLayerI,
    MissingSlope,
    StrayIndex,
    TransposedOuter,
    PostRange,
    BiasTimesOutput,
    BiasMissingSlope,
    SharedBias,
    /// The fast kernel's bias gradient with `=` where `+=` belongs: the last sample's δ only.
    BiasLastSample,
}

/// Every parameter's gradient (those `keep` selects) against central differences of ℓ, on
/// random networks; ReLU-free, so no difference straddles a kink.
fn all_parameters_fd(ctx: &Ctx, slip: Slip, keep: impl Fn(Param) -> bool) -> MaxError {
    let mut rng = ctx.rng();
    let mut e = MaxError::default();
    for net in networks(&mut rng, ctx.size(150, 4_000), 6) {
        let (x, y) = sample(&mut rng, &net);
        let g = gradient(&net, &x, y, slip);
        for p in net.params().into_iter().filter(|p| keep(*p)) {
            e.record(loss_band(&net, &x, y, p, g.get(p)), net.param(p));
        }
    }
    e
}

// ANCHOR: bp_14
fn bp_14() -> Claim {
    Claim::checked(
        "BP-14",
        ROOM,
        "eq (14)",
        "∂ℓ/∂W_{i−1,j_{i−1},j_i} = g_{i,j_i}·f'(IN_{i,j_i})·O_{i−1,j_{i−1}} (the post prints O_{i−1,j_{i−1},j_i}); \
         equals finite differences of ℓ (the batched matrix form is EXT-BP-MATRIX)",
        PostVerdict::Typo,
        &[
            (
                Slip::OutputOfLayerI,
                Planted::bug("O_{i,j_i} for O_{i−1,j_{i−1}}"),
            ),
            (Slip::MissingSlope, Planted::bug("f' missing")),
            (
                Slip::TransposedOuter,
                Planted::bug("the transposed outer product"),
            ),
            (
                Slip::StrayIndex,
                Planted::post("the printed O_{i−1,j_{i−1},j_i}: the stray j_i read as the unit")
                    .typeset(
                        r"the printed $O_{i-1,j_{i-1},j_i}$: the stray $j_i$ read as the unit",
                    ),
            ),
        ],
        |bug, ctx| {
            let slip = bug.unwrap_or(Slip::None);
            let e = all_parameters_fd(ctx, slip, |p| matches!(p, Param::W { .. }));
            let mut f = Findings::default();
            f.max_error(
                Label::from("(14) on every weight W_{i,j,k} against finite differences")
                    .markdown("(14) on every weight $W_{i,j,k}$ against finite differences"),
                &e,
                1.0,
                gradcheck::WHY_SCALED,
            );
            // The matrix form ∂ℓ/∂W_{i−1} = O_{i−1}·δ_iᵀ computes the same two products per
            // entry, so comparing it here would compare (14) with itself; EXT-BP-MATRIX holds
            // the batched matrix form (f64 and our f32 network) against these loops instead.
            f
        },
    )
    .typeset(r"$\partial \ell/\partial W_{i-1,j_{i-1},j_i} = g_{i,j_i}\, f'(IN_{i,j_i})\, O_{i-1,j_{i-1}}$ (the post prints $O_{i-1,j_{i-1},j_i}$); equals finite differences of $\ell$ (the batched matrix form is EXT-BP-MATRIX)")
}
// ANCHOR_END: bp_14

// ANCHOR: bp_15
fn bp_15() -> Claim {
    Claim::checked(
        "BP-15",
        ROOM,
        "eq (15)",
        "(13) runs for i = 2..n−1 but (14) and (16) must run for i = 2..n: every parameter, W_{n−1} and \
         b_n included, gets its gradient; one entry per parameter; one SGD step moves every parameter \
         whose gradient is non-zero",
        PostVerdict::Imprecise,
        &[(
            Slip::PostRange,
            Planted::post(
                "the printed range i = 2..n−1 (`for i in 2..n`): W_{n−1}, b_n never updated",
            )
            .typeset(r"the printed range $i = 2, \dots, n-1$ (`for i in 2..n`): $W_{n-1}$, $b_n$ never updated"),
        )],
        |bug, ctx| {
            let slip = bug.unwrap_or(Slip::None);
            let e = all_parameters_fd(ctx, slip, |_| true);
            let mut f = Findings::default();
            f.max_error(
                "every parameter's gradient against finite differences",
                &e,
                1.0,
                gradcheck::WHY_SCALED,
            );
            let mut rng = ctx.rng();
            let (mut count, mut moved) = (Tally::default(), Tally::default());
            for net in networks(&mut rng, ctx.size(150, 4_000), 6) {
                let (x, y) = sample(&mut rng, &net);
                let g = gradient(&net, &x, y, slip);
                count.check(g.num_entries() == net.params().len(), || {
                    format!(
                        "{} entries for {} parameters",
                        g.num_entries(),
                        net.params().len()
                    )
                });
                let next = spec::eq17_apply(&net, &g, 0.1);
                for p in net.params() {
                    if loss_fd(&net, &x, y, p).abs() > 1e-6 {
                        moved.check(next.param(p) != net.param(p), || {
                            format!("{p:?} has a non-zero gradient but did not move")
                        });
                    }
                }
            }
            f.tally("one gradient entry per parameter", count);
            f.tally(
                Label::from("after one step (α = 0.1) every parameter with |FD gradient| > 1e-6 moved").markdown(r"after one step ($\alpha = 0.1$) every parameter with $\lvert \text{FD gradient} \rvert > 10^{-6}$ moved"),
                moved,
            );
            if bug.is_none() {
                f.figures.push(gradient_check_figure(ctx));
            }
            f
        },
    )
    .typeset(r"(13) runs for $i = 2, \dots, n-1$ but (14) and (16) must run for $i = 2, \dots, n$: every parameter, $W_{n-1}$ and $b_n$ included, gets its gradient; one entry per parameter; one SGD step moves every parameter whose gradient is non-zero")
}
// ANCHOR_END: bp_15

/// The figure for the book: every parameter of one 3-5-4-2 tanh network, the gap between
/// (14)/(16)/(11) and central differences as a fraction of the gradient-check band (conventions appendix, Gradient checks; log10), beside the
/// same for the post's range (15), where W_{n−1} and b_n get no gradient.
fn gradient_check_figure(ctx: &Ctx) -> crate::report::figure::LinePlot {
    use crate::report::figure::{LinePlot, Series};
    let mut rng = ctx.rng();
    let net = Network::from_fn(&[3, 5, 4, 2], &[Activation::Tanh; 3], || {
        rng.random_range(-1.0..1.0)
    })
    .expect("fixed widths and activations fit");
    let (x, y) = sample(&mut rng, &net);
    let series = [
        (Slip::None, "eqs (11), (14), (16) over i = 2..n"),
        (Slip::PostRange, "the post's range i = 2..n−1"),
    ]
    .into_iter()
    .map(|(slip, name)| {
        let g = gradient(&net, &x, y, slip);
        let points = net
            .params()
            .into_iter()
            .enumerate()
            .map(|(k, p)| {
                (
                    k as f64,
                    loss_band(&net, &x, y, p, g.get(p)).max(1e-12).log10(),
                )
            })
            .collect();
        Series {
            name: name.into(),
            points,
        }
    })
    .collect();
    LinePlot {
        file_stem: "backprop-gradient-check".into(),
        title: "Gradient check of every parameter of a 3-5-4-2 tanh network".into(),
        x_label: "parameter (W_1, W_2, W_3, b_2, b_3, b_4, W_out, b_out)".into(),
        y_label: "log10 |g − FD| / band (accept ≤ 0)".into(),
        series,
    }
}

/// BIAS-16 on the code users call: our f32 network's bias gradients (the row sums of δ over
/// the batch, [`crate::backprop::Network::backward`]) against Σ_m of the literal (16) in f64,
/// every bias (b_i and b_out), on EXT-BP-MATRIX's problems and with its per-parameter
/// rounding bound. The planted kernel slip rebuilds the bias gradient from the same δ with
/// `=` where `+=` belongs.
fn fast_bias_gradients(ctx: &Ctx, slip: Slip) -> MaxError {
    use super::extensions::bp_matrix::{problem, worst_over};
    use crate::backprop::accuracy::{
        U32, U64, error_bound, fast_inputs, gamma, to_fast, to_literal,
    };
    let mut rng = ctx.rng();
    rng.set_stream(1); // apart from the f64 checks' draws
    let mut e = MaxError::default();
    // EXT-BP-MATRIX's problems; fewer at the full budget than there (400), since this runs
    // once per planted variant of the claim and EXT-BP-MATRIX already covers 400.
    for _ in 0..ctx.size(40, 100) {
        let (net, batch) = problem(&mut rng);
        let loops = spec::eq17_batch_gradient(&net, &batch);
        let (s, k) = error_bound(&net, &batch);
        let fast = to_fast(&net);
        let (x, y) = fast_inputs(&net, &batch);
        let mut ws = fast.workspace(batch.len());
        fast.backward(&x, &y, &mut ws).expect("shapes fit");
        let last: Vec<nalgebra::DVector<f32>> = ws
            .deltas()
            .iter()
            .map(|d| d.column(d.ncols() - 1).into_owned())
            .collect();
        let gr = ws.gradients();
        let got = to_literal(
            &net,
            |l| &gr.weights[l],
            |l| match slip {
                Slip::BiasLastSample => &last[l],
                _ => &gr.biases[l],
            },
        );
        let tol = gamma(k, U32) + gamma(k, U64);
        let biases = |p: Param| matches!(p, Param::B { .. } | Param::BOut);
        e.record(worst_over(&net, &got, &loops, &s, tol, biases), k as f64);
    }
    e
}

// ANCHOR: bias_16
fn bias_16() -> Claim {
    Claim::checked(
        "BIAS-16",
        ROOM,
        "eq (16)",
        "∂ℓ/∂b_{i,j_i} = g_{i,j_i}·f'(IN_{i,j_i}); the bias is the weight of an extra unit fixed at 1: \
         the augmented network gives identical IN and its extra weight row the bias gradient; \
         our f32 network's bias gradients equal Σ_m (16) within a derived rounding bound",
        PostVerdict::Correct,
        &[
            (
                Slip::BiasTimesOutput,
                Planted::bug("an extra factor O_{i−1} (the bias treated as an ordinary weight)"),
            ),
            (Slip::BiasMissingSlope, Planted::bug("f' missing")),
            (Slip::SharedBias, Planted::bug("one shared bias per layer")),
            (
                Slip::BiasLastSample,
                Planted::bug(
                    "our f32 network's bias gradient keeps the last sample's δ (= for +=): \
                     the batch sum missing",
                )
                .by("our f32 network"),
            ),
        ],
        |bug, ctx| {
            let slip = bug.unwrap_or(Slip::None);
            let e = all_parameters_fd(ctx, slip, |p| matches!(p, Param::B { .. }));
            let mut f = Findings::default();
            f.max_error(
                "(16) on every bias against finite differences",
                &e,
                1.0,
                gradcheck::WHY_SCALED,
            );
            let mut rng = ctx.rng();
            let (mut same_in, mut same_grad) = (MaxError::default(), MaxError::default());
            for net in networks(&mut rng, ctx.size(150, 4_000), 6) {
                let (x, y) = sample(&mut rng, &net);
                let fwd = spec::eq01_forward(&net, &x);
                let g = gradient(&net, &x, y, slip);
                let layer_g = layer_gradients(&net, &fwd, y);
                for i in 2..=net.n() {
                    let (w_tilde, o_tilde) = spec::bias16_augment(&net, &fwd, i);
                    let in_aug = spec::bias16_in(&w_tilde, &o_tilde);
                    for (a, b) in in_aug.iter().zip(&fwd.ins[i - 1]) {
                        same_in.record(identity_error(*a, *b), 0.0);
                    }
                    let aug = spec::bias16_gradient(&net, &fwd, i, &layer_g[i - 1], &o_tilde);
                    let last = aug.last().expect("the constant unit's row");
                    for (u, gb) in g.b[i - 2].iter().enumerate() {
                        same_grad.record(identity_error(*gb, last[u]), 0.0);
                    }
                }
            }
            f.max_error(
                Label::from("IN with the constant-1 unit = IN with the bias (eq (2))").markdown(r"$IN$ with the constant-1 unit = $IN$ with the bias (eq (2))"),
                &same_in,
                0.0,
                "the same sum in the same order, plus b·1 exactly",
            );
            f.max_error(
                Label::from("∂ℓ/∂b_i = gradient of the constant unit's weights").markdown(r"$\partial \ell/\partial b_i$ = gradient of the constant unit's weights"),
                &same_grad,
                IDENTITY_TOL,
                "the same product, times 1",
            );
            f.max_error(
                Label::from("our f32 network's bias gradients (δ summed over the batch) vs Σ_m (16) in \
                 f64: max |error| / ((γ_K(u₃₂) + γ_K(u₆₄))·S_θ)").markdown(r"our f32 network's bias gradients ($\delta$ summed over the batch) vs $\sum_m$ (16) in f64: $\max \lvert \text{error} \rvert / ((\gamma_K(u_{32}) + \gamma_K(u_{64}))\, S_\theta)$"),
                &fast_bias_gradients(ctx, slip),
                1.0,
                "the first-order rounding bound of EXT-BP-MATRIX, per bias: γ_K·S_θ with K \
                 the roundings on the longest chain and S_θ = Σ_m δ̄ from magnitudes",
            );
            f
        },
    )
    .typeset(r"$\partial \ell/\partial b_{i,j_i} = g_{i,j_i}\, f'(IN_{i,j_i})$; the bias is the weight of an extra unit fixed at 1: the augmented network gives identical $IN$ and its extra weight row the bias gradient; our f32 network's bias gradients equal $\sum_m$ (16) within a derived rounding bound")
}
// ANCHOR_END: bias_16

// ---------------------------------------------------------------- BP-EX

#[derive(Clone, Copy)]
enum ExampleBug {
    FlippedDot,
    OutputForSlope,
}

// ANCHOR: bp_ex
fn bp_ex() -> Claim {
    Claim::checked(
        "BP-EX",
        ROOM,
        "§反向传播简单例子",
        "f = σ(w0·x0 + w1·x1 + w2) with w = (2, −3, −3), x = (−1, −2): f = 0.7310586, f(1−f) = 0.1966119, \
         ∂f/∂w = (−0.1966119, −0.3932239, 0.1966119), ∂f/∂x = (0.3932239, −0.5898358)",
        PostVerdict::Correct,
        &[
            (
                ExampleBug::FlippedDot,
                Planted::bug("the sign of the dot product flipped"),
            ),
            (
                ExampleBug::OutputForSlope,
                Planted::bug("f used where f(1−f) belongs"),
            ),
        ],
        |bug, _ctx| {
            // The neuron as a 2-1 network of the spec: W_{1,j,1} = w_j, b_{2,1} = w2.
            let (w, x) = ([2.0, -3.0, -3.0], [-1.0, -2.0]);
            let sign = if matches!(bug, Some(ExampleBug::FlippedDot)) {
                -1.0
            } else {
                1.0
            };
            let mut params = [sign * w[0], sign * w[1], sign * w[2]].into_iter();
            let net = Network::from_fn(&[2, 1], &[Activation::Sigmoid], || {
                params.next().unwrap_or(0.0)
            })
            .expect("fixed widths and activations fit");
            let fwd = spec::eq01_forward(&net, &x);
            let f_val = fwd.o(2, 1);
            let local = match bug {
                Some(ExampleBug::OutputForSlope) => f_val,
                _ => spec::f_prime(&net, &fwd, 2, 1),
            };
            // ∂f/∂W_{1,j,1} = f'·x_j (BP-03's base case), ∂f/∂b = f', ∂f/∂x_j = f'·W_{1,j,1} (eq (6)).
            let got = [
                f_val,
                local,
                local * x[0],
                local * x[1],
                local,
                local * net.w(1, 1, 1),
                local * net.w(1, 2, 1),
            ];
            let golden = [
                0.7310586, 0.1966119, -0.1966119, -0.3932239, 0.1966119, 0.3932239, -0.5898358,
            ];
            let worst = got
                .iter()
                .zip(golden)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let mut f = Findings::default();
            f.bound(
                Label::from("f, f(1−f), ∂f/∂w, ∂f/∂x against the figure's values").markdown(r"$f$, $f(1-f)$, $\partial f/\partial w$, $\partial f/\partial x$ against the figure's values"),
                worst,
                1e-6,
                7,
                "the golden values are printed to 7 decimals (rounding ≤ 5e-8)",
            );
            let neuron =
                |v: &[f64]| derivations::activation::sigmoid(v[0] * v[3] + v[1] * v[4] + v[2]);
            let point = [w[0], w[1], w[2], x[0], x[1]];
            let mut e = MaxError::default();
            for (slot, analytic) in [
                (0, got[2]),
                (1, got[3]),
                (2, got[4]),
                (3, got[5]),
                (4, got[6]),
            ] {
                e.record(band_ratio(analytic, vector_fd(neuron, &point, slot)), 0.0);
            }
            f.max_error(
                Label::from("∂f/∂w and ∂f/∂x against finite differences").markdown(r"$\partial f/\partial w$ and $\partial f/\partial x$ against finite differences"),
                &e,
                1.0,
                gradcheck::WHY,
            );
            f
        },
    )
    .typeset(r"$f = \sigma(w_0 x_0 + w_1 x_1 + w_2)$ with $w = (2, -3, -3)$, $x = (-1, -2)$: $f = 0.7310586$, $f(1-f) = 0.1966119$, $\partial f/\partial w = (-0.1966119, -0.3932239, 0.1966119)$, $\partial f/\partial x = (0.3932239, -0.5898358)$")
}
// ANCHOR_END: bp_ex
