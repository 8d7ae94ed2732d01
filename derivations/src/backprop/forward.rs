//! Eqs (1)–(2) and C3: the forward pass, unit by unit, and the output unit.

use super::*;

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
