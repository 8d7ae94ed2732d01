//! The report a reader sees: the terminal table, the Markdown for the book, `report.json`
//! and `report.md`, on toy claims whose outcomes are known.

use proofs_engine::claims::{
    Budget, Claim, Control, Ctx, Design, Findings, Planted, PostVerdict, Suite, Tally, Trial,
};
use proofs_engine::report;

fn bound(x: f64) -> Findings {
    let mut f = Findings::default();
    f.bound("x | y ≤ 1", x, 1.0, 3, "toy");
    f
}

fn healthy(margin: f64) -> Trial {
    let mut f = Findings::default();
    let mut t = Tally::default();
    t.check(true, String::new);
    f.tally("trained", t);
    Trial::new(margin, f)
}

fn suite() -> Suite {
    let claims = vec![
        Claim::checked(
            "T-HOLDS",
            "alpha",
            "§激励函数",
            "a | b",
            PostVerdict::Correct,
            &[
                (2.0, Planted::bug("doubled")),
                (0.0, Planted::harmless("the same")),
            ],
            |bug: Option<f64>, _: &Ctx| bound(bug.unwrap_or(0.5)),
        ),
        Claim::checked(
            "T-POST",
            "alpha",
            "eq (14)",
            "corrected",
            PostVerdict::Typo,
            &[(
                3.0,
                Planted::post("the post's index").typeset("the post's index $i$"),
            )],
            |bug: Option<f64>, _: &Ctx| bound(bug.unwrap_or(0.5)),
        ),
        Claim::checked(
            "T-BROKEN",
            "beta",
            "nowhere",
            "broken",
            PostVerdict::Correct,
            &[
                (0.5, Planted::bug("survivor")),
                (f64::NAN, Planted::bug("nan only")),
            ],
            |bug: Option<f64>, _: &Ctx| bound(bug.unwrap_or(0.5)),
        ),
        Claim::out_of_scope("T-OUT", "beta", "nowhere", "vague", "needs a real data set"),
        Claim::experiment(
            "T-EXP",
            "beta",
            "nowhere",
            "m > 0",
            Design {
                inequality: "m > 0",
                ci: 20,
                full: 20,
                alpha: 1e-6,
                planning_rate: 0.999,
            },
            &[((), Control::broken("never trains"))],
            |arm: Option<()>, _: &Ctx| {
                if arm.is_some() {
                    let mut f = Findings::default();
                    let mut t = Tally::default();
                    t.check(false, || "loss did not fall".into());
                    f.tally("trained", t);
                    Trial::new(1.0, f)
                } else {
                    healthy(1.0)
                }
            },
        ),
    ];
    let catalogue = "| `T-HOLDS` | a | b | correct | — | holds |\n\
                     | `T-POST` | a | b | typo | — | corrected-holds |\n\
                     | `T-BROKEN` | a | b | correct | — | holds |\n\
                     | `T-OUT` | a | b | informal | — | out-of-scope |\n\
                     | `T-EXP` | a | b | experiment | — | supported |\n";
    Suite::new("toy", claims, catalogue)
        .unwrap()
        .with_build("no SIMD")
}

