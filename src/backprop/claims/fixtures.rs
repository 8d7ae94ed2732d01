//! Random networks and finite differences shared by the backprop claims (conventions appendix, Gradient checks:
//! non-square widths, no symmetry, depths 2 to 6, smooth activations).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::claims::gradcheck::{band_ratio_at, step};
use derivations::backprop::{self as spec, Activation, Network, Param};

/// A network with J_1..J_n drawn from `1..=max_width` (n = `depth` layers), activation f on
/// every layer, and every parameter from U(−1, 1). `max_width` ≤ 4 keeps eq (4)'s path
/// enumeration small.
pub(super) fn random_network(
    rng: &mut ChaCha8Rng,
    depth: usize,
    max_width: usize,
    f: Activation,
) -> Network {
    let widths: Vec<usize> = (0..depth)
        .map(|_| rng.random_range(1..=max_width))
        .collect();
    let activations = vec![f; depth - 1];
    Network::from_fn(&widths, &activations, || rng.random_range(-1.0..1.0))
        .expect("fixed widths and activations fit")
}

/// A smooth activation drawn from tanh, sigmoid and softsign (conventions appendix: the generic BP tests).
pub(super) fn smooth(rng: &mut ChaCha8Rng) -> Activation {
    [Activation::Tanh, Activation::Sigmoid, Activation::Softsign][rng.random_range(0..3)]
}

/// Networks of every depth 2..=6 in turn, random widths ≤ `max_width`, random smooth f.
pub(super) fn networks(rng: &mut ChaCha8Rng, count: usize, max_width: usize) -> Vec<Network> {
    (0..count)
        .map(|c| {
            let f = smooth(rng);
            random_network(rng, 2 + c % 5, max_width, f)
        })
        .collect()
}

/// An input x ~ U(−1, 1)^{J_1} and a target y ~ U(−1, 1).
pub(super) fn sample(rng: &mut ChaCha8Rng, net: &Network) -> (Vec<f64>, f64) {
    let x = (0..net.width(1))
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    (x, rng.random_range(-1.0..1.0))
}

/// How far `g` is from the central difference of ℓ = (y − ŷ)² in parameter `p`, as a
/// fraction of the band of [`band_ratio_at`] (scaled by ℓ, which can reach ~50 here).
pub(super) fn loss_band(net: &Network, x: &[f64], y: f64, p: Param, g: f64) -> f64 {
    band_ratio_at(g, loss_fd(net, x, y, p), spec::sample_loss(net, x, y))
}

/// Central difference of ℓ = (y − ŷ)² with respect to parameter `p`.
pub(super) fn loss_fd(net: &Network, x: &[f64], y: f64, p: Param) -> f64 {
    let theta = net.param(p);
    let h = step(theta);
    let at = |v: f64| {
        let mut moved = net.clone();
        *moved.param_mut(p) = v;
        spec::sample_loss(&moved, x, y)
    };
    (at(theta + h) - at(theta - h)) / (2.0 * h)
}

/// Central difference of `g(v)` with respect to entry `j` (0-based) of the vector `v`.
pub(super) fn vector_fd(g: impl Fn(&[f64]) -> f64, v: &[f64], j: usize) -> f64 {
    let h = step(v[j]);
    let mut up = v.to_vec();
    let mut down = v.to_vec();
    up[j] += h;
    down[j] -= h;
    (g(&up) - g(&down)) / (2.0 * h)
}
