//! The specification's own tests: each equation against finite differences or an
//! independent form.

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