#[test]
fn table_markdown_and_files_say_what_happened() {
    let s = suite();
    let picked = s.all();
    let verdicts = s.run(&picked, 3, Budget::Ci);
    let claims: Vec<&Claim> = picked.iter().map(|&i| &s.claims()[i]).collect();
    let records = report::records(&claims, &verdicts);
    assert_eq!(records.len(), 5);
    assert_eq!(records[0].result, "holds");
    assert_eq!(records[1].result, "corrected-holds");
    assert_eq!(records[2].result, "failed");
    assert_eq!(records[3].result, "out-of-scope");
    assert_eq!(records[3].evidence.summary, "needs a real data set");
    assert_eq!(
        records[3].evidence.out_of_scope_reason,
        Some("needs a real data set")
    );
    assert_eq!(records[3].evidence.note, None);
    assert_eq!(records[2].evidence.out_of_scope_reason, None);
    assert!(
        records[2]
            .evidence
            .note
            .is_some_and(|n| n.contains("not rejected"))
    );
    assert_eq!(records[4].result, "supported");
    assert_eq!(records[0].seed, 3);

    let table = report::table(&records);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6);
    assert!(
        lines[0].starts_with("ID                  where"),
        "{}",
        lines[0]
    );
    // The CJK location takes two columns a character: the columns still line up.
    let col = |l: &str, c: &str| unicode_width::UnicodeWidthStr::width(&l[..l.find(c).unwrap()]);
    assert_eq!(col(lines[1], "correct"), col(lines[2], "typo"));
    assert!(lines[1].contains("1/1 (+1 harmless)"), "{}", lines[1]);
    assert!(lines[2].contains("1/1 "), "{}", lines[2]);
    assert!(lines[3].contains("0/2 "), "{}", lines[3]);
    assert!(lines[4].contains("—"), "{}", lines[4]);

    let md = report::markdown(&records, Some("beta"));
    assert!(!md.contains("T-HOLDS"), "only the derivation's claims");
    assert!(
        md.contains("| [`T-BROKEN`](#t-broken) | nowhere | correct | **failed** | 0/2 |"),
        "{md}"
    );
    assert!(md.contains("planted bug *survivor*: **SURVIVED**"), "{md}");
    assert!(
        md.contains("planted bug *nan only*: **told apart only by a broken check**"),
        "{md}"
    );
    assert!(md.contains("- out of scope: needs a real data set"), "{md}");
    assert!(
        md.contains("control *never trains* (must come out failed): as designed"),
        "{md}"
    );
    assert!(md.contains("x \\| y ≤ 1"), "pipes are escaped: {md}");
    let all = report::markdown(&records, None);
    assert!(
        all.contains("planted bug *doubled*: **rejected** ✔"),
        "{all}"
    );
    assert!(
        all.contains("planted bug *the same*: harmless, exempt"),
        "{all}"
    );
    assert!(
        all.contains("planted bug *the post's index $i$* (the post's own version): **rejected** ✔"),
        "{all}"
    );

    let errata = report::errata(&records, s.catalogue());
    assert!(errata.starts_with("1 places where"), "{errata}");
    assert!(
        errata.contains("| [`T-POST`](alpha.md#t-post) | a, *typo* | the post's index $i$ | b | rejected ✔ by x \\| y ≤ 1: $3.000 > 1.0$ (3 cases) | **corrected-holds** |"),
        "{errata}"
    );
    assert!(!errata.contains("T-HOLDS"), "{errata}");
    assert!(
        errata.contains("| [`T-EXP`](beta.md#t-exp) | a | **supported** | decided over 20"),
        "{errata}"
    );

    let dir = std::env::temp_dir().join(format!("proofs-engine-report-{}", std::process::id()));
    let rep = report::Report {
        tool: s.name().to_owned(),
        build: s.build().to_owned(),
        budget: Budget::Ci,
        base_seed: 3,
        false_failure_bound: s.false_failure_bound(&verdicts),
        claims: records,
    };
    report::write(&dir, &rep).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["tool"], "toy");
    assert_eq!(json["build"], "no SIMD");
    assert_eq!(json["claims"][2]["planted"][0]["state"], "survived");
    assert_eq!(json["claims"][2]["planted"][1]["state"], "invalid");
    assert_eq!(json["claims"][4]["controls"][0]["ok"], true);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.starts_with(
            "# toy report\n\nBuild: no SIMD. Budget: Ci. Base seed: 3. false-failure bound"
        ),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn long_cells_are_cut_with_an_ellipsis() {
    let s = Suite::new(
        "toy",
        vec![Claim::out_of_scope(
            "T-A-VERY-LONG-IDENTIFIER-INDEED",
            "x",
            "a location far longer than its column",
            "s",
            "r",
        )],
        "| `T-A-VERY-LONG-IDENTIFIER-INDEED` | a | b | informal | — | out-of-scope |\n",
    )
    .unwrap();
    let v = s.run(&[0], 0, Budget::Ci);
    let c = [&s.claims()[0]];
    let table = report::table(&report::records(&c, &v));
    let row = table.lines().nth(1).unwrap();
    assert!(
        row.starts_with("T-A-VERY-LONG-IDEN… a location far longer … informal   "),
        "{row}"
    );
}

