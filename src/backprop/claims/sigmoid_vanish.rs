//! EXP-SIGMOID-VANISH (catalogue appendix; the motivation of the BN section, see
//! EXT-SIGMOID-VANISH): through Xavier-initialised sigmoid layers the backward mean square
//! shrinks by J·Var(W)·E[σ'(IN)²] ≈ 0.0557 ≈ 1/18 per layer.
//!
//! Run on our f32 network: its backward pass leaves δ = ∂L/∂IN of every layer in the
//! workspace. A backward probe G ~ N(0, 1) enters at the last layer's output through the
//! target y = ŷ − G/2, since the loss Σ(ŷ − y)² has ∂L/∂ŷ = 2(ŷ − y) = G.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::{ROOM, standard_normal};
use crate::activation::Activation;
use crate::backprop::{Dense, Network};
use crate::claims::{Claim, Control, Ctx, Design, Findings, Label, Tally, Trial};
use crate::report::figure::{LinePlot, Series};

const DEPTH: usize = 10;
const WIDTH: usize = 256;
/// The catalogue's band for the per-layer ratio.
const LOW: f64 = 0.04;
const HIGH: f64 = 0.07;

/// The control arm.
#[derive(Clone, Copy)]
enum Arm {
    /// A broken initialisation: the Xavier bound computed in integer arithmetic,
    /// 6 / (J_i + J_{i+1}) = 0, so every weight is 0 and nothing flows backwards.
    IntegerBound,
}

// ANCHOR: xavier_uniform
/// Xavier-uniform weights (eq (23)): U[−a, a] with a = √6/√(J_i + J_{i+1}), zero biases. The
/// broken control divides in integers first, which makes a = 0.
fn xavier_layer(rng: &mut impl Rng, activation: Activation, arm: Option<Arm>) -> Dense {
    let a = match arm {
        None => (6.0 / (2 * WIDTH) as f64).sqrt(),
        Some(Arm::IntegerBound) => f64::from(6u32 / (2 * WIDTH) as u32).sqrt(),
    };
    Dense {
        weights: DMatrix::from_fn(WIDTH, WIDTH, |_, _| {
            if a > 0.0 {
                rng.random_range(-a..a) as f32
            } else {
                0.0
            }
        }),
        bias: DVector::zeros(WIDTH),
        activation,
    }
}
// ANCHOR_END: xavier_uniform

/// Per layer: the mean square of δ = ∂L/∂IN (index 0 = first layer), the mean square of the
/// probe G at the top, and the mean square of the last hidden output (the settled q).
struct Profile {
    delta_ms: Vec<f64>,
    probe_ms: f64,
    q: f64,
}

fn mean_square(m: &DMatrix<f32>) -> f64 {
    m.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / m.len() as f64
}

fn profile(
    seed_rng: &mut impl Rng,
    activation: Activation,
    batch: usize,
    arm: Option<Arm>,
) -> Profile {
    let layers = (0..DEPTH)
        .map(|_| xavier_layer(seed_rng, activation, arm))
        .collect();
    let net = Network::new(layers).expect("square layers chain");
    let x = DMatrix::from_fn(WIDTH, batch, |_, _| standard_normal(seed_rng) as f32);
    let probe = DMatrix::from_fn(WIDTH, batch, |_, _| standard_normal(seed_rng) as f32);
    let mut ws = net.workspace(batch);
    let y_hat = net.forward(&x, &mut ws).expect("shapes").clone();
    let y = &y_hat - &probe * 0.5;
    net.backward(&x, &y, &mut ws).expect("shapes");
    Profile {
        delta_ms: ws.deltas().iter().map(mean_square).collect(),
        probe_ms: mean_square(&probe),
        q: mean_square(&ws.outputs()[DEPTH - 1]),
    }
}

