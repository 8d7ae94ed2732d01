//! The book's generated page for one derivation: a compact verdict line per claim, each
//! between mdBook anchors so the chapter includes it beside the equation it decides, then
//! the derivation's verdict table and every claim's full evidence folded under `<details>`,
//! and each figure with a caption naming the budget and seed that drew it.
//!
//! The anchors are HTML comments (`<!-- ANCHOR: BP-01 -->` … `<!-- ANCHOR_END: BP-01 -->`),
//! named by claim ID; the evidence is anchor `evidence`, a figure is `figure-<file stem>`. A
//! chapter writes `{{#include generated/<derivation>.md:BP-01}}`. Math in evidence is
//! typeset: numbers and relations as KaTeX (`$…$`), labels in their Markdown form where the
//! claim gives one ([`crate::claims::Label`]), and the statement heading each claim's evidence
//! in its typeset form where it has one ([`crate::claims::Claim::typeset`]); the terminal
//! table keeps the plain text.

use std::fmt::Write as _;

use super::{ClaimRecord, planted_cell};
use crate::claims::{Budget, ControlExpect, ControlResult, Evidence, Measure, PlantedState};

/// The anchor that holds a derivation's verdict table and full evidence.
pub const EVIDENCE_ANCHOR: &str = "evidence";

/// A figure a claim drew, as the book page places it.
#[derive(Debug, Clone)]
pub struct FigureRef<'a> {
    /// The claim whose check drew it.
    pub claim: &'a str,
    /// The SVG's file name, e.g. `backprop-gradient-check.svg`.
    pub file: String,
    /// The plot's title.
    pub title: &'a str,
}

/// The HTML id of a claim's compact verdict line (where the chapter argues it).
pub fn verdict_id(id: &str) -> String {
    id.to_lowercase()
}

/// The HTML id of a claim's folded evidence at the chapter's end.
pub fn evidence_id(id: &str) -> String {
    format!("evidence-{}", id.to_lowercase())
}

/// The mdBook anchor name of a figure.
pub fn figure_anchor(file_stem: &str) -> String {
    format!("figure-{file_stem}")
}

/// The generated page for `derivation`: compact lines, evidence, figures, each anchored.
pub fn page(
    records: &[ClaimRecord],
    derivation: &str,
    budget: Budget,
    base_seed: u64,
    figures: &[FigureRef],
) -> String {
    let picked: Vec<&ClaimRecord> = records
        .iter()
        .filter(|r| r.derivation == derivation)
        .collect();
    let budget = budget_word(budget);
    let mut s = format!(
        "<!-- Written by the claims runner ({budget} budget, base seed {base_seed}). Do not \
         edit. A chapter includes each part by its anchor. -->\n"
    );
    for r in &picked {
        let _ = write!(
            s,
            "\n<!-- ANCHOR: {id} -->\n{line}\n<!-- ANCHOR_END: {id} -->\n",
            id = r.id,
            line = compact_line(r)
        );
    }
    let _ = write!(
        s,
        "\n<!-- ANCHOR: {EVIDENCE_ANCHOR} -->\nEvery claim of this chapter, from one run of the \
         runner at the {budget} budget, base seed {base_seed} (each claim mixes it with its ID); \
         an ID leads to the section that argues it, a row's result to its evidence.\n\n"
    );
    s += "| ID | where in the post | the post | result | planted bugs rejected |\n| --- | --- | --- | --- | --- |\n";
    for r in &picked {
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | {} | {} | [**{}**](#{}) | {} |",
            r.id,
            verdict_id(r.id),
            escape(r.location),
            r.post_verdict,
            r.result,
            evidence_id(r.id),
            planted_cell(r.planted)
        );
    }
    for r in &picked {
        s += &details(r);
    }
    let _ = writeln!(s, "<!-- ANCHOR_END: {EVIDENCE_ANCHOR} -->");
    for f in figures {
        let stem = f.file.trim_end_matches(".svg");
        let _ = write!(
            s,
            "\n<!-- ANCHOR: {anchor} -->\n<figure>\n<img src=\"generated/{file}\" alt=\"{alt}\">\n\
             <figcaption>{alt}. Drawn by <a href=\"#{vid}\"><code>{id}</code></a> at the {budget} \
             budget, base seed {base_seed}.</figcaption>\n</figure>\n<!-- ANCHOR_END: {anchor} -->\n",
            anchor = figure_anchor(stem),
            file = f.file,
            alt = html(f.title),
            vid = verdict_id(f.claim),
            id = f.claim,
        );
    }
    s
}

