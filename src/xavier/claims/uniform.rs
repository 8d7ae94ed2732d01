//! The uniform initialiser itself: XAV-UNIF-VAR and eq. (23), XAV-23, with the five checks
//! of the catalogue on a non-square matrix (exact bound with a stub RNG, variance, support,
//! DKW shape, mean).

use nalgebra::DMatrix;
use rand::Rng;
use rand::rand_core::{RngCore, impls};

use super::{ROOM, power_note, stream};
use crate::claims::{
    Claim, Findings, IDENTITY_TOL, MaxError, Planted, PostVerdict, Power, identity_error,
};
use crate::simd::LANES;
use crate::stats::{ALPHA, Moments, dkw_radius, ks_dkw, normal_cdf, z_test_mean, z_test_variance};
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
                format!(
                    "(2a)²/12 against (1/2a)∫x²dx, a ∈ [1e-3, 10] (worst at a = {:.4})",
                    e.at
                ),
                &e,
                IDENTITY_TOL,
                "Simpson is exact for x²; a few roundings (CLAIMS.md §4)",
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
                "enumerated grid variance against (1 − 2⁻⁴⁶)/3",
                identity_error(grid_var, exact),
                2.0 * f64::EPSILON,
                GRID,
                "one rounding of an exact integer ratio",
            );
            f.bound(
                "grid variance against the formula at a = 1",
                identity_error(grid_var, var(1.0)),
                2f64.powi(-46),
                1,
                "the midpoint grid falls short of a²/3 by a²·2⁻⁴⁶/3",
            );
            f
        },
    )
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
    HalfOpen,
    FanSwap,
}

/// CLAIMS.md's matrix: J_i × J_{i+1} = 300 × 100, so fan mix-ups show.
const FAN_IN: usize = 300;
const FAN_OUT: usize = 100;

/// The sampler under test: what each variant draws for a 300 × 100 matrix.
fn sampler(bug: Option<Eq23Bug>) -> (Distribution, bool) {
    let (fi, fo) = (FAN_IN as f64, FAN_OUT as f64);
    let fans = Fans::new(FAN_IN, FAN_OUT).expect("non-zero");
    let xavier = Init::XavierUniform { gain: 1.0 };
    let a = spec::eq23_bound(&[FAN_IN, FAN_OUT], 1);
    let uniform = |bound: f64| Distribution::Uniform { bound };
    let d = match bug {
        None => xavier.distribution(fans).expect("valid"),
        Some(Eq23Bug::Sqrt3) => uniform(3f64.sqrt() / (fi + fo).sqrt()),
        Some(Eq23Bug::NoRoot) => uniform(6f64.sqrt() / (fi + fo)),
        Some(Eq23Bug::ProductOfFans) => uniform((6.0 / (fi * fo)).sqrt()),
        Some(Eq23Bug::LecunUniform) => Init::LecunUniform.distribution(fans).expect("valid"),
        Some(Eq23Bug::DoubleFanIn) => uniform(6f64.sqrt() / (2.0 * fi).sqrt()),
        Some(Eq23Bug::NormalSameBound) => Distribution::Normal { std: a },
        Some(Eq23Bug::NormalSameVariance) => Distribution::Normal {
            std: a / 3f64.sqrt(),
        },
        Some(Eq23Bug::HalfOpen) => uniform(a / 2.0),
        Some(Eq23Bug::FanSwap) => xavier
            .distribution(Fans::new(FAN_OUT, FAN_IN).expect("non-zero"))
            .expect("valid"),
    };
    (d, matches!(bug, Some(Eq23Bug::HalfOpen)))
}

