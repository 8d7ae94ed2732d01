//! The post's runner, through its binary as a user runs it: success, the report it writes,
//! and bad usage. (Each way a claim can come out other than expected is tested through the
//! engine's own example runner, `engine/tests/runner.rs`.)

use std::path::PathBuf;
use std::process::{Command, Output};

fn post_runner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dnn-proofs"));
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
fn a_claim_as_expected_exits_0_and_writes_the_report() {
    let out = out_dir("ok");
    let (code, stdout, stderr) = run(post_runner()
        .args([
            "--claim",
            "ACT-RELU",
            "--budget",
            "ci",
            "--no-book",
            "--out",
        ])
        .arg(&out));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 claims: 1 as the catalogue expects, 0 not"),
        "{stdout}"
    );
    assert!(stdout.contains("false-failure bound"), "{stdout}");
    let json = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let claim = &report["claims"][0];
    assert_eq!(claim["id"], "ACT-RELU");
    assert_eq!(claim["result"], "holds");
    assert_eq!(claim["expected"], "holds");
    assert_eq!(claim["planted"][0]["state"], "rejected");
    assert!(out.join("report.md").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_usage_exits_2_naming_what_was_wrong() {
    let (code, _, err) = run(post_runner().args(["--claim", "NO-SUCH-CLAIM"]));
    assert_eq!(code, 2);
    assert!(err.contains("unknown claim ID \"NO-SUCH-CLAIM\""), "{err}");

    let (code, _, err) = run(post_runner().arg("--no-such-flag"));
    assert_eq!(code, 2);
    assert!(err.contains("--no-such-flag"), "{err}");

    let (code, _, err) = run(post_runner()
        .args(["--claim", "ACT-RELU"])
        .env("DNN_PROOFS_SEED", "abc"));
    assert_eq!(code, 2);
    assert!(err.contains("DNN_PROOFS_SEED=\"abc\""), "{err}");

    let (code, _, err) = run(post_runner().args(["--seeds", "5..5"]));
    assert_eq!(code, 2);
    assert!(err.contains("empty"), "{err}");

    // --out under a regular file cannot be created: the error names the path.
    let file = out_dir("file");
    std::fs::write(&file, "not a folder").unwrap();
    let target = file.join("report");
    let (code, _, err) = run(post_runner()
        .args([
            "--claim",
            "ACT-RELU",
            "--budget",
            "ci",
            "--no-book",
            "--out",
        ])
        .arg(&target));
    assert_eq!(code, 2);
    assert!(err.contains(&target.display().to_string()), "{err}");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn list_exits_0_with_every_id() {
    let (code, stdout, _) = run(post_runner().arg("--list"));
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), dnn_proofs::post::registry().len());
    assert!(stdout.contains("ACT-TANH"));
}
