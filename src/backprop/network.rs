//! A dense multi-layer network in f32, mini-batch first, with squared loss and SGD.
//!
//! Conventions (conventions appendix, C1–C3 and C7): a layer's weights W are fan_in × fan_out, so
//! Z = Wᵀ·A + b; a batch is a matrix whose *columns* are samples (units × batch, nalgebra's
//! column-major layout, which lets the bias broadcast down each column); the loss is the
//! squared error summed over outputs and samples, L = Σ_m Σ_k (ŷ_k − y_k)², so the batch
//! gradient is the sum of per-sample gradients, as eq. (17) writes it.

use nalgebra::{DMatrix, DVector};

use super::kernel::{
    Threads, axpy, axpy_split, gemm, gemm_transposed_a, gemm_transposed_b, row_sums, split_columns,
};
use crate::activation::Activation;
use crate::error::{Error, Result};

/// One fully connected layer: O = f(Wᵀ·A + b).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// W, fan_in × fan_out (conventions appendix, C2).
    pub weights: DMatrix<f32>,
    /// b, one per output unit.
    pub bias: DVector<f32>,
    pub activation: Activation,
}

impl Dense {
    /// Units in.
    pub fn fan_in(&self) -> usize {
        self.weights.nrows()
    }

    /// Units out.
    pub fn fan_out(&self) -> usize {
        self.weights.ncols()
    }
}

/// The gradients of the loss with respect to every weight and bias, layer by layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients {
    pub weights: Vec<DMatrix<f32>>,
    pub biases: Vec<DVector<f32>>,
}

/// A stack of dense layers.
///
/// The post's network (C3) ends in a *linear output unit*: ŷ = Σ_j W_{n,j}·O_{n,j} + b_out.
/// Here that is one more [`Dense`] layer of width 1 with [`Activation::Identity`]; a
/// regression head of k outputs is the same with width k.
///
/// ```
/// use dnn_proofs::activation::Activation;
/// use dnn_proofs::backprop::{Dense, Network};
/// use nalgebra::{DMatrix, DVector};
///
/// let hidden = Dense {
///     weights: DMatrix::from_element(3, 4, 0.1), // fan_in × fan_out (C2)
///     bias: DVector::zeros(4),
///     activation: Activation::Tanh,
/// };
/// let output_unit = Dense {
///     weights: DMatrix::from_element(4, 1, 0.5),
///     bias: DVector::from_element(1, 0.25), // b_out
///     activation: Activation::Identity,
/// };
/// let net = Network::new(vec![hidden, output_unit])?;
/// let (x, y) = (DMatrix::from_element(3, 8, 1.0), DMatrix::zeros(1, 8)); // 8 samples, columns
/// let mut ws = net.workspace(8);
/// let loss = net.backward(&x, &y, &mut ws)?; // Σ over samples of (ŷ − y)²
/// // ŷ = 4 · 0.5 · tanh(0.3) + 0.25 for every sample; f32 sums of a few terms agree to a
/// // few ulps (2⁻²⁴ each), hence the relative 1e-6.
/// let y_hat = 2.0 * 0.3f32.tanh() + 0.25;
/// let close = |a: f32, b: f32| (a - b).abs() <= 1e-6 * b.abs();
/// assert!(close(loss, 8.0 * y_hat * y_hat));
/// assert!(close(ws.gradients().biases[1][0], 8.0 * 2.0 * y_hat)); // ∂L/∂b_out, summed
/// # Ok::<(), dnn_proofs::error::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    layers: Vec<Dense>,
}

/// Buffers for one batch size, reused across steps so a step allocates nothing.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// outputs[0] is the input; outputs[l + 1] = O of layer l.
    outputs: Vec<DMatrix<f32>>,
    /// grads[l] = ∂L/∂O of layer l, overwritten in place by δ = ∂L/∂Z.
    grads: Vec<DMatrix<f32>>,
    gradients: Gradients,
    /// The threads a step on this workspace may use (one unless the caller sets more).
    threads: Threads,
}

