//! DROP-ENTROPY (the mask entropy is maximal at p = 1/2) and DROP-NSTRUCT (what "the
//! expected number of network structures" can mean, and that each precise reading peaks at
//! p = 1/2), exactly on a grid and by Monte Carlo on the kernel's masks.

use super::{ROOM, dropout};
use crate::claims::{Claim, Ctx, Findings, Label, Planted, PostVerdict, Tally};
use crate::dropout::{Mask, MaskStream, Scaling};
use crate::report::figure::{LinePlot, Series};
use crate::stats::{ALPHA, z_test};
use derivations::dropout as spec;

/// p = 0.01, 0.02, …, 0.99: the catalogue's grid.
fn grid() -> Vec<f64> {
    (1..100).map(|k| f64::from(k) / 100.0).collect()
}

/// The masks of `units` units for `draws` examples from the kernel: draw t is entries
/// t·units .. (t+1)·units of one long stream, returned as integers (bit j = unit j).
fn kernel_patterns(ctx: &Ctx, p: f32, units: usize, draws: usize, stream: u64) -> Vec<u32> {
    let n = units * draws;
    let (x, mut y, mut mask) = (vec![1.0f32; n], vec![0.0f32; n], Mask::new(n));
    dropout(p, Scaling::Standard)
        .forward(MaskStream::new(ctx.seed, stream), &x, &mut y, &mut mask)
        .expect("equal lengths");
    (0..draws)
        .map(|t| (0..units).fold(0u32, |acc, j| acc | u32::from(mask.get(t * units + j)) << j))
        .collect()
}

// ---------------------------------------------------------------- DROP-ENTROPY
// ANCHOR: drop_entropy

#[derive(Clone, Copy)]
enum EntropyBug {
    SignSlip,
    MixedBases,
}

pub(super) fn drop_entropy() -> Claim {
    Claim::checked(
        "DROP-ENTROPY",
        ROOM,
        "§基本思想",
        "the mask entry's entropy H(p) = −p ln p − (1−p) ln(1−p) has its unique maximum ln 2 at \
         p = 1/2 (H' = 0 there), is symmetric in p ↔ 1−p, and n units carry n·H(p) ≤ n ln 2 \
         nats (exact over all 2^10 masks; plug-in entropy of the kernel's masks, z-test)",
        PostVerdict::Correct,
        &[
            (
                EntropyBug::SignSlip,
                Planted::bug("−p ln p + (1−p) ln(1−p) (sign slip)"),
            ),
            (
                EntropyBug::MixedBases,
                Planted::bug("joint entropy n·H₂(p) in bits against nats"),
            ),
        ],
        |bug, ctx| {
            let h = |p: f64| match bug {
                Some(EntropyBug::SignSlip) => -p * p.ln() + (1.0 - p) * (1.0 - p).ln(),
                _ => spec::entropy(p),
            };
            let joint = |n: usize, p: f64| match bug {
                Some(EntropyBug::MixedBases) => n as f64 * spec::entropy_bits(p),
                _ => n as f64 * h(p),
            };
            let ln2 = std::f64::consts::LN_2;
            let mut f = Findings::default();
            f.bound(
                Label::from("|H(1/2) − ln 2|").markdown(r"$\lvert H(1/2) - \ln 2 \rvert$"),
                (h(0.5) - ln2).abs(),
                1e-15,
                1,
                "two roundings of ln 2/2",
            );
            let fine: Vec<f64> = (1..1000)
                .filter(|&k| k != 500)
                .map(|k| f64::from(k) / 1000.0)
                .collect();
            let mut below = Tally::default();
            let mut sym = 0.0f64;
            for &p in &fine {
                below.check(h(p) < h(0.5), || format!("H({p}) = {} ≥ H(1/2)", h(p)));
                sym = sym.max((h(p) - h(1.0 - p)).abs());
            }
            f.tally(Label::from("H(p) < H(1/2) for p = 0.001 … 0.999, p ≠ 1/2").markdown(r"$H(p) < H(1/2)$ for $p = 0.001, \dots, 0.999$, $p \ne 1/2$"), below);
            f.bound(
                Label::from("|H(p) − H(1 − p)| on that grid").markdown(r"$\lvert H(p) - H(1 - p) \rvert$ on that grid"),
                sym,
                1e-15,
                fine.len() as u64,
                "1 − (1 − p) ≠ p by an ulp: a few roundings of values ≤ ln 2",
            );
            let h_prime = crate::claims::gradcheck::central_difference(h, 0.5);
            f.bound(
                Label::from("|H'(1/2)| (central difference)").markdown(r"$\lvert H'(1/2) \rvert$ (central difference)"),
                h_prime.abs(),
                1e-9,
                1,
                crate::claims::gradcheck::WHY,
            );
            let mut exact = 0.0f64;
            for p in [0.8, 0.3] {
                let enumerated =
                    -spec::expectation_over_masks(10, p, |r| spec::mask_probability(r, p).ln());
                exact = exact.max((enumerated - joint(10, p)).abs() / joint(10, p).abs().max(1.0));
            }
            f.bound(
                Label::from("−Σ_r P(r) ln P(r) over all 2^10 masks = 10·H(p), p ∈ {0.8, 0.3}").markdown(r"$-\sum_r P(r) \ln P(r)$ over all $2^{10}$ masks $= 10\,H(p)$, $p \in \{0.8, 0.3\}$"),
                exact,
                1e-10,
                2,
                super::LONG_SUM_WHY,
            );
            plug_in(&mut f, ctx, &joint, bug);
            if bug.is_none() {
                f.figures.push(entropy_plot());
            }
            f
        },
    )
    .typeset(r"the mask entry's entropy $H(p) = -p \ln p - (1-p) \ln(1-p)$ has its unique maximum $\ln 2$ at $p = 1/2$ ($H' = 0$ there), is symmetric in $p \leftrightarrow 1-p$, and $n$ units carry $n H(p) \le n \ln 2$ nats (exact over all $2^{10}$ masks; plug-in entropy of the kernel's masks, z-test)")
}

