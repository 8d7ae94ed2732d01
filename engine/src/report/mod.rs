//! The report: the terminal table, `report.json`, `report.md` and the SVG figures.

pub mod book;
pub mod figure;

use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

use crate::claims::{
    Claim, ControlResult, Decision, Evidence, FalseFailureBound, PlantedResult, PlantedState,
    Verdict,
};

/// One claim's row in `report.json`.
#[derive(Debug, Serialize)]
pub struct ClaimRecord<'a> {
    pub id: &'a str,
    pub derivation: &'a str,
    pub location: &'a str,
    pub statement: &'a str,
    /// The statement with its math typeset ([`Claim::typeset`]), for the book.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_markdown: Option<&'a str>,
    /// The catalogue's word for the post's statement.
    pub post_verdict: &'a str,
    /// holds, corrected-holds, refuted, supported, not-supported, inconclusive,
    /// out-of-scope or failed.
    pub result: &'a str,
    /// What the catalogue expects (`unlisted` when it does not list the ID).
    pub expected: &'a str,
    /// The run's base seed (`--seed`).
    pub seed: u64,
    pub evidence: EvidenceRecord<'a>,
    pub planted: &'a [PlantedResult],
    /// An experiment's controls (empty for other claims).
    pub controls: &'a [ControlResult],
}

/// The evidence object of a claim.
#[derive(Debug, Serialize)]
pub struct EvidenceRecord<'a> {
    pub summary: String,
    pub items: &'a [Evidence],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_scope_reason: Option<&'a str>,
    /// Why the claim failed, or which experiment it follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub tool: String,
    /// The build the claims ran on (for example the SIMD lane width).
    pub build: String,
    pub budget: crate::claims::Budget,
    pub base_seed: u64,
    /// The run's false-failure bound (a union bound over every check, planted bug and
    /// experiment decision).
    pub false_failure_bound: FalseFailureBound,
    pub claims: Vec<ClaimRecord<'a>>,
}

/// Pairs claims with their verdicts for output.
pub fn records<'a>(claims: &[&'a Claim], verdicts: &'a [Verdict]) -> Vec<ClaimRecord<'a>> {
    claims
        .iter()
        .zip(verdicts)
        .map(|(c, v)| ClaimRecord {
            id: &c.id,
            derivation: &c.derivation,
            location: &c.location,
            statement: &c.statement,
            statement_markdown: c.statement_markdown.as_deref(),
            post_verdict: c.post_verdict.word(),
            result: v.outcome.word(),
            expected: v.expected.map_or("unlisted", |e| e.word()),
            seed: v.base_seed,
            evidence: EvidenceRecord {
                summary: match (&c.decision, v.reason.as_deref()) {
                    (Decision::OutOfScope { .. }, Some(r)) => r.to_owned(),
                    _ => v.findings.headline(),
                },
                items: &v.findings.evidence,
                out_of_scope_reason: match c.decision {
                    Decision::OutOfScope { .. } => v.reason.as_deref(),
                    _ => None,
                },
                note: match c.decision {
                    Decision::OutOfScope { .. } => None,
                    _ => v.reason.as_deref(),
                },
            },
            planted: &v.planted,
            controls: &v.controls,
        })
        .collect()
}

/// The planted column: `k/n` rejected, or `—` where there are none.
pub(crate) fn planted_cell(v: &[PlantedResult]) -> String {
    let live: Vec<_> = v.iter().filter(|p| !p.harmless).collect();
    if live.is_empty() {
        return "—".into();
    }
    let k = live
        .iter()
        .filter(|p| p.state == PlantedState::Rejected)
        .count();
    let harmless = v.len() - live.len();
    if harmless > 0 {
        format!("{k}/{} (+{harmless} harmless)", live.len())
    } else {
        format!("{k}/{}", live.len())
    }
}

/// The terminal table, padded by display width (the post's section names are CJK).
pub fn table(records: &[ClaimRecord]) -> String {
    let mut s = String::new();
    let mut row = |cells: [&str; 6]| {
        let widths = [20, 24, 11, 16, 18];
        for (cell, w) in cells.iter().zip(widths) {
            s += &pad(&truncate(cell, w - 1), w);
        }
        s += &truncate(cells[5], 110);
        s.push('\n');
    };
    row(["ID", "where", "post", "result", "planted", "evidence"]);
    for r in records {
        row([
            r.id,
            r.location,
            r.post_verdict,
            r.result,
            &planted_cell(r.planted),
            &r.evidence.summary,
        ]);
    }
    s
}

