//! One `#[test]` per claim: what [`claim_tests!`](crate::claim_tests) expands to.
//!
//! `cargo test` then runs every claim at the CI budget and fails a test, with the claim's
//! evidence and the command that reproduces it, unless the claim comes out as the catalogue
//! expects. The base seed comes from [`SEED_ENV`](super::SEED_ENV) (default 0), so a seed
//! sweep is `for s in 1 2 3; do DNN_PROOFS_SEED=$s cargo test; done`.

use super::{Budget, Suite, base_seed_from_env};

/// Runs one claim (and the experiment it follows, if any) at the CI budget and panics with
/// its failure report unless it comes out as the suite's catalogue expects.
///
/// # Panics
/// If `id` names no claim of the suite (a derivation is not a claim), if the seed variable is
/// not a number, or if the claim does not come out as expected: that is the test failing.
pub fn check_claim(suite: &Suite, id: &str) {
    let seed = base_seed_from_env().unwrap_or_else(|e| panic!("{e}"));
    let picked = suite
        .select(id)
        .unwrap_or_else(|e| panic!("{}: {e}", suite.name()));
    let verdicts = suite.run(&picked, seed, Budget::Ci);
    let v = verdicts
        .iter()
        .find(|v| v.id == id)
        .unwrap_or_else(|| panic!("{id} must name a claim, not a derivation"));
    assert!(v.ok(), "{}", v.failure_report());
}

/// Panics unless the claims of `derivation` in the suite are exactly `listed`, so a claim
/// cannot be added without a test that runs it.
pub fn assert_covers(suite: &Suite, derivation: &str, listed: &[&str]) {
    let mut registered: Vec<&str> = suite
        .claims()
        .iter()
        .filter(|c| c.derivation == derivation)
        .map(|c| &*c.id)
        .collect();
    let mut listed = listed.to_vec();
    registered.sort_unstable();
    listed.sort_unstable();
    assert_eq!(
        registered,
        listed,
        "the claim tests of {derivation} must list every claim of it in {}",
        suite.name()
    );
}

/// One `#[test]` per claim of a derivation, plus one that the list covers the derivation.
///
/// `$suite` is an expression that builds the [`Suite`](crate::claims::Suite) (it is
/// evaluated once per test, so tests stay independent); then the derivation's name and a
/// `test_name => "CLAIM-ID"` pair per claim.
///
/// ```
/// use proofs_engine::claims::{Claim, Findings, Planted, PostVerdict, Suite};
///
/// // A claim about the user's code: |x·2 − (x + x)| is exactly 0; the planted bug adds 1.
/// fn doubling() -> Claim {
///     Claim::checked("DOUBLE", "toy", "src/lib.rs", "x·2 = x + x", PostVerdict::Extension,
///         &[((), Planted::bug("off by one"))],
///         |bug, _ctx| {
///             let gap = if bug.is_some() { 1.0 } else { 0.0 };
///             let mut f = Findings::default();
///             f.bound("|x·2 − (x + x)|", gap, 0.5, 1, "exact in binary");
///             f
///         })
/// }
///
/// fn suite() -> Suite {
///     Suite::new("toy", vec![doubling()], "| `DOUBLE` | a | b | correct | — | holds |\n").unwrap()
/// }
///
/// // In tests/toy.rs this is one #[test] per claim and one for the list:
/// proofs_engine::claim_tests! { suite(), "toy"; doubling_holds => "DOUBLE" }
///
/// // What each test calls:
/// proofs_engine::claims::testing::check_claim(&suite(), "DOUBLE");
/// ```
#[macro_export]
macro_rules! claim_tests {
    ($suite:expr, $derivation:literal; $($name:ident => $id:literal),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::claims::testing::check_claim(&$suite, $id);
            }
        )+

        #[test]
        fn every_claim_of_the_derivation_has_a_test() {
            $crate::claims::testing::assert_covers(&$suite, $derivation, &[$($id),+]);
        }
    };
}
