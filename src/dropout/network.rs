//! A dense f32 network with dropout on chosen layers' outputs (DROP-SHARE, EXP-DROP-OVERFIT),
//! built from the backprop module's public pieces: [`Dense`] layers, the fused
//! [`forward_with_bias`](crate::activation::Activation::forward_with_bias) and
//! [`backward_in_place`](crate::activation::Activation::backward_in_place), and [`Dropout`].
//!
//! Conventions as [`crate::backprop::Network`] (C1–C3, C7): W is fan_in × fan_out, batches are
//! units × batch column-major matrices, losses and gradients are summed over the batch.
//!
//! With dropout on layer l, the workspace keeps both the layer's output O (unmasked: the
//! backward pass computes f' from it) and what the next layer sees, Õ = r∘s·O, with the mask
//! r as bits. Backward: ∂L/∂O = r∘s·∂L/∂Õ (the same mask from its bits), then
//! δ = ∂L/∂O ⊙ f'(Z), ∂L/∂W = Õ_prev·δᵀ, ∂L/∂b = δ·1, ∂L/∂Õ_prev = W·δ. A dropped unit
//! therefore has δ = 0 (zero gradient on its incoming weights and bias) and Õ = 0 (zero
//! gradient on its outgoing weights): DROP-SHARE.

use nalgebra::{DMatrix, DVector};

use super::generator::MaskStream;
use super::kernel::Dropout;
use super::mask::Mask;
use crate::backprop::kernel::{Threads, gemm, gemm_transposed_a, gemm_transposed_b, row_sums};
use crate::backprop::{Dense, Gradients, Network};
use crate::error::{Result, check_len};

/// The loss on the network's output ŷ (one row per output unit), summed over the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// L = Σ (ŷ − y)², backprop's convention (C3); ∂L/∂ŷ = 2(ŷ − y).
    Squared,
    /// L = Σ [ln(1 + e^{ŷ}) − y·ŷ] for targets y ∈ {0, 1}: the cross-entropy of σ(ŷ), ŷ a
    /// logit; ∂L/∂ŷ = σ(ŷ) − y.
    Logistic,
}

impl Loss {
    /// The loss of one output and its derivative, in f64 for the sum.
    fn value_and_slope(self, out: f32, target: f32) -> (f64, f32) {
        match self {
            Loss::Squared => {
                let d = out - target;
                (f64::from(d) * f64::from(d), 2.0 * d)
            }
            Loss::Logistic => {
                let (z, y) = (f64::from(out), f64::from(target));
                // ln(1 + e^z) = max(z, 0) + ln(1 + e^{−|z|}), finite for every z.
                let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
                let sigma = 1.0 / (1.0 + (-z).exp());
                (softplus - y * z, (sigma - y) as f32)
            }
        }
    }
}

/// A stack of dense layers with optional dropout on each layer's output.
#[derive(Debug, Clone, PartialEq)]
pub struct DropoutNetwork {
    layers: Vec<Dense>,
    dropout: Vec<Option<Dropout>>,
}

/// Buffers for one batch size.
#[derive(Debug, Clone)]
pub struct DropoutWorkspace {
    /// outputs[0] is the input; outputs[l + 1] = O of layer l, unmasked.
    outputs: Vec<DMatrix<f32>>,
    /// dropped[l] = Õ = r∘s·O for layers with dropout.
    dropped: Vec<Option<DMatrix<f32>>>,
    masks: Vec<Option<Mask>>,
    /// grads[l] = ∂L/∂(what layer l hands on), overwritten by δ = ∂L/∂Z.
    grads: Vec<DMatrix<f32>>,
    gradients: Gradients,
}

