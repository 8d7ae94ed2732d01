//! Evidence: what a check measured, never a bare bool.
//!
//! Every item says what was measured and against what limit, so a reader of the report can
//! judge the margin, and a planted bug's rejection shows *how far* it missed.
//!
//! An item is also *valid* or not. A NaN error, a NaN statistic or an empty tally measured
//! nothing: it fails on our code (a broken implementation is never "as expected"), and when
//! it is all that tells a planted bug apart it does not count as power ([`Judgement`]).

use serde::Serialize;

use crate::stats::TestOutcome;

/// The power a statistical check has against a planted variant: the probability that the
/// test rejects it, computed from the variant's predicted effect at the sample size used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Power {
    /// P(reject) against `against`; NaN where the check states none (a run can tell).
    pub probability: f64,
    /// The effect it was computed for, in words ("the √3 bound: variance ×½, 41 SE").
    pub against: String,
}

impl Power {
    /// Power `probability` against the effect described by `against`.
    pub fn new(probability: f64, against: impl Into<String>) -> Self {
        Self {
            probability,
            against: against.into(),
        }
    }

    /// A check run on our code: no planted effect, so the power is not what is measured.
    pub fn none() -> Self {
        Self::new(f64::NAN, "")
    }
}

/// One measured fact, with the limit it is judged against.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Measure {
    /// A measured quantity that must not exceed a bound (largest error vs tolerance). Valid
    /// when some case measured a finite value.
    Bound {
        /// The largest finite value seen (NaN when nothing finite was measured).
        observed: f64,
        bound: f64,
        cases: u64,
        /// Cases whose value was NaN or infinite: each fails the bound, but measures nothing.
        nonfinite: u64,
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
        /// The power against the planted variant this run checks.
        power: Power,
    },
    /// A robust inequality an experiment asserts (`observed` must be below `threshold`).
    Experiment {
        observed: f64,
        threshold: f64,
        detail: String,
    },
    /// An experiment's decision: how many independent replicates satisfied the inequality,
    /// and what the one-sided sign tests at level `alpha` make of it. It is recorded only
    /// when every replicate ran healthy; it does not pass or fail, it decides (`decided`).
    SignTest {
        inequality: String,
        wins: u64,
        replicates: u64,
        alpha: f64,
        /// P(X ≥ wins) for X ~ Binomial(replicates, ½): small supports the inequality.
        p_supported: f64,
        /// P(X ≤ wins) for the same X: small supports its negation.
        p_not_supported: f64,
        /// `supported`, `not-supported` or `inconclusive`.
        decided: String,
        /// The smallest, median and largest margin over the replicates (> 0: it held).
        margins: [f64; 3],
    },
}

/// What an evidence item checked: plain text for the terminal and `report.json`, and
/// optionally the same words as Markdown with KaTeX math (`$…$`) for the book.
///
/// A `&str` or `String` converts into a label with no Markdown form (the book then shows the
/// plain text, escaped); [`Label::markdown`] adds one:
///
/// ```
/// use proofs_engine::claims::Label;
/// let l = Label::from("∂ℓ/∂W_{n,j} against finite differences")
///     .markdown(r"$\partial\ell/\partial W_{n,j}$ against finite differences");
/// assert_eq!(l.plain, "∂ℓ/∂W_{n,j} against finite differences");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Label {
    /// The label as plain text.
    pub plain: String,
    /// The same label as Markdown whose math is between `$` delimiters.
    pub markdown: Option<String>,
}

impl Label {
    /// Adds the Markdown form of the label (math between `$` delimiters). The book puts it in
    /// tables too: write |x| as `\lvert x \rvert`, since a bare `|` ends a table cell.
    #[must_use]
    pub fn markdown(mut self, markdown: impl Into<String>) -> Self {
        self.markdown = Some(markdown.into());
        self
    }
}

