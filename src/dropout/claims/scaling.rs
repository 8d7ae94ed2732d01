//! DROP-SCALE, DROP-EXPECT and DROP-INVERTED: what the prediction-time scaling preserves,
//! by exact enumeration of every mask of a small layer and by z-tests of the kernel's masks
//! on a large one.
//!
//! Setting (C1–C2): a layer of J units with outputs O = f(W1ᵀx + b1), dropout on those
//! outputs, and the next layer's pre-activation a = W2ᵀ(r∘O) + b2. Keep probability 0.8.

use rand::Rng;

use super::{LONG_SUM_WHY, ROOM, dropout, uniform, worst_gap};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, Planted, PostVerdict, Power, Tally,
};
use crate::dropout::{Mask, MaskStream, Scaling};
use crate::stats::{ALPHA, Moments, z_test_mean};
use derivations::activation::{sigmoid, tanh_stable};
use derivations::dropout as spec;

const P: f64 = 0.8;

/// One random layer pair: x (d inputs) → J hidden units (σ) → K next pre-activations.
struct Layers {
    x: Vec<f64>,
    w1: Vec<Vec<f64>>,
    b1: Vec<f64>,
    w2: Vec<Vec<f64>>,
    b2: Vec<f64>,
}

impl Layers {
    fn random(rng: &mut impl Rng, d: usize, j: usize, k: usize) -> Self {
        let mut m = |rows: usize, cols: usize| -> Vec<Vec<f64>> {
            (0..rows)
                .map(|_| (0..cols).map(|_| uniform(rng, -1.0, 1.0)).collect())
                .collect()
        };
        let (w1, w2) = (m(d, j), m(j, k));
        let mut v = |n: usize| -> Vec<f64> { (0..n).map(|_| uniform(rng, -1.0, 1.0)).collect() };
        Self {
            x: v(d),
            b1: v(j),
            b2: v(k),
            w1,
            w2,
        }
    }

    /// O = f(W1ᵀx + b1), with the incoming weights scaled by `incoming`.
    fn hidden(&self, incoming: f64, f: fn(f64) -> f64) -> Vec<f64> {
        let w1 = spec::predict_weights(&self.w1, incoming);
        spec::pre_activation(&w1, &self.x, &self.b1)
            .into_iter()
            .map(f)
            .collect()
    }
}

// ---------------------------------------------------------------- DROP-SCALE
// ANCHOR: drop_scale

#[derive(Clone, Copy)]
enum ScaleBug {
    OneMinusP,
    InverseP,
    BiasScaled,
    IncomingInstead,
    Forgotten,
}

/// The test-time next pre-activation, as the code under test computes it.
fn predict(bug: Option<ScaleBug>, l: &Layers) -> Vec<f64> {
    let (outgoing, bias, incoming) = match bug {
        None => (P, 1.0, 1.0),
        Some(ScaleBug::OneMinusP) => (1.0 - P, 1.0, 1.0),
        Some(ScaleBug::InverseP) => (1.0 / P, 1.0, 1.0),
        Some(ScaleBug::BiasScaled) => (P, P, 1.0),
        Some(ScaleBug::IncomingInstead) => (1.0, 1.0, P),
        Some(ScaleBug::Forgotten) => (1.0, 1.0, 1.0),
    };
    let b2: Vec<f64> = l.b2.iter().map(|b| bias * b).collect();
    spec::pre_activation(
        &spec::predict_weights(&l.w2, outgoing),
        &l.hidden(incoming, sigmoid),
        &b2,
    )
}

