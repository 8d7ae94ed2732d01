//! The engine's own contract, on toy claims whose outcome is known: every verdict of every
//! suite rests on these rules.

use proofs_engine::claims::{
    self, Budget, Claim, Control, Ctx, Decided, Decision, Design, Findings, MaxError, Outcome,
    Planted, PlantedState, PostVerdict, Power, Suite, Tally, Trial,
};
use proofs_engine::stats::TestOutcome;

// ---- toy claims ------------------------------------------------------------------------

/// What a toy check returns for our code or a variant.
#[derive(Clone, Copy, Debug)]
enum Toy {
    /// One bound item with this observed value against bound 1.
    Value(f64),
    /// A panic.
    Panic,
    /// No evidence at all.
    Empty,
    /// A failing item described "side" and a passing one described "main".
    SideOnly,
    /// A test with p-value 1e-9 at α = 1e-6 and the given power.
    Test(f64),
    /// The same test beside an exact item that passes.
    TestBesideExact(f64),
}

fn findings(t: Toy) -> Findings {
    let mut f = Findings::default();
    match t {
        Toy::Value(x) => f.bound("main x", x, 1.0, 1, "toy"),
        Toy::Panic => panic!("toy panic"),
        Toy::Empty => {}
        Toy::SideOnly => {
            f.bound("main x", 0.5, 1.0, 1, "toy");
            f.bound("side y", 2.0, 1.0, 1, "toy");
        }
        Toy::TestBesideExact(power) => {
            f.bound("main x", 0.5, 1.0, 1, "toy");
            f = Findings {
                evidence: [f.evidence, findings(Toy::Test(power)).evidence].concat(),
                ..f
            };
        }
        Toy::Test(power) => f.test(
            "main test",
            TestOutcome {
                test: "toy",
                statistic: 6.0,
                n: 10,
                p_value: 1e-9,
            },
            1e-6,
            Power::new(power, "toy effect"),
        ),
    }
    f
}

/// A checked claim: our code gives `ours`; each planted variant its own `Toy`.
fn toy(ours: Toy, bugs: &[(Toy, Planted)]) -> Claim {
    let variants: Vec<(usize, Planted)> = bugs.iter().map(|(_, p)| p.clone()).enumerate().collect();
    let toys: Vec<Toy> = bugs.iter().map(|(t, _)| *t).collect();
    Claim::checked(
        "TOY",
        "toy",
        "nowhere",
        "x ≤ 1",
        PostVerdict::Correct,
        &variants,
        move |bug, _ctx: &Ctx| findings(bug.map_or(ours, |b| toys[b])),
    )
}

fn verify(c: &Claim) -> claims::Verdict {
    c.verify(0, Budget::Ci)
}

#[test]
fn a_claim_holds_when_ours_passes_and_every_bug_is_rejected() {
    let v = verify(&toy(
        Toy::Value(1.0),
        &[(Toy::Value(2.0), Planted::bug("caught"))],
    ));
    assert_eq!(v.outcome, Outcome::Holds);
    assert_eq!(v.rejected_fraction(), "1/1");
    assert_eq!(v.planted[0].state, PlantedState::Rejected);
    assert_eq!(v.planted[0].miss, 0.0, "an exact rejection cannot miss");
    assert!(
        v.planted[0]
            .evidence
            .ends_with("2.000e0 ≤ 1.0e0 (1 cases) [rejected]"),
        "a rejection reads as the success it is: {}",
        v.planted[0].evidence
    );

    let v = verify(&toy(
        Toy::Value(0.0),
        &[(Toy::Value(2.0), Planted::post("post"))],
    ));
    assert_eq!(v.outcome, Outcome::CorrectedHolds);
}

#[test]
fn a_surviving_bug_fails_the_claim() {
    let v = verify(&toy(
        Toy::Value(0.0),
        &[
            (Toy::Value(2.0), Planted::bug("caught")),
            (Toy::Value(0.5), Planted::bug("missed")),
        ],
    ));
    assert_eq!(v.outcome, Outcome::Failed);
    assert_eq!(v.planted[1].state, PlantedState::Survived);
    assert_eq!(v.rejected_fraction(), "1/2");
    assert!(v.failure_report().contains("planted bug SURVIVED: missed"));
    assert!(v.failure_report().contains("--seed 0"));
    assert!(v.failure_report().contains("--budget ci"));
    // A harmless variant may survive.
    let v = verify(&toy(
        Toy::Value(0.0),
        &[
            (Toy::Value(2.0), Planted::bug("caught")),
            (Toy::Value(0.0), Planted::harmless("same")),
        ],
    ));
    assert_eq!(v.outcome, Outcome::Holds);
    assert_eq!(v.rejected_fraction(), "1/1");
}

#[test]
fn broken_checks_on_our_code_fail() {
    let bug = [(Toy::Value(2.0), Planted::bug("caught"))];
    for ours in [
        Toy::Value(f64::NAN),
        Toy::Value(f64::INFINITY),
        Toy::Panic,
        Toy::Empty,
        Toy::Value(1.5),
    ] {
        let v = verify(&toy(ours, &bug));
        assert_eq!(v.outcome, Outcome::Failed, "{ours:?}");
        assert!(v.reason.is_some(), "{ours:?}: a failure says why");
    }
    let v = verify(&toy(Toy::Panic, &bug));
    assert!(
        v.failure_report().contains("toy panic"),
        "{}",
        v.failure_report()
    );
}

#[test]
fn a_bug_told_apart_only_by_nan_panic_or_silence_is_no_power() {
    for bad in [Toy::Value(f64::NAN), Toy::Panic, Toy::Empty] {
        let v = verify(&toy(Toy::Value(0.0), &[(bad, Planted::bug("bad"))]));
        assert_eq!(v.planted[0].state, PlantedState::Invalid, "{bad:?}");
        assert!(!v.planted[0].rejected);
        assert_eq!(v.outcome, Outcome::Failed, "{bad:?}");
        assert_eq!(v.rejected_fraction(), "0/1");
        assert!(v.failure_report().contains("broken check"));
    }
}

