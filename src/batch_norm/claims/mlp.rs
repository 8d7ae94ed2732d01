//! The network of the experiments EXP-BN-INIT and EXP-BN-LR: a tanh MLP with an optional BN
//! layer before every activation, trained by mini-batch SGD on squared loss.
//!
//! Conventions as in `backprop` (conventions appendix, C1–C2): a layer's W is fan_in × fan_out,
//! Z = Wᵀ·H, batches are columns. With BN the layer is H' = tanh(BN(Wᵀ·H)) and its bias is
//! dropped (BN's β takes its place, BN-ROLE-INIT); without BN it is H' = tanh(Wᵀ·H + b).
//! The loss is the mean squared error over the batch, L = (1/M)·Σ (ŷ − y)², and ŷ is a
//! linear readout.
//!
//! **One chain rule, two number types.** The network is generic over [`Real`]: in f32 it runs
//! our kernels (`BatchNorm::forward_train`/`backward`, `Activation::Tanh`), which is what the
//! experiments train; in f64 it runs the specification (`derivations::batch_norm`, f64 tanh).
//! Both instantiations share every line of the forward pass, the backward pass and the update
//! ([`Mlp::train_step`]), so the f64 one can be checked against central differences with the
//! tolerance of the conventions appendix (Gradient checks), and the f32 glue is checked
//! operation by operation against the f64 one with the kernels' derived bounds
//! ([`check_gradients`], [`check_kernel_glue`]).
//!
//! **The readout's step.** Every hidden parameter moves by −η·∂L/∂θ; the readout's weights
//! and bias by −(η/J)·∂L/∂θ, J the readout's fan-in. The readout is the one layer BN does not
//! normalise: its Hessian (2/M)·H·Hᵀ has its largest eigenvalue near 2·J·E[h²] with or without
//! BN, so at a common step it caps the stable step of both networks at the same grid point
//! and hides whatever the hidden layers do. Dividing its step by its fan-in divides that
//! curvature by J, to about 2·E[h²], the size of one input's; the rule is fixed in advance,
//! not tuned, and applied to both networks alike, so a difference in the largest stable step
//! comes from the hidden layers.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use crate::activation::Activation;
use crate::batch_norm::{BatchNorm, BatchStats, accuracy};
use crate::claims::gradcheck::{band_ratio_at, central_difference};
use crate::claims::{Findings, Label, MaxError};
use derivations::batch_norm as spec;

/// ε of every BN layer: PyTorch's default.
pub(super) const BN_EPS: f32 = 1e-5;

/// What sits between each linear map and its tanh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Norm {
    /// Nothing: a bias.
    Plain,
    /// Batch normalisation with the batch's statistics (Algorithm 1).
    Batch,
    /// A broken trainer (a control, never a claim's setting): BN forward as Algorithm 1, but
    /// the backward pass treats μ_B and σ_B as constants, ∂ℓ/∂x = γ·g/√(σ_B² + ε), the
    /// classic mistake of differentiating only the normalisation's last step.
    BatchStatsDetached,
}

impl Norm {
    fn is_batch(self) -> bool {
        self != Norm::Plain
    }
}

/// The number type of a network: f32 runs our kernels, f64 the specification.
pub(super) trait Real: nalgebra::RealField + Copy {
    /// What the BN forward keeps for the backward pass.
    type Stats;
    fn of_f64(v: f64) -> Self;
    fn as_f64(self) -> f64;
    /// H ← tanh(H), in place.
    fn tanh_forward(h: &mut [Self]);
    /// G ← G ⊙ (1 − H²), H the tanh's output.
    fn tanh_backward(h: &[Self], g: &mut [Self]);
    /// Training-mode BN of each row of `z` (one row per feature) with (γ, β) and ε.
    fn bn_forward(
        gamma: &[Self],
        beta: &[Self],
        eps: f32,
        z: &DMatrix<Self>,
    ) -> (DMatrix<Self>, Self::Stats);
    /// (∂ℓ/∂z, ∂ℓ/∂γ, ∂ℓ/∂β) for upstream gradients `g`; `detached` is the broken control's
    /// backward (μ_B and σ_B treated as constants).
    #[allow(clippy::too_many_arguments)]
    fn bn_backward(
        gamma: &[Self],
        beta: &[Self],
        eps: f32,
        z: &DMatrix<Self>,
        stats: &Self::Stats,
        g: &DMatrix<Self>,
        detached: bool,
    ) -> (DMatrix<Self>, Vec<Self>, Vec<Self>);
}

