//! Measured accuracy of the activation kernels against the f64 specification (conventions
//! appendix, Tolerances: "where a kernel approximates a function by a polynomial, its error
//! bound in ulps is itself a claim, verified on a fine grid of inputs and at the edges").
//!
//! # Error in ulps
//!
//! The reference r is the `derivations` function evaluated in f64 at the (exact) f32 input;
//! its own error, about 1e-16 relative, is invisible at f32 resolution. The error of a kernel
//! output y is |y − r| / ulp(r), where ulp(r) is the spacing of the f32 numbers in the binade
//! of r: 2^(e − 23) for 2^e ≤ |r| < 2^(e+1), and 2^-149 below 2^-126. A correctly rounded
//! result is within 0.5 ulp. The spacing is taken at the reference, not at the output, so the
//! yardstick does not depend on the kernel under test.
//!
//! Ulps are reported only where r is a normal f32 (|r| ≥ 2^-126). Where r is subnormal (σ for
//! x < −87.3) the absolute error is the honest measure, so every report carries both.
//!
//! # Special cases
//!
//! Cases where the input, the reference or the output is non-finite, or the reference is
//! zero, must match exactly: NaN ↦ NaN, ±∞ ↦ the limit, ±0 with the reference's sign. Each
//! miss counts in [`UlpReport::special_mismatches`].
//!
//! # The committed bounds are regression bounds
//!
//! [`contracts`] lists, for every kernel with an approximation or a rounding worth stating,
//! the f64 function, the inputs and the bounds. Each bound is the maximum measured over an
//! exhaustive sweep (stride 1: every f32 of the dense ranges, a coarse sweep of the rest of
//! the domain, and the edges), taken on both builds the project ships, AVX-512 with FMA
//! (`-C target-cpu=native`) and the x86-64 baseline (SSE2, no FMA), then rounded up by 1–4%;
//! the constants below say what was measured. They are therefore **regression bounds**: they
//! catch a kernel that becomes less accurate than it was measured to be, and the reasoning
//! next to each constant explains the size of the error, but they are not derived from an
//! operation count the way the tolerances of the conventions appendix are. An AVX2 build
//! without AVX-512 was not measured. (One bound is an exception: σ's subnormal
//! bound, 2^-126, holds by construction.) [`check`] runs one contract at a stride (1 =
//! exhaustive, about 2 s per contract on two cores; the CI budget subsamples). To
//! re-measure: `check(&c, 1)` for each `c` in `contracts()`, in a release build, once as is
//! and once with `RUSTFLAGS="-C target-cpu=x86-64"`.

use rayon::prelude::*;

use derivations::activation as spec;

use super::kernel::Activation;

/// The worst errors of a kernel over a set of inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UlpReport {
    /// Largest |y − r| / ulp(r) over finite cases whose reference is a normal f32.
    pub max_ulp: f64,
    /// The input where `max_ulp` occurs (in a sweep, the smallest such input); NaN when
    /// no case has a nonzero error.
    pub worst_input: f32,
    /// Largest |y − r| over all finite cases (including subnormal references).
    pub max_abs: f64,
    /// The input where `max_abs` occurs, as for `worst_input`.
    pub worst_abs_input: f32,
    /// How many inputs were evaluated.
    pub cases: u64,
    /// Special cases (see the module docs) that did not match exactly.
    pub special_mismatches: u64,
    /// The smallest input among the special mismatches.
    pub first_special_mismatch: Option<f32>,
}

impl UlpReport {
    /// The report of no cases.
    pub const EMPTY: UlpReport = UlpReport {
        max_ulp: 0.0,
        worst_input: f32::NAN,
        max_abs: 0.0,
        worst_abs_input: f32::NAN,
        cases: 0,
        special_mismatches: 0,
        first_special_mismatch: None,
    };

