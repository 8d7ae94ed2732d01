//! Eqs (3)–(7): the derivatives of the outputs, by the chain rule, by the sum over paths and
//! by the recurrence.

use super::*;

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
