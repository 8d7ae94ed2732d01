//! Shared by the test files: run registered claims at the CI budget, one test per claim.

use dnn_proofs::claims::{self, Budget};
use dnn_proofs::post;

/// Runs one claim (and the experiment it follows, if any) at the CI budget on the base seed
/// from `DNN_PROOFS_SEED` (default 0) and fails with the evidence and the command that
/// reproduces it unless it comes out as the catalogue expects.
pub fn check_claim(id: &str) {
    let seed = claims::base_seed_from_env().unwrap_or_else(|e| panic!("{e}"));
    let suite = post::suite();
    let picked = suite.select(id).expect("registered claim");
    let verdicts = suite.run(&picked, seed, Budget::Ci);
    let v = verdicts
        .iter()
        .find(|v| v.id == id)
        .unwrap_or_else(|| panic!("{id} must name a claim, not a derivation"));
    assert!(v.ok(), "{}", v.failure_report());
}

/// The IDs registered for `derivation` must be exactly `listed` (so a new claim cannot be
/// registered without a test that runs it).
pub fn assert_covers(derivation: &str, listed: &[&str]) {
    let mut registered: Vec<&str> = post::registry()
        .iter()
        .filter(|c| c.derivation == derivation)
        .map(|c| c.id)
        .collect();
    let mut listed = listed.to_vec();
    registered.sort_unstable();
    listed.sort_unstable();
    assert_eq!(
        registered, listed,
        "the claim tests of {derivation} must list every registered ID"
    );
}

/// One `#[test]` per claim ID, plus a test that the list covers the derivation's registry.
#[macro_export]
macro_rules! claim_tests {
    ($derivation:literal; $($name:ident => $id:literal),+ $(,)?) => {
        mod registry_claims {
            $(
                #[test]
                fn $name() {
                    super::common::check_claim($id);
                }
            )+

            #[test]
            fn every_registered_claim_has_a_test() {
                super::common::assert_covers($derivation, &[$($id),+]);
            }
        }
    };
}