impl Real for f32 {
    type Stats = BatchStats;

    fn of_f64(v: f64) -> Self {
        v as f32
    }

    fn as_f64(self) -> f64 {
        f64::from(self)
    }

    fn tanh_forward(h: &mut [f32]) {
        Activation::Tanh.forward_in_place(h);
    }

    fn tanh_backward(h: &[f32], g: &mut [f32]) {
        Activation::Tanh
            .backward_in_place(h, g)
            .expect("same shape");
    }

    fn bn_forward(
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
        z: &DMatrix<f32>,
    ) -> (DMatrix<f32>, BatchStats) {
        let bn = BatchNorm::with_affine(gamma.to_vec(), beta.to_vec(), eps).expect("valid layer");
        let mut y = z.clone();
        let stats = bn
            .forward_train(z, &mut y)
            .expect("batch of ≥ 2, matching shapes");
        (y, stats)
    }

    fn bn_backward(
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
        z: &DMatrix<f32>,
        stats: &BatchStats,
        g: &DMatrix<f32>,
        detached: bool,
    ) -> (DMatrix<f32>, Vec<f32>, Vec<f32>) {
        let bn = BatchNorm::with_affine(gamma.to_vec(), beta.to_vec(), eps).expect("valid layer");
        let mut g_z = g.clone();
        let p = bn.backward(z, g, stats, &mut g_z).expect("matching shapes");
        if detached {
            for (k, mut row) in g_z.row_iter_mut().enumerate() {
                let a = f64::from(gamma[k]) / (stats.variance()[k] + f64::from(eps)).sqrt();
                row.copy_from(&(g.row(k) * a as f32));
            }
        }
        (g_z, p.gamma, p.beta)
    }
}

impl Real for f64 {
    type Stats = ();

    fn of_f64(v: f64) -> Self {
        v
    }

    fn as_f64(self) -> f64 {
        self
    }

    fn tanh_forward(h: &mut [f64]) {
        h.iter_mut().for_each(|v| *v = v.tanh());
    }

    fn tanh_backward(h: &[f64], g: &mut [f64]) {
        g.iter_mut().zip(h).for_each(|(g, h)| *g *= 1.0 - h * h);
    }

    fn bn_forward(gamma: &[f64], beta: &[f64], eps: f32, z: &DMatrix<f64>) -> (DMatrix<f64>, ()) {
        let mut y = z.clone();
        for (k, mut row) in y.row_iter_mut().enumerate() {
            let x: Vec<f64> = z.row(k).iter().copied().collect();
            let out = spec::train_forward(&x, gamma[k], beta[k], f64::from(eps));
            row.iter_mut().zip(out).for_each(|(r, v)| *r = v);
        }
        (y, ())
    }

    fn bn_backward(
        gamma: &[f64],
        _beta: &[f64],
        eps: f32,
        z: &DMatrix<f64>,
        _stats: &(),
        g: &DMatrix<f64>,
        detached: bool,
    ) -> (DMatrix<f64>, Vec<f64>, Vec<f64>) {
        let eps = f64::from(eps);
        let mut g_z = g.clone();
        let (mut d_gamma, mut d_beta) = (vec![0.0; gamma.len()], vec![0.0; gamma.len()]);
        for (k, mut row) in g_z.row_iter_mut().enumerate() {
            let x: Vec<f64> = z.row(k).iter().copied().collect();
            let gk: Vec<f64> = g.row(k).iter().copied().collect();
            let r = spec::backward(&x, gamma[k], eps, &gk);
            let dx = if detached {
                let a = gamma[k] / (spec::batch_variance(&x) + eps).sqrt();
                gk.iter().map(|v| a * v).collect()
            } else {
                r.x
            };
            row.iter_mut().zip(dx).for_each(|(o, v)| *o = v);
            (d_gamma[k], d_beta[k]) = (r.gamma, r.beta);
        }
        (g_z, d_gamma, d_beta)
    }
}