impl Network {
    /// Checks that consecutive layers fit (fan_out of one = fan_in of the next) and that
    /// each bias has one entry per output unit.
    pub fn new(layers: Vec<Dense>) -> Result<Self> {
        if layers.is_empty() {
            return Err(Error::ParameterOutOfRange {
                name: "number of layers",
                value: 0.0,
                range: "at least 1",
            });
        }
        for (i, l) in layers.iter().enumerate() {
            if l.fan_in() == 0 || l.fan_out() == 0 {
                return Err(Error::ParameterOutOfRange {
                    name: "layer width",
                    value: 0.0,
                    range: "at least 1",
                });
            }
            check("bias", l.fan_out(), l.bias.len())?;
            if let Some(next) = layers.get(i + 1) {
                check("next layer's fan_in", l.fan_out(), next.fan_in())?;
            }
        }
        Ok(Self { layers })
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// J_1, J_2, …: the input width, then each layer's output width.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.layers[0].fan_in())
            .chain(self.layers.iter().map(Dense::fan_out))
            .collect()
    }

    /// Buffers for batches of `batch` samples.
    pub fn workspace(&self, batch: usize) -> Workspace {
        let widths = self.widths();
        Workspace {
            outputs: widths.iter().map(|&j| DMatrix::zeros(j, batch)).collect(),
            grads: widths[1..]
                .iter()
                .map(|&j| DMatrix::zeros(j, batch))
                .collect(),
            gradients: Gradients {
                weights: self
                    .layers
                    .iter()
                    .map(|l| DMatrix::zeros(l.fan_in(), l.fan_out()))
                    .collect(),
                biases: self
                    .layers
                    .iter()
                    .map(|l| DVector::zeros(l.fan_out()))
                    .collect(),
            },
            threads: Threads::ONE,
        }
    }