impl Label {
    /// Appends plain text (a count, a worst input) to both forms; the Markdown form gets it
    /// escaped.
    ///
    /// ```
    /// use proofs_engine::claims::Label;
    /// let l = Label::from("σ'").markdown("$\\sigma'$").append(" (worst at x_0 = 1)");
    /// assert_eq!(l.plain, "σ' (worst at x_0 = 1)");
    /// assert_eq!(l.markdown.as_deref(), Some("$\\sigma'$ (worst at x\\_0 = 1)"));
    /// assert_eq!(Label::from("a").append("_b").markdown, None);
    /// ```
    #[must_use]
    pub fn append(mut self, tail: &str) -> Self {
        self.plain.push_str(tail);
        if let Some(m) = &mut self.markdown {
            m.push_str(&crate::report::book::escape(tail));
        }
        self
    }
}

impl From<String> for Label {
    fn from(plain: String) -> Self {
        Self {
            plain,
            markdown: None,
        }
    }
}

impl From<&str> for Label {
    fn from(plain: &str) -> Self {
        plain.to_owned().into()
    }
}

impl From<&String> for Label {
    fn from(plain: &String) -> Self {
        plain.clone().into()
    }
}

/// A named measure: the unit of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// What was checked, in words (e.g. "σ(−x) = 1 − σ(x), |x| ≤ 1e3").
    pub what: String,
    /// The same as Markdown with KaTeX math, for the book ([`Label::markdown`]); `None`
    /// where the plain words serve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_markdown: Option<String>,
    #[serde(flatten)]
    pub measure: Measure,
}

impl Evidence {
    /// Whether the item measured something: no NaN where a number is judged, at least one
    /// case where cases are counted.
    pub fn valid(&self) -> bool {
        match &self.measure {
            Measure::Bound {
                observed,
                bound,
                cases,
                ..
            } => !bound.is_nan() && *cases > 0 && observed.is_finite(),
            Measure::Violations { cases, .. } => *cases > 0,
            Measure::Test { outcome, alpha, .. } => {
                outcome.p_value.is_finite() && outcome.statistic.is_finite() && !alpha.is_nan()
            }
            Measure::Experiment {
                observed,
                threshold,
                ..
            } => observed.is_finite() && threshold.is_finite(),
            // Recorded only once every replicate ran healthy with a finite margin.
            Measure::SignTest { .. } => true,
        }
    }

    /// Whether this piece of evidence supports the statement it was collected for. An
    /// invalid item never passes.
    pub fn passes(&self) -> bool {
        self.valid()
            && match &self.measure {
                Measure::Bound {
                    observed,
                    bound,
                    nonfinite,
                    ..
                } => *nonfinite == 0 && observed <= bound,
                Measure::Violations { violations, .. } => *violations == 0,
                Measure::Test { outcome, alpha, .. } => outcome.p_value >= *alpha,
                Measure::Experiment {
                    observed,
                    threshold,
                    ..
                } => observed < threshold,
                Measure::SignTest { .. } => true,
            }
    }

    /// Whether the item fails on a measured value: a finite error above its bound, a counted
    /// violation, a finite p-value below α. Only such a failure is power against a planted
    /// bug; a failure by NaN alone is not.
    pub fn rejects(&self) -> bool {
        match &self.measure {
            Measure::Bound {
                observed, bound, ..
            } => observed.is_finite() && !bound.is_nan() && observed > bound,
            _ => self.valid() && !self.passes(),
        }
    }

    /// One line for the table: the measure, its limit and how it came out on our code
    /// (`ok`, `FAIL`, `INVALID`).
    pub fn summary(&self) -> String {
        let verdict = match (self.passes(), self.rejects()) {
            (true, _) => "ok",
            (false, true) => "FAIL",
            (false, false) => "INVALID",
        };
        self.summary_as(verdict)
    }

    /// One line as a planted bug's evidence: the same measure, marked `rejected` when it
    /// told the bug apart (that is a success of the check, not a failure).
    pub fn rejection_summary(&self) -> String {
        self.summary_as(if self.rejects() {
            "rejected"
        } else {
            "not rejected"
        })
    }

