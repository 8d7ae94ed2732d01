//! Xavier initialisation (§Xavier初始化 of the post, eqs (18)–(23)), transcribed literally in
//! `f64`, with the precise forms the catalogue gives where the post is loose or wrong.
//!
//! Claim IDs: XAV-LIN-18, VAR-PROD, VAR-SHIFT, VAR-SUM, XAV-FWD-REC, XAV-FWD-UNROLL, XAV-20,
//! XAV-BWD-REC, XAV-BWD-VAR, XAV-22, XAV-CONFLICT, XAV-HM, XAV-UNIF-VAR, XAV-23, XAV-RELU,
//! and the extensions EXT-HE, EXT-HE-TELESCOPE, EXT-SIGMOID-INIT, EXT-MEANFIELD-TANH.
//!
//! Conventions (the conventions appendix, book/src/conventions.md): C2, W_i is J_i × J_{i+1}, so **J_i is the fan-in and J_{i+1}
//! the fan-out of W_i**; C5, "Var(O_i)" is the common variance of the units of layer i over
//! the random weights and inputs. Widths are passed as slices with `widths[i − 1]` = J_i, so
//! the formulas read index for index like the post.

use crate::backprop::{self, Activation};

// ANCHOR: eq18_linear
/// Eq (18), XAV-LIN-18: f(IN) ≈ IN, the first-order Taylor expansion at 0 of an activation
/// with f(0) = 0 and f'(0) = 1. Accurate only when Var(IN) ≪ 1 (at Var(IN) = 1,
/// E[tanh(z)²] = 0.394, not 1).
pub fn eq18_linear(in_: f64) -> f64 {
    in_
}
// ANCHOR_END: eq18_linear

// ANCHOR: var_prod
/// VAR-PROD as the post states it: Var(xy) = Var(x)·Var(y), for independent x and y that are
/// **both** zero-mean.
pub fn var_prod_zero_mean(var_x: f64, var_y: f64) -> f64 {
    var_x * var_y
}

/// VAR-PROD in general, for independent x and y:
/// Var(xy) = Var(x)·Var(y) + Var(x)·E\[y\]² + Var(y)·E\[x\]².
pub fn var_prod(mean_x: f64, var_x: f64, mean_y: f64, var_y: f64) -> f64 {
    var_x * var_y + var_x * mean_y * mean_y + var_y * mean_x * mean_x
}
// ANCHOR_END: var_prod

// ANCHOR: var_shift
/// VAR-SHIFT: Var(x + a) = Var(x) for a *constant* a.
pub fn var_shift(var_x: f64) -> f64 {
    var_x
}

/// XAV-ASSUME (b): for a *random* b independent of x, Var(x + b) = Var(x) + Var(b). The post
/// calls b zero-mean random and then drops it with VAR-SHIFT; that needs Var(b) = 0.
pub fn var_shift_random(var_x: f64, var_b: f64) -> f64 {
    var_x + var_b
}
// ANCHOR_END: var_shift

// ANCHOR: var_sum
/// VAR-SUM (implied): Var(Σ_j W_{j,k}·O_j) = Σ_j Var(W_{j,k}·O_j) = Σ_j Var(W_{j,k})·E\[O_j²\]
/// for independent zero-mean weights, independent of the O_j. The terms are uncorrelated,
/// Cov(W_a·O_a, W_b·O_b) = E\[W_a\]·E\[W_b\]·E\[O_a·O_b\] = 0, *however the O_j are correlated*.
/// (VAR-PROD with one zero-mean factor: Var(W·O) = Var(W)·E\[O²\].)
pub fn var_sum(var_w: &[f64], mean_sq_o: &[f64]) -> f64 {
    assert_eq!(var_w.len(), mean_sq_o.len(), "one weight per input");
    var_w.iter().zip(mean_sq_o).map(|(v, m)| v * m).sum()
}
// ANCHOR_END: var_sum

