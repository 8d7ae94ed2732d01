//! The claim registry: every checkable statement of the post, with its check and the
//! planted bugs that check must reject.
//!
//! A claim is a value: its ID from `CLAIMS.md`, where it stands in the post, the precise
//! statement, the catalogue's verdict on the post, and a check. The check is a function of
//! the code under test: `None` is our implementation, `Some(bug)` a planted wrong variant.
//! The claim stands only if the correct code passes and every planted bug is rejected;
//! that rejection is the evidence that the check has power.

mod evidence;
pub mod gradcheck;

pub use evidence::{Evidence, Findings, IDENTITY_TOL, MaxError, Measure, Tally, identity_error};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The catalogue's verdict on the post's statement (CLAIMS.md, "Verdict vocabulary").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PostVerdict {
    Correct,
    Typo,
    Wrong,
    Imprecise,
    Implied,
    Informal,
    Experiment,
    Extension,
}

impl PostVerdict {
    /// The catalogue's word.
    pub fn word(self) -> &'static str {
        match self {
            PostVerdict::Correct => "correct",
            PostVerdict::Typo => "typo",
            PostVerdict::Wrong => "wrong",
            PostVerdict::Imprecise => "imprecise",
            PostVerdict::Implied => "implied",
            PostVerdict::Informal => "informal",
            PostVerdict::Experiment => "experiment",
            PostVerdict::Extension => "extension",
        }
    }
}

/// What a claim came out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The claim (or, for an imprecise one, its precise statement) is verified.
    Holds,
    /// The post's version is rejected like a planted bug; the corrected statement holds.
    CorrectedHolds,
    /// Shown false; no correction applies.
    Refuted,
    /// Informal; the catalogue marks it out of scope, with a reason.
    OutOfScope,
    /// The check did not come out as the catalogue expects.
    Failed,
}

impl Outcome {
    /// The word used in tables and JSON.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::CorrectedHolds => "corrected-holds",
            Outcome::Refuted => "refuted",
            Outcome::OutOfScope => "out-of-scope",
            Outcome::Failed => "failed",
        }
    }
}

/// How much work a check may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// The whole suite in seconds: what `cargo test` and CI run.
    Ci,
    /// The runner's default: the sample sizes the power statements are written for.
    Full,
}

/// A planted bug: a realistic wrong variant the check must reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Planted {
    /// Short name, as in the report.
    pub name: &'static str,
    /// This variant is the post's own (literal) statement.
    pub post: bool,
    /// The variant is equivalent to the correct code, so it is not required to fail.
    pub harmless: bool,
}

impl Planted {
    /// A realistic bug the check must reject.
    pub const fn bug(name: &'static str) -> Self {
        Self {
            name,
            post: false,
            harmless: false,
        }
    }

    /// The post's statement as written, where the catalogue finds it wrong or misprinted.
    pub const fn post(name: &'static str) -> Self {
        Self {
            name,
            post: true,
            harmless: false,
        }
    }

    /// A variant that is in fact equivalent (for example a symmetric fan swap): exempt.
    pub const fn harmless(name: &'static str) -> Self {
        Self {
            name,
            post: false,
            harmless: true,
        }
    }
}

/// What the check is run against, and with what seed and budget.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// The seed of this claim's run (already mixed with the claim ID).
    pub seed: u64,
    pub budget: Budget,
}

impl Ctx {
    /// A fresh, portable, deterministic generator for this run. Each call restarts the
    /// stream, so the correct code and every planted bug see the same random inputs.
    pub fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed)
    }

    /// `ci` at the CI budget, `full` otherwise.
    pub fn size(&self, ci: usize, full: usize) -> usize {
        match self.budget {
            Budget::Ci => ci,
            Budget::Full => full,
        }
    }
}

type CheckFn = Box<dyn Fn(Option<usize>, &Ctx) -> Findings + Send + Sync>;

/// Runs a check, turning a panic into failing evidence: a check that panics on our code has
/// failed, and one that panics on a planted bug has rejected it (the message says how).
fn run_caught(run: &CheckFn, variant: Option<usize>, ctx: &Ctx) -> Findings {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(variant, ctx))) {
        Ok(f) => f,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            let mut t = Tally::default();
            t.check(false, || format!("the check panicked: {msg}"));
            let mut f = Findings::default();
            f.tally("the check ran to completion", t);
            f
        }
    }
}