/// One replicate: a fresh sigmoid network and a fresh tanh network (fresh weights, inputs
/// and probe), the per-layer ratios of the sigmoid one, and how far inside [0.04, 0.07] the
/// extreme ratios lie.
fn replicate(arm: Option<Arm>, ctx: &Ctx) -> Trial {
    let batch = ctx.size(32, 128);
    let mut rng = ctx.rng();
    let sigmoid = profile(&mut rng, Activation::Sigmoid, batch, arm);
    let tanh = profile(&mut rng, Activation::Tanh, batch, arm);
    let ratios: Vec<f64> = sigmoid.delta_ms.windows(2).map(|w| w[0] / w[1]).collect();
    let (lo, hi) = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            (lo.min(r), hi.max(r))
        });
    let total = |p: &Profile| p.delta_ms[0] / p.probe_ms;
    let mut f = Findings::default();
    let mut alive = Tally::default();
    for (name, p) in [("sigmoid", &sigmoid), ("tanh", &tanh)] {
        for (l, &ms) in p.delta_ms.iter().enumerate() {
            alive.check(ms.is_finite() && ms > 0.0, || {
                format!("{name} layer {}: mean square of δ = {ms}", l + 1)
            });
        }
    }
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.4}")).collect();
    let (shown, over, tanh_over, q) = (shown.join(", "), total(&sigmoid), total(&tanh), sigmoid.q);
    f.tally(
        Label::from(format!(
            "every layer's δ has a finite, positive mean square (this replicate: per-layer \
             ratios {shown}; layer 1 sees q = 1 from the unit-variance input, predicted \
             E[σ'(z)²] = 0.0448; settled q ≈ 0.265 predicts 0.0557; over 10 layers {over:.2e}, \
             tanh {tanh_over:.3}; settled q = {q:.4})"
        ))
        .markdown(format!(
            r"every layer's $\delta$ has a finite, positive mean square (this replicate: per-layer ratios {shown}; layer 1 sees $q = 1$ from the unit-variance input, predicted $\mathbb{{E}}[\sigma'(z)^2] = 0.0448$; settled $q \approx 0.265$ predicts $0.0557$; over 10 layers ${}$, $\tanh$ ${tanh_over:.3}$; settled $q = {q:.4}$)",
            crate::report::book::num(over, 2)
        )),
        alive,
    );
    let curve = |p: &Profile| {
        p.delta_ms
            .iter()
            .enumerate()
            .map(|(l, &ms)| ((l + 1) as f64, ms.log10()))
            .collect()
    };
    f.figures.push(LinePlot {
        file_stem: "backprop-sigmoid-vanish".into(),
        title: "EXP-SIGMOID-VANISH, one replicate: 10 layers of width 256, Xavier-uniform".into(),
        x_label: "layer (10 = next to the probe)".into(),
        y_label: "log10 mean square of δ = ∂L/∂IN".into(),
        series: vec![
            Series {
                name: "sigmoid".into(),
                points: curve(&sigmoid),
            },
            Series {
                name: "tanh".into(),
                points: curve(&tanh),
            },
        ],
    });
    Trial::new((HIGH - hi).min(lo - LOW), f)
}

// ANCHOR: exp_sigmoid_vanish
pub(super) fn exp_sigmoid_vanish() -> Claim {
    Claim::experiment(
        "EXP-SIGMOID-VANISH",
        ROOM,
        "experiment → BN motivation",
        "10 sigmoid layers of width 256 with Xavier-uniform weights, fresh weights, inputs and \
         probe per replicate: the backward mean square shrinks per layer by a ratio in \
         [0.04, 0.07] at every layer (predicted J·Var(W)·E[σ'(IN)²] ≈ 0.0557 ≈ 1/18 once q has \
         settled, 0.0448 at the first layer; about 3e-13 over 10 layers, against about 0.071 \
         for tanh)",
        DESIGN,
        &[(
            Arm::IntegerBound,
            Control::broken(
                "Xavier's bound computed in integers (6/(J_i + J_{i+1}) = 0): all weights 0",
            ),
        )],
        replicate,
    )
    .typeset(r"10 sigmoid layers of width 256 with Xavier-uniform weights, fresh weights, inputs and probe per replicate: the backward mean square shrinks per layer by a ratio in $[0.04, 0.07]$ at every layer (predicted $J\, \mathrm{Var}(W)\, \mathbb{E}[\sigma'(IN)^2] \approx 0.0557 \approx 1/18$ once $q$ has settled, $0.0448$ at the first layer; about $3 \times 10^{-13}$ over 10 layers, against about $0.071$ for $\tanh$)")
}
// ANCHOR_END: exp_sigmoid_vanish

/// The sign test's design. Measured on base seed 0: every ratio lay in [0.04, 0.07] in
/// 2000 of 2000 replicates at the CI budget's batch of 32 (smallest margin 8.6e-4, median
/// 4.9e-3) and in 1000 of 1000 at the full budget's batch of 128 (smallest 2.1e-3). The 99.9 %
/// lower confidence bounds on the rate are 1 − 6.9/2000 = 0.9965 and 0.9931; the planning
/// rate 0.995 is below the first and, at the full budget's larger n, conservative enough for
/// the second: the sign test fails to say supported with probability, with Bin(n, 0.995),
/// 5.2e-8 at the CI budget (n = 40, supported from 35 wins) and < 1e-15 at the full budget
/// (n = 64, from 51), and < 1e-14 at the full budget even at the rate 0.99. The broken
/// control fails its health check in its first replicate (every δ below the top is 0).
const DESIGN: Design = Design {
    inequality: "every per-layer ratio of the backward mean square lies in [0.04, 0.07]",
    ci: 40,
    full: 64,
    alpha: 1e-6,
    planning_rate: 0.995,
};