    /// The report of the union of both input sets. Ties go to the smaller input, so the
    /// result does not depend on the order in which parallel pieces are merged.
    pub fn merge(self, other: UlpReport) -> UlpReport {
        let (max_ulp, worst_input) = worse(
            (self.max_ulp, self.worst_input),
            (other.max_ulp, other.worst_input),
        );
        let (max_abs, worst_abs_input) = worse(
            (self.max_abs, self.worst_abs_input),
            (other.max_abs, other.worst_abs_input),
        );
        let first_special_mismatch =
            match (self.first_special_mismatch, other.first_special_mismatch) {
                (Some(a), Some(b)) => Some(if order_key(b) < order_key(a) { b } else { a }),
                (a, b) => a.or(b),
            };
        UlpReport {
            max_ulp,
            worst_input,
            max_abs,
            worst_abs_input,
            cases: self.cases + other.cases,
            special_mismatches: self.special_mismatches + other.special_mismatches,
            first_special_mismatch,
        }
    }

    /// True when nothing special was missed and both maxima are within the bounds.
    pub fn within(&self, max_ulp: f64, max_abs: f64) -> bool {
        self.special_mismatches == 0 && self.max_ulp <= max_ulp && self.max_abs <= max_abs
    }
}

/// The larger error; on a tie the smaller input (in the order of the real line).
fn worse(a: (f64, f32), b: (f64, f32)) -> (f64, f32) {
    if b.0 > a.0
        || (b.0 == a.0 && !b.1.is_nan() && (a.1.is_nan() || order_key(b.1) < order_key(a.1)))
    {
        b
    } else {
        a
    }
}

/// The spacing of f32 numbers at the real number `r`: 2^(e − 23) in the binade
/// 2^e ≤ |r| < 2^(e+1), 2^-149 below 2^-126, and 2^104 at and beyond 2^128.
pub fn ulp(r: f64) -> f64 {
    let a = r.abs();
    if a < f64::from(f32::MIN_POSITIVE) {
        return f64::from(f32::from_bits(1)); // 2^-149
    }
    // a is a normal f64, so its biased exponent field e + 1023 names its binade; the
    // f64 with biased exponent e − 23 + 1023 and a zero fraction is 2^(e − 23).
    let biased = (a.to_bits() >> 52).min(127 + 1023);
    f64::from_bits((biased - 23) << 52)
}

/// |y − r| in units of ulp(r).
pub fn ulps(y: f32, r: f64) -> f64 {
    (f64::from(y) - r).abs() / ulp(r)
}

/// True when `y` matches a special-case reference `r` exactly (NaN for NaN, equal values,
/// and the same sign for zeros and infinities).
fn matches_exactly(y: f32, r: f64) -> bool {
    if r.is_nan() {
        return y.is_nan();
    }
    f64::from(y) == r && y.is_sign_negative() == r.is_sign_negative()
}

/// The error report of `kernel` against `reference` on `inputs` (any order; the kernel is
/// called on slices of up to 8 Ki inputs, so it also runs its SIMD tails).
pub fn ulp_error(
    kernel: impl Fn(&[f32], &mut [f32]) + Sync,
    reference: impl Fn(f64) -> f64 + Sync,
    inputs: &[f32],
) -> UlpReport {
    inputs
        .par_chunks(CHUNK)
        .map(|x| {
            let mut y = vec![0.0f32; x.len()];
            kernel(x, &mut y);
            report(x, &y, &reference)
        })
        .reduce(|| UlpReport::EMPTY, UlpReport::merge)
}

/// Inputs per parallel piece: large enough to amortise the scheduling, small enough for
/// the buffers to stay in L1/L2 and be recycled by the allocator.
const CHUNK: usize = 1 << 13;

/// The report of outputs `y` already computed for inputs `x` (same length).
pub fn report(x: &[f32], y: &[f32], reference: impl Fn(f64) -> f64) -> UlpReport {
    assert_eq!(x.len(), y.len(), "one output per input");
    let mut out = UlpReport {
        cases: x.len() as u64,
        ..UlpReport::EMPTY
    };
    for (&x, &y) in x.iter().zip(y) {
        let r = reference(f64::from(x));
        let special = !x.is_finite() || !r.is_finite() || r == 0.0 || !y.is_finite();
        if special {
            if !matches_exactly(y, r) {
                out.special_mismatches += 1;
                let first = out.first_special_mismatch.get_or_insert(x);
                if order_key(x) < order_key(*first) {
                    *first = x;
                }
            }
            continue;
        }
        let abs = (f64::from(y) - r).abs();
        // Strictly greater: on ties the first input in slice order stays.
        if abs > out.max_abs {
            (out.max_abs, out.worst_abs_input) = (abs, x);
        }
        if r.abs() >= f64::from(f32::MIN_POSITIVE) {
            let u = abs / ulp(r);
            if u > out.max_ulp {
                (out.max_ulp, out.worst_input) = (u, x);
            }
        }
    }
    out
}

