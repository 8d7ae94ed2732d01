//! The variance rules the derivation uses (§方差公式): VAR-PROD, VAR-SHIFT and VAR-SUM.
//! Exact enumeration on small discrete distributions wherever the support is small.

use super::conditions::{draw, normal};
use super::{ROOM, chi_power, chi_square_sum, gaussian, stated, stream};
use crate::claims::{Claim, Findings, Label, MaxError, Planted, PostVerdict, identity_error};
use crate::stats::ALPHA;
use derivations::xavier as spec;

/// A finite distribution: (value, probability) pairs.
type Dist = Vec<(f64, f64)>;

fn uniform_on(values: &[f64]) -> Dist {
    let p = 1.0 / values.len() as f64;
    values.iter().map(|&v| (v, p)).collect()
}

fn mean(d: &Dist) -> f64 {
    d.iter().map(|(v, p)| v * p).sum()
}

/// Var by enumeration, two-pass (mean first), so no cancellation.
fn var(d: &Dist) -> f64 {
    let m = mean(d);
    d.iter().map(|(v, p)| p * (v - m) * (v - m)).sum()
}

/// The law of x·y (or x + y) for independent x and y, by enumerating the product support.
fn combine(x: &Dist, y: &Dist, op: fn(f64, f64) -> f64) -> Dist {
    x.iter()
        .flat_map(|&(a, p)| y.iter().map(move |&(b, q)| (op(a, b), p * q)))
        .collect()
}

/// Exact enumeration: sums of a dozen products of small integers and thirds/quarters, so a
/// few ulp on O(10) values (the catalogue's VAR-PROD; conventions appendix, Tolerances).
const ENUM_TOL: f64 = 1e-14;

// ---------------------------------------------------------------- VAR-PROD
// ANCHOR: var_prod

#[derive(Clone, Copy)]
enum ProdBug {
    ZeroMeanEverywhere,
}

pub(super) fn var_prod() -> Claim {
    Claim::checked(
        "VAR-PROD",
        ROOM,
        "§方差公式",
        "Var(xy) = Var(x)·Var(y) for independent zero-mean x and y; in general Var(xy) = \
         Var(x)Var(y) + Var(x)E[y]² + Var(y)E[x]², so one zero mean is not enough \
         (Var(xy) = Var(x)·E[y²] if E[x] = 0)",
        PostVerdict::Correct,
        &[(
            ProdBug::ZeroMeanEverywhere,
            Planted::bug("Var(x)·Var(y) applied to non-zero-mean factors (ReLU activations)"),
        )],
        |bug, _ctx| {
            let rule = |x: &Dist, y: &Dist| match bug {
                None => spec::var_prod(mean(x), var(x), mean(y), var(y)),
                Some(ProdBug::ZeroMeanEverywhere) => spec::var_prod_zero_mean(var(x), var(y)),
            };
            let x = uniform_on(&[-2.0, -1.0, 1.0, 2.0]);
            let y = uniform_on(&[-3.0, 0.0, 3.0]);
            // Non-zero means: a ReLU-like y ≥ 0, and both shifted.
            let relu_y = uniform_on(&[0.0, 0.0, 1.0, 3.0]);
            let shifted_x = uniform_on(&[0.5, 1.0, 2.0, 4.5]);
            let mut f = Findings::default();
            let exact = var(&combine(&x, &y, |a, b| a * b));
            f.bound(
                Label::from("zero means (post's case): Var(x)·Var(y) = enumerated Var(xy)").markdown(r"zero means (post's case): $\mathrm{Var}(x)\, \mathrm{Var}(y)$ = enumerated $\mathrm{Var}(xy)$"),
                identity_error(spec::var_prod_zero_mean(var(&x), var(&y)), exact),
                ENUM_TOL,
                12,
                "exact enumeration of 12 products",
            );
            let mut e = MaxError::default();
            for (a, b) in [
                (&x, &y),
                (&x, &relu_y),
                (&shifted_x, &relu_y),
                (&shifted_x, &y),
            ] {
                e.record(
                    identity_error(rule(a, b), var(&combine(a, b, |u, v| u * v))),
                    mean(b),
                );
            }
            f.max_error(
                Label::from("the product rule = enumerated Var(xy), means zero and non-zero").markdown(r"the product rule = enumerated $\mathrm{Var}(xy)$, means zero and non-zero"),
                &e,
                ENUM_TOL,
                "exact enumeration of ≤ 16 products",
            );
            f
        },
    )
    .typeset(r"$\mathrm{Var}(xy) = \mathrm{Var}(x)\, \mathrm{Var}(y)$ for independent zero-mean $x$ and $y$; in general $\mathrm{Var}(xy) = \mathrm{Var}(x)\mathrm{Var}(y) + \mathrm{Var}(x)\mathbb{E}[y]^2 + \mathrm{Var}(y)\mathbb{E}[x]^2$, so one zero mean is not enough ($\mathrm{Var}(xy) = \mathrm{Var}(x)\, \mathbb{E}[y^2]$ if $\mathbb{E}[x] = 0$)")
}

