//! Exact binomial tests, for keep rates and mask counts.
//!
//! `statrs`'s binomial CDF goes through a continued fraction capped at 140 terms, which does not
//! converge near the mean once n·p·q is in the thousands, and its log-pmf loses about 1e-7
//! (relative) to cancellation at n = 1e8. So this module computes:
//!
//! - the log-pmf with the saddle-point form of Loader (2000), "Fast and accurate computation of
//!   binomial probabilities":
//!   ln P(X = k) = δ(n) − δ(k) − δ(n−k) − D(k, np) − D(n−k, nq) + ½·ln(n / (2π·k·(n−k))),
//!   where δ(m) = ln m! − ln(√(2πm)·(m/e)^m) is the Stirling error and
//!   D(x, M) = x·ln(x/M) + M − x the deviance term, each computed without cancellation;
//! - tails by summing the pmf outward from the point nearest the mode, with the ratio
//!   recurrence, stopping once a geometric bound on the remainder is below 1e-17 of the sum.
//!   This costs O(√(n·p·q)) steps (tens of thousands at n = 1e8), never O(n), and sums only
//!   positive terms (no cancellation), so small p-values keep their relative accuracy.

use statrs::function::gamma::ln_gamma;

use super::{TestOutcome, require};
use crate::Result;

/// The relative tolerance under which two pmf values count as equal in the two-sided test,
/// so that the symmetric case is not decided by rounding (the convention of R and SciPy).
const TIE_TOLERANCE: f64 = 1e-7;

/// Stirling error δ(m) = ln m! − (m + ½)·ln m + m − ½·ln(2π), for integer m ≥ 1.
fn stirling_error(m: f64) -> f64 {
    if m <= 15.0 {
        // Small m: direct, the terms are below 40 so the absolute error is ~1e-14.
        ln_gamma(m + 1.0) - (m + 0.5) * m.ln() + m - 0.5 * (2.0 * std::f64::consts::PI).ln()
    } else {
        // Asymptotic series Σ B_{2j} / (2j(2j−1)·m^{2j−1}); the first omitted term,
        // 691/(360360·m¹¹), is below 2e-16 for m > 15.
        let s = 1.0 / m;
        let s2 = s * s;
        (1.0 / 12.0 - s2 * (1.0 / 360.0 - s2 * (1.0 / 1260.0 - s2 * (1.0 / 1680.0 - s2 / 1188.0))))
            * s
    }
}

/// Deviance term D(x, M) = x·ln(x/M) + M − x ≥ 0, for x > 0, M > 0. Near x = M it uses
/// v = (x − M)/(x + M) and x·ln(x/M) = 2x·artanh(v), giving
/// D = (x − M)·v + 2x·Σ_{j≥1} v^{2j+1}/(2j+1), with no cancellation.
fn deviance(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let v2 = v * v;
        let mut sum = (x - m) * v;
        let mut term = 2.0 * x * v;
        for j in 1..200 {
            term *= v2;
            let next = sum + term / f64::from(2 * j + 1);
            if next == sum {
                break;
            }
            sum = next;
        }
        sum
    } else {
        x * (x / m).ln() + m - x
    }
}

/// ln P(X = k) for X ~ Binomial(n, p), with a relative error of a few 1e-16 in the pmf for any
/// n (Loader's saddle-point form, see the module docs).
///
/// k > n gives −∞; p outside [0, 1] or NaN gives NaN.
pub fn binomial_ln_pmf(k: u64, n: u64, p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if k > n {
        return f64::NEG_INFINITY;
    }
    let point_mass = |at: u64| if k == at { 0.0 } else { f64::NEG_INFINITY };
    if p == 0.0 {
        return point_mass(0);
    }
    if p == 1.0 {
        return point_mass(n);
    }
    let nf = n as f64;
    if k == 0 {
        return nf * (-p).ln_1p();
    }
    if k == n {
        return nf * p.ln();
    }
    let (kf, rest) = (k as f64, (n - k) as f64);
    let q = 1.0 - p;
    stirling_error(nf)
        - stirling_error(kf)
        - stirling_error(rest)
        - deviance(kf, nf * p)
        - deviance(rest, nf * q)
        + 0.5 * (nf / (2.0 * std::f64::consts::PI * kf * rest)).ln()
}