// ANCHOR: fwd_rec
/// XAV-FWD-REC: Var(O_i) = J_{i−1}·Var(W_{i−1})·Var(O_{i−1}), under (18), independence and
/// zero means. `widths[i − 1]` = J_i; valid for 2 ≤ i ≤ n.
pub fn fwd_rec(widths: &[usize], i: usize, var_w_prev: f64, var_o_prev: f64) -> f64 {
    assert!((2..=widths.len()).contains(&i), "layer 1 is the input");
    widths[i - 2] as f64 * var_w_prev * var_o_prev
}
// ANCHOR_END: fwd_rec

// ANCHOR: fwd_unroll
/// XAV-FWD-UNROLL (Glorot and Bengio's eq. (5), re-indexed):
/// Var(O_i) = Var(x)·Π_{l=1}^{i−1} J_l·Var(W_l). `var_w[l − 1]` = Var(W_l).
pub fn fwd_unroll(widths: &[usize], var_w: &[f64], i: usize, var_x: f64) -> f64 {
    assert!(
        i >= 1 && i - 1 <= widths.len().min(var_w.len()),
        "needs J_1..J_{{i−1}}"
    );
    let mut v = var_x;
    for l in 1..i {
        v *= widths[l - 1] as f64 * var_w[l - 1];
    }
    v
}
// ANCHOR_END: fwd_unroll

// ANCHOR: eq20
/// Eq (20), XAV-20: J_i·Var(W_i) = 1, i = 1..n, so Var(W_i) = 1/J_i: the **fan-in** of W_i
/// (it maps layer i to layer i+1). LeCun's rule (EXT-LECUN).
pub fn eq20_forward_variance(widths: &[usize], i: usize) -> f64 {
    1.0 / widths[i - 1] as f64
}
// ANCHOR_END: eq20

// ANCHOR: bwd_rec
/// XAV-BWD-REC: δ_{i,j_i} = f'(IN_{i,j_i})·Σ_{j_{i+1}} W_{i,j_i,j_{i+1}}·δ_{i+1,j_{i+1}}, with
/// δ_{i,j} := ∂ℓ/∂IN_{i,j} (C4). f' is evaluated at layer i (eq (13) uses layer i+1; both
/// are right, since δ_i = f'(IN_i) ⊙ g_i). Valid for 2 ≤ i ≤ n−1; `delta_next[k − 1]` =
/// δ_{i+1,k}.
pub fn bwd_rec(
    net: &backprop::Network,
    fwd: &backprop::Forward,
    i: usize,
    delta_next: &[f64],
) -> Vec<f64> {
    assert!((2..net.n()).contains(&i));
    assert_eq!(delta_next.len(), net.width(i + 1));
    let mut delta = vec![0.0; net.width(i)];
    for j_i in 1..=net.width(i) {
        let mut sum = 0.0;
        for j_next in 1..=net.width(i + 1) {
            sum += net.w(i, j_i, j_next) * delta_next[j_next - 1];
        }
        delta[j_i - 1] = backprop::f_prime(net, fwd, i, j_i) * sum;
    }
    delta
}

/// δ_n = f'(IN_n) ⊙ g_n with g_{n,j} = ℓ'·W_{n,j} (eqs (10) and (12)): where [`bwd_rec`]
/// starts.
pub fn bwd_last(net: &backprop::Network, fwd: &backprop::Forward, y: f64) -> Vec<f64> {
    let n = net.n();
    let l_prime = 2.0 * (fwd.y_hat - y);
    (1..=net.width(n))
        .map(|j| backprop::f_prime(net, fwd, n, j) * l_prime * net.w_n(j))
        .collect()
}
// ANCHOR_END: bwd_rec