/// How a claim is decided.
pub enum Decision {
    /// Run the check on our code and on each planted bug.
    Check { planted: Vec<Planted>, run: CheckFn },
    /// Informal and out of scope: the catalogue's reason.
    OutOfScope { reason: &'static str },
    /// The post's statement, checked as written, must come out false and no correction
    /// applies (for example an experiment that an honest run does not support).
    Refute { run: CheckFn },
}

/// One claim of the catalogue.
pub struct Claim {
    pub id: &'static str,
    /// The derivation (room) it belongs to: `activation`, `backprop`, ...
    pub derivation: &'static str,
    /// Where it stands in the post.
    pub location: &'static str,
    /// The precise statement we verify (corrected where the post is wrong).
    pub statement: &'static str,
    pub post_verdict: PostVerdict,
    pub decision: Decision,
}

impl Claim {
    /// A checked claim. `bugs` pairs each planted variant (a value of the claim's own enum)
    /// with its description; `run(None, ctx)` checks our code, `run(Some(bug), ctx)` a bug.
    pub fn checked<B: Copy + Send + Sync + 'static>(
        id: &'static str,
        derivation: &'static str,
        location: &'static str,
        statement: &'static str,
        post_verdict: PostVerdict,
        bugs: &[(B, Planted)],
        run: fn(Option<B>, &Ctx) -> Findings,
    ) -> Self {
        let planted = bugs.iter().map(|(_, p)| *p).collect();
        let variants: Vec<B> = bugs.iter().map(|(b, _)| *b).collect();
        Self {
            id,
            derivation,
            location,
            statement,
            post_verdict,
            decision: Decision::Check {
                planted,
                run: Box::new(move |i, ctx| run(i.map(|i| variants[i]), ctx)),
            },
        }
    }

    /// An informal claim that the catalogue puts out of scope.
    pub fn out_of_scope(
        id: &'static str,
        derivation: &'static str,
        location: &'static str,
        statement: &'static str,
        reason: &'static str,
    ) -> Self {
        Self {
            id,
            derivation,
            location,
            statement,
            post_verdict: PostVerdict::Informal,
            decision: Decision::OutOfScope { reason },
        }
    }

    /// A claim the check shows false as written, with no correction that applies: `run`
    /// checks the post's statement, and the claim is `refuted` when that evidence fails.
    pub fn refuted(
        id: &'static str,
        derivation: &'static str,
        location: &'static str,
        statement: &'static str,
        post_verdict: PostVerdict,
        run: fn(&Ctx) -> Findings,
    ) -> Self {
        Self {
            id,
            derivation,
            location,
            statement,
            post_verdict,
            decision: Decision::Refute {
                run: Box::new(move |_, ctx| run(ctx)),
            },
        }
    }

    /// The outcome the catalogue expects: corrected-holds where the post's own version is
    /// among the planted bugs, out-of-scope for informal claims, holds otherwise.
    pub fn expected(&self) -> Outcome {
        match &self.decision {
            Decision::OutOfScope { .. } => Outcome::OutOfScope,
            Decision::Refute { .. } => Outcome::Refuted,
            Decision::Check { planted, .. } if planted.iter().any(|p| p.post) => {
                Outcome::CorrectedHolds
            }
            Decision::Check { .. } => Outcome::Holds,
        }
    }

    /// Runs the check on our code and on every planted bug.
    pub fn verify(&self, base_seed: u64, budget: Budget) -> Verdict {
        let ctx = Ctx {
            seed: claim_seed(self.id, base_seed),
            budget,
        };
        match &self.decision {
            Decision::OutOfScope { reason } => Verdict {
                id: self.id,
                outcome: Outcome::OutOfScope,
                expected: Outcome::OutOfScope,
                base_seed,
                findings: Findings::default(),
                reason: Some(reason),
                planted: Vec::new(),
            },
            Decision::Refute { run } => {
                let findings = run_caught(run, None, &ctx);
                Verdict {
                    id: self.id,
                    outcome: if findings.pass() {
                        Outcome::Failed
                    } else {
                        Outcome::Refuted
                    },
                    expected: Outcome::Refuted,
                    base_seed,
                    findings,
                    reason: None,
                    planted: Vec::new(),
                }
            }
            Decision::Check { planted, run } => {
                let findings = run_caught(run, None, &ctx);
                let planted: Vec<PlantedResult> = planted
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let f = run_caught(run, Some(i), &ctx);
                        PlantedResult {
                            name: p.name,
                            post: p.post,
                            harmless: p.harmless,
                            rejected: !f.pass(),
                            evidence: f.headline(),
                        }
                    })
                    .collect();
                let all_rejected = planted.iter().all(|p| p.harmless || p.rejected);
                let outcome = match (findings.pass() && all_rejected, self.expected()) {
                    (true, expected) => expected,
                    (false, _) => Outcome::Failed,
                };
                Verdict {
                    id: self.id,
                    outcome,
                    expected: self.expected(),
                    base_seed,
                    findings,
                    reason: None,
                    planted,
                }
            }
        }
    }
}