/// A mode of Binomial(n, p) for p in (0, 1): the pmf is non-decreasing on [0, mode] and
/// non-increasing on [mode, n].
fn mode(n: u64, p: f64) -> u64 {
    // floor((n + 1)·p) is a mode; the two nudges undo rounding of the product.
    let mut m = (((n as f64) + 1.0) * p).floor().min(n as f64) as u64;
    while m > 0 && binomial_ln_pmf(m - 1, n, p) > binomial_ln_pmf(m, n, p) {
        m -= 1;
    }
    while m < n && binomial_ln_pmf(m + 1, n, p) > binomial_ln_pmf(m, n, p) {
        m += 1;
    }
    m
}

/// ln Σ P(X = j) over the tail that starts at `start` and runs away from the mode: j ≤ start
/// when `upper` is false (needs start ≤ mode), j ≥ start when it is true (needs start ≥ mode).
/// The ratio of successive terms shrinks away from the mode, so after a term t with ratio r < 1
/// the remainder is at most t·r/(1 − r); the sum stops when that is below 1e-17 of the total.
fn ln_tail_from(start: u64, n: u64, p: f64, upper: bool) -> f64 {
    let q = 1.0 - p;
    let (nf, mut j) = (n as f64, start);
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    loop {
        let ratio = if upper {
            if j == n {
                break;
            }
            // P(j+1)/P(j) = (n − j)/(j + 1) · p/q
            ((nf - j as f64) * p) / ((j as f64 + 1.0) * q)
        } else {
            if j == 0 {
                break;
            }
            // P(j−1)/P(j) = j/(n − j + 1) · q/p
            (j as f64 * q) / ((nf - j as f64 + 1.0) * p)
        };
        term *= ratio;
        sum += term;
        j = if upper { j + 1 } else { j - 1 };
        if ratio < 1.0 && term * ratio / (1.0 - ratio) <= 1e-17 * sum {
            break;
        }
    }
    binomial_ln_pmf(start, n, p) + sum.ln()
}

/// P(X ≥ k) for X ~ Binomial(n, p) (upper tail, k included), to ~1e-13 relative for
/// n ≤ 1e6 and ~1e-11 at n = 1e8.
/// P(X ≤ k) is `1 − binomial_tail(k + 1, ..)`, or for small values
/// `binomial_tail(n − k, n, 1 − p)`.
///
/// p outside [0, 1] or NaN gives NaN.
pub fn binomial_tail(k: u64, n: u64, p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if p == 0.0 || p == 1.0 {
        // Point mass at 0 (k ≥ 1 here) or at n (k ≤ n here).
        return if p == 0.0 { 0.0 } else { 1.0 };
    }
    let m = mode(n, p);
    if k >= m {
        ln_tail_from(k, n, p, true).exp().min(1.0)
    } else {
        (1.0 - ln_tail_from(k - 1, n, p, false).exp()).max(0.0)
    }
}