// ANCHOR: bwd_var
/// XAV-BWD-VAR **as printed** (wrong): Var(δ_i) = Σ_{j_{i+1}} Var(W_i)·Var(f'(IN_i))·Var(δ_{i+1})
/// = J_{i+1}·Var(W_i)·Var(f'(IN_i))·Var(δ_{i+1}). Under (18) f' ≈ 1 is nearly constant, so
/// Var(f') ≈ 0, and f' is not zero-mean, so VAR-PROD does not apply.
pub fn bwd_var_as_printed(j_next: usize, var_w: f64, var_f_prime: f64, var_delta_next: f64) -> f64 {
    j_next as f64 * var_w * var_f_prime * var_delta_next
}

/// XAV-BWD-VAR, corrected: Var(δ_i) ≈ J_{i+1}·Var(W_i)·E[f'(IN_i)²]·Var(δ_{i+1}), assuming
/// W_i, f'(IN_i) and δ_{i+1} independent (VAR-PROD with one zero-mean factor). The post's
/// merged line drops the factor (f' ≡ 1), which rescues (22).
pub fn bwd_var(j_next: usize, var_w: f64, mean_sq_f_prime: f64, var_delta_next: f64) -> f64 {
    j_next as f64 * var_w * mean_sq_f_prime * var_delta_next
}
// ANCHOR_END: bwd_var

// ANCHOR: eq22
/// Eq (22), XAV-22: J_{i+1}·Var(W_i) = 1, so Var(W_i) = 1/J_{i+1}: the **fan-out** of W_i.
pub fn eq22_backward_variance(widths: &[usize], i: usize) -> f64 {
    1.0 / widths[i] as f64
}
// ANCHOR_END: eq22

// ANCHOR: conflict
/// XAV-CONFLICT: one Var(W_i) meets both (20) and (22) iff J_i = J_{i+1}.
pub fn conditions_agree(widths: &[usize], i: usize) -> bool {
    eq20_forward_variance(widths, i) == eq22_backward_variance(widths, i)
}
// ANCHOR_END: conflict

// ANCHOR: hm
/// XAV-HM: the compromise Var(W_i) = 2/(J_i + J_{i+1}).
pub fn compromise_variance(widths: &[usize], i: usize) -> f64 {
    2.0 / (widths[i - 1] + widths[i]) as f64
}

/// The harmonic mean 2/(1/a + 1/b). Of the two candidate *variances* 1/J_i and 1/J_{i+1} it
/// is 2/(J_i + J_{i+1}) (not of the fans, which gives 2J_iJ_{i+1}/(J_i + J_{i+1})).
pub fn harmonic_mean(a: f64, b: f64) -> f64 {
    2.0 / (1.0 / a + 1.0 / b)
}
// ANCHOR_END: hm

// ANCHOR: unif_var
/// XAV-UNIF-VAR: Var(U[−a, a]) = (2a)²/12 = a²/3.
pub fn uniform_variance(a: f64) -> f64 {
    (2.0 * a) * (2.0 * a) / 12.0
}
// ANCHOR_END: unif_var

// ANCHOR: eq23
/// Eq (23), XAV-23: W_i ~ U[−a, a] with a = √6/√(J_i + J_{i+1}), so that a²/3 is the
/// compromise 2/(J_i + J_{i+1}).
pub fn eq23_bound(widths: &[usize], i: usize) -> f64 {
    6f64.sqrt() / ((widths[i - 1] + widths[i]) as f64).sqrt()
}
// ANCHOR_END: eq23

// ANCHOR: gaussian_expectation
/// E[g(√q·z + b)] for z ~ N(0, 1), by composite Simpson on [−12, 0] and [0, 12] with 6000
/// intervals each (h = 0.002). Splitting at 0 keeps a kink of g at b = 0 (ReLU) on a node.
/// For integrands that are smooth on each half, the error is about h⁴·L·max|∂⁴(g·φ)|/180,
/// below 1e-11 here; the tails beyond ±12 weigh φ(12) ≈ 5e-32.
pub fn gaussian_expectation(g: impl Fn(f64) -> f64, q: f64, b: f64) -> f64 {
    const HALF_WIDTH: f64 = 12.0;
    const INTERVALS: usize = 6000; // even, as Simpson needs
    let h = HALF_WIDTH / INTERVALS as f64;
    let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let integrand = |z: f64| g(q.sqrt() * z + b) * phi(z);
    let half = |sign: f64| {
        let mut s = integrand(0.0) + integrand(sign * HALF_WIDTH);
        for k in 1..INTERVALS {
            let w = if k % 2 == 1 { 4.0 } else { 2.0 };
            s += w * integrand(sign * k as f64 * h);
        }
        s * h / 3.0
    };
    half(-1.0) + half(1.0)
}
// ANCHOR_END: gaussian_expectation