/// A key that orders f32s as the real line does (−∞ < … < −0 < +0 < … < +∞), NaNs with the
/// sign bit set below −∞ and the others above +∞.
fn order_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 { !b } else { b | 0x8000_0000 }
}

/// The f32 of an order key (inverse of `order_key`).
fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7FFF_FFFF } else { !k })
}

/// Every `stride`-th f32 from `lo` up to `hi` (both included when they are on the grid), in
/// increasing order; −0 and +0 are both visited. `stride` = 1 is every f32 in the range.
pub fn sweep_inputs(lo: f32, hi: f32, stride: u32) -> impl Iterator<Item = f32> {
    assert!(stride > 0, "stride must be positive");
    let (a, b) = (order_key(lo), order_key(hi));
    (a..=b).step_by(stride as usize).map(from_order_key)
}

/// The report of `kernel` on every `stride`-th f32 in [lo, hi], streamed in pieces across
/// the cores (no array of all inputs is ever built).
pub fn sweep(
    kernel: impl Fn(&[f32], &mut [f32]) + Sync,
    reference: impl Fn(f64) -> f64 + Sync,
    lo: f32,
    hi: f32,
    stride: u32,
) -> UlpReport {
    assert!(stride > 0, "stride must be positive");
    let (a, b) = (u64::from(order_key(lo)), u64::from(order_key(hi)));
    if a > b {
        return UlpReport::EMPTY;
    }
    let s = u64::from(stride);
    let count = (b - a) / s + 1;
    let pieces = count.div_ceil(CHUNK as u64);
    (0..pieces)
        .into_par_iter()
        .map(|p| {
            let first = p * CHUNK as u64;
            let n = (count - first).min(CHUNK as u64);
            let x: Vec<f32> = (0..n)
                .map(|i| from_order_key((a + (first + i) * s) as u32))
                .collect();
            let mut y = vec![0.0f32; x.len()];
            kernel(&x, &mut y);
            report(&x, &y, &reference)
        })
        .reduce(|| UlpReport::EMPTY, UlpReport::merge)
}

/// The edges every kernel is checked on (both signs of each): zeros, the smallest and
/// largest subnormals, the smallest normal, values around 1, the tanh clamp (9.5), where σ
/// rounds to 1 (17.33), the overflow range of e^x (80 to 90, through ln(f32::MAX) ≈ 88.72
/// and the subnormal onset of σ at −87.34), where e^x underflows completely (103.97),
/// 1e3, 1e30, f32::MAX and ±∞; and NaNs (quiet, negative, signalling-payload).
pub fn edge_inputs() -> Vec<f32> {
    let mut magnitudes = vec![
        0.0,
        f32::from_bits(1),
        f32::from_bits(2),
        f32::from_bits(0x007F_FFFF),
        f32::MIN_POSITIVE,
        f32::MIN_POSITIVE * 2.0,
        f32::EPSILON,
        2f32.powi(-12),
        0.25,
        0.5,
        0.549_306_15, // artanh(1/2)
        1.0,
        2.0,
        9.0,
        9.010_913, // where tanh starts to round to 1
        9.5,
        10.0,
        17.328_68,
        20.0,
        87.336_55,
        88.0,
        88.376_26,
        88.722_84,
        88.722_84f32.next_up(),
        103.278_93,
        103.972_08,
        104.0,
        1e3,
        1e30,
        f32::MAX,
        f32::INFINITY,
    ];
    magnitudes.extend((160..=180).map(|i| i as f32 * 0.5)); // 80, 80.5, …, 90
    let mut edges: Vec<f32> = magnitudes.iter().flat_map(|&m| [m, -m]).collect();
    edges.extend([
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7F80_0001),
        f32::from_bits(0xFFC0_0001),
    ]);
    edges
}