/// The exact (Clopper–Pearson) one-sided upper confidence bound at level 1 − α on p, having
/// seen k successes in n trials: the largest p with P(X ≤ k) ≥ α for X ~ Binomial(n, p).
/// With k = 0 it is 1 − α^(1/n), about −ln(α)/n. 1 when k ≥ n (or n = 0).
///
/// ```
/// use proofs_engine::stats::binomial_upper_bound;
/// // No failure in 200 runs: at 95 % the failure rate is below 1 − 0.05^(1/200).
/// assert!((binomial_upper_bound(0, 200, 0.05) - (1.0 - 0.05f64.powf(1.0 / 200.0))).abs() < 1e-9);
/// ```
pub fn binomial_upper_bound(k: u64, n: u64, alpha: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    // P(X ≤ k) falls as p grows: bisect on it from the observed rate up.
    let cdf = |p: f64| 1.0 - binomial_tail(k + 1, n, p);
    let (mut lo, mut hi) = (k as f64 / n as f64, 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) >= alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The matching lower bound: the least p with P(X ≥ k) ≥ α (0 when k = 0, NaN when k > n).
pub fn binomial_lower_bound(k: u64, n: u64, alpha: f64) -> f64 {
    if k > n {
        return f64::NAN;
    }
    1.0 - binomial_upper_bound(n - k, n, alpha)
}

fn check_counts(successes: u64, trials: u64, p: f64) -> Result<()> {
    require((0.0..=1.0).contains(&p), "p", p, "[0, 1]")?;
    require(
        successes <= trials,
        "successes",
        successes as f64,
        "[0, trials]",
    )
}

/// Exact two-sided binomial test of `successes` out of `trials` against success probability
/// `p`: the p-value is Σ P(X = j) over all j with P(X = j) ≤ P(X = k)·(1 + 1e-7), the
/// "minimum-likelihood" two-sided test of R's `binom.test` and SciPy's `binomtest`.
///
/// The pmf is unimodal, so that set is {0..=a} ∪ {b..=n}; a and b are found by bisection on
/// the log-pmf and the two tails summed exactly (see the module docs). Accurate for n far
/// beyond 1e8, in O(√(n·p·q) + log n) time. The statistic is k; `trials = 0` gives p = 1.
///
/// # Errors
/// [`crate::Error::ParameterOutOfRange`] when p is outside [0, 1] (or NaN) or
/// `successes > trials`.
pub fn binomial(successes: u64, trials: u64, p: f64) -> Result<TestOutcome> {
    check_counts(successes, trials, p)?;
    let (k, n) = (successes, trials);
    let outcome = |p_value: f64| TestOutcome {
        test: "exact two-sided binomial",
        statistic: k as f64,
        n,
        p_value,
    };
    if p == 0.0 || p == 1.0 {
        // Point mass: the observation is either the only possible one or impossible.
        let at = if p == 0.0 { 0 } else { n };
        return Ok(outcome(if k == at { 1.0 } else { 0.0 }));
    }
    let threshold = binomial_ln_pmf(k, n, p) + TIE_TOLERANCE.ln_1p();
    let included = |j: u64| binomial_ln_pmf(j, n, p) <= threshold;
    let m = mode(n, p);
    if included(m) {
        return Ok(outcome(1.0));
    }
    // Lower part {0..=a}: included(j) is monotone (true then false) on [0, m].
    let lower = if included(0) {
        let (mut lo, mut hi) = (0, m); // included(lo), !included(hi)
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if included(mid) { lo = mid } else { hi = mid }
        }
        ln_tail_from(lo, n, p, false).exp()
    } else {
        0.0
    };
    // Upper part {b..=n}: included(j) is monotone (false then true) on [m, n].
    let upper = if included(n) {
        let (mut lo, mut hi) = (m, n); // !included(lo), included(hi)
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if included(mid) { hi = mid } else { lo = mid }
        }
        ln_tail_from(hi, n, p, true).exp()
    } else {
        0.0
    };
    Ok(outcome((lower + upper).min(1.0)))
}

/// Exact one-sided binomial test, alternative "greater": p-value P(X ≥ k) under
/// X ~ Binomial(trials, p). The statistic is k; `trials = 0` gives p = 1.
///
/// # Errors
/// As [`binomial`].
pub fn binomial_greater(successes: u64, trials: u64, p: f64) -> Result<TestOutcome> {
    check_counts(successes, trials, p)?;
    Ok(TestOutcome {
        test: "exact one-sided binomial (greater)",
        statistic: successes as f64,
        n: trials,
        p_value: binomial_tail(successes, trials, p),
    })
}

