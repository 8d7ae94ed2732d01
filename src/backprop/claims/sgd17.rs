//! SGD-17: eq (17), the mini-batch update, with the sum over the batch (C7).
//!
//! The code under test is the literal [`spec::eq17_sgd_update`]; the planted bugs are the ways
//! a training loop gets (17) wrong, each as a [`Trainer`] variant that keeps whatever state
//! the bug needs (a persistent accumulator) across steps.

use rand::Rng;
use rand::seq::SliceRandom;

use super::{ROOM, fd_gap, net_error, random_batch, random_net};
use crate::backprop::{Dense, Network};
use crate::claims::gradcheck;
use crate::claims::{Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict};
use derivations::backprop::{self as spec, Gradient, Network as Net, Sample};

#[derive(Clone, Copy)]
enum Bug {
    NoSampleIndex,
    InPlace,
    StaleAccumulator,
    LastSampleM,
    MeanForSum,
    /// Our f32 network's SGD step adding α·∇ where it subtracts.
    KernelAscends,
    /// Our f32 network's SGD step forgetting the learning rate: θ − ∇.
    KernelNoRate,
}

/// A training loop's update rule, stepped several times in a row.
struct Trainer {
    bug: Option<Bug>,
    /// The accumulator of the planted bug that never zeroes it.
    accumulator: Option<Gradient>,
}

impl Trainer {
    fn new(bug: Option<Bug>) -> Self {
        Self {
            bug,
            accumulator: None,
        }
    }

    // ANCHOR: trainer_step
    /// One update (17) of `net` on `batch` with step α.
    fn step(&mut self, net: &Net, batch: &[Sample], alpha: f64) -> Net {
        let grad = |(x, y): &Sample, at: &Net| spec::eq15_gradient(at, x, *y, &mut 0);
        let m = batch.len() as f64;
        match self.bug {
            None | Some(Bug::KernelAscends | Bug::KernelNoRate) => {
                spec::eq17_sgd_update(net, batch, alpha)
            }
            // The post as printed: Σ_{m=1}^{M} ∂ℓ/∂W with no sample index in the summand, so
            // one term (the first sample's) is added M times.
            Some(Bug::NoSampleIndex) => {
                let sum = (0..batch.len())
                    .fold(Gradient::zeros(net), |s, _| s.add(&grad(&batch[0], net)));
                spec::eq17_apply(net, &sum, alpha)
            }
            // M sequential steps of batch size 1: each gradient at already-updated weights.
            Some(Bug::InPlace) => batch.iter().fold(net.clone(), |at, s| {
                spec::eq17_apply(&at, &grad(s, &at), alpha)
            }),
            // The accumulator carries the previous steps' sums.
            Some(Bug::StaleAccumulator) => {
                let mut acc = self
                    .accumulator
                    .take()
                    .unwrap_or_else(|| Gradient::zeros(net));
                for s in batch {
                    acc = acc.add(&grad(s, net));
                }
                let next = spec::eq17_apply(net, &acc, alpha);
                self.accumulator = Some(acc);
                next
            }
            // The loop variable read after the loop: the last sample's gradient, M times.
            Some(Bug::LastSampleM) => {
                let mut last = Gradient::zeros(net);
                for s in batch {
                    last = grad(s, net);
                }
                spec::eq17_apply(net, &last.scale(m), alpha)
            }
            // The mean where (17) and C7 document the sum.
            Some(Bug::MeanForSum) => spec::eq17_apply(
                net,
                &spec::eq17_batch_gradient(net, batch).scale(1.0 / m),
                alpha,
            ),
        }
    }
    // ANCHOR_END: trainer_step
}

// ANCHOR: mean_update
/// The mean convention, a separate named variant (C7): θ ← θ − α·(1/M)·Σ_m ∂ℓ^{(m)}/∂θ.
/// SGD-17 (c): the sum at α equals the mean at M·α.
fn eq17_mean_update(net: &Net, batch: &[Sample], alpha: f64) -> Net {
    let mean = spec::eq17_batch_gradient(net, batch).scale(1.0 / batch.len() as f64);
    spec::eq17_apply(net, &mean, alpha)
}
// ANCHOR_END: mean_update

/// The effective summed gradient of an update, (θ − θ')/α, as a network-shaped value.
fn effective(net: &Net, next: &Net, alpha: f64) -> Net {
    let mut g = net.clone();
    for p in net.params() {
        *g.param_mut(p) = (net.param(p) - next.param(p)) / alpha;
    }
    g
}

