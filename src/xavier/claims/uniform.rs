//! The uniform initialiser itself: XAV-UNIF-VAR and eq. (23), XAV-23, with the five checks
//! of the catalogue on a non-square matrix (exact bound with a stub RNG, variance, support,
//! DKW shape, mean).

use nalgebra::DMatrix;
use rand::Rng;
use rand::rand_core::{RngCore, impls};

use super::{ROOM, dkw_power, power, stated, stream};
use crate::claims::{
    Claim, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, identity_error,
};
use crate::simd::LANES;
use crate::stats::{ALPHA, Moments, ks_dkw, normal_cdf, z_critical, z_test_mean, z_test_variance};
use crate::xavier::init::{Distribution, Fans, Init};
use crate::xavier::kernel;
use derivations::xavier as spec;

// ---------------------------------------------------------------- XAV-UNIF-VAR
// ANCHOR: xav_unif_var

#[derive(Clone, Copy)]
enum UnifVarBug {
    WidthA,
    StdForVariance,
}

/// 2²³: the number of points of the kernel's uniform grid.
const GRID: u64 = 1 << 23;

pub(super) fn xav_unif_var() -> Claim {
    Claim::checked(
        "XAV-UNIF-VAR",
        ROOM,
        "§结论",
        "Var(U[−a, a]) = (2a)²/12 = a²/3; the kernel's 2²³-point grid (midpoints of equal cells) \
         has variance (1 − 2⁻⁴⁶)·a²/3, by enumeration",
        PostVerdict::Correct,
        &[
            (
                UnifVarBug::WidthA,
                Planted::bug("a²/12: the width taken as a instead of 2a"),
            ),
            (
                UnifVarBug::StdForVariance,
                Planted::bug("2a/√12: the standard deviation returned"),
            ),
        ],
        |bug, ctx| {
            let var = |a: f64| match bug {
                None => spec::uniform_variance(a),
                Some(UnifVarBug::WidthA) => a * a / 12.0,
                Some(UnifVarBug::StdForVariance) => 2.0 * a / 12f64.sqrt(),
            };
            let mut rng = stream(ctx, 0);
            let mut e = MaxError::default();
            for _ in 0..ctx.size(1000, 100_000) {
                let a: f64 = rng.random_range(1e-3..10.0);
                // (1/2a)·∫_{−a}^{a} x² dx by Simpson on one panel: exact for a quadratic.
                let integral = (2.0 * a / 6.0) * (a * a + 4.0 * 0.0 + a * a) / (2.0 * a);
                e.record(identity_error(var(a), integral), a);
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from(format!(
                    "(2a)²/12 against (1/2a)∫x²dx, a ∈ [1e-3, 10] (worst at a = {:.4})",
                    e.at
                ))
                .markdown(format!(
                    r"$(2a)^2/12$ against $\frac{{1}}{{2a}}\int_{{-a}}^{{a}} x^2\,dx$, $a \in [10^{{-3}}, 10]$ (worst at $a = {:.4}$)",
                    e.at
                )),
                &e,
                IDENTITY_TOL,
                "Simpson is exact for x²; a few roundings (conventions appendix, Tolerances)",
            );
            // The kernel's support, enumerated: the words k·2⁹ give v = −1 + (2k + 1)·2⁻²³.
            // (2k + 1)² < 2⁴⁶ is an exact integer; their sum is exact in u128.
            let (mut sum_sq, mut sum) = (0u128, 0i128);
            let mut bits = vec![0u32; 1 << 16];
            let mut out = vec![0.0f32; 1 << 16];
            for start in (0..GRID).step_by(bits.len()) {
                for (i, b) in bits.iter_mut().enumerate() {
                    *b = ((start + i as u64) as u32) << 9;
                }
                kernel::uniform_from_bits(&bits, 1.0, &mut out).expect("valid");
                for &v in &out {
                    let odd = (f64::from(v) * GRID as f64) as i128; // ±(2k + 1), exact
                    sum += odd;
                    sum_sq += (odd * odd) as u128;
                }
            }
            let grid_var = sum_sq as f64 / (GRID as f64).powi(3);
            let exact = (1.0 - 2f64.powi(-46)) / 3.0;
            f.bound(
                "mean of the enumerated grid",
                sum as f64,
                0.0,
                GRID,
                "symmetric grid: exactly 0",
            );
            f.bound(
                Label::from("enumerated grid variance against (1 − 2⁻⁴⁶)/3").markdown(r"enumerated grid variance against $(1 - 2^{-46})/3$"),
                identity_error(grid_var, exact),
                2.0 * f64::EPSILON,
                GRID,
                "one rounding of an exact integer ratio",
            );
            f.bound(
                Label::from("grid variance against the formula at a = 1").markdown(r"grid variance against the formula at $a = 1$"),
                identity_error(grid_var, var(1.0)),
                2f64.powi(-46),
                1,
                "the midpoint grid falls short of a²/3 by a²·2⁻⁴⁶/3",
            );
            f
        },
    )
    .typeset(r"$\mathrm{Var}(U[-a, a]) = (2a)^2/12 = a^2/3$; the kernel's $2^{23}$-point grid (midpoints of equal cells) has variance $(1 - 2^{-46})\, a^2/3$, by enumeration")
}