/// The plug-in (Miller–Madow corrected) entropy of 4-unit masks drawn by the kernel at
/// p = 0.8 against 4·H(p), with the delta-method standard error √((Σ P ln²P − H²)/N).
fn plug_in(
    f: &mut Findings,
    ctx: &Ctx,
    joint: &dyn Fn(usize, f64) -> f64,
    bug: Option<EntropyBug>,
) {
    let (units, p) = (4usize, 0.8f64);
    let draws = ctx.size(100_000, 2_000_000);
    let mut counts = [0u64; 16];
    for pattern in kernel_patterns(ctx, p as f32, units, draws, 1) {
        counts[pattern as usize] += 1;
    }
    let n = draws as f64;
    let seen = counts.iter().filter(|&&c| c > 0).count() as f64;
    let plug: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| -(c as f64 / n) * (c as f64 / n).ln())
        .sum::<f64>()
        + (seen - 1.0) / (2.0 * n);
    let h = spec::joint_entropy(units, p);
    let second =
        spec::expectation_over_masks(units, p, |r| spec::mask_probability(r, p).ln().powi(2));
    let se = ((second - h * h) / n).sqrt();
    // Power: each planted formula predicts its own value of 4·H(p): the sign slip
    // 4(−p ln p + (1−p) ln(1−p)) = −0.574 and bits 4·H₂(0.8) = 2.89 against 4·H(0.8) = 2.00
    // nats; the standard error √((Σ P ln²P − H²)/N) ≈ 0.0035 at N = 1e5 (CI) puts the nearer
    // of them (bits) about 250 standard errors away. On our code, the weakest variant's.
    let truth = spec::joint_entropy(units, p);
    let shift = |predicted: f64| (predicted - truth).abs() / se;
    let sign_slip = units as f64 * (-p * p.ln() + (1.0 - p) * (1.0 - p).ln());
    let bits = units as f64 * spec::entropy_bits(p);
    let power = match bug {
        Some(EntropyBug::SignSlip) => super::z_power(shift(sign_slip), "the sign slip's 4·H"),
        Some(EntropyBug::MixedBases) => super::z_power(shift(bits), "4·H₂ in bits"),
        None => super::z_power(
            shift(sign_slip).min(shift(bits)),
            "the weaker planted formula (4·H₂ in bits)",
        ),
    };
    f.test(
        Label::from("plug-in entropy of the kernel's 4-unit masks (p = 0.8) = 4·H(p)")
            .markdown(r"plug-in entropy of the kernel's 4-unit masks ($p = 0.8$) $= 4 H(p)$"),
        z_test(plug, joint(units, p), se, draws as u64).expect("positive standard error"),
        ALPHA,
        power,
    );
}

