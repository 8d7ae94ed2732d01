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

use crate::activation;

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

// ANCHOR: f_prime
/// f_i'(IN_{i,j}): the local derivative of unit j of layer i, at its input.
pub fn f_prime(net: &Network, fwd: &Forward, i: usize, j: usize) -> f64 {
    net.f(i).derivative(fwd.in_(i, j))
}
// ANCHOR_END: f_prime

// ANCHOR: eq02_in
/// Eq (2), BP-02: IN_{i,j_i} = Σ_{j_{i−1}=1}^{J_{i−1}} W_{i−1,j_{i−1},j_i}·O_{i−1,j_{i−1}} + b_{i,j_i},
/// for 2 ≤ i ≤ n, given `o_prev` = O_{i−1}.
///
/// The post prints O_{i−1,**j−1**}; the corrected factor is O_{i−1,j_{i−1}}, the summation
/// index (a typo).
pub fn eq02_in(net: &Network, i: usize, o_prev: &[f64]) -> Vec<f64> {
    assert!((2..=net.n()).contains(&i), "IN is defined for layers 2..n");
    assert_eq!(
        o_prev.len(),
        net.width(i - 1),
        "O_{{i−1}} has J_{{i−1}} entries"
    );
    let mut in_i = vec![0.0; net.width(i)];
    for j_i in 1..=net.width(i) {
        let mut sum = 0.0;
        for j_prev in 1..=net.width(i - 1) {
            sum += net.w(i - 1, j_prev, j_i) * o_prev[j_prev - 1];
        }
        in_i[j_i - 1] = sum + net.b(i, j_i);
    }
    in_i
}
// ANCHOR_END: eq02_in

// ANCHOR: eq01_forward
/// Eq (1), BP-01: O_{1,j} = x_j and, for i = 2..n,
/// O_{i,j_i} = f_i(Σ_{j_{i−1}} W_{i−1,j_{i−1},j_i}·O_{i−1,j_{i−1}} + b_{i,j_i}) = f_i(IN_{i,j_i});
/// then the output unit of C3. Returns every IN and O (C1).
///
/// # Panics
/// If `x.len() != J_1`.
pub fn eq01_forward(net: &Network, x: &[f64]) -> Forward {
    let n = net.n();
    assert_eq!(x.len(), net.width(1), "x has J_1 entries");
    let mut ins = vec![Vec::new()]; // layer 1 has no IN
    let mut outs = vec![x.to_vec()]; // O_{1,j} = x_j
    for i in 2..=n {
        let in_i = eq02_in(net, i, &outs[i - 2]);
        let o_i = in_i.iter().map(|&v| net.f(i).f(v)).collect();
        ins.push(in_i);
        outs.push(o_i);
    }
    let y_hat = c3_output_unit(net, &outs[n - 1]);
    Forward { ins, outs, y_hat }
}
// ANCHOR_END: eq01_forward

// ANCHOR: eq01_forward_from
/// C4's "free input": O_n computed from a given O_i (1 ≤ i ≤ n) by eq (1) through layers
/// i+1..n only. The finite-difference checks of (5)–(7), (12) and (13) perturb O_i this way.
pub fn eq01_forward_from(net: &Network, i: usize, o_i: &[f64]) -> Vec<f64> {
    assert!((1..=net.n()).contains(&i));
    assert_eq!(o_i.len(), net.width(i));
    let mut o = o_i.to_vec();
    for l in i + 1..=net.n() {
        o = eq02_in(net, l, &o).iter().map(|&v| net.f(l).f(v)).collect();
    }
    o
}
// ANCHOR_END: eq01_forward_from

// ANCHOR: c3_output_unit
/// C3, the linear output unit ("layer n+1"): ŷ = Σ_{j=1}^{J_n} W_{n,j}·O_{n,j} + b_out.
pub fn c3_output_unit(net: &Network, o_n: &[f64]) -> f64 {
    assert_eq!(o_n.len(), net.width(net.n()));
    let mut sum = 0.0;
    for j in 1..=net.width(net.n()) {
        sum += net.w_n(j) * o_n[j - 1];
    }
    sum + net.b_out
}
// ANCHOR_END: c3_output_unit

// ANCHOR: for_each_path
/// Calls `visit` once for every assignment of the path indices j_x, x = lo..=hi, each
/// running over 1..=J_x: the nested sums Σ_{j_hi} ⋯ Σ_{j_lo} of eqs (4)–(6), with j_lo
/// turning fastest (the innermost sum). `j` is indexed by layer (`j[x]` = j_x, `j[0]` unused);
/// entries outside lo..=hi keep what the caller set. An empty range (lo > hi) is one path.
fn for_each_path(
    net: &Network,
    j: &mut [usize],
    lo: usize,
    hi: usize,
    mut visit: impl FnMut(&[usize]),
) {
    if lo <= hi {
        j[lo..=hi].fill(1);
    }
    loop {
        visit(j);
        // Advance the odometer: the lowest digit that can still count up does, lower ones reset.
        let mut x = lo;
        loop {
            if x > hi {
                return; // every digit was at its maximum: all paths visited
            }
            if j[x] < net.width(x) {
                j[x] += 1;
                break;
            }
            j[x] = 1;
            x += 1;
        }
    }
}
// ANCHOR_END: for_each_path

// ANCHOR: eq03_chain_rule
/// Eq (3), BP-03, applied recursively: ∂O_{m,j_m}/∂W_{i,j,k} for any layer m.
/// - m ≤ i: 0 (BP-DEP: W_{i,j,k} first appears in layer i+1);
/// - m = i+1: [j_m = k]·f'(IN_{i+1,k})·O_{i,j} (the base case the post never writes);
/// - m ≥ i+2: f'(IN_{m,j_m})·Σ_{j_{m−1}=1}^{J_{m−1}} W_{m−1,j_{m−1},j_m}·∂O_{m−1,j_{m−1}}/∂W_{i,j,k}.
///
/// The post writes the step for m = n, with b_{n,**x**} where b_{n,j_n} belongs (a typo), and
/// without the range: its second equality needs W_{m−1} ≠ W_i, i.e. i ≤ m−2. Exponential cost,
/// like (4).
pub fn eq03_chain_rule(
    net: &Network,
    fwd: &Forward,
    m: usize,
    j_m: usize,
    i: usize,
    j: usize,
    k: usize,
) -> f64 {
    if m <= i {
        0.0
    } else if m == i + 1 {
        if j_m == k {
            f_prime(net, fwd, i + 1, k) * fwd.o(i, j)
        } else {
            0.0
        }
    } else {
        let mut sum = 0.0;
        for j_prev in 1..=net.width(m - 1) {
            sum += net.w(m - 1, j_prev, j_m) * eq03_chain_rule(net, fwd, m - 1, j_prev, i, j, k);
        }
        f_prime(net, fwd, m, j_m) * sum
    }
}
// ANCHOR_END: eq03_chain_rule

