//! The training-procedure claims of the catalogue appendix (SGD-COST, SGD-FAST, SGD-ESCAPE, TRAIN-LOOP,
//! BP-ORDER), eq (17) (SGD-17) and the experiments EXP-SGD-SPEED, EXP-SGD-ESCAPE and
//! EXP-SIGMOID-VANISH.
//!
//! The code under test is the literal f64 derivation (`derivations::backprop`: eq (17) is
//! [`spec::eq17_sgd_update`]) and, for the experiments, our f32 network and the two
//! mini-batch samplers the trainers here share: [`epoch_batches`] (random reshuffling, one
//! pass per epoch) and [`sample_batch`] (one batch drawn on its own). Each planted bug is an
//! alternative code path in these modules, never a flag in a kernel.
//!
//! Sub-modules (declared here with `#[path]`, siblings of this file): `train_loop`
//! (TRAIN-LOOP), `sgd17` (SGD-17), `sgd_speed` (SGD-FAST, EXP-SGD-SPEED), `sgd_escape`
//! (SGD-ESCAPE, EXP-SGD-ESCAPE) and `sigmoid_vanish` (EXP-SIGMOID-VANISH).

use rand::Rng;
use rand::seq::SliceRandom;

use crate::claims::gradcheck::{self, band_ratio_at, central_difference};
use crate::claims::{
    Claim, Findings, Label, MaxError, Planted, PostVerdict, Tally, identity_error,
};
use derivations::backprop::{self as spec, Activation as Act, Network as Net, Param, Sample};

pub(super) use crate::stats::standard_normal;

#[path = "sgd17.rs"]
mod sgd17;
#[path = "sgd_escape.rs"]
mod sgd_escape;
#[path = "sgd_speed.rs"]
mod sgd_speed;
#[path = "sigmoid_vanish.rs"]
mod sigmoid_vanish;
#[path = "train_loop.rs"]
mod train_loop;

pub(super) const ROOM: &str = "backprop";

/// The training-procedure claims, SGD-17 and the experiments of this room, in catalogue order.
pub(super) fn claims() -> Vec<Claim> {
    vec![
        sgd_cost(),
        sgd_speed::sgd_fast(),
        sgd_escape::sgd_escape(),
        train_loop::train_loop(),
        bp_order(),
        sgd17::sgd_17(),
        sgd_speed::exp_sgd_speed(),
        sgd_escape::exp_sgd_escape(),
        sigmoid_vanish::exp_sigmoid_vanish(),
    ]
}

// ------------------------------------------------------------------ shared helpers

// ANCHOR: epoch_batches
/// The mini-batches of one epoch: a uniform random permutation of the n sample indices
/// (Fisher–Yates), cut into ⌊n/m⌋ batches of m; the n mod m left over are dropped. Each batch
/// is therefore a uniform m-subset drawn without replacement (EXT-SGD-UNBIASED), and one
/// epoch touches every sample at most once.
pub(super) fn epoch_batches(n: usize, m: usize, rng: &mut impl Rng) -> Vec<Vec<usize>> {
    assert!((1..=n).contains(&m), "batch size must lie in 1..=n");
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order.chunks_exact(m).map(<[usize]>::to_vec).collect()
}
// ANCHOR_END: epoch_batches

// ANCHOR: sample_batch
/// One mini-batch drawn on its own: a uniform m-subset of the n sample indices, without
/// replacement within the batch and independent of every other draw (EXT-SGD-UNBIASED tests
/// this sampler's output).
pub(super) fn sample_batch(n: usize, m: usize, rng: &mut impl Rng) -> Vec<usize> {
    assert!((1..=n).contains(&m), "batch size must lie in 1..=n");
    rand::seq::index::sample(rng, n, m).into_vec()
}
// ANCHOR_END: sample_batch

/// The smooth activations of the generic BP tests (conventions appendix, Gradient checks).
pub(super) const SMOOTH: [Act; 3] = [Act::Tanh, Act::Sigmoid, Act::Softsign];

