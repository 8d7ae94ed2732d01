//! Prove your own layer: layer normalisation written as a user's crate would write it, with
//! its three claims, using only the public API of `dnn_proofs` (the engine's re-exports).
//! The book's chapter "Prove your own layer" (`book/src/your_own.md`) walks through it.
//!
//! `cargo test --release --test your_own` runs one test per claim at the CI budget;
//! `cargo run --release --example your_own` prints the report at the full budget (the example
//! is this file's suite behind the engine's runner), and `-- --seeds 0..100` runs the seed meter.

use dnn_proofs::claims::gradcheck::{check_vjp, upstream};
use dnn_proofs::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, MaxError, Planted, Power, Rng, Suite, identity_error,
};
use dnn_proofs::rand::Rng as _;
use dnn_proofs::stats::{ALPHA, Moments, dkw_radius, ks_dkw, plan, standard_normal as normal};

// ANCHOR: layer
/// Layer normalisation over the d features of each sample (Ba, Kiros & Hinton, 2016):
/// y = γ ⊙ x̂ + β, x̂ = (x − μ)/√(σ² + ε), μ and the biased σ² taken over the sample's features.
///
/// Layout: a batch of m samples is a slice of m·d values, sample after sample (x[s·d + j] is
/// feature j of sample s): dnn-proofs' d × m column-major matrix, one sample per column, and
/// PyTorch's m × d row-major (batch × features) tensor are both this layout.
pub struct LayerNorm {
    pub gamma: Vec<f64>,
    pub beta: Vec<f64>,
    pub eps: f64,
}

/// One sample's x̂ and r = 1/√(σ² + ε).
pub fn normalise(x: &[f64], eps: f64) -> (Vec<f64>, f64) {
    let n = x.len() as f64;
    let mu = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / n;
    let r = 1.0 / (var + eps).sqrt();
    (x.iter().map(|v| (v - mu) * r).collect(), r)
}

impl LayerNorm {
    pub fn new(gamma: Vec<f64>, beta: Vec<f64>, eps: f64) -> Self {
        Self { gamma, beta, eps }
    }

    /// y for a batch x.
    pub fn forward(&self, x: &[f64]) -> Vec<f64> {
        let mut y = Vec::with_capacity(x.len());
        for s in x.chunks(self.gamma.len()) {
            let (h, _) = normalise(s, self.eps);
            y.extend((0..h.len()).map(|j| self.gamma[j] * h[j] + self.beta[j]));
        }
        y
    }

    /// The gradients for an upstream g = ∂ℓ/∂y, concatenated as (∂ℓ/∂x, ∂ℓ/∂γ, ∂ℓ/∂β).
    /// Per sample, with ĝ = γ ⊙ g = ∂ℓ/∂x̂:
    /// ∂ℓ/∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)); ∂ℓ/∂γ = Σ_s g ⊙ x̂; ∂ℓ/∂β = Σ_s g.
    pub fn backward(&self, x: &[f64], g: &[f64]) -> Vec<f64> {
        let d = self.gamma.len();
        let (mut dx, mut dgamma, mut dbeta) = (Vec::new(), vec![0.0; d], vec![0.0; d]);
        for (s, gs) in x.chunks(d).zip(g.chunks(d)) {
            let (h, r) = normalise(s, self.eps);
            let gh: Vec<f64> = (0..d).map(|j| gs[j] * self.gamma[j]).collect();
            let mean_gh = gh.iter().sum::<f64>() / d as f64;
            let mean_ghh = (0..d).map(|j| gh[j] * h[j]).sum::<f64>() / d as f64;
            dx.extend((0..d).map(|j| r * (gh[j] - mean_gh - h[j] * mean_ghh)));
            for j in 0..d {
                dgamma[j] += gs[j] * h[j];
                dbeta[j] += gs[j];
            }
        }
        [dx, dgamma, dbeta].concat()
    }
}
// ANCHOR_END: layer

