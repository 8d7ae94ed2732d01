//! EXT-SGD-UNBIASED: a batch of M drawn uniformly without replacement from N samples gives
//! an unbiased gradient, with covariance (N−M)/(M(N−1))·Σ_g.
//!
//! Two parts. The identities are exact, by enumerating all C(8, 3) = 56 batches of real
//! per-sample gradients of a random network. Then our sampler
//! [`sample_batch`](super::super::training::sample_batch) is tested on its output: its
//! inclusion frequencies, the mean and the variance of its batch means, against the exact
//! distribution the enumeration gives.

use rand::Rng;

use super::super::training::{ROOM, random_batch, random_net, sample_batch, standard_normal};
use crate::claims::{Claim, Findings, Label, MaxError, Planted, PostVerdict, Power};
use crate::stats::{
    ALPHA, Moments, TestOutcome, binomial, z_critical, z_test_mean, z_test_variance,
};
use derivations::backprop as spec;

const N: usize = 8;
const M: usize = 3;

#[derive(Clone, Copy)]
enum Bug {
    WithReplacement,
    NeverLast,
}

// ANCHOR: sampler_under_test
/// The sampler under test (`None`) and its planted variants.
fn draw(rng: &mut impl Rng, bug: Option<Bug>) -> Vec<usize> {
    match bug {
        None => sample_batch(N, M, rng),
        // Planted: M independent indices, so a sample can appear twice.
        Some(Bug::WithReplacement) => (0..M).map(|_| rng.random_range(0..N)).collect(),
        // Planted: an exclusive upper bound off by one; sample N is never drawn.
        Some(Bug::NeverLast) => sample_batch(N - 1, M, rng),
    }
}
// ANCHOR_END: sampler_under_test

/// Every m-subset of 0..n, in lexicographic order.
fn subsets(n: usize, m: usize) -> Vec<Vec<usize>> {
    if m == 0 {
        return vec![Vec::new()];
    }
    (m - 1..n)
        .flat_map(|last| {
            subsets(last, m - 1).into_iter().map(move |mut s| {
                s.push(last);
                s
            })
        })
        .collect()
}

/// The per-sample gradients ∂ℓ_i/∂θ (eq (15)) of a random network at N random samples,
/// each flattened in the order of `Network::params`.
fn per_sample_gradients(rng: &mut impl Rng) -> Vec<Vec<f64>> {
    let net = random_net(rng, 2..=4, 1..=4);
    random_batch(rng, &net, N)
        .iter()
        .map(|(x, y)| {
            let g = spec::eq15_gradient(&net, x, *y, &mut 0);
            net.params().into_iter().map(|p| g.get(p)).collect()
        })
        .collect()
}

fn mean_of(rows: &[Vec<f64>]) -> Vec<f64> {
    let mut mean = vec![0.0; rows[0].len()];
    for r in rows {
        mean.iter_mut()
            .zip(r)
            .for_each(|(m, v)| *m += v / rows.len() as f64);
    }
    mean
}

/// (1/|rows|)·Σ (r − c)(r − c)ᵀ.
fn covariance(rows: &[Vec<f64>], c: &[f64]) -> Vec<Vec<f64>> {
    let p = c.len();
    let mut cov = vec![vec![0.0; p]; p];
    for r in rows {
        for a in 0..p {
            for b in 0..p {
                cov[a][b] += (r[a] - c[a]) * (r[b] - c[b]) / rows.len() as f64;
            }
        }
    }
    cov
}

/// |a − b| / max(1, |a|, |b|, scale): the identity error of the conventions appendix
/// (Tolerances), with the scale of the terms the sums are made of (a covariance entry is
/// bounded by √(C_aa·C_bb), but its terms are not bounded by the entry itself).
fn error(a: f64, b: f64, scale: f64) -> f64 {
    (a - b).abs() / 1f64.max(a.abs()).max(b.abs()).max(scale)
}