impl DropoutNetwork {
    /// `dropout[l]` applies to the output of `layers[l]` (usually the hidden layers only).
    ///
    /// # Errors
    /// As [`Network::new`] for the layers' shapes; [`crate::Error::LengthMismatch`] unless
    /// there is one dropout entry per layer.
    pub fn new(layers: Vec<Dense>, dropout: Vec<Option<Dropout>>) -> Result<Self> {
        check_len(
            "dropout entries (one per layer)",
            layers.len(),
            dropout.len(),
        )?;
        let layers = Network::new(layers)?.layers().to_vec();
        Ok(Self { layers, dropout })
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// The dropout of each layer's output.
    pub fn dropout(&self) -> &[Option<Dropout>] {
        &self.dropout
    }

    /// Buffers for batches of `batch` samples.
    pub fn workspace(&self, batch: usize) -> DropoutWorkspace {
        let units = |l: &Dense| DMatrix::zeros(l.fan_out(), batch);
        let on = |l: usize| self.dropout[l].is_some();
        DropoutWorkspace {
            outputs: std::iter::once(DMatrix::zeros(self.layers[0].fan_in(), batch))
                .chain(self.layers.iter().map(units))
                .collect(),
            dropped: (0..self.layers.len())
                .map(|l| on(l).then(|| units(&self.layers[l])))
                .collect(),
            masks: (0..self.layers.len())
                .map(|l| on(l).then(|| Mask::new(self.layers[l].fan_out() * batch)))
                .collect(),
            grads: self.layers.iter().map(units).collect(),
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
        }
    }

    // ANCHOR: forward_train
    /// The training forward pass: per layer Z = Wᵀ·A (gemm), O = f(Z + b) (fused), and where
    /// the layer has dropout, Õ = r∘s·O with a fresh mask from `stream.substream(l)` (one
    /// pass). Returns what the last layer hands on.
    pub fn forward_train<'w>(
        &self,
        x: &DMatrix<f32>,
        stream: MaskStream,
        ws: &'w mut DropoutWorkspace,
    ) -> Result<&'w DMatrix<f32>> {
        self.forward(x, ws, |l, d, o, out, mask| {
            d.forward(stream.substream(l as u64), o, out, mask)
        })
    }
    // ANCHOR_END: forward_train

    /// The forward pass with the masks already in the workspace (set by an earlier pass or
    /// [`DropoutWorkspace::set_mask`]): Õ = r∘s·O replayed from the bits.
    pub fn forward_with_masks<'w>(
        &self,
        x: &DMatrix<f32>,
        ws: &'w mut DropoutWorkspace,
    ) -> Result<&'w DMatrix<f32>> {
        self.forward(x, ws, |_, d, o, out, mask| {
            out.copy_from_slice(o);
            d.apply_in_place(mask, out)
        })
    }

    // ANCHOR: backward
    /// Forward with fresh masks from `stream`, then backward: returns the loss and leaves
    /// ∂L/∂W, ∂L/∂b (summed over the batch) in the workspace.
    pub fn backward(
        &self,
        x: &DMatrix<f32>,
        y: &DMatrix<f32>,
        loss: Loss,
        stream: MaskStream,
        ws: &mut DropoutWorkspace,
    ) -> Result<f64> {
        self.forward_train(x, stream, ws)?;
        self.backpropagate(y, loss, ws)
    }

    /// As [`DropoutNetwork::backward`], with the masks already in the workspace.
    pub fn backward_with_masks(
        &self,
        x: &DMatrix<f32>,
        y: &DMatrix<f32>,
        loss: Loss,
        ws: &mut DropoutWorkspace,
    ) -> Result<f64> {
        self.forward_with_masks(x, ws)?;
        self.backpropagate(y, loss, ws)
    }

    fn backpropagate(
        &self,
        y: &DMatrix<f32>,
        loss: Loss,
        ws: &mut DropoutWorkspace,
    ) -> Result<f64> {
        let n = self.layers.len();
        let out = handed_on(&ws.outputs, &ws.dropped, n);
        check_len("targets (rows)", out.nrows(), y.nrows())?;
        check_len("targets (columns)", out.ncols(), y.ncols())?;
        let mut total = 0.0;
        let g = ws.grads[n - 1].as_mut_slice();
        for ((gi, &o), &t) in g.iter_mut().zip(out.as_slice()).zip(y.as_slice()) {
            let (value, slope) = loss.value_and_slope(o, t);
            total += value;
            *gi = slope;
        }
        for l in (0..n).rev() {
            let layer = &self.layers[l];
            let (below, at) = ws.grads.split_at_mut(l);
            let delta = &mut at[0];
            if let (Some(d), Some(mask)) = (&self.dropout[l], &ws.masks[l]) {
                d.apply_in_place(mask, delta.as_mut_slice())?; // ∂L/∂O = r∘s·∂L/∂Õ
            }
            layer
                .activation
                .backward_in_place(ws.outputs[l + 1].as_slice(), delta.as_mut_slice())?;
            let input = handed_on(&ws.outputs, &ws.dropped, l);
            let one = Threads::ONE;
            gemm_transposed_b(&mut ws.gradients.weights[l], input, delta, one);
            row_sums(delta, ws.gradients.biases[l].as_mut_slice(), one);
            if l > 0 {
                gemm(&mut below[l - 1], &layer.weights, delta, one);
            }
        }
        Ok(total)
    }
    // ANCHOR_END: backward

    /// The SGD update (17): W ← W − α·∂L/∂W and b ← b − α·∂L/∂b, from the last backward pass.
    pub fn sgd_step(&mut self, learning_rate: f32, ws: &DropoutWorkspace) {
        for (layer, (gw, gb)) in self
            .layers
            .iter_mut()
            .zip(ws.gradients.weights.iter().zip(&ws.gradients.biases))
        {
            let (w, b) = (layer.weights.as_mut_slice(), layer.bias.as_mut_slice());
            for (w, g) in w.iter_mut().zip(gw.as_slice()) {
                *w -= learning_rate * g;
            }
            for (b, g) in b.iter_mut().zip(gb.as_slice()) {
                *b -= learning_rate * g;
            }
        }
    }

    // ANCHOR: prediction_network
    /// The network used at prediction (DROP-SCALE, DROP-INVERTED): no masks; for standard
    /// dropout on layer l, the outgoing weights — layer l + 1's W — are multiplied by p
    /// (biases and incoming weights unchanged); inverted dropout needs no change.
    pub fn prediction_network(&self) -> Network {
        let mut layers = self.layers.clone();
        for (layer, d) in layers.iter_mut().skip(1).zip(&self.dropout) {
            if let Some(d) = d {
                d.scale_outgoing_weights(layer.weights.as_mut_slice());
            }
        }
        Network::new(layers).expect("the shapes were checked at construction")
    }
    // ANCHOR_END: prediction_network

    /// The shared forward loop; `drop(l, dropout, O, Õ, mask)` fills Õ for layers with dropout.
    fn forward<'w>(
        &self,
        x: &DMatrix<f32>,
        ws: &'w mut DropoutWorkspace,
        drop: impl Fn(usize, &Dropout, &[f32], &mut [f32], &mut Mask) -> Result<()>,
    ) -> Result<&'w DMatrix<f32>> {
        check_len("input rows (J_1)", self.layers[0].fan_in(), x.nrows())?;
        check_len("batch size (workspace)", ws.outputs[0].ncols(), x.ncols())?;
        check_len("workspace layers", self.layers.len() + 1, ws.outputs.len())?;
        ws.outputs[0].copy_from(x);
        for (l, layer) in self.layers.iter().enumerate() {
            let (before, rest) = ws.outputs.split_at_mut(l + 1);
            let z = &mut rest[0];
            gemm_transposed_a(
                z,
                &layer.weights,
                handed_on(before, &ws.dropped, l),
                Threads::ONE,
            );
            layer
                .activation
                .forward_with_bias(z.as_mut_slice(), layer.bias.as_slice())?;
            if let (Some(d), Some(out), Some(mask)) =
                (&self.dropout[l], &mut ws.dropped[l], &mut ws.masks[l])
            {
                drop(l, d, z.as_slice(), out.as_mut_slice(), mask)?;
            }
        }
        Ok(ws.handed_on(self.layers.len()))
    }
}