    fn summary_as(&self, verdict: &str) -> String {
        let m = self.measure_text();
        if let Measure::SignTest { .. } = self.measure {
            return format!("{}: {m}", self.what);
        }
        format!("{}: {m} [{verdict}]", self.what)
    }

    /// The measure and its limit, in words.
    pub fn measure_text(&self) -> String {
        match &self.measure {
            Measure::Bound {
                observed,
                bound,
                cases,
                nonfinite,
                ..
            } => {
                let bad = if *nonfinite > 0 {
                    format!(", {nonfinite} non-finite")
                } else {
                    String::new()
                };
                format!("{observed:.3e} ≤ {bound:.1e} ({cases} cases{bad})")
            }
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
            Measure::SignTest {
                inequality,
                wins,
                replicates,
                alpha,
                p_supported,
                p_not_supported,
                decided,
                margins,
            } => format!(
                "{inequality} in {wins}/{replicates} replicates (sign test: p = {p_supported:.1e} for, \
                 {p_not_supported:.1e} against, α = {alpha:.0e}): {decided}; margin min {:.3e}, \
                 median {:.3e}, max {:.3e}",
                margins[0], margins[1], margins[2]
            ),
        }
    }
}

/// How one run of a check came out.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Every item is valid and passes.
    Pass,
    /// An item failed on a measured value (the first such item's summary).
    Rejected(String),
    /// Nothing measured tells: no evidence, a panic, NaN, or (for a planted bug that must be
    /// rejected by a named check) a rejection by another item only.
    Broken(String),
}

/// What one run of a check found: every piece of evidence, and the figures it drew.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub evidence: Vec<Evidence>,
    pub figures: Vec<crate::report::figure::LinePlot>,
    /// Set when the check panicked: the panic's message.
    pub panicked: Option<String>,
}

impl Findings {
    /// All evidence valid and passing, some evidence, no panic.
    pub fn pass(&self) -> bool {
        self.judge(None) == Judgement::Pass
    }

    /// How the run came out. With `by`, only an item whose `what` contains `by` counts as a
    /// rejection (the check a planted bug is meant to power); a failure elsewhere is
    /// [`Judgement::Broken`].
    pub fn judge(&self, by: Option<&str>) -> Judgement {
        if let Some(msg) = &self.panicked {
            return Judgement::Broken(format!("the check panicked: {msg}"));
        }
        if self.evidence.is_empty() {
            return Judgement::Broken("no evidence collected".into());
        }
        if let Some(e) = self.rejection(by) {
            return Judgement::Rejected(e.summary());
        }
        if let Some(e) = self.evidence.iter().find(|e| !e.passes()) {
            return Judgement::Broken(e.summary());
        }
        Judgement::Pass
    }

    /// The first item that fails on a measured value (with `by`, among the items whose
    /// description contains it).
    pub fn rejection(&self, by: Option<&str>) -> Option<&Evidence> {
        self.evidence
            .iter()
            .filter(|e| by.is_none_or(|b| e.what.contains(b)))
            .find(|e| e.rejects())
    }

    /// The first failing item, or the first item when all pass: the one-line summary.
    pub fn headline(&self) -> String {
        if let Some(msg) = &self.panicked {
            return format!("the check panicked: {msg}");
        }
        self.evidence
            .iter()
            .find(|e| !e.passes())
            .or(self.evidence.first())
            .map(Evidence::summary)
            .unwrap_or_else(|| "no evidence collected".into())
    }

    /// Records a measured quantity against its bound. A NaN or infinite `observed` is
    /// recorded as one non-finite case: the item fails and measures nothing.
    pub fn bound(
        &mut self,
        what: impl Into<Label>,
        observed: f64,
        bound: f64,
        cases: u64,
        why: impl Into<String>,
    ) {
        let nonfinite = u64::from(!observed.is_finite());
        self.push(
            what,
            Measure::Bound {
                observed,
                bound,
                cases: cases.max(nonfinite),
                nonfinite,
                why: why.into(),
            },
        );
    }