/// How a kernel is bounded: what it computes, against which f64 function, over which
/// inputs, within what errors.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    /// Short name, e.g. "tanh" or "sigmoid' (x ≤ 0)".
    pub name: &'static str,
    /// The kernel under test.
    pub kernel: fn(&[f32], &mut [f32]),
    /// The f64 specification from `derivations`.
    pub reference: fn(f64) -> f64,
    /// Where the bounds are claimed: every f32 in [lo, hi], swept at a coarse stride, plus
    /// the edges that lie in it (NaNs always).
    pub domain: (f32, f32),
    /// The parts of the domain swept at the caller's stride (1 = every f32): where the
    /// kernel's rounding varies. Outside them the arithmetic is saturated or trivially
    /// scaled (tiny inputs, σ = 1, tanh = ±1) and the coarse sweep samples it.
    pub dense: &'static [(f32, f32)],
    /// The committed bound on [`UlpReport::max_ulp`] (∞ where ulps are not claimed).
    pub max_ulp: f64,
    /// The committed bound on [`UlpReport::max_abs`] (∞ where not claimed).
    pub max_abs: f64,
}

impl Contract {
    /// True when `report` keeps this contract's bounds (and matched every special case).
    pub fn holds(&self, report: &UlpReport) -> bool {
        report.within(self.max_ulp, self.max_abs)
    }
}

/// The coarse sweep of a whole domain visits every (stride × SPARSE)-th f32: 4.2 million
/// points of the full line at stride 1.
pub const SPARSE: u32 = 1021;

/// The report of one contract's kernel: dense ranges at `stride`, the domain at
/// `stride × SPARSE`, and the edges in the domain.
pub fn check(contract: &Contract, stride: u32) -> UlpReport {
    check_kernel(contract, contract.kernel, stride)
}

/// As [`check`], with another kernel in the contract's place (a planted bug).
pub fn check_kernel(
    contract: &Contract,
    kernel: impl Fn(&[f32], &mut [f32]) + Sync,
    stride: u32,
) -> UlpReport {
    let (lo, hi) = contract.domain;
    let reference = contract.reference;
    let edges: Vec<f32> = edge_inputs()
        .into_iter()
        .filter(|x| x.is_nan() || (lo..=hi).contains(x))
        .collect();
    let mut report = ulp_error(&kernel, reference, &edges);
    report = report.merge(sweep(
        &kernel,
        reference,
        lo,
        hi,
        stride.saturating_mul(SPARSE),
    ));
    for &(a, b) in contract.dense {
        report = report.merge(sweep(&kernel, reference, a, b, stride));
    }
    report
}

/// 2^-12: below it tanh(x) = x(1 − x²/3 + …) and σ(x) = 1/2 + x/4 − … are within 2^-24
/// relative of their first terms, and the kernels' arithmetic only rescales.
const TINY: f32 = 1.0 / 4096.0;

const TANH_DENSE: &[(f32, f32)] = &[(-9.5, -TINY), (TINY, 9.5)];
const SIGMOID_DENSE: &[(f32, f32)] = &[(-104.0, -TINY), (TINY, 17.5)];
/// softsign keeps changing until 1/(1 + |x|) drops below 2^-25 (|x| ≈ 3.4e7); its
/// arithmetic (one addition, one division) is the same in every binade, so 2^24 suffices.
const SOFTSIGN_DENSE: &[(f32, f32)] = &[(-16_777_216.0, -TINY), (TINY, 16_777_216.0)];

fn tanh(x: &[f32], y: &mut [f32]) {
    Activation::Tanh.forward(x, y).expect("same length");
}

fn sigmoid(x: &[f32], y: &mut [f32]) {
    Activation::Sigmoid.forward(x, y).expect("same length");
}

fn softsign(x: &[f32], y: &mut [f32]) {
    Activation::Softsign.forward(x, y).expect("same length");
}