// ANCHOR: eq04_path_sum
/// Eq (4), BP-04: ∂O_{n,j_n}/∂W_{i,j,k} as the explicit sum over all paths, for 1 ≤ i ≤ n−1.
///
/// For i ≤ n−2 (corrected form):
/// Σ_{j_{n−1}=1}^{J_{n−1}} ⋯ Σ_{j_{i+2}=1}^{J_{i+2}} f'(IN_{n,j_n})·Π_{x=i+2}^{n−1}[W_{x,j_x,j_{x+1}}·f'(IN_{x,j_x})]
/// ·W_{i+1,k,j_{i+2}}·∂O_{i+1,k}/∂W_{i,j,k}, with ∂O_{i+1,k}/∂W_{i,j,k} = f'(IN_{i+1,k})·O_{i,j}
/// (the post leaves that factor symbolic). The product is empty when n = i+2.
/// The post's first line prints W_{n−1,j_{n−1},**x**}; it is W_{n−1,j_{n−1},j_n} (a typo).
///
/// For i = n−1, BP-03's base case: [j_n = k]·f'(IN_{n,k})·O_{n−1,j}.
///
/// EXT-BP-COST: Π_{x=i+2}^{n−1} J_x paths of 2(n−i)−1 multiplications each (1 or 0 for i = n−1).
pub fn eq04_path_sum(
    net: &Network,
    fwd: &Forward,
    j_n: usize,
    i: usize,
    j: usize,
    k: usize,
    muls: &mut u64,
) -> f64 {
    let n = net.n();
    assert!((1..n).contains(&i), "W_i exists for i = 1..n−1");
    if i == n - 1 {
        if j_n != k {
            return 0.0;
        }
        *muls += 1;
        return f_prime(net, fwd, n, k) * fwd.o(n - 1, j);
    }
    let mut path = vec![0; n + 1]; // path[x] = j_x
    path[n] = j_n;
    let mut sum = 0.0;
    for_each_path(net, &mut path, i + 2, n - 1, |jx| {
        let mut term = f_prime(net, fwd, n, jx[n]); // f'(IN_{n,j_n})
        for x in i + 2..=n - 1 {
            term *= net.w(x, jx[x], jx[x + 1]) * f_prime(net, fwd, x, jx[x]);
            *muls += 2;
        }
        term *= net.w(i + 1, k, jx[i + 2]); // W_{i+1,k,j_{i+2}}
        term *= f_prime(net, fwd, i + 1, k) * fwd.o(i, j); // ∂O_{i+1,k}/∂W_{i,j,k}
        *muls += 3;
        sum += term;
    });
    sum
}
// ANCHOR_END: eq04_path_sum

// ANCHOR: eq05_path_sum
/// Eq (5), BP-05: ∂O_{n,j_n}/∂O_{i+1,j_{i+1}}, for 0 ≤ i ≤ n−1 (i = 0: the input layer).
///
/// For i ≤ n−2: Σ_{j_{n−1}} ⋯ Σ_{j_{i+2}} f'(IN_{n,j_n})·Π_{x=i+2}^{n−1}[W_{x,j_x,j_{x+1}}·f'(IN_{x,j_x})]
/// ·W_{i+1,j_{i+1},j_{i+2}}·1, i.e. (4) with ∂O_{i+1,k}/∂O_{i+1,j_{i+1}} = [k = j_{i+1}].
/// For i = n−1 the layer is n itself and C4 gives [j_{i+1} = j_n].
pub fn eq05_path_sum(
    net: &Network,
    fwd: &Forward,
    j_n: usize,
    i: usize,
    j_next: usize,
    muls: &mut u64,
) -> f64 {
    let n = net.n();
    assert!(i < n, "layer i+1 must be one of 1..n");
    if i == n - 1 {
        return if j_next == j_n { 1.0 } else { 0.0 };
    }
    let mut path = vec![0; n + 1];
    path[n] = j_n;
    path[i + 1] = j_next;
    let mut sum = 0.0;
    for_each_path(net, &mut path, i + 2, n - 1, |jx| {
        let mut term = f_prime(net, fwd, n, jx[n]);
        for x in i + 2..=n - 1 {
            term *= net.w(x, jx[x], jx[x + 1]) * f_prime(net, fwd, x, jx[x]);
            *muls += 2;
        }
        term *= net.w(i + 1, jx[i + 1], jx[i + 2]); // ·1
        *muls += 1;
        sum += term;
    });
    sum
}
// ANCHOR_END: eq05_path_sum

// ANCHOR: eq06_path_sum
/// Eq (6), BP-06: ∂O_{n,j_n}/∂O_{i,j_i}, for 1 ≤ i ≤ n−1.
///
/// For i ≤ n−2 (corrected form):
/// Σ_{j_{i+1}} Σ_{j_{n−1}} ⋯ Σ_{j_{i+2}} f'(IN_{n,j_n})·Π_{x=i+2}^{n−1}[W_{x,j_x,j_{x+1}}·f'(IN_{x,j_x})]
/// ·W_{i+1,j_{i+1},j_{i+2}}·f'(IN_{i+1,j_{i+1}})·W_{i,j_i,j_{i+1}}.
/// The post prints f'(IN_{n,**k**}) against the left side's O_{n,j_n} (one output label must run
/// throughout; we use j_n) and W_{i+1,j_{i+1},**j_{x+2}**} for W_{i+1,j_{i+1},j_{i+2}} (typos).
///
/// For i = n−1 the general form has no W_{i+1}; the single edge gives f'(IN_{n,j_n})·W_{n−1,j_i,j_n}.
pub fn eq06_path_sum(
    net: &Network,
    fwd: &Forward,
    j_n: usize,
    i: usize,
    j_i: usize,
    muls: &mut u64,
) -> f64 {
    let n = net.n();
    assert!((1..n).contains(&i));
    if i == n - 1 {
        *muls += 1;
        return f_prime(net, fwd, n, j_n) * net.w(n - 1, j_i, j_n);
    }
    let mut sum = 0.0;
    for j_next in 1..=net.width(i + 1) {
        let mut path = vec![0; n + 1];
        path[n] = j_n;
        path[i] = j_i;
        path[i + 1] = j_next;
        for_each_path(net, &mut path, i + 2, n - 1, |jx| {
            let mut term = f_prime(net, fwd, n, jx[n]);
            for x in i + 2..=n - 1 {
                term *= net.w(x, jx[x], jx[x + 1]) * f_prime(net, fwd, x, jx[x]);
                *muls += 2;
            }
            term *= net.w(i + 1, jx[i + 1], jx[i + 2]);
            term *= f_prime(net, fwd, i + 1, jx[i + 1]) * net.w(i, jx[i], jx[i + 1]);
            *muls += 3;
            sum += term;
        });
    }
    sum
}
// ANCHOR_END: eq06_path_sum