    // ANCHOR: forward
    /// The forward pass (1)–(2) for a batch `x` (J_1 × M): per layer one matrix product
    /// Z = Wᵀ·A, then the fused SIMD `A ← f(Z + b)`. Returns the output (J_n × M).
    pub fn forward<'w>(&self, x: &DMatrix<f32>, ws: &'w mut Workspace) -> Result<&'w DMatrix<f32>> {
        self.check_batch(x, ws)?;
        ws.outputs[0].copy_from(x);
        for (l, layer) in self.layers.iter().enumerate() {
            let (inputs, rest) = ws.outputs.split_at_mut(l + 1);
            let z = &mut rest[0];
            gemm_transposed_a(z, &layer.weights, &inputs[l], ws.threads);
            split_columns(z, ws.threads, |_, columns| {
                let bias = layer.bias.as_slice();
                layer.activation.forward_with_bias(columns, bias)
            })?;
        }
        Ok(&ws.outputs[self.layers.len()])
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    /// Forward and backward for a batch: returns L = Σ (ŷ − y)² and leaves ∂L/∂W, ∂L/∂b
    /// (summed over the batch, eq. (17)'s convention) in the workspace.
    ///
    /// Backward, from the last layer: δ = G ⊙ f'(Z) computed from the stored output in one
    /// fused pass; ∂L/∂W = A_prev·δᵀ; ∂L/∂b = δ·1; G_prev = W·δ (eq. (13) for a batch).
    pub fn backward(&self, x: &DMatrix<f32>, y: &DMatrix<f32>, ws: &mut Workspace) -> Result<f32> {
        self.forward(x, ws)?;
        let n = self.layers.len();
        check("targets (rows)", ws.outputs[n].nrows(), y.nrows())?;
        check("targets (columns)", ws.outputs[n].ncols(), y.ncols())?;
        // G_n = ∂L/∂ŷ = 2(ŷ − y)  (LOSS-10 in its corrected reading).
        let g = &mut ws.grads[n - 1];
        g.copy_from(&ws.outputs[n]);
        axpy(-1.0, y.as_slice(), g.as_mut_slice());
        let loss = g.as_slice().iter().map(|d| d * d).sum();
        g.as_mut_slice().iter_mut().for_each(|d| *d *= 2.0);
        for l in (0..n).rev() {
            let layer = &self.layers[l];
            let (below, at) = ws.grads.split_at_mut(l);
            let delta = &mut at[0];
            let (out, rows) = (ws.outputs[l + 1].as_slice(), delta.nrows());
            split_columns(delta, ws.threads, |first, columns| {
                let from = first * rows;
                let y = &out[from..from + columns.len()];
                layer.activation.backward_in_place(y, columns)
            })?;
            let t = ws.threads;
            gemm_transposed_b(&mut ws.gradients.weights[l], &ws.outputs[l], delta, t);
            row_sums(delta, ws.gradients.biases[l].as_mut_slice(), t);
            if l > 0 {
                gemm(&mut below[l - 1], &layer.weights, delta, t);
            }
        }
        Ok(loss)
    }
    // ANCHOR_END: backward

    /// The gradients the last [`Network::backward`] left in `ws`.
    ///
    /// Also reachable as [`Workspace::gradients`].
    pub fn gradients<'w>(&self, ws: &'w Workspace) -> &'w Gradients {
        &ws.gradients
    }

    // ANCHOR: sgd_step
    /// The SGD update (17): W ← W − α·Σ_m ∂ℓ^{(m)}/∂W, likewise for b, as SIMD axpys.
    pub fn sgd_step(&mut self, gradients: &Gradients, learning_rate: f32) -> Result<()> {
        self.sgd_step_on(gradients, learning_rate, Threads::ONE)
    }

    /// [`Network::sgd_step`] split over `threads` (each weight's update is the same FMA on
    /// whichever thread runs it, so the result is the same bits).
    pub fn sgd_step_on(
        &mut self,
        gradients: &Gradients,
        learning_rate: f32,
        threads: Threads,
    ) -> Result<()> {
        check(
            "gradient layers",
            self.layers.len(),
            gradients.weights.len(),
        )?;
        check(
            "bias-gradient layers",
            self.layers.len(),
            gradients.biases.len(),
        )?;
        for ((layer, gw), gb) in self
            .layers
            .iter_mut()
            .zip(&gradients.weights)
            .zip(&gradients.biases)
        {
            check("weight gradient", layer.weights.len(), gw.len())?;
            check("bias gradient", layer.bias.len(), gb.len())?;
            let w = layer.weights.as_mut_slice();
            axpy_split(-learning_rate, gw.as_slice(), w, threads);
            axpy(-learning_rate, gb.as_slice(), layer.bias.as_mut_slice());
        }
        Ok(())
    }
    // ANCHOR_END: sgd_step

    /// One training step on a batch: forward, backward, SGD update. Returns the loss
    /// before the update.
    pub fn train_step(
        &mut self,
        x: &DMatrix<f32>,
        y: &DMatrix<f32>,
        learning_rate: f32,
        ws: &mut Workspace,
    ) -> Result<f32> {
        let loss = self.backward(x, y, ws)?;
        self.sgd_step_on(&ws.gradients, learning_rate, ws.threads)?;
        Ok(loss)
    }

    fn check_batch(&self, x: &DMatrix<f32>, ws: &Workspace) -> Result<()> {
        check("input rows (J_1)", self.layers[0].fan_in(), x.nrows())?;
        check("workspace layers", self.layers.len() + 1, ws.outputs.len())?;
        check("batch size (workspace)", ws.outputs[0].ncols(), x.ncols())?;
        for (l, layer) in self.layers.iter().enumerate() {
            check(
                "workspace width",
                layer.fan_out(),
                ws.outputs[l + 1].nrows(),
            )?;
        }
        Ok(())
    }
}

impl Workspace {
    /// This workspace with steps split over `threads` (one by default). Gradients agree bit
    /// for bit with the one-thread ones (`kernel`'s module comment says why; a test checks).
    pub fn with_threads(mut self, threads: Threads) -> Self {
        self.threads = threads;
        self
    }

    /// The threads a step on this workspace may use.
    pub fn threads(&self) -> Threads {
        self.threads
    }

    /// Every layer's output from the last forward pass: `outputs()[0]` is the input batch
    /// and `outputs()[l + 1]` is O of layer l (units × batch).
    pub fn outputs(&self) -> &[DMatrix<f32>] {
        &self.outputs
    }

    /// δ = ∂L/∂Z of every layer from the last backward pass (units × batch).
    pub fn deltas(&self) -> &[DMatrix<f32>] {
        &self.grads
    }

    /// ∂L/∂W and ∂L/∂b from the last backward pass, summed over the batch.
    pub fn gradients(&self) -> &Gradients {
        &self.gradients
    }
}

fn check(what: &'static str, expected: usize, found: usize) -> Result<()> {
    crate::error::check_len(what, expected, found)
}
