//! Backpropagation (§反向传播 of the post, eqs (1)–(17)), transcribed literally in `f64`.
//!
//! Claim IDs: BP-01, BP-02, BP-03, BP-04, BP-05, BP-06, BP-07, LOSS-08, LOSS-09, LOSS-10,
//! OUT-11, OUT-12, BP-13, BP-14, BP-15, BIAS-16, SGD-17, and the operation counters of
//! EXT-BP-COST. [`eq17_batch_gradient`] (per-sample loops, summed) is the reference that
//! EXT-BP-MATRIX's batched matrix form is checked against.
//!
//! Conventions (the book's conventions appendix):
//! - C1: layers 1..n; layer 1 is the input, O_{1,j} = x_j; for i ≥ 2,
//!   IN_{i,k} = Σ_j W_{i−1,j,k}·O_{i−1,j} + b_{i,k} and O_{i,k} = f_i(IN_{i,k}).
//! - C2: W_{i,j,k} connects unit j of layer i to unit k of layer i+1, so W_i is J_i × J_{i+1}.
//!   Weights carry the index of their source layer, biases that of their destination.
//! - C3: the prediction is a linear unit, "layer n+1": ŷ = Σ_j W_{n,j}·O_{n,j} + b_out. The
//!   loss is ℓ = (y − ŷ)², and the loss unit's input is IN_ℓ := ŷ − y.
//! - C4: g_{i,j} := ∂ℓ/∂O_{i,j}. A derivative with respect to O_{i,j} treats O_{i,j} as a free
//!   input of the sub-network downstream of it, and ∂O_{n,k}/∂O_{n,j} = [j = k].
//! - C7: eq (17) sums the per-sample gradients.
//!
//! **Indexing.** Every index a public function takes is **1-based**, as the post writes it
//! (layer i, unit j_i). Storage is 0-based `Vec`s; the accessors [`Network::w`],
//! [`Network::b`], [`Network::w_n`], [`Forward::in_`] and [`Forward::o`] do the shift, so the
//! formulas below read index for index like the post. A slice that holds one value per unit
//! of a layer (say `g_next`) holds unit j at position j − 1.
//!
//! **Operation counts (EXT-BP-COST).** The derivative functions take `muls: &mut u64` and
//! add to it the number of floating-point multiplications they perform; pass `&mut 0` to
//! ignore it. The forward pass, which every method shares, is not counted.

mod derivatives;
mod forward;
mod gradients;
mod loss;
mod sgd;
#[cfg(test)]
mod tests;

use crate::activation;

pub use derivatives::*;
pub use forward::*;
pub use gradients::*;
pub use loss::*;
pub use sgd::*;

// ANCHOR: activation_enum
/// The activation f_i of one layer, mapped to [`crate::activation`].
///
/// f' is always evaluated at the unit's *input* IN (one of BP-07's planted bugs evaluates
/// it at the output O).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// ACT-TANH, [`activation::tanh_stable`].
    Tanh,
    /// ACT-SIGMOID, [`activation::sigmoid_stable`].
    Sigmoid,
    /// ACT-SOFTSIGN, [`activation::softsign`].
    Softsign,
    /// ACT-RELU, [`activation::relu`] (f'(0) := 0).
    Relu,
    /// ACT-LRELU with the given α, [`activation::leaky_relu`].
    LeakyRelu(f64),
    /// f(x) = x, f'(x) = 1.
    Identity,
}

impl Activation {
    /// f(x).
    pub fn f(self, x: f64) -> f64 {
        match self {
            Activation::Tanh => activation::tanh_stable(x),
            Activation::Sigmoid => activation::sigmoid_stable(x),
            Activation::Softsign => activation::softsign(x),
            Activation::Relu => activation::relu(x),
            Activation::LeakyRelu(alpha) => activation::leaky_relu(x, alpha),
            Activation::Identity => x,
        }
    }