/// How one planted bug fared.
#[derive(Debug, Clone, Serialize)]
pub struct PlantedResult {
    pub name: &'static str,
    /// Whether the check rejected it (what we want, unless it is harmless).
    pub rejected: bool,
    pub harmless: bool,
    /// Whether this variant is the post's own statement.
    pub post: bool,
    /// The evidence that rejected it (its first failing item).
    pub evidence: String,
}

/// What running one claim gave.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub id: &'static str,
    pub outcome: Outcome,
    pub expected: Outcome,
    /// The base seed of the run: `--seed` with this value and `--claim ID` reproduces it.
    pub base_seed: u64,
    pub findings: Findings,
    pub reason: Option<&'static str>,
    pub planted: Vec<PlantedResult>,
}

impl Verdict {
    /// Came out as the catalogue expects, with every non-harmless planted bug rejected.
    pub fn ok(&self) -> bool {
        self.outcome == self.expected
    }

    /// `k/n` planted bugs rejected (harmless ones not counted).
    pub fn rejected_fraction(&self) -> String {
        let live = self.planted.iter().filter(|p| !p.harmless);
        let n = live.clone().count();
        let k = live.filter(|p| p.rejected).count();
        format!("{k}/{n}")
    }

    /// A message for a failing run: what failed and how to reproduce it.
    pub fn failure_report(&self) -> String {
        let mut s = format!(
            "{} came out {} (expected {}); reproduce with `cargo run --release -- --claim {} --seed {}` or DNN_PROOFS_SEED={}\n",
            self.id,
            self.outcome.word(),
            self.expected.word(),
            self.id,
            self.base_seed,
            self.base_seed
        );
        for e in &self.findings.evidence {
            s += &format!("  {}\n", e.summary());
        }
        for p in self.planted.iter().filter(|p| !p.harmless && !p.rejected) {
            s += &format!("  planted bug SURVIVED: {} ({})\n", p.name, p.evidence);
        }
        s
    }
}

/// The environment variable that overrides the base seed (as `--seed` does).
pub const SEED_ENV: &str = "DNN_PROOFS_SEED";

/// The base seed: `DNN_PROOFS_SEED` if set and valid, else 0 (each claim then runs on the
/// seed derived from its ID alone).
pub fn base_seed_from_env() -> crate::Result<u64> {
    match std::env::var(SEED_ENV) {
        Err(_) => Ok(0),
        Ok(s) => s
            .trim()
            .parse()
            .map_err(|_| crate::Error::ParameterOutOfRange {
                name: "DNN_PROOFS_SEED",
                value: f64::NAN,
                range: "an unsigned 64-bit integer",
            }),
    }
}

/// The seed a claim's run uses: FNV-1a of the claim ID, mixed with the base seed through
/// SplitMix64 so nearby base seeds give unrelated streams. Stable across platforms and
/// releases, so a printed seed reproduces the run anywhere.
pub fn claim_seed(id: &str, base_seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ base_seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Every registered claim, in catalogue order.
pub fn registry() -> Vec<Claim> {
    let mut all = Vec::new();
    all.extend(crate::activation::claims::claims());
    all.extend(crate::backprop::claims::claims());
    all.extend(crate::xavier::claims::claims());
    all.extend(crate::batch_norm::claims::claims());
    all.extend(crate::dropout::claims::claims());
    all
}

/// The claims with this ID (exactly one) or of this derivation.
pub fn select(all: Vec<Claim>, id_or_derivation: &str) -> crate::Result<Vec<Claim>> {
    let picked: Vec<Claim> = all
        .into_iter()
        .filter(|c| c.id.eq_ignore_ascii_case(id_or_derivation) || c.derivation == id_or_derivation)
        .collect();
    if picked.is_empty() {
        Err(crate::Error::UnknownClaim(id_or_derivation.to_owned()))
    } else {
        Ok(picked)
    }
}