/// The book's page for a derivation: one anchored compact line per claim, the evidence
/// folded under its own anchor, measures typeset, rejections worded as the successes they are.
#[test]
fn book_page_anchors_each_claim_and_typesets_its_evidence() {
    use report::book;
    let s = suite();
    let picked = s.all();
    let verdicts = s.run(&picked, 3, Budget::Ci);
    let claims: Vec<&Claim> = picked.iter().map(|&i| &s.claims()[i]).collect();
    let records = report::records(&claims, &verdicts);
    let fig = [book::FigureRef {
        claim: "T-HOLDS",
        file: "alpha-curve.svg".into(),
        title: "a <curve>",
    }];
    let page = book::page(&records, "alpha", Budget::Ci, 3, &fig);
    assert!(page.starts_with("<!-- Written by the claims runner (ci budget, base seed 3)"));
    assert!(
        !page.contains("T-BROKEN"),
        "only the derivation's claims: {page}"
    );
    for id in ["T-HOLDS", "T-POST", "evidence", "figure-alpha-curve"] {
        assert_eq!(
            page.matches(&format!("<!-- ANCHOR: {id} -->")).count(),
            1,
            "{id}"
        );
        assert_eq!(
            page.matches(&format!("<!-- ANCHOR_END: {id} -->")).count(),
            1,
            "{id}"
        );
    }
    // The compact line: ID, where, the post's word, result, planted k/n, a link to evidence.
    let line = page
        .lines()
        .find(|l| l.contains("id=\"t-post\""))
        .expect("a compact line for T-POST");
    assert!(line.contains("<code>T-POST</code> · eq (14)"), "{line}");
    assert!(
        line.contains("<strong class=\"result\">corrected-holds</strong>"),
        "{line}"
    );
    assert!(
        line.contains("planted bugs rejected <strong>1/1</strong>"),
        "{line}"
    );
    assert!(line.contains("href=\"#evidence-t-post\""), "{line}");
    assert!(page.contains("<details id=\"evidence-t-post\">"), "{page}");
    // A harmless variant does not count in k/n.
    assert!(
        page.contains("planted bugs rejected <strong>1/1</strong> · <a href=\"#evidence-t-holds\"")
    );
    // Our code's evidence: the relation that holds, as math; the plain label escaped.
    assert!(
        page.contains("- x \\| y ≤ 1: $5.000\\times10^{-1} \\le 1.0$ (3 cases) (ok)"),
        "{page}"
    );
    // A rejected planted bug reads as a success, with the gap that rejected it.
    assert!(
        page.contains(
            "- planted bug *the post's index $i$* (the post's own version): **rejected** ✔ — x \\| y ≤ 1: $3.000 > 1.0$ (3 cases)\n"
        ),
        "{page}"
    );
    assert!(page.contains("<figcaption>a &lt;curve&gt;. Drawn by <a href=\"#t-holds\"><code>T-HOLDS</code></a> at the ci budget, base seed 3.</figcaption>"), "{page}");

    // A surviving planted bug reads as the failure it is, and the line flags the result.
    let beta = book::page(&records, "beta", Budget::Full, 3, &[]);
    assert!(
        beta.contains("planted bug *survivor*: **SURVIVED** ✘"),
        "{beta}"
    );
    assert!(
        beta.contains("planted bugs rejected <strong>0/2</strong> ✘"),
        "{beta}"
    );
    assert!(
        beta.contains("class=\"result unexpected\">failed"),
        "{beta}"
    );
    assert!(beta.contains("sign test: $p = "), "{beta}");
}

#[test]
fn numbers_are_typeset_for_katex() {
    use report::book::num;
    assert_eq!(num(1.414e6, 3), r"1.414\times10^{6}");
    assert_eq!(num(1e-3, 0), "10^{-3}");
    assert_eq!(num(0.5, 1), r"5.0\times10^{-1}");
    assert_eq!(num(2.5, 2), "2.50");
    assert_eq!(num(f64::NAN, 2), r"\text{NaN}");
    assert_eq!(num(f64::NEG_INFINITY, 2), r"-\infty");
    assert_eq!(
        report::book::escape("a_b *c* ~d~ <e> [f]"),
        r"a\_b \*c\* \~d\~ &lt;e&gt; \[f\]"
    );
}

/// Each measure typeset with the relation that actually holds (both sides of every
/// comparison, and the boundary), and the non-finite cases a bound counted.
#[test]
fn evidence_lines_state_the_relation_that_holds() {
    use proofs_engine::claims::{Evidence, Measure, Power};
    use proofs_engine::stats::TestOutcome;
    use report::book::evidence_line;
    let item = |measure| Evidence {
        what: "e".into(),
        what_markdown: None,
        measure,
    };
    let bound = |nonfinite| {
        item(Measure::Bound {
            observed: 0.5,
            bound: 1.0,
            cases: 4,
            nonfinite,
            why: String::new(),
        })
    };
    // Non-finite cases fail the bound and measure nothing: the line says how many.
    assert_eq!(
        evidence_line(&bound(2), false),
        r"e: $5.000\times10^{-1} \le 1.0$ (4 cases, 2 non-finite) (**INVALID**)"
    );
    assert!(!evidence_line(&bound(0), false).contains("non-finite"));

    let test = |p_value| {
        item(Measure::Test {
            outcome: TestOutcome {
                test: "z-test",
                statistic: 1.5,
                n: 100,
                p_value,
            },
            alpha: 0.01,
            power: Power::none(),
        })
    };
    // p ≥ α keeps the claim (ok); p < α rejects it (a FAIL on our code).
    assert_eq!(
        evidence_line(&test(0.2), false),
        r"e: z-test statistic $1.5000$, $n = 100$, $p = 2.000\times10^{-1} \ge \alpha = 10^{-2}$ (ok)"
    );
    assert!(
        evidence_line(&test(0.01), false).contains(r"\ge \alpha"),
        "p = α is not a rejection"
    );
    assert!(
        evidence_line(&test(0.001), false)
            .ends_with(r"$p = 1.000\times10^{-3} < \alpha = 10^{-2}$ (**FAIL**)"),
        "{}",
        evidence_line(&test(0.001), false)
    );

    let exp = |observed| {
        item(Measure::Experiment {
            observed,
            threshold: 2.0,
            detail: String::new(),
        })
    };
    // The experiment asserts observed < threshold; equality does not satisfy it.
    assert_eq!(evidence_line(&exp(1.0), false), "e: $1.0000 < 2.0000$ (ok)");
    assert_eq!(
        evidence_line(&exp(2.0), false),
        r"e: $2.0000 \ge 2.0000$ (**FAIL**)"
    );
    assert_eq!(
        evidence_line(&exp(3.0), false),
        r"e: $3.0000 \ge 2.0000$ (**FAIL**)"
    );
}