/// H₂(p) per unit, for the book.
fn entropy_plot() -> LinePlot {
    let ps: Vec<f64> = (0..=200).map(|k| f64::from(k) / 200.0).collect();
    LinePlot {
        file_stem: "dropout-entropy".into(),
        title: "Entropy of one mask entry, H₂(p), against the keep probability p".into(),
        x_label: "keep probability p".into(),
        y_label: "bits per unit".into(),
        series: vec![Series {
            name: "H₂(p)".into(),
            points: ps.iter().map(|&p| (p, spec::entropy_bits(p))).collect(),
        }],
    }
}

// ANCHOR_END: drop_entropy
// ---------------------------------------------------------------- DROP-NSTRUCT
// ANCHOR: drop_nstruct

#[derive(Clone, Copy)]
enum StructBug {
    ExponentTMinusOne,
    Swapped,
}

/// (n, T) pairs of the catalogue.
const CASES: [(u64, u64); 3] = [(4, 10), (6, 50), (10, 500)];

pub(super) fn drop_nstruct() -> Claim {
    Claim::checked(
        "DROP-NSTRUCT",
        ROOM,
        "§基本思想",
        "the number of possible sub-networks is 2^n for every p ∈ (0, 1); what p = 1/2 \
         maximises (symmetric in p ↔ 1−p) is (a) the effective number 2^{n·H₂(p)}, (b) the \
         expected number of distinct masks in T draws, E_T(p) = Σ_k C(n,k)[1 − (1 − \
         p^k(1−p)^{n−k})^T], argmax 0.5 for (n,T) = (4,10), (6,50), (10,500), and (c) the \
         largest shell C(n, round(np)); E_T checked against the kernel's masks (z-test)",
        PostVerdict::Imprecise,
        &[
            (
                StructBug::ExponentTMinusOne,
                Planted::bug("exponent T − 1 instead of T in E_T(p)"),
            ),
            (
                StructBug::Swapped,
                Planted::harmless("p and 1 − p swapped in E_T(p) (symmetric)"),
            ),
        ],
        |bug, ctx| {
            let e_t = |n: u64, t: u64, p: f64| match bug {
                None => spec::expected_distinct_masks(n, t, p),
                Some(StructBug::ExponentTMinusOne) => spec::expected_distinct_masks(n, t - 1, p),
                Some(StructBug::Swapped) => spec::expected_distinct_masks(n, t, 1.0 - p),
            };
            let mut f = Findings::default();
            let mut possible = Tally::default();
            for p in grid() {
                let support = (0u64..1 << 6)
                    .filter(|&m| {
                        let r: Vec<bool> = (0..6).map(|j| (m >> j) & 1 == 1).collect();
                        spec::mask_probability(&r, p) > 0.0
                    })
                    .count();
                possible.check(support == 64, || {
                    format!("p = {p}: {support} possible masks")
                });
            }
            f.tally(
                Label::from("possible sub-networks of 6 units: 2^6 = 64 for every p on the grid")
                    .markdown(
                        r"possible sub-networks of 6 units: $2^6 = 64$ for every $p$ on the grid",
                    ),
                possible,
            );
            let mut peaks = Tally::default();
            let mut asym = 0.0f64;
            // `symmetric`: (c) is not, at ties: round(10·0.05) = 1 but round(10·0.95) = 10.
            let mut check = |name: &str, g: &dyn Fn(f64) -> f64, symmetric: bool| {
                let ps = grid();
                let best = ps
                    .iter()
                    .copied()
                    .fold(ps[0], |b, p| if g(p) > g(b) { p } else { b });
                peaks.check(g(0.5) >= g(best), || {
                    format!("{name}: argmax {best}, not 0.5")
                });
                for &p in ps.iter().filter(|_| symmetric) {
                    asym = asym.max((g(p) - g(1.0 - p)).abs() / g(p).abs().max(1.0));
                }
            };
            for n in [4usize, 10] {
                check(
                    &format!("2^(n·H₂), n = {n}"),
                    &|p| spec::effective_structures(n, p),
                    true,
                );
            }
            for (n, t) in CASES {
                check(
                    &format!("E_T, (n, T) = ({n}, {t})"),
                    &|p| e_t(n, t, p),
                    true,
                );
            }
            for n in [10u64, 11] {
                check(
                    &format!("C(n, round(np)), n = {n}"),
                    &|p| spec::largest_shell(n, p),
                    false,
                );
            }
            f.tally(
                Label::from("(a) 2^{nH₂}, (b) E_T and (c) C(n, round(np)) peak at p = 1/2 on the grid").markdown(r"(a) $2^{n H_2}$, (b) $E_T$ and (c) $\binom{n}{\mathrm{round}(np)}$ peak at $p = 1/2$ on the grid"),
                peaks,
            );
            f.bound(Label::from("symmetry p ↔ 1 − p of (a) and (b) on the grid").markdown(r"symmetry $p \leftrightarrow 1 - p$ of (a) and (b) on the grid"), asym, 1e-12, 99, "1 − (1 − p) differs from p by an ulp; powers and sums of ≤ 11 terms (conventions appendix, Tolerances)");
            distinct_counts(&mut f, ctx, &e_t, bug);
            if bug.is_none() {
                f.figures.push(structures_plot());
            }
            f
        },
    )
    .typeset(r"the number of possible sub-networks is $2^n$ for every $p \in (0, 1)$; what $p = 1/2$ maximises (symmetric in $p \leftrightarrow 1-p$) is (a) the effective number $2^{n H_2(p)}$, (b) the expected number of distinct masks in $T$ draws, $E_T(p) = \sum_k \binom{n}{k}[1 - (1 - p^k (1-p)^{n-k})^T]$, argmax $0.5$ for $(n, T) = (4, 10), (6, 50), (10, 500)$, and (c) the largest shell $\binom{n}{\mathrm{round}(np)}$; $E_T$ checked against the kernel's masks (z-test)")
}