    /// f'(x), evaluated at the input x.
    pub fn derivative(self, x: f64) -> f64 {
        match self {
            Activation::Tanh => activation::tanh_derivative(x),
            Activation::Sigmoid => activation::sigmoid_derivative(x),
            Activation::Softsign => activation::softsign_derivative(x),
            Activation::Relu => activation::relu_derivative(x),
            Activation::LeakyRelu(alpha) => activation::leaky_relu_derivative(x, alpha),
            Activation::Identity => 1.0,
        }
    }
}
// ANCHOR_END: activation_enum

// ANCHOR: network
/// A fully connected network in the post's notation (C1–C3).
///
/// Storage is 0-based; the 1-based accessors below are what the formulas use.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// `widths[i − 1]` = J_i, for the layers i = 1..n (layer 1 is the input).
    widths: Vec<usize>,
    /// `activations[i − 2]` = f_i, the activation of layer i, for i = 2..n.
    pub(crate) activations: Vec<Activation>,
    /// `weights[i − 1][j − 1][k − 1]` = W_{i,j,k}, for i = 1..n−1 (C2: W_i is J_i × J_{i+1}).
    pub(crate) weights: Vec<Vec<Vec<f64>>>,
    /// `biases[i − 2][k − 1]` = b_{i,k}, for i = 2..n (the destination layer's index, C2).
    pub(crate) biases: Vec<Vec<f64>>,
    /// `w_out[j − 1]` = W_{n,j} ≡ W_{n,j,1}, the output unit's weights (C3).
    pub(crate) w_out: Vec<f64>,
    /// b_out, the output unit's bias (C3; the post gives none, OUT-11).
    pub(crate) b_out: f64,
}
// ANCHOR_END: network

/// The address of one parameter, with the post's 1-based indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// W_{i,j,k}, i = 1..n−1.
    W {
        /// source layer i
        i: usize,
        /// unit j of layer i
        j: usize,
        /// unit k of layer i+1
        k: usize,
    },
    /// b_{i,k}, i = 2..n.
    B {
        /// destination layer i
        i: usize,
        /// unit k of layer i
        k: usize,
    },
    /// W_{n,j}, the output unit's weight from unit j of layer n.
    WOut {
        /// unit j of layer n
        j: usize,
    },
    /// b_out.
    BOut,
}

/// Parts of a literal [`Network`] that do not fit together: which part, the size the widths
/// call for and the size found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    /// The part, in the post's notation.
    pub what: String,
    /// The size the widths J_1..J_n (or the formula) call for.
    pub expected: usize,
    /// The size given.
    pub found: usize,
}

impl ShapeError {
    fn check(
        expected: usize,
        found: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), ShapeError> {
        if expected == found {
            Ok(())
        } else {
            Err(ShapeError {
                what: what(),
                expected,
                found,
            })
        }
    }
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ShapeError {
            what,
            expected,
            found,
        } = self;
        write!(
            f,
            "literal network: {what}: expected {expected}, found {found}"
        )
    }
}

impl std::error::Error for ShapeError {}

/// n ≥ 2 layers, every J_i ≥ 1, one activation per layer 2..n.
fn check_widths(widths: &[usize], activations: &[Activation]) -> Result<(), ShapeError> {
    if widths.len() < 2 {
        return Err(ShapeError {
            what: "layers n (an input layer and at least one more)".into(),
            expected: 2,
            found: widths.len(),
        });
    }
    if let Some(i) = widths.iter().position(|&w| w == 0) {
        return Err(ShapeError {
            what: format!("width J_{} (at least 1)", i + 1),
            expected: 1,
            found: 0,
        });
    }
    ShapeError::check(widths.len() - 1, activations.len(), || {
        "activations f_2..f_n (n − 1)".into()
    })
}