#[test]
fn a_bug_must_be_rejected_by_the_check_it_powers() {
    let side = [(Toy::SideOnly, Planted::bug("side").by("main"))];
    let v = verify(&toy(Toy::Value(0.0), &side));
    assert_eq!(v.planted[0].state, PlantedState::Invalid);
    assert_eq!(v.outcome, Outcome::Failed);
    // Without `by`, any measured rejection counts.
    let v = verify(&toy(
        Toy::Value(0.0),
        &[(Toy::SideOnly, Planted::bug("side"))],
    ));
    assert_eq!(v.planted[0].state, PlantedState::Rejected);
    assert!(v.planted[0].evidence.contains("side y"));
}

#[test]
fn statistical_rejections_count_their_miss() {
    let v = verify(&toy(
        Toy::Value(0.0),
        &[
            (Toy::Test(0.999), Planted::bug("tested")),
            (Toy::Test(f64::NAN), Planted::bug("unpowered")),
        ],
    ));
    assert_eq!(v.outcome, Outcome::Holds);
    assert!((v.planted[0].miss - 1e-3).abs() < 1e-12);
    // Only the items that rejected count: an exact item that passed says nothing of the miss.
    let beside = verify(&toy(
        Toy::Value(0.0),
        &[(Toy::TestBesideExact(0.999), Planted::bug("tested"))],
    ));
    assert!(
        (beside.planted[0].miss - 1e-3).abs() < 1e-12,
        "{:?}",
        beside.planted[0]
    );
    let (sum, unknown) = v.miss_sum();
    assert!((sum - 1e-3).abs() < 1e-12);
    assert_eq!(unknown, 1);
    // α of the tests run on our code is counted.
    let v = verify(&toy(Toy::Test(0.5), &[]));
    assert_eq!(v.outcome, Outcome::Failed, "p = 1e-9 < α rejects our code");
    assert!((v.alpha_sum - 1e-6).abs() < 1e-18);
}

#[test]
fn max_error_counts_nonfinite_cases_apart() {
    let mut e = MaxError::default();
    e.record(0.5, 1.0);
    e.record(f64::NAN, 2.0);
    e.record(0.25, 3.0);
    assert_eq!((e.max, e.at, e.cases, e.nonfinite), (0.5, 1.0, 3, 1));
    let mut f = Findings::default();
    f.max_error("e", &e, 1.0, "toy");
    assert!(!f.pass(), "a NaN case fails the bound");
    assert!(
        !f.evidence[0].rejects(),
        "but it is not a measured rejection"
    );
    e.record(2.0, 4.0);
    let mut f = Findings::default();
    f.max_error("e", &e, 1.0, "toy");
    assert!(f.evidence[0].rejects());
    assert!(f.evidence[0].summary().contains("1 non-finite"));
    let mut t = Tally::default();
    t.check(true, || unreachable!());
    t.check(false, || "the second".into());
    assert_eq!(
        (t.violations, t.cases, t.first.as_deref()),
        (1, 2, Some("the second"))
    );
}

// ---- refutations -------------------------------------------------------------------

fn refuting(run: fn(bool, &Ctx) -> Findings) -> Claim {
    Claim::refuted("TOY-R", "toy", "nowhere", "x > 1", PostVerdict::Wrong, run)
}

#[test]
fn a_refutation_needs_its_counter_observation_and_a_positive_control() {
    let v = verify(&refuting(|_, _| findings(Toy::Value(0.0))));
    assert_eq!(v.outcome, Outcome::Refuted);
    assert!(v.controls[0].ok);
    // The counter-observation not shown, or NaN, or a panic: failed, never refuted.
    for bad in [
        refuting(|control, _| findings(Toy::Value(if control { 0.0 } else { 2.0 }))),
        refuting(|control, _| findings(Toy::Value(if control { 0.0 } else { f64::NAN }))),
        refuting(|control, _| findings(if control { Toy::Value(0.0) } else { Toy::Panic })),
        refuting(|control, _| findings(if control { Toy::Value(0.0) } else { Toy::Empty })),
    ] {
        assert_eq!(verify(&bad).outcome, Outcome::Failed);
    }
    // A positive control that fails: the harness could never say "supported".
    let v = verify(&refuting(|control, _| {
        findings(Toy::Value(if control { 2.0 } else { 0.0 }))
    }));
    assert_eq!(v.outcome, Outcome::Failed);
    assert!(!v.controls[0].ok);
}

#[test]
fn a_refutation_counts_the_alpha_of_both_its_checks() {
    // A passing test in the counter-observation (α = 1e-6) and in the control (α = 2e-6).
    let v = verify(&refuting(|control, _| {
        let mut f = findings(Toy::Value(0.0));
        let outcome = TestOutcome {
            test: "toy",
            statistic: 0.1,
            n: 10,
            p_value: 0.5,
        };
        let alpha = if control { 2e-6 } else { 1e-6 };
        f.test("a law", outcome, alpha, Power::new(0.9, "toy effect"));
        f
    }));
    assert_eq!(v.outcome, Outcome::Refuted);
    assert!((v.alpha_sum - 3e-6).abs() < 1e-18, "{}", v.alpha_sum);
}

// ---- experiments ---------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Arm {
    /// Wins in every replicate.
    Positive,
    /// Its health check rejects the trainer.
    Diverges,
    /// Reports a NaN margin with healthy evidence.
    NanMargin,
    /// Panics.
    Panics,
    /// Healthy and always winning: a "broken" control that is not broken.
    NotBroken,
}

fn design() -> Design {
    Design {
        inequality: "margin > 0",
        ci: 24,
        full: 64,
        alpha: 1e-6,
        planning_rate: 0.99,
    }
}

fn healthy() -> Findings {
    let mut f = Findings::default();
    let mut t = Tally::default();
    t.check(true, String::new);
    f.tally("loss is finite", t);
    f
}

fn arm_trial(arm: Option<Arm>, ctx: &Ctx, main_margin: fn(u64) -> f64) -> Trial {
    match arm {
        None => Trial::new(main_margin(ctx.seed), healthy()),
        Some(Arm::Positive | Arm::NotBroken) => Trial::new(1.0, healthy()),
        Some(Arm::Diverges) => {
            let mut f = Findings::default();
            let mut t = Tally::default();
            t.check(false, || "loss = NaN at step 3".into());
            f.tally("loss is finite", t);
            Trial::new(f64::NAN, f)
        }
        Some(Arm::NanMargin) => Trial::new(f64::NAN, healthy()),
        Some(Arm::Panics) => panic!("trainer panicked"),
    }
}