// ANCHOR: kernel
/// The fast forward pass in f32: per sample a two-pass mean and variance, each sum in eight
/// independent lanes (one 256-bit register), then one pass for y. Same layout as [`LayerNorm`].
pub fn forward_f32(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) -> Vec<f32> {
    let mut y = Vec::with_capacity(x.len());
    for s in x.chunks_exact(gamma.len()) {
        let n = s.len() as f32;
        let mu = sum8(s, |v| v) / n;
        let var = sum8(s, |v| (v - mu) * (v - mu)) / n;
        let r = 1.0 / (var + eps).sqrt();
        y.extend((0..s.len()).map(|j| (s[j] - mu) * r * gamma[j] + beta[j]));
    }
    y
}

/// Σ f(v) over a sample: lane l adds v_l, v_{l+8}, …; the lanes are added pairwise at the
/// end. Along any path ⌈n/8⌉ + 3 additions round.
fn sum8(s: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lane = [0.0f32; 8];
    let chunks = s.chunks_exact(8);
    for (l, &v) in chunks.remainder().iter().enumerate() {
        lane[l] = f(v);
    }
    for c in chunks {
        for l in 0..8 {
            lane[l] += f(c[l]);
        }
    }
    let [a, b, c, d, e, f, g, h] = lane;
    ((a + e) + (b + f)) + ((c + g) + (d + h))
}
// ANCHOR_END: kernel

// ANCHOR: catalogue
/// What each claim must come out as: the user's own catalogue, one Markdown row per claim.
const CATALOGUE: &str = "\
| ID | where | claim | post | conventions | expected |
| --- | --- | --- | --- | --- | --- |
| `LN-BWD` | — | the backward pass is the vector–Jacobian product of the forward | extension | — | holds |
| `LN-F32` | — | the f32 kernel is within its derived rounding bound of the f64 layer | extension | — | holds |
| `LN-STAT` | — | for 4 Gaussian features each x̂_j is uniform on [−√3, √3] | extension | — | holds |
";
// ANCHOR_END: catalogue

// ANCHOR: inputs
/// m samples of d Gaussian features, each sample with its own offset in ±`offset` and spread
/// 10^U(lo, hi): activations at different scales, some where ε matters.
fn batch(rng: &mut Rng, m: usize, d: usize, offset: f64, (lo, hi): (f64, f64)) -> Vec<f64> {
    let mut x = Vec::with_capacity(m * d);
    for _ in 0..m {
        let o = rng.random_range(-offset..=offset);
        let spread = 10f64.powf(rng.random_range(lo..hi));
        x.extend((0..d).map(|_| o + spread * normal(rng)));
    }
    x
}

/// The batch with samples and features swapped: normalising it normalises over the batch axis.
fn transpose<T: Copy>(x: &[T], d: usize) -> Vec<T> {
    let m = x.len() / d;
    (0..d)
        .flat_map(|j| (0..m).map(move |s| x[s * d + j]))
        .collect()
}
// ANCHOR_END: inputs

// ANCHOR: bwd_bugs
#[derive(Clone, Copy, PartialEq)]
enum BwdBug {
    DropsMeanGhX,
    EpsLeftOut,
    GammaFactoredOut,
}

/// Our backward pass, or a planted variant of its ∂ℓ/∂x.
fn backward(bug: Option<BwdBug>, ln: &LayerNorm, x: &[f64], g: &[f64]) -> Vec<f64> {
    let mut grads = ln.backward(x, g);
    let (Some(bug), d) = (bug, ln.gamma.len()) else {
        return grads;
    };
    for (k, (s, gs)) in x.chunks(d).zip(g.chunks(d)).enumerate() {
        let (h, r) = normalise(s, ln.eps);
        let mean = |f: &dyn Fn(usize) -> f64| (0..d).map(f).sum::<f64>() / d as f64;
        let gh = |j: usize| gs[j] * ln.gamma[j];
        let (m1, m2) = (mean(&gh), mean(&|j| gh(j) * h[j]));
        for j in 0..d {
            grads[k * d + j] = match bug {
                BwdBug::DropsMeanGhX => r * (gh(j) - m1),
                BwdBug::EpsLeftOut => normalise(s, 0.0).1 * (gh(j) - m1 - h[j] * m2),
                BwdBug::GammaFactoredOut => {
                    let (g1, g2) = (mean(&|i| gs[i]), mean(&|i| gs[i] * h[i]));
                    r * ln.gamma[j] * (gs[j] - g1 - h[j] * g2)
                }
            };
        }
    }
    grads
}