#[derive(Clone)]
struct Hidden<T: Real> {
    w: DMatrix<T>,
    /// The bias (without BN).
    b: Vec<T>,
    /// BN's γ and β (with BN).
    gamma: Vec<T>,
    beta: Vec<T>,
}

/// The network and its training state.
#[derive(Clone)]
pub(super) struct Mlp<T: Real> {
    hidden: Vec<Hidden<T>>,
    readout: DMatrix<T>,
    readout_bias: T,
    norm: Norm,
    eps: f32,
}

/// What the forward pass keeps for the backward pass.
struct Tape<T: Real> {
    /// inputs[l] is the input of hidden layer l (inputs[0] = x); the last is H_L.
    inputs: Vec<DMatrix<T>>,
    /// Z = Wᵀ·H of each hidden layer (before BN).
    z: Vec<DMatrix<T>>,
    stats: Vec<Option<T::Stats>>,
}

/// Xavier-uniform U[−a, a], a = √6/√(fan_in + fan_out) (eq. (23)), times `scale`, drawn in f32.
fn xavier<T: Real>(rng: &mut impl Rng, fan_in: usize, fan_out: usize, scale: f32) -> DMatrix<T> {
    let a = (6.0 / (fan_in + fan_out) as f32).sqrt();
    DMatrix::from_fn(fan_in, fan_out, |_, _| {
        T::of_f64(f64::from(scale * rng.random_range(-a..a)))
    })
}

impl<T: Real> Mlp<T> {
    /// Hidden layers of the given widths (`widths[0]` is the input), weights Xavier-uniform
    /// times `scale`, a Xavier readout to one output, zero biases, γ = 1, β = 0, BN's ε =
    /// [`BN_EPS`]. The weights are drawn in f32, so both number types get the same network
    /// from the same generator.
    pub(super) fn new(rng: &mut impl Rng, widths: &[usize], scale: f32, norm: Norm) -> Self {
        let hidden = widths
            .windows(2)
            .map(|w| Hidden {
                w: xavier(rng, w[0], w[1], scale),
                b: vec![T::zero(); w[1]],
                gamma: vec![T::one(); w[1]],
                beta: vec![T::zero(); w[1]],
            })
            .collect();
        let last = *widths.last().expect("at least one width");
        Self {
            hidden,
            readout: xavier(rng, last, 1, 1.0),
            readout_bias: T::zero(),
            norm,
            eps: BN_EPS,
        }
    }

    /// The hidden layers' weights, input side first (for the f64 replica of EXP-BN-INIT).
    pub(super) fn weights(&self) -> Vec<&DMatrix<T>> {
        self.hidden.iter().map(|h| &h.w).collect()
    }

    /// The readout weights (J × 1).
    pub(super) fn readout(&self) -> &DMatrix<T> {
        &self.readout
    }

    /// Every parameter in a fixed order (per hidden layer: W column by column, then b without
    /// BN or γ and β with it; then the readout's weights and bias), with the factor its step
    /// is scaled by (1, or 1/J for the readout).
    pub(super) fn parameters(&self) -> Vec<(T, f64)> {
        let mut p = Vec::new();
        for h in &self.hidden {
            p.extend(h.w.iter().map(|&v| (v, 1.0)));
            if self.norm.is_batch() {
                p.extend(h.gamma.iter().chain(&h.beta).map(|&v| (v, 1.0)));
            } else {
                p.extend(h.b.iter().map(|&v| (v, 1.0)));
            }
        }
        let readout_step = self.readout_step();
        p.extend(self.readout.iter().map(|&v| (v, readout_step)));
        p.push((self.readout_bias, readout_step));
        p
    }