fn experiment(controls: &[(Arm, Control)], run: fn(Option<Arm>, &Ctx) -> Trial) -> Claim {
    Claim::experiment(
        "EXP-TOY",
        "toy",
        "nowhere",
        "margin > 0",
        design(),
        controls,
        run,
    )
}

const CONTROLS: [(Arm, Control); 2] = [
    (Arm::Positive, Control::positive("always wins")),
    (Arm::Diverges, Control::broken("diverges")),
];

#[test]
fn experiments_decide_by_sign_test() {
    let always = experiment(&CONTROLS, |a, c| arm_trial(a, c, |_| 1.0));
    let v = verify(&always);
    assert_eq!(v.outcome, Outcome::Supported);
    assert!(v.controls.iter().all(|c| c.ok));
    // A control's evidence is its own decision line (the positive one) or its headline.
    let says = |evidence: &str, text: &str| assert!(evidence.contains(text), "{evidence}");
    says(&v.controls[0].evidence, "margin > 0 in 24/24 replicates");
    says(&v.controls[1].evidence, "loss is finite");
    assert!(
        v.findings.headline().contains("24/24"),
        "{}",
        v.findings.headline()
    );

    let never = experiment(&CONTROLS, |a, c| arm_trial(a, c, |_| -1.0));
    assert_eq!(verify(&never).outcome, Outcome::NotSupported);

    // Half the replicates (by seed parity): neither way at α = 1e-6.
    let coin = experiment(&CONTROLS, |a, c| {
        arm_trial(a, c, |s| if s % 2 == 0 { 1.0 } else { -1.0 })
    });
    assert_eq!(verify(&coin).outcome, Outcome::Inconclusive);
}

#[test]
fn the_planning_rate_is_measured_on_its_own_seeds() {
    let planning = |claim: Claim| match claim.decision {
        Decision::Experiment(e) => e.planning(7, 200, Budget::Ci),
        _ => unreachable!("an experiment"),
    };
    let always = planning(experiment(&CONTROLS, |a, c| arm_trial(a, c, |_| 1.0)));
    // 200 of 200: the 95 % lower bound is 0.05^(1/200) = 0.98513, below the stated 0.99.
    assert_eq!((always.wins, always.unhealthy), (200, 0));
    assert!((always.lower_95 - 0.05f64.powf(1.0 / 200.0)).abs() < 1e-9);
    assert!(
        !always.confirms(Decided::Supported),
        "200 replicates cannot confirm a rate of 0.99 at 95 %"
    );
    // The same design planned at 0.98 for "supported" is confirmed.
    let planned_lower = |d: Design| Design {
        planning_rate: 0.98,
        ..d
    };
    let lower = match Claim::experiment(
        "E",
        "t",
        "x",
        "y",
        planned_lower(design()),
        &CONTROLS,
        |a, c| arm_trial(a, c, |_| 1.0),
    )
    .decision
    {
        Decision::Experiment(e) => e.planning(7, 200, Budget::Ci),
        _ => unreachable!(),
    };
    assert!(lower.confirms(Decided::Supported));
    assert!(!lower.confirms(Decided::NotSupported));
    assert_eq!(
        always.health_ratios.len(),
        0,
        "the toy health is a tally, not a bound"
    );
    // Margin by seed parity: about half hold, far below the stated rate.
    let coin = planning(experiment(&CONTROLS, |a, c| {
        arm_trial(a, c, |s| if s % 2 == 0 { 1.0 } else { -1.0 })
    }));
    assert!((60..140).contains(&coin.wins), "{}", coin.wins);
    assert!(!coin.confirms(Decided::Supported));
    // Planned at 0.99 for "inconclusive" means a rate within [0.01, 0.99]: it is.
    assert!(coin.confirms(Decided::Inconclusive));
    assert!(coin.to_string().contains("rate in [0.4"), "{coin}");
    // Never holds: the upper bound 1 − 0.05^(1/200) is below the plan for "not supported".
    let never = planning(experiment(&CONTROLS, |a, c| arm_trial(a, c, |_| -1.0)));
    assert!((never.upper_95 - (1.0 - 0.05f64.powf(1.0 / 200.0))).abs() < 1e-9);
    assert!(never.confirms(Decided::NotSupported) && !never.confirms(Decided::Inconclusive));
    // A trainer that diverges is counted unhealthy, with the replicate that showed it.
    let broken = planning(experiment(&CONTROLS, |a, c| {
        arm_trial(a.or(Some(Arm::Diverges)), c, |_| 1.0)
    }));
    assert_eq!((broken.wins, broken.unhealthy), (0, 200));
    assert!(
        !broken.confirms(Decided::NotSupported),
        "unhealthy confirms nothing"
    );
    let (r, seed, why) = broken
        .first_unhealthy
        .expect("the first unhealthy replicate");
    assert_eq!(r, 0);
    assert!(why.contains("loss = NaN"), "{why}");
    // Planning replicates are not the ones that decide the claim.
    assert_ne!(seed, claims::replicate_seed(7, 0));
}