/// Exact: the mean, the covariance and the sum convention over all C(N, M) batches.
fn enumerate(g: &[Vec<f64>], mean: &mut MaxError, cov: &mut MaxError, sum: &mut MaxError) {
    let batches = subsets(N, M);
    let full = mean_of(g);
    let batch_means: Vec<Vec<f64>> = batches
        .iter()
        .map(|b| mean_of(&b.iter().map(|&i| g[i].clone()).collect::<Vec<_>>()))
        .collect();
    let scale = g.iter().flatten().fold(0.0f64, |s, v| s.max(v.abs()));
    for (e, f) in mean_of(&batch_means).iter().zip(&full) {
        mean.record(error(*e, *f, scale), 0.0);
    }
    let factor = (N - M) as f64 / (M * (N - 1)) as f64;
    let (c_batch, c_sample) = (covariance(&batch_means, &full), covariance(g, &full));
    for a in 0..full.len() {
        for b in 0..full.len() {
            let s = (c_batch[a][a] * c_batch[b][b]).sqrt();
            cov.record(error(c_batch[a][b], factor * c_sample[a][b], s), 0.0);
        }
    }
    // (17)'s sum convention: E[Σ_{m∈B} g_m] = (M/N)·Σ_n g_n.
    for (p, f) in full.iter().enumerate() {
        let e_sum = batches
            .iter()
            .map(|b| b.iter().map(|&i| g[i][p]).sum::<f64>())
            .sum::<f64>()
            / batches.len() as f64;
        sum.record(error(e_sum, M as f64 * f, M as f64 * scale), 0.0);
    }
}

/// The exact distribution of a batch mean of the scalars `a` when the batches are the
/// listed (equally likely) index tuples: (mean, variance, fourth central moment).
fn exact_moments(a: &[f64], batches: &[Vec<usize>]) -> (f64, f64, f64) {
    let means: Vec<f64> = batches
        .iter()
        .map(|b| b.iter().map(|&i| a[i]).sum::<f64>() / b.len() as f64)
        .collect();
    let mu = means.iter().sum::<f64>() / means.len() as f64;
    let central = |p: i32| means.iter().map(|m| (m - mu).powi(p)).sum::<f64>() / means.len() as f64;
    (mu, central(2), central(4))
}

/// Var(s²) of K i.i.d. draws with variance σ² and fourth central moment μ₄ (as in
/// `z_test_variance`).
fn var_of_variance(k: f64, s2: f64, mu4: f64) -> f64 {
    mu4 / k - s2 * s2 * (k - 3.0) / (k * (k - 1.0))
}

