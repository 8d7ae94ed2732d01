//! A user's own suite, run by the engine's runner exactly as the post's is: four toy claims
//! whose outcomes are known, so `tests/runner.rs` can check every exit status of the runner
//! through a real binary (`cargo run --example contract_suite -- --claim TOY-FAILS`).
//!
//! - `TOY-HOLDS`: 2x − (x + x) = 0 on every input, a planted `− 1` rejected: holds (exit 0).
//! - `TOY-FAILS`: our "code" returns NaN: failed (exit 1).
//! - `TOY-SURVIVES`: a planted bug equal to our code: it survives, failed (exit 1).
//! - `TOY-REFUTED`: a refutation whose catalogue row expects `holds` (exit 1).

use proofs_engine::claims::{Claim, Ctx, Findings, MaxError, Planted, PostVerdict, Suite, runner};

/// The catalogue: what each claim must come out as.
const CATALOGUE: &str = "\
| ID | where | claim | post | conventions | expected |
| --- | --- | --- | --- | --- | --- |
| `TOY-HOLDS` | toy | 2x − (x + x) = 0 | correct | — | holds |
| `TOY-FAILS` | toy | f(x) = 0 | correct | — | holds |
| `TOY-SURVIVES` | toy | 2x − (x + x) = 0 | correct | — | holds |
| `TOY-REFUTED` | toy | x > 1 | wrong | — | holds |
";

/// |f(x)| ≤ 0 over 100 inputs, with `f` the code under test.
fn zero_check(f: impl Fn(f64) -> f64, ctx: &Ctx) -> Findings {
    use proofs_engine::rand::Rng;
    let mut rng = ctx.rng();
    let mut e = MaxError::default();
    for _ in 0..100 {
        let x: f64 = rng.random_range(-1.0..1.0);
        e.record(f(x).abs(), x);
    }
    let mut findings = Findings::default();
    findings.max_error("|f(x)| = 0", &e, 0.0, "an exact identity");
    findings
}

fn suite() -> Suite {
    let claims = vec![
        Claim::checked(
            "TOY-HOLDS",
            "toy",
            "toy",
            "2x − (x + x) = 0",
            PostVerdict::Correct,
            &[(1.0, Planted::bug("x − 1"))],
            |bug: Option<f64>, ctx| zero_check(|x| 2.0 * x - (x + x) - bug.unwrap_or(0.0), ctx),
        ),
        Claim::checked(
            "TOY-FAILS",
            "toy",
            "toy",
            "f(x) = 0",
            PostVerdict::Correct,
            &[(1.0, Planted::bug("f(x) = 1"))],
            |bug: Option<f64>, ctx| zero_check(|_| bug.unwrap_or(f64::NAN), ctx),
        ),
        Claim::checked(
            "TOY-SURVIVES",
            "toy",
            "toy",
            "2x − (x + x) = 0",
            PostVerdict::Correct,
            &[(0.0, Planted::bug("2x − (x + x) + 0"))],
            |bug: Option<f64>, ctx| zero_check(|x| 2.0 * x - (x + x) + bug.unwrap_or(0.0), ctx),
        ),
        Claim::refuted(
            "TOY-REFUTED",
            "toy",
            "toy",
            "x > 1 for x in [−1, 1)",
            PostVerdict::Wrong,
            |control, ctx| {
                // The counter-observation: |x| < 1 everywhere; the control: 2x − (x + x) = 0.
                if control {
                    zero_check(|x| 2.0 * x - (x + x), ctx)
                } else {
                    zero_check(|x| (x.abs() - 1.0).min(0.0) * 0.0, ctx)
                }
            },
        ),
    ];
    Suite::new("contract-suite", claims, CATALOGUE).expect("the catalogue parses")
}

fn main() -> std::process::ExitCode {
    runner::main(suite())
}
