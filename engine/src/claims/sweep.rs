//! The flakiness meter: the whole suite over many base seeds, counting the runs in which
//! some claim did not come out as the catalogue expects.

use rayon::prelude::*;
use serde::Serialize;

use super::claim::Budget;
use super::suite::Suite;
use super::verdict::Verdict;
use crate::stats::binomial_upper_bound;

/// What a sweep over base seeds found.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub budget: Budget,
    /// The base seeds run, in order.
    pub seeds: Vec<u64>,
    /// Per claim (registration order): its ID and the base seeds on which it came out
    /// other than expected.
    pub unexpected: Vec<(String, Vec<u64>)>,
    /// Base seeds on which the whole run failed (some claim unexpected).
    pub failed_seeds: Vec<u64>,
    /// The largest false-failure bound any run stated.
    pub stated_bound: f64,
}

impl Sweep {
    /// The fraction of runs that failed.
    pub fn failure_rate(&self) -> f64 {
        self.failed_seeds.len() as f64 / self.seeds.len().max(1) as f64
    }

    /// The one-sided upper confidence bound at level `1 − alpha` on the per-run failure
    /// probability (exact, Clopper–Pearson): with no failures in S runs about −ln(α)/S.
    pub fn failure_rate_upper(&self, alpha: f64) -> f64 {
        let (f, s) = (self.failed_seeds.len() as u64, self.seeds.len() as u64);
        binomial_upper_bound(f, s, alpha)
    }
}

impl Suite {
    /// Runs the picked claims on every base seed in `seeds` (every (seed, claim) pair is one
    /// task on the thread pool) and counts the unexpected outcomes.
    pub fn sweep(
        &self,
        picked: &[usize],
        seeds: &[u64],
        budget: Budget,
        done: impl Fn(u64, &Verdict) + Sync,
    ) -> Sweep {
        let pairs: Vec<(u64, usize)> = seeds
            .iter()
            .flat_map(|&s| picked.iter().map(move |&i| (s, i)))
            .collect();
        let raw: Vec<Verdict> = pairs
            .par_iter()
            .map(|&(s, i)| self.claims()[i].verify(s, budget))
            .collect();
        let mut unexpected: Vec<(String, Vec<u64>)> = picked
            .iter()
            .map(|&i| (self.claims()[i].id.to_string(), Vec::new()))
            .collect();
        let mut failed_seeds = Vec::new();
        let mut stated_bound: f64 = 0.0;
        for (k, &s) in seeds.iter().enumerate() {
            let mut run = raw[k * picked.len()..(k + 1) * picked.len()].to_vec();
            self.resolve(picked, &mut run);
            stated_bound = stated_bound.max(self.false_failure_bound(&run).total);
            let mut failed = false;
            for (j, v) in run.iter().enumerate() {
                done(s, v);
                if !v.ok() {
                    unexpected[j].1.push(s);
                    failed = true;
                }
            }
            if failed {
                failed_seeds.push(s);
            }
        }
        Sweep {
            budget,
            seeds: seeds.to_vec(),
            unexpected,
            failed_seeds,
            stated_bound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(failed: usize, runs: usize) -> Sweep {
        Sweep {
            budget: Budget::Ci,
            seeds: (0..runs as u64).collect(),
            unexpected: Vec::new(),
            failed_seeds: (0..failed as u64).collect(),
            stated_bound: 0.0,
        }
    }

    #[test]
    fn failure_rate_is_the_fraction_of_failed_runs() {
        assert_eq!(sweep(3, 12).failure_rate(), 0.25);
        assert_eq!(sweep(0, 5).failure_rate(), 0.0);
    }

    #[test]
    fn clopper_pearson_upper_bound() {
        // No failures in 200 runs: 1 − 0.05^(1/200) = 0.01487.
        let u = sweep(0, 200).failure_rate_upper(0.05);
        assert!((u - 0.014_867).abs() < 1e-5, "{u}");
        // 1 of 20 at 95%: 0.2161 (R: binom.test(1, 20, alt = "less")).
        let u = sweep(1, 20).failure_rate_upper(0.05);
        assert!((u - 0.2161).abs() < 1e-3, "{u}");
        assert_eq!(sweep(3, 3).failure_rate_upper(0.05), 1.0);
    }
}
