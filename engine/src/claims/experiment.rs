//! Experiments: an informal claim's inequality, decided over independent replicates.
//!
//! One run of an experiment decides nothing: its inequality can flip with the seed. So an
//! experiment runs `n` replicates, each on fresh data and a fresh initialisation (its own
//! seed), and counts the replicates whose margin is positive. With X ~ Binomial(n, ½) under
//! "the inequality is a coin flip", the one-sided sign tests decide:
//!
//! - **supported** when P(X ≥ wins) ≤ α: the inequality holds in most replicates;
//! - **not supported** when P(X ≤ wins) ≤ α: its negation does;
//! - **inconclusive** otherwise.
//!
//! Every replicate also reports its *health* (the trainers trained, nothing is NaN). A
//! replicate whose health fails makes the experiment `failed`, never "not supported": a
//! broken trainer must not read as a finding. Controls prove both halves can happen: a
//! positive control (a setting where the inequality must come out supported) and a broken
//! control (a trainer that diverges or does not train, which must come out failed by its
//! health check).

use rayon::prelude::*;
use serde::Serialize;

use super::claim::{Budget, Ctx, TrialFn};
use super::evidence::{Findings, Judgement};
use crate::stats::binomial_tail;

/// One replicate of an experiment.
#[derive(Debug, Clone, Default)]
pub struct Trial {
    /// How far the inequality held: positive when it held in this replicate.
    pub margin: f64,
    /// Evidence that the replicate ran as designed (trained, finite, scored on the test set).
    pub health: Findings,
}

impl Trial {
    /// A replicate with its margin and health evidence.
    pub fn new(margin: f64, health: Findings) -> Self {
        Self { margin, health }
    }
}

/// The sign test's design: replicates per budget, level, and the rate it is sized for.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Design {
    /// The inequality one replicate's margin measures, in words.
    pub inequality: &'static str,
    /// Replicates at the CI budget.
    pub ci: usize,
    /// Replicates at the full budget.
    pub full: usize,
    /// The level of each one-sided sign test.
    pub alpha: f64,
    /// The probability, assumed when `ci` and `full` were chosen, that one replicate's
    /// inequality holds. The decision's error bound is computed at this rate.
    pub planning_rate: f64,
}

impl Design {
    /// The number of replicates at `budget`.
    pub fn replicates(&self, budget: Budget) -> usize {
        match budget {
            Budget::Ci => self.ci,
            Budget::Full => self.full,
        }
    }

    /// The least number of wins out of `n` that the sign test calls supported (`n + 1` when
    /// even `n` wins out of `n` are not significant at α).
    pub fn wins_for_supported(&self, n: usize) -> u64 {
        let n = n as u64;
        (0..=n)
            .find(|&k| binomial_tail(k, n, 0.5) <= self.alpha)
            .unwrap_or(n + 1)
    }

    /// The decision for `wins` out of `n`.
    pub fn decide(&self, wins: u64, n: usize) -> Decided {
        let k = self.wins_for_supported(n);
        if wins >= k {
            Decided::Supported
        } else if wins + k <= n as u64 {
            // P(X ≤ wins) = P(X ≥ n − wins) ≤ α by symmetry of Binomial(n, ½).
            Decided::NotSupported
        } else {
            Decided::Inconclusive
        }
    }

    /// The probability of each decision at `budget` if each replicate wins with probability
    /// `rate`: (supported, not supported, inconclusive).
    pub fn decision_probabilities(&self, budget: Budget, rate: f64) -> [f64; 3] {
        let n = self.replicates(budget);
        let k = self.wins_for_supported(n);
        let n = n as u64;
        let supported = binomial_tail(k, n, rate);
        // Not supported: wins ≤ n − k, i.e. 1 − P(X ≥ n + 1 − k) (0 when k = n + 1).
        let not = 1.0 - binomial_tail(n + 1 - k, n, rate);
        [supported, not, (1.0 - supported - not).max(0.0)]
    }

    /// The chance the decision differs from `expected` at the planning rate.
    pub fn error(&self, budget: Budget, expected: Decided) -> f64 {
        let [s, n, i] = self.decision_probabilities(budget, self.planning_rate);
        1.0 - match expected {
            Decided::Supported => s,
            Decided::NotSupported => n,
            Decided::Inconclusive => i,
        }
    }
}

/// What an experiment's sign test decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decided {
    Supported,
    NotSupported,
    Inconclusive,
}

