//! Eqs (3)–(7) of the post: the derivatives of the outputs, by the chain rule, by the sum
//! over paths and by the recurrence (BP-03 … BP-07). The forward pass, eqs (1)–(2), is in
//! `forward`.
//!
//! The code under test is the literal specification in `derivations::backprop`. Planted bugs
//! are alternative code paths written here, each a realistic slip in transcribing the
//! equation.

use rand::Rng;

use super::fixtures::{networks, random_network, sample, vector_fd};
use crate::claims::gradcheck::{self, band_ratio};
use crate::claims::{
    Claim, Findings, Label, MaxError, Planted, PostVerdict, Tally, identity_error,
};
use derivations::backprop::{self as spec, Activation, Forward, Network, Param};

const ROOM: &str = "backprop";

pub(super) fn claims() -> Vec<Claim> {
    vec![bp_03(), bp_04(), bp_05(), bp_06(), bp_07()]
}

// ---------------------------------------------------------------- BP-03

#[derive(Clone, Copy)]
enum ChainBug {
    AppliedAtLastLayer,
}

/// Every weight derivative ∂O_{n,j_n}/∂W_{i,j,k} of `net` by `derivative`, against central
/// differences of the forward pass; `last` selects i = n−1 (the base case) or i ≤ n−2.
fn weight_derivatives_fd(
    e: &mut MaxError,
    net: &Network,
    x: &[f64],
    last: bool,
    derivative: impl Fn(&Forward, usize, usize, usize, usize) -> f64,
) {
    let n = net.n();
    let fwd = spec::eq01_forward(net, x);
    let layers: Vec<usize> = if last {
        vec![n - 1]
    } else {
        (1..n.saturating_sub(1)).collect()
    };
    for i in layers {
        for j in 1..=net.width(i) {
            for k in 1..=net.width(i + 1) {
                let theta = net.w(i, j, k);
                let h = gradcheck::step(theta);
                let at = |v: f64| {
                    let mut moved = net.clone();
                    *moved.param_mut(Param::W { i, j, k }) = v;
                    spec::eq01_forward(&moved, x).outs[n - 1].clone()
                };
                let (up, down) = (at(theta + h), at(theta - h));
                for j_n in 1..=net.width(n) {
                    let fd = (up[j_n - 1] - down[j_n - 1]) / (2.0 * h);
                    e.record(band_ratio(derivative(&fwd, j_n, i, j, k), fd), theta);
                }
            }
        }
    }
}

