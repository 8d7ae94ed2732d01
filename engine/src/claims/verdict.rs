//! Running a claim: what came out, how each planted bug and control fared, and the
//! claim's share of the suite's false-failure bound.

use serde::Serialize;

use super::Text;
use super::claim::{Budget, Claim, Ctx, Decision};
use super::evidence::{Findings, Judgement, Measure};
use super::experiment::{ControlExpect, Decided};
use super::seed::{SEED_ENV, claim_seed};

/// What a claim came out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The claim (or, for an imprecise one, its precise statement) is verified.
    Holds,
    /// The post's version is rejected like a planted bug; the corrected statement holds.
    CorrectedHolds,
    /// Shown false by an asserted counter-observation, beside a positive control.
    Refuted,
    /// An experiment's sign test says the inequality holds in this setting.
    Supported,
    /// An experiment's sign test says its negation holds in this setting.
    NotSupported,
    /// An experiment's sign test decides neither way.
    Inconclusive,
    /// Informal; the catalogue marks it out of scope, with a reason.
    OutOfScope,
    /// The check is broken or did not come out as designed: never an expected result.
    Failed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 8] = [
        Outcome::Holds,
        Outcome::CorrectedHolds,
        Outcome::Refuted,
        Outcome::Supported,
        Outcome::NotSupported,
        Outcome::Inconclusive,
        Outcome::OutOfScope,
        Outcome::Failed,
    ];

    /// The word used in the catalogue, tables and JSON.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::CorrectedHolds => "corrected-holds",
            Outcome::Refuted => "refuted",
            Outcome::Supported => "supported",
            Outcome::NotSupported => "not-supported",
            Outcome::Inconclusive => "inconclusive",
            Outcome::OutOfScope => "out-of-scope",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome a word names.
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.word() == word)
    }

    fn decided(d: Decided) -> Self {
        match d {
            Decided::Supported => Outcome::Supported,
            Decided::NotSupported => Outcome::NotSupported,
            Decided::Inconclusive => Outcome::Inconclusive,
        }
    }

    /// The experiment decision this outcome is, if it is one.
    pub fn as_decided(self) -> Option<Decided> {
        match self {
            Outcome::Supported => Some(Decided::Supported),
            Outcome::NotSupported => Some(Decided::NotSupported),
            Outcome::Inconclusive => Some(Decided::Inconclusive),
            _ => None,
        }
    }
}

impl Serialize for PlantedState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.word())
    }
}

/// How a planted bug fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedState {
    /// The check rejected it on a measured value: power shown.
    Rejected,
    /// Every item passed: the check cannot tell it from our code.
    Survived,
    /// Told apart only by a panic, a NaN, no evidence, or an item other than the check it
    /// is meant to power: no power shown.
    Invalid,
}

impl PlantedState {
    /// The report's word.
    pub fn word(self) -> &'static str {
        match self {
            PlantedState::Rejected => "rejected",
            PlantedState::Survived => "survived",
            PlantedState::Invalid => "invalid",
        }
    }
}

/// How one planted bug fared.
#[derive(Debug, Clone, Serialize)]
pub struct PlantedResult {
    pub name: Text,
    /// The name as Markdown with math, for the book ([`super::Planted::typeset`]).
    #[serde(skip)]
    pub typeset: Option<&'static str>,
    pub state: PlantedState,
    /// Whether the check rejected it on a measured value.
    pub rejected: bool,
    pub harmless: bool,
    /// Whether this variant is the post's own statement.
    pub post: bool,
    /// The evidence that decided (the rejecting item, or why it is invalid).
    pub evidence: String,
    /// The item that rejected it, when one did: the book typesets it.
    #[serde(skip)]
    pub rejected_by: Option<super::Evidence>,
    /// The chance this bug survives on another seed: 0 for an exact check, 1 − power for a
    /// statistical one, NaN where the check states no power.
    pub miss: f64,
}

/// How one control arm of an experiment fared.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub name: &'static str,
    /// `supported` or `failed`: what it must come out as.
    pub expect: ControlExpect,
    /// Whether it did.
    pub ok: bool,
    pub evidence: String,
}

/// What running one claim gave.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub id: Text,
    pub outcome: Outcome,
    /// The catalogue's expected result (`None` until compared, or when the catalogue does
    /// not list the ID).
    pub expected: Option<Outcome>,
    /// The base seed of the run: `--seed` with this value and `--claim ID` reproduces it.
    pub base_seed: u64,
    pub budget: Budget,
    pub findings: Findings,
    /// Why a claim is out of scope, or why it failed.
    pub reason: Option<String>,
    pub planted: Vec<PlantedResult>,
    pub controls: Vec<ControlResult>,
    /// Σ α of the statistical checks run on our code (each could fail by chance).
    pub alpha_sum: f64,
    /// How the suite's runner is started (the suite sets it): the failure report prefixes
    /// its `--claim … --seed …` with it.
    pub command: Text,
}