// ANCHOR: eq07_recurrence
/// Eq (7), BP-07 (boxed in the post): one backward step, for 1 ≤ i ≤ n−1,
/// ∂O_{n,k}/∂O_{i,j_i} = Σ_{j_{i+1}=1}^{J_{i+1}} f'(IN_{i+1,j_{i+1}})·W_{i,j_i,j_{i+1}}·∂O_{n,k}/∂O_{i+1,j_{i+1}}.
///
/// `d_next[j − 1]` = ∂O_{n,k}/∂O_{i+1,j}; returns ∂O_{n,k}/∂O_{i,·}. 2·J_i·J_{i+1} multiplications.
pub fn eq07_recurrence(
    net: &Network,
    fwd: &Forward,
    i: usize,
    d_next: &[f64],
    muls: &mut u64,
) -> Vec<f64> {
    assert!((1..net.n()).contains(&i));
    assert_eq!(d_next.len(), net.width(i + 1));
    let mut d_i = vec![0.0; net.width(i)];
    for j_i in 1..=net.width(i) {
        let mut sum = 0.0;
        for j_next in 1..=net.width(i + 1) {
            sum += f_prime(net, fwd, i + 1, j_next) * net.w(i, j_i, j_next) * d_next[j_next - 1];
            *muls += 2;
        }
        d_i[j_i - 1] = sum;
    }
    d_i
}
// ANCHOR_END: eq07_recurrence

// ANCHOR: eq07_all_layers
/// Eq (7) run from its base case ∂O_{n,k}/∂O_{n,j} = [j = k] (C4) down to layer 1.
/// Returns `d` with `d[i − 1][j − 1]` = ∂O_{n,k}/∂O_{i,j} for i = 1..n.
pub fn eq07_all_layers(net: &Network, fwd: &Forward, k: usize, muls: &mut u64) -> Vec<Vec<f64>> {
    let n = net.n();
    let mut d = vec![Vec::new(); n];
    d[n - 1] = (1..=net.width(n))
        .map(|j| if j == k { 1.0 } else { 0.0 })
        .collect();
    for i in (1..=n - 1).rev() {
        d[i - 1] = eq07_recurrence(net, fwd, i, &d[i], muls);
    }
    d
}
// ANCHOR_END: eq07_all_layers

// ANCHOR: eq07_weight_derivative
/// ∂O_{n,k_n}/∂W_{i,j,k} from the recurrence: the first step of (14) with ℓ replaced by
/// O_{n,k_n} (W_{i,j,k} reaches O_n only through IN_{i+1,k}):
/// ∂O_{n,k_n}/∂O_{i+1,k}·f'(IN_{i+1,k})·O_{i,j}, for 1 ≤ i ≤ n−1, with `d` from
/// [`eq07_all_layers`]`(k_n)`. Two multiplications. This is what (4) must equal.
pub fn eq07_weight_derivative(
    net: &Network,
    fwd: &Forward,
    d: &[Vec<f64>],
    i: usize,
    j: usize,
    k: usize,
    muls: &mut u64,
) -> f64 {
    assert!((1..net.n()).contains(&i), "W_i exists for i = 1..n−1");
    *muls += 2;
    d[i][k - 1] * f_prime(net, fwd, i + 1, k) * fwd.o(i, j) // d[i] is layer i+1
}
// ANCHOR_END: eq07_weight_derivative

// ANCHOR: eq08_loss
/// Eq (8), LOSS-08: ℓ = (y − ŷ)² for one sample.
///
/// The post calls the loss unit "neuron k of layer n"; since (11)–(12) feed it from layer n,
/// it is layer n+1 (C3; a typo in the layer index).
pub fn eq08_loss(y: f64, y_hat: f64) -> f64 {
    (y - y_hat) * (y - y_hat)
}
// ANCHOR_END: eq08_loss

// ANCHOR: eq09_loss_input
/// Eq (9), LOSS-09, in the catalogue's reading: the loss unit's input is IN_ℓ := ŷ − y, and its
/// "activation" is u ↦ u², so ℓ = IN_ℓ².
///
/// The post prints V_{IN_ℓ} = V(O_{n,k}), which read literally is ℓ itself (or ŷ); under
/// neither reading is (10) the derivative of ℓ (wrong as written).
pub fn eq09_loss_input(y: f64, y_hat: f64) -> f64 {
    y_hat - y
}
// ANCHOR_END: eq09_loss_input

// ANCHOR: eq10_loss_derivative
/// Eq (10), LOSS-10: ℓ'(IN_ℓ) = 2·IN_ℓ = 2(ŷ − y) = ∂ℓ/∂ŷ. One multiplication.
///
/// Right only with IN_ℓ := ŷ − y ([`eq09_loss_input`]). With IN_ℓ = y − ŷ, the expression
/// inside the square of (8), the sign flips and SGD ascends; with IN_ℓ = ℓ it gives 2ℓ.
pub fn eq10_loss_derivative(in_l: f64, muls: &mut u64) -> f64 {
    *muls += 1;
    2.0 * in_l
}
// ANCHOR_END: eq10_loss_derivative

// ANCHOR: eq11_output_weight_gradient
/// Eq (11), OUT-11: ∂ℓ/∂W_{n,j_n} = ℓ'(IN_ℓ)·O_{n,j_n}, for j_n = 1..J_n. J_n multiplications.
pub fn eq11_output_weight_gradient(
    net: &Network,
    fwd: &Forward,
    l_prime: f64,
    muls: &mut u64,
) -> Vec<f64> {
    let n = net.n();
    let mut grad = vec![0.0; net.width(n)];
    for j_n in 1..=net.width(n) {
        grad[j_n - 1] = l_prime * fwd.o(n, j_n);
        *muls += 1;
    }
    grad
}
// ANCHOR_END: eq11_output_weight_gradient

// ANCHOR: eq11_output_bias_gradient
/// OUT-11's note (the post gives no output bias): ∂ℓ/∂b_out = ℓ'(IN_ℓ)·1 = ℓ'(IN_ℓ).
pub fn eq11_output_bias_gradient(l_prime: f64) -> f64 {
    l_prime
}
// ANCHOR_END: eq11_output_bias_gradient

// ANCHOR: eq12_last_layer
/// Eq (12), OUT-12: g_{n,j_n} = ∂ℓ/∂O_{n,j_n} = ℓ'(IN_ℓ)·W_{n,j_n}. J_n multiplications.
pub fn eq12_last_layer(net: &Network, l_prime: f64, muls: &mut u64) -> Vec<f64> {
    let n = net.n();
    let mut g_n = vec![0.0; net.width(n)];
    for j_n in 1..=net.width(n) {
        g_n[j_n - 1] = l_prime * net.w_n(j_n);
        *muls += 1;
    }
    g_n
}
// ANCHOR_END: eq12_last_layer