// ANCHOR: q_map
/// XAV-LIN-18 / EXT-MEANFIELD-TANH, the exact infinite-width variance map: with
/// pre-activation variance q_l (zero-mean part) and a constant bias b,
/// q_{l+1} = J·Var(W)·E[f(√q_l·z + b)²]. `gain` = J·Var(W) (1 under Xavier with equal
/// widths). The linear approximation (18) would give q_{l+1} = gain·(q_l + b²).
pub fn q_map(f: Activation, gain: f64, q: f64, b: f64) -> f64 {
    gain * gaussian_expectation(|x| f.f(x) * f.f(x), q, b)
}

/// q_1..q_layers from q_1 with [`q_map`] (zero bias): under Xavier with unit-variance inputs
/// and tanh, 1, 0.394, 0.237, …, 0.052 at l = 10, ≈ 1/(2l) for large l.
pub fn q_sequence(f: Activation, gain: f64, q1: f64, layers: usize) -> Vec<f64> {
    let mut q = vec![q1];
    while q.len() < layers {
        let next = q_map(f, gain, q[q.len() - 1], 0.0);
        q.push(next);
    }
    q
}

/// The backward factor χ(q) = J·Var(W)·E[f'(√q·z)²]: the ratio Var(δ_i)/Var(δ_{i+1}) at
/// pre-activation variance q (XAV-BWD-VAR corrected; EXT-MEANFIELD-TANH's χ → 1 as q → 0).
pub fn chi(f: Activation, gain: f64, q: f64) -> f64 {
    gain * gaussian_expectation(|x| f.derivative(x) * f.derivative(x), q, 0.0)
}
// ANCHOR_END: q_map

// ANCHOR: he
/// XAV-RELU corrected, EXT-HE: for symmetric zero-mean IN, E[ReLU(IN)²] = Var(IN)/2, and for
/// leaky ReLU with slope a, E[f(IN)²] = (1 + a²)·Var(IN)/2. With second moments the forward
/// recursion is E\[IN_{i+1}²\] = J_i·Var(W_i)·E\[O_i²\], so the moment is preserved iff
/// Var(W_i) = 2/((1 + a²)·J_i) (He et al. 2015). Under Xavier's 1/J_i each ReLU layer
/// halves it.
pub fn he_variance(widths: &[usize], i: usize, slope: f64) -> f64 {
    2.0 / ((1.0 + slope * slope) * widths[i - 1] as f64)
}

/// E[f(IN)²] for IN ~ N(0, q) and f = leaky ReLU with slope a (a = 0: ReLU): (1 + a²)·q/2.
pub fn leaky_relu_second_moment(q: f64, slope: f64) -> f64 {
    (1.0 + slope * slope) * q / 2.0
}
// ANCHOR_END: he

// ANCHOR: telescope
/// EXT-HE-TELESCOPE: under the fan-in rule the end-to-end backward gain
/// Π_{i=1}^{n} J_{i+1}·Var(W_i) = Π J_{i+1}/J_i telescopes to J_{n+1}/J_1 (`widths` =
/// J_1..J_{n+1}; `var_w[i − 1]` = Var(W_i)).
pub fn backward_gain(widths: &[usize], var_w: &[f64]) -> f64 {
    (1..widths.len())
        .map(|i| widths[i] as f64 * var_w[i - 1])
        .product()
}
// ANCHOR_END: telescope