// ANCHOR_END: bwd_bugs

// ANCHOR: ln_bwd
fn ln_bwd() -> Claim {
    Claim::of_code(
        "LN-BWD",
        "layer_norm",
        "∂ℓ/∂(x, γ, β) of LayerNorm is the vector–Jacobian product of its forward pass for a \
         random non-uniform upstream gradient (central differences, the scaled band)",
        &[
            (BwdBug::DropsMeanGhX, Planted::bug("mean(ĝ·x̂) term dropped")),
            (
                BwdBug::EpsLeftOut,
                Planted::bug("ε left out of the backward"),
            ),
            (
                BwdBug::GammaFactoredOut,
                Planted::bug("γ factored out, as in BN"),
            ),
        ],
        |bug, ctx: &Ctx| {
            let (mut rng, mut findings) = (ctx.rng(), Findings::default());
            for _ in 0..ctx.size(10, 100) {
                let (d, m) = (rng.random_range(2..=16), rng.random_range(1..=4));
                let n = m * d;
                // θ = (x, γ, β). x is centred: LN is shift invariant per sample, so an offset
                // changes no gradient and only adds rounding noise to the differences.
                let mut theta = batch(&mut rng, m, d, 0.0, (-1.0, 0.5));
                theta.extend((0..2 * d).map(|_| rng.random_range(-2.0..2.0)));
                let layer =
                    |t: &[f64]| LayerNorm::new(t[n..n + d].to_vec(), t[n + d..].to_vec(), 1e-5);
                let y = |t: &[f64]| layer(t).forward(&t[..n]);
                // A random upstream, scaled so that the terms of u·y add up to at most 1: the
                // band's absolute term 1e-9 is derived for a differenced function that size.
                let u = upstream(&mut rng, n);
                let size: f64 = y(&theta).iter().zip(&u).map(|(a, b)| (a * b).abs()).sum();
                let u: Vec<f64> = u.iter().map(|v| v / size.max(1.0)).collect();
                let vjp = backward(bug, &layer(&theta), &theta[..n], &u);
                let check = check_vjp(y, &theta, &u, &vjp).expect("lengths agree");
                // One item per batch: a NaN in one cannot hide behind another's pass.
                findings.gradient(format!("backward vs differences, d = {d}, m = {m}"), &check);
            }
            findings
        },
    )
}
// ANCHOR_END: ln_bwd

// ANCHOR: f32_bound
/// u = 2⁻²⁴, the unit roundoff of f32.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// How far the kernel's y_j may be from the exact y_j, from its operation count. A sum along
/// k = ⌈d/8⌉ + 3 roundings errs by ≤ k·u·Σ|terms|, so with M = mean|x| (first order in u):
/// - μ̃ (sum, ÷d): |μ̃ − μ| ≤ δ = (k + 1)·u·M;
/// - r̃: the variance's squares, sum and ÷d add (k + 4)·u relative (x − μ̃ rounded, squared:
///   2u), + ε one more u, √ halves that and rounds (u), 1/· rounds (u):
///   |r̃/r − 1| ≤ (k + 9)/2·u, plus ½(r·δ)² because the squares are about μ̃, not μ;
/// - y: x − μ̃, ·r̃, ·γ round three times (3u on |γ·x̂|), + β once (u on |y|);
///   μ̃'s error reaches y as |γ|·r·δ.
///
/// Doubled for the second-order terms and the f64 reference's own rounding (2⁻²⁹ of this).
fn f32_bound(d: usize, mean_abs_x: f64, r: f64, gamma: f64, x_hat: f64, y: f64) -> f64 {
    let k = (d.div_ceil(8) + 3) as f64;
    let delta = (k + 1.0) * U * mean_abs_x;
    let dr = (k + 9.0) / 2.0 * U + 0.5 * (r * delta).powi(2);
    2.0 * (gamma.abs() * (r * delta + x_hat.abs() * (dr + 3.0 * U)) + U * y.abs())
}
// ANCHOR_END: f32_bound