/// SGD-17 on the code users call: one [`crate::backprop::Network::train_step`] of our f32
/// network (backward, then the SIMD axpy of (17)) against [`spec::eq17_sgd_update`] in f64,
/// on EXT-BP-MATRIX's problems (every parameter and input an f32 value, so both start from
/// the same numbers). The step α = 1/8 is exact in both precisions. The planted kernel
/// slips replace the update after the same backward pass.
fn fast_step(ctx: &Ctx, bug: Option<Bug>) -> MaxError {
    use crate::backprop::accuracy::{
        U32, U64, error_bound, fast_inputs, gamma, to_fast, to_literal,
    };
    use crate::backprop::claims::extensions::bp_matrix::problem;
    const ALPHA: f64 = 0.125;
    let mut rng = ctx.rng();
    rng.set_stream(1); // apart from (a)–(d)'s draws
    let mut e = MaxError::default();
    // EXT-BP-MATRIX's problems; fewer at the full budget than there (400), since this runs
    // once per planted variant of the claim and EXT-BP-MATRIX already covers 400.
    for _ in 0..ctx.size(40, 100) {
        let (net, batch) = problem(&mut rng);
        let g64 = spec::eq17_batch_gradient(&net, &batch);
        let next64 = spec::eq17_apply(&net, &g64, ALPHA);
        let (s, k) = error_bound(&net, &batch);
        let mut fast = to_fast(&net);
        let (x, y) = fast_inputs(&net, &batch);
        let mut ws = fast.workspace(batch.len());
        let rate = ALPHA as f32;
        match bug {
            Some(Bug::KernelAscends | Bug::KernelNoRate) => {
                fast.backward(&x, &y, &mut ws).expect("shapes fit");
                let step = if matches!(bug, Some(Bug::KernelAscends)) {
                    -rate
                } else {
                    1.0
                };
                let gr = ws.gradients();
                let layers = fast
                    .layers()
                    .iter()
                    .zip(&gr.weights)
                    .zip(&gr.biases)
                    .map(|((l, gw), gb)| Dense {
                        weights: &l.weights - gw * step,
                        bias: &l.bias - gb * step,
                        activation: l.activation,
                    })
                    .collect();
                fast = Network::new(layers).expect("the same shapes");
            }
            _ => {
                fast.train_step(&x, &y, rate, &mut ws).expect("shapes fit");
            }
        }
        let layers = fast.layers();
        let next32 = to_literal(&net, |l| &layers[l].weights, |l| &layers[l].bias);
        let tol_g = gamma(k, U32) + gamma(k, U64);
        let worst = net
            .params()
            .into_iter()
            .map(|p| {
                let tol = tol_g * s.get(p);
                let bound = ALPHA * tol
                    + (U32 + 2.0 * U64) * (net.param(p).abs() + ALPHA * (g64.get(p).abs() + tol));
                let diff = (next32.get(p) - next64.param(p)).abs();
                if diff == 0.0 { 0.0 } else { diff / bound }
            })
            .fold(0.0, f64::max);
        e.record(worst, k as f64);
    }
    e
}

