//! EXT-SOFTMAX-CE (catalogue appendix): the softmax cross-entropy output layer the post does not
//! cover, ∂ℓ/∂z = softmax(z) − onehot(y), evaluated stably.

use rand::Rng;

use super::super::training::ROOM;
use crate::claims::gradcheck::{self, band_ratio_at, central_difference};
use crate::claims::{
    Claim, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Tally, identity_error,
};

#[derive(Clone, Copy)]
enum SoftmaxBug {
    NoMaxShift,
    SignFlip,
}

// ANCHOR: softmax_ce
/// softmax(z)_k = e^{z_k − max z} / Σ_j e^{z_j − max z}: shifting by max z changes nothing
/// mathematically and keeps every exponent ≤ 0, so nothing overflows.
fn softmax(z: &[f64], bug: Option<SoftmaxBug>) -> Vec<f64> {
    let shift = match bug {
        Some(SoftmaxBug::NoMaxShift) => 0.0, // planted: e^{1000} = ∞, ∞/∞ = NaN
        _ => z.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };
    let e: Vec<f64> = z.iter().map(|&v| (v - shift).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|&v| v / sum).collect()
}

/// ℓ = −log softmax(z)_y = log Σ_j e^{z_j} − z_y (log-sum-exp with the max shift), and its
/// gradient ∂ℓ/∂z = softmax(z) − onehot(y).
fn softmax_ce(z: &[f64], y: usize, bug: Option<SoftmaxBug>) -> (f64, Vec<f64>) {
    let p = softmax(z, bug);
    let shift = match bug {
        Some(SoftmaxBug::NoMaxShift) => 0.0,
        _ => z.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };
    let lse = shift + z.iter().map(|&v| (v - shift).exp()).sum::<f64>().ln();
    let sign = match bug {
        Some(SoftmaxBug::SignFlip) => -1.0, // planted: onehot − softmax
        _ => 1.0,
    };
    let grad = p
        .iter()
        .enumerate()
        .map(|(k, &pk)| sign * (pk - if k == y { 1.0 } else { 0.0 }))
        .collect();
    (lse - z[y], grad)
}
// ANCHOR_END: softmax_ce

// ANCHOR: ext_softmax_ce
pub(super) fn ext_softmax_ce() -> Claim {
    Claim::checked(
        "EXT-SOFTMAX-CE",
        ROOM,
        "beyond the post",
        "for ℓ = −log softmax(z)_y: ∂ℓ/∂z = softmax(z) − onehot(y); softmax(z + c) = softmax(z); \
         evaluated with the max subtracted, ℓ and its gradient stay finite at |z| = 1000",
        PostVerdict::Extension,
        &[
            (
                SoftmaxBug::NoMaxShift,
                Planted::bug("no max-subtraction (e^z overflows)"),
            ),
            (
                SoftmaxBug::SignFlip,
                Planted::bug("the gradient onehot − softmax (sign)"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut fd, mut shift) = (MaxError::default(), MaxError::default());
            let mut stable = Tally::default();
            for _ in 0..ctx.size(300, 3_000) {
                let k = rng.random_range(2..=10);
                let y = rng.random_range(0..k);
                // 1. Gradient against central differences, logits of order 10.
                let z: Vec<f64> = (0..k).map(|_| rng.random_range(-10.0..10.0)).collect();
                let (loss, grad) = softmax_ce(&z, y, bug);
                // ℓ = lse − z_y is computed as a difference of terms of size ≤ ℓ + 2·max|z|:
                // that, not ℓ, is the scale of the rounding the difference quotient divides.
                let terms = loss.abs() + 2.0 * z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for j in 0..k {
                    let d = central_difference(
                        |t| {
                            let mut moved = z.clone();
                            moved[j] = t;
                            softmax_ce(&moved, y, bug).0
                        },
                        z[j],
                    );
                    fd.record(band_ratio_at(grad[j], d, terms), z[j]);
                }
                // 2. Shift invariance, |c| ≤ 100: rounding z + c moves each logit by at most
                // ε·110 ≈ 2.4e-14, so p moves by ≤ 5e-14 relative; ℓ by a few ε·|c|.
                let c = rng.random_range(-100.0..100.0);
                let moved: Vec<f64> = z.iter().map(|v| v + c).collect();
                let (p0, p1) = (softmax(&z, bug), softmax(&moved, bug));
                let worst = p0
                    .iter()
                    .zip(&p1)
                    .map(|(a, b)| identity_error(*a, *b))
                    .fold(identity_error(loss, softmax_ce(&moved, y, bug).0), f64::max);
                shift.record(worst, c);
                // 3. Stability: logits up to ±1000 with one at 1000.
                let mut big: Vec<f64> = (0..k).map(|_| rng.random_range(-1000.0..1000.0)).collect();
                big[rng.random_range(0..k)] = 1000.0;
                let (l, g) = softmax_ce(&big, y, bug);
                let p = softmax(&big, bug);
                let (sum_p, sum_g) = (p.iter().sum::<f64>(), g.iter().sum::<f64>());
                stable.check(
                    l.is_finite()
                        && l >= 0.0
                        && g.iter().all(|v| v.is_finite())
                        && (sum_p - 1.0).abs() <= 1e-14
                        && sum_g.abs() <= 1e-14,
                    || format!("z = {big:?}: ℓ = {l}, Σp = {sum_p}, Σ∂ℓ/∂z = {sum_g}"),
                );
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("∂ℓ/∂z = softmax − onehot against central differences").markdown(r"$\partial \ell/\partial z = \mathrm{softmax} - \mathrm{onehot}$ against central differences"),
                &fd,
                1.0,
                gradcheck::WHY_SCALED,
            );
            f.max_error(
                Label::from("softmax(z + c) = softmax(z) and ℓ(z + c) = ℓ(z), |c| ≤ 100").markdown(r"$\mathrm{softmax}(z + c) = \mathrm{softmax}(z)$ and $\ell(z + c) = \ell(z)$, $\lvert c \rvert \le 100$"),
                &shift,
                IDENTITY_TOL,
                "rounding z + c perturbs each logit by ≤ 2.4e-14 absolute (|z + c| ≤ 110)",
            );
            // Σp is a sum of ≤ 10 terms in [0, 1] with one rounding each: ≤ 10ε ≈ 2.2e-15.
            f.tally(
                Label::from("finite ℓ ≥ 0 and gradient at |z| ≤ 1000; |Σp − 1|, |Σ∂ℓ/∂z| ≤ 1e-14").markdown(r"finite $\ell \ge 0$ and gradient at $\lvert z \rvert \le 1000$; $\lvert \sum p - 1 \rvert, \lvert \sum \partial \ell/\partial z \rvert \le 10^{-14}$"),
                stable,
            );
            f
        },
    )
    .typeset(r"for $\ell = -\log \mathrm{softmax}(z)_y$: $\partial \ell/\partial z = \mathrm{softmax}(z) - \mathrm{onehot}(y)$; $\mathrm{softmax}(z + c) = \mathrm{softmax}(z)$; evaluated with the max subtracted, $\ell$ and its gradient stay finite at $\lvert z \rvert = 1000$")
}
// ANCHOR_END: ext_softmax_ce