// ANCHOR_END: xav_unif_var
// ---------------------------------------------------------------- XAV-23
// ANCHOR: xav_23

#[derive(Clone, Copy)]
enum Eq23Bug {
    Sqrt3,
    NoRoot,
    ProductOfFans,
    LecunUniform,
    DoubleFanIn,
    NormalSameBound,
    NormalSameVariance,
    Arcsine,
    HalfOpen,
    FanSwap,
}

/// The catalogue's matrix: J_i × J_{i+1} = 300 × 100, so fan mix-ups show.
const FAN_IN: usize = 300;
const FAN_OUT: usize = 100;

/// What a variant draws from.
#[derive(Clone, Copy)]
enum Law {
    /// One of the kernels' distributions.
    Kernel(Distribution),
    /// U[0, a]: the kernel's U[−a/2, a/2] shifted by a/2.
    HalfOpen { a: f64 },
    /// The arcsine law on [−c, c] (a symmetric Beta(½, ½) scaled): c·sin(πv/2), v the
    /// kernel's U[−1, 1]. With c = a·√(2/3) its variance c²/2 is a²/3 and its support lies in
    /// [−a, a]: a bug of shape alone.
    Arcsine { c: f64 },
}

impl Law {
    fn variance(self) -> f64 {
        match self {
            Law::Kernel(d) => d.variance(),
            Law::HalfOpen { a } => a * a / 12.0,
            Law::Arcsine { c } => c * c / 2.0,
        }
    }

    fn mean(self) -> f64 {
        match self {
            Law::HalfOpen { a } => a / 2.0,
            _ => 0.0,
        }
    }

    /// The fourth central moment: b⁴/5 (uniform on [−b, b]), 3σ⁴, 3c⁴/8 (arcsine).
    fn mu4(self) -> f64 {
        match self {
            Law::Kernel(Distribution::Uniform { bound }) => bound.powi(4) / 5.0,
            Law::Kernel(Distribution::Normal { std }) => 3.0 * std.powi(4),
            Law::Kernel(Distribution::TruncatedNormal { .. }) => f64::NAN,
            Law::HalfOpen { a } => (a / 2.0).powi(4) / 5.0,
            Law::Arcsine { c } => 3.0 * c.powi(4) / 8.0,
        }
    }

    fn cdf(self, x: f64) -> f64 {
        match self {
            Law::Kernel(Distribution::Uniform { bound }) => {
                ((x + bound) / (2.0 * bound)).clamp(0.0, 1.0)
            }
            Law::Kernel(Distribution::Normal { std }) => normal_cdf(x / std),
            Law::Kernel(Distribution::TruncatedNormal { .. }) => f64::NAN,
            Law::HalfOpen { a } => (x / a).clamp(0.0, 1.0),
            Law::Arcsine { c } => {
                if x <= -c {
                    0.0
                } else if x >= c {
                    1.0
                } else {
                    0.5 + (x / c).asin() / std::f64::consts::PI
                }
            }
        }
    }

    fn fill<R: RngCore>(self, out: &mut [f32], rng: &mut R) {
        match self {
            Law::Kernel(d) => d.fill(out, rng).expect("valid"),
            Law::HalfOpen { a } => {
                kernel::fill_uniform(out, (a / 2.0) as f32, rng).expect("valid");
                out.iter_mut().for_each(|x| *x += (a / 2.0) as f32);
            }
            Law::Arcsine { c } => {
                kernel::fill_uniform(out, 1.0, rng).expect("valid");
                let half_pi = std::f32::consts::FRAC_PI_2;
                out.iter_mut()
                    .for_each(|x| *x = c as f32 * (half_pi * *x).sin());
            }
        }
    }
}