// ANCHOR: bp_03
fn bp_03() -> Claim {
    Claim::checked(
        "BP-03",
        ROOM,
        "eq (3)",
        "for i ≤ n−2, ∂O_{n,j_n}/∂W_{i,j,k} = f'(IN_{n,j_n})·Σ_{j_{n−1}} W_{n−1,j_{n−1},j_n}·∂O_{n−1,j_{n−1}}/∂W_{i,j,k} \
         (the post prints b_{n,x} for b_{n,j_n}); for i = n−1 the base case [j_n = k]·f'(IN_{n,k})·O_{n−1,j}",
        PostVerdict::Typo,
        &[(
            ChainBug::AppliedAtLastLayer,
            Planted::post("(3) applied at i = n−1, the unstated range: 0 for the last weights")
                .typeset(r"(3) applied at $i = n-1$, the unstated range: $0$ for the last weights"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut general, mut base) = (MaxError::default(), MaxError::default());
            for net in networks(&mut rng, ctx.size(60, 1_500), 4)
                .iter()
                .filter(|n| n.n() >= 2)
            {
                let (x, _) = sample(&mut rng, net);
                let n = net.n();
                let chain = |fwd: &Forward, j_n: usize, i: usize, j: usize, k: usize| match bug {
                    // The general step at i = n−1: ∂O_{n−1}/∂W_{n−1} = 0, so the sum vanishes.
                    Some(ChainBug::AppliedAtLastLayer) if i == n - 1 => 0.0,
                    _ => spec::eq03_chain_rule(net, fwd, n, j_n, i, j, k),
                };
                weight_derivatives_fd(&mut general, net, &x, false, chain);
                weight_derivatives_fd(&mut base, net, &x, true, chain);
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("(3) against finite differences, i ≤ n−2")
                    .markdown(r"(3) against finite differences, $i \le n-2$"),
                &general,
                1.0,
                gradcheck::WHY,
            );
            f.max_error(
                Label::from("base case i = n−1 against finite differences")
                    .markdown("base case $i = n-1$ against finite differences"),
                &base,
                1.0,
                gradcheck::WHY,
            );
            f
        },
    )
    .typeset(r"for $i \le n-2$, $\partial O_{n,j_n}/\partial W_{i,j,k} = f'(IN_{n,j_n}) \sum_{j_{n-1}} W_{n-1,j_{n-1},j_n}\, \partial O_{n-1,j_{n-1}}/\partial W_{i,j,k}$ (the post prints $b_{n,x}$ for $b_{n,j_n}$); for $i = n-1$ the base case $[j_n = k]\, f'(IN_{n,k})\, O_{n-1,j}$")
}
// ANCHOR_END: bp_03

// ---------------------------------------------------------------- BP-04

#[derive(Clone, Copy)]
enum PathBug {
    ProductFromIPlusOne,
    TransposedW,
    MissingOutputSlope,
    StaleIndex,
}

/// Calls `visit` with every path (j_{i+2}, …, j_{n−1}) as `path[x]` = j_x, the innermost
/// index turning fastest: the nested sums of eqs (4)–(6).
fn paths(
    net: &Network,
    lo: usize,
    hi: usize,
    path: &mut [usize],
    visit: &mut impl FnMut(&[usize]),
) {
    if lo > hi {
        visit(path);
        return;
    }
    for j in 1..=net.width(hi) {
        path[hi] = j;
        paths(net, lo, hi - 1, path, visit);
    }
}

/// Eq (4) with a planted slip, for i ≤ n−2 (`None` for the correct code is the spec).
fn path_sum(
    net: &Network,
    fwd: &Forward,
    j_n: usize,
    i: usize,
    j: usize,
    k: usize,
    bug: Option<PathBug>,
) -> f64 {
    let n = net.n();
    let Some(bug) = bug else {
        return spec::eq04_path_sum(net, fwd, j_n, i, j, k, &mut 0);
    };
    let fp = |l: usize, u: usize| spec::f_prime(net, fwd, l, u);
    let mut path = vec![0; n + 1];
    path[n] = j_n;
    let mut sum = 0.0;
    paths(net, i + 2, n - 1, &mut path, &mut |p| {
        let mut term = if matches!(bug, PathBug::MissingOutputSlope) {
            1.0
        } else {
            fp(n, p[n])
        };
        for x in i + 2..=n - 1 {
            // The stale index: the last factor's column read from the innermost sum's
            // index j_{i+2} (wrapped into layer n) instead of j_n.
            let col = if matches!(bug, PathBug::StaleIndex) && x == n - 1 {
                (p[i + 2] - 1) % net.width(n) + 1
            } else {
                p[x + 1]
            };
            term *= net.w(x, p[x], col) * fp(x, p[x]);
        }
        if matches!(bug, PathBug::ProductFromIPlusOne) {
            term *= fp(i + 1, k); // the product started at x = i+1: f'(IN_{i+1,k}) twice
        }
        let w = if matches!(bug, PathBug::TransposedW) {
            // W_{i+1,j_{i+2},k}: only defined when both indices fit the other way round.
            if p[i + 2] > net.width(i + 1) || k > net.width(i + 2) {
                return sum += f64::NAN;
            }
            net.w(i + 1, p[i + 2], k)
        } else {
            net.w(i + 1, k, p[i + 2])
        };
        sum += term * w * fp(i + 1, k) * fwd.o(i, j);
    });
    sum
}

// ANCHOR: bp_04
fn bp_04() -> Claim {
    Claim::checked(
        "BP-04",
        ROOM,
        "eq (4)",
        "∂O_{n,j_n}/∂W_{i,j,k} = Σ_{paths} f'(IN_{n,j_n})·Π_{x=i+2}^{n−1}[W_{x,j_x,j_{x+1}}·f'(IN_{x,j_x})]·W_{i+1,k,j_{i+2}}·f'(IN_{i+1,k})·O_{i,j} \
         (the post prints W_{n−1,j_{n−1},x}); path sum = recurrence (7) = finite differences",
        PostVerdict::Typo,
        &[
            (
                PathBug::ProductFromIPlusOne,
                Planted::bug("product from x = i+1: f'(IN_{i+1}) counted twice"),
            ),
            (
                PathBug::TransposedW,
                Planted::bug("W_{i+1,j_{i+2},k} (transposed)"),
            ),
            (
                PathBug::MissingOutputSlope,
                Planted::bug("f'(IN_{n,j_n}) missing"),
            ),
            (
                PathBug::StaleIndex,
                Planted::post("the printed W_{n−1,j_{n−1},x}, x a stale loop index")
                    .typeset(r"the printed $W_{n-1,j_{n-1},x}$, $x$ a stale loop index"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut vs_rec, mut vs_fd) = (MaxError::default(), MaxError::default());
            for net in networks(&mut rng, ctx.size(60, 1_500), 4) {
                let n = net.n();
                if n < 3 {
                    continue; // (4) needs i ≤ n−2
                }
                let (x, _) = sample(&mut rng, &net);
                let fwd = spec::eq01_forward(&net, &x);
                for j_n in 1..=net.width(n) {
                    let d = spec::eq07_all_layers(&net, &fwd, j_n, &mut 0);
                    for i in 1..=n - 2 {
                        for j in 1..=net.width(i) {
                            for k in 1..=net.width(i + 1) {
                                let p = path_sum(&net, &fwd, j_n, i, j, k, bug);
                                let r =
                                    spec::eq07_weight_derivative(&net, &fwd, &d, i, j, k, &mut 0);
                                vs_rec.record(identity_error(p, r), 0.0);
                            }
                        }
                    }
                }
                weight_derivatives_fd(&mut vs_fd, &net, &x, false, |fwd, j_n, i, j, k| {
                    path_sum(&net, fwd, j_n, i, j, k, bug)
                });
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("path sum (4) = recurrence (7) then (14)'s first step, every (j_n, i ≤ n−2, j, k)").markdown(r"path sum (4) = recurrence (7) then (14)'s first step, every $(j_n, i \le n-2, j, k)$"),
                &vs_rec,
                1e-12,
                "the same products summed in another order: ≤ 4^4 paths of ≤ 11 factors, a few ε each");
            f.max_error(
                "path sum (4) against finite differences",
                &vs_fd,
                1.0,
                gradcheck::WHY,
            );
            f
        },
    )
    .typeset(r"$\partial O_{n,j_n}/\partial W_{i,j,k} = \sum_{\text{paths}} f'(IN_{n,j_n}) \prod_{x=i+2}^{n-1}[W_{x,j_x,j_{x+1}}\, f'(IN_{x,j_x})]\, W_{i+1,k,j_{i+2}}\, f'(IN_{i+1,k})\, O_{i,j}$ (the post prints $W_{n-1,j_{n-1},x}$); path sum = recurrence (7) = finite differences")
}
// ANCHOR_END: bp_04

// ---------------------------------------------------------------- BP-05, BP-06, BP-07

/// ∂O_{n,j_n}/∂O_{l,·} by central differences, O_l treated as a free input (C4).
fn node_fd(net: &Network, fwd: &Forward, l: usize, j_n: usize, u: usize) -> f64 {
    let o_l = fwd.outs[l - 1].clone();
    vector_fd(|v| spec::eq01_forward_from(net, l, v)[j_n - 1], &o_l, u - 1)
}

#[derive(Clone, Copy)]
enum NodeBug {
    SlopeAtSource,
}

// ANCHOR: bp_05
fn bp_05() -> Claim {
    Claim::checked(
        "BP-05",
        ROOM,
        "eq (5)",
        "∂O_{n,j_n}/∂O_{i+1,j_{i+1}} = Σ_{paths} f'(IN_{n,j_n})·Π_{x=i+2}^{n−1}[W_{x,j_x,j_{x+1}}·f'(IN_{x,j_x})]·W_{i+1,j_{i+1},j_{i+2}}·1",
        PostVerdict::Correct,
        &[(
            NodeBug::SlopeAtSource,
            Planted::bug("an extra f'(IN_{i+1,j_{i+1}}): the derivative by IN, not O"),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut e = MaxError::default();
            for net in networks(&mut rng, ctx.size(60, 1_500), 4) {
                let n = net.n();
                let (x, _) = sample(&mut rng, &net);
                let fwd = spec::eq01_forward(&net, &x);
                for i in 0..=n.saturating_sub(2) {
                    for u in 1..=net.width(i + 1) {
                        for j_n in 1..=net.width(n) {
                            let mut p = spec::eq05_path_sum(&net, &fwd, j_n, i, u, &mut 0);
                            if bug.is_some() && i >= 1 {
                                p *= spec::f_prime(&net, &fwd, i + 1, u);
                            }
                            e.record(band_ratio(p, node_fd(&net, &fwd, i + 1, j_n, u)), 0.0);
                        }
                    }
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("path sum (5) against finite differences in O_{i+1}")
                    .markdown("path sum (5) against finite differences in $O_{i+1}$"),
                &e,
                1.0,
                gradcheck::WHY,
            );
            f
        },
    )
    .typeset(r"$\partial O_{n,j_n}/\partial O_{i+1,j_{i+1}} = \sum_{\text{paths}} f'(IN_{n,j_n}) \prod_{x=i+2}^{n-1}[W_{x,j_x,j_{x+1}}\, f'(IN_{x,j_x})]\, W_{i+1,j_{i+1},j_{i+2}} \cdot 1$")
}
// ANCHOR_END: bp_05

#[derive(Clone, Copy)]
enum Eq6Bug {
    StaleColumn,
}

/// Eq (6) as printed: W_{i+1,j_{i+1},j_{x+2}} read with the index the product loop left at
/// j_n, for i ≤ n−2 (for i = n−1 there is no such factor and the spec is used).
fn eq06_stale(net: &Network, fwd: &Forward, j_n: usize, i: usize, j_i: usize) -> f64 {
    let n = net.n();
    if i == n - 1 {
        return spec::eq06_path_sum(net, fwd, j_n, i, j_i, &mut 0);
    }
    let fp = |l: usize, u: usize| spec::f_prime(net, fwd, l, u);
    let mut sum = 0.0;
    for j_next in 1..=net.width(i + 1) {
        let mut path = vec![0; n + 1];
        path[n] = j_n;
        paths(net, i + 2, n - 1, &mut path, &mut |p| {
            let mut term = fp(n, p[n]);
            for x in i + 2..=n - 1 {
                term *= net.w(x, p[x], p[x + 1]) * fp(x, p[x]);
            }
            let col = (j_n - 1) % net.width(i + 2) + 1; // stale: the loop's last j_{x+1} = j_n
            sum += term * net.w(i + 1, j_next, col) * fp(i + 1, j_next) * net.w(i, j_i, j_next);
        });
    }
    sum
}

// ANCHOR: bp_06
fn bp_06() -> Claim {
    Claim::checked(
        "BP-06",
        ROOM,
        "eq (6)",
        "∂O_{n,j_n}/∂O_{i,j_i} = Σ_{j_{i+1}} Σ_{paths} f'(IN_{n,j_n})·Π[W·f']·W_{i+1,j_{i+1},j_{i+2}}·f'(IN_{i+1,j_{i+1}})·W_{i,j_i,j_{i+1}} \
         (the post prints f'(IN_{n,k}) and W_{i+1,j_{i+1},j_{x+2}})",
        PostVerdict::Typo,
        &[(
            Eq6Bug::StaleColumn,
            Planted::post("the printed W_{i+1,j_{i+1},j_{x+2}}: an index left by the product loop")
                .typeset(
                    r"the printed $W_{i+1,j_{i+1},j_{x+2}}$: an index left by the product loop",
                ),
        )],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut e = MaxError::default();
            for net in networks(&mut rng, ctx.size(60, 1_500), 4) {
                let n = net.n();
                let (x, _) = sample(&mut rng, &net);
                let fwd = spec::eq01_forward(&net, &x);
                for i in 1..n {
                    for u in 1..=net.width(i) {
                        for j_n in 1..=net.width(n) {
                            let p = match bug {
                                None => spec::eq06_path_sum(&net, &fwd, j_n, i, u, &mut 0),
                                Some(Eq6Bug::StaleColumn) => eq06_stale(&net, &fwd, j_n, i, u),
                            };
                            e.record(band_ratio(p, node_fd(&net, &fwd, i, j_n, u)), 0.0);
                        }
                    }
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("path sum (6) against finite differences in O_i")
                    .markdown("path sum (6) against finite differences in $O_i$"),
                &e,
                1.0,
                gradcheck::WHY,
            );
            f
        },
    )
    .typeset(r"$\partial O_{n,j_n}/\partial O_{i,j_i} = \sum_{j_{i+1}} \sum_{\text{paths}} f'(IN_{n,j_n}) \prod [W f']\, W_{i+1,j_{i+1},j_{i+2}}\, f'(IN_{i+1,j_{i+1}})\, W_{i,j_i,j_{i+1}}$ (the post prints $f'(IN_{n,k})$ and $W_{i+1,j_{i+1},j_{x+2}}$)")
}
// ANCHOR_END: bp_06

#[derive(Clone, Copy)]
enum RecurrenceBug {
    SlopeOneLayerOff,
    TransposedW,
    SlopeOfOutput,
}

/// Eq (7) with a planted slip; `None` when a transposed W does not fit the shapes.
fn recurrence(
    net: &Network,
    fwd: &Forward,
    i: usize,
    d_next: &[f64],
    bug: Option<RecurrenceBug>,
) -> Option<Vec<f64>> {
    let Some(bug) = bug else {
        return Some(spec::eq07_recurrence(net, fwd, i, d_next, &mut 0));
    };
    if matches!(bug, RecurrenceBug::TransposedW) && net.width(i) != net.width(i + 1) {
        return None;
    }
    let slope = |u: usize| match bug {
        // f'(IN_{i,j_i}): the input layer has no IN, so the bug can only show for i ≥ 2.
        RecurrenceBug::SlopeOneLayerOff if i >= 2 => {
            spec::f_prime(net, fwd, i, u.min(net.width(i)))
        }
        RecurrenceBug::SlopeOneLayerOff => 1.0,
        // tanh'(O) = 1 − tanh²(O) where 1 − O² belongs: f' applied to the output.
        RecurrenceBug::SlopeOfOutput => net.f(i + 1).derivative(fwd.o(i + 1, u)),
        RecurrenceBug::TransposedW => spec::f_prime(net, fwd, i + 1, u),
    };
    Some(
        (1..=net.width(i))
            .map(|j_i| {
                (1..=net.width(i + 1))
                    .map(|u| {
                        let w = if matches!(bug, RecurrenceBug::TransposedW) {
                            net.w(i, u, j_i)
                        } else {
                            net.w(i, j_i, u)
                        };
                        let s = if matches!(bug, RecurrenceBug::SlopeOneLayerOff) {
                            slope(j_i)
                        } else {
                            slope(u)
                        };
                        s * w * d_next[u - 1]
                    })
                    .sum()
            })
            .collect(),
    )
}

// ANCHOR: bp_07
fn bp_07() -> Claim {
    Claim::checked(
        "BP-07",
        ROOM,
        "eq (7) (boxed)",
        "∂O_{n,k}/∂O_{i,j_i} = Σ_{j_{i+1}} f'(IN_{i+1,j_{i+1}})·W_{i,j_i,j_{i+1}}·∂O_{n,k}/∂O_{i+1,j_{i+1}}, base case [j = k]; \
         recurrence = path sum (6) = finite differences",
        PostVerdict::Correct,
        &[
            (
                RecurrenceBug::SlopeOneLayerOff,
                Planted::bug("f'(IN_{i,j_i}) for f'(IN_{i+1,j_{i+1}}) (a layer off)"),
            ),
            (
                RecurrenceBug::TransposedW,
                Planted::bug("W_{i,j_{i+1},j_i} (transposed)"),
            ),
            (
                RecurrenceBug::SlopeOfOutput,
                Planted::bug("f' of the output: 1 − tanh²(O) for 1 − O²"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            // The matrix chain rule J_{n←i} = J_{n←i+1}·J_{i+1←i} is (7) itself written with
            // matrices: evaluating it again would compare (7) with itself. The recurrence is
            // held against two independent computations, the path sum (6) and finite
            // differences of the forward pass.
            let (mut vs_path, mut vs_fd) = (MaxError::default(), MaxError::default());
            let mut shapes = Tally::default();
            for c in 0..ctx.size(60, 1_500) {
                // Half the networks square, so the transposed W fits and only values reject it;
                // tanh throughout so that "f' of the output" differs from the right slope.
                let depth = 2 + c % 5;
                let net = if c % 2 == 0 {
                    Network::from_fn(&vec![3; depth], &vec![Activation::Tanh; depth - 1], || {
                        rng.random_range(-1.0..1.0)
                    })
                    .expect("fixed widths and activations fit")
                } else {
                    random_network(&mut rng, depth, 4, Activation::Tanh)
                };
                let n = net.n();
                let (x, _) = sample(&mut rng, &net);
                let fwd = spec::eq01_forward(&net, &x);
                for k in 1..=net.width(n) {
                    // d[l − 1] = ∂O_{n,k}/∂O_{l,·}, run down from the base case.
                    let mut d = vec![Vec::new(); n];
                    d[n - 1] = (1..=net.width(n))
                        .map(|j| f64::from(u8::from(j == k)))
                        .collect();
                    for i in (1..n).rev() {
                        let next = recurrence(&net, &fwd, i, &d[i], bug);
                        shapes.check(next.is_some(), || {
                            format!("W_{i} does not fit ∂O_n/∂O_{}", i + 1)
                        });
                        d[i - 1] = next.unwrap_or_else(|| vec![f64::NAN; net.width(i)]);
                    }
                    for i in 1..n {
                        for u in 1..=net.width(i) {
                            let r = d[i - 1][u - 1];
                            vs_path.record(
                                identity_error(r, spec::eq06_path_sum(&net, &fwd, k, i, u, &mut 0)),
                                0.0,
                            );
                            vs_fd.record(band_ratio(r, node_fd(&net, &fwd, i, k, u)), 0.0);
                        }
                    }
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("recurrence (7) = path sum (6), full Jacobian ∂O_n/∂O_i").markdown(r"recurrence (7) = path sum (6), full Jacobian $\partial O_n/\partial O_i$"),
                &vs_path,
                1e-12,
                "the same products in another order, ≤ 4^4 paths",
            );
            f.max_error(
                "recurrence (7) against finite differences",
                &vs_fd,
                1.0,
                gradcheck::WHY,
            );
            f.tally("shapes fit", shapes);
            f
        },
    )
    .typeset(r"$\partial O_{n,k}/\partial O_{i,j_i} = \sum_{j_{i+1}} f'(IN_{i+1,j_{i+1}})\, W_{i,j_i,j_{i+1}}\, \partial O_{n,k}/\partial O_{i+1,j_{i+1}}$, base case $[j = k]$; recurrence = path sum (6) = finite differences")
}
// ANCHOR_END: bp_07