/// The number of distinct masks among T kernel draws, over R replicates, against E_T(p),
/// with the exact variance of an occupancy count (p = 0.8, (n, T) = (4, 10)).
///
/// Sample size: the exponent-(T − 1) variant shifts the mean by E₁₀ − E₉ = 5.272 − 4.966 =
/// 0.306 (p = 0.8, n = 4), and Var(D) = 1.379, so R replicates put it 0.306·√(R/1.379)
/// standard errors away. A miss probability ≤ 2e-7 at α = 1e-6 needs z_{α/2} + z_{2e-7} =
/// 4.89 + 5.07 = 9.96 of them, i.e. R ≥ 1.379·(9.96/0.306)² = 1461; the CI budget uses
/// R = 2000 (11.6 SE, miss probability ≈ 1e-11) and the full budget 20,000 (37 SE). Each
/// replicate is 10 draws of 4 mask bits, so either costs well under a millisecond.
fn distinct_counts(
    f: &mut Findings,
    ctx: &Ctx,
    e_t: &dyn Fn(u64, u64, f64) -> f64,
    bug: Option<StructBug>,
) {
    let (n, t, p) = (4usize, 10usize, 0.8f64);
    let reps = ctx.size(2000, 20_000);
    let patterns = kernel_patterns(ctx, p as f32, n, t * reps, 2);
    let mean = patterns
        .chunks_exact(t)
        .map(|draws| {
            let mut seen = [false; 16];
            draws.iter().for_each(|&m| seen[m as usize] = true);
            seen.iter().filter(|&&s| s).count() as f64
        })
        .sum::<f64>()
        / reps as f64;
    let var = occupancy_variance(n, t as f64, p);
    let se = (var / reps as f64).sqrt();
    let tf = t as u64;
    let truth = spec::expected_distinct_masks(n as u64, tf, p);
    let effect = (truth - spec::expected_distinct_masks(n as u64, tf - 1, p)).abs() / se;
    let power = match bug {
        // E_T is symmetric in p ↔ 1 − p: the swap predicts the same mean (harmless).
        Some(StructBug::Swapped) => super::z_power(
            (spec::expected_distinct_masks(n as u64, tf, 1.0 - p) - truth).abs() / se,
            "p ↔ 1 − p (symmetric, harmless)",
        ),
        _ => super::z_power(effect, "exponent T − 1"),
    };
    f.test(
        Label::from(format!("kernel masks: mean distinct masks in T = 10 draws of 4 units (p = 0.8), {reps} replicates = E_T(p)"))
            .markdown(format!("kernel masks: mean distinct masks in $T = 10$ draws of 4 units ($p = 0.8$), {reps} replicates $= E_T(p)$")),
        z_test(mean, e_t(n as u64, tf, p), se, reps as u64).expect("positive standard error"),
        ALPHA,
        power,
    );
}

