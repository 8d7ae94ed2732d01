//! The book typesets the math of every claim: each evidence label and each claim statement
//! whose plain text carries pseudo-math (see [`has_math`]) has a Markdown form with KaTeX
//! math ([`Label::markdown`](dnn_proofs::claims::Label::markdown),
//! [`Claim::typeset`](dnn_proofs::claims::Claim::typeset)), and every Markdown form (those and
//! the planted bugs' typeset names) is well formed: its `$` delimiters pair up, and no `|`
//! stands in its math or bare in its text, where it would end a table cell. KaTeX's own
//! parse of the math is `.ci/check-book.sh`'s and `.ci/check-book-browser.sh`'s to check.

use dnn_proofs::claims::{self, Budget, Decision, Evidence};
use dnn_proofs::post;

/// Whether plain text carries math the book should typeset. The characters that mark it:
///
/// - Greek letters (U+0370–U+03FF: σ, δ, Σ, ...) and combining accents (U+0300–U+036F: the
///   hat of x̂, the bar of x̄), and ŷ;
/// - superscripts and subscripts (¹ ² ³, U+2070–U+209F, modifier letters U+1D2C–U+1D6A: ᵀ);
/// - letterlike symbols (U+2100–U+214F: ℓ, ℝ), vulgar fractions (¼ ½ ¾, U+2150–U+218F),
///   arrows (U+2190–U+21FF), mathematical operators (U+2200–U+22FF: ∂ ∑ √ ≤ ≈ ∈ − ∘),
///   floors and ceilings (U+2308–U+230B), supplemental operators (U+2A00–U+2AFF), and
///   ± × ÷ · ‖;
/// - in ASCII: `^` (a power), `|` (an absolute value or a norm), and `_` between a letter,
///   digit or bracket and a letter, digit or `{` (a subscript: `W_i`, `O_{i−1}`).
///
/// Dashes, the ellipsis and plain `=`, `<`, `+` are not on the list: prose uses them too.
fn has_math(plain: &str) -> bool {
    let chars: Vec<char> = plain.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        matches!(c,
            '\u{0300}'..='\u{036F}' | '\u{0370}'..='\u{03FF}' | 'ŷ'
            | '¹' | '²' | '³' | '\u{2070}'..='\u{209F}' | '\u{1D2C}'..='\u{1D6A}'
            | '\u{2100}'..='\u{214F}' | '¼' | '½' | '¾' | '\u{2150}'..='\u{218F}'
            | '\u{2190}'..='\u{21FF}' | '\u{2200}'..='\u{22FF}' | '\u{2308}'..='\u{230B}'
            | '\u{2A00}'..='\u{2AFF}' | '±' | '×' | '÷' | '·' | '‖' | '^' | '|')
            || (c == '_'
                && i > 0
                && i + 1 < chars.len()
                && (chars[i - 1].is_ascii_alphanumeric()
                    || matches!(chars[i - 1], ')' | ']' | '}'))
                && (chars[i + 1].is_ascii_alphanumeric() || chars[i + 1] == '{'))
    })
}

/// What is wrong with a Markdown form, if anything: an unpaired `$`, a `|` inside math (write
/// `\lvert x \rvert`, `\lVert x \rVert`), or, where the text between formulas is Markdown
/// (`text_is_markdown`: a label, a planted bug's name), a bare `|` in it (write `\|`).
fn markup_problem(markdown: &str, text_is_markdown: bool) -> Option<String> {
    let pieces: Vec<&str> = markdown.split('$').collect();
    if pieces.len().is_multiple_of(2) {
        return Some("an odd number of $ delimiters".into());
    }
    for (i, piece) in pieces.iter().enumerate() {
        if i % 2 == 1 && piece.contains('|') {
            return Some(format!("a | in the math ${piece}$"));
        }
        if i % 2 == 0 && text_is_markdown {
            let bare = piece
                .char_indices()
                .any(|(j, c)| c == '|' && !piece[..j].ends_with('\\'));
            if bare {
                return Some(format!("a bare | in the text {piece:?}"));
            }
        }
        if i % 2 == 0 && !text_is_markdown && piece.contains('\\') {
            return Some(format!(
                "a backslash in the text {piece:?} (plain text there: the book escapes it)"
            ));
        }
    }
    None
}