impl Decided {
    /// The catalogue's word.
    pub fn word(self) -> &'static str {
        match self {
            Decided::Supported => "supported",
            Decided::NotSupported => "not-supported",
            Decided::Inconclusive => "inconclusive",
        }
    }
}

/// What a control arm must come out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlExpect {
    /// A setting where the inequality must hold: the sign test must say supported.
    Supported,
    /// A broken trainer: some replicate's health check must reject it.
    Failed,
}

/// A control arm of an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Control {
    pub name: &'static str,
    pub expect: ControlExpect,
}

impl Control {
    /// A setting where the inequality holds; it must come out supported.
    pub const fn positive(name: &'static str) -> Self {
        Self {
            name,
            expect: ControlExpect::Supported,
        }
    }

    /// A broken trainer; its health check must make it fail.
    pub const fn broken(name: &'static str) -> Self {
        Self {
            name,
            expect: ControlExpect::Failed,
        }
    }
}

/// An experiment: its design, controls and one replicate's code.
pub struct Experiment {
    pub design: Design,
    pub controls: Vec<Control>,
    pub(crate) run: TrialFn,
}

/// How one arm (the claim's setting or a control) came out.
#[derive(Debug, Clone)]
pub struct ArmResult {
    /// `Some` when every replicate was healthy: the sign test's decision.
    pub decided: Option<Decided>,
    /// The decision's evidence, then (if a replicate failed) its failing health evidence.
    pub findings: Findings,
    /// Whether a health check rejected some replicate on a measured value.
    pub health_rejected: bool,
}

impl Experiment {
    /// One replicate of arm `arm` on `seed`; a panic becomes a trial with a NaN margin and
    /// the panic in its health.
    pub(crate) fn trial(&self, arm: Option<usize>, seed: u64, budget: Budget) -> Trial {
        let ctx = Ctx { seed, budget };
        match super::run_caught(|| (self.run)(arm, &ctx)) {
            Ok(t) => t,
            Err(msg) => Trial {
                margin: f64::NAN,
                health: Findings {
                    panicked: Some(msg),
                    ..Findings::default()
                },
            },
        }
    }

    /// Runs the replicates of arm `arm` and decides; the first unhealthy replicate ends the
    /// arm with no decision.
    pub(crate) fn run_arm(&self, arm: Option<usize>, claim_seed: u64, budget: Budget) -> ArmResult {
        let n = self.design.replicates(budget);
        let mut margins = Vec::with_capacity(n);
        let mut findings = Findings::default();
        // Replicates are independent by construction (each its own seed): they run on every
        // core in batches, each batch read in order, so the outcome is the sequential one.
        // The batches double from one replicate per core: a healthy arm waits at a handful of
        // batch ends, and an arm whose first replicate is unhealthy (a broken control, as
        // designed) ends after one batch instead of running all n for nothing.
        let mut batches = batches(n, rayon::current_num_threads());
        let mut trials = std::iter::from_fn(|| {
            let batch = batches.next()?;
            let ran: Vec<Trial> = batch
                .clone()
                .into_par_iter()
                .map(|r| self.trial(arm, replicate_seed(claim_seed, r), budget))
                .collect();
            Some(batch.zip(ran))
        })
        .flatten();
        for (r, trial) in &mut trials {
            let ctx = Ctx {
                seed: replicate_seed(claim_seed, r),
                budget,
            };
            if r == 0 {
                findings.figures = trial.health.figures.clone();
            }
            let judged = trial.health.judge(None);
            if judged != Judgement::Pass || !trial.margin.is_finite() {
                let rejected = matches!(judged, Judgement::Rejected(_));
                let why = match judged {
                    Judgement::Pass => format!("margin {} is not a number", trial.margin),
                    Judgement::Rejected(s) | Judgement::Broken(s) => s,
                };
                findings.evidence = trial.health.evidence;
                findings.panicked = trial.health.panicked;
                findings.evidence.insert(
                    0,
                    super::Evidence {
                        what: format!("replicate {r} (seed {}) is healthy", ctx.seed),
                        what_markdown: None,
                        measure: super::Measure::Violations {
                            violations: 1,
                            cases: r as u64 + 1,
                            first: Some(why),
                        },
                    },
                );
                return ArmResult {
                    decided: None,
                    findings,
                    health_rejected: rejected,
                };
            }
            margins.push(trial.margin);
            if r == n - 1 {
                // Keep the last healthy replicate's evidence as a sample of what one shows.
                findings.evidence = trial.health.evidence;
            }
        }
        let wins = margins.iter().filter(|&&m| m > 0.0).count() as u64;
        let decided = self.design.decide(wins, n);
        let nn = n as u64;
        margins.sort_by(f64::total_cmp);
        let pick = |q: usize| margins.get(q).copied().unwrap_or(f64::NAN);
        let summary = super::Evidence {
            what: format!("decided over {n} independent replicates"),
            what_markdown: None,
            measure: super::Measure::SignTest {
                inequality: self.design.inequality.to_owned(),
                wins,
                replicates: nn,
                alpha: self.design.alpha,
                p_supported: binomial_tail(wins, nn, 0.5),
                p_not_supported: binomial_tail(nn - wins, nn, 0.5),
                decided: decided.word().to_owned(),
                margins: [pick(0), pick(n / 2), pick(n.saturating_sub(1))],
            },
        };
        findings.evidence.insert(0, summary);
        ArmResult {
            decided: Some(decided),
            findings,
            health_rejected: false,
        }
    }
}