/// One-sided exact sign test: p-value P(X ≥ k) for X ~ Binomial(trials, ½), the chance of at
/// least `successes` wins out of `trials` fair coin flips. 8/10 gives 56/1024 ≈ 0.0547 and
/// 9/10 gives 11/1024 ≈ 0.0107 (the values a two-sided table quotes as 0.055 and 0.011).
///
/// # Errors
/// [`crate::Error::ParameterOutOfRange`] when `successes > trials`.
pub fn sign_test(successes: u64, trials: u64) -> Result<TestOutcome> {
    let mut outcome = binomial_greater(successes, trials, 0.5)?;
    outcome.test = "one-sided sign test";
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ALPHA;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn clopper_pearson_bounds() {
        // R: binom.test(1, 20, alternative = "less")$conf.int[2] = 0.2161 and
        // binom.test(19, 20, alternative = "greater")$conf.int[1] = 0.7839.
        assert!((binomial_upper_bound(1, 20, 0.05) - 0.2161).abs() < 1e-4);
        assert!((binomial_lower_bound(19, 20, 0.05) - 0.7839).abs() < 1e-4);
        assert_eq!(binomial_upper_bound(3, 3, 0.05), 1.0);
        assert_eq!(binomial_lower_bound(0, 3, 0.05), 0.0);
        assert!(binomial_lower_bound(4, 3, 0.05).is_nan());
    }

    /// Exact pmf by the product formula in f64, for small n only.
    fn naive_pmf(k: u64, n: u64, p: f64) -> f64 {
        let mut c = 1.0f64;
        for i in 0..k {
            c = c * (n - i) as f64 / (i + 1) as f64;
        }
        c * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32)
    }

    #[test]
    fn ln_pmf_matches_direct_formula_and_sums_to_one() {
        for (n, p) in [(1u64, 0.3), (10, 0.5), (20, 0.3), (37, 0.01), (60, 0.97)] {
            let mut total = 0.0;
            for k in 0..=n {
                let got = binomial_ln_pmf(k, n, p).exp();
                let want = naive_pmf(k, n, p);
                assert!(
                    close(got, want, 1e-12),
                    "n {n} p {p} k {k}: {got} vs {want}"
                );
                total += got;
            }
            assert!((total - 1.0).abs() < 1e-13, "n {n} p {p}: total {total}");
        }
        assert_eq!(binomial_ln_pmf(3, 2, 0.5), f64::NEG_INFINITY);
        assert_eq!(binomial_ln_pmf(0, 5, 0.0), 0.0);
        assert_eq!(binomial_ln_pmf(5, 5, 1.0), 0.0);
        assert_eq!(binomial_ln_pmf(4, 5, 1.0), f64::NEG_INFINITY);
        assert!(binomial_ln_pmf(1, 5, 1.5).is_nan());
    }

    #[test]
    fn ln_pmf_at_large_n() {
        // Central term of Binomial(1e8, 1/2): by Stirling with its 1/(4n) correction,
        // P(X = n/2) = √(2/(πn))·(1 − 1/(4n) + O(n⁻²)), here 7.978845598...e-5.
        let n = 100_000_000u64;
        let want = (2.0 / (std::f64::consts::PI * n as f64)).sqrt() * (1.0 - 0.25 / n as f64);
        let got = binomial_ln_pmf(n / 2, n, 0.5).exp();
        assert!(close(got, want, 1e-13), "{got} vs {want}");
        // Symmetry P(k) = P(n − k) at p = 1/2, to full precision.
        let (a, b) = (
            binomial_ln_pmf(n / 2 - 12_345, n, 0.5),
            binomial_ln_pmf(n / 2 + 12_345, n, 0.5),
        );
        assert!((a - b).abs() < 1e-13);
    }

    #[test]
    fn two_sided_matches_scipy_binomtest() {
        // scipy 1.17.1: scipy.stats.binomtest(k, n, p).pvalue
        let cases: [(u64, u64, f64, f64); 18] = [
            (3, 20, 0.3, 0.22041826738070913),
            (9, 20, 0.3, 0.1488145951754469),
            (13, 20, 0.3, 0.0020768022671963393),
            (6, 20, 0.3, 1.0),
            (10, 20, 0.5, 1.0),
            (0, 10, 0.1, 0.6125795109999999),
            (7, 10, 0.5, 0.34375),
            (2, 10, 0.5, 0.109375),
            (480, 1000, 0.5, 0.2174482932041415),
            (5, 100, 0.02, 0.05083044536950036),
            (0, 100, 0.02, 0.27365799249645795),
            (802_000, 1_000_000, 0.8, 5.585810846179987e-07),
            (797_000, 1_000_000, 0.8, 7.08441514402196e-14),
            (50_030_000, 100_000_000, 0.5, 1.9743887035392348e-09),
            (10_015_000, 100_000_000, 0.1, 5.762834272908777e-07),
            (9_985_000, 100_000_000, 0.1, 5.708296870227551e-07),
            (10_000_000, 100_000_000, 0.1, 1.0),
            (10_100_000, 100_000_000, 0.1, 6.529248665980572e-243),
        ];
        for (k, n, p, want) in cases {
            let o = binomial(k, n, p).unwrap();
            assert_eq!(
                (o.test, o.statistic, o.n),
                ("exact two-sided binomial", k as f64, n)
            );
            // Measured agreement: ≤ 4e-14 for n ≤ 1e6, ≤ 2e-11 at n = 1e8 (where both sides
            // sum tens of thousands of terms); 1e-10 leaves room for libm differences.
            assert!(
                close(o.p_value, want, 1e-10),
                "{k}/{n} at {p}: {} vs {want}",
                o.p_value
            );
        }
        // The catalogue's threshold: 2000 above the mean of Binomial(1e6, 0.8) is 5 SD, rejected.
        assert!(binomial(802_000, 1_000_000, 0.8).unwrap().rejects_at(ALPHA));
        assert!(!binomial(801_000, 1_000_000, 0.8).unwrap().rejects_at(ALPHA));
    }

    #[test]
    fn two_sided_matches_brute_force_definition() {
        // Σ P(j) over P(j) ≤ P(k)(1 + 1e-7), by direct enumeration with the naive pmf.
        for (n, p) in [(15u64, 0.5), (30, 0.23), (41, 0.9), (7, 0.01)] {
            for k in 0..=n {
                let pk = naive_pmf(k, n, p);
                let want: f64 = (0..=n)
                    .map(|j| naive_pmf(j, n, p))
                    .filter(|&pj| pj <= pk * (1.0 + 1e-7))
                    .sum::<f64>()
                    .min(1.0);
                let got = binomial(k, n, p).unwrap().p_value;
                assert!(close(got, want, 1e-11), "{k}/{n} at {p}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn one_sided_and_sign_test() {
        // scipy 1.17.1: scipy.stats.binomtest(k, n, 0.5, alternative='greater').pvalue;
        // for n = 10 these are exact dyadic fractions (56/1024, 11/1024, 1/1024, 638/1024).
        for (k, n, want) in [
            (8u64, 10u64, 0.0546875),
            (9, 10, 0.0107421875),
            (10, 10, 0.0009765625),
            (5, 10, 0.623046875),
            (0, 10, 1.0),
            (60, 100, 0.028443966820490444),
            (5200, 10000, 3.2967577993361714e-05),
        ] {
            let o = sign_test(k, n).unwrap();
            assert_eq!(
                (o.test, o.statistic, o.n),
                ("one-sided sign test", k as f64, n)
            );
            assert!(
                close(o.p_value, want, 1e-12),
                "{k}/{n}: {} vs {want}",
                o.p_value
            );
        }
        // 0.0547 for 8/10 and 0.0107 for 9/10, to three places 0.055 and 0.011.
        assert!((sign_test(8, 10).unwrap().p_value - 0.055).abs() < 5e-4);
        assert!((sign_test(9, 10).unwrap().p_value - 0.011).abs() < 5e-4);
        // The lower-tail branch of binomial_tail (k below the mode) against the naive sum.
        let want: f64 = (4..=30).map(|j| naive_pmf(j, 30, 0.4)).sum();
        assert!(close(binomial_tail(4, 30, 0.4), want, 1e-13));
        assert_eq!(
            binomial_greater(3, 20, 0.3).unwrap().test,
            "exact one-sided binomial (greater)"
        );
    }

    #[test]
    fn edges_and_errors() {
        assert!(binomial(3, 10, 1.2).is_err());
        assert!(binomial(3, 10, -0.1).is_err());
        assert!(binomial(3, 10, f64::NAN).is_err());
        assert!(binomial(11, 10, 0.5).is_err());
        assert!(sign_test(11, 10).is_err());
        assert_eq!(binomial(0, 0, 0.3).unwrap().p_value, 1.0);
        assert_eq!(sign_test(0, 0).unwrap().p_value, 1.0);
        // Point masses: the only possible count has p = 1, any other p = 0.
        assert_eq!(binomial(0, 10, 0.0).unwrap().p_value, 1.0);
        assert_eq!(binomial(1, 10, 0.0).unwrap().p_value, 0.0);
        assert_eq!(binomial(10, 10, 1.0).unwrap().p_value, 1.0);
        assert_eq!(binomial(9, 10, 1.0).unwrap().p_value, 0.0);
        assert_eq!(binomial_tail(1, 10, 0.0), 0.0);
        assert_eq!(binomial_tail(10, 10, 1.0), 1.0);
        assert_eq!(binomial_tail(11, 10, 0.5), 0.0);
        assert!(binomial_tail(1, 10, 2.0).is_nan());
        // Extreme p: one trial.
        assert!(close(binomial(1, 1, 1e-12).unwrap().p_value, 1e-12, 1e-12));
    }
}