#[test]
fn the_math_marks_and_the_markup_rules_say_what_they_document() {
    for plain in [
        "σ(−x) = 1 − σ(x)",
        "∂ℓ/∂W_{n,j} against finite differences",
        "O_{i−1,j_{i−1}}",
        "W_i",
        "x²",
        "Wᵀδ",
        "‖w‖ ≤ c",
        "|a − b|",
        "E[x^2]",
        "½ of the units",
        "x̂",
        "100 → 400",
        "a·b",
    ] {
        assert!(has_math(plain), "{plain:?} has math");
    }
    for plain in [
        "every training loss finite",
        "decided over 24 independent replicates",
        "f32 kernel sigmoid: max ulp error (worst at x = -1.6758879e1)",
        "2-2-1 network — trained",
        "p = 0.1, 0.2, …, 0.9",
        "_leading and trailing_",
    ] {
        assert!(!has_math(plain), "{plain:?} has no math");
    }
    assert_eq!(markup_problem(r"$\lvert x \rvert$ \| y", true), None);
    assert_eq!(markup_problem(r"$a$ and $b$", false), None);
    assert!(markup_problem("$a$ and $b", true).is_some());
    assert!(markup_problem("$|x|$", true).is_some());
    assert!(markup_problem("x | y", true).is_some());
    assert_eq!(markup_problem("x | y", false), None);
    assert!(markup_problem(r"a\_i", false).is_some());
}

/// Every statement with math has its typeset form, well formed.
#[test]
fn every_statement_with_math_is_typeset() {
    let mut problems = Vec::new();
    let mut typeset = 0;
    for c in post::registry() {
        match c.statement_markdown.as_deref() {
            Some(m) => {
                typeset += 1;
                if let Some(p) = markup_problem(m, false) {
                    problems.push(format!("{}: the typeset statement has {p}", c.id));
                }
            }
            None if has_math(&c.statement) => {
                problems.push(format!("{}: no typeset form for {:?}", c.id, c.statement));
            }
            None => {}
        }
        if let Decision::Check { planted, .. } = &c.decision {
            for (name, m) in planted.iter().filter_map(|p| Some((&p.name, p.typeset?))) {
                if let Some(p) = markup_problem(m, true) {
                    problems.push(format!("{}: planted bug {name:?} typeset with {p}", c.id));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} statements typeset; {} problems:\n{}",
        typeset,
        problems.len(),
        problems.join("\n")
    );
    eprintln!("{typeset} statements typeset");
}

/// Every evidence label the book shows (our code's items and the item that rejected each
/// planted bug), from a run of the whole suite at the CI budget: each with math has its
/// Markdown form, and every Markdown form is well formed.
#[test]
fn every_evidence_label_with_math_is_typeset() {
    let seed = claims::base_seed_from_env().expect("a numeric seed");
    let suite = post::suite();
    let verdicts = suite.run(&suite.all(), seed, Budget::Ci);
    let mut problems = Vec::new();
    let mut labels = std::collections::BTreeSet::new();
    for v in &verdicts {
        let rejecting = v.planted.iter().filter_map(|p| p.rejected_by.as_ref());
        for e in v.findings.evidence.iter().chain(rejecting) {
            let Evidence {
                what,
                what_markdown,
                ..
            } = e;
            if !labels.insert((what.clone(), what_markdown.clone())) {
                continue;
            }
            match what_markdown {
                Some(m) => {
                    if let Some(p) = markup_problem(m, true) {
                        problems.push(format!("{}: {what:?} is typeset with {p}", v.id));
                    }
                }
                None if has_math(what) => {
                    problems.push(format!("{}: no Markdown form for {what:?}", v.id));
                }
                None => {}
            }
        }
    }
    let typeset = labels.iter().filter(|(_, m)| m.is_some()).count();
    assert!(
        problems.is_empty(),
        "{} of {} distinct labels typeset; {} problems:\n{}",
        typeset,
        labels.len(),
        problems.len(),
        problems.join("\n")
    );
    eprintln!("{typeset} of {} distinct labels typeset", labels.len());
}
