//! The runner: checks a suite's claims against the code and its planted bugs, prints the
//! verdict table, writes `report.json`, `report.md` and the figures, and exits non-zero if
//! any claim did not come out as the catalogue expects. A crate with its own claims gets the
//! same command line from [`main`]:
//!
//! ```no_run
//! # fn my_suite() -> proofs_engine::claims::Suite { unimplemented!() }
//! fn main() -> std::process::ExitCode {
//!     proofs_engine::claims::runner::main(my_suite())
//! }
//! ```
//!
//! Exit status ([`run`]): 0 when every claim came out as expected, 1 when some did not (a
//! failed claim, a surviving planted bug, an unexpected outcome), 2 for bad usage (an
//! unknown claim or flag, a bad seed, an unwritable output folder).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use crate::claims::{self, Budget, Outcome, Suite, Verdict};
use crate::report;

/// Executable proofs: every claim, its evidence, and the planted bugs its check rejects.
#[derive(Parser, Debug)]
#[command(version)]
pub struct Args {
    /// Run only this claim ID (e.g. ACT-TANH) or this derivation (e.g. activation).
    #[arg(long)]
    claim: Option<String>,
    /// Base seed; each claim mixes it with its ID. Also read from DNN_PROOFS_SEED.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Sweep the base seeds A..B (B excluded) and count, per claim, the seeds on which it
    /// came out other than expected: the suite's flakiness meter.
    #[arg(long, value_name = "A..B", value_parser = parse_range)]
    seeds: Option<std::ops::Range<u64>>,
    /// Sample sizes: `full` (the power statements' sizes) or `ci` (seconds).
    #[arg(long, value_enum, default_value = "full")]
    budget: Budget,
    /// Where report.json, report.md and the figures go.
    #[arg(long, default_value = "target/report")]
    out: PathBuf,
    /// Where the book's per-derivation tables and figures go (default: the suite's book
    /// folder, if it has one; a suite without one writes no book unless this is given).
    #[arg(long)]
    book_out: Option<PathBuf>,
    /// Measure each picked experiment's planning rate over N replicates of its setting (on
    /// seeds apart from the deciding ones) and the worst margin of its health checks; exits
    /// 1 unless every stated rate is confirmed.
    #[arg(long, value_name = "N", conflicts_with = "seeds")]
    planning: Option<std::num::NonZeroUsize>,
    /// Do not write the book's tables and figures.
    #[arg(long)]
    no_book: bool,
    /// List the registered claim IDs and exit.
    #[arg(long)]
    list: bool,
}

fn parse_range(s: &str) -> Result<std::ops::Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?} is not a range A..B"))?;
    let num = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("{t:?} in {s:?} is not an unsigned integer"))
    };
    let (a, b) = (num(a)?, num(b)?);
    if a >= b {
        return Err(format!("the range {s:?} is empty (A..B runs A to B − 1)"));
    }
    Ok(a..b)
}

/// Parses the process's arguments and runs `suite`: the whole of a runner binary.
pub fn main(suite: Suite) -> ExitCode {
    ExitCode::from(run(&suite, std::env::args_os()))
}

/// Runs `suite` with command-line arguments `args` (the first is the program name) and
/// returns the exit status: 0 all as expected, 1 some claim not, 2 bad usage.
pub fn run<I, T>(suite: &Suite, args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match execute(suite, &args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// An I/O error that names the path it concerns.
fn at(path: &Path, what: &str) -> impl FnOnce(std::io::Error) -> Box<dyn std::error::Error> {
    let path = path.display().to_string();
    let what = what.to_owned();
    move |e| format!("cannot {what} {path}: {e}").into()
}

fn execute(suite: &Suite, args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    if args.list {
        for c in suite.claims() {
            println!("{:<20} {:<11} {}", c.id, c.derivation, c.location);
        }
        return Ok(true);
    }
    let picked = match &args.claim {
        Some(id) => suite.select(id)?,
        None => suite.all(),
    };
    if let Some(range) = &args.seeds {
        return Ok(sweep(suite, &picked, range.clone(), args.budget));
    }
    let base_seed = match args.seed {
        Some(s) => s,
        None => claims::base_seed_from_env()?,
    };
    if let Some(n) = args.planning {
        return planning(suite, &picked, base_seed, n.get(), args.budget);
    }
    // Refuse an unusable output folder before the work, not after.
    std::fs::create_dir_all(&args.out).map_err(at(&args.out, "create the report folder"))?;

    println!(
        "{} — {} — budget {:?} — base seed {base_seed}",
        suite.name(),
        suite.build(),
        args.budget
    );
    let bar = progress(picked.len() as u64, "claims");
    let verdicts = suite.run_with(&picked, base_seed, args.budget, |c| {
        bar.inc(1);
        bar.set_message(c.id.clone());
    });
    bar.finish_and_clear();

    let claims: Vec<&claims::Claim> = picked.iter().map(|&i| &suite.claims()[i]).collect();
    let bound = suite.false_failure_bound(&verdicts);
    let records = report::records(&claims, &verdicts);
    print!("{}", report::table(&records));

    let report = report::Report {
        tool: suite.name().to_owned(),
        build: suite.build().to_owned(),
        budget: args.budget,
        base_seed,
        false_failure_bound: bound,
        claims: records,
    };
    report::write(&args.out, &report).map_err(at(&args.out, "write the report into"))?;
    // Each figure with the claim that drew it: the book captions it with that claim.
    let mut figures = Vec::new();
    for (c, v) in claims.iter().zip(&verdicts) {
        // A claim that follows an experiment carries the experiment's findings: its figures
        // are the experiment's, placed once, with the experiment.
        if matches!(c.decision, claims::Decision::Follows { .. }) {
            continue;
        }
        for f in &v.findings.figures {
            let path = f
                .write_svg(&args.out)
                .map_err(|e| format!("cannot write a figure: {e}"))?;
            figures.push((&*c.id, &*c.derivation, f.title.as_str(), path));
        }
    }
    // The book's tables are per derivation: refresh them only when whole derivations ran.
    let whole = args
        .claim
        .as_deref()
        .is_none_or(|c| claims.iter().all(|x| x.derivation == c));
    let book_dir = args
        .book_out
        .clone()
        .or_else(|| suite.book_dir().map(PathBuf::from));
    if let Some(dir) = book_dir.filter(|_| whole && !args.no_book) {
        write_book_files(
            &dir,
            &report,
            &figures,
            (args.claim.is_none()).then(|| suite.catalogue()),
        )
        .map_err(at(&dir, "write the book's tables into"))?;
    }

    let failures: Vec<&Verdict> = verdicts.iter().filter(|v| !v.ok()).collect();
    println!(
        "\n{} claims: {} as the catalogue expects, {} not. {bound}. Report: {}",
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

fn progress(n: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} {{elapsed}} {{msg}}"
        ))
        .expect("static template"),
    );
    bar
}