#[test]
fn a_broken_replicate_or_control_fails_the_experiment() {
    // Our trainer diverges, margins NaN, or a panic: failed, never "not supported".
    for run in [
        (|a: Option<Arm>, c: &Ctx| arm_trial(a.or(Some(Arm::Diverges)), c, |_| 1.0))
            as fn(Option<Arm>, &Ctx) -> Trial,
        |a, c| arm_trial(a.or(Some(Arm::NanMargin)), c, |_| 1.0),
        |a, c| arm_trial(a.or(Some(Arm::Panics)), c, |_| 1.0),
    ] {
        let v = verify(&experiment(&CONTROLS, run));
        assert_eq!(v.outcome, Outcome::Failed);
        assert!(
            v.failure_report().contains("replicate 0"),
            "{}",
            v.failure_report()
        );
    }
    // A broken control that trains fine, or one that only panics, is not shown to fail.
    for broken in [Arm::NotBroken, Arm::Panics, Arm::NanMargin] {
        let controls = [
            (Arm::Positive, Control::positive("wins")),
            (broken, Control::broken("b")),
        ];
        let v = verify(&experiment(&controls, |a, c| arm_trial(a, c, |_| 1.0)));
        assert_eq!(v.outcome, Outcome::Failed);
        assert!(!v.controls[1].ok);
    }
    // A positive control that does not come out supported.
    let controls = [
        (Arm::Diverges, Control::positive("p")),
        (Arm::Diverges, Control::broken("b")),
    ];
    let v = verify(&experiment(&controls, |a, c| arm_trial(a, c, |_| 1.0)));
    assert_eq!(v.outcome, Outcome::Failed);
}

#[test]
fn design_error_is_the_chance_of_another_decision() {
    let d = design();
    // 24 replicates at α = 1e-6 need 24 wins (2⁻²⁴·25 > 1e-6 for 23).
    assert_eq!(d.wins_for_supported(24), 24);
    assert_eq!(d.decide(24, 24), Decided::Supported);
    let miss = d.error(Budget::Ci, Decided::Supported);
    assert!((miss - (1.0 - 0.99f64.powi(24))).abs() < 1e-12, "{miss}");
}

// ---- suites: catalogue, followers, bound ------------------------------------------------

fn toy_suite(catalogue: &str) -> Suite {
    let claims = vec![
        toy(
            Toy::Value(0.0),
            &[(Toy::Value(2.0), Planted::bug("caught"))],
        ),
        experiment(&CONTROLS, |a, c| arm_trial(a, c, |_| 1.0)),
        Claim::follows(
            "TOY-F",
            "toy",
            "nowhere",
            "informal",
            PostVerdict::Informal,
            "EXP-TOY",
        ),
        Claim::out_of_scope("TOY-O", "toy", "nowhere", "vague", "no data"),
    ];
    Suite::new("toy", claims, catalogue).unwrap()
}

const GOOD: &str = "| `TOY` | a | b | correct | — | holds |\n\
                    | `EXP-TOY` | a | b | experiment | — | supported |\n\
                    | `TOY-F` | a | b | informal | — | supported |\n\
                    | `TOY-O` | a | b | informal | — | out-of-scope |\n";

#[test]
fn a_suite_runs_followers_and_compares_with_the_catalogue() {
    let s = toy_suite(GOOD);
    assert!(s.disagreements().is_empty(), "{:?}", s.disagreements());
    let picked = s.select("TOY-F").unwrap();
    assert_eq!(picked, vec![1, 2], "a follower pulls in its experiment");
    let v = s.run(&s.all(), 0, Budget::Ci);
    assert!(
        v.iter().all(|v| v.ok()),
        "{:?}",
        v.iter().map(|v| v.failure_report()).collect::<Vec<_>>()
    );
    assert_eq!(v[2].outcome, Outcome::Supported);
    assert!(s.select("NOPE").is_err());
    // The bound: no statistical checks, one experiment at 0.99 with 24 replicates.
    let b = s.false_failure_bound(&v);
    assert!((b.experiments - (1.0 - 0.99f64.powi(24))).abs() < 1e-12);
    assert_eq!(b.total, b.alpha + b.planted + b.experiments);
    assert!(!b.to_string().contains("states no power"), "{b}");
    // A follower run alone, without its experiment, fails.
    let alone = s.run(&[2], 0, Budget::Ci);
    assert_eq!(alone[0].outcome, Outcome::Failed);
}

#[test]
fn the_catalogue_decides_what_is_expected() {
    // The same run against a catalogue expecting something else is unexpected.
    let s = toy_suite(&GOOD.replace(
        "| correct | — | holds |",
        "| correct | — | corrected-holds |",
    ));
    let v = s.run(&[0], 0, Budget::Ci);
    assert_eq!(v[0].outcome, Outcome::Holds);
    assert!(!v[0].ok());
    assert!(!s.disagreements().is_empty());
    // An ID missing from the catalogue is never as expected.
    let s = toy_suite(&GOOD.replace("| `TOY` |", "| `TOY-X` |"));
    let v = s.run(&[0], 0, Budget::Ci);
    assert_eq!(v[0].expected, None);
    assert!(!v[0].ok());
    let d = s.disagreements().join("\n");
    assert!(
        d.contains("TOY is registered but not in the catalogue"),
        "{d}"
    );
    assert!(d.contains("TOY-X is in the catalogue"), "{d}");
}

#[test]
fn disagreements_name_each_kind_of_mismatch() {
    let cases = [
        (
            "| correct | — | holds |",
            "| typo | — | holds |",
            "post verdict is typo",
        ),
        (
            "| correct | — | holds |",
            "| correct | — | corrected-holds |",
            "no planted variant",
        ),
        (
            "| experiment | — | supported |",
            "| experiment | — | holds |",
            "its decision is an experiment",
        ),
        (
            "| `TOY-F` | a | b | informal | — | supported |",
            "| `TOY-F` | a | b | informal | — | inconclusive |",
            "which the catalogue expects to be supported",
        ),
        (
            "| `TOY-O` | a | b | informal | — | out-of-scope |",
            "| `TOY-O` | a | b | informal | — | holds |",
            "out of scope",
        ),
    ];
    for (from, to, says) in cases {
        let s = toy_suite(&GOOD.replacen(from, to, 1));
        let d = s.disagreements().join("\n");
        assert!(d.contains(says), "{to}: {d}");
    }
}