/// `ci` or `full`: the budget as the book and its captions name it.
pub fn budget_word(b: Budget) -> &'static str {
    match b {
        Budget::Ci => "ci",
        Budget::Full => "full",
    }
}

/// One claim in one line, beside its equation: ID, result, planted bugs rejected, and a
/// link to the evidence. HTML, so that it keeps its own line and its id.
fn compact_line(r: &ClaimRecord) -> String {
    let live: Vec<_> = r.planted.iter().filter(|p| !p.harmless).collect();
    let planted = if live.is_empty() {
        String::new()
    } else {
        let k = live
            .iter()
            .filter(|p| p.state == PlantedState::Rejected)
            .count();
        let mark = if k == live.len() { "" } else { " ✘" };
        format!(
            " · planted bugs rejected <strong>{k}/{}</strong>{mark}",
            live.len()
        )
    };
    let ok = r.result == r.expected;
    format!(
        "<p class=\"verdict\" id=\"{vid}\"><code>{id}</code> · {loc} · the post: <em>{post}</em> \
         · <strong class=\"result{cls}\">{result}</strong>{planted} · \
         <a href=\"#{eid}\">evidence</a></p>",
        vid = verdict_id(r.id),
        id = r.id,
        loc = html(r.location),
        post = r.post_verdict,
        cls = if ok { "" } else { " unexpected" },
        result = r.result,
        eid = evidence_id(r.id),
    )
}

/// A claim's full evidence, folded: statement and result in the summary, then every item,
/// planted bug and control typeset.
fn details(r: &ClaimRecord) -> String {
    let mut s = format!(
        "\n<details id=\"{}\">\n<summary><code>{}</code> — {} (<strong>{}</strong>; base seed \
         {})</summary>\n\n",
        evidence_id(r.id),
        r.id,
        statement(r, html),
        r.result,
        r.seed
    );
    s += &evidence_list(r);
    s += "\n</details>\n";
    s
}

/// A claim's statement for the book: its typeset form ([`crate::claims::Claim::typeset`]),
/// the text between the formulas made safe by `safe` (the formulas go to KaTeX as they are),
/// or else the plain statement made safe.
pub fn statement(r: &ClaimRecord, safe: fn(&str) -> String) -> String {
    let Some(m) = r.statement_markdown else {
        return safe(r.statement);
    };
    // Even pieces are text, odd pieces math: the `$` delimiters alternate.
    m.split('$')
        .enumerate()
        .map(|(i, piece)| {
            if i % 2 == 0 {
                safe(piece)
            } else {
                format!("${piece}$")
            }
        })
        .collect()
}

/// A claim's evidence as a Markdown list: why it is out of scope or failed, every item,
/// every planted bug (a rejection reads as the success it is, with the gap that decided it;
/// a survivor as the failure it is) and every control.
pub fn evidence_list(r: &ClaimRecord) -> String {
    let mut s = String::new();
    if let Some(reason) = r.evidence.out_of_scope_reason {
        let _ = writeln!(s, "- out of scope: {}", escape(reason));
    }
    if let Some(note) = r.evidence.note {
        let _ = writeln!(s, "- {}", escape(note));
    }
    for e in r.evidence.items {
        let _ = writeln!(s, "- {}", evidence_line(e, false));
    }
    for p in r.planted {
        let post = if p.post {
            " (the post's own version)"
        } else {
            ""
        };
        let line = match (p.harmless, p.state, &p.rejected_by) {
            (true, _, _) => format!("harmless, exempt — {}", escape(&p.evidence)),
            (false, PlantedState::Rejected, Some(e)) => {
                format!("**rejected** ✔ — {}", evidence_line(e, true))
            }
            (false, PlantedState::Rejected, None) => {
                format!("**rejected** ✔ — {}", escape(&p.evidence))
            }
            (false, PlantedState::Survived, _) => {
                format!(
                    "**SURVIVED** ✘ (the check cannot tell it apart) — {}",
                    escape(&p.evidence)
                )
            }
            (false, PlantedState::Invalid, _) => format!(
                "**told apart only by a broken check** ✘ — {}",
                escape(&p.evidence)
            ),
        };
        let _ = writeln!(s, "- planted bug *{}*{post}: {line}", planted_name(p));
    }
    for c in r.controls {
        let _ = writeln!(s, "- {}", control_line(c));
    }
    s
}

/// A planted bug's name for the book: its typeset form, or the plain name escaped.
pub fn planted_name(p: &crate::claims::PlantedResult) -> String {
    p.typeset.map_or_else(|| escape(&p.name), str::to_owned)
}