/// `--planning N`: the measured planning rate of every picked experiment.
fn planning(
    suite: &Suite,
    picked: &[usize],
    base_seed: u64,
    n: usize,
    budget: Budget,
) -> Result<bool, Box<dyn std::error::Error>> {
    let mut all_confirmed = true;
    let mut any = false;
    for &i in picked {
        let c = &suite.claims()[i];
        if let claims::Decision::Experiment(e) = &c.decision {
            any = true;
            let p = e.planning(claims::claim_seed(&c.id, base_seed), n, budget);
            let expected = suite
                .catalogue()
                .expected(&c.id)
                .and_then(Outcome::as_decided);
            let verdict = match expected {
                Some(d) if p.confirms(d) => format!("confirmed for {}", d.word()),
                Some(d) => format!("NOT confirmed for {}", d.word()),
                None => "no expected decision in the catalogue".to_owned(),
            };
            print!("{}: {}\n{p}  {verdict}\n", c.id, e.design.inequality);
            all_confirmed &= expected.is_some_and(|d| p.confirms(d));
        }
    }
    if !any {
        return Err("--planning: no experiment among the picked claims".into());
    }
    Ok(all_confirmed)
}

/// `--seeds A..B`: the flakiness meter.
fn sweep(suite: &Suite, picked: &[usize], seeds: std::ops::Range<u64>, budget: Budget) -> bool {
    let seeds: Vec<u64> = seeds.collect();
    println!(
        "{} — {} — budget {budget:?} — sweeping {} base seeds ({}..{}) over {} claims",
        suite.name(),
        suite.build(),
        seeds.len(),
        seeds[0],
        seeds[seeds.len() - 1] + 1,
        picked.len()
    );
    let start = std::time::Instant::now();
    let s = suite.sweep(picked, &seeds, budget, |_, v| {
        if !v.ok() {
            eprint!("{}", v.failure_report());
        }
    });
    println!("\n{:<20} unexpected on base seeds", "ID");
    for (id, bad) in &s.unexpected {
        if !bad.is_empty() {
            println!("{id:<20} {} of {}: {bad:?}", bad.len(), seeds.len());
        }
    }
    println!(
        "\n{} runs in {:.1} s: {} with an unexpected outcome (rate {:.4}; 95% upper bound {:.4}); \
         largest stated false-failure bound {:.2e}",
        seeds.len(),
        start.elapsed().as_secs_f64(),
        s.failed_seeds.len(),
        s.failure_rate(),
        s.failure_rate_upper(0.05),
        s.stated_bound
    );
    s.failed_seeds.is_empty()
}

/// The book includes parts of `generated/<derivation>.md` by anchor (each claim's verdict
/// line, the evidence, each figure with its caption; [`report::book`]) and the figures.
fn write_book_files(
    dir: &std::path::Path,
    report: &report::Report,
    figures: &[(&str, &str, &str, PathBuf)],
    whole_suite: Option<&claims::Catalogue>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // The errata span every derivation: written only when the whole suite ran.
    if let Some(catalogue) = whole_suite {
        let md = format!(
            "<!-- Written by the claims runner ({} budget, base seed {}). Do not edit. -->\n\n{}",
            report::book::budget_word(report.budget),
            report.base_seed,
            report::errata(&report.claims, catalogue)
        );
        std::fs::write(dir.join("errata.md"), md)?;
    }
    let mut derivations: Vec<&str> = report.claims.iter().map(|c| c.derivation).collect();
    derivations.dedup();
    for d in derivations {
        let refs: Vec<report::book::FigureRef> = figures
            .iter()
            .filter(|f| f.1 == d)
            .filter_map(|(claim, _, title, path)| {
                Some(report::book::FigureRef {
                    claim,
                    file: path.file_name()?.to_string_lossy().into_owned(),
                    title,
                })
            })
            .collect();
        let md = report::book::page(&report.claims, d, report.budget, report.base_seed, &refs);
        std::fs::write(dir.join(format!("{d}.md")), md)?;
    }
    for (_, _, _, f) in figures {
        if let Some(name) = f.file_name() {
            std::fs::copy(f, dir.join(name))?;
        }
    }
    Ok(())
}