#[test]
fn a_gradient_check_is_evidence_naming_the_worst_parameter() {
    use proofs_engine::claims::gradcheck::check_gradient;
    let f = |t: &[f64]| t[0] * t[1];
    let mut ok = Findings::default();
    ok.gradient(
        "∇(xy)",
        &check_gradient(f, &[2.0, 3.0], &[3.0, 2.0]).unwrap(),
    );
    assert!(ok.pass(), "{}", ok.headline());
    let mut bad = Findings::default();
    bad.gradient(
        "∇(xy)",
        &check_gradient(f, &[2.0, 3.0], &[3.0, 2.5]).unwrap(),
    );
    assert!(bad.evidence[0].rejects());
    assert!(
        bad.headline().contains("worst parameter 1 of 2"),
        "{}",
        bad.headline()
    );
    // The book's form: the numbers and |difference| typeset, no bare bar to end a table cell.
    let typeset = bad.evidence[0].what_markdown.as_deref().unwrap();
    assert!(
        typeset.starts_with(
            r"∇(xy) (worst parameter 1 of 2: analytic $2.500000000$, finite difference $"
        ),
        "{typeset}"
    );
    assert!(
        typeset.contains(r"$\lvert \text{difference} \rvert = "),
        "{typeset}"
    );
    assert!(!typeset.contains('|'), "{typeset}");
    let mut nan = Findings::default();
    nan.gradient(
        "∇(xy)",
        &check_gradient(f, &[2.0, 3.0], &[f64::NAN, f64::NAN]).unwrap(),
    );
    assert!(
        !nan.pass() && !nan.evidence[0].rejects(),
        "NaN measures nothing"
    );
}

#[test]
fn items_that_measured_nothing_never_pass_nor_reject() {
    // An empty tally, a bound over zero cases, a NaN bound, a test with a NaN p-value.
    let mut f = Findings::default();
    f.tally("nothing counted", Tally::default());
    assert!(!f.pass() && !f.evidence[0].rejects() && !f.evidence[0].valid());
    let mut f = Findings::default();
    f.bound("no cases", 0.0, 1.0, 0, "toy");
    assert!(!f.pass() && !f.evidence[0].valid());
    let mut f = Findings::default();
    f.bound("NaN bound", 0.5, f64::NAN, 3, "toy");
    assert!(!f.pass() && !f.evidence[0].rejects() && !f.evidence[0].valid());
    assert!(
        f.evidence[0].summary().ends_with("[INVALID]"),
        "{}",
        f.headline()
    );
    for (stat, p) in [(f64::NAN, 0.0), (1.0, f64::NAN)] {
        let mut f = Findings::default();
        let outcome = TestOutcome {
            test: "t",
            statistic: stat,
            n: 3,
            p_value: p,
        };
        f.test("nan test", outcome, 1e-6, Power::none());
        assert!(!f.pass() && !f.evidence[0].rejects(), "{stat} {p}");
    }
    // An experiment inequality with a NaN side.
    let mut f = Findings::default();
    f.experiment("gap", f64::NAN, 1.0, "toy");
    assert!(!f.pass() && !f.evidence[0].rejects());
    let mut f = Findings::default();
    f.experiment("gap", 2.0, 1.0, "toy");
    assert!(f.evidence[0].rejects());
    assert!(
        f.headline().contains("2.0000e0 < 1.0000e0 [FAIL]"),
        "{}",
        f.headline()
    );
    let mut f = Findings::default();
    f.experiment("gap", 0.5, 1.0, "toy");
    assert!(f.pass() && !f.evidence[0].rejects());
    assert!(f.headline().ends_with("[ok]"), "{}", f.headline());
    let mut f = Findings::default();
    f.experiment("gap", 1.0, 1.0, "toy");
    assert!(f.evidence[0].rejects(), "the inequality is strict");
    // Passing items of every kind do not reject.
    let mut f = Findings::default();
    f.bound("b", 1.0, 1.0, 1, "at the bound passes");
    let mut t = Tally::default();
    t.check(true, String::new);
    f.tally("t", t);
    let outcome = TestOutcome {
        test: "t",
        statistic: 1.0,
        n: 3,
        p_value: 1e-6,
    };
    f.test("p = α passes", outcome, 1e-6, Power::none());
    assert!(f.pass());
    assert!(f.evidence.iter().all(|e| e.valid() && !e.rejects()));
}

#[test]
fn the_budget_picks_the_size() {
    let ci = Ctx {
        seed: 1,
        budget: Budget::Ci,
    };
    let full = Ctx {
        budget: Budget::Full,
        ..ci
    };
    assert_eq!((ci.size(3, 7), full.size(3, 7)), (3, 7));
    use proofs_engine::rand::RngCore;
    assert_eq!(
        ci.rng().next_u64(),
        full.rng().next_u64(),
        "the stream restarts"
    );
    assert_eq!(
        Design {
            inequality: "x",
            ci: 5,
            full: 9,
            alpha: 1e-6,
            planning_rate: 0.9
        }
        .replicates(Budget::Full),
        9
    );
}

#[test]
fn words_round_trip() {
    for o in Outcome::ALL {
        assert_eq!(Outcome::from_word(o.word()), Some(o));
    }
    for v in PostVerdict::ALL {
        assert_eq!(PostVerdict::from_word(v.word()), Some(v));
    }
    assert_eq!(Outcome::from_word("fine"), None);
    assert_eq!(
        Outcome::Inconclusive.as_decided(),
        Some(Decided::Inconclusive)
    );
    assert_eq!(Outcome::Holds.as_decided(), None);
    assert_eq!(Decided::NotSupported.word(), "not-supported");
    assert_eq!(PlantedState::Invalid.word(), "invalid");
}

#[test]
fn headlines_summaries_and_identity_errors() {
    let mut f = Findings::default();
    f.bound("first passes", 0.5, 1.0, 1, "toy");
    f.bound("second fails", 2.0, 1.0, 1, "toy");
    assert!(f.headline().starts_with("second fails"), "{}", f.headline());
    assert!(!f.evidence[0].summary().contains("non-finite"));
    let mut e = MaxError::default();
    e.record(f64::NAN, 1.0);
    let mut f = Findings::default();
    f.max_error("all NaN", &e, 1.0, "toy");
    assert!(
        f.headline().starts_with("all NaN: NaN ≤"),
        "{}",
        f.headline()
    );
    // Ties keep the first input where the largest error was seen.
    let mut e = MaxError::default();
    e.record(0.5, 1.0);
    e.record(0.5, 2.0);
    assert_eq!(e.at, 1.0);
    use claims::identity_error;
    assert_eq!(identity_error(1.0, 1.0), 0.0);
    assert_eq!(identity_error(f64::INFINITY, f64::INFINITY), 0.0);
    assert_eq!(identity_error(2.0, 1.0), 0.5);
    assert_eq!(identity_error(-4.0, 2.0), 1.5);
    assert_eq!(identity_error(0.5, 0.25), 0.25);
    assert!(identity_error(f64::NAN, 1.0).is_nan());
}