/// `s` followed by spaces up to `width` display columns.
fn pad(s: &str, width: usize) -> String {
    let w = unicode_width::UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// The Markdown verdict table for one derivation (or all, with `None`), followed by every
/// claim's evidence and planted bugs in full: for the book and `report.md`.
pub fn markdown(records: &[ClaimRecord], derivation: Option<&str>) -> String {
    let picked: Vec<&ClaimRecord> = records
        .iter()
        .filter(|r| derivation.is_none_or(|d| r.derivation == d))
        .collect();
    let mut s = String::from(
        "| ID | where in the post | post | result | planted bugs rejected |\n| --- | --- | --- | --- | --- |\n",
    );
    for r in &picked {
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | {} | {} | **{}** | {} |",
            r.id,
            r.id.to_lowercase(),
            escape(r.location),
            r.post_verdict,
            r.result,
            planted_cell(r.planted)
        );
    }
    s += "\n#### Evidence\n";
    for r in &picked {
        let _ = writeln!(
            s,
            "\n<a id=\"{}\"></a>**`{}`** — {} *({}; seed {})*\n",
            r.id.to_lowercase(),
            r.id,
            book::statement(r, book::escape),
            r.result,
            r.seed
        );
        s += &book::evidence_list(r);
    }
    s
}

/// The errata: every claim the catalogue expects `corrected-holds` (the post's own version is
/// planted and must be rejected), with the catalogue's line on what the post prints and what
/// it should say (typeset math and all), how the run came out and the evidence that rejected
/// the post's version (typeset); then every experiment and what it decided. Links go to
/// `<derivation>.md#<id>`, the claim's verdict line in the section of its chapter that
/// argues it.
pub fn errata(records: &[ClaimRecord], catalogue: &crate::claims::Catalogue) -> String {
    let link =
        |r: &ClaimRecord| format!("[`{}`]({}.md#{})", r.id, r.derivation, r.id.to_lowercase());
    let mut s = String::from(
        "| claim | where, and the post's word | the post's version | the correction | what decided between them | result |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let mut rows = 0;
    for r in records {
        let Some(entry) = catalogue.entry(r.id) else {
            continue;
        };
        if entry.expected != crate::claims::Outcome::CorrectedHolds {
            continue;
        }
        let post: Vec<&PlantedResult> = r.planted.iter().filter(|p| p.post).collect();
        let version = post
            .iter()
            .map(|p| book::planted_name(p))
            .collect::<Vec<_>>()
            .join("; ");
        // What rejected the post's version, with the gap, typeset. Plain text comes escaped; a
        // label's math writes |x| as \lvert x \rvert (Label::markdown), since the table
        // would split at a bare bar.
        let decided = post
            .iter()
            .map(|p| {
                let how = p
                    .rejected_by
                    .as_ref()
                    .map_or_else(|| escape(&p.evidence), |e| book::evidence_line(e, true));
                match p.state {
                    PlantedState::Rejected => format!("rejected ✔ by {how}"),
                    _ => format!("**not rejected** ✘: {how}"),
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        rows += 1;
        let _ = writeln!(
            s,
            "| {} | {}, *{}* | {version} | {} | {decided} | **{}** |",
            link(r),
            escape(&entry.location),
            r.post_verdict,
            escape(&entry.claim),
            r.result,
        );
    }
    let mut out = format!(
        "{rows} places where the post is misprinted, wrong, or wrong when read to the letter.\n\n{s}"
    );
    out += "\n### What the experiments say about the informal claims\n\n| experiment | claim it decides | result | decision |\n| --- | --- | --- | --- |\n";
    for r in records {
        let Some(entry) = catalogue.entry(r.id) else {
            continue;
        };
        if entry.post_verdict != crate::claims::PostVerdict::Experiment {
            continue;
        }
        let decision = r
            .evidence
            .items
            .iter()
            .find(|e| matches!(e.measure, crate::claims::Measure::SignTest { .. }))
            .map_or_else(|| r.evidence.summary.clone(), Evidence::summary);
        let _ = writeln!(
            out,
            "| {} | {} | **{}** | {} |",
            link(r),
            escape(&entry.location),
            r.result,
            escape(&decision)
        );
    }
    out
}

/// Writes `report.json` and `report.md` into `dir`.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json)?;
    let md = format!(
        "# {} report\n\nBuild: {}. Budget: {:?}. Base seed: {}. {}.\n\n{}",
        report.tool,
        report.build,
        report.budget,
        report.base_seed,
        report.false_failure_bound,
        markdown(&report.claims, None)
    );
    std::fs::write(dir.join("report.md"), md)
}

/// `s` cut to at most `n` display columns, with an ellipsis when cut.
fn truncate(s: &str, n: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if unicode_width::UnicodeWidthStr::width(s) <= n {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        w += c.width().unwrap_or(0);
        if w >= n {
            break;
        }
        out.push(c);
    }
    out + "…"
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