// ANCHOR: sigmoid_as_tanh
/// EXT-SIGMOID-INIT: σ(u) = ½ + ½·tanh(u/2), so a sigmoid network equals a tanh network T
/// with first-layer weights W_1/2 and biases b_2/2; internal weights W_i/4 and biases
/// (W_iᵀ·1)/4 + b_{i+1}/2; and O_n = ½ + ½·T_n, so C3's output unit gets weights W_n/2 and
/// bias b_out + ½·Σ_j W_{n,j}. Every activation of `net` must be sigmoid.
pub fn sigmoid_as_tanh(net: &backprop::Network) -> backprop::Network {
    assert!(net.activations.iter().all(|&a| a == Activation::Sigmoid));
    let mut t = net.clone();
    t.activations.fill(Activation::Tanh);
    for i in 1..net.n() {
        // W_i feeds layer i+1; its input is x (i = 1) or ½ + ½·T_i.
        let scale = if i == 1 { 0.5 } else { 0.25 };
        for k in 1..=net.width(i + 1) {
            let mut column_sum = 0.0;
            for j in 1..=net.width(i) {
                t.weights[i - 1][j - 1][k - 1] = scale * net.w(i, j, k);
                column_sum += net.w(i, j, k);
            }
            let shift = if i == 1 { 0.0 } else { 0.25 * column_sum };
            t.biases[i - 1][k - 1] = shift + 0.5 * net.b(i + 1, k);
        }
    }
    let n = net.n();
    for j in 1..=net.width(n) {
        t.w_out[j - 1] = 0.5 * net.w_n(j);
    }
    t.b_out = net.b_out + 0.5 * net.w_out.iter().sum::<f64>();
    t
}
// ANCHOR_END: sigmoid_as_tanh

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadrature_reproduces_known_moments() {
        // E[z²] = 1, E[z⁴] = 3, E[ReLU(z)²] = 1/2: polynomial pieces, so only the Simpson
        // error (below 1e-11) and rounding remain.
        assert!((gaussian_expectation(|x| x * x, 1.0, 0.0) - 1.0).abs() < 1e-11);
        assert!((gaussian_expectation(|x| x.powi(4), 1.0, 0.0) - 3.0).abs() < 1e-10);
        let relu2 = gaussian_expectation(|x| x.max(0.0).powi(2), 1.0, 0.0);
        assert!((relu2 - 0.5).abs() < 1e-11);
        // E[z] with a shift b: b.
        assert!((gaussian_expectation(|x| x, 4.0, 0.5) - 0.5).abs() < 1e-11);
    }

    #[test]
    fn the_conditions() {
        let w = [64, 256, 32];
        assert_eq!(eq20_forward_variance(&w, 1), 1.0 / 64.0);
        assert_eq!(eq22_backward_variance(&w, 1), 1.0 / 256.0);
        assert!(!conditions_agree(&w, 1));
        assert!(conditions_agree(&[5, 5], 1));
        assert!((compromise_variance(&[100, 400], 1) - 0.004).abs() < 1e-18);
        let a = eq23_bound(&[300, 100], 1);
        assert!((uniform_variance(a) - 2.0 / 400.0).abs() < 1e-17);
    }

    #[test]
    fn sigmoid_network_is_a_rescaled_tanh_network() {
        let mut k = 0.0f64;
        let net = backprop::Network::from_fn(&[3, 4, 2], &[Activation::Sigmoid; 2], || {
            k += 1.0;
            (k * 0.37).sin()
        })
        .expect("fixed widths and activations fit");
        let t = sigmoid_as_tanh(&net);
        let x = [0.3, -1.2, 0.8];
        let (a, b) = (
            backprop::eq01_forward(&net, &x),
            backprop::eq01_forward(&t, &x),
        );
        assert!((a.y_hat - b.y_hat).abs() < 1e-14);
    }
}
