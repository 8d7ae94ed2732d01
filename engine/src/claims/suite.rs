//! A suite: claims plus the catalogue that says what each must come out as. It runs claims
//! (on every core), resolves claims that follow an experiment, compares each outcome with
//! the catalogue, counts the run's false-failure bound, and sweeps base seeds.

use rayon::prelude::*;
use serde::Serialize;

use super::Text;
use super::catalogue::Catalogue;
use super::claim::{Budget, Claim, Decision};
use super::experiment::ControlExpect;
use super::verdict::{Outcome, Verdict};
use crate::{Error, Result};

/// Claims and their catalogue.
pub struct Suite {
    name: String,
    build: String,
    command: String,
    book_dir: Option<String>,
    claims: Vec<Claim>,
    catalogue: Catalogue,
}

impl Suite {
    /// A suite over `claims`, judged by the catalogue in `catalogue_markdown`.
    ///
    /// # Errors
    /// The catalogue's parse errors.
    pub fn new(
        name: impl Into<String>,
        claims: Vec<Claim>,
        catalogue_markdown: &str,
    ) -> Result<Self> {
        Ok(Self {
            name: name.into(),
            build: String::new(),
            command: "cargo run --release --".into(),
            book_dir: None,
            claims,
            catalogue: Catalogue::parse(catalogue_markdown)?,
        })
    }

    /// The suite's name, for the report's header.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Describes the build the claims run on (the report's header), e.g. the SIMD width.
    pub fn with_build(mut self, build: impl Into<String>) -> Self {
        self.build = build.into();
        self
    }

    /// How a user starts this suite's runner, for the command that reproduces a failure
    /// (default `cargo run --release --`; a user's suite behind an example might say
    /// `cargo run --release --example layer_norm --`).
    pub fn with_command(mut self, command: impl Into<String>) -> Self {
        self.command = command.into();
        self
    }

    /// The folder the runner writes the book's per-derivation pages and figures into when a
    /// whole derivation runs (`--book-out` overrides it). Without one, the runner writes no
    /// book unless asked, so a user's suite never overwrites another book's pages.
    pub fn with_book_dir(mut self, dir: impl Into<String>) -> Self {
        self.book_dir = Some(dir.into());
        self
    }

    /// The book folder, if the suite has one.
    pub fn book_dir(&self) -> Option<&str> {
        self.book_dir.as_deref()
    }

    /// The build description.
    pub fn build(&self) -> &str {
        &self.build
    }

