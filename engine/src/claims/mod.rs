//! The claims engine: claims with their checks and planted bugs, the evidence they collect,
//! experiments decided over replicates, the catalogue that says what each claim must come
//! out as, and the suite that runs them. It knows no derivation: the post's claims
//! (`dnn_proofs::post`) use it exactly as a user's own claims would.
//!
//! A claim is a value: an ID, where it stands, the precise statement, the post's verdict,
//! and how it is decided. A checked claim runs its check on our code (`None`) and on every
//! planted wrong variant (`Some(bug)`); it stands only if our code passes on valid evidence
//! and every planted bug is *rejected on a measured value* — that rejection is the evidence
//! that the check has power. A NaN, a panic or an empty check is never a pass, never a
//! refutation, and never counts as power.

mod catalogue;
mod claim;
mod evidence;
mod experiment;
pub mod gradcheck;
mod planning;
pub mod runner;
mod seed;
mod suite;
mod sweep;
pub mod testing;
mod verdict;

pub use catalogue::{Catalogue, Entry};
pub use claim::{Budget, Claim, Ctx, Decision, Planted, PostVerdict};
pub use evidence::{
    Evidence, Findings, IDENTITY_TOL, Judgement, Label, MaxError, Measure, Power, Tally,
    identity_error,
};
pub use experiment::{
    ArmResult, Control, ControlExpect, Decided, Design, Experiment, Trial, replicate_seed,
};
pub use planning::Planning;
pub use seed::{SEED_ENV, base_seed_from_env, claim_seed};
pub use suite::{FalseFailureBound, Suite};
pub use sweep::Sweep;
pub use verdict::{ControlResult, Outcome, PlantedResult, PlantedState, Verdict};

pub(crate) use verdict::run_caught;

/// Owned or static text: IDs, statements and bug names may be literals or built at run time.
pub type Text = std::borrow::Cow<'static, str>;

/// The generator of every check ([`Ctx::rng`]): ChaCha8, portable and seedable.
pub type Rng = rand_chacha::ChaCha8Rng;