// ANCHOR: ext_sgd_unbiased
pub(super) fn ext_sgd_unbiased() -> Claim {
    Claim::checked(
        "EXT-SGD-UNBIASED",
        ROOM,
        "beyond the post",
        "for batches of M drawn uniformly without replacement from N: E[(1/M)Σ_{m∈B}∇ℓ_m] = \
         (1/N)Σ_n∇ℓ_n, with covariance (N−M)/(M(N−1))·Σ_g, and E[Σ_{m∈B}∇ℓ_m] = (M/N)Σ_n∇ℓ_n; \
         our sampler's batches follow that law (N = 8, M = 3)",
        PostVerdict::Extension,
        &[
            (
                Bug::WithReplacement,
                Planted::bug("a sampler with replacement where \"without\" is documented"),
            ),
            (
                Bug::NeverLast,
                Planted::bug("a biased sampler that never draws the last sample"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let mut f = Findings::default();
            // 1. Exact enumeration over all 56 batches of several random problems.
            let [mut mean, mut cov, mut sum] = std::array::from_fn(|_| MaxError::default());
            let mut first = None;
            for _ in 0..ctx.size(5, 50) {
                let g = per_sample_gradients(&mut rng);
                enumerate(&g, &mut mean, &mut cov, &mut sum);
                first.get_or_insert(g);
            }
            let why = "sums of ≤ 56 f64 terms: a few dozen ε of the terms' scale (conventions appendix, Tolerances)";
            f.max_error(
                Label::from("E_B[batch mean] = full mean (all C(8,3) batches)").markdown(r"$\mathbb{E}_B[\text{batch mean}]$ = full mean (all $\binom{8}{3}$ batches)"),
                &mean,
                1e-12,
                why,
            );
            f.max_error(Label::from("Cov_B = (N−M)/(M(N−1))·Σ_g (every entry)").markdown(r"$\mathrm{Cov}_B = (N-M)/(M(N-1))\, \Sigma_g$ (every entry)"), &cov, 1e-12, why);
            f.max_error(Label::from("E_B[batch sum] = (M/N)·Σ_n g_n").markdown(r"$\mathbb{E}_B[\text{batch sum}] = (M/N) \sum_n g_n$"), &sum, 1e-12, why);

            // 2. The sampler on its output: batch means of one projection a_i = u·g_i.
            let g = first.expect("at least one problem");
            let u: Vec<f64> = (0..g[0].len()).map(|_| standard_normal(&mut rng)).collect();
            let a: Vec<f64> = g
                .iter()
                .map(|gi| gi.iter().zip(&u).map(|(x, y)| x * y).sum())
                .collect();
            let (mu, var0, mu4_0) = exact_moments(&a, &subsets(N, M));
            let ordered: Vec<Vec<usize>> = (0..N * N * N)
                .map(|t| vec![t % N, t / N % N, t / (N * N)])
                .collect();
            let k = ctx.size(20_000, 200_000);
            let (mut counts, mut moments) = ([0u64; N], Moments::new());
            for _ in 0..k {
                let batch = draw(&mut rng, bug);
                for (i, c) in counts.iter_mut().enumerate() {
                    *c += u64::from(batch.contains(&i));
                }
                moments.push(batch.iter().map(|&i| a[i]).sum::<f64>() / M as f64);
            }
            // Three tests share the claim's α = 1e-6.
            let alpha = ALPHA / 3.0;
            let kf = k as f64;
            // Each sampler's law, exact, for the power statements: the probability that
            // each sample is in a batch, and the batch mean's (mean, variance, μ₄).
            let law = |v: Bug| match v {
                Bug::WithReplacement => (
                    [1.0 - (1.0 - 1.0 / N as f64).powi(M as i32); N],
                    exact_moments(&a, &ordered),
                ),
                Bug::NeverLast => {
                    let mut inclusion = [M as f64 / (N - 1) as f64; N];
                    inclusion[N - 1] = 0.0;
                    (inclusion, exact_moments(&a, &subsets(N - 1, M)))
                }
            };
            // P(a two-sided z-test at critical value z rejects) when the estimate is shifted
            // by `shift` with standard error se0 under the null and se1 under the variant.
            let power_of = |shift: f64, se0: f64, se1: f64, z: f64| {
                if se1 > 0.0 {
                    crate::stats::normal_cdf((shift.abs() - z * se0) / se1)
                } else {
                    f64::from(u8::from(shift.abs() > z * se0))
                }
            };
            let p0 = M as f64 / N as f64;
            let se_count = |p: f64| (kf * p * (1.0 - p)).sqrt();
            let (se0_mean, se0_var) = ((var0 / kf).sqrt(), var_of_variance(kf, var0, mu4_0).sqrt());
            // The power of (i), (ii), (iii) against variant v at K draws, and its effects.
            let powers = |v: Bug| {
                let (inclusion, (mu_v, var_v, mu4_v)) = law(v);
                let count = inclusion
                    .iter()
                    .map(|&p| {
                        power_of(
                            kf * (p - p0),
                            se_count(p0),
                            se_count(p),
                            z_critical(alpha / N as f64),
                        )
                    })
                    .fold(0.0, f64::max);
                let mean = power_of(mu_v - mu, se0_mean, (var_v / kf).sqrt(), z_critical(alpha));
                let var = power_of(
                    var_v - var0,
                    se0_var,
                    var_of_variance(kf, var_v, mu4_v).sqrt(),
                    z_critical(alpha),
                );
                (
                    [count, mean, var],
                    [inclusion[N - 1] - p0, mu_v - mu, var_v / var0],
                )
            };
            let power = |test: usize| match bug {
                Some(v) => {
                    let (p, e) = powers(v);
                    let effect = match test {
                        0 => format!(
                            "sample 8 in a batch with probability {:.4} for 3/8",
                            p0 + e[0]
                        ),
                        1 => format!("the batch mean shifted by {:.3e}", e[1]),
                        _ => format!("the batch-mean variance ×{:.3}", e[2]),
                    };
                    Power::new(p[test], format!("{effect} at K = {k}"))
                }
                // Our code: the power against the variant each test is aimed at, the weaker
                // one for (i). The mean test has none against sampling with replacement
                // (unbiased), and the variance test's effect against the sampler that never
                // draws sample 8 depends on u·g_8 (both variants are rejected by (i)).
                None => {
                    let (with, never) = (powers(Bug::WithReplacement).0, powers(Bug::NeverLast).0);
                    match test {
                        0 => Power::new(with[0].min(never[0]), "the weaker planted sampler"),
                        1 => Power::new(never[1], "the sampler that never draws sample 8"),
                        _ => Power::new(with[2], "sampling with replacement (variance ×1.4)"),
                    }
                }
            };
            // (i) Each sample is in a batch with probability M/N, independently across draws:
            // its count is Binomial(K, 3/8). The worst of the 8 exact tests, Bonferroni × 8
            // (so each count is held at α/8, which the power above uses).
            let worst = counts
                .iter()
                .map(|&c| binomial(c, k as u64, M as f64 / N as f64).expect("valid counts"))
                .fold(None::<TestOutcome>, |w, t| match w {
                    Some(w) if w.p_value <= t.p_value => Some(w),
                    _ => Some(t),
                })
                .expect("N tests");
            let bonferroni = TestOutcome {
                test: "exact binomial, least-fitting sample (Bonferroni × 8)",
                p_value: (worst.p_value * N as f64).min(1.0),
                ..worst
            };
            f.test(
                Label::from("each sample is in a batch with probability M/N = 3/8").markdown(r"each sample is in a batch with probability $M/N = 3/8$"),
                bonferroni,
                alpha,
                power(0),
            );
            // (ii) The batch mean is unbiased: z-test with its exact variance.
            f.test(
                Label::from("E[batch mean of u·g] = full mean (exact variance from the enumeration)").markdown(r"$\mathbb{E}[\text{batch mean of } u \cdot g]$ = full mean (exact variance from the enumeration)"),
                z_test_mean(&moments, mu, var0).expect("positive variance"),
                alpha,
                power(1),
            );
            // (iii) The variance factor (N−M)/(M(N−1)) = 5/21, against 1/M = 7/21 with
            // replacement: the z-test with the exact fourth moment. Its power against each
            // variant is Φ((|Δ| − z·SE₀)/SE₁), the SEs from the exact moments at K.
            f.test(
                Label::from("Var[batch mean of u·g] = (N−M)/(M(N−1))·σ² (exact μ₄ from the enumeration)").markdown(r"$\mathrm{Var}[\text{batch mean of } u \cdot g] = (N-M)/(M(N-1))\, \sigma^2$ (exact $\mu_4$ from the enumeration)"),
                z_test_variance(&moments, var0, mu4_0).expect("valid moments"),
                alpha,
                power(2),
            );
            f
        },
    )
    .typeset(r"for batches of $M$ drawn uniformly without replacement from $N$: $\mathbb{E}[(1/M)\sum_{m \in B} \nabla\ell_m] = (1/N)\sum_n \nabla\ell_n$, with covariance $(N-M)/(M(N-1))\, \Sigma_g$, and $\mathbb{E}[\sum_{m \in B} \nabla\ell_m] = (M/N)\sum_n \nabla\ell_n$; our sampler's batches follow that law ($N = 8$, $M = 3$)")
}
// ANCHOR_END: ext_sgd_unbiased