// ANCHOR: sgd_17
pub(super) fn sgd_17() -> Claim {
    Claim::checked(
        "SGD-17",
        ROOM,
        "eq (17)",
        "W ← W − α·Σ_{m=1}^{M} ∂ℓ^{(m)}/∂W (biases alike), every per-sample gradient at the same \
         pre-update weights: (a) the update is θ − α·Σ of per-sample gradients (finite \
         differences of the batch loss at θ), step after step; \
         (b) permuting the batch leaves it unchanged; (c) update(α, sum) = update(M·α, mean); \
         (d) Δ(A∪B) = Δ(A) + Δ(B) at the same W; (e) our f32 network's step equals (17) in \
         f64 within a derived rounding bound",
        PostVerdict::Typo,
        &[
            (
                Bug::NoSampleIndex,
                Planted::post("the summand without a sample index: one term summed M times")
                    .typeset(r"the summand without a sample index: one term summed $M$ times, $\alpha \sum_{m=1}^{M} \partial \ell / \partial W$ with the same $\ell$"),
            ),
            (
                Bug::InPlace,
                Planted::bug("in-place update inside the per-sample loop"),
            ),
            (
                Bug::StaleAccumulator,
                Planted::bug("gradient accumulator not zeroed between steps"),
            ),
            (
                Bug::LastSampleM,
                Planted::bug("the last sample's gradient used M times"),
            ),
            (
                Bug::MeanForSum,
                Planted::bug("the mean where the sum is documented"),
            ),
            (
                Bug::KernelAscends,
                Planted::bug("our f32 network's SGD step adds α·∇ (the sign flipped)")
                    .by("our f32 network"),
            ),
            (
                Bug::KernelNoRate,
                Planted::bug("our f32 network's SGD step forgets α: θ − ∇").by("our f32 network"),
            ),
        ],
        |bug, ctx| {
            let alpha = 0.1;
            let mut rng = ctx.rng();
            let [mut a, mut b, mut c, mut d] = std::array::from_fn(|_| MaxError::default());
            let fd_networks = ctx.size(30, 60); // (a)'s finite differences cost the most
            for net_index in 0..ctx.size(30, 300) {
                let net = random_net(&mut rng, 2..=5, 1..=5);
                let m = rng.random_range(2..=6);
                let (batch, batch2) = (
                    random_batch(&mut rng, &net, m),
                    random_batch(&mut rng, &net, m),
                );
                // (a) Two consecutive steps of one trainer, each against finite differences.
                let mut trainer = Trainer::new(bug);
                let next = trainer.step(&net, &batch, alpha);
                let after = trainer.step(&next, &batch2, alpha);
                if net_index < fd_networks {
                    a.record(fd_gap(&net, &next, &batch, alpha), 1.0);
                    a.record(fd_gap(&next, &after, &batch2, alpha), 2.0);
                }
                // (b) A permuted batch gives the same update.
                let mut shuffled = batch.clone();
                shuffled.shuffle(&mut rng);
                let permuted = Trainer::new(bug).step(&net, &shuffled, alpha);
                b.record(net_error(&permuted, &next), m as f64);
                // (c) Sum at α against the mean variant at M·α.
                let mean = eq17_mean_update(&net, &batch, m as f64 * alpha);
                c.record(
                    net_error(&Trainer::new(bug).step(&net, &batch, alpha), &mean),
                    m as f64,
                );
                // (d) Additivity: the effective gradient of A∪B is the sum of those of A and B.
                let union: Vec<Sample> = batch.iter().chain(&batch2).cloned().collect();
                let g =
                    |s: &[Sample]| effective(&net, &Trainer::new(bug).step(&net, s, alpha), alpha);
                let (ga, gb, gu) = (g(&batch), g(&batch2), g(&union));
                let worst = net
                    .params()
                    .into_iter()
                    .map(|p| crate::claims::identity_error(gu.param(p), ga.param(p) + gb.param(p)))
                    .fold(0.0, f64::max);
                d.record(worst, m as f64);
            }
            let mut f = Findings::default();
            let why = "M ≤ 12 gradients of O(1) summed in f64 in another order, one update \
                       rounding: a few ε per parameter (conventions appendix, Tolerances: 1e-12 relative)";
            f.max_error(
                Label::from("(a) two steps: (θ − θ')/α against finite differences of Σ_m ℓ^{(m)} at θ").markdown(r"(a) two steps: $(\theta - \theta')/\alpha$ against finite differences of $\sum_m \ell^{(m)}$ at $\theta$"),
                &a,
                1.0,
                format!(
                    "{}; the update's rounding adds ≤ 2ε·|θ|/α ≈ 5e-15, far inside the band.",
                    gradcheck::WHY_SCALED
                ),
            );
            f.max_error("(b) permuted batch: same update", &b, IDENTITY_TOL, why);
            f.max_error(
                Label::from("(c) update(α, sum) = update(M·α, mean)").markdown(r"(c) $\text{update}(\alpha, \text{sum}) = \text{update}(M\alpha, \text{mean})$"),
                &c,
                IDENTITY_TOL,
                why,
            );
            // (θ − θ')/α loses the bits of θ the step did not change: ε·|θ|/α ≈ 2e-15·|θ|.
            f.max_error(Label::from("(d) Δ(A∪B)/α = Δ(A)/α + Δ(B)/α").markdown(r"(d) $\Delta(A \cup B)/\alpha = \Delta(A)/\alpha + \Delta(B)/\alpha$"), &d, IDENTITY_TOL, why);
            f.max_error(
                Label::from("(e) our f32 network's train_step vs eq (17) in f64, every parameter: \
                 max |error| / bound_θ").markdown(r"(e) our f32 network's `train_step` vs eq (17) in f64, every parameter: $\max \lvert \text{error} \rvert / \text{bound}_\theta$"),
                &fast_step(ctx, bug),
                1.0,
                "bound_θ = α·tol_θ + (u₃₂ + 2u₆₄)·(|θ| + α·(|G_θ| + tol_θ)): the gradient within \
                 EXT-BP-MATRIX's tol_θ = (γ_K(u₃₂) + γ_K(u₆₄))·S_θ, times the exact α = 1/8, \
                 then one fused rounding of the f32 update and two of the f64 one",
            );
            f
        },
    )
    .typeset(r"$W \leftarrow W - \alpha \sum_{m=1}^{M} \partial \ell^{(m)}/\partial W$ (biases alike), every per-sample gradient at the same pre-update weights: (a) the update is $\theta - \alpha \sum$ of per-sample gradients (finite differences of the batch loss at $\theta$), step after step; (b) permuting the batch leaves it unchanged; (c) $\text{update}(\alpha, \text{sum}) = \text{update}(M\alpha, \text{mean})$; (d) $\Delta(A \cup B) = \Delta(A) + \Delta(B)$ at the same $W$; (e) our f32 network's step equals (17) in f64 within a derived rounding bound")
}
// ANCHOR_END: sgd_17
