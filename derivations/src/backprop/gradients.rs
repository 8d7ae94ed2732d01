//! Eqs (13)–(16): the general recurrence, the weight and bias gradients, and the whole
//! per-sample gradient of eq (15).

use super::*;

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