pub(super) fn drop_scale() -> Claim {
    Claim::checked(
        "DROP-SCALE",
        ROOM,
        "§模型预测",
        "at prediction, multiply the outgoing weights of every unit that had dropout by its keep \
         probability p (not the biases, not the incoming weights): the next layer's test-time \
         pre-activation then equals the expectation over masks of its training-time one, exactly \
         (enumeration of all 2^J masks, and a z-test of the kernel's masks on J = 1000)",
        PostVerdict::Correct,
        &[
            (ScaleBug::OneMinusP, Planted::bug("weights × (1 − p)")),
            (
                ScaleBug::InverseP,
                Planted::bug("weights × 1/p at prediction"),
            ),
            (
                ScaleBug::BiasScaled,
                Planted::bug("the next layer's bias scaled by p as well"),
            ),
            (
                ScaleBug::IncomingInstead,
                Planted::bug("incoming weights scaled instead of outgoing: f(p·IN) ≠ p·f(IN)"),
            ),
            (ScaleBug::Forgotten, Planted::bug("the scaling forgotten")),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let j = ctx.size(10, 12);
            let mut pairs = Vec::new();
            for _ in 0..ctx.size(20, 200) {
                let l = Layers::random(&mut rng, 4, j, 3);
                let o = l.hidden(1.0, sigmoid);
                let test = predict(bug, &l);
                for (k, &t) in test.iter().enumerate() {
                    let train = spec::expectation_over_masks(j, P, |r| {
                        spec::pre_activation(&l.w2, &spec::train_standard(&o, r), &l.b2)[k]
                    });
                    pairs.push((train, t));
                }
            }
            let (worst, n) = worst_gap(pairs);
            let mut f = Findings::default();
            f.bound(
                Label::from(format!("E_r[W2ᵀ(r∘O) + b2] = (pW2)ᵀO + b2 over all 2^{j} masks (σ hidden layer)"))
                    .markdown(format!(r"$\mathbb{{E}}_r[W_2^\top (r \circ O) + b_2] = (p W_2)^\top O + b_2$ over all $2^{{{j}}}$ masks ($\sigma$ hidden layer)")),
                worst,
                1e-10,
                n,
                LONG_SUM_WHY,
            );
            kernel_mean(&mut f, ctx, bug);
            f
        },
    )
    .typeset(r"at prediction, multiply the outgoing weights of every unit that had dropout by its keep probability $p$ (not the biases, not the incoming weights): the next layer's test-time pre-activation then equals the expectation over masks of its training-time one, exactly (enumeration of all $2^J$ masks, and a z-test of the kernel's masks on $J = 1000$)")
}