    /// Records the largest error a [`MaxError`] saw against `bound`, with its non-finite
    /// cases counted apart.
    pub fn max_error(
        &mut self,
        what: impl Into<Label>,
        error: &MaxError,
        bound: f64,
        why: impl Into<String>,
    ) {
        let observed = if error.cases > error.nonfinite {
            error.max
        } else {
            f64::NAN
        };
        self.push(
            what,
            Measure::Bound {
                observed,
                bound,
                cases: error.cases,
                nonfinite: error.nonfinite,
                why: why.into(),
            },
        );
    }

    /// Records a gradient check: the worst parameter's |g − ĝ| as a fraction of its band,
    /// which must be at most 1, with the parameter and both values in the description (in
    /// the Markdown form typeset: [`GradientCheck::markdown`](super::gradcheck::GradientCheck::markdown)).
    pub fn gradient(&mut self, what: impl Into<Label>, check: &super::gradcheck::GradientCheck) {
        let what = what.into();
        let typeset = what
            .markdown
            .unwrap_or_else(|| crate::report::book::escape(&what.plain));
        let what = Label::from(format!("{} ({check})", what.plain))
            .markdown(format!("{typeset} ({})", check.markdown()));
        self.push(
            what,
            Measure::Bound {
                // The worst finite ratio: NaN when no parameter gave one.
                observed: check.ratio,
                bound: 1.0,
                cases: check.parameters as u64,
                nonfinite: check.nonfinite as u64,
                why: super::gradcheck::WHY_SCALED.to_owned(),
            },
        );
    }

    /// Records a hypothesis test at level `alpha`, with its power against the planted
    /// variant being checked (or [`Power::none`] on our code).
    pub fn test(&mut self, what: impl Into<Label>, outcome: TestOutcome, alpha: f64, power: Power) {
        self.push(
            what,
            Measure::Test {
                outcome,
                alpha,
                power,
            },
        );
    }

    /// Records an exact property over `cases` inputs from a tally.
    pub fn tally(&mut self, what: impl Into<Label>, tally: Tally) {
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
        what: impl Into<Label>,
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

    /// The statistical tests among the evidence: (α, power) of each.
    pub fn tests(&self) -> impl Iterator<Item = (f64, &Power)> {
        self.evidence.iter().filter_map(|e| match &e.measure {
            Measure::Test { alpha, power, .. } => Some((*alpha, power)),
            _ => None,
        })
    }

    fn push(&mut self, what: impl Into<Label>, measure: Measure) {
        let what = what.into();
        self.evidence.push(Evidence {
            what: what.plain,
            what_markdown: what.markdown,
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

/// Tracks the largest finite error seen and where, for a [`Measure::Bound`]; NaN and
/// infinite errors are counted apart ([`Findings::max_error`] reports both).
#[derive(Debug, Clone, Default)]
pub struct MaxError {
    /// The largest finite error (0 before any).
    pub max: f64,
    /// The input where it was seen.
    pub at: f64,
    pub cases: u64,
    /// Cases whose error was NaN or infinite.
    pub nonfinite: u64,
}

impl MaxError {
    /// Records `error` at input `x`.
    pub fn record(&mut self, error: f64, x: f64) {
        self.cases += 1;
        if !error.is_finite() {
            self.nonfinite += 1;
        } else if error > self.max {
            self.max = error;
            self.at = x;
        }
    }
}

/// The relative error |a − b| / max(1, |a|, |b|) of the identity tolerance (conventions
/// appendix, "Tolerances").
pub fn identity_error(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0; // also covers equal infinities
    }
    (a - b).abs() / 1f64.max(a.abs()).max(b.abs())
}

/// The identity tolerance in f64 (conventions appendix, "Tolerances"): a few roundings of
/// ε = 2.2e-16 on quantities of order one, with room for the libm calls involved (each
/// ≤ 1 ulp).
pub const IDENTITY_TOL: f64 = 1e-12;
