//! Shared by the test files: one test per registered claim of a derivation, at the CI budget
//! (the engine's public `claim_tests!` over the post's suite).

/// One `#[test]` per claim ID, plus a test that the list covers the derivation's registry.
#[macro_export]
macro_rules! claim_tests {
    ($derivation:literal; $($pairs:tt)+) => {
        mod registry_claims {
            dnn_proofs::claim_tests! { dnn_proofs::post::suite(), $derivation; $($pairs)+ }
        }
    };
}