impl DropoutWorkspace {
    /// O of every layer from the last forward pass, unmasked (`outputs()[0]` is the input).
    pub fn outputs(&self) -> &[DMatrix<f32>] {
        &self.outputs
    }

    /// The mask of layer l's output (units × batch, column-major), if it has dropout.
    pub fn mask(&self, l: usize) -> Option<&Mask> {
        self.masks.get(l).and_then(Option::as_ref)
    }

    /// Replaces layer l's mask (for [`DropoutNetwork::forward_with_masks`]).
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] if layer l has no dropout or the length differs.
    pub fn set_mask(&mut self, l: usize, mask: Mask) -> Result<()> {
        let slot = self.masks.get_mut(l).and_then(Option::as_mut);
        let expected = slot.as_ref().map_or(0, |m| m.len());
        check_len(
            "mask (layer without dropout has none)",
            expected,
            mask.len(),
        )?;
        if let Some(slot) = slot {
            *slot = mask;
        }
        Ok(())
    }

    /// ∂L/∂W and ∂L/∂b from the last backward pass, summed over the batch.
    pub fn gradients(&self) -> &Gradients {
        &self.gradients
    }

    /// What layer l − 1 hands to layer l (l = 0: the input; l = layers: the network output).
    fn handed_on(&self, l: usize) -> &DMatrix<f32> {
        handed_on(&self.outputs, &self.dropped, l)
    }
}

/// Layer l's input: the input for l = 0, else layer l − 1's Õ if it has dropout, else its O.
fn handed_on<'a>(
    outputs: &'a [DMatrix<f32>],
    dropped: &'a [Option<DMatrix<f32>>],
    l: usize,
) -> &'a DMatrix<f32> {
    match l.checked_sub(1).and_then(|k| dropped[k].as_ref()) {
        Some(d) => d,
        None => &outputs[l],
    }
}