impl Network {
    /// A network with widths J_1..J_n (n ≥ 2, every J_i ≥ 1) and activations f_2..f_n.
    /// Every parameter is drawn from `init` in the order of [`Network::params`].
    ///
    /// ```
    /// use derivations::backprop::{Activation, Network};
    /// let net = Network::from_fn(&[3, 2], &[Activation::Tanh], || 0.5)?;
    /// assert_eq!((net.n(), net.width(2), net.w(1, 3, 2)), (2, 2, 0.5));
    /// assert!(Network::from_fn(&[3, 0], &[Activation::Tanh], || 0.5).is_err());
    /// # Ok::<(), derivations::backprop::ShapeError>(())
    /// ```
    pub fn from_fn(
        widths: &[usize],
        activations: &[Activation],
        mut init: impl FnMut() -> f64,
    ) -> Result<Network, ShapeError> {
        check_widths(widths, activations)?;
        let n = widths.len();
        let mut net = Network {
            widths: widths.to_vec(),
            activations: activations.to_vec(),
            // W_i is J_i × J_{i+1}: widths[i − 1] rows of widths[i] entries, i = 1..n−1.
            weights: (1..n)
                .map(|i| vec![vec![0.0; widths[i]]; widths[i - 1]])
                .collect(),
            // b_i has J_i entries, i = 2..n.
            biases: (2..=n).map(|i| vec![0.0; widths[i - 1]]).collect(),
            w_out: vec![0.0; widths[n - 1]],
            b_out: 0.0,
        };
        for p in net.params() {
            *net.param_mut(p) = init();
        }
        Ok(net)
    }

    /// A network from its parts, in the storage layout of the fields' docs: `weights[i − 1]`
    /// is W_i as J_i rows of J_{i+1} entries (C2: fan-in × fan-out; a PyTorch `Linear` weight
    /// is the transpose), `biases[i − 2]` is b_i, `w_out` and `b_out` the output unit (C3).
    /// Every part is checked against `widths`, so no formula below can run on a network whose
    /// pieces do not fit.
    ///
    /// ```
    /// use derivations::backprop::{Activation, Network};
    /// let w1 = vec![vec![1.0, 2.0]; 3]; // W_1: J_1 = 3 rows of J_2 = 2
    /// let net = Network::new(&[3, 2], &[Activation::Identity], vec![w1.clone()], vec![vec![0.0; 2]], vec![1.0; 2], 0.0)?;
    /// assert_eq!(net.w(1, 3, 2), 2.0);
    /// // W_1 given fan-out × fan-in (PyTorch's layout) is a shape error, not a wrong answer.
    /// let err = Network::new(&[3, 2], &[Activation::Identity], vec![vec![vec![1.0; 3]; 2]], vec![vec![0.0; 2]], vec![1.0; 2], 0.0);
    /// assert_eq!(err.unwrap_err().to_string(), "literal network: rows of W_1 (J_1): expected 3, found 2");
    /// # Ok::<(), derivations::backprop::ShapeError>(())
    /// ```
    pub fn new(
        widths: &[usize],
        activations: &[Activation],
        weights: Vec<Vec<Vec<f64>>>,
        biases: Vec<Vec<f64>>,
        w_out: Vec<f64>,
        b_out: f64,
    ) -> Result<Network, ShapeError> {
        check_widths(widths, activations)?;
        let n = widths.len();
        ShapeError::check(n - 1, weights.len(), || "weight matrices (n − 1)".into())?;
        for (i, w) in (1..).zip(&weights) {
            ShapeError::check(widths[i - 1], w.len(), || format!("rows of W_{i} (J_{i})"))?;
            for row in w {
                let j = i + 1;
                ShapeError::check(widths[i], row.len(), || {
                    format!("entries of a row of W_{i} (J_{j})")
                })?;
            }
        }
        ShapeError::check(n - 1, biases.len(), || "bias vectors (n − 1)".into())?;
        for (i, b) in (2..).zip(&biases) {
            ShapeError::check(widths[i - 1], b.len(), || {
                format!("entries of b_{i} (J_{i})")
            })?;
        }
        ShapeError::check(widths[n - 1], w_out.len(), || {
            format!("output weights W_{n} (J_{n})")
        })?;
        Ok(Network {
            widths: widths.to_vec(),
            activations: activations.to_vec(),
            weights,
            biases,
            w_out,
            b_out,
        })
    }