    /// Every claim, in registration order.
    pub fn claims(&self) -> &[Claim] {
        &self.claims
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The claims with this ID (case-insensitive) or of this derivation, plus the
    /// experiments they follow, as indices in registration order.
    ///
    /// # Errors
    /// [`Error::UnknownClaim`] when nothing matches.
    pub fn select(&self, id_or_derivation: &str) -> Result<Vec<usize>> {
        let mut picked: Vec<usize> = (0..self.claims.len())
            .filter(|&i| {
                let c = &self.claims[i];
                c.id.eq_ignore_ascii_case(id_or_derivation) || c.derivation == id_or_derivation
            })
            .collect();
        if picked.is_empty() {
            return Err(Error::UnknownClaim(id_or_derivation.to_owned()));
        }
        let needed: Vec<usize> = picked
            .iter()
            .filter_map(|&i| match &self.claims[i].decision {
                Decision::Follows { experiment } => self.index(experiment),
                _ => None,
            })
            .collect();
        picked.extend(needed);
        picked.sort_unstable();
        picked.dedup();
        Ok(picked)
    }

    /// Every claim's index.
    pub fn all(&self) -> Vec<usize> {
        (0..self.claims.len()).collect()
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.claims.iter().position(|c| c.id == id)
    }

    /// Runs the picked claims on both cores, resolves followers and fills in the expected
    /// result from the catalogue. Verdicts come back in the order of `picked`.
    pub fn run(&self, picked: &[usize], base_seed: u64, budget: Budget) -> Vec<Verdict> {
        self.run_with(picked, base_seed, budget, |_| {})
    }

    /// As [`Suite::run`], calling `done` after each claim (for a progress bar).
    pub fn run_with(
        &self,
        picked: &[usize],
        base_seed: u64,
        budget: Budget,
        done: impl Fn(&Claim) + Sync,
    ) -> Vec<Verdict> {
        let mut verdicts: Vec<Verdict> = picked
            .par_iter()
            .map(|&i| {
                let v = self.claims[i].verify(base_seed, budget);
                done(&self.claims[i]);
                v
            })
            .collect();
        self.resolve(picked, &mut verdicts);
        verdicts
    }

    /// Gives each follower its experiment's outcome and every verdict its expected result.
    pub(super) fn resolve(&self, picked: &[usize], verdicts: &mut [Verdict]) {
        for v in verdicts.iter_mut() {
            v.command = Text::from(self.command.clone());
        }
        for k in 0..verdicts.len() {
            if let Decision::Follows { experiment } = &self.claims[picked[k]].decision
                && let Some(j) = verdicts.iter().position(|v| v.id == *experiment)
            {
                let exp = verdicts[j].clone();
                let v = &mut verdicts[k];
                v.outcome = exp.outcome;
                v.findings = exp.findings;
                v.reason = Some(format!("follows {experiment}: {}", exp.outcome.word()));
            }
        }
        for v in verdicts.iter_mut() {
            v.expected = self.catalogue.expected(&v.id);
        }
    }

    /// Where the registry and the catalogue disagree: an ID in one and not the other, a
    /// different post verdict, or an expected result that the claim's decision cannot
    /// produce. Empty when they agree.
    pub fn disagreements(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for c in &self.claims {
            let Some(entry) = self.catalogue.entry(&c.id) else {
                problems.push(format!("{} is registered but not in the catalogue", c.id));
                continue;
            };
            if entry.post_verdict != c.post_verdict {
                problems.push(format!(
                    "{}: the catalogue's post verdict is {}, the registry's {}",
                    c.id,
                    entry.post_verdict.word(),
                    c.post_verdict.word()
                ));
            }
            let expected = entry.expected;
            let can = self.can_produce(c, expected);
            if let Err(why) = can {
                problems.push(format!(
                    "{}: the catalogue expects {}, but {why}",
                    c.id,
                    expected.word()
                ));
            }
        }
        for e in &self.catalogue.entries {
            if self.index(&e.id).is_none() {
                problems.push(format!(
                    "{} is in the catalogue (line {}) but not registered",
                    e.id, e.line
                ));
            }
        }
        problems
    }

    /// Whether claim `c`'s decision can come out as `expected` (and only that way).
    fn can_produce(&self, c: &Claim, expected: Outcome) -> std::result::Result<(), String> {
        match (&c.decision, expected) {
            (Decision::Check { .. }, Outcome::Holds) if !c.plants_the_post() => Ok(()),
            (Decision::Check { .. }, Outcome::Holds) => {
                Err("a planted variant is marked as the post's own version".into())
            }
            (Decision::Check { .. }, Outcome::CorrectedHolds) if c.plants_the_post() => Ok(()),
            (Decision::Check { .. }, Outcome::CorrectedHolds) => {
                Err("no planted variant is marked as the post's own version".into())
            }
            (Decision::OutOfScope { .. }, Outcome::OutOfScope) => Ok(()),
            (Decision::Refute { .. }, Outcome::Refuted) => Ok(()),
            (Decision::Experiment(exp), o) if o.as_decided().is_some() => {
                if !exp
                    .controls
                    .iter()
                    .any(|k| k.expect == ControlExpect::Failed)
                {
                    Err("the experiment has no broken control".into())
                } else if o != Outcome::Supported
                    && !exp
                        .controls
                        .iter()
                        .any(|k| k.expect == ControlExpect::Supported)
                {
                    Err("an experiment that does not support its inequality needs a positive control".into())
                } else {
                    Ok(())
                }
            }
            (Decision::Follows { experiment }, o) => match self.index(experiment) {
                None => Err(format!("it follows {experiment}, which is not registered")),
                Some(j) if !matches!(self.claims[j].decision, Decision::Experiment(_)) => Err(
                    format!("it follows {experiment}, which is not an experiment"),
                ),
                Some(_) if self.catalogue.expected(experiment) != Some(o) => Err(format!(
                    "it follows {experiment}, which the catalogue expects to be {}",
                    self.catalogue
                        .expected(experiment)
                        .map_or("unlisted", Outcome::word)
                )),
                Some(_) => Ok(()),
            },
            (d, _) => Err(format!("its decision is {}", decision_kind(d))),
        }
    }

    /// The chance that a run of `verdicts`' claims fails on a fresh seed although every
    /// claim is as the catalogue says: α of every statistical check, plus each planted
    /// bug's chance to survive, plus each experiment's decision error at its planning rate.
    pub fn false_failure_bound(&self, verdicts: &[Verdict]) -> FalseFailureBound {
        let mut b = FalseFailureBound::default();
        for v in verdicts {
            b.alpha += v.alpha_sum;
            let (miss, unknown) = v.miss_sum();
            b.planted += miss;
            b.unpowered += unknown;
            if let (Some(j), Some(expected)) = (self.index(&v.id), v.expected)
                && let (Decision::Experiment(exp), Some(d)) =
                    (&self.claims[j].decision, expected.as_decided())
            {
                b.experiments += exp.design.error(v.budget, d);
            }
        }
        b.total = b.alpha + b.planted + b.experiments;
        b
    }
}

fn decision_kind(d: &Decision) -> &'static str {
    match d {
        Decision::Check { .. } => "a check with planted bugs",
        Decision::OutOfScope { .. } => "out of scope",
        Decision::Refute { .. } => "a refutation",
        Decision::Experiment(_) => "an experiment",
        Decision::Follows { .. } => "to follow an experiment",
    }
}

/// A run's false-failure bound, term by term (a union bound).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct FalseFailureBound {
    /// Σ α over the statistical checks run on our code.
    pub alpha: f64,
    /// Σ (1 − power) over the planted bugs rejected by a statistical check.
    pub planted: f64,
    /// Σ P(decision ≠ expected) over the experiments, at their planning rates.
    pub experiments: f64,
    /// The sum of the three.
    pub total: f64,
    /// Planted bugs rejected by a test that states no power (not in the sum).
    pub unpowered: usize,
}

impl std::fmt::Display for FalseFailureBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "false-failure bound {:.2e} = α {:.2e} + planted-bug misses {:.2e} + experiment decisions {:.2e}",
            self.total, self.alpha, self.planted, self.experiments
        )?;
        if self.unpowered > 0 {
            write!(
                f,
                " (+ {} rejections by a test that states no power)",
                self.unpowered
            )?;
        }
        Ok(())
    }
}