/// A random literal network: n layers (n in `depth`), widths in `width`, one smooth activation
/// per layer, every parameter from U(−1, 1). Non-square by construction most of the time.
pub(super) fn random_net(
    rng: &mut impl Rng,
    depth: std::ops::RangeInclusive<usize>,
    width: std::ops::RangeInclusive<usize>,
) -> Net {
    let n = rng.random_range(depth);
    let widths: Vec<usize> = (0..n).map(|_| rng.random_range(width.clone())).collect();
    let acts: Vec<Act> = (1..n)
        .map(|_| SMOOTH[rng.random_range(0..SMOOTH.len())])
        .collect();
    Net::from_fn(&widths, &acts, || rng.random_range(-1.0..1.0))
        .expect("fixed widths and activations fit")
}

/// `m` samples for `net`: inputs and targets from U(−1, 1).
pub(super) fn random_batch(rng: &mut impl Rng, net: &Net, m: usize) -> Vec<Sample> {
    (0..m)
        .map(|_| {
            let x = (0..net.width(1))
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            (x, rng.random_range(-1.0..1.0))
        })
        .collect()
}

/// The largest identity error (conventions appendix, Tolerances) between two networks, over every parameter.
pub(super) fn net_error(a: &Net, b: &Net) -> f64 {
    a.params()
        .into_iter()
        .map(|p| identity_error(a.param(p), b.param(p)))
        .fold(0.0, f64::max)
}

/// The largest gap, as a fraction of the gradient-check band, between the effective summed
/// gradient (θ − θ')/α of an update of `net` and central differences of the batch loss
/// Σ_m ℓ^{(m)} at `net` (conventions appendix, Gradient checks): an independent computation
/// of θ − α·Σ_m ∂ℓ^{(m)}/∂θ taken at the pre-update θ.
pub(super) fn fd_gap(net: &Net, next: &Net, batch: &[Sample], alpha: f64) -> f64 {
    let loss = spec::batch_loss(net, batch);
    net.params()
        .into_iter()
        .map(|p| {
            let step = (net.param(p) - next.param(p)) / alpha;
            let fd = central_difference(
                |t| {
                    let mut probe = net.clone();
                    *probe.param_mut(p) = t;
                    spec::batch_loss(&probe, batch)
                },
                net.param(p),
            );
            band_ratio_at(step, fd, loss)
        })
        .fold(0.0, f64::max)
}

// ------------------------------------------------------------------ SGD-COST

#[derive(Clone, Copy)]
enum CostBug {
    FullData,
}

/// One step of the mini-batch trainer under test on the samples `batch` of `data`: the
/// per-sample gradient routine (eq (15)) is called once per sample it uses, and `calls`
/// counts those calls (SGD-COST's instrument).
fn counted_step(
    net: &Net,
    data: &[Sample],
    batch: &[usize],
    alpha: f64,
    bug: Option<CostBug>,
    calls: &mut u64,
) -> Net {
    let used: Vec<usize> = match bug {
        None => batch.to_vec(),
        // The planted bug: a "mini-batch" trainer that silently uses every sample.
        Some(CostBug::FullData) => (0..data.len()).collect(),
    };
    let mut sum = spec::Gradient::zeros(net);
    for &i in &used {
        *calls += 1;
        let (x, y) = &data[i];
        sum = sum.add(&spec::eq15_gradient(net, x, *y, &mut 0));
    }
    spec::eq17_apply(net, &sum, alpha)
}