/// The replicate index of a replicate seed of EXP-TOY on base seed 0.
fn replicate_of(seed: u64) -> usize {
    let claim = claims::claim_seed("EXP-TOY", 0);
    (0..64)
        .find(|&r| claims::replicate_seed(claim, r) == seed)
        .expect("a replicate seed of EXP-TOY")
}

fn trial_for(r: usize) -> Trial {
    let mut health = Findings::default();
    let mut t = Tally::default();
    t.check(r != 2, || "diverged".into());
    health.tally(format!("replicate {r} trained"), t);
    if r == 0 {
        health
            .figures
            .push(proofs_engine::report::figure::LinePlot {
                file_stem: "toy".into(),
                title: "toy".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                series: Vec::new(),
            });
    }
    Trial::new(r as f64, health)
}

#[test]
fn an_experiment_reports_its_margins_its_last_replicate_and_its_first_figure() {
    // Margin r in replicate r: 23 of 24 are positive (0 is not a win), so supported needs
    // all 24 at 1e-6 and this is inconclusive; with replicate 2 healthy.
    let claim = experiment(&CONTROLS, |a, c| {
        if a.is_some() {
            return arm_trial(a, c, |_| 1.0);
        }
        let r = replicate_of(c.seed);
        let mut t = trial_for(r);
        t.health = if r == 2 {
            trial_for(3).health
        } else {
            t.health
        };
        t
    });
    let v = verify(&claim);
    assert_eq!(v.outcome, Outcome::Inconclusive);
    let h = v.findings.evidence[0].summary();
    assert!(h.contains("in 23/24 replicates"), "{h}");
    // Exact one-sided tails of Bin(24, ½): P(X ≥ 23) = 25/2²⁴ for, P(X ≥ 1) = 1 − 2⁻²⁴ against.
    assert!(h.contains("p = 1.5e-6 for, 1.0e0 against"), "{h}");
    assert!(
        h.contains("margin min 0.000e0, median 1.200e1, max 2.300e1"),
        "{h}"
    );
    assert!(
        v.findings.evidence[1].what.contains("replicate 23 trained"),
        "{:?}",
        v.findings.evidence[1]
    );
    assert_eq!(v.findings.figures.len(), 1, "the first replicate's figure");
}

#[test]
fn a_failing_replicate_is_named_with_its_seed() {
    let claim = experiment(&CONTROLS, |a, c| match a {
        Some(_) => arm_trial(a, c, |_| 1.0),
        None => trial_for(replicate_of(c.seed)),
    });
    let v = verify(&claim);
    assert_eq!(v.outcome, Outcome::Failed);
    let seed = claims::replicate_seed(claims::claim_seed("EXP-TOY", 0), 2);
    let first = v.findings.evidence[0].summary();
    assert!(
        first.contains(&format!(
            "replicate 2 (seed {seed}) is healthy: 1/3 violations"
        )),
        "{first}"
    );
    let panics = experiment(&CONTROLS, |a, c| {
        arm_trial(a.or(Some(Arm::Panics)), c, |_| 1.0)
    });
    assert!(
        verify(&panics)
            .failure_report()
            .contains("trainer panicked")
    );
}

#[test]
fn claim_seeds_are_pinned() {
    // FNV-1a of the ID then SplitMix64, computed independently in Python.
    assert_eq!(
        claims::claim_seed("ACT-TANH", 0),
        14_404_910_318_885_442_983
    );
    // A non-zero base seed, so the ID hash and the base seed are mixed, not just kept.
    assert_eq!(claims::claim_seed("ACT-TANH", 7), 525_582_732_473_327_627);
    assert_ne!(
        claims::claim_seed("ACT-TANH", 1),
        claims::claim_seed("ACT-TANH", 0)
    );
    assert_ne!(
        claims::claim_seed("ACT-RELU", 0),
        claims::claim_seed("ACT-TANH", 0)
    );
}

#[test]
fn panics_of_every_payload_are_reported() {
    let with = |run: fn(Option<()>, &Ctx) -> Findings| {
        verify(&Claim::checked(
            "P",
            "toy",
            "x",
            "x",
            PostVerdict::Correct,
            &[((), Planted::bug("b"))],
            run,
        ))
    };
    let v = with(|_, _| panic!("a formatted {}", 1));
    assert!(
        v.failure_report()
            .contains("the check panicked: a formatted 1"),
        "{}",
        v.failure_report()
    );
    let v = with(|_, _| std::panic::panic_any(7_u8));
    assert!(
        v.failure_report().contains("the check panicked: a panic"),
        "{}",
        v.failure_report()
    );
    assert_eq!(v.planted[0].state, PlantedState::Invalid);
    assert_eq!(
        v.planted[0].miss, 1.0,
        "a bug not shown rejected counts as a miss"
    );
}

#[test]
fn failure_reports_name_the_controls_that_did_not_come_out() {
    let controls = [(Arm::NotBroken, Control::broken("should diverge"))];
    let v = verify(&experiment(&controls, |a, c| arm_trial(a, c, |_| 1.0)));
    assert_eq!(v.outcome, Outcome::Failed);
    let r = v.failure_report();
    assert!(
        r.contains("control should diverge did not come out Failed"),
        "{r}"
    );
    assert!(r.contains("a control did not come out as designed"), "{r}");
}