/// The kernel computes tanh' from its own output, 1 − y², so this measures the path
/// backprop takes (`derivative_from_output` on a stored y = tanh(x)).
fn tanh_derivative(x: &[f32], y: &mut [f32]) {
    Activation::Tanh.derivative(x, y).expect("same length");
}

/// σ' = y(1 − y) from the kernel's own y = σ(x), as in backprop.
fn sigmoid_derivative(x: &[f32], y: &mut [f32]) {
    Activation::Sigmoid.derivative(x, y).expect("same length");
}

fn softsign_derivative(x: &[f32], y: &mut [f32]) {
    Activation::Softsign.derivative(x, y).expect("same length");
}

/// 2^-24, the ulp of f32 values in [1/2, 1): the unit of the absolute bounds below.
pub const HALF_EPSILON: f64 = f32::EPSILON as f64 / 2.0;

/// tanh, a regression bound: measured 2.419 ulp (AVX-512; at x = ±0.00777) and 2.424 (baseline; ±0.0312).
/// The worst cases are small inputs, where m/(m + 2) rounds m + 2 ≈ 2 at 2^-23 (up to 1 ulp
/// of the quotient) on top of m's and the quotient's own roundings; for |x| ≥ 0.3 the
/// maximum is 1.5 ulp.
pub const TANH_MAX_ULP: f64 = 2.5;

/// σ, a regression bound: measured 2.444 ulp on both builds (at x = −16.6425, where 2^n + 1 = 2^24 + 1 is no
/// longer exact); below 2.06 for x ≥ −16.3 and 1.5 for x ≥ 0. Claimed where σ(x) is a
/// normal f32 (x ≥ −87.33); below, [`SIGMOID_SUBNORMAL_MAX_ABS`].
pub const SIGMOID_MAX_ULP: f64 = 2.5;

/// σ where its value is subnormal or flushed to 0 (x < −87.33), a bound by construction: measured 6.05e-39 (at
/// x = −88, the flush point), below the bound 2^-126 ≈ 1.18e-38 by construction: every
/// output there is either a rounded quotient or +0 where σ < 6.1e-39.
pub const SIGMOID_SUBNORMAL_MAX_ABS: f64 = f32::MIN_POSITIVE as f64;

/// softsign x/(1 + |x|), a regression bound: measured 1.4992 ulp on both builds. By reasoning, one rounding of
/// 1 + |x| (at most 2^-24 relative, 1 ulp of the result) and one of the quotient (0.5 ulp)
/// give 1.5.
pub const SOFTSIGN_MAX_ULP: f64 = 1.55;

/// softsign' 1/(1 + |x|)² from the input, a regression bound: measured 3.463 ulp on both builds. The rounding
/// of 1 + |x| counts twice after squaring (2 ulp), plus the product's and the quotient's.
pub const SOFTSIGN_DERIVATIVE_MAX_ULP: f64 = 3.5;

/// tanh' = 1 − y² from the kernel's y (as backprop computes it), absolute, a regression
/// bound: measured
/// 1.784e-7 = 2.99·2^-24 (AVX-512) and 2.073e-7 = 3.48·2^-24 (baseline, where y² is rounded
/// before the subtraction), near |x| ≈ 3.1 to 3.8. Reasoned: y is within 1.5 ulp = 1.5·2^-24
/// of tanh there, so y² within 3·2^-24, plus the rounding of y² without FMA (2^-25).
/// Relative error is unbounded: for |x| ≳ 8.3 the f32 y rounds to 1 and 1 − y² to 0.
pub const TANH_DERIVATIVE_MAX_ABS: f64 = 4.0 * HALF_EPSILON;

/// tanh' for |x| ≤ 0.55 (y² ≤ 1/4: 1 − y² does not cancel), a regression bound: measured 1.463 ulp (AVX-512)
/// and 1.623 (baseline).
pub const TANH_DERIVATIVE_MAX_ULP: f64 = 1.75;

