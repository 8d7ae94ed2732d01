//! The runner's contract, through a real binary as a user runs it:
//! `examples/contract_suite.rs` is a user's suite on the engine's runner whose claims have
//! known outcomes, one for each way a claim can come out other than expected.

use std::path::PathBuf;
use std::process::{Command, Output};

/// `cargo test` builds the examples beside the binaries (target/<profile>/examples/); a
/// filtered run (`cargo test --test runner`) does not, so this builds it when it is missing
/// or older than this test binary (then the sources may have changed since).
fn contract_suite() -> Command {
    // This test runs from target/<profile>/deps/; the examples are in target/<profile>/.
    let this = std::env::current_exe().expect("the test binary's path");
    let dir = this
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let exe = dir
        .join("examples")
        .join(format!("contract_suite{}", std::env::consts::EXE_SUFFIX));
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let this = std::env::current_exe().ok().and_then(|p| modified(&p));
    if modified(&exe).is_none_or(|built| this.is_some_and(|t| built < t)) {
        let mut build = Command::new(env!("CARGO"));
        build.args([
            "build",
            "-p",
            "proofs-engine",
            "--example",
            "contract_suite",
        ]);
        if dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(
            status.success() && exe.exists(),
            "cannot build {}",
            exe.display()
        );
    }
    let mut c = Command::new(exe);
    c.env_remove("DNN_PROOFS_SEED");
    c
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dnn-proofs-runner-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(c: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("the runner starts");
    (
        status.code().expect("an exit code"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn every_unexpected_outcome_exits_1() {
    for (claim, says) in [
        ("TOY-FAILS", "TOY-FAILS came out failed (expected holds)"),
        ("TOY-SURVIVES", "planted bug SURVIVED: 2x − (x + x) + 0"),
        (
            "TOY-REFUTED",
            "TOY-REFUTED came out refuted (expected holds)",
        ),
    ] {
        let out = out_dir(claim);
        let (code, stdout, err) = run(contract_suite()
            .args(["--claim", claim, "--no-book", "--out"])
            .arg(&out));
        assert_eq!(code, 1, "{claim}: {stdout}\n{err}");
        assert!(err.contains(says), "{claim}: {err}");
        assert!(
            err.contains(&format!("--claim {claim}")),
            "the failure says how to reproduce it: {err}"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
    let out = out_dir("holds");
    let (code, stdout, err) = run(contract_suite()
        .args(["--claim", "TOY-HOLDS", "--no-book", "--out"])
        .arg(&out));
    assert_eq!(code, 0, "{stdout}\n{err}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_seed_meter_counts_unexpected_outcomes_per_claim() {
    let (code, stdout, err) =
        run(contract_suite().args(["--claim", "TOY-HOLDS", "--seeds", "0..3"]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("3 runs"), "{stdout}");
    assert!(stdout.contains("0 with an unexpected outcome"), "{stdout}");
    assert!(
        !err.contains("came out"),
        "no failure report when nothing fails: {err}"
    );
    let (code, stdout, err) =
        run(contract_suite().args(["--claim", "TOY-SURVIVES", "--seeds", "0..3"]));
    assert_eq!(code, 1);
    // Each unexpected run prints its own failure report, with the seed that reproduces it.
    for seed in 0..3 {
        assert!(err.contains(&format!("--seed {seed}`")), "{err}");
    }
    assert!(
        stdout.contains("TOY-SURVIVES") && stdout.contains("3 of 3"),
        "{stdout}"
    );
}

#[test]
fn the_seed_comes_from_the_flag_or_the_environment() {
    let out = out_dir("seed");
    let args = ["--claim", "toy-holds", "--no-book", "--out"];
    let (code, stdout, _) = run(contract_suite()
        .args(args)
        .arg(&out)
        .env("DNN_PROOFS_SEED", " 7 "));
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("— budget Full — base seed 7"),
        "IDs match case-insensitively: {stdout}"
    );
    let (_, stdout, _) = run(contract_suite()
        .args(args)
        .arg(&out)
        .args(["--seed", "9"])
        .env("DNN_PROOFS_SEED", "7"));
    assert!(stdout.contains("base seed 9"), "the flag wins: {stdout}");
    let (_, stdout, _) = run(contract_suite()
        .args(args)
        .arg(&out)
        .args(["--budget", "ci"]));
    assert!(stdout.contains("budget Ci — base seed 0"), "{stdout}");
    let (code, _, err) = run(contract_suite()
        .args(args)
        .arg(&out)
        .env("DNN_PROOFS_SEED", "-1"));
    assert_eq!(code, 2);
    assert!(
        err.contains("DNN_PROOFS_SEED=\"-1\" is not an unsigned 64-bit integer"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn seed_ranges_are_parsed_strictly() {
    for (range, says) in [
        ("3", "is not a range A..B"),
        ("a..4", "\"a\" in \"a..4\" is not an unsigned integer"),
        ("1..x", "\"x\" in \"1..x\" is not an unsigned integer"),
        ("4..2", "is empty"),
    ] {
        let (code, _, err) = run(contract_suite().args(["--seeds", range]));
        assert_eq!(code, 2, "{range}");
        assert!(err.contains(says), "{range}: {err}");
    }
    let (code, _, err) = run(contract_suite().args(["--seeds", "0..2", "--seed", "1"]));
    assert_eq!(code, 2, "--seeds and --seed exclude each other: {err}");
}

#[test]
fn list_and_book_files() {
    let (code, stdout, _) = run(contract_suite().arg("--list"));
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(
        lines[0].starts_with("TOY-HOLDS            toy         toy"),
        "{stdout}"
    );
    // A whole derivation refreshes its book table; one claim of it does not.
    let out = out_dir("book");
    let book = out.join("book");
    let (code, _, _) = run(contract_suite()
        .args(["--claim", "TOY-HOLDS", "--out"])
        .arg(&out)
        .arg("--book-out")
        .arg(&book));
    assert_eq!(code, 0);
    assert!(
        !book.exists(),
        "one claim does not rewrite the derivation's table"
    );
    let (code, _, _) = run(contract_suite()
        .args(["--claim", "toy", "--out"])
        .arg(&out)
        .arg("--book-out")
        .arg(&book));
    assert_eq!(code, 1, "the toy derivation holds failing claims");
    let md = std::fs::read_to_string(book.join("toy.md")).expect("toy.md");
    assert!(
        md.starts_with(
            "<!-- Written by the claims runner (full budget, base seed 0). Do not edit."
        ),
        "{md}"
    );
    // Each claim's verdict line under its own anchor, for its chapter to include.
    assert!(
        md.contains("<!-- ANCHOR: TOY-FAILS -->\n<p class=\"verdict\" id=\"toy-fails\">"),
        "{md}"
    );
    assert!(md.contains("<!-- ANCHOR: evidence -->"), "{md}");
    // A suite without a book folder writes no book unless asked: run from an empty folder,
    // the whole suite leaves nothing there but its report.
    let cwd = out.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let (code, _, _) = run(contract_suite()
        .current_dir(&cwd)
        .args(["--claim", "toy", "--out", "report"]));
    assert_eq!(code, 1);
    let left: Vec<_> = std::fs::read_dir(&cwd)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["report"], "no book/src/generated written by default");
    let (_, stdout, _) = run(contract_suite()
        .args(["--claim", "toy", "--no-book", "--out"])
        .arg(&out));
    assert!(
        stdout.contains("4 claims: 1 as the catalogue expects, 3 not."),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
