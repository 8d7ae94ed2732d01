//! Evidence: what a check measured, never a bare bool.
//!
//! Every item says what was measured and against what limit, so a reader of the report can
//! judge the margin, and a planted bug's rejection shows *how far* it missed.

use serde::Serialize;

use crate::stats::TestOutcome;

/// One measured fact, with the limit it is judged against.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Measure {
    /// A measured quantity that must not exceed a bound (largest error vs tolerance).
    /// NaN never passes.
    Bound {
        observed: f64,
        bound: f64,
        cases: u64,
        /// Why the bound is what it is.
        why: String,
    },
    /// A count of cases that broke an exact property (must be zero), with the first one.
    Violations {
        violations: u64,
        cases: u64,
        first: Option<String>,
    },
    /// A hypothesis test: passes when the p-value is at least alpha (the null, i.e. the
    /// claim, is not rejected).
    Test {
        #[serde(flatten)]
        outcome: TestOutcome,
        alpha: f64,
        /// The planted effect the sample size was chosen for, and the power against it.
        power: String,
    },
    /// A robust inequality an experiment asserts (`observed` must be below `threshold`).
    Experiment {
        observed: f64,
        threshold: f64,
        detail: String,
    },
}

/// A named measure: the unit of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// What was checked, in words (e.g. "σ(−x) = 1 − σ(x), |x| ≤ 1e3").
    pub what: String,
    #[serde(flatten)]
    pub measure: Measure,
}

impl Evidence {
    /// Whether this piece of evidence supports the statement it was collected for.
    pub fn passes(&self) -> bool {
        match &self.measure {
            Measure::Bound {
                observed, bound, ..
            } => observed <= bound,
            Measure::Violations { violations, .. } => *violations == 0,
            Measure::Test { outcome, alpha, .. } => outcome.p_value >= *alpha,
            Measure::Experiment {
                observed,
                threshold,
                ..
            } => observed < threshold,
        }
    }

    /// One line for the table: the measure and its limit.
    pub fn summary(&self) -> String {
        let verdict = if self.passes() { "ok" } else { "FAIL" };
        let m = match &self.measure {
            Measure::Bound {
                observed,
                bound,
                cases,
                ..
            } => format!("{observed:.3e} ≤ {bound:.1e} ({cases} cases)"),
            Measure::Violations {
                violations,
                cases,
                first,
            } => match first {
                Some(f) => format!("{violations}/{cases} violations, first at {f}"),
                None => format!("0/{cases} violations"),
            },
            Measure::Test { outcome, alpha, .. } => format!(
                "{} = {:.4}, n = {}, p = {:.3e} (α = {alpha:.0e})",
                outcome.test, outcome.statistic, outcome.n, outcome.p_value
            ),
            Measure::Experiment {
                observed,
                threshold,
                ..
            } => format!("{observed:.4e} < {threshold:.4e}"),
        };
        format!("{}: {m} [{verdict}]", self.what)
    }
}

/// What one run of a check found: every piece of evidence, and the figures it drew.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub evidence: Vec<Evidence>,
    pub figures: Vec<crate::report::figure::LinePlot>,
}

impl Findings {
    /// All evidence passes (and there is some).
    pub fn pass(&self) -> bool {
        !self.evidence.is_empty() && self.evidence.iter().all(Evidence::passes)
    }

    /// The first failing item, or the first item when all pass: the one-line summary.
    pub fn headline(&self) -> String {
        self.evidence
            .iter()
            .find(|e| !e.passes())
            .or(self.evidence.first())
            .map(Evidence::summary)
            .unwrap_or_else(|| "no evidence collected".into())
    }

    /// Records a measured quantity against its bound.
    pub fn bound(
        &mut self,
        what: impl Into<String>,
        observed: f64,
        bound: f64,
        cases: u64,
        why: impl Into<String>,
    ) {
        self.push(
            what,
            Measure::Bound {
                observed,
                bound,
                cases,
                why: why.into(),
            },
        );
    }

    /// Records a hypothesis test at level `alpha`, with the power statement behind `n`.
    pub fn test(
        &mut self,
        what: impl Into<String>,
        outcome: TestOutcome,
        alpha: f64,
        power: impl Into<String>,
    ) {
        self.push(
            what,
            Measure::Test {
                outcome,
                alpha,
                power: power.into(),
            },
        );
    }

    /// Records an exact property over `cases` inputs from a tally.
    pub fn tally(&mut self, what: impl Into<String>, tally: Tally) {
        self.push(
            what,
            Measure::Violations {
                violations: tally.violations,
                cases: tally.cases,
                first: tally.first,
            },
        );
    }

    /// Records an experiment's asserted inequality `observed < threshold`.
    pub fn experiment(
        &mut self,
        what: impl Into<String>,
        observed: f64,
        threshold: f64,
        detail: impl Into<String>,
    ) {
        self.push(
            what,
            Measure::Experiment {
                observed,
                threshold,
                detail: detail.into(),
            },
        );
    }

    fn push(&mut self, what: impl Into<String>, measure: Measure) {
        self.evidence.push(Evidence {
            what: what.into(),
            measure,
        });
    }
}

/// Counts the cases where an exact property failed, remembering the first.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub violations: u64,
    pub cases: u64,
    pub first: Option<String>,
}

impl Tally {
    /// Counts one case; `describe` runs only for the first violation.
    pub fn check(&mut self, ok: bool, describe: impl FnOnce() -> String) {
        self.cases += 1;
        if !ok {
            self.violations += 1;
            if self.first.is_none() {
                self.first = Some(describe());
            }
        }
    }
}

/// Tracks the largest error seen and where, for a [`Measure::Bound`].
#[derive(Debug, Clone, Default)]
pub struct MaxError {
    pub max: f64,
    pub at: f64,
    pub cases: u64,
}

impl MaxError {
    /// Records `error` at input `x`. A NaN error is kept (and makes the bound fail).
    pub fn record(&mut self, error: f64, x: f64) {
        self.cases += 1;
        if self.max.is_nan() {
            return; // the first NaN stays: it already fails the bound
        }
        if error.is_nan() || error > self.max {
            self.max = error;
            self.at = x;
        }
    }
}

/// The relative error |a − b| / max(1, |a|, |b|) of CLAIMS.md §4 for exact identities.
pub fn identity_error(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0; // also covers equal infinities
    }
    (a - b).abs() / 1f64.max(a.abs()).max(b.abs())
}

/// The tolerance of CLAIMS.md §4 for exact identities in f64: a few roundings of ε = 2.2e-16
/// on quantities of order one, with room for the libm calls involved (each ≤ 1 ulp).
pub const IDENTITY_TOL: f64 = 1e-12;