// ANCHOR: eq13_recurrence
/// Eq (13), BP-13: g_{i,j_i} = Σ_{j_{i+1}=1}^{J_{i+1}} f'(IN_{i+1,j_{i+1}})·W_{i,j_i,j_{i+1}}·g_{i+1,j_{i+1}},
/// i.e. (7) with O_{n,k} replaced by ℓ. Valid for 1 ≤ i ≤ n−1; BP needs it for 2 ≤ i ≤ n−1.
///
/// `g_next[j − 1]` = g_{i+1,j}; returns g_i. 2·J_i·J_{i+1} multiplications.
pub fn eq13_recurrence(
    net: &Network,
    fwd: &Forward,
    i: usize,
    g_next: &[f64],
    muls: &mut u64,
) -> Vec<f64> {
    assert!((1..net.n()).contains(&i));
    assert_eq!(g_next.len(), net.width(i + 1));
    let mut g_i = vec![0.0; net.width(i)];
    for j_i in 1..=net.width(i) {
        let mut sum = 0.0;
        for j_next in 1..=net.width(i + 1) {
            sum += f_prime(net, fwd, i + 1, j_next) * net.w(i, j_i, j_next) * g_next[j_next - 1];
            *muls += 2;
        }
        g_i[j_i - 1] = sum;
    }
    g_i
}
// ANCHOR_END: eq13_recurrence

// ANCHOR: eq14_weight_gradient
/// Eq (14), BP-14 (corrected): ∂ℓ/∂W_{i−1,j_{i−1},j_i} = g_{i,j_i}·f'(IN_{i,j_i})·O_{i−1,j_{i−1}},
/// for 2 ≤ i ≤ n (BP-15: up to n, so W_{n−1} is included).
///
/// The post's last line prints V_{O_{i−1,j_{i−1},**j_i**}}; O has two indices, so it is
/// V_{O_{i−1,j_{i−1}}} (a typo). `g_i[j − 1]` = g_{i,j}; returns a J_{i−1} × J_i matrix shaped
/// like W_{i−1}. 2·J_{i−1}·J_i multiplications.
pub fn eq14_weight_gradient(
    net: &Network,
    fwd: &Forward,
    i: usize,
    g_i: &[f64],
    muls: &mut u64,
) -> Vec<Vec<f64>> {
    assert!((2..=net.n()).contains(&i));
    assert_eq!(g_i.len(), net.width(i));
    let mut grad = vec![vec![0.0; net.width(i)]; net.width(i - 1)];
    for j_prev in 1..=net.width(i - 1) {
        for j_i in 1..=net.width(i) {
            grad[j_prev - 1][j_i - 1] =
                g_i[j_i - 1] * f_prime(net, fwd, i, j_i) * fwd.o(i - 1, j_prev);
            *muls += 2;
        }
    }
    grad
}
// ANCHOR_END: eq14_weight_gradient

// ANCHOR: eq16_bias_gradient
/// Eq (16), BIAS-16: ∂ℓ/∂b_{i,j_i} = g_{i,j_i}·f'(IN_{i,j_i}), for 2 ≤ i ≤ n (BP-15: up to n).
///
/// (14) with the source output replaced by a constant 1 (see [`bias16_augment`]); the post
/// repeats (14)'s stray index when it writes that constant as V_{O_{i−1,j_{i−1},j_i}} = 1.
/// J_i multiplications.
pub fn eq16_bias_gradient(
    net: &Network,
    fwd: &Forward,
    i: usize,
    g_i: &[f64],
    muls: &mut u64,
) -> Vec<f64> {
    assert!((2..=net.n()).contains(&i));
    assert_eq!(g_i.len(), net.width(i));
    let mut grad = vec![0.0; net.width(i)];
    for j_i in 1..=net.width(i) {
        grad[j_i - 1] = g_i[j_i - 1] * f_prime(net, fwd, i, j_i);
        *muls += 1;
    }
    grad
}
// ANCHOR_END: eq16_bias_gradient

// ANCHOR: bias16_augment
/// BIAS-16, "the bias is the weight of an extra input fixed at 1": for 2 ≤ i ≤ n returns
/// (W̃_{i−1}, Õ_{i−1}), where W̃_{i−1} is (J_{i−1}+1) × J_i with rows 1..J_{i−1} = W_{i−1} and
/// row J_{i−1}+1 = b_i, and Õ_{i−1} = (O_{i−1,1}, …, O_{i−1,J_{i−1}}, 1).
pub fn bias16_augment(net: &Network, fwd: &Forward, i: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    assert!((2..=net.n()).contains(&i));
    let mut w_tilde = net.weights[i - 2].clone(); // W_{i−1}
    w_tilde.push(net.biases[i - 2].clone()); // b_i as the constant unit's outgoing weights
    let mut o_tilde = fwd.outs[i - 2].clone(); // O_{i−1}
    o_tilde.push(1.0);
    (w_tilde, o_tilde)
}

/// BIAS-16: eq (2) with no bias over the augmented layer,
/// IN_{i,j_i} = Σ_{j=1}^{J_{i−1}+1} W̃_{i−1,j,j_i}·Õ_{i−1,j}. Equals [`eq02_in`] bit for bit.
pub fn bias16_in(w_tilde: &[Vec<f64>], o_tilde: &[f64]) -> Vec<f64> {
    let width_i = w_tilde[0].len();
    let mut in_i = vec![0.0; width_i];
    for j_i in 1..=width_i {
        let mut sum = 0.0;
        for j in 1..=o_tilde.len() {
            sum += w_tilde[j - 1][j_i - 1] * o_tilde[j - 1];
        }
        in_i[j_i - 1] = sum;
    }
    in_i
}

/// BIAS-16: eq (14) applied to W̃_{i−1}: g_{i,j_i}·f'(IN_{i,j_i})·Õ_{i−1,j}. Rows 1..J_{i−1} are
/// (14); row J_{i−1}+1, where Õ = 1, is (16).
pub fn bias16_gradient(
    net: &Network,
    fwd: &Forward,
    i: usize,
    g_i: &[f64],
    o_tilde: &[f64],
) -> Vec<Vec<f64>> {
    let mut grad = vec![vec![0.0; net.width(i)]; o_tilde.len()];
    for j in 1..=o_tilde.len() {
        for j_i in 1..=net.width(i) {
            grad[j - 1][j_i - 1] = g_i[j_i - 1] * f_prime(net, fwd, i, j_i) * o_tilde[j - 1];
        }
    }
    grad
}
// ANCHOR_END: bias16_augment

// ANCHOR: gradient
/// ∂ℓ/∂θ for every parameter θ of a [`Network`], laid out exactly like the network.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient {
    /// `w[i − 1][j − 1][k − 1]` = ∂ℓ/∂W_{i,j,k}, i = 1..n−1.
    pub w: Vec<Vec<Vec<f64>>>,
    /// `b[i − 2][k − 1]` = ∂ℓ/∂b_{i,k}, i = 2..n.
    pub b: Vec<Vec<f64>>,
    /// `w_out[j − 1]` = ∂ℓ/∂W_{n,j}.
    pub w_out: Vec<f64>,
    /// ∂ℓ/∂b_out.
    pub b_out: f64,
}