/// Var(D) of the number D of distinct masks in T draws: Σ_i v_i(1 − v_i) +
/// Σ_{i≠j} [1 − (1−q_i)^T − (1−q_j)^T + (1−q_i−q_j)^T − v_i v_j], v_i = 1 − (1−q_i)^T.
fn occupancy_variance(n: usize, t: f64, p: f64) -> f64 {
    let q: Vec<f64> = (0u32..1 << n)
        .map(|m| {
            let r: Vec<bool> = (0..n).map(|j| (m >> j) & 1 == 1).collect();
            spec::mask_probability(&r, p)
        })
        .collect();
    let v: Vec<f64> = q.iter().map(|qi| 1.0 - (1.0 - qi).powf(t)).collect();
    let mut var = 0.0;
    for i in 0..q.len() {
        var += v[i] * (1.0 - v[i]);
        for j in (0..q.len()).filter(|&j| j != i) {
            let both =
                1.0 - (1.0 - q[i]).powf(t) - (1.0 - q[j]).powf(t) + (1.0 - q[i] - q[j]).powf(t);
            var += both - v[i] * v[j];
        }
    }
    var
}

/// E_T(p)/2^n for the catalogue's (n, T), for the book.
fn structures_plot() -> LinePlot {
    let ps: Vec<f64> = (1..200).map(|k| f64::from(k) / 200.0).collect();
    let series = CASES
        .iter()
        .map(|&(n, t)| Series {
            name: format!("E_T(p)/2^n, n = {n}, T = {t}"),
            points: ps
                .iter()
                .map(|&p| {
                    (
                        p,
                        spec::expected_distinct_masks(n, t, p) / (1u64 << n) as f64,
                    )
                })
                .collect(),
        })
        .chain(std::iter::once(Series {
            name: "2^(n·H₂(p))/2^n, n = 10".into(),
            points: ps
                .iter()
                .map(|&p| (p, spec::effective_structures(10, p) / 1024.0))
                .collect(),
        }))
        .collect();
    LinePlot {
        file_stem: "dropout-structures".into(),
        title: "Distinct sub-networks visited, as a fraction of 2^n, against p".into(),
        x_label: "keep probability p".into(),
        y_label: "fraction of the 2^n masks".into(),
        series,
    }
}

// ANCHOR_END: drop_nstruct
