//! The runner: checks every registered claim against our code and its planted bugs, prints
//! the verdict table, writes `report.json`, `report.md` and the figures, and exits non-zero
//! if any claim did not come out as the catalogue expects.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use dnn_proofs::claims::{self, Budget, Verdict};
use dnn_proofs::report;

/// Executable proofs of the derivations in "深度神经网络简介": every claim, its evidence,
/// and the planted bugs its check rejects.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Run only this claim ID (e.g. ACT-TANH) or this derivation (e.g. activation).
    #[arg(long)]
    claim: Option<String>,
    /// Base seed; each claim mixes it with its ID. Also read from DNN_PROOFS_SEED.
    #[arg(long)]
    seed: Option<u64>,
    /// Sample sizes: `full` (the power statements' sizes) or `ci` (seconds).
    #[arg(long, value_enum, default_value = "full")]
    budget: Budget,
    /// Where report.json, report.md and the figures go.
    #[arg(long, default_value = "target/report")]
    out: PathBuf,
    /// Where the book's per-derivation tables and figures go.
    #[arg(long, default_value = "book/src/generated")]
    book_out: PathBuf,
    /// Do not write the book's tables and figures.
    #[arg(long)]
    no_book: bool,
    /// List the registered claim IDs and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let all = claims::registry();
    if args.list {
        for c in &all {
            println!("{:<20} {:<11} {}", c.id, c.derivation, c.location);
        }
        return Ok(true);
    }
    let base_seed = match args.seed {
        Some(s) => s,
        None => claims::base_seed_from_env()?,
    };
    let selected = match &args.claim {
        Some(id) => claims::select(all, id)?,
        None => all,
    };

    println!(
        "dnn-proofs {} — SIMD: {} — budget {:?} — base seed {base_seed}",
        env!("CARGO_PKG_VERSION"),
        report::simd_description(),
        args.budget
    );
    let bar = ProgressBar::new(selected.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} claims {elapsed} {msg}")
            .expect("static template"),
    );
    // Claims are independent: run them on every core, longest first is not needed at
    // this scale; rayon's work stealing balances them.
    let verdicts: Vec<Verdict> = selected
        .par_iter()
        .map(|c| {
            let v = c.verify(base_seed, args.budget);
            bar.inc(1);
            bar.set_message(c.id);
            v
        })
        .collect();
    bar.finish_and_clear();

    let records = report::records(&selected, &verdicts);
    print!("{}", report::table(&records));

    let report = report::Report {
        tool: "dnn-proofs",
        version: env!("CARGO_PKG_VERSION"),
        simd: report::simd_description(),
        budget: args.budget,
        base_seed,
        claims: records,
    };
    report::write(&args.out, &report)?;
    let mut figures = Vec::new();
    for v in &verdicts {
        for f in &v.findings.figures {
            figures.push(f.write_svg(&args.out)?);
        }
    }
    // The book's tables are per derivation: refresh them only when whole derivations ran.
    let whole = args
        .claim
        .as_deref()
        .is_none_or(|c| selected.iter().all(|x| x.derivation == c));
    if whole && !args.no_book {
        write_book_files(&args.book_out, &report, &figures)?;
    }

    let failures: Vec<&Verdict> = verdicts.iter().filter(|v| !v.ok()).collect();
    println!(
        "\n{} claims: {} as the catalogue expects, {} not. Report: {}",
        verdicts.len(),
        verdicts.len() - failures.len(),
        failures.len(),
        args.out.join("report.json").display()
    );
    for v in &failures {
        eprint!("{}", v.failure_report());
    }
    Ok(failures.is_empty())
}

/// The book includes `generated/<derivation>.md` (its verdict table) and the figures.
fn write_book_files(
    dir: &std::path::Path,
    report: &report::Report,
    figures: &[PathBuf],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut derivations: Vec<&str> = report.claims.iter().map(|c| c.derivation).collect();
    derivations.dedup();
    for d in derivations {
        let md = format!(
            "<!-- Written by `cargo run --release` ({:?} budget, base seed {}). Do not edit. -->\n\n{}",
            report.budget,
            report.base_seed,
            report::markdown(&report.claims, Some(d))
        );
        std::fs::write(dir.join(format!("{d}.md")), md)?;
    }
    for f in figures {
        if let Some(name) = f.file_name() {
            std::fs::copy(f, dir.join(name))?;
        }
    }
    Ok(())
}