impl Gradient {
    /// All zeros, shaped like `net`'s parameters.
    pub fn zeros(net: &Network) -> Gradient {
        let z = Network::from_fn(&net.widths, &net.activations, || 0.0)
            .expect("the widths of a network fit");
        Gradient {
            w: z.weights,
            b: z.biases,
            w_out: z.w_out,
            b_out: 0.0,
        }
    }

    /// The entry for parameter `p`.
    pub fn get(&self, p: Param) -> f64 {
        match p {
            Param::W { i, j, k } => self.w[i - 1][j - 1][k - 1],
            Param::B { i, k } => self.b[i - 2][k - 1],
            Param::WOut { j } => self.w_out[j - 1],
            Param::BOut => self.b_out,
        }
    }

    /// The number of entries (BP-15: must equal the number of parameters).
    pub fn num_entries(&self) -> usize {
        let w: usize = self.w.iter().flatten().map(Vec::len).sum();
        let b: usize = self.b.iter().map(Vec::len).sum();
        w + b + self.w_out.len() + 1
    }

    /// Entry by entry, self + other.
    pub fn add(&self, other: &Gradient) -> Gradient {
        self.zip(other, |a, b| a + b)
    }

    /// Entry by entry, s·self.
    pub fn scale(&self, s: f64) -> Gradient {
        self.zip(self, |a, _| s * a)
    }

    fn zip(&self, other: &Gradient, op: impl Fn(f64, f64) -> f64) -> Gradient {
        let vec = |a: &[f64], b: &[f64]| -> Vec<f64> {
            assert_eq!(a.len(), b.len(), "gradients of different shapes");
            a.iter().zip(b).map(|(&x, &y)| op(x, y)).collect()
        };
        let mat = |a: &[Vec<f64>], b: &[Vec<f64>]| -> Vec<Vec<f64>> {
            assert_eq!(a.len(), b.len(), "gradients of different shapes");
            a.iter().zip(b).map(|(x, y)| vec(x, y)).collect()
        };
        assert_eq!(self.w.len(), other.w.len(), "gradients of different shapes");
        Gradient {
            w: self
                .w
                .iter()
                .zip(&other.w)
                .map(|(x, y)| mat(x, y))
                .collect(),
            b: mat(&self.b, &other.b),
            w_out: vec(&self.w_out, &other.w_out),
            b_out: op(self.b_out, other.b_out),
        }
    }
}
// ANCHOR_END: gradient

// ANCHOR: eq15_gradient
/// The per-sample gradient of every parameter: eqs (9)–(14) and (16) over BP-15's corrected
/// ranges.
///
/// The post's (15) runs i = 2, 3, …, n−1. That is right for (13) (g_i for i = 2..n−1), but
/// (14) and (16) must run for i = 2..n, or W_{n−1} and b_n get no gradient (imprecise; the
/// literal range is the planted bug `for i in 2..n`). W_n and b_out come from (11).
///
/// EXT-BP-COST: 1 + 2·J_n + Σ_{i=2}^{n}(2·J_{i−1}·J_i + J_i) + Σ_{i=2}^{n−1} 2·J_i·J_{i+1}
/// multiplications, linear in the number of weights.
pub fn eq15_gradient(net: &Network, x: &[f64], y: f64, muls: &mut u64) -> Gradient {
    let n = net.n();
    let fwd = eq01_forward(net, x);
    let l_prime = eq10_loss_derivative(eq09_loss_input(y, fwd.y_hat), muls);
    let mut grad = Gradient::zeros(net);
    grad.w_out = eq11_output_weight_gradient(net, &fwd, l_prime, muls);
    grad.b_out = eq11_output_bias_gradient(l_prime);
    let mut g_i = eq12_last_layer(net, l_prime, muls); // g_n
    for i in (2..=n).rev() {
        // here g_i holds g_{i,·}
        grad.w[i - 2] = eq14_weight_gradient(net, &fwd, i, &g_i, muls); // ∂ℓ/∂W_{i−1}
        grad.b[i - 2] = eq16_bias_gradient(net, &fwd, i, &g_i, muls); // ∂ℓ/∂b_i
        if i > 2 {
            g_i = eq13_recurrence(net, &fwd, i - 1, &g_i, muls); // g_{i−1}
        }
    }
    grad
}
// ANCHOR_END: eq15_gradient

/// One training sample (x, y): x has J_1 entries, y is the scalar target.
pub type Sample = (Vec<f64>, f64);

/// ℓ^{(m)} = (y^{(m)} − ŷ^{(m)})² for one sample (eq (8) after eq (1)).
pub fn sample_loss(net: &Network, x: &[f64], y: f64) -> f64 {
    eq08_loss(y, eq01_forward(net, x).y_hat)
}

/// Σ_{m=1}^{M} ℓ^{(m)}, the loss whose gradient eq (17) follows (C7's sum).
pub fn batch_loss(net: &Network, batch: &[Sample]) -> f64 {
    batch.iter().map(|(x, y)| sample_loss(net, x, *y)).sum()
}

// ANCHOR: eq17_batch_gradient
/// SGD-17: Σ_{m=1}^{M} ∂ℓ^{(m)}/∂θ for every parameter θ, all M terms at the *same* weights
/// (C7: the sum, not the mean). The post's summand carries no sample index, which read
/// literally sums one term M times (a typo).
pub fn eq17_batch_gradient(net: &Network, batch: &[Sample]) -> Gradient {
    let mut sum = Gradient::zeros(net);
    for (x, y) in batch {
        sum = sum.add(&eq15_gradient(net, x, *y, &mut 0));
    }
    sum
}
// ANCHOR_END: eq17_batch_gradient

// ANCHOR: eq17_sgd_update
/// Eq (17), SGD-17: θ ← θ − α·G_θ for every parameter θ (weights, and biases by the same rule,
/// which the post leaves unstated), given G = Σ_m ∂ℓ^{(m)}/∂θ. Returns the updated network.
pub fn eq17_apply(net: &Network, grad_sum: &Gradient, alpha: f64) -> Network {
    let mut next = net.clone();
    for p in net.params() {
        *next.param_mut(p) = net.param(p) - alpha * grad_sum.get(p);
    }
    next
}