#[test]
fn infinities_and_markup_characters_are_typeset_safely() {
    use report::book::{escape, num};
    assert_eq!(num(f64::INFINITY, 2), r"\infty");
    assert_eq!(num(f64::NEG_INFINITY, 2), r"-\infty");
    // `&` would start an HTML entity, a newline would end a table row or list item.
    assert_eq!(escape("a & b\nc"), "a &amp; b c");
}

/// A claim's typeset statement: the book's folded evidence and `report.md` show it, with the
/// text between the formulas escaped for where it stands and the formulas left to KaTeX;
/// `report.json` carries both forms; a claim without one shows its plain statement, escaped.
#[test]
fn a_typeset_statement_heads_the_claims_evidence() {
    use report::book;
    let claim = |id: &'static str, statement: &'static str| {
        Claim::checked(
            id,
            "alpha",
            "eq (1)",
            statement,
            PostVerdict::Correct,
            &[(2.0, Planted::bug("doubled"))],
            |bug: Option<f64>, _: &Ctx| bound(bug.unwrap_or(0.5)),
        )
    };
    let claims = vec![
        claim("T-TEX", "σ(−x) = 1 − σ(x) & |x| < 1")
            .typeset(r"$\sigma(-x) = 1 - \sigma(x)$ & <b>_x_</b> $\lvert x \rvert < 1$"),
        claim("T-PLAIN", "a_i < b & c"),
    ];
    assert_eq!(claims[0].statement, "σ(−x) = 1 − σ(x) & |x| < 1");
    assert_eq!(claims[1].statement_markdown, None);
    let catalogue = "| `T-TEX` | a | b | correct | — | holds |\n\
                     | `T-PLAIN` | a | b | correct | — | holds |\n";
    let s = Suite::new("toy", claims, catalogue).unwrap();
    let picked = s.all();
    let verdicts = s.run(&picked, 0, Budget::Ci);
    let claims: Vec<&Claim> = picked.iter().map(|&i| &s.claims()[i]).collect();
    let records = report::records(&claims, &verdicts);
    assert_eq!(
        records[0].statement_markdown,
        Some(r"$\sigma(-x) = 1 - \sigma(x)$ & <b>_x_</b> $\lvert x \rvert < 1$")
    );

    // In the <summary> (HTML): the text escaped as HTML, the math as written.
    let page = book::page(&records, "alpha", Budget::Ci, 0, &[]);
    assert!(
        page.contains(
            r"<summary><code>T-TEX</code> — $\sigma(-x) = 1 - \sigma(x)$ &amp; &lt;b&gt;_x_&lt;/b&gt; $\lvert x \rvert < 1$ (<strong>holds</strong>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<summary><code>T-PLAIN</code> — a_i &lt; b &amp; c (<strong>"),
        "{page}"
    );

    // In report.md (Markdown): the text escaped as Markdown, the math as written.
    let md = report::markdown(&records, None);
    assert!(
        md.contains(
            r"**`T-TEX`** — $\sigma(-x) = 1 - \sigma(x)$ &amp; &lt;b&gt;\_x\_&lt;/b&gt; $\lvert x \rvert < 1$ *(holds"
        ),
        "{md}"
    );
    assert!(
        md.contains(r"**`T-PLAIN`** — a\_i &lt; b &amp; c *(holds"),
        "{md}"
    );

    // report.json: the plain statement always, the typeset one where there is one.
    let json = serde_json::to_value(&records).unwrap();
    assert_eq!(json[0]["statement"], "σ(−x) = 1 − σ(x) & |x| < 1");
    assert_eq!(
        json[0]["statement_markdown"],
        r"$\sigma(-x) = 1 - \sigma(x)$ & <b>_x_</b> $\lvert x \rvert < 1$"
    );
    assert!(json[1].get("statement_markdown").is_none());
}