/// Draws a `rows × cols` matrix from the variant's law for a 300 × 100 matrix (U[0, a] is
/// U[−a/2, a/2] shifted by a/2).
fn sample<R: RngCore>(bug: Option<Eq23Bug>, rows: usize, cols: usize, rng: &mut R) -> DMatrix<f32> {
    let (d, shift) = sampler(bug);
    let mut w = DMatrix::zeros(rows, cols);
    d.fill(w.as_mut_slice(), rng).expect("valid");
    if shift {
        let a = spec::eq23_bound(&[FAN_IN, FAN_OUT], 1) as f32;
        w.iter_mut().for_each(|x| *x += a / 2.0);
    }
    w
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
            (Eq23Bug::Sqrt3, Planted::bug("√3 instead of √6")),
            (
                Eq23Bug::NoRoot,
                Planted::bug("a = √6/(J_i + J_{i+1}): the root missing"),
            ),
            (
                Eq23Bug::ProductOfFans,
                Planted::bug("a = √(6/(J_i·J_{i+1}))"),
            ),
            (
                Eq23Bug::LecunUniform,
                Planted::bug("a = √(3/J_i), LeCun-uniform"),
            ),
            (
                Eq23Bug::DoubleFanIn,
                Planted::bug("the fans read from one dimension: 2·J_i"),
            ),
            (Eq23Bug::NormalSameBound, Planted::bug("Normal(0, a²)")),
            (
                Eq23Bug::NormalSameVariance,
                Planted::bug("Normal(0, a²/3): same variance, wrong shape"),
            ),
            (Eq23Bug::HalfOpen, Planted::bug("U[0, a]")),
            (
                Eq23Bug::FanSwap,
                Planted::harmless("fan-in and fan-out swapped (the formula is symmetric)"),
            ),
        ],
        |bug, ctx| {
            let a = spec::eq23_bound(&[FAN_IN, FAN_OUT], 1);
            let target = 2.0 / (FAN_IN + FAN_OUT) as f64;
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
            let se_rel = (0.8 / n as f64).sqrt();
            f.test(
                "(2) variance = a²/3 (μ₄ = a⁴/5)",
                z_test_variance(&m, target, a.powi(4) / 5.0).expect("valid"),
                ALPHA,
                // Planted variance ratios 1/2 (√3), 2/3 (LeCun, 2J_i), 3 (Normal(0, a²)),
                // about 1/4 (U[0, a]), and far smaller ones; SE = target·√(0.8/N).
                Power::new(
                    f64::NAN,
                    power_note(
                        &format!("N = {n}, SE = {:.2}%", 100.0 * se_rel),
                        [1.0 / 3.0 / se_rel].into_iter(),
                    ),
                ),
            );
            let max = draws.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
            f.bound(
                "(3) support: max|w| ≤ a (f32 a)",
                max,
                f64::from(a as f32),
                n as u64,
                "|v| < 1 and rounding is monotone; P(|z| > 1) = 0.32 for Normal(0, a²)",
            );
            let floor = a * (1.0 - 20.0 / n as f64);
            f.bound(
                format!("(3) support: a·(1 − 20/N) ≤ max|w| = {max:.6}"),
                floor - max,
                0.0,
                n as u64,
                "P(max|w| < a(1 − 20/N)) = (1 − 20/N)^N ≈ e⁻²⁰ for a correct sampler",
            );
            let mut sorted = draws.clone();
            let cdf = |x: f64| ((x + a) / (2.0 * a)).clamp(0.0, 1.0);
            // sup|F_U − F_N| for the same-variance normal, on a fine grid.
            let gap = (0..=4000)
                .map(|i| {
                    let x = -a + 2.0 * a * f64::from(i) / 4000.0;
                    (cdf(x) - normal_cdf(x * 3f64.sqrt() / a)).abs()
                })
                .fold(0.0, f64::max);
            let radius = dkw_radius(n as u64, ALPHA);
            f.test(
                "(4) shape: DKW against U[−a, a]",
                ks_dkw(&mut sorted, cdf).expect("valid"),
                ALPHA,
                Power::new(f64::NAN, format!(
                    "radius {radius:.4} at N = {n}; Normal(0, a²/3) sits {gap:.4} away, so it is \
                     rejected whenever its own deviation is below {:.4} (probability ≥ 1 − 1e-6)",
                    gap - radius
                )),);
            let se = (a * a / 3.0 / n as f64).sqrt();
            f.test(
                "(5) mean = 0",
                z_test_mean(&m, 0.0, a * a / 3.0).expect("valid"),
                ALPHA,
                Power::new(
                    f64::NAN,
                    power_note(
                        &format!("N = {n}; U[0, a] has mean a/2"),
                        [a / 2.0 / se].into_iter(),
                    ),
                ),
            );
            // (1) Exact: the bound, and the values for known bits.
            let bound = match sampler(bug) {
                (Distribution::Uniform { bound }, false) => bound,
                _ => f64::NAN,
            };
            f.bound(
                "(1) a²/3 = 2/(J_i + J_{i+1}), relative",
                identity_error(bound * bound / 3.0, target),
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
                "(1) stub RNG: |w − a(2u − 1)|/a against the scalar oracle",
                &worst,
                2f64.powi(-23),
                "a rounded to f32 (2⁻²⁴) and one f32 product (2⁻²⁴)",
            );
            f
        },
    )
}

// ANCHOR_END: xav_23