#[test]
fn selection_and_the_bound_in_words() {
    let s = toy_suite(GOOD);
    assert_eq!(s.select("toy").unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(s.select("exp-toy").unwrap(), vec![1]);
    assert_eq!(s.all(), vec![0, 1, 2, 3]);
    assert_eq!(s.name(), "toy");
    assert_eq!(s.catalogue().entries.len(), 4);
    let e = s.select("nothing").unwrap_err().to_string();
    assert!(e.contains("unknown claim ID \"nothing\""), "{e}");
    let v = s.run(&[3, 0], 0, Budget::Ci);
    assert_eq!(
        (&*v[0].id, &*v[1].id),
        ("TOY-O", "TOY"),
        "verdicts in the order picked"
    );
    let b = claims::FalseFailureBound {
        alpha: 1e-6,
        planted: 2e-7,
        experiments: 0.0,
        total: 1.2e-6,
        unpowered: 2,
    };
    assert_eq!(
        b.to_string(),
        "false-failure bound 1.20e-6 = α 1.00e-6 + planted-bug misses 2.00e-7 + experiment decisions 0.00e0 (+ 2 rejections by a test that states no power)"
    );
}

#[test]
fn disagreements_about_post_variants_and_controls() {
    let post = toy(
        Toy::Value(0.0),
        &[(Toy::Value(2.0), Planted::post("the post"))],
    );
    let s = Suite::new("t", vec![post], "| `TOY` | a | b | correct | — | holds |\n")
        .unwrap()
        .with_command("my-runner");
    // The failure report names the suite's own command line.
    let report = s.run(&[0], 5, Budget::Ci)[0].failure_report();
    assert!(
        report.contains("reproduce with `my-runner --claim TOY --budget ci --seed 5`"),
        "{report}"
    );
    let d = s.disagreements().join("\n");
    assert!(
        d.contains("a planted variant is marked as the post's own version"),
        "{d}"
    );
    let post = toy(
        Toy::Value(0.0),
        &[(Toy::Value(2.0), Planted::post("the post"))],
    );
    let s = Suite::new(
        "t",
        vec![post],
        "| `TOY` | a | b | correct | — | corrected-holds |\n",
    )
    .unwrap();
    assert!(s.disagreements().is_empty(), "{:?}", s.disagreements());

    let line = |expected: &str| format!("| `EXP-TOY` | a | b | experiment | — | {expected} |\n");
    let only_positive = [(Arm::Positive, Control::positive("p"))];
    let only_broken = [(Arm::Diverges, Control::broken("b"))];
    let exp = |c: &[(Arm, Control)]| experiment(c, |a, c| arm_trial(a, c, |_| 1.0));
    let s = Suite::new("t", vec![exp(&only_positive)], &line("supported")).unwrap();
    assert!(s.disagreements().join("").contains("no broken control"));
    let s = Suite::new("t", vec![exp(&only_broken)], &line("supported")).unwrap();
    assert!(s.disagreements().is_empty());
    for expected in ["inconclusive", "not-supported"] {
        let s = Suite::new("t", vec![exp(&only_broken)], &line(expected)).unwrap();
        assert!(
            s.disagreements()
                .join("")
                .contains("needs a positive control"),
            "{expected}"
        );
        let s = Suite::new("t", vec![exp(&CONTROLS)], &line(expected)).unwrap();
        assert!(s.disagreements().is_empty(), "{expected}");
    }
    // A follower of an unregistered or non-experiment claim.
    let f = Claim::follows("F", "t", "x", "y", PostVerdict::Informal, "NOPE");
    let s = Suite::new("t", vec![f], "| `F` | a | b | informal | — | supported |\n").unwrap();
    assert!(
        s.disagreements()
            .join("")
            .contains("which is not registered")
    );
    let f = Claim::follows("F", "t", "x", "y", PostVerdict::Informal, "TOY");
    let t = toy(Toy::Value(0.0), &[(Toy::Value(2.0), Planted::bug("b"))]);
    let s = Suite::new(
        "t",
        vec![t, f],
        "| `TOY` | a | b | correct | — | holds |\n| `F` | a | b | informal | — | holds |\n",
    )
    .unwrap();
    assert!(
        s.disagreements()
            .join("")
            .contains("which is not an experiment")
    );
    // A refutation expects refuted, nothing else.
    let r = refuting(|_, _| findings(Toy::Value(0.0)));
    let s = Suite::new("t", vec![r], "| `TOY-R` | a | b | wrong | — | refuted |\n").unwrap();
    assert!(s.disagreements().is_empty());
    let r = refuting(|_, _| findings(Toy::Value(0.0)));
    let s = Suite::new("t", vec![r], "| `TOY-R` | a | b | wrong | — | holds |\n").unwrap();
    assert!(
        s.disagreements()
            .join("")
            .contains("its decision is a refutation")
    );
}

#[test]
fn the_bound_adds_its_three_terms() {
    // Our code runs one test at α = 1e-6 (p = 0.5 passes); the planted bug is rejected by a
    // test of power 0.999 (miss 1e-3); the experiment misses with 1 − 0.99²⁴.
    let tested = Claim::checked(
        "T",
        "toy",
        "x",
        "x",
        PostVerdict::Correct,
        &[
            (1e-9, Planted::bug("shifted")),
            (2e-9, Planted::bug("no power stated")),
        ],
        |bug: Option<f64>, _: &Ctx| {
            let mut f = Findings::default();
            let outcome = TestOutcome {
                test: "toy",
                statistic: 1.0,
                n: 10,
                p_value: bug.unwrap_or(0.5),
            };
            let power = if bug == Some(2e-9) { f64::NAN } else { 0.999 };
            f.test("t", outcome, 1e-6, Power::new(power, "toy"));
            f
        },
    );
    let exp = experiment(&CONTROLS, |a, c| arm_trial(a, c, |_| 1.0));
    let s = Suite::new(
        "t",
        vec![tested, exp],
        "| `T` | a | b | correct | — | holds |\n| `EXP-TOY` | a | b | experiment | — | supported |\n",
    )
    .unwrap();
    let v = s.run(&s.all(), 0, Budget::Ci);
    assert!(v.iter().all(|v| v.ok()));
    let b = s.false_failure_bound(&v);
    let exp_err = 1.0 - 0.99f64.powi(24);
    assert!((b.alpha - 1e-6).abs() < 1e-18, "{b}");
    assert!((b.planted - 1e-3).abs() < 1e-12, "{b}");
    assert!((b.experiments - exp_err).abs() < 1e-12, "{b}");
    assert!((b.total - (1e-6 + 1e-3 + exp_err)).abs() < 1e-12, "{b}");
    assert_eq!(b.unpowered, 1);
    assert!(
        b.to_string()
            .ends_with("(+ 1 rejections by a test that states no power)"),
        "{b}"
    );
}

// ---- planning: the measured rate behind a design --------------------------------------

/// The planning stream of claim seed 7, as documented: the claim's seed mixed with the bytes
/// of "planning".
fn planning_seed(r: usize) -> u64 {
    claims::replicate_seed(7 ^ 0x706c_616e_6e69_6e67, r)
}

fn planned(
    rate: f64,
    run: fn(Option<Arm>, &Ctx) -> Trial,
    n: usize,
) -> proofs_engine::claims::Planning {
    let d = Design {
        planning_rate: rate,
        ..design()
    };
    match Claim::experiment("E", "t", "x", "y", d, &CONTROLS, run).decision {
        Decision::Experiment(e) => e.planning(7, n, Budget::Ci),
        _ => unreachable!("an experiment"),
    }
}

/// A margin that depends only on the seed: the replicate's "data".
fn seed_margin(seed: u64) -> f64 {
    (seed % 1000) as f64 - 300.0
}

#[test]
fn planning_runs_the_documented_stream_and_reports_its_margins() {
    let p = planned(0.5, |a, c| arm_trial(a, c, seed_margin), 200);
    let mut margins: Vec<f64> = (0..200).map(|r| seed_margin(planning_seed(r))).collect();
    let wins = margins.iter().filter(|&&m| m > 0.0).count() as u64;
    margins.sort_by(f64::total_cmp);
    assert_eq!(p.wins, wins);
    // min, the 1 % quantile (index ⌊0.01·200⌋ = 2) and the median (index 100).
    assert_eq!(p.margins, [margins[0], margins[2], margins[100]]);
    // A margin of exactly 0 is not a win.
    let zero = planned(0.5, |a, c| arm_trial(a, c, |_| 0.0), 50);
    assert_eq!((zero.wins, zero.unhealthy), (0, 0));
    // A NaN margin with healthy evidence is unhealthy, never a loss.
    let nan = planned(
        0.5,
        |a, c| arm_trial(a.or(Some(Arm::NanMargin)), c, |_| 1.0),
        50,
    );
    assert_eq!((nan.wins, nan.unhealthy), (0, 50));
    assert_eq!(
        nan.first_unhealthy.map(|(_, s, _)| s),
        Some(planning_seed(0))
    );
}

#[test]
fn planning_confirms_an_inconclusive_design_only_inside_its_band() {
    // Planned at 0.45 for "inconclusive": the rate must lie in [0.45, 0.55]. Seeds give a rate
    // near 0.7 here (margin > 0 for seed % 1000 ≥ 300), outside the band.
    let p = planned(0.45, |a, c| arm_trial(a, c, seed_margin), 200);
    assert!(p.lower_95 > 0.55, "{p}");
    assert!(!p.confirms(Decided::Inconclusive), "{p}");
    assert!(
        p.confirms(Decided::Supported),
        "0.45 is below the lower bound: {p}"
    );
}

#[test]
fn planning_reports_each_health_bound_at_its_worst() {
    // Health: a bound item whose observed value grows with the seed's last digit, 0 to 0.9
    // against a bound of 2, so the worst ratio is 0.45 (0.9 / 2) once a seed ends in 9.
    let p = planned(
        0.5,
        |a, c| match a {
            Some(_) => arm_trial(a, c, |_| 1.0),
            None => {
                let mut health = Findings::default();
                health.bound(
                    "loss below its bound",
                    (c.seed % 10) as f64 / 10.0,
                    2.0,
                    1,
                    "toy",
                );
                Trial::new(1.0, health)
            }
        },
        100,
    );
    let worst = (0..100)
        .map(|r| (planning_seed(r) % 10) as f64 / 10.0)
        .fold(0.0, f64::max)
        / 2.0;
    assert_eq!(
        p.health_ratios,
        vec![("loss below its bound".to_owned(), worst)]
    );
}

#[test]
fn planning_times_a_replicate() {
    // Each replicate sleeps 2 ms; on c cores a replicate costs at least 2/c ms of wall time.
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let start = std::time::Instant::now();
    let p = planned(
        0.5,
        |a, c| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            arm_trial(a, c, |_| 1.0)
        },
        20,
    );
    let ceiling = start.elapsed().as_secs_f64() * 1e3 / 20.0;
    assert!(
        p.ms_per_replicate >= 2.0 / cores && p.ms_per_replicate <= ceiling,
        "{} ms per replicate, {cores} cores, {ceiling} ms ceiling",
        p.ms_per_replicate
    );
}