/// The kernel's standard-dropout masks on a layer of 1000 σ outputs, M draws: the mean of
/// a = Σ_j W_j·r_j·O_j + b equals the test-time value Σ_j p·W_j·O_j + b (z-test, variance
/// p(1−p)·Σ W_j²O_j² known exactly).
///
/// The bias is b = 10, not 1, so that the smallest planted shift, the bias scaled by p
/// ((1 − p)·b = 2), is a sizeable number of standard errors: the standard error is
/// √(p(1−p)·Σ W²O²/M) ≈ √(0.16·117/M) ≈ 0.14 at M = 1000 (CI), about 14 of them, miss
/// probability below 1e-13 (the exact figure is printed with each run).
fn kernel_mean(f: &mut Findings, ctx: &Ctx, bug: Option<ScaleBug>) {
    let mut rng = ctx.rng();
    let units = 1000;
    let o: Vec<f32> = (0..units)
        .map(|_| sigmoid(uniform(&mut rng, -3.0, 3.0)) as f32)
        .collect();
    let w: Vec<f32> = (0..units)
        .map(|_| uniform(&mut rng, 0.0, 1.0) as f32)
        .collect();
    let b = 10.0f64;
    let d = dropout(P as f32, Scaling::Standard);
    let draws = ctx.size(1000, 20_000);
    let (mut out, mut mask) = (vec![0.0f32; units], Mask::new(units));
    let mut m = Moments::new();
    for t in 0..draws {
        d.forward(MaskStream::new(ctx.seed, t as u64), &o, &mut out, &mut mask)
            .expect("equal lengths");
        m.push(
            w.iter()
                .zip(&out)
                .map(|(&wj, &oj)| f64::from(wj) * f64::from(oj))
                .sum::<f64>()
                + b,
        );
    }
    // The test-time value: the kernel's own scaling of the outgoing weights (p·W), or the
    // planted variant. (The incoming-weight bug needs the layer below; the enumeration above
    // rejects it.)
    let mut scaled = w.clone();
    d.scale_outgoing_weights(&mut scaled);
    let raw = |factor: f64| -> Vec<f64> { w.iter().map(|&wj| factor * f64::from(wj)).collect() };
    let test_value = |bug: Option<ScaleBug>| -> f64 {
        let (weights, bias): (Vec<f64>, f64) = match bug {
            None | Some(ScaleBug::IncomingInstead) => {
                (scaled.iter().map(|&v| f64::from(v)).collect(), b)
            }
            Some(ScaleBug::OneMinusP) => (raw(1.0 - P), b),
            Some(ScaleBug::InverseP) => (raw(1.0 / P), b),
            Some(ScaleBug::BiasScaled) => (raw(P), P * b),
            Some(ScaleBug::Forgotten) => (raw(1.0), b),
        };
        weights
            .iter()
            .zip(&o)
            .map(|(wj, &oj)| wj * f64::from(oj))
            .sum::<f64>()
            + bias
    };
    let variance: f64 = P
        * (1.0 - P)
        * w.iter()
            .zip(&o)
            .map(|(&wj, &oj)| (f64::from(wj) * f64::from(oj)).powi(2))
            .sum::<f64>();
    let se = (variance / draws as f64).sqrt();
    // Power: each variant's own shift of the predicted mean, in standard errors; on our
    // code, the weakest variant this test sees (the incoming-weight bug leaves this layer's
    // value unchanged and is the enumeration's to reject).
    let shift = |b: ScaleBug| (test_value(Some(b)) - test_value(None)).abs() / se;
    let power = match bug {
        Some(ScaleBug::IncomingInstead) => Power::new(
            crate::stats::ALPHA,
            "the incoming-weight bug does not move this layer's value (no shift: power α); the \
             enumeration rejects it",
        ),
        Some(b) => super::z_power(shift(b), "this variant's shift of the mean"),
        None => {
            let (b, name) = [
                (ScaleBug::OneMinusP, "weights × (1 − p)"),
                (ScaleBug::InverseP, "weights × 1/p"),
                (ScaleBug::BiasScaled, "bias scaled by p"),
                (ScaleBug::Forgotten, "scaling forgotten"),
            ]
            .into_iter()
            .min_by(|a, b| shift(a.0).total_cmp(&shift(b.0)))
            .expect("variants");
            super::z_power(shift(b), format!("the weakest shift ({name})"))
        }
    };
    f.test(
        Label::from(format!(
            "kernel masks, J = {units}: mean of W2ᵀ(r∘O) + b over {draws} draws = test-time value"
        ))
        .markdown(format!(
            r"kernel masks, $J = {units}$: mean of $W_2^\top (r \circ O) + b$ over {draws} draws = test-time value"
        )),
        z_test_mean(&m, test_value(bug), variance).expect("positive variance"),
        ALPHA,
        power,
    );
}

// ANCHOR_END: drop_scale
// ---------------------------------------------------------------- DROP-EXPECT
// ANCHOR: drop_expect

#[derive(Clone, Copy)]
enum ExpectBug {
    PredictInverse,
    DropReading,
    TanhIsIdentity,
}

/// A 1-hidden-layer network with dropout on its d inputs: ŷ = w2ᵀf(W1ᵀ(r∘x) + b1) + b2.
fn output(l: &Layers, r: Option<&[bool]>, input_scale: f64, f: fn(f64) -> f64) -> f64 {
    let x = match r {
        Some(r) => spec::train_standard(&l.x, r),
        None => l.x.clone(),
    };
    let w1 = spec::predict_weights(&l.w1, input_scale);
    let h: Vec<f64> = spec::pre_activation(&w1, &x, &l.b1)
        .into_iter()
        .map(f)
        .collect();
    spec::pre_activation(&l.w2, &h, &l.b2)[0]
}