// ANCHOR: sgd_cost
fn sgd_cost() -> Claim {
    Claim::checked(
        "SGD-COST",
        ROOM,
        "§训练方法",
        "one mini-batch SGD iteration calls the per-sample gradient routine exactly M times (full \
         batch: N), and its update is eq (17) on those M samples",
        PostVerdict::Correct,
        &[(
            CostBug::FullData,
            Planted::bug("a \"mini-batch\" trainer that uses the full data set every step"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut counts, mut updates) = (Tally::default(), MaxError::default());
            for _ in 0..ctx.size(20, 200) {
                let net = random_net(&mut rng, 2..=4, 1..=5);
                let n = rng.random_range(4..=24);
                let m = rng.random_range(1..n); // M < N, so a full-data step is visible
                let data = random_batch(&mut rng, &net, n);
                let mut current = net;
                let mut epoch_calls = 0;
                for (s, batch) in epoch_batches(n, m, &mut rng).into_iter().enumerate() {
                    let mut calls = 0;
                    let next = counted_step(&current, &data, &batch, 0.1, bug, &mut calls);
                    counts.check(calls == m as u64, || {
                        format!("N = {n}, M = {m}: {calls} per-sample gradients in one step")
                    });
                    if s < 2 {
                        // The update against finite differences of the loss of its own M
                        // samples (the first two steps of each epoch, to bound the cost).
                        let samples: Vec<Sample> = batch.iter().map(|&i| data[i].clone()).collect();
                        updates.record(fd_gap(&current, &next, &samples, 0.1), m as f64);
                    }
                    epoch_calls += calls;
                    current = next;
                }
                let expected = (n / m * m) as u64;
                counts.check(epoch_calls == expected, || {
                    format!("N = {n}, M = {m}: {epoch_calls} gradients in an epoch, not {expected}")
                });
            }
            let mut f = Findings::default();
            f.tally(
                Label::from("per-sample gradient calls: M per step, ⌊N/M⌋·M per epoch").markdown(r"per-sample gradient calls: $M$ per step, $\lfloor N/M \rfloor M$ per epoch"),
                counts,
            );
            f.max_error(
                Label::from("each step: (θ − θ')/α against finite differences of the loss of its own M samples").markdown(r"each step: $(\theta - \theta')/\alpha$ against finite differences of the loss of its own $M$ samples"),
                &updates,
                1.0,
                format!(
                    "{}; the update's rounding adds ≤ 2ε·|θ|/α ≈ 5e-15, far inside the band.",
                    gradcheck::WHY_SCALED
                ),
            );
            f
        },
    )
    .typeset(r"one mini-batch SGD iteration calls the per-sample gradient routine exactly $M$ times (full batch: $N$), and its update is eq (17) on those $M$ samples")
}
// ANCHOR_END: sgd_cost

// ------------------------------------------------------------------ BP-ORDER

#[derive(Clone, Copy)]
enum OrderBug {
    EagerUpdate,
}

// ANCHOR: eager_update
/// The planted bug of BP-ORDER, the post's sentence read literally: "update layer by layer
/// from the last layer". Each layer is updated as soon as its gradient is known, and the
/// recurrence (12)/(13) then propagates through the *new* weights.
fn eager_update(net: &Net, batch: &[Sample], alpha: f64) -> Net {
    let n = net.n();
    let mut new = net.clone();
    let fwds: Vec<spec::Forward> = batch
        .iter()
        .map(|(x, _)| spec::eq01_forward(net, x))
        .collect();
    let l_primes: Vec<f64> = fwds
        .iter()
        .zip(batch)
        .map(|(fwd, (_, y))| {
            spec::eq10_loss_derivative(spec::eq09_loss_input(*y, fwd.y_hat), &mut 0)
        })
        .collect();
    // Output unit (11), updated at once.
    for (fwd, &lp) in fwds.iter().zip(&l_primes) {
        let gw = spec::eq11_output_weight_gradient(net, fwd, lp, &mut 0);
        for (j, g) in (1..).zip(gw) {
            *new.param_mut(Param::WOut { j }) -= alpha * g;
        }
        *new.param_mut(Param::BOut) -= alpha * spec::eq11_output_bias_gradient(lp);
    }
    // (12) through the updated output weights.
    let mut g: Vec<Vec<f64>> = l_primes
        .iter()
        .map(|&lp| spec::eq12_last_layer(&new, lp, &mut 0))
        .collect();
    for i in (2..=n).rev() {
        let mut gw = vec![vec![0.0; net.width(i)]; net.width(i - 1)];
        let mut gb = vec![0.0; net.width(i)];
        for (fwd, g_i) in fwds.iter().zip(&g) {
            let w = spec::eq14_weight_gradient(&new, fwd, i, g_i, &mut 0);
            let b = spec::eq16_bias_gradient(&new, fwd, i, g_i, &mut 0);
            for (row, grow) in gw.iter_mut().zip(w) {
                row.iter_mut().zip(grow).for_each(|(a, v)| *a += v);
            }
            gb.iter_mut().zip(b).for_each(|(a, v)| *a += v);
        }
        for (j, grow) in (1..).zip(&gw) {
            for (k, v) in (1..).zip(grow) {
                *new.param_mut(Param::W { i: i - 1, j, k }) -= alpha * v;
            }
        }
        for (k, v) in (1..).zip(&gb) {
            *new.param_mut(Param::B { i, k }) -= alpha * v;
        }
        if i > 2 {
            // (13) through the W_{i−1} just overwritten.
            g = fwds
                .iter()
                .zip(&g)
                .map(|(fwd, g_i)| spec::eq13_recurrence(&new, fwd, i - 1, g_i, &mut 0))
                .collect();
        }
    }
    new
}
// ANCHOR_END: eager_update

// ANCHOR: bp_order
fn bp_order() -> Claim {
    Claim::checked(
        "BP-ORDER",
        ROOM,
        "§反向传播算法",
        "BP computes the gradients from the last layer backwards; every update of one step uses \
         the gradient at the same pre-update θ_t: (θ_t − θ_{t+1})/α equals the finite-difference \
         gradient at θ_t for every parameter (α = 0.1)",
        PostVerdict::Imprecise,
        &[(
            OrderBug::EagerUpdate,
            Planted::post(
                "the post's \"update layer by layer from the last\" read literally: W_i \
                 overwritten before (13) has propagated through it",
            )
            .typeset(r#"the post's "update layer by layer from the last" read literally: $W_i$ overwritten before (13) has propagated through it"#),
        )],
        |bug, ctx| {
            let alpha = 0.1;
            let mut rng = ctx.rng();
            let mut e = MaxError::default();
            for _ in 0..ctx.size(10, 200) {
                let net = random_net(&mut rng, 2..=5, 1..=4);
                let m = rng.random_range(1..=3);
                let batch = random_batch(&mut rng, &net, m);
                let next = match bug {
                    None => spec::eq17_sgd_update(&net, &batch, alpha),
                    Some(OrderBug::EagerUpdate) => eager_update(&net, &batch, alpha),
                };
                let loss = spec::batch_loss(&net, &batch);
                for p in net.params() {
                    let step = (net.param(p) - next.param(p)) / alpha;
                    let fd = central_difference(
                        |t| {
                            let mut probe = net.clone();
                            *probe.param_mut(p) = t;
                            spec::batch_loss(&probe, &batch)
                        },
                        net.param(p),
                    );
                    e.record(band_ratio_at(step, fd, loss), net.param(p));
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("(θ_t − θ_{t+1})/α against the FD gradient at θ_t, every parameter").markdown(r"$(\theta_t - \theta_{t+1})/\alpha$ against the finite-difference gradient at $\theta_t$, every parameter"),
                &e,
                1.0,
                format!(
                    "{}; the update's rounding adds ≤ 2ε·|θ|/α ≈ 5e-15, far inside the band.",
                    gradcheck::WHY_SCALED
                ),
            );
            f
        },
    )
    .typeset(r"BP computes the gradients from the last layer backwards; every update of one step uses the gradient at the same pre-update $\theta_t$: $(\theta_t - \theta_{t+1})/\alpha$ equals the finite-difference gradient at $\theta_t$ for every parameter ($\alpha = 0.1$)")
}
// ANCHOR_END: bp_order