/// The sampler under test: what each variant draws for a 300 × 100 matrix.
fn sampler(bug: Option<Eq23Bug>) -> Law {
    let (fi, fo) = (FAN_IN as f64, FAN_OUT as f64);
    let fans = Fans::new(FAN_IN, FAN_OUT).expect("non-zero");
    let xavier = Init::XavierUniform { gain: 1.0 };
    let a = spec::eq23_bound(&[FAN_IN, FAN_OUT], 1);
    let uniform = |bound: f64| Law::Kernel(Distribution::Uniform { bound });
    match bug {
        None => Law::Kernel(xavier.distribution(fans).expect("valid")),
        Some(Eq23Bug::Sqrt3) => uniform(3f64.sqrt() / (fi + fo).sqrt()),
        Some(Eq23Bug::NoRoot) => uniform(6f64.sqrt() / (fi + fo)),
        Some(Eq23Bug::ProductOfFans) => uniform((6.0 / (fi * fo)).sqrt()),
        Some(Eq23Bug::LecunUniform) => {
            Law::Kernel(Init::LecunUniform.distribution(fans).expect("valid"))
        }
        Some(Eq23Bug::DoubleFanIn) => uniform(6f64.sqrt() / (2.0 * fi).sqrt()),
        Some(Eq23Bug::NormalSameBound) => Law::Kernel(Distribution::Normal { std: a }),
        Some(Eq23Bug::NormalSameVariance) => Law::Kernel(Distribution::Normal {
            std: a / 3f64.sqrt(),
        }),
        Some(Eq23Bug::Arcsine) => Law::Arcsine {
            c: a * (2.0f64 / 3.0).sqrt(),
        },
        Some(Eq23Bug::HalfOpen) => Law::HalfOpen { a },
        Some(Eq23Bug::FanSwap) => Law::Kernel(
            xavier
                .distribution(Fans::new(FAN_OUT, FAN_IN).expect("non-zero"))
                .expect("valid"),
        ),
    }
}

/// Draws a `rows × cols` matrix from the variant's law for a 300 × 100 matrix.
fn sample<R: RngCore>(bug: Option<Eq23Bug>, rows: usize, cols: usize, rng: &mut R) -> DMatrix<f32> {
    let mut w = DMatrix::zeros(rows, cols);
    sampler(bug).fill(w.as_mut_slice(), rng);
    w
}

/// The effect, in SE of a z-test, of a variant whose statistic is shifted by `d` claimed SEs
/// and spread `s` times as much: P(reject) ≈ Φ((d − z)/s), i.e. a shift of z + (d − z)/s
/// unit SEs (= d when s ≤ 1, which we then keep as the lower bound).
fn spread_effect(d: f64, s: f64) -> f64 {
    if s <= 1.0 {
        d
    } else {
        let z = z_critical(ALPHA);
        z + (d - z) / s
    }
}

/// A stub RNG whose words are known: a Weyl sequence.
#[derive(Clone)]
struct Stub(u32);

impl RngCore for Stub {
    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9);
        self.0
    }
    fn next_u64(&mut self) -> u64 {
        impls::next_u64_via_u32(self)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        impls::fill_bytes_via_next(self, dst)
    }
}