    /// Sets the parameters, in the order of [`Mlp::parameters`].
    pub(super) fn set_parameters(&mut self, values: &[T]) {
        let mut it = values.iter().copied();
        let mut next = || it.next().expect("one value per parameter");
        let batch = self.norm.is_batch();
        for h in &mut self.hidden {
            h.w.iter_mut().for_each(|v| *v = next());
            if batch {
                h.gamma.iter_mut().for_each(|v| *v = next());
                h.beta.iter_mut().for_each(|v| *v = next());
            } else {
                h.b.iter_mut().for_each(|v| *v = next());
            }
        }
        self.readout.iter_mut().for_each(|v| *v = next());
        self.readout_bias = next();
    }

    /// The readout's step factor, 1/J (see the module's documentation).
    fn readout_step(&self) -> f64 {
        1.0 / self.readout.nrows() as f64
    }

    fn forward_tape(&self, x: &DMatrix<T>) -> (DMatrix<T>, Tape<T>) {
        let mut tape = Tape {
            inputs: vec![x.clone()],
            z: Vec::new(),
            stats: Vec::new(),
        };
        for layer in &self.hidden {
            let h = tape.inputs.last().expect("input");
            let z = layer.w.transpose() * h;
            let (mut y, stats) = if self.norm.is_batch() {
                let (y, s) = T::bn_forward(&layer.gamma, &layer.beta, self.eps, &z);
                (y, Some(s))
            } else {
                let mut y = z.clone();
                let b = DVector::from_column_slice(&layer.b);
                for mut column in y.column_iter_mut() {
                    column += &b;
                }
                (y, None)
            };
            T::tanh_forward(y.as_mut_slice());
            tape.z.push(z);
            tape.stats.push(stats);
            tape.inputs.push(y);
        }
        let h = tape.inputs.last().expect("last hidden layer");
        let yhat = self.readout.transpose() * h;
        (yhat.add_scalar(self.readout_bias), tape)
    }

    /// The predictions ŷ (1 × M) for a batch, BN in training mode (the batch's own statistics).
    pub(super) fn predict(&self, x: &DMatrix<T>) -> DMatrix<T> {
        self.forward_tape(x).0
    }

    /// L = (1/M)·Σ (ŷ − y)² on a batch, accumulated in f64.
    pub(super) fn loss(&self, x: &DMatrix<T>, y: &DMatrix<T>) -> f64 {
        let diff = self.predict(x) - y;
        diff.iter().map(|d| d.as_f64().powi(2)).sum::<f64>() / y.len() as f64
    }

    // ANCHOR: train_step
    /// One SGD step on the batch (x, y) with step size `lr` (the readout's scaled by 1/J);
    /// returns the loss before it.
    pub(super) fn train_step(&mut self, x: &DMatrix<T>, y: &DMatrix<T>, lr: f64) -> f64 {
        let (yhat, tape) = self.forward_tape(x);
        let m = y.len() as f64;
        let diff = &yhat - y;
        let loss = diff.iter().map(|d| d.as_f64().powi(2)).sum::<f64>() / m;
        let g_out = diff * T::of_f64(2.0 / m); // ∂L/∂ŷ, 1 × M
        let h_last = tape.inputs.last().expect("last hidden layer");
        let d_readout = h_last * g_out.transpose();
        let d_readout_bias = g_out.sum();
        let mut g = &self.readout * &g_out; // ∂L/∂H_L
        let step = T::of_f64(lr);
        for l in (0..self.hidden.len()).rev() {
            // Through tanh: ∂L/∂Y = ∂L/∂H ⊙ (1 − H²).
            T::tanh_backward(tape.inputs[l + 1].as_slice(), g.as_mut_slice());
            let layer = &mut self.hidden[l];
            let z = &tape.z[l];
            let g_z = match &tape.stats[l] {
                Some(stats) => {
                    let detached = self.norm == Norm::BatchStatsDetached;
                    let (g_z, d_gamma, d_beta) =
                        T::bn_backward(&layer.gamma, &layer.beta, self.eps, z, stats, &g, detached);
                    sgd(&mut layer.gamma, &d_gamma, step);
                    sgd(&mut layer.beta, &d_beta, step);
                    g_z
                }
                None => {
                    let d_bias: Vec<T> = g.row_iter().map(|gr| gr.sum()).collect();
                    sgd(&mut layer.b, &d_bias, step);
                    g
                }
            };
            let d_w = &tape.inputs[l] * g_z.transpose();
            if l > 0 {
                g = &layer.w * &g_z;
            } else {
                g = DMatrix::zeros(0, 0);
            }
            layer.w -= d_w * step;
        }
        let readout_step = T::of_f64(lr * self.readout_step());
        self.readout -= d_readout * readout_step;
        self.readout_bias -= readout_step * d_readout_bias;
        loss
    }
    // ANCHOR_END: train_step
}