// ---- one test per claim: claims::testing ------------------------------------------------

fn testing_suite() -> Suite {
    let catalogue =
        "| `TOY` | a | b | correct | — | holds |\n| `TOY-S` | a | b | correct | — | holds |\n";
    let mut survives = toy(
        Toy::Value(0.0),
        &[(Toy::Value(0.0), Planted::bug("no effect"))],
    );
    survives.id = "TOY-S".into();
    survives.derivation = "other".into();
    Suite::new(
        "t",
        vec![
            toy(Toy::Value(0.0), &[(Toy::Value(2.0), Planted::bug("b"))]),
            survives,
        ],
        catalogue,
    )
    .unwrap()
}

#[test]
fn check_claim_passes_a_claim_as_expected_and_panics_otherwise() {
    let s = testing_suite();
    claims::testing::check_claim(&s, "TOY");
    let failed =
        std::panic::catch_unwind(|| claims::testing::check_claim(&testing_suite(), "TOY-S"));
    let message = failed.expect_err("a surviving planted bug fails the test");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("TOY-S came out failed"), "{text}");
}

#[test]
fn assert_covers_wants_exactly_the_claims_of_the_derivation() {
    let s = testing_suite();
    claims::testing::assert_covers(&s, "toy", &["TOY"]);
    for listed in [&[][..], &["TOY", "TOY-S"][..]] {
        let r = std::panic::catch_unwind(|| {
            claims::testing::assert_covers(&testing_suite(), "toy", listed)
        });
        assert!(r.is_err(), "{listed:?} is not the toy derivation's list");
    }
}