/// The scalar oracle: what the documented construction gives for a fill from `stub`:
/// lane ℓ of vector c is the c-th output of xoshiro128++ seeded with words (k·LANES + ℓ),
/// k = 0..3, of four `fill`s; then w = a·(−1 + (2·(word ≫ 9) + 1)·2⁻²³).
fn oracle(mut stub: Stub, a: f64, n: usize) -> Vec<f64> {
    let mut words = [[0u32; LANES]; 4];
    for w in &mut words {
        stub.fill(&mut w[..]);
    }
    let mut lanes: Vec<[u32; 4]> = (0..LANES)
        .map(|l| {
            let s = [words[0][l], words[1][l], words[2][l], words[3][l]];
            if s == [0; 4] { [1, 0, 0, 0] } else { s }
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        for s in lanes.iter_mut() {
            let word = s[0].wrapping_add(s[3]).rotate_left(7).wrapping_add(s[0]);
            let t = s[1] << 9;
            s[2] ^= s[0];
            s[3] ^= s[1];
            s[1] ^= s[2];
            s[0] ^= s[3];
            s[2] ^= t;
            s[3] = s[3].rotate_left(11);
            let k = f64::from(word >> 9);
            out.push(a * (-1.0 + (2.0 * k + 1.0) / GRID as f64));
        }
    }
    out.truncate(n);
    out
}

pub(super) fn xav_23() -> Claim {
    Claim::checked(
        "XAV-23",
        ROOM,
        "eq (23)",
        "W ~ U[−a, a] with a = √6/√(J_i + J_{i+1}), so a²/3 = 2/(J_i + J_{i+1}): on a 300 × 100 \
         matrix the bound is exact (stub RNG), and the variance, support, shape (DKW) and mean \
         of real draws match",
        PostVerdict::Correct,
        &[
            (
                Eq23Bug::Sqrt3,
                Planted::bug("√3 instead of √6").by("(2) variance"),
            ),
            (
                Eq23Bug::NoRoot,
                Planted::bug("a = √6/(J_i + J_{i+1}): the root missing").by("(1)"),
            ),
            (
                Eq23Bug::ProductOfFans,
                Planted::bug("a = √(6/(J_i·J_{i+1}))").by("(1)"),
            ),
            (
                Eq23Bug::LecunUniform,
                Planted::bug("a = √(3/J_i), LeCun-uniform").by("(1)"),
            ),
            (
                Eq23Bug::DoubleFanIn,
                Planted::bug("the fans read from one dimension: 2·J_i").by("(1)"),
            ),
            (
                Eq23Bug::NormalSameBound,
                Planted::bug("Normal(0, a²)").by("(3) support"),
            ),
            (
                Eq23Bug::NormalSameVariance,
                Planted::bug("Normal(0, a²/3): same variance, wrong shape").by("(4) shape"),
            ),
            (
                Eq23Bug::Arcsine,
                Planted::bug(
                    "a·√(2/3)·sin(πv/2): bounded in [−a, a], same variance a²/3, wrong shape",
                )
                .by("(4) shape"),
            ),
            (Eq23Bug::HalfOpen, Planted::bug("U[0, a]").by("(5) mean")),
            (
                Eq23Bug::FanSwap,
                Planted::harmless("fan-in and fan-out swapped (the formula is symmetric)"),
            ),
        ],
        |bug, ctx| {
            let a = spec::eq23_bound(&[FAN_IN, FAN_OUT], 1);
            let target = 2.0 / (FAN_IN + FAN_OUT) as f64;
            let law = sampler(bug);
            let ours = sampler(None);
            let mut f = Findings::default();
            // The statistical checks (2)–(5) come first, so a planted bug's headline shows
            // the statistical evidence that rejects it; the exact check (1) closes.
            let mut rng = stream(ctx, 0);
            let mut draws: Vec<f64> = Vec::new();
            for _ in 0..ctx.size(1, 10) {
                draws.extend(
                    sample(bug, FAN_IN, FAN_OUT, &mut rng)
                        .iter()
                        .map(|&x| f64::from(x)),
                );
            }
            let n = draws.len();
            let m = Moments::from_slice(&draws);
            // (2) The sample variance's SE under the claim: target·√((μ₄/σ⁴ − 1)/N) with
            // μ₄/σ⁴ = 9/5. A variant shifts it by |σ_v² − target| and spreads it by its own
            // √(μ₄ − σ⁴) (CI: N = 30000; √3: 97 SE).
            let se_var = target * (0.8 / n as f64).sqrt();
            let variance_power = |b: Eq23Bug| {
                let v = sampler(Some(b));
                let d = (v.variance() - target).abs() / se_var;
                let sd = ((v.mu4() - v.variance().powi(2)) / n as f64).sqrt();
                power(
                    spread_effect(d, sd / se_var),
                    format!("variance ×{:.4}", v.variance() / target),
                )
            };
            f.test(
                Label::from("(2) variance = a²/3 (μ₄ = a⁴/5)")
                    .markdown(r"(2) variance $= a^2/3$ ($\mu_4 = a^4/5$)"),
                z_test_variance(&m, target, a.powi(4) / 5.0).expect("valid"),
                ALPHA,
                stated(bug, &[Eq23Bug::Sqrt3], variance_power),
            );
            let max = draws.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
            f.bound(
                Label::from("(3) support: max|w| ≤ a (f32 a)").markdown(r"(3) support: $\max \lvert w \rvert \le a$ (f32 $a$)"),
                max,
                f64::from(a as f32),
                n as u64,
                "|v| < 1 and rounding is monotone; P(|z| > 1) = 0.32 for Normal(0, a²)",
            );
            let floor = a * (1.0 - 20.0 / n as f64);
            f.bound(
                Label::from(format!("(3) support: a·(1 − 20/N) ≤ max|w| = {max:.6}"))
                    .markdown(format!(r"(3) support: $a(1 - 20/N) \le \max \lvert w \rvert = {max:.6}$")),
                floor - max,
                0.0,
                n as u64,
                "P(max|w| < a(1 − 20/N)) = (1 − 20/N)^N ≤ e⁻²⁰ = 2e-9 for a correct sampler (a \
                 chance premise, counted in the suite's budget)",
            );
            // (4) DKW: each variant's CDF gap to U[−a, a], on a fine grid over [−3a, 3a].
            let gap = |b: Eq23Bug| {
                let v = sampler(Some(b));
                (0..=12_000)
                    .map(|i| {
                        let x = -3.0 * a + 6.0 * a * f64::from(i) / 12_000.0;
                        (ours.cdf(x) - v.cdf(x)).abs()
                    })
                    .fold(0.0, f64::max)
            };
            let mut sorted = draws.clone();
            f.test(
                Label::from("(4) shape: DKW against U[−a, a]").markdown(r"(4) shape: DKW against $U[-a, a]$"),
                ks_dkw(&mut sorted, |x| ours.cdf(x)).expect("valid"),
                ALPHA,
                stated(bug, &[Eq23Bug::NormalSameVariance, Eq23Bug::Arcsine], |b| {
                    dkw_power(n as u64, gap(b), "the variant's law")
                }),
            );
            // (5) The mean's SE: √(a²/(3N)); U[0, a] has mean a/2 (CI: 150 SE; its own
            // spread a/√12 is smaller, so that is a lower bound).
            let se = (a * a / 3.0 / n as f64).sqrt();
            f.test(
                Label::from("(5) mean = 0").markdown(r"(5) mean $= 0$"),
                z_test_mean(&m, 0.0, a * a / 3.0).expect("valid"),
                ALPHA,
                stated(bug, &[Eq23Bug::HalfOpen], |b| {
                    let mu = sampler(Some(b)).mean();
                    power(mu / se, format!("mean {mu:.4}"))
                }),
            );
            // (1) Exact: the law's variance, and the values for known bits.
            f.bound(
                Label::from("(1) the sampler's variance = 2/(J_i + J_{i+1}), relative")
                    .markdown(r"(1) the sampler's variance $= 2/(J_i + J_{i+1})$, relative"),
                identity_error(law.variance(), target),
                1e-15,
                1,
                "√ and two divisions in f64: a few ulp",
            );
            let mut worst = MaxError::default();
            // 7 × 5 = 35 = two 16-lane vectors and a tail of 3; then the full matrix.
            for (seed, rows, cols) in [(1u32, 7, 5), (0xdead_beef, FAN_IN, FAN_OUT)] {
                let w = sample(bug, rows, cols, &mut Stub(seed));
                for (x, y) in w.iter().zip(oracle(Stub(seed), a, rows * cols)) {
                    worst.record((f64::from(*x) - y).abs() / a, y);
                }
            }
            f.max_error(
                Label::from("(1) stub RNG: |w − a(2u − 1)|/a against the scalar oracle").markdown(r"(1) stub RNG: $\lvert w - a(2u - 1) \rvert / a$ against the scalar oracle"),
                &worst,
                2f64.powi(-23),
                "a rounded to f32 (2⁻²⁴) and one f32 product (2⁻²⁴)",
            );
            f
        },
    )
    .typeset(r"$W \sim U[-a, a]$ with $a = \sqrt{6}/\sqrt{J_i + J_{i+1}}$, so $a^2/3 = 2/(J_i + J_{i+1})$: on a $300 \times 100$ matrix the bound is exact (stub RNG), and the variance, support, shape (DKW) and mean of real draws match")
}

// ANCHOR_END: xav_23