// ANCHOR_END: var_prod
// ---------------------------------------------------------------- VAR-SHIFT
// ANCHOR: var_shift

#[derive(Clone, Copy)]
enum ShiftBug {
    ShiftSquared,
    RandomDropped,
}

pub(super) fn var_shift() -> Claim {
    Claim::checked(
        "VAR-SHIFT",
        ROOM,
        "§方差公式",
        "Var(x + a) = Var(x) for a constant a, the step that drops b; for a random b independent \
         of x, Var(x + b) = Var(x) + Var(b), so b must be constant (XAV-ASSUME)",
        PostVerdict::Correct,
        &[
            (
                ShiftBug::ShiftSquared,
                Planted::bug("Var(x + a) = Var(x) + a²"),
            ),
            (
                ShiftBug::RandomDropped,
                Planted::bug("a random b dropped as if it were constant"),
            ),
        ],
        |bug, _ctx| {
            let rule = |x: &Dist, b: &Dist| match bug {
                None => spec::var_shift_random(var(x), var(b)),
                Some(ShiftBug::ShiftSquared) => spec::var_shift(var(x)) + mean(b).powi(2),
                Some(ShiftBug::RandomDropped) => spec::var_shift(var(x)),
            };
            let x = uniform_on(&[-2.0, -1.0, 1.0, 2.0]);
            let mut f = Findings::default();
            let mut e = MaxError::default();
            for a in [0.0, 0.5, -3.0, 1e3] {
                let b = vec![(a, 1.0)];
                let exact = var(&combine(&x, &b, |u, v| u + v));
                e.record(identity_error(rule(&x, &b), exact), a);
                e.record(identity_error(spec::var_shift(var(&x)), exact), a);
            }
            f.max_error(
                Label::from("constant a ∈ {0, 0.5, −3, 1e3}: Var(x + a) = Var(x)").markdown(r"constant $a \in \{0, 0.5, -3, 10^3\}$: $\mathrm{Var}(x + a) = \mathrm{Var}(x)$"),
                &e,
                ENUM_TOL,
                "x + a is exact for these values; enumeration",
            );
            let mut e = MaxError::default();
            for b in [uniform_on(&[-1.0, 1.0]), uniform_on(&[0.0, 0.0, 3.0])] {
                let exact = var(&combine(&x, &b, |u, v| u + v));
                e.record(identity_error(rule(&x, &b), exact), var(&b));
            }
            f.max_error(
                Label::from("random independent b: Var(x + b) = Var(x) + Var(b)").markdown(r"random independent $b$: $\mathrm{Var}(x + b) = \mathrm{Var}(x) + \mathrm{Var}(b)$"),
                &e,
                ENUM_TOL,
                "exact enumeration of ≤ 12 sums",
            );
            f
        },
    )
    .typeset(r"$\mathrm{Var}(x + a) = \mathrm{Var}(x)$ for a constant $a$, the step that drops $b$; for a random $b$ independent of $x$, $\mathrm{Var}(x + b) = \mathrm{Var}(x) + \mathrm{Var}(b)$, so $b$ must be constant (XAV-ASSUME)")
}