/// Eq (17), SGD-17 (corrected): W ← W − α·Σ_{m=1}^{M} ∂ℓ^{(m)}/∂W, for every weight and bias,
/// with every per-sample gradient taken at the pre-update weights.
pub fn eq17_sgd_update(net: &Network, batch: &[Sample], alpha: f64) -> Network {
    eq17_apply(net, &eq17_batch_gradient(net, batch), alpha)
}
// ANCHOR_END: eq17_sgd_update

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: a small, portable, seeded generator for the tests.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform on [lo, hi).
        fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
            let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            lo + (hi - lo) * u
        }

        fn vec(&mut self, len: usize) -> Vec<f64> {
            (0..len).map(|_| self.uniform(-1.0, 1.0)).collect()
        }
    }

    /// Non-square shapes, depths n = 2..6, widths ≤ 4 (conventions appendix, Gradient checks).
    const SHAPES: &[&[usize]] = &[
        &[3, 4, 3, 2],
        &[2, 3],
        &[4, 1, 3],
        &[3, 2, 4, 1, 3],
        &[2, 4, 3, 4, 2, 3],
    ];

    fn random_net(rng: &mut Rng, widths: &[usize], acts: &[Activation]) -> Network {
        Network::from_fn(widths, acts, || rng.uniform(-1.0, 1.0))
            .expect("fixed widths and activations fit")
    }

    /// Every part that does not fit its widths is a [`ShapeError`] naming it, never a network
    /// the formulas would silently truncate (each formula iterates over the widths).
    #[test]
    fn new_rejects_parts_that_do_not_fit() {
        let tanh = [Activation::Tanh; 2];
        let net = Network::from_fn(&[3, 4, 2], &tanh, || 0.25).expect("fits");
        let parts = || {
            (
                net.weights().to_vec(),
                net.biases().to_vec(),
                net.w_out().to_vec(),
            )
        };
        let build = |w, b, o| Network::new(net.widths(), &tanh, w, b, o, net.b_out());
        let (w, b, o) = parts();
        assert_eq!(build(w, b, o), Ok(net.clone()));
        let what = |r: Result<Network, ShapeError>| r.expect_err("does not fit").to_string();

        let (mut w, b, o) = parts();
        w[1].pop(); // W_2 with J_2 − 1 rows
        assert_eq!(
            what(build(w, b, o)),
            "literal network: rows of W_2 (J_2): expected 4, found 3"
        );
        let (mut w, b, o) = parts();
        w[0][2].push(0.0); // a row of W_1 one entry too long
        assert_eq!(
            what(build(w, b, o)),
            "literal network: entries of a row of W_1 (J_2): expected 4, found 5"
        );
        let (mut w, b, o) = parts();
        w.pop();
        assert_eq!(
            what(build(w, b, o)),
            "literal network: weight matrices (n − 1): expected 2, found 1"
        );
        let (w, mut b, o) = parts();
        b[1].push(0.0);
        assert_eq!(
            what(build(w, b, o)),
            "literal network: entries of b_3 (J_3): expected 2, found 3"
        );
        let (w, b, mut o) = parts();
        o.pop();
        assert_eq!(
            what(build(w, b, o)),
            "literal network: output weights W_3 (J_3): expected 2, found 1"
        );
        assert_eq!(
            what(Network::from_fn(&[3, 0, 2], &tanh, || 0.0)),
            "literal network: width J_2 (at least 1): expected 1, found 0"
        );
        assert_eq!(
            what(Network::from_fn(&[3], &[], || 0.0)),
            "literal network: layers n (an input layer and at least one more): expected 2, found 1"
        );
        assert_eq!(
            what(Network::from_fn(&[3, 4, 2], &tanh[..1], || 0.0)),
            "literal network: activations f_2..f_n (n − 1): expected 2, found 1"
        );
    }

    fn tanh_net(rng: &mut Rng, widths: &[usize]) -> Network {
        random_net(rng, widths, &vec![Activation::Tanh; widths.len() - 1])
    }

    /// Conventions appendix, Tolerances, exact identities: |a − b| ≤ tol·max(1, |a|, |b|).
    fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
        let scale = 1f64.max(a.abs()).max(b.abs());
        assert!((a - b).abs() <= tol * scale, "{what}: {a} vs {b}");
    }

    /// Conventions appendix, Gradient checks: |g − ĝ| ≤ 1e-6·max(|g|, |ĝ|) + 1e-9.
    fn assert_grad(g: f64, fd: f64, what: &str) {
        let tol = 1e-6 * g.abs().max(fd.abs()) + 1e-9;
        assert!((g - fd).abs() <= tol, "{what}: analytic {g} vs FD {fd}");
    }

    /// Central difference of `f` at θ with h = 1e-6·max(1, |θ|), dividing by the step
    /// actually taken.
    fn central_difference(theta: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
        let h = 1e-6 * 1f64.max(theta.abs());
        let (up, down) = (theta + h, theta - h);
        (f(up) - f(down)) / (up - down)
    }

    /// g_i for i = 1..n from (12) and (13): `g[i − 1]` = g_i.
    fn all_g(net: &Network, fwd: &Forward, y: f64) -> Vec<Vec<f64>> {
        let n = net.n();
        let l_prime = eq10_loss_derivative(eq09_loss_input(y, fwd.y_hat), &mut 0);
        let mut g = vec![Vec::new(); n];
        g[n - 1] = eq12_last_layer(net, l_prime, &mut 0);
        for i in (1..n).rev() {
            g[i - 1] = eq13_recurrence(net, fwd, i, &g[i], &mut 0);
        }
        g
    }

    /// BP-04 / BP-03 / BP-07: for every (j_n, i, j, k), the path sum (4), the recursive chain
    /// rule (3) and the recurrence (7) agree to 1e-12 relative.
    #[test]
    fn eq04_path_sum_equals_recurrence() {
        let mut rng = Rng(4);
        for widths in SHAPES {
            for _ in 0..3 {
                let net = tanh_net(&mut rng, widths);
                let fwd = eq01_forward(&net, &rng.vec(widths[0]));
                let n = net.n();
                for j_n in 1..=net.width(n) {
                    let d = eq07_all_layers(&net, &fwd, j_n, &mut 0);
                    for i in 1..n {
                        for j in 1..=net.width(i) {
                            for k in 1..=net.width(i + 1) {
                                let path = eq04_path_sum(&net, &fwd, j_n, i, j, k, &mut 0);
                                let rec = eq07_weight_derivative(&net, &fwd, &d, i, j, k, &mut 0);
                                let chain = eq03_chain_rule(&net, &fwd, n, j_n, i, j, k);
                                let what = format!("{widths:?} j_n={j_n} W_{{{i},{j},{k}}}");
                                assert_close(path, rec, 1e-12, &what);
                                assert_close(chain, rec, 1e-12, &what);
                            }
                        }
                    }
                }
            }
        }
    }

    /// BP-05 / BP-06 / BP-07: the path sums for ∂O_{n,j_n}/∂O_{i,j} equal the recurrence.
    #[test]
    fn eq05_eq06_path_sums_equal_eq07() {
        let mut rng = Rng(6);
        for widths in SHAPES {
            let net = tanh_net(&mut rng, widths);
            let fwd = eq01_forward(&net, &rng.vec(widths[0]));
            let n = net.n();
            for j_n in 1..=net.width(n) {
                let d = eq07_all_layers(&net, &fwd, j_n, &mut 0);
                // d[i] is layer i+1, the layer eq (5) differentiates by.
                for (i, d_layer) in d.iter().enumerate() {
                    for j in 1..=net.width(i + 1) {
                        let p5 = eq05_path_sum(&net, &fwd, j_n, i, j, &mut 0);
                        assert_close(p5, d_layer[j - 1], 1e-12, "eq (5)");
                    }
                }
                for i in 1..n {
                    for j in 1..=net.width(i) {
                        let p6 = eq06_path_sum(&net, &fwd, j_n, i, j, &mut 0);
                        assert_close(p6, d[i - 1][j - 1], 1e-12, "eq (6)");
                    }
                }
            }
        }
    }

    /// (4) feeding the loss, Σ_{j_n} g_{n,j_n}·∂O_{n,j_n}/∂W_{i,j,k}, equals (13)+(14).
    #[test]
    fn eq04_loss_gradient_equals_eq13_eq14() {
        let mut rng = Rng(13);
        for widths in SHAPES {
            let net = tanh_net(&mut rng, widths);
            let (x, y) = (rng.vec(widths[0]), rng.uniform(-1.0, 1.0));
            let fwd = eq01_forward(&net, &x);
            let grad = eq15_gradient(&net, &x, y, &mut 0);
            let g_n = &all_g(&net, &fwd, y)[net.n() - 1];
            for p in net.params() {
                if let Param::W { i, j, k } = p {
                    let mut via_paths = 0.0;
                    for j_n in 1..=net.width(net.n()) {
                        via_paths += g_n[j_n - 1] * eq04_path_sum(&net, &fwd, j_n, i, j, k, &mut 0);
                    }
                    assert_close(via_paths, grad.get(p), 1e-12, &format!("{p:?}"));
                }
            }
        }
    }

    /// BP-15 / OUT-11 / BP-14 / BIAS-16: every parameter's gradient, W_{n−1}, b_n, W_n and
    /// b_out included, against central differences of ℓ; smooth activations, mixed per layer.
    #[test]
    fn every_parameter_gradient_matches_finite_differences() {
        let mut rng = Rng(15);
        let smooth = [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Softsign,
            Activation::Identity,
        ];
        for widths in SHAPES {
            for round in 0..3 {
                let acts: Vec<_> = (0..widths.len() - 1)
                    .map(|l| {
                        if round == 0 {
                            Activation::Tanh
                        } else {
                            smooth[(l + round) % 4]
                        }
                    })
                    .collect();
                let net = random_net(&mut rng, widths, &acts);
                let (x, y) = (rng.vec(widths[0]), rng.uniform(-1.0, 1.0));
                let grad = eq15_gradient(&net, &x, y, &mut 0);
                assert_eq!(
                    grad.num_entries(),
                    net.params().len(),
                    "one gradient entry per parameter"
                );
                for p in net.params() {
                    let fd = central_difference(net.param(p), |t| {
                        let mut moved = net.clone();
                        *moved.param_mut(p) = t;
                        sample_loss(&moved, &x, y)
                    });
                    assert_grad(grad.get(p), fd, &format!("{widths:?} {acts:?} {p:?}"));
                }
            }
        }
    }

    /// BP-04 three-way: the path sum against central differences of O_{n,j_n} in W_{i,j,k}.
    #[test]
    fn eq04_path_sum_matches_finite_differences() {
        let mut rng = Rng(44);
        for widths in SHAPES {
            let net = tanh_net(&mut rng, widths);
            let x = rng.vec(widths[0]);
            let fwd = eq01_forward(&net, &x);
            let n = net.n();
            for p in net.params() {
                let Param::W { i, j, k } = p else { continue };
                for j_n in 1..=net.width(n) {
                    let fd = central_difference(net.param(p), |t| {
                        let mut moved = net.clone();
                        *moved.param_mut(p) = t;
                        eq01_forward(&moved, &x).o(n, j_n)
                    });
                    let path = eq04_path_sum(&net, &fwd, j_n, i, j, k, &mut 0);
                    assert_grad(path, fd, &format!("{widths:?} j_n={j_n} {p:?}"));
                }
            }
        }
    }

    /// BP-06 / BP-07 / OUT-12 / BP-13 with O_i as a free input (C4): ∂O_{n,k}/∂O_{i,j} and
    /// g_{i,j} against central differences.
    #[test]
    fn free_input_derivatives_match_finite_differences() {
        let mut rng = Rng(7);
        for widths in SHAPES {
            let net = tanh_net(&mut rng, widths);
            let (x, y) = (rng.vec(widths[0]), rng.uniform(-1.0, 1.0));
            let fwd = eq01_forward(&net, &x);
            let n = net.n();
            let g = all_g(&net, &fwd, y);
            for i in 1..=n {
                for j in 1..=net.width(i) {
                    let run = |t: f64| {
                        let mut o_i = fwd.outs[i - 1].clone();
                        o_i[j - 1] = t;
                        eq01_forward_from(&net, i, &o_i)
                    };
                    let fd_loss = central_difference(fwd.o(i, j), |t| {
                        eq08_loss(y, c3_output_unit(&net, &run(t)))
                    });
                    assert_grad(g[i - 1][j - 1], fd_loss, &format!("g_{{{i},{j}}}"));
                    for k in 1..=net.width(n) {
                        let fd = central_difference(fwd.o(i, j), |t| run(t)[k - 1]);
                        let d = eq07_all_layers(&net, &fwd, k, &mut 0);
                        assert_grad(d[i - 1][j - 1], fd, &format!("eq (7) k={k} O_{{{i},{j}}}"));
                        if i < n {
                            let p6 = eq06_path_sum(&net, &fwd, k, i, j, &mut 0);
                            assert_grad(p6, fd, &format!("eq (6) k={k} O_{{{i},{j}}}"));
                        }
                    }
                }
            }
        }
    }

    /// Conventions appendix, kink margins: ReLU and leaky ReLU, rejecting draws with min |IN| < 1e-3 so no difference
    /// straddles the kink.
    #[test]
    fn relu_gradients_match_finite_differences_away_from_kinks() {
        let mut rng = Rng(16);
        for act in [Activation::Relu, Activation::LeakyRelu(0.01)] {
            let widths = [3, 4, 3, 2];
            let (net, x) = loop {
                let net = random_net(&mut rng, &widths, &[act; 3]);
                let x = rng.vec(3);
                let fwd = eq01_forward(&net, &x);
                if fwd.ins.iter().flatten().all(|v| v.abs() >= 1e-3) {
                    break (net, x);
                }
            };
            let y = rng.uniform(-1.0, 1.0);
            let grad = eq15_gradient(&net, &x, y, &mut 0);
            for p in net.params() {
                let fd = central_difference(net.param(p), |t| {
                    let mut moved = net.clone();
                    *moved.param_mut(p) = t;
                    sample_loss(&moved, &x, y)
                });
                assert_grad(grad.get(p), fd, &format!("{act:?} {p:?}"));
            }
        }
    }

    fn random_batch(rng: &mut Rng, j_1: usize, m: usize) -> Vec<Sample> {
        (0..m)
            .map(|_| (rng.vec(j_1), rng.uniform(-1.0, 1.0)))
            .collect()
    }

    fn assert_grads_close(a: &Gradient, b: &Gradient, net: &Network, tol: f64) {
        for p in net.params() {
            assert_close(a.get(p), b.get(p), tol, &format!("{p:?}"));
        }
    }

    /// SGD-17: the batch gradient is Σ of the per-sample gradients at the same weights; the
    /// order of the samples does not matter; A∪B gives Δ_A + Δ_B; the update is θ − α·Σ.
    #[test]
    fn eq17_sums_per_sample_gradients_in_any_order() {
        let mut rng = Rng(17);
        for widths in SHAPES {
            let net = tanh_net(&mut rng, widths);
            let batch = random_batch(&mut rng, widths[0], 7);
            let sum = eq17_batch_gradient(&net, &batch);
            let mut by_hand = Gradient::zeros(&net);
            for (x, y) in &batch {
                by_hand = by_hand.add(&eq15_gradient(&net, x, *y, &mut 0));
            }
            assert_eq!(sum, by_hand);
            let mut reversed = batch.clone();
            reversed.reverse();
            reversed.swap(0, 3);
            // Summation order changes only the last bits.
            assert_grads_close(&eq17_batch_gradient(&net, &reversed), &sum, &net, 1e-12);
            let (a, b) = batch.split_at(3);
            let split = eq17_batch_gradient(&net, a).add(&eq17_batch_gradient(&net, b));
            assert_grads_close(&split, &sum, &net, 1e-12);
            let alpha = 0.05;
            let stepped = eq17_sgd_update(&net, &batch, alpha);
            let mean_form = eq17_apply(&net, &sum.scale(1.0 / 7.0), 7.0 * alpha);
            for p in net.params() {
                assert_eq!(stepped.param(p), net.param(p) - alpha * sum.get(p), "{p:?}");
                assert_close(
                    mean_form.param(p),
                    stepped.param(p),
                    1e-12,
                    "sum vs mean form",
                );
                if sum.get(p) != 0.0 {
                    assert_ne!(stepped.param(p), net.param(p), "BP-15: {p:?} never updated");
                }
            }
        }
    }

    /// LOSS-10 / SGD-17: the gradient points uphill, so one small step lowers the batch loss.
    #[test]
    fn one_small_sgd_step_decreases_the_loss() {
        let mut rng = Rng(10);
        for widths in SHAPES {
            for _ in 0..5 {
                let net = tanh_net(&mut rng, widths);
                let batch = random_batch(&mut rng, widths[0], 4);
                let before = batch_loss(&net, &batch);
                let after = batch_loss(&eq17_sgd_update(&net, &batch, 1e-3), &batch);
                assert!(after < before, "{widths:?}: {before} -> {after}");
            }
        }
        // LOSS-08 at y = 0.7, ŷ = 0.2, and the sign of LOSS-10 (ŷ > y gives ℓ' > 0).
        assert_close(eq08_loss(0.7, 0.2), 0.25, 1e-15, "LOSS-08");
        assert!(eq10_loss_derivative(eq09_loss_input(0.7, 0.9), &mut 0) > 0.0);
    }

    /// BIAS-16: the bias is the weight of a constant-1 unit, in the forward pass and in (14).
    #[test]
    fn bias16_bias_is_weight_on_constant_unit() {
        let mut rng = Rng(160);
        for widths in SHAPES {
            let net = tanh_net(&mut rng, widths);
            let (x, y) = (rng.vec(widths[0]), rng.uniform(-1.0, 1.0));
            let fwd = eq01_forward(&net, &x);
            let g = all_g(&net, &fwd, y);
            for i in 2..=net.n() {
                let (w_tilde, o_tilde) = bias16_augment(&net, &fwd, i);
                assert_eq!(bias16_in(&w_tilde, &o_tilde), fwd.ins[i - 1]);
                let aug = bias16_gradient(&net, &fwd, i, &g[i - 1], &o_tilde);
                let (rows, last) = aug.split_at(net.width(i - 1));
                assert_eq!(rows, eq14_weight_gradient(&net, &fwd, i, &g[i - 1], &mut 0));
                assert_eq!(
                    last[0],
                    eq16_bias_gradient(&net, &fwd, i, &g[i - 1], &mut 0)
                );
            }
        }
    }

    /// EXT-BP-COST: the counters match the closed forms; the path sum is exponential in depth
    /// while the recurrence is linear in the number of weights.
    #[test]
    fn multiplication_counts_match_closed_forms() {
        let mut rng = Rng(99);
        for widths in [&[3usize, 4, 3, 2][..], &[2, 4, 3, 4, 2, 3], &[4; 7]] {
            let net = tanh_net(&mut rng, widths);
            let x = rng.vec(widths[0]);
            let fwd = eq01_forward(&net, &x);
            let n = net.n();
            let jw = |i: usize| widths[i - 1] as u64;
            let (mut path_muls, mut rec_muls) = (0, 0);
            let (mut path_closed, mut rec_closed) = (0, 0);
            for j_n in 1..=net.width(n) {
                let d = eq07_all_layers(&net, &fwd, j_n, &mut rec_muls);
                for i in 1..n {
                    rec_closed += 4 * jw(i) * jw(i + 1); // (7) step + 2 per weight
                    let paths: u64 = (i + 2..n).map(jw).product();
                    path_closed += if i == n - 1 {
                        jw(i) // BP-03's base case: one multiplication where k = j_n
                    } else {
                        jw(i) * jw(i + 1) * paths * (2 * (n - i) as u64 - 1)
                    };
                    for j in 1..=net.width(i) {
                        for k in 1..=net.width(i + 1) {
                            eq04_path_sum(&net, &fwd, j_n, i, j, k, &mut path_muls);
                            eq07_weight_derivative(&net, &fwd, &d, i, j, k, &mut rec_muls);
                        }
                    }
                }
            }
            assert_eq!(path_muls, path_closed, "{widths:?}: eq (4)");
            assert_eq!(rec_muls, rec_closed, "{widths:?}: eq (7)");
            let mut bp_muls = 0;
            eq15_gradient(&net, &x, 0.3, &mut bp_muls);
            let bp_closed = 1
                + 2 * jw(n)
                + (2..=n).map(|i| 2 * jw(i - 1) * jw(i) + jw(i)).sum::<u64>()
                + (2..n).map(|i| 2 * jw(i) * jw(i + 1)).sum::<u64>();
            assert_eq!(bp_muls, bp_closed, "{widths:?}: eq (15)");
            if n >= 6 {
                assert!(path_muls > 10 * rec_muls, "{path_muls} vs {rec_muls}");
            }
        }
    }
}