/// The replicates 0..n in consecutive batches of `first`, 2·`first`, 4·`first`, ... (the
/// last one cut at n).
fn batches(n: usize, first: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let mut size = first.max(1);
    let mut start = 0;
    std::iter::from_fn(move || {
        (start < n).then(|| {
            let batch = start..(start + size).min(n);
            (start, size) = (batch.end, 2 * size);
            batch
        })
    })
}

/// The seed of replicate `r`: the claim's seed mixed with `r` (SplitMix64), so replicates
/// are independent streams and every arm sees the same data in replicate `r`.
pub fn replicate_seed(claim_seed: u64, r: usize) -> u64 {
    let mut z = claim_seed ^ (r as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::claims::evidence::Tally;

    fn design(ci: usize, full: usize) -> Design {
        Design {
            inequality: "x > 0",
            ci,
            full,
            alpha: 1e-6,
            planning_rate: 0.95,
        }
    }

    #[test]
    fn thresholds_match_the_binomial() {
        // P(Bin(20, ½) ≥ 20) = 2⁻²⁰ = 9.5e-7 ≤ 1e-6, P(≥ 19) = 21·2⁻²⁰ = 2e-5.
        let d = design(20, 64);
        assert_eq!(d.wins_for_supported(20), 20);
        assert_eq!(d.decide(20, 20), Decided::Supported);
        assert_eq!(d.decide(19, 20), Decided::Inconclusive);
        assert_eq!(d.decide(1, 20), Decided::Inconclusive);
        assert_eq!(d.decide(0, 20), Decided::NotSupported);
        // Ten replicates can never decide at 1e-6 (2⁻¹⁰ ≈ 1e-3).
        assert_eq!(d.wins_for_supported(10), 11);
        assert_eq!(d.decide(10, 10), Decided::Inconclusive);
        assert_eq!(d.decide(0, 10), Decided::Inconclusive);
    }

    #[test]
    fn decision_probabilities_add_up() {
        let d = design(30, 64);
        for rate in [0.0, 0.3, 0.5, 0.9, 1.0] {
            let p = d.decision_probabilities(Budget::Full, rate);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{p:?}");
        }
        // At a fair coin each decisive outcome has probability at most α.
        let p = d.decision_probabilities(Budget::Full, 0.5);
        assert!(p[0] <= 1e-6 && p[1] <= 1e-6);
        // 64 replicates, k = 51: a 0.95 rate misses with probability 2.7e-6.
        let miss = d.error(Budget::Full, Decided::Supported);
        assert!((2.0e-6..3.5e-6).contains(&miss), "{miss}");
    }

    #[test]
    fn decision_probabilities_are_binomial_tails() {
        // 24 replicates at 1e-6: supported needs 24 wins, not supported 0 wins.
        let d = design(24, 64);
        let [s, n, i] = d.decision_probabilities(Budget::Ci, 0.3);
        assert!((s - 0.3f64.powi(24)).abs() < 1e-20, "{s}");
        assert!((n - 0.7f64.powi(24)).abs() < 1e-15, "{n}");
        assert!((i - (1.0 - s - n)).abs() < 1e-15);
        // 64 at 1e-6: k = 51, so not supported is wins ≤ 13.
        let [_, n, _] = d.decision_probabilities(Budget::Full, 0.2);
        let exact = 1.0 - binomial_tail(14, 64, 0.2);
        assert!((n - exact).abs() < 1e-15 && n > 0.5, "{n}");
        // Ten replicates can never decide.
        assert_eq!(
            design(10, 10).decision_probabilities(Budget::Ci, 0.9)[2],
            1.0
        );
        assert_eq!(
            d.error(Budget::Ci, Decided::Inconclusive),
            1.0 - d.decision_probabilities(Budget::Ci, 0.95)[2]
        );
        assert_eq!(
            d.error(Budget::Ci, Decided::NotSupported),
            1.0 - d.decision_probabilities(Budget::Ci, 0.95)[1]
        );
    }

    #[test]
    fn replicate_seeds_are_pinned() {
        assert_ne!(replicate_seed(1, 0), replicate_seed(1, 1));
        assert_ne!(replicate_seed(1, 0), replicate_seed(2, 0));
        // SplitMix64 of the claim seed XOR (r + 1)·φ, computed independently in Python:
        // pinned so a printed replicate seed reproduces the same replicate in any release.
        let act_tanh = 14_404_910_318_885_442_983;
        assert_eq!(replicate_seed(act_tanh, 0), 4_428_588_639_330_964_583);
        assert_eq!(replicate_seed(act_tanh, 5), 1_373_436_575_964_687_463);
    }

    #[test]
    fn batches_double_and_cover_every_replicate_once() {
        let cut = |n, first| batches(n, first).collect::<Vec<_>>();
        assert_eq!(cut(24, 2), [0..2, 2..6, 6..14, 14..24]);
        assert_eq!(cut(7, 1), [0..1, 1..3, 3..7]);
        assert_eq!(cut(3, 8), vec![0..3]);
        assert_eq!(cut(5, 0), [0..1, 1..3, 3..5]);
        assert!(cut(0, 2).is_empty());
    }

    /// An experiment whose replicates r in `unhealthy` fail their health check, and the
    /// replicate indices it ran, in any order.
    fn recording(unhealthy: &'static [usize]) -> (Experiment, Arc<Mutex<Vec<usize>>>) {
        const CLAIM: u64 = 42;
        let ran = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&ran);
        let run: TrialFn = Box::new(move |_, ctx: &Ctx| {
            let r = (0..64)
                .find(|&r| replicate_seed(CLAIM, r) == ctx.seed)
                .expect("a replicate seed");
            seen.lock().expect("not poisoned").push(r);
            let mut t = Tally::default();
            t.check(!unhealthy.contains(&r), || {
                format!("replicate {r} diverged")
            });
            let mut f = Findings::default();
            f.tally("loss is finite", t);
            Trial::new(1.0, f)
        });
        let exp = Experiment {
            design: design(24, 64),
            controls: Vec::new(),
            run,
        };
        (exp, ran)
    }

    fn ran_sorted(ran: &Mutex<Vec<usize>>) -> Vec<usize> {
        let mut v = ran.lock().expect("not poisoned").clone();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_healthy_arm_runs_every_replicate_once() {
        let (exp, ran) = recording(&[]);
        let arm = exp.run_arm(None, 42, Budget::Ci);
        assert_eq!(arm.decided, Some(Decided::Supported));
        assert_eq!(ran_sorted(&ran), (0..24).collect::<Vec<_>>());
    }

    #[test]
    fn an_unhealthy_arm_reports_its_first_bad_replicate_and_stops_at_that_batch() {
        // Replicates 5 and 9 fail: the report names 5 whatever ran first, and no batch
        // after the one holding 5 runs.
        let (exp, ran) = recording(&[5, 9]);
        let arm = exp.run_arm(None, 42, Budget::Ci);
        assert!(arm.decided.is_none() && arm.health_rejected);
        let first = &arm.findings.evidence[0].what;
        assert!(first.starts_with("replicate 5 "), "{first}");
        let end = batches(24, rayon::current_num_threads())
            .find(|b| b.contains(&5))
            .expect("5 < 24")
            .end;
        assert_eq!(ran_sorted(&ran), (0..end).collect::<Vec<_>>());

        // A broken control's usual case: replicate 0 fails, only the first batch runs.
        let (exp, ran) = recording(&[0]);
        assert!(exp.run_arm(None, 42, Budget::Ci).health_rejected);
        let first = rayon::current_num_threads().min(24);
        assert_eq!(ran_sorted(&ran), (0..first).collect::<Vec<_>>());
    }
}