/// How a control arm of an experiment fared, in one Markdown line (without the bullet).
pub fn control_line(c: &ControlResult) -> String {
    format!(
        "control *{}* (must come out {}): {} — {}",
        escape(c.name),
        match c.expect {
            ControlExpect::Supported => "supported",
            ControlExpect::Failed => "failed",
        },
        if c.ok {
            "as designed ✔"
        } else {
            "**NOT as designed** ✘"
        },
        escape(&c.evidence)
    )
}

/// One evidence item for the book: its label (the Markdown form where there is one), the
/// measure typeset with the relation that actually holds, and how it came out. On our code
/// (`planted == false`) an item reads `ok`, `FAIL` or `INVALID`; as a planted bug's evidence
/// it reads `rejected` when it told the bug apart.
pub fn evidence_line(e: &Evidence, planted: bool) -> String {
    let label = e.what_markdown.clone().unwrap_or_else(|| escape(&e.what));
    let verdict = match (planted, e.passes(), e.rejects()) {
        // The planted bug's line already says "rejected" up front.
        (true, _, true) => return with_measure(&label, e),
        (true, _, false) => "**not rejected**",
        (false, true, _) => "ok",
        (false, false, true) => "**FAIL**",
        (false, false, false) => "**INVALID**",
    };
    if matches!(e.measure, Measure::SignTest { .. }) {
        return with_measure(&label, e);
    }
    format!("{} ({verdict})", with_measure(&label, e))
}

/// `label: measure`.
fn with_measure(label: &str, e: &Evidence) -> String {
    format!("{label}: {}", measure(&e.measure))
}

/// The measure with its limit, as Markdown with KaTeX math.
fn measure(m: &Measure) -> String {
    match m {
        Measure::Bound {
            observed,
            bound,
            cases,
            nonfinite,
            ..
        } => {
            let rel = if observed <= bound { r"\le" } else { ">" };
            let bad = if *nonfinite > 0 {
                format!(", {nonfinite} non-finite")
            } else {
                String::new()
            };
            format!(
                "${} {rel} {}$ ({cases} cases{bad})",
                num(*observed, 3),
                num(*bound, 1)
            )
        }
        Measure::Violations {
            violations,
            cases,
            first,
        } => match first {
            Some(f) => format!("{violations}/{cases} violations, first at {}", escape(f)),
            None => format!("0/{cases} violations"),
        },
        Measure::Test { outcome, alpha, .. } => {
            let rel = if outcome.p_value >= *alpha {
                r"\ge"
            } else {
                "<"
            };
            format!(
                "{} statistic ${}$, $n = {}$, $p = {} {rel} \\alpha = {}$",
                escape(outcome.test),
                num(outcome.statistic, 4),
                outcome.n,
                num(outcome.p_value, 3),
                num(*alpha, 0)
            )
        }
        Measure::Experiment {
            observed,
            threshold,
            ..
        } => {
            let rel = if observed < threshold { "<" } else { r"\ge" };
            format!("${} {rel} {}$", num(*observed, 4), num(*threshold, 4))
        }
        Measure::SignTest {
            inequality,
            wins,
            replicates,
            alpha,
            p_supported,
            p_not_supported,
            decided,
            margins,
        } => format!(
            "{} in {wins}/{replicates} replicates (sign test: $p = {}$ for, ${}$ against, \
             $\\alpha = {}$): **{decided}**; margin min ${}$, median ${}$, max ${}$",
            escape(inequality),
            num(*p_supported, 1),
            num(*p_not_supported, 1),
            num(*alpha, 0),
            num(margins[0], 3),
            num(margins[1], 3),
            num(margins[2], 3)
        ),
    }
}

/// `x` in TeX: `1.234\times10^{-5}` with `digits` after the point, `1.234` when the
/// exponent is 0, `\text{NaN}` / `\infty` for the rest.
pub fn num(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return r"\text{NaN}".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { r"\infty" } else { r"-\infty" }.into();
    }
    let e = format!("{x:.digits$e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    match exp {
        "0" => mantissa.to_owned(),
        _ if mantissa == "1" => format!("10^{{{exp}}}"),
        _ => format!(r"{mantissa}\times10^{{{exp}}}"),
    }
}

/// Plain text made safe as Markdown: no table breaks, emphasis, strike-through, code or
/// HTML from characters that are just characters here.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '~' | '`' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '&' => out += "&amp;",
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Text made safe inside HTML.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\n', " ")
}