impl Verdict {
    fn new(id: Text, base_seed: u64, budget: Budget, outcome: Outcome) -> Self {
        Self {
            id,
            outcome,
            expected: None,
            base_seed,
            budget,
            findings: Findings::default(),
            reason: None,
            planted: Vec::new(),
            controls: Vec::new(),
            alpha_sum: 0.0,
            command: Text::Borrowed("the runner"),
        }
    }

    /// Came out as the catalogue expects (never when the outcome is `failed` or the
    /// catalogue does not list the claim).
    pub fn ok(&self) -> bool {
        self.outcome != Outcome::Failed && self.expected == Some(self.outcome)
    }

    /// `k/n` planted bugs rejected (harmless ones not counted).
    pub fn rejected_fraction(&self) -> String {
        let live = self.planted.iter().filter(|p| !p.harmless);
        let n = live.clone().count();
        let k = live.filter(|p| p.state == PlantedState::Rejected).count();
        format!("{k}/{n}")
    }

    /// The planted bugs' summed chance of surviving on another seed (NaN terms skipped),
    /// and how many rejections state no power.
    pub fn miss_sum(&self) -> (f64, usize) {
        let live = self.planted.iter().filter(|p| !p.harmless);
        let unknown = live.clone().filter(|p| p.miss.is_nan()).count();
        let sum = live.filter(|p| !p.miss.is_nan()).map(|p| p.miss).sum();
        (sum, unknown)
    }

    /// A message for a failing run: what failed and how to reproduce it.
    pub fn failure_report(&self) -> String {
        let expected = self
            .expected
            .map_or("(not in the catalogue)", Outcome::word);
        let budget = match self.budget {
            Budget::Ci => " --budget ci",
            Budget::Full => "",
        };
        let mut s = format!(
            "{} came out {} (expected {expected}); reproduce with `{} --claim {}{budget} --seed {}` or {SEED_ENV}={}\n",
            self.id,
            self.outcome.word(),
            self.command,
            self.id,
            self.base_seed,
            self.base_seed
        );
        if let Some(r) = &self.reason {
            s += &format!("  {r}\n");
        }
        for e in &self.findings.evidence {
            s += &format!("  {}\n", e.summary());
        }
        for p in self.planted.iter().filter(|p| !p.harmless) {
            match p.state {
                PlantedState::Rejected => {}
                PlantedState::Survived => {
                    s += &format!("  planted bug SURVIVED: {} ({})\n", p.name, p.evidence)
                }
                PlantedState::Invalid => {
                    s += &format!(
                        "  planted bug told apart only by a broken check: {} ({})\n",
                        p.name, p.evidence
                    )
                }
            }
        }
        for c in self.controls.iter().filter(|c| !c.ok) {
            s += &format!(
                "  control {} did not come out {:?}: {}\n",
                c.name, c.expect, c.evidence
            );
        }
        s
    }
}

/// Runs `f`, turning a panic into its message.
pub(crate) fn run_caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("a panic")
            .to_owned()
    })
}

/// Runs one check, a panic recorded in the findings.
fn run_check(run: &super::claim::CheckFn, variant: Option<usize>, ctx: &Ctx) -> Findings {
    run_caught(|| run(variant, ctx)).unwrap_or_else(|msg| Findings {
        panicked: Some(msg),
        ..Findings::default()
    })
}

/// Σ α over the statistical tests of a run.
fn alpha_of(f: &Findings) -> f64 {
    f.tests().map(|(a, _)| a).sum()
}

/// The chance a rejected planted bug would survive on another seed: 0 when an exact item
/// rejected it, else the least 1 − power among the tests that rejected it.
fn miss_of(f: &Findings, by: Option<&str>) -> f64 {
    let rejecting = f
        .evidence
        .iter()
        .filter(|e| by.is_none_or(|b| e.what.contains(b)) && e.rejects());
    let mut miss = f64::INFINITY;
    for e in rejecting {
        match &e.measure {
            Measure::Test { power, .. } => miss = miss.min(1.0 - power.probability),
            _ => return 0.0,
        }
    }
    if miss.is_infinite() { f64::NAN } else { miss }
}