fn sgd<T: Real>(param: &mut [T], grad: &[T], lr: T) {
    for (p, g) in param.iter_mut().zip(grad) {
        *p -= lr * *g;
    }
}

/// A small network and batch for the gradient checks: widths 3-5-4 (non-square, so a
/// transposed weight fails on shape as well as value), a batch of 6, weights Xavier times 1.5
/// and γ, β, biases and readout drawn away from their initial values, inputs N(0, 1) and
/// targets U[−1, 1].
fn small_case(rng: &mut impl Rng, norm: Norm) -> (Mlp<f64>, DMatrix<f64>, DMatrix<f64>) {
    let mut net = Mlp::<f64>::new(rng, &[3, 5, 4], 1.5, norm);
    let params: Vec<f64> = net
        .parameters()
        .iter()
        .map(|&(v, _)| v + rng.random_range(-0.5..0.5))
        .collect();
    net.set_parameters(&params);
    let x = DMatrix::from_fn(3, 6, |_, _| super::sample::normal(rng));
    let y = DMatrix::from_fn(1, 6, |_, _| rng.random_range(-1.0..1.0));
    (net, x, y)
}

// ANCHOR: check_gradients
/// The trainer's update against central differences, in f64 (the conventions appendix,
/// Gradient checks): one [`Mlp::train_step`] with step η = 1 moves each parameter θ by
/// −s_θ·∂L/∂θ (s_θ = 1, or 1/J for the readout), so −Δθ/s_θ must equal the central difference
/// of the batch loss L(θ) within 1e-6·max(|g|, |ĝ|) + 1e-9·max(1, |L|). Every parameter of a
/// 3-5-4 network, for `norm`.
pub(super) fn check_gradients(f: &mut Findings, rng: &mut impl Rng, norm: Norm) {
    let (probe, x, y) = small_case(rng, norm);
    let before = probe.parameters();
    let values: Vec<f64> = before.iter().map(|p| p.0).collect();
    let mut stepped = probe.clone();
    let loss = stepped.train_step(&x, &y, 1.0);
    let after = stepped.parameters();
    let mut e = MaxError::default();
    for (i, ((theta, s), (moved, _))) in before.iter().zip(&after).enumerate() {
        let g = (theta - moved) / s;
        let fd = central_difference(
            |t| {
                let mut p = values.clone();
                p[i] = t;
                let mut moved = probe.clone();
                moved.set_parameters(&p);
                moved.loss(&x, &y)
            },
            *theta,
        );
        e.record(band_ratio_at(g, fd, loss), i as f64);
    }
    let name = match norm {
        Norm::Plain => "without BN",
        _ => "with BN",
    };
    f.max_error(
        Label::from(format!(
            "the trainer's gradient (Mlp::train_step in f64, {name}, 3-5-4, M = 6) against central \
             differences, every parameter"
        ))
        .markdown(format!(
            "the trainer's gradient (`Mlp::train_step` in f64, {name}, 3-5-4, $M = 6$) against \
             central differences, every parameter"
        )),
        &e,
        1.0,
        super::FD_WHY_SCALED,
    );
}
// ANCHOR_END: check_gradients

