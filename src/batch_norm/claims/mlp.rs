//! The network of the experiments EXP-BN-INIT and EXP-BN-LR: a tanh MLP with an optional BN
//! layer before every activation, trained by mini-batch SGD on squared loss, built from our
//! f32 kernels (nalgebra's gemm, `BatchNorm`, `Activation::Tanh`).
//!
//! Conventions as in `backprop` (CLAIMS.md C1–C2): a layer's W is fan_in × fan_out,
//! Z = Wᵀ·H, batches are columns. With BN the layer is H' = tanh(BN(Wᵀ·H)) and its bias is
//! dropped (BN's β takes its place, BN-ROLE-INIT); without BN it is H' = tanh(Wᵀ·H + b).
//! The loss is the mean squared error over the batch, L = (1/M)·Σ (ŷ − y)², and ŷ is a
//! linear readout.

use nalgebra::DMatrix;
use rand::Rng;

use crate::activation::Activation;
use crate::batch_norm::{BatchNorm, BatchStats};

/// ε of every BN layer: PyTorch's default.
pub(super) const BN_EPS: f32 = 1e-5;

/// What sits between each linear map and its tanh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Norm {
    /// Nothing: a bias.
    Plain,
    /// Batch normalisation with the batch's statistics (Algorithm 1).
    Batch,
}

struct Hidden {
    w: DMatrix<f32>,
    b: Vec<f32>,
    bn: BatchNorm,
}

/// The network and its training state.
pub(super) struct Mlp {
    hidden: Vec<Hidden>,
    readout: DMatrix<f32>,
    readout_bias: f32,
    norm: Norm,
}

/// What the forward pass keeps for the backward pass.
struct Tape {
    /// inputs[l] is the input of hidden layer l (inputs[0] = x); the last is H_L.
    inputs: Vec<DMatrix<f32>>,
    /// Z = Wᵀ·H of each hidden layer (before BN).
    z: Vec<DMatrix<f32>>,
    stats: Vec<Option<BatchStats>>,
}

/// Xavier-uniform U[−a, a], a = √6/√(fan_in + fan_out) (eq. (23)), times `scale`.
fn xavier(rng: &mut impl Rng, fan_in: usize, fan_out: usize, scale: f32) -> DMatrix<f32> {
    let a = (6.0 / (fan_in + fan_out) as f32).sqrt();
    DMatrix::from_fn(fan_in, fan_out, |_, _| scale * rng.random_range(-a..a))
}

impl Mlp {
    /// Hidden layers of the given widths (`widths[0]` is the input), weights Xavier-uniform
    /// times `scale`, a Xavier readout to one output, zero biases, γ = 1, β = 0.
    pub(super) fn new(rng: &mut impl Rng, widths: &[usize], scale: f32, norm: Norm) -> Self {
        let hidden = widths
            .windows(2)
            .map(|w| Hidden {
                w: xavier(rng, w[0], w[1], scale),
                b: vec![0.0; w[1]],
                bn: BatchNorm::new(w[1], BN_EPS).expect("valid layer"),
            })
            .collect();
        let last = *widths.last().expect("at least one width");
        Self {
            hidden,
            readout: xavier(rng, last, 1, 1.0),
            readout_bias: 0.0,
            norm,
        }
    }

    /// The hidden layers' weights, input side first (for the f64 replica of EXP-BN-INIT).
    pub(super) fn weights(&self) -> Vec<&DMatrix<f32>> {
        self.hidden.iter().map(|h| &h.w).collect()
    }

    /// The readout weights (J × 1).
    pub(super) fn readout(&self) -> &DMatrix<f32> {
        &self.readout
    }

    fn forward_tape(&self, x: &DMatrix<f32>) -> (DMatrix<f32>, Tape) {
        let mut tape = Tape {
            inputs: vec![x.clone()],
            z: Vec::new(),
            stats: Vec::new(),
        };
        for layer in &self.hidden {
            let h = tape.inputs.last().expect("input");
            let z = layer.w.transpose() * h;
            let mut y = z.clone();
            let stats = match self.norm {
                Norm::Plain => {
                    for mut column in y.column_iter_mut() {
                        column += nalgebra::DVectorView::from_slice(&layer.b, layer.b.len());
                    }
                    None
                }
                Norm::Batch => Some(
                    layer
                        .bn
                        .forward_train(&z, &mut y)
                        .expect("batch of ≥ 2, matching shapes"),
                ),
            };
            Activation::Tanh.forward_in_place(y.as_mut_slice());
            tape.z.push(z);
            tape.stats.push(stats);
            tape.inputs.push(y);
        }
        let h = tape.inputs.last().expect("last hidden layer");
        let yhat = self.readout.transpose() * h;
        (yhat.add_scalar(self.readout_bias), tape)
    }

    /// The predictions ŷ (1 × M) for a batch, BN in training mode (the batch's own statistics).
    pub(super) fn predict(&self, x: &DMatrix<f32>) -> DMatrix<f32> {
        self.forward_tape(x).0
    }

    /// L = (1/M)·Σ (ŷ − y)² on a batch.
    pub(super) fn loss(&self, x: &DMatrix<f32>, y: &DMatrix<f32>) -> f64 {
        let diff = self.predict(x) - y;
        diff.iter().map(|d| f64::from(*d).powi(2)).sum::<f64>() / y.len() as f64
    }

    /// One SGD step on the batch (x, y) with step size `lr`; returns the loss before it.
    pub(super) fn train_step(&mut self, x: &DMatrix<f32>, y: &DMatrix<f32>, lr: f32) -> f64 {
        let (yhat, tape) = self.forward_tape(x);
        let m = y.len() as f32;
        let diff = &yhat - y;
        let loss = diff.iter().map(|d| f64::from(*d).powi(2)).sum::<f64>() / f64::from(m);
        let g_out = diff * (2.0 / m); // ∂L/∂ŷ, 1 × M
        let h_last = tape.inputs.last().expect("last hidden layer");
        let d_readout = h_last * g_out.transpose();
        let d_readout_bias = g_out.sum();
        let mut g = &self.readout * &g_out; // ∂L/∂H_L
        for l in (0..self.hidden.len()).rev() {
            // Through tanh: ∂L/∂Y = ∂L/∂H ⊙ (1 − H²).
            Activation::Tanh
                .backward_in_place(tape.inputs[l + 1].as_slice(), g.as_mut_slice())
                .expect("same shape");
            let layer = &mut self.hidden[l];
            let z = &tape.z[l];
            let g_z = match (self.norm, &tape.stats[l]) {
                (Norm::Batch, Some(stats)) => {
                    let mut g_z = g.clone();
                    let p = layer
                        .bn
                        .backward(z, &g, stats, &mut g_z)
                        .expect("matching shapes");
                    sgd(layer.bn.gamma_mut(), &p.gamma, lr);
                    sgd(layer.bn.beta_mut(), &p.beta, lr);
                    g_z
                }
                _ => {
                    let d_bias: Vec<f32> = g.row_iter().map(|gr| gr.sum()).collect();
                    sgd(&mut layer.b, &d_bias, lr);
                    g.clone()
                }
            };
            let d_w = &tape.inputs[l] * g_z.transpose();
            if l > 0 {
                g = &layer.w * &g_z;
            }
            layer.w -= d_w * lr;
        }
        self.readout -= d_readout * lr;
        self.readout_bias -= lr * d_readout_bias;
        loss
    }
}

fn sgd(param: &mut [f32], grad: &[f32], lr: f32) {
    for (p, g) in param.iter_mut().zip(grad) {
        *p -= lr * g;
    }
}