impl Claim {
    /// Runs the claim's check on our code, every planted bug and every control, on the
    /// claim's seed for `base_seed`. The expected result is left for the catalogue; a claim
    /// that follows an experiment comes back `failed` until the suite resolves it.
    pub fn verify(&self, base_seed: u64, budget: Budget) -> Verdict {
        let seed = claim_seed(&self.id, base_seed);
        let ctx = Ctx { seed, budget };
        let mut v = Verdict::new(self.id.clone(), base_seed, budget, Outcome::Failed);
        match &self.decision {
            Decision::OutOfScope { reason } => {
                v.outcome = Outcome::OutOfScope;
                v.reason = Some(reason.to_string());
            }
            Decision::Follows { experiment } => {
                v.reason = Some(format!("follows {experiment}, which did not run"));
            }
            Decision::Refute { counter, control } => {
                let findings = run_check(counter, None, &ctx);
                let positive = run_check(control, None, &ctx);
                v.alpha_sum = alpha_of(&findings) + alpha_of(&positive);
                let control_ok = positive.pass();
                v.controls.push(ControlResult {
                    name: "the same check where the statement holds",
                    expect: ControlExpect::Supported,
                    ok: control_ok,
                    evidence: positive.headline(),
                });
                v.outcome = match (findings.judge(None), control_ok) {
                    (Judgement::Pass, true) => Outcome::Refuted,
                    (Judgement::Pass, false) => {
                        v.reason = Some("the positive control did not pass".into());
                        Outcome::Failed
                    }
                    (Judgement::Rejected(s) | Judgement::Broken(s), _) => {
                        v.reason = Some(format!("the counter-observation is not shown: {s}"));
                        Outcome::Failed
                    }
                };
                v.findings = findings;
            }
            Decision::Check { planted, run } => {
                let findings = run_check(run, None, &ctx);
                v.alpha_sum = alpha_of(&findings);
                v.planted = planted
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let f = run_check(run, Some(i), &ctx);
                        let (state, evidence) = match f.judge(p.by.as_deref()) {
                            Judgement::Rejected(s) => (
                                PlantedState::Rejected,
                                f.rejection(p.by.as_deref())
                                    .map_or(s, super::Evidence::rejection_summary),
                            ),
                            Judgement::Pass => (PlantedState::Survived, f.headline()),
                            Judgement::Broken(s) => (PlantedState::Invalid, s),
                        };
                        PlantedResult {
                            name: p.name.clone(),
                            typeset: p.typeset,
                            state,
                            rejected: state == PlantedState::Rejected,
                            harmless: p.harmless,
                            post: p.post,
                            evidence,
                            rejected_by: if state == PlantedState::Rejected {
                                f.rejection(p.by.as_deref()).cloned()
                            } else {
                                None
                            },
                            miss: if state == PlantedState::Rejected {
                                miss_of(&f, p.by.as_deref())
                            } else {
                                1.0
                            },
                        }
                    })
                    .collect();
                let all_rejected = v
                    .planted
                    .iter()
                    .all(|p| p.harmless || p.state == PlantedState::Rejected);
                v.outcome = match findings.judge(None) {
                    Judgement::Pass if all_rejected => {
                        if self.plants_the_post() {
                            Outcome::CorrectedHolds
                        } else {
                            Outcome::Holds
                        }
                    }
                    Judgement::Pass => {
                        v.reason = Some("a planted bug was not rejected by its check".into());
                        Outcome::Failed
                    }
                    Judgement::Rejected(s) => {
                        v.reason = Some(format!("our code fails its own check: {s}"));
                        Outcome::Failed
                    }
                    Judgement::Broken(s) => {
                        v.reason = Some(format!("the check on our code measured nothing: {s}"));
                        Outcome::Failed
                    }
                };
                v.findings = findings;
            }
            Decision::Experiment(exp) => {
                let main = exp.run_arm(None, seed, budget);
                v.alpha_sum = 0.0; // the sign test's error is counted from the design
                v.controls = exp
                    .controls
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let arm = exp.run_arm(Some(i), seed, budget);
                        let ok = match c.expect {
                            ControlExpect::Supported => arm.decided == Some(Decided::Supported),
                            ControlExpect::Failed => arm.health_rejected,
                        };
                        ControlResult {
                            name: c.name,
                            expect: c.expect,
                            ok,
                            evidence: arm.findings.headline_or_decision(),
                        }
                    })
                    .collect();
                let controls_ok = v.controls.iter().all(|c| c.ok);
                v.outcome = match (main.decided, controls_ok) {
                    (Some(d), true) => Outcome::decided(d),
                    (Some(_), false) => {
                        v.reason = Some("a control did not come out as designed".into());
                        Outcome::Failed
                    }
                    (None, _) => {
                        v.reason = Some("a replicate's health check failed".into());
                        Outcome::Failed
                    }
                };
                v.findings = main.findings;
            }
        }
        v
    }
}

impl Findings {
    /// The decision line when there is one, else the headline.
    fn headline_or_decision(&self) -> String {
        self.evidence
            .iter()
            .find(|e| matches!(e.measure, Measure::SignTest { .. }))
            .map(super::Evidence::summary)
            .unwrap_or_else(|| self.headline())
    }
}
