//! A claim: an ID, where it stands, the statement, the post's verdict, and how it is decided.

use rand::SeedableRng;
use serde::Serialize;

use super::experiment::{Control, Design, Experiment, Trial};
use super::{Findings, Text};

/// The catalogue's verdict on the post's statement (the catalogue appendix's vocabulary).
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
    /// Every verdict, in the catalogue's order.
    pub const ALL: [PostVerdict; 8] = [
        PostVerdict::Correct,
        PostVerdict::Typo,
        PostVerdict::Wrong,
        PostVerdict::Imprecise,
        PostVerdict::Implied,
        PostVerdict::Informal,
        PostVerdict::Experiment,
        PostVerdict::Extension,
    ];

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

    /// The verdict a word names.
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.word() == word)
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planted {
    /// Short name, as in the report.
    pub name: Text,
    /// This variant is the post's own (literal) statement.
    pub post: bool,
    /// The variant is equivalent to the correct code, so it is not required to fail.
    pub harmless: bool,
    /// The check this variant exists to power: only an evidence item whose description
    /// contains this text counts as its rejection (`None`: any item).
    pub by: Option<Text>,
    /// The name as Markdown with KaTeX math (`$…$`), for the book (`None`: the plain name).
    #[serde(skip)]
    pub typeset: Option<&'static str>,
}

impl Planted {
    /// A realistic bug the check must reject.
    pub const fn bug(name: &'static str) -> Self {
        Self {
            name: Text::Borrowed(name),
            post: false,
            harmless: false,
            by: None,
            typeset: None,
        }
    }

    /// The post's statement as written, where the catalogue finds it wrong or misprinted.
    pub const fn post(name: &'static str) -> Self {
        Self {
            name: Text::Borrowed(name),
            post: true,
            harmless: false,
            by: None,
            typeset: None,
        }
    }

    /// A variant that is in fact equivalent (for example a symmetric fan swap): exempt.
    pub const fn harmless(name: &'static str) -> Self {
        Self {
            name: Text::Borrowed(name),
            post: false,
            harmless: true,
            by: None,
            typeset: None,
        }
    }

    /// A realistic bug whose name is built at run time (say, one per layer configuration).
    pub fn named(name: impl Into<Text>) -> Self {
        Self {
            name: name.into(),
            ..Self::bug("")
        }
    }

    /// The name as Markdown with KaTeX math, for the book: the errata set the post's version
    /// beside the correction with it.
    pub fn typeset(mut self, markdown: &'static str) -> Self {
        self.typeset = Some(markdown);
        self
    }

    /// Counts only a rejection by the evidence item whose description contains `check`.
    pub fn by(mut self, check: impl Into<Text>) -> Self {
        self.by = Some(check.into());
        self
    }
}

/// What the check is run against, and with what seed and budget.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// The seed of this run (already mixed with the claim ID, and with the replicate
    /// index in an experiment).
    pub seed: u64,
    pub budget: Budget,
}

impl Ctx {
    /// A fresh, portable, deterministic generator for this run. Each call restarts the
    /// stream, so the correct code and every planted bug see the same random inputs.
    pub fn rng(&self) -> super::Rng {
        super::Rng::seed_from_u64(self.seed)
    }

    /// `ci` at the CI budget, `full` otherwise.
    pub fn size(&self, ci: usize, full: usize) -> usize {
        match self.budget {
            Budget::Ci => ci,
            Budget::Full => full,
        }
    }
}

/// A check over the code under test: `None` is ours, `Some(i)` the i-th planted variant.
pub(crate) type CheckFn = Box<dyn Fn(Option<usize>, &Ctx) -> Findings + Send + Sync>;
/// One replicate of an experiment: `None` is the claim's setting, `Some(i)` control i.
pub(crate) type TrialFn = Box<dyn Fn(Option<usize>, &Ctx) -> Trial + Send + Sync>;

