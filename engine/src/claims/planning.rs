//! The planning rate behind an experiment's design, measured.
//!
//! A [`Design`](super::Design) sizes its sign test for a *planning rate*: the probability that
//! one replicate's inequality holds. That rate is an assumption until measured, so it is
//! measured the same way the claim runs — many replicates of the claim's setting — but on a
//! stream of seeds of its own, apart from the replicates the claim decides on, so choosing a
//! design never looks at the data that decides it. The same run shows how close each health
//! check of the trainer came to its bound, which is what a health bound's margin rests on.
//!
//! `--planning N` in the runner prints it for every experiment picked.

use rayon::prelude::*;
use serde::Serialize;

use super::claim::Budget;
use super::evidence::{Judgement, Measure};
use super::experiment::{Decided, Experiment, replicate_seed};
use crate::stats::{binomial_lower_bound, binomial_upper_bound};

/// Mixed into the claim's seed so planning replicates never coincide with deciding ones
/// (the bytes of "planning").
const PLANNING_STREAM: u64 = 0x706c_616e_6e69_6e67;

/// What many replicates of an experiment's setting showed.
#[derive(Debug, Clone, Serialize)]
pub struct Planning {
    pub budget: Budget,
    pub replicates: usize,
    /// Healthy replicates whose margin was positive.
    pub wins: u64,
    /// The rate the design was sized for.
    pub stated: f64,
    /// The one-sided 95 % lower and upper confidence bounds on the rate (exact,
    /// Clopper–Pearson).
    pub lower_95: f64,
    pub upper_95: f64,
    /// Replicates whose health check failed or whose margin was not a number, with the first
    /// one's replicate index, seed and reason.
    pub unhealthy: usize,
    pub first_unhealthy: Option<(usize, u64, String)>,
    /// The smallest margin, its 1 % quantile and its median.
    pub margins: [f64; 3],
    /// Per health item that is a bound (by its position in a replicate's health; named by
    /// the first replicate's label): the largest observed/bound ratio over the replicates
    /// (below 1 passes; the gap to 1 is how far chance is from failing the trainer's check).
    pub health_ratios: Vec<(String, f64)>,
    /// Wall time per replicate, in milliseconds (all cores).
    pub ms_per_replicate: f64,
}

impl Planning {
    /// Whether the measurement bears out the stated rate for the decision the design is
    /// sized to reach, every replicate healthy. The stated rate is the least favourable
    /// plausible one: for `supported` the rate must be at least it (stated ≤ lower bound);
    /// for `not supported` at most it (upper bound ≤ stated); for `inconclusive` it is the
    /// end farthest from ½ of the rates where neither side wins, so the whole interval must
    /// lie between it and its mirror 1 − stated.
    pub fn confirms(&self, expected: Decided) -> bool {
        let near = self.stated.min(1.0 - self.stated);
        let far = self.stated.max(1.0 - self.stated);
        self.unhealthy == 0
            && match expected {
                Decided::Supported => self.stated <= self.lower_95,
                Decided::NotSupported => self.upper_95 <= self.stated,
                Decided::Inconclusive => near <= self.lower_95 && self.upper_95 <= far,
            }
    }
}

impl Experiment {
    /// Runs `n` replicates of the claim's setting (no control) on the planning stream of
    /// `claim_seed` at `budget`, on every core.
    pub fn planning(&self, claim_seed: u64, n: usize, budget: Budget) -> Planning {
        let start = std::time::Instant::now();
        let seed = |r: usize| replicate_seed(claim_seed ^ PLANNING_STREAM, r);
        let trials: Vec<_> = (0..n)
            .into_par_iter()
            .map(|r| self.trial(None, seed(r), budget))
            .collect();
        let mut margins = Vec::with_capacity(n);
        let (mut wins, mut unhealthy, mut first_unhealthy) = (0, 0, None);
        let mut health_ratios: Vec<(String, f64)> = Vec::new();
        let mut bound_ratios = |k: usize, what: &str, ratio: f64| match health_ratios.get_mut(k) {
            Some((_, worst)) => *worst = worst.max(ratio),
            None => health_ratios.push((what.to_owned(), ratio)),
        };
        for (r, t) in trials.iter().enumerate() {
            let judged = t.health.judge(None);
            if judged != Judgement::Pass || !t.margin.is_finite() {
                unhealthy += 1;
                if first_unhealthy.is_none() {
                    let why = match judged {
                        Judgement::Pass => format!("margin {}", t.margin),
                        Judgement::Rejected(s) | Judgement::Broken(s) => s,
                    };
                    first_unhealthy = Some((r, seed(r), why));
                }
                continue;
            }
            wins += u64::from(t.margin > 0.0);
            margins.push(t.margin);
            let bounds = t.health.evidence.iter().filter_map(|e| match e.measure {
                Measure::Bound {
                    observed, bound, ..
                } => Some((&e.what, observed / bound)),
                _ => None,
            });
            for (k, (what, ratio)) in bounds.enumerate() {
                bound_ratios(k, what, ratio);
            }
        }
        margins.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            margins
                .get((q * margins.len() as f64) as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        Planning {
            budget,
            replicates: n,
            wins,
            stated: self.design.planning_rate,
            lower_95: binomial_lower_bound(wins, n as u64, 0.05),
            upper_95: binomial_upper_bound(wins, n as u64, 0.05),
            unhealthy,
            first_unhealthy,
            margins: [quantile(0.0), quantile(0.01), quantile(0.5)],
            health_ratios,
            ms_per_replicate: start.elapsed().as_secs_f64() * 1e3 / n.max(1) as f64,
        }
    }
}

impl std::fmt::Display for Planning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  {} of {} replicates held ({:?} budget, {:.2} ms each): rate in [{:.4}, {:.4}] \
             (one-sided 95 % bounds each); the design plans with {}",
            self.wins,
            self.replicates,
            self.budget,
            self.ms_per_replicate,
            self.lower_95,
            self.upper_95,
            self.stated,
        )?;
        let [min, q1, median] = self.margins;
        writeln!(
            f,
            "  margins: min {min:.4e}, 1 % {q1:.4e}, median {median:.4e}"
        )?;
        if let Some((r, seed, why)) = &self.first_unhealthy {
            writeln!(
                f,
                "  {} unhealthy, the first replicate {r} (seed {seed}): {why}",
                self.unhealthy
            )?;
        }
        for (what, ratio) in &self.health_ratios {
            writeln!(f, "  health {what}: worst observed/bound {ratio:.3}")?;
        }
        Ok(())
    }
}