// ANCHOR: f32_bugs
#[derive(Clone, Copy, PartialEq)]
enum F32Bug {
    OnePassVariance,
    EpsOutsideRoot,
    BatchAxis,
}

/// Our kernel, or a planted variant of it.
fn kernel(bug: Option<F32Bug>, x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) -> Vec<f32> {
    let (d, m) = (gamma.len(), x.len() / gamma.len());
    let Some(bug) = bug else {
        return forward_f32(x, gamma, beta, eps);
    };
    if bug == F32Bug::BatchAxis {
        let h = transpose(
            &forward_f32(&transpose(x, d), &vec![1.0; m], &vec![0.0; m], eps),
            m,
        );
        return (0..x.len())
            .map(|i| h[i] * gamma[i % d] + beta[i % d])
            .collect();
    }
    let (mut y, n) = (Vec::with_capacity(x.len()), d as f32);
    for s in x.chunks_exact(d) {
        let mu = sum8(s, |v| v) / n;
        let r = match bug {
            F32Bug::OnePassVariance => 1.0 / (sum8(s, |v| v * v) / n - mu * mu + eps).sqrt(),
            _ => 1.0 / ((sum8(s, |v| (v - mu) * (v - mu)) / n).sqrt() + eps),
        };
        y.extend((0..d).map(|j| (s[j] - mu) * r * gamma[j] + beta[j]));
    }
    y
}

// ANCHOR_END: f32_bugs

// ANCHOR: ln_f32
fn ln_f32() -> Claim {
    Claim::of_code(
        "LN-F32",
        "layer_norm",
        "the f32 kernel's y is within the bound derived from its operation count of the f64 \
         layer run on the same f32 inputs, for widths d from 2 to 768, offsets up to ±4 and \
         spreads from 0.01 to 4",
        &[
            (F32Bug::OnePassVariance, Planted::bug("one-pass E[x²] − μ²")),
            (F32Bug::EpsOutsideRoot, Planted::bug("ε outside the root")),
            (F32Bug::BatchAxis, Planted::bug("stats over the batch axis")),
        ],
        |bug, ctx: &Ctx| {
            let (mut rng, eps) = (ctx.rng(), 1e-5f32);
            let mut err = MaxError::default();
            for _ in 0..ctx.size(60, 600) {
                let d = [2, 3, 7, 8, 9, 31, 64, 257, 768][rng.random_range(0..9)];
                let m = rng.random_range(2..=6);
                let x: Vec<f32> = batch(&mut rng, m, d, 4.0, (-2.0, 0.6))
                    .iter()
                    .map(|&v| v as f32)
                    .collect();
                let gamma: Vec<f32> = (0..d).map(|_| rng.random_range(-2.0..2.0)).collect();
                let beta: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
                let fast = kernel(bug, &x, &gamma, &beta, eps);
                let wide = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
                let (x, eps) = (wide(&x), f64::from(eps));
                let ln = LayerNorm::new(wide(&gamma), wide(&beta), eps);
                let exact = ln.forward(&x);
                for (s, sample) in x.chunks(d).enumerate() {
                    let (h, r) = normalise(sample, eps);
                    let mean_abs = sample.iter().map(|v| v.abs()).sum::<f64>() / d as f64;
                    for (j, (&g, &h)) in ln.gamma.iter().zip(&h).enumerate() {
                        let i = s * d + j;
                        let bound = f32_bound(d, mean_abs, r, g, h, exact[i]);
                        err.record((f64::from(fast[i]) - exact[i]).abs() / bound, x[i]);
                    }
                }
            }
            let mut findings = Findings::default();
            findings.max_error(
                "f32 kernel vs f64 layer, |Δy| as a fraction of its bound",
                &err,
                1.0,
                "the bound is f32_bound's: the kernel's roundings counted per operation",
            );
            findings
        },
    )
}
// ANCHOR_END: ln_f32