// ANCHOR_END: var_shift
// ---------------------------------------------------------------- VAR-SUM
// ANCHOR: var_sum

#[derive(Clone, Copy)]
enum SumBug {
    PairedLanes,
    CorrelatedTerms,
}

pub(super) fn var_sum() -> Claim {
    Claim::checked(
        "VAR-SUM",
        ROOM,
        "used after eq (19)",
        "Var(Σ_j W_{j,k}·O_j) = Σ_j Var(W_{j,k})·E[O_j²] needs only uncorrelated terms, which \
         independent zero-mean weights give even when the O_j are perfectly correlated (all \
         equal): exact χ² with Gaussian weights",
        PostVerdict::Implied,
        &[
            (
                SumBug::PairedLanes,
                Planted::bug(
                    "a sampler whose lanes are seeded in pairs: weights 2t and 2t + 1 of a column \
                     equal (correlated terms once the inputs are)",
                ),
            ),
            (
                SumBug::CorrelatedTerms,
                Planted::bug(
                    "the variance of the sum as (Σ_j sd_j)², as if the terms were correlated",
                ),
            ),
        ],
        |bug, ctx| {
            let (fan_in, fan_out) = (256, 128);
            let v = spec::compromise_variance(&[fan_in, fan_out], 1);
            let reps = ctx.size(20, 200);
            let mut rng = stream(ctx, 0);
            let mut t = 0.0;
            for _ in 0..reps {
                // Perfectly correlated inputs: O_j = c for every j.
                let c = gaussian(&mut rng, 1)[0];
                let mut w = draw(normal(v), fan_in, fan_out, &mut rng);
                if let Some(SumBug::PairedLanes) = bug {
                    for mut col in w.column_iter_mut() {
                        for j in (0..fan_in).step_by(2) {
                            col[j + 1] = col[j];
                        }
                    }
                }
                let predicted = match bug {
                    Some(SumBug::CorrelatedTerms) => (fan_in as f64 * (v * c * c).sqrt()).powi(2),
                    _ => spec::var_sum(&vec![v; fan_in], &vec![c * c; fan_in]),
                };
                let z = w.tr_mul(&nalgebra::DVector::from_element(fan_in, c));
                t += z.norm_squared() / predicted;
            }
            let k = (reps * fan_out) as u64;
            let mut f = Findings::default();
            // Planted variance ratios (truth/prediction): with equal inputs a pair of equal
            // weights contributes Var(2W·c) = 4v·c² where two independent ones give 2v·c², so
            // paired lanes double the variance; the (Σ sd)² formula predicts J = 256 times too
            // much. At the CI budget k = 20·128 = 2560: 17.9 and 35.6 SE.
            let ratio = |b: SumBug| match b {
                SumBug::PairedLanes => 2.0,
                SumBug::CorrelatedTerms => 1.0 / fan_in as f64,
            };
            f.test(
                Label::from("all O_j equal: Σ_k IN_k²/Σ_j Var(W)·E[O_j²] ~ χ²").markdown(r"all $O_j$ equal: $\sum_k IN_k^2 / \sum_j \mathrm{Var}(W)\,\mathbb{E}[O_j^2] \sim \chi^2$"),
                chi_square_sum(t, k),
                ALPHA,
                stated(bug, &[SumBug::PairedLanes, SumBug::CorrelatedTerms], |b| {
                    chi_power(k, ratio(b), "the variant")
                }),
            );
            f
        },
    )
    .typeset(r"$\mathrm{Var}(\sum_j W_{j,k}\, O_j) = \sum_j \mathrm{Var}(W_{j,k})\, \mathbb{E}[O_j^2]$ needs only uncorrelated terms, which independent zero-mean weights give even when the $O_j$ are perfectly correlated (all equal): exact $\chi^2$ with Gaussian weights")
}

// ANCHOR_END: var_sum