/// How a claim is decided.
pub enum Decision {
    /// Run the check on our code and on each planted bug.
    Check { planted: Vec<Planted>, run: CheckFn },
    /// Informal and out of scope: the catalogue's reason.
    OutOfScope { reason: Text },
    /// The statement is false and no correction applies. `counter` asserts the
    /// counter-observation (its evidence must pass); `control` runs the same check on a
    /// setting where the statement does hold (its evidence must pass too). Both passing
    /// is `refuted`; anything else, a NaN or a panic included, is `failed`.
    Refute { counter: CheckFn, control: CheckFn },
    /// An experiment decided over independent replicates by a sign test.
    Experiment(Experiment),
    /// The claim's check is an experiment: it takes that experiment's outcome.
    Follows { experiment: Text },
}

/// One claim of a catalogue.
pub struct Claim {
    pub id: Text,
    /// The derivation (room) it belongs to: `activation`, `backprop`, ...
    pub derivation: Text,
    /// Where it stands in the post.
    pub location: Text,
    /// The precise statement we verify (corrected where the post is wrong).
    pub statement: Text,
    /// The statement with its math typeset, for the book ([`Claim::typeset`]); `None` where
    /// the plain words serve.
    pub statement_markdown: Option<Text>,
    pub post_verdict: PostVerdict,
    pub decision: Decision,
}

impl Claim {
    /// The fields every constructor sets the same way: ID, derivation, location, statement.
    fn new(
        id: impl Into<Text>,
        derivation: impl Into<Text>,
        location: impl Into<Text>,
        statement: impl Into<Text>,
        post_verdict: PostVerdict,
        decision: Decision,
    ) -> Self {
        Self {
            id: id.into(),
            derivation: derivation.into(),
            location: location.into(),
            statement: statement.into(),
            statement_markdown: None,
            post_verdict,
            decision,
        }
    }