// ANCHOR: stat_law
/// The law the claim tests: x̂_j of d = 4 Gaussian features is uniform on [−√3, √3].
fn uniform_cdf(t: f64) -> f64 {
    ((t + 3f64.sqrt()) / (2.0 * 3f64.sqrt())).clamp(0.0, 1.0)
}

/// sup_t |F(t) − F₀(t)| for the unbiased variance: x̂·√(3/4) is uniform on [−1.5, 1.5], so
/// its CDF reaches 1 at 1.5, where F₀ is 1 − (√3 − 1.5)/(2√3).
fn unbiased_distance() -> f64 {
    1.0 - uniform_cdf(1.5)
}

/// sup_t |F(t) − F₀(t)| when a batch of 8 is normalised instead: x̂ = √7·w, w with density
/// ∝ (1 − w²)² on [−1, 1], F = ½ + (15/16)(w − 2w³/3 + w⁵/5). A grid: at most the sup.
fn batch_axis_distance() -> f64 {
    (0..=10_000)
        .map(|i| {
            let w = f64::from(i) / 1e4;
            let f = 0.5 + 15.0 / 16.0 * (w - 2.0 * w.powi(3) / 3.0 + w.powi(5) / 5.0);
            (f - uniform_cdf(7f64.sqrt() * w)).abs()
        })
        .fold(0.0, f64::max)
}

/// Batches to test: a planted bug survives with probability at most 2e-7 at α = 1e-6.
fn stat_sample_size() -> u64 {
    plan::dkw_distance(
        unbiased_distance().min(batch_axis_distance()),
        ALPHA,
        1.0 - 2e-7,
    )
}

/// The DKW test's power at n against a law at distance `distance`: the empirical CDF is
/// within dkw_radius(n, α) of F₀ under the claim, and within the rest of the distance of F
/// under the bug except with probability 2·exp(−2n·rest²).
fn dkw_power(n: u64, distance: f64, against: &str) -> Power {
    let rest = (distance - dkw_radius(n, ALPHA)).max(0.0);
    let p = 1.0 - 2.0 * (-2.0 * n as f64 * rest * rest).exp();
    Power::new(
        p.max(0.0),
        format!("{against}: sup|F − F₀| = {distance:.4}"),
    )
}
// ANCHOR_END: stat_law

// ANCHOR: stat_bugs
#[derive(Clone, Copy, PartialEq)]
enum StatBug {
    UnbiasedVariance,
    BatchAxis,
}

/// Our forward pass, or a planted variant of it.
fn forward(bug: Option<StatBug>, ln: &LayerNorm, x: &[f64]) -> Vec<f64> {
    let (d, m) = (ln.gamma.len(), x.len() / ln.gamma.len());
    match bug {
        None => ln.forward(x),
        Some(StatBug::BatchAxis) => {
            let over_batch = LayerNorm::new(vec![1.0; m], vec![0.0; m], ln.eps);
            transpose(&over_batch.forward(&transpose(x, d)), m)
        }
        Some(StatBug::UnbiasedVariance) => x
            .chunks(d)
            .flat_map(|s| {
                let mu = s.iter().sum::<f64>() / d as f64;
                let var = s.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / (d - 1) as f64;
                s.iter().map(move |v| (v - mu) / (var + ln.eps).sqrt())
            })
            .collect(),
    }
}

// ANCHOR_END: stat_bugs