/// σ' = y(1 − y) from the kernel's y, absolute, a regression bound: measured 8.93e-8 = 1.498·2^-24 on both
/// builds (near x ≈ 7.9 to 8.7). Reasoned: for y ≥ 1/2, 1 − y is exact, so the error is
/// y's (at most 1.5 ulp = 1.5·2^-24 there) times |1 − 2y| ≤ 1, plus the product's rounding.
/// Relative error is unbounded for large x, where y rounds to 1 and σ' to 0.
pub const SIGMOID_DERIVATIVE_MAX_ABS: f64 = 2.0 * HALF_EPSILON;

/// σ' for x ≤ 0 (y ≤ 1/2: 1 − y does not cancel), a regression bound: measured 2.482 ulp (AVX-512) and 2.443
/// (baseline); y's error plus two roundings.
pub const SIGMOID_DERIVATIVE_MAX_ULP: f64 = 2.6;

/// Every committed contract.
pub fn contracts() -> Vec<Contract> {
    const ALL: (f32, f32) = (f32::NEG_INFINITY, f32::INFINITY);
    vec![
        Contract {
            name: "tanh",
            kernel: tanh,
            reference: spec::tanh_stable,
            domain: ALL,
            dense: TANH_DENSE,
            max_ulp: TANH_MAX_ULP,
            max_abs: f64::INFINITY,
        },
        Contract {
            name: "sigmoid",
            kernel: sigmoid,
            reference: spec::sigmoid_stable,
            domain: ALL,
            dense: SIGMOID_DENSE,
            max_ulp: SIGMOID_MAX_ULP,
            max_abs: f64::INFINITY,
        },
        Contract {
            name: "sigmoid (subnormal outputs)",
            kernel: sigmoid,
            reference: spec::sigmoid_stable,
            domain: (f32::NEG_INFINITY, -87.0),
            dense: &[(-104.0, -87.0)],
            max_ulp: SIGMOID_MAX_ULP,
            max_abs: SIGMOID_SUBNORMAL_MAX_ABS,
        },
        Contract {
            name: "softsign",
            kernel: softsign,
            reference: spec::softsign,
            domain: ALL,
            dense: SOFTSIGN_DENSE,
            max_ulp: SOFTSIGN_MAX_ULP,
            max_abs: f64::INFINITY,
        },
        Contract {
            name: "tanh'",
            kernel: tanh_derivative,
            reference: spec::tanh_derivative,
            domain: ALL,
            dense: TANH_DENSE,
            max_ulp: f64::INFINITY,
            max_abs: TANH_DERIVATIVE_MAX_ABS,
        },
        Contract {
            name: "tanh' (|x| ≤ 0.55)",
            kernel: tanh_derivative,
            reference: spec::tanh_derivative,
            domain: (-0.55, 0.55),
            dense: &[(-0.55, -TINY), (TINY, 0.55)],
            max_ulp: TANH_DERIVATIVE_MAX_ULP,
            max_abs: f64::INFINITY,
        },
        Contract {
            name: "sigmoid'",
            kernel: sigmoid_derivative,
            reference: spec::sigmoid_derivative,
            domain: ALL,
            dense: SIGMOID_DENSE,
            max_ulp: f64::INFINITY,
            max_abs: SIGMOID_DERIVATIVE_MAX_ABS,
        },
        Contract {
            name: "sigmoid' (x ≤ 0)",
            kernel: sigmoid_derivative,
            reference: spec::sigmoid_derivative,
            domain: (f32::NEG_INFINITY, 0.0),
            dense: &[(-104.0, -TINY)],
            max_ulp: SIGMOID_DERIVATIVE_MAX_ULP,
            max_abs: f64::INFINITY,
        },
        Contract {
            name: "softsign'",
            kernel: softsign_derivative,
            reference: spec::softsign_derivative,
            domain: ALL,
            dense: SOFTSIGN_DENSE,
            max_ulp: SOFTSIGN_DERIVATIVE_MAX_ULP,
            max_abs: f64::INFINITY,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_key_round_trips_and_orders() {
        let xs = [
            f32::NEG_INFINITY,
            -1.0,
            -0.0,
            0.0,
            f32::from_bits(1),
            1.0,
            f32::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]));
        }
        for x in xs {
            assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
        }
    }
}