pub(super) fn drop_expect() -> Claim {
    Claim::checked(
        "DROP-EXPECT",
        ROOM,
        "§模型预测",
        "\"in expectation each unit takes part p times\" holds exactly for the next layer's \
         pre-activation and for a linear network's output, E_r[ŷ] = ŷ_scaled; for a non-linear \
         network the weight-scaled output differs from the mean over sub-networks (Jensen: \
         non-zero gap for every random tanh network)",
        PostVerdict::Imprecise,
        &[
            (
                ExpectBug::PredictInverse,
                Planted::bug("prediction with weights × 1/p"),
            ),
            (
                ExpectBug::DropReading,
                Planted::bug("the expectation taken with keep probability 1 − p (drop reading)"),
            ),
            (
                ExpectBug::TanhIsIdentity,
                Planted::bug(
                    "the \"tanh\" network silently linear (activation defaults to identity)",
                ),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let d = ctx.size(10, 12);
            let predict_scale = if matches!(bug, Some(ExpectBug::PredictInverse)) {
                1.0 / P
            } else {
                P
            };
            let mask_p = if matches!(bug, Some(ExpectBug::DropReading)) {
                1.0 - P
            } else {
                P
            };
            let tanh: fn(f64) -> f64 = match bug {
                Some(ExpectBug::TanhIsIdentity) => |z| z,
                _ => tanh_stable,
            };
            let (mut linear, mut pre) = (Vec::new(), Vec::new());
            let mut jensen = Tally::default();
            let mut gaps = Vec::new();
            for _ in 0..ctx.size(10, 100) {
                let l = Layers::random(&mut rng, d, 8, 1);
                let id = |z: f64| z;
                let mean =
                    spec::expectation_over_masks(d, mask_p, |r| output(&l, Some(r), 1.0, id));
                linear.push((mean, output(&l, None, predict_scale, id)));
                // The first hidden unit's pre-activation (DROP-SCALE checks every unit).
                let w1p = spec::predict_weights(&l.w1, predict_scale);
                let test_pre = spec::pre_activation(&w1p, &l.x, &l.b1)[0];
                let e = spec::expectation_over_masks(d, mask_p, |r| {
                    spec::pre_activation(&l.w1, &spec::train_standard(&l.x, r), &l.b1)[0]
                });
                pre.push((e, test_pre));
                let mean =
                    spec::expectation_over_masks(d, mask_p, |r| output(&l, Some(r), 1.0, tanh));
                let gap = (mean - output(&l, None, predict_scale, tanh)).abs();
                gaps.push(gap);
                jensen.check(gap > 1e-9, || format!("tanh network with gap {gap:e}"));
            }
            let mut f = Findings::default();
            let (worst, n) = worst_gap(pre);
            f.bound(
                Label::from("next pre-activation: E_r[W1ᵀ(r∘x) + b1] = (pW1)ᵀx + b1").markdown(r"next pre-activation: $\mathbb{E}_r[W_1^\top(r \circ x) + b_1] = (pW_1)^\top x + b_1$"),
                worst,
                1e-10,
                n,
                LONG_SUM_WHY,
            );
            let (worst, n) = worst_gap(linear);
            f.bound(
                Label::from("linear network: E_r[ŷ] = weight-scaled ŷ")
                    .markdown(r"linear network: $\mathbb{E}_r[\hat y]$ = weight-scaled $\hat y$"),
                worst,
                1e-10,
                n,
                LONG_SUM_WHY,
            );
            let mean_gap = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let max_gap = gaps.iter().fold(0.0f64, |a, &b| a.max(b));
            f.tally(
                Label::from(format!(
                    "tanh network: |E_r[ŷ] − ŷ_scaled| > 1e-9 on every random network \
                     (mean gap {mean_gap:.3e}, max {max_gap:.3e}; rounding is ~1e-15)"
                ))
                .markdown(format!(
                    r"tanh network: $\lvert \mathbb{{E}}_r[\hat y] - \hat y_{{\text{{scaled}}}} \rvert > 10^{{-9}}$ on every random network (mean gap ${}$, max ${}$; rounding is $\sim 10^{{-15}}$)",
                    crate::report::book::num(mean_gap, 3),
                    crate::report::book::num(max_gap, 3)
                )),
                jensen,
            );
            f
        },
    )
    .typeset(r#""in expectation each unit takes part $p$ times" holds exactly for the next layer's pre-activation and for a linear network's output, $\mathbb{E}_r[\hat y] = \hat y_{\text{scaled}}$; for a non-linear network the weight-scaled output differs from the mean over sub-networks (Jensen: non-zero gap for every random tanh network)"#)
}

// ANCHOR_END: drop_expect
// ---------------------------------------------------------------- DROP-INVERTED
// ANCHOR: drop_inverted

#[derive(Clone, Copy)]
enum InvertedBug {
    TimesP,
    DividedAtTestToo,
    OneMinusP,
    Forgotten,
}

/// The training factor of inverted dropout and the test-time factor of its weights.
fn inverted_factors(bug: Option<InvertedBug>) -> (f64, f64) {
    match bug {
        None => (1.0 / P, 1.0),
        Some(InvertedBug::TimesP) => (P, 1.0),
        Some(InvertedBug::DividedAtTestToo) => (1.0 / P, 1.0 / P),
        Some(InvertedBug::OneMinusP) => (1.0 / (1.0 - P), 1.0),
        Some(InvertedBug::Forgotten) => (1.0, 1.0),
    }
}

pub(super) fn drop_inverted() -> Claim {
    Claim::checked(
        "DROP-INVERTED",
        ROOM,
        "§模型预测 (last paragraph)",
        "inverted dropout — kept units scaled by 1/p in training, weights w' = p·w used as they \
         are at prediction — has the same training-time outputs (shared masks) and test-time \
         outputs as standard dropout, and E_r of its pre-activation is the undropped one; the \
         f32 kernel's output equals the literal r·x/p given the same mask; p = 0 is a typed \
         error",
        PostVerdict::Correct,
        &[
            (
                InvertedBug::TimesP,
                Planted::bug("training multiplied by p instead of divided"),
            ),
            (
                InvertedBug::DividedAtTestToo,
                Planted::bug("divided by p at test time as well (double scaling)"),
            ),
            (
                InvertedBug::OneMinusP,
                Planted::bug("1/(1 − p) with p the keep probability"),
            ),
            (
                InvertedBug::Forgotten,
                Planted::bug("the 1/p forgotten in training"),
            ),
        ],
        |bug, ctx| {
            let (train, test) = inverted_factors(bug);
            let mut rng = ctx.rng();
            let j = 10;
            let (mut trained, mut tested, mut expected) = (Vec::new(), Vec::new(), Vec::new());
            for c in 0..ctx.size(20, 200) {
                let l = Layers::random(&mut rng, 4, j, 3);
                let o = l.hidden(1.0, sigmoid);
                let w_prime = spec::predict_weights(&l.w2, P); // w' = p·w
                let inverted = |r: &[bool]| -> Vec<f64> {
                    let o_r: Vec<f64> = o
                        .iter()
                        .zip(r)
                        .map(|(oj, &rj)| spec::r_value(rj) * oj * train)
                        .collect();
                    spec::pre_activation(&w_prime, &o_r, &l.b2)
                };
                let stream = MaskStream::new(ctx.seed, c as u64);
                let t = dropout(P as f32, Scaling::Inverted)
                    .keep()
                    .threshold()
                    .expect("p < 1");
                let r: Vec<bool> = (0..j).map(|i| stream.uniform(i as u64) < t).collect();
                let standard = spec::pre_activation(&l.w2, &spec::train_standard(&o, &r), &l.b2);
                trained.extend(standard.into_iter().zip(inverted(&r)));
                let w_test = spec::predict_weights(&w_prime, test);
                let inv_test = spec::pre_activation(&w_test, &o, &l.b2);
                let std_test = spec::pre_activation(&spec::predict_weights(&l.w2, P), &o, &l.b2);
                tested.extend(std_test.into_iter().zip(inv_test));
                let undropped = spec::pre_activation(&w_prime, &o, &l.b2);
                for (k, &u) in undropped.iter().enumerate() {
                    expected.push((spec::expectation_over_masks(j, P, |r| inverted(r)[k]), u));
                }
            }
            let mut f = Findings::default();
            let (worst, n) = worst_gap(trained);
            f.bound(
                Label::from("training, shared masks: standard (w) = inverted (w' = p·w, r∘O/p)").markdown(r"training, shared masks: standard ($w$) = inverted ($w' = p w$, $r \circ O/p$)"),
                worst,
                IDENTITY_TOL,
                n,
                "a few roundings per term (p·w, /p) over 10 terms of order one (conventions appendix, Tolerances)",
            );
            let (worst, n) = worst_gap(tested);
            f.bound(
                Label::from("prediction: standard (p·w) = inverted (w' as is)").markdown(r"prediction: standard ($p w$) = inverted ($w'$ as is)"),
                worst,
                IDENTITY_TOL,
                n,
                "one rounding per term; identical products when w' = p·w (conventions appendix, Tolerances)",
            );
            let (worst, n) = worst_gap(expected);
            f.bound(
                Label::from("E_r[inverted pre-activation] = undropped pre-activation (2^10 masks)").markdown(r"$\mathbb{E}_r[\text{inverted pre-activation}]$ = undropped pre-activation ($2^{10}$ masks)"),
                worst,
                1e-10,
                n,
                LONG_SUM_WHY,
            );
            kernel_matches_literal(&mut f, ctx);
            inverted_kernel_mean(&mut f, ctx, train, bug);
            f
        },
    )
    .typeset(r"inverted dropout — kept units scaled by $1/p$ in training, weights $w' = p w$ used as they are at prediction — has the same training-time outputs (shared masks) and test-time outputs as standard dropout, and $\mathbb{E}_r$ of its pre-activation is the undropped one; the f32 kernel's output equals the literal $r x/p$ given the same mask; $p = 0$ is a typed error")
}

/// The kernel's inverted-dropout masks on a layer of 1000 σ outputs, M draws: the mean of
/// a = Σ_j W_j·y_j + b, y = r∘O·s, equals the undropped Σ_j W_j·O_j + b (z-test, variance
/// (1−p)/p·Σ W_j²O_j² known exactly). `train` is the training factor under test; the kernel's
/// output is rescaled from its 1/p to it.
fn inverted_kernel_mean(f: &mut Findings, ctx: &Ctx, train: f64, bug: Option<InvertedBug>) {
    let mut rng = ctx.rng();
    let units = 1000;
    let o: Vec<f32> = (0..units)
        .map(|_| sigmoid(uniform(&mut rng, -3.0, 3.0)) as f32)
        .collect();
    let w: Vec<f64> = (0..units).map(|_| uniform(&mut rng, 0.0, 1.0)).collect();
    let b = 1.0;
    let d = dropout(P as f32, Scaling::Inverted);
    let rescale = train / f64::from(d.train_factor());
    let draws = ctx.size(1000, 20_000);
    let (mut out, mut mask) = (vec![0.0f32; units], Mask::new(units));
    let mut m = Moments::new();
    for t in 0..draws {
        d.forward(
            MaskStream::new(ctx.seed ^ 0x1A, t as u64),
            &o,
            &mut out,
            &mut mask,
        )
        .expect("equal lengths");
        m.push(
            rescale
                * w.iter()
                    .zip(&out)
                    .map(|(wj, &yj)| wj * f64::from(yj))
                    .sum::<f64>()
                + b,
        );
    }
    let c2: f64 = w
        .iter()
        .zip(&o)
        .map(|(wj, &oj)| (wj * f64::from(oj)).powi(2))
        .sum();
    let undropped: f64 = w
        .iter()
        .zip(&o)
        .map(|(wj, &oj)| wj * f64::from(oj))
        .sum::<f64>()
        + b;
    let variance = (1.0 - P) / P * c2;
    // Power: a training factor t instead of 1/p moves the mean by (t·p − 1)·Σ W O (Σ W O ≈
    // 250 here) against a standard error √(0.25·Σ W²O²/M) < 0.2: the weakest variant seen
    // here, the 1/p forgotten (t = 1), is about 0.2·250/0.17 ≈ 290 standard errors away at
    // M = 1000. Dividing at test time as well leaves training alone (the prediction identity
    // rejects it).
    let sum_wo = undropped - b;
    let shift = |t: f64| ((t * P - 1.0) * sum_wo).abs() / (variance / draws as f64).sqrt();
    let power = match bug {
        Some(InvertedBug::DividedAtTestToo) => Power::new(
            crate::stats::ALPHA,
            "dividing at test time too leaves the training factor alone (no shift: power α); \
             the prediction identity rejects it",
        ),
        Some(b) => super::z_power(
            shift(inverted_factors(Some(b)).0),
            "this variant's training factor",
        ),
        None => [
            InvertedBug::TimesP,
            InvertedBug::OneMinusP,
            InvertedBug::Forgotten,
        ]
        .into_iter()
        .map(|b| shift(inverted_factors(Some(b)).0))
        .min_by(f64::total_cmp)
        .map(|e| super::z_power(e, "the weakest shift (the 1/p forgotten)"))
        .expect("variants"),
    };
    f.test(
        Label::from(format!("kernel masks, J = {units}: mean inverted pre-activation over {draws} draws = the undropped one"))
            .markdown(format!("kernel masks, $J = {units}$: mean inverted pre-activation over {draws} draws = the undropped one")),
        z_test_mean(&m, undropped, variance).expect("positive variance"),
        ALPHA,
        power,
    );
}

/// The f32 kernel against the literal f64 derivation given the kernel's own mask, at several
/// lengths (tails included) and both scalings; and p = 0 refused.
fn kernel_matches_literal(f: &mut Findings, ctx: &Ctx) {
    let mut rng = ctx.rng();
    let mut worst = 0.0f64;
    let mut cases = 0;
    for (c, n) in [1usize, 15, 16, 17, 63, 64, 65, 1000, 4099]
        .into_iter()
        .enumerate()
    {
        let x: Vec<f32> = (0..n)
            .map(|_| uniform(&mut rng, -10.0, 10.0) as f32)
            .collect();
        for (scaling, p) in [
            (Scaling::Inverted, 0.8f32),
            (Scaling::Inverted, 0.3),
            (Scaling::Standard, 0.8),
        ] {
            let d = dropout(p, scaling);
            let (mut y, mut mask) = (vec![0.0f32; n], Mask::new(n));
            d.forward(MaskStream::new(ctx.seed, c as u64), &x, &mut y, &mut mask)
                .expect("equal lengths");
            let r: Vec<bool> = mask.iter().collect();
            let xs: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let want = match scaling {
                Scaling::Inverted => spec::train_inverted(&xs, &r, f64::from(p)),
                Scaling::Standard => spec::train_standard(&xs, &r),
            };
            for (&got, &w) in y.iter().zip(&want) {
                worst = worst.max((f64::from(got) - w).abs() / w.abs().max(f64::MIN_POSITIVE));
                cases += 1;
            }
        }
    }
    // y = x·fl(1/p): two f32 roundings (of 1/p and of the product), each ≤ u = 2^-24
    // relative, so |y − x/p| ≤ (2u + u²)·|x/p|; standard dropout (factor 1) is exact.
    f.bound(
        Label::from("f32 kernel = literal r·x/p (and r·x) given its own mask, lengths 1..4099")
            .markdown(
                r"f32 kernel = literal $r x/p$ (and $r x$) given its own mask, lengths 1 to 4099",
            ),
        worst,
        2.0f64.powi(-23) * (1.0 + 2.0f64.powi(-24)),
        cases,
        "two f32 roundings (1/p, then the product), each ≤ 2^-24 relative",
    );
    let mut t = Tally::default();
    t.check(crate::dropout::KeepProb::new(0.0).is_err(), || {
        "p = 0 accepted".into()
    });
    f.tally(
        Label::from("p = 0 (a division by zero in 1/p) is a typed error")
            .markdown(r"$p = 0$ (a division by zero in $1/p$) is a typed error"),
        t,
    );
}

// ANCHOR_END: drop_inverted