    /// A checked claim. `bugs` pairs each planted variant (a value of the claim's own enum)
    /// with its description; `run(None, ctx)` checks our code, `run(Some(bug), ctx)` a bug.
    pub fn checked<B: Copy + Send + Sync + 'static>(
        id: impl Into<Text>,
        derivation: impl Into<Text>,
        location: impl Into<Text>,
        statement: impl Into<Text>,
        post_verdict: PostVerdict,
        bugs: &[(B, Planted)],
        run: impl Fn(Option<B>, &Ctx) -> Findings + Send + Sync + 'static,
    ) -> Self {
        let planted = bugs.iter().map(|(_, p)| p.clone()).collect();
        let variants: Vec<B> = bugs.iter().map(|(b, _)| *b).collect();
        Self::new(
            id,
            derivation,
            location,
            statement,
            post_verdict,
            Decision::Check {
                planted,
                run: Box::new(move |i, ctx| run(i.map(|i| variants[i]), ctx)),
            },
        )
    }

    /// A checked claim about your own code, which no post states: no place in a post
    /// (`where` reads "—" until [`Claim::at`] names one) and the post verdict `extension`.
    /// Otherwise as [`Claim::checked`].
    pub fn of_code<B: Copy + Send + Sync + 'static>(
        id: impl Into<Text>,
        derivation: impl Into<Text>,
        statement: impl Into<Text>,
        bugs: &[(B, Planted)],
        run: impl Fn(Option<B>, &Ctx) -> Findings + Send + Sync + 'static,
    ) -> Self {
        Self::checked(
            id,
            derivation,
            "—",
            statement,
            PostVerdict::Extension,
            bugs,
            run,
        )
    }

    /// Names where the claim stands (a file, a section), for the report's `where` column.
    pub fn at(mut self, location: impl Into<Text>) -> Self {
        self.location = location.into();
        self
    }

    /// The statement with its math as KaTeX between `$` delimiters, for the book; the
    /// terminal, `report.json`'s `statement` and the catalogue keep the plain text. The text
    /// outside the math is plain: the book escapes it for where it stands (an HTML
    /// `<summary>`, a Markdown paragraph), so write no Markdown or HTML markup there. Write
    /// |x| as `\lvert x \rvert`, as in a label ([`Label::markdown`](super::Label::markdown)).
    ///
    /// ```
    /// use proofs_engine::claims::{Claim, PostVerdict};
    /// let c = Claim::follows("X", "toy", "eq (1)", "σ(−x) = 1 − σ(x)", PostVerdict::Correct, "EXP")
    ///     .typeset(r"$\sigma(-x) = 1 - \sigma(x)$");
    /// assert_eq!(c.statement, "σ(−x) = 1 − σ(x)");
    /// assert_eq!(c.statement_markdown.as_deref(), Some(r"$\sigma(-x) = 1 - \sigma(x)$"));
    /// ```
    #[must_use]
    pub fn typeset(mut self, markdown: impl Into<Text>) -> Self {
        self.statement_markdown = Some(markdown.into());
        self
    }

    /// An informal claim that the catalogue puts out of scope.
    pub fn out_of_scope(
        id: impl Into<Text>,
        derivation: impl Into<Text>,
        location: impl Into<Text>,
        statement: impl Into<Text>,
        reason: impl Into<Text>,
    ) -> Self {
        Self::new(
            id,
            derivation,
            location,
            statement,
            PostVerdict::Informal,
            Decision::OutOfScope {
                reason: reason.into(),
            },
        )
    }

    /// A claim shown false with no correction: `run(false, ctx)` asserts the
    /// counter-observation, `run(true, ctx)` the same check on a setting where the
    /// statement holds (the positive control). Both must pass for `refuted`.
    pub fn refuted(
        id: impl Into<Text>,
        derivation: impl Into<Text>,
        location: impl Into<Text>,
        statement: impl Into<Text>,
        post_verdict: PostVerdict,
        run: impl Fn(bool, &Ctx) -> Findings + Send + Sync + 'static,
    ) -> Self {
        let run = std::sync::Arc::new(run);
        let control = run.clone();
        Self::new(
            id,
            derivation,
            location,
            statement,
            post_verdict,
            Decision::Refute {
                counter: Box::new(move |_, ctx| run(false, ctx)),
                control: Box::new(move |_, ctx| control(true, ctx)),
            },
        )
    }

    /// An experiment: `run(None, ctx)` is one replicate of the claim's setting on the
    /// replicate's seed, `run(Some(c), ctx)` one of control `c`. The design says how many
    /// replicates and at which α the sign test decides.
    #[allow(clippy::too_many_arguments)]
    pub fn experiment<A: Copy + Send + Sync + 'static>(
        id: impl Into<Text>,
        derivation: impl Into<Text>,
        location: impl Into<Text>,
        statement: impl Into<Text>,
        design: Design,
        controls: &[(A, Control)],
        run: impl Fn(Option<A>, &Ctx) -> Trial + Send + Sync + 'static,
    ) -> Self {
        let arms: Vec<A> = controls.iter().map(|(a, _)| *a).collect();
        Self::new(
            id,
            derivation,
            location,
            statement,
            PostVerdict::Experiment,
            Decision::Experiment(Experiment {
                design,
                controls: controls.iter().map(|(_, c)| *c).collect(),
                run: Box::new(move |i, ctx| run(i.map(|i| arms[i]), ctx)),
            }),
        )
    }

    /// A claim whose check is the experiment `experiment`: it comes out as that does.
    pub fn follows(
        id: impl Into<Text>,
        derivation: impl Into<Text>,
        location: impl Into<Text>,
        statement: impl Into<Text>,
        post_verdict: PostVerdict,
        experiment: impl Into<Text>,
    ) -> Self {
        Self::new(
            id,
            derivation,
            location,
            statement,
            post_verdict,
            Decision::Follows {
                experiment: experiment.into(),
            },
        )
    }

    /// Whether a planted variant is the post's own statement.
    pub fn plants_the_post(&self) -> bool {
        matches!(&self.decision, Decision::Check { planted, .. } if planted.iter().any(|p| p.post))
    }
}