// ANCHOR: ln_stat
fn ln_stat() -> Claim {
    Claim::of_code(
        "LN-STAT",
        "layer_norm",
        "for d = 4 features drawn i.i.d. N(μ, σ²) with ε/σ² ≤ 1e-7, each x̂_j is uniform on \
         [−√3, √3] (x̂_j²/3 ~ Beta(½, 1)); every sample has Σ x̂ = 0 and mean x̂² = σ²/(σ² + ε)",
        &[
            (
                StatBug::UnbiasedVariance,
                Planted::bug("unbiased σ²").by("law of x̂"),
            ),
            (
                StatBug::BatchAxis,
                Planted::bug("over the batch axis").by("law of x̂"),
            ),
        ],
        |bug, ctx: &Ctx| {
            let (d, m, n) = (4, 8, stat_sample_size());
            let ln = LayerNorm::new(vec![1.0; d], vec![0.0; d], 1e-5);
            let (mut rng, mut units, mut exact) = (ctx.rng(), Vec::new(), MaxError::default());
            for _ in 0..n {
                // One batch: 8 samples sharing a mean in ±100 and a spread 10^U(1, 3).
                let (mu, sigma) = (
                    rng.random_range(-100.0..100.0),
                    10f64.powf(rng.random_range(1.0..3.0)),
                );
                let x: Vec<f64> = (0..m * d).map(|_| mu + sigma * normal(&mut rng)).collect();
                let h = forward(bug, &ln, &x);
                units.push(h[0]); // one unit per independent batch
                for (s, hs) in x.chunks(d).zip(h.chunks(d)) {
                    let v = Moments::from_slice(s).variance_biased();
                    let mean_sq = hs.iter().map(|t| t * t).sum::<f64>() / d as f64;
                    // Σ x̂ rounds as x − μ does: relative to the conditioning mean|x|·r.
                    let r = 1.0 / (v + ln.eps).sqrt();
                    let kappa = (s.iter().map(|t| t.abs() * r).sum::<f64>() / d as f64).max(1.0);
                    let sum = (hs.iter().sum::<f64>() / kappa).abs();
                    exact.record(sum.max(identity_error(mean_sq, v * r * r)), s[0]);
                }
            }
            let power = match bug {
                None => Power::none(),
                Some(StatBug::UnbiasedVariance) => dkw_power(n, unbiased_distance(), "÷ (d − 1)"),
                Some(StatBug::BatchAxis) => dkw_power(n, batch_axis_distance(), "over 8 samples"),
            };
            let mut findings = Findings::default();
            let outcome = ks_dkw(&mut units, uniform_cdf).expect("a non-empty sample");
            findings.test("law of x̂₁ (one per batch)", outcome, ALPHA, power);
            findings.max_error(
                "per sample Σ x̂ = 0, mean x̂² = σ²/(σ²+ε)",
                &exact,
                IDENTITY_TOL,
                "f64 rounding (Σ x̂ over the conditioning)",
            );
            findings
        },
    )
}
// ANCHOR_END: ln_stat

// ANCHOR: suite
/// The three claims against their catalogue. `runner::main(suite())` makes it a command line
/// (`examples/your_own.rs`); `claim_tests!` makes it tests.
pub fn suite() -> Suite {
    Suite::new("layer-norm", vec![ln_bwd(), ln_f32(), ln_stat()], CATALOGUE)
        .expect("the catalogue parses")
        .with_build("f32 kernel in plain Rust, 8-lane sums")
        .with_command("cargo run --release --example your_own --")
}
// ANCHOR_END: suite

// ANCHOR: tests
// One #[test] per claim at the CI budget, and one that every layer_norm claim is listed.
dnn_proofs::claim_tests! { suite(), "layer_norm";
    ln_bwd_holds => "LN-BWD",
    ln_f32_holds => "LN-F32",
    ln_stat_holds => "LN-STAT",
}

#[test]
fn the_catalogue_lists_every_claim() {
    assert_eq!(suite().disagreements(), Vec::<String>::new());
}
// ANCHOR_END: tests