    /// J_1..J_n.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// f_2..f_n.
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    /// W_1..W_{n−1}, each J_i rows of J_{i+1} entries (C2).
    pub fn weights(&self) -> &[Vec<Vec<f64>>] {
        &self.weights
    }

    /// b_2..b_n.
    pub fn biases(&self) -> &[Vec<f64>] {
        &self.biases
    }

    /// W_{n,1..J_n}, the output unit's weights (C3).
    pub fn w_out(&self) -> &[f64] {
        &self.w_out
    }

    /// b_out, the output unit's bias (C3).
    pub fn b_out(&self) -> f64 {
        self.b_out
    }

    /// n, the number of layers (the output unit, "layer n+1", not counted).
    pub fn n(&self) -> usize {
        self.widths.len()
    }

    /// J_i, the width of layer i.
    pub fn width(&self, i: usize) -> usize {
        self.widths[i - 1]
    }

    /// W_{i,j,k}, 1 ≤ i ≤ n−1.
    pub fn w(&self, i: usize, j: usize, k: usize) -> f64 {
        self.weights[i - 1][j - 1][k - 1]
    }

    /// b_{i,k}, 2 ≤ i ≤ n.
    pub fn b(&self, i: usize, k: usize) -> f64 {
        self.biases[i - 2][k - 1]
    }

    /// W_{n,j}, the output unit's weight (C3).
    pub fn w_n(&self, j: usize) -> f64 {
        self.w_out[j - 1]
    }

    /// f_i, the activation of layer i, 2 ≤ i ≤ n.
    pub fn f(&self, i: usize) -> Activation {
        self.activations[i - 2]
    }

    /// Every parameter, in this order: W_1..W_{n−1} (each row by row), b_2..b_n, W_n, b_out.
    pub fn params(&self) -> Vec<Param> {
        let n = self.n();
        let mut ps = Vec::new();
        for i in 1..=n - 1 {
            for j in 1..=self.width(i) {
                for k in 1..=self.width(i + 1) {
                    ps.push(Param::W { i, j, k });
                }
            }
        }
        for i in 2..=n {
            for k in 1..=self.width(i) {
                ps.push(Param::B { i, k });
            }
        }
        for j in 1..=self.width(n) {
            ps.push(Param::WOut { j });
        }
        ps.push(Param::BOut);
        ps
    }

    /// The value of parameter `p`.
    pub fn param(&self, p: Param) -> f64 {
        match p {
            Param::W { i, j, k } => self.w(i, j, k),
            Param::B { i, k } => self.b(i, k),
            Param::WOut { j } => self.w_n(j),
            Param::BOut => self.b_out,
        }
    }

    /// A mutable reference to parameter `p`.
    pub fn param_mut(&mut self, p: Param) -> &mut f64 {
        match p {
            Param::W { i, j, k } => &mut self.weights[i - 1][j - 1][k - 1],
            Param::B { i, k } => &mut self.biases[i - 2][k - 1],
            Param::WOut { j } => &mut self.w_out[j - 1],
            Param::BOut => &mut self.b_out,
        }
    }
}

/// Everything the forward pass computes (C1): IN and O of every layer, and ŷ.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    /// `ins[i − 1][j − 1]` = IN_{i,j} for i = 2..n; `ins[0]` is empty (layer 1 has no IN).
    pub ins: Vec<Vec<f64>>,
    /// `outs[i − 1][j − 1]` = O_{i,j} for i = 1..n; `outs[0]` is the input x.
    pub outs: Vec<Vec<f64>>,
    /// ŷ, the output unit's value (C3).
    pub y_hat: f64,
}

impl Forward {
    /// IN_{i,j}, 2 ≤ i ≤ n (`in` is a Rust keyword).
    pub fn in_(&self, i: usize, j: usize) -> f64 {
        assert!(i >= 2, "the input layer has no IN");
        self.ins[i - 1][j - 1]
    }

    /// O_{i,j}, 1 ≤ i ≤ n.
    pub fn o(&self, i: usize, j: usize) -> f64 {
        self.outs[i - 1][j - 1]
    }
}