/// The f32 instantiation's BN calls against the f64 one's on the same f32 data, feature by
/// feature, with the kernels' derived bounds (`accuracy`): the forward output within
/// `affine_bound` and ∂ℓ/∂z within `backward_bound`. F = 17 features (one off the 16-lane
/// width), m = 8; γ, β, z and g drawn in f32.
pub(super) fn check_kernel_glue(f: &mut Findings, rng: &mut impl Rng, norm: Norm) {
    let (features, m) = (17, 8);
    let mut normal = || super::sample::normal(rng) as f32;
    let z = DMatrix::from_fn(features, m, |_, _| normal());
    let g = DMatrix::from_fn(features, m, |_, _| normal());
    let gamma: Vec<f32> = (0..features).map(|_| 0.5 + normal().abs()).collect();
    let beta: Vec<f32> = (0..features).map(|_| normal()).collect();
    let detached = norm == Norm::BatchStatsDetached;
    let (y32, stats) = f32::bn_forward(&gamma, &beta, BN_EPS, &z);
    let (dz32, _, _) = f32::bn_backward(&gamma, &beta, BN_EPS, &z, &stats, &g, detached);
    let to64 = |m: &DMatrix<f32>| m.map(f64::from);
    let (g64, b64): (Vec<f64>, Vec<f64>) = gamma
        .iter()
        .zip(&beta)
        .map(|(&a, &b)| (f64::from(a), f64::from(b)))
        .unzip();
    let (z64, gg64) = (to64(&z), to64(&g));
    let (y64, ()) = f64::bn_forward(&g64, &b64, BN_EPS, &z64);
    let (dz64, _, _) = f64::bn_backward(&g64, &b64, BN_EPS, &z64, &(), &gg64, detached);
    let eps = f64::from(BN_EPS);
    let mut e = MaxError::default();
    for k in 0..features {
        let x: Vec<f64> = z64.row(k).iter().copied().collect();
        let gk: Vec<f64> = gg64.row(k).iter().copied().collect();
        let (mu, var) = (spec::batch_mean(&x), spec::batch_variance(&x));
        let s = (var + eps).sqrt();
        let scale = g64[k] / s;
        let shift = b64[k] - scale * mu;
        let x_hat = spec::normalize(&x, eps);
        let sum_abs_g: f64 = gk.iter().map(|v| v.abs()).sum();
        let sum_abs_gx: f64 = gk.iter().zip(&x_hat).map(|(a, b)| (a * b).abs()).sum();
        for i in 0..m {
            let bound = accuracy::affine_bound(x[i], scale, shift, b64[k], y64[(k, i)]);
            e.record(
                (f64::from(y32[(k, i)]) - y64[(k, i)]).abs() / bound,
                k as f64,
            );
            let bound =
                accuracy::backward_bound(g64[k], s, gk[i], x[i], mu, sum_abs_g, sum_abs_gx, m);
            e.record(
                (f64::from(dz32[(k, i)]) - dz64[(k, i)]).abs() / bound,
                k as f64,
            );
        }
    }
    f.max_error(
        Label::from("the trainer's f32 BN calls (BatchNorm::forward_train, backward) against its f64 ones, \
         F = 17, m = 8").markdown(r"the trainer's f32 BN calls (`BatchNorm::forward_train`, `backward`) against its f64 ones, $F = 17$, $m = 8$"),
        &e,
        1.0,
        "|y₃₂ − y₆₄| / accuracy::affine_bound and |∂z₃₂ − ∂z₆₄| / accuracy::backward_bound, the \
         kernels' derived first-order bounds; at most 1 is accepted",
    );
}
