//! The SVG line plots the runner draws for the book, checked on the written file: the
//! legend strip under the chart, one entry per series, a wrapped title, the tick labels, the
//! y range with its padding, the colours, and the error for a plot with nothing to draw.
//!
//! The SVG is read by a small parser below (elements, attributes, text); the checks are
//! geometric properties of the figure, not a comparison with a stored file.

use std::path::{Path, PathBuf};

use proofs_engine::report::figure::{LinePlot, Series};

/// One SVG element: its name, attributes and (for `<text>`) its content.
#[derive(Debug)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
}

impl El {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .iter()
            .find(|(a, _)| a == k)
            .map_or("", |(_, v)| v.as_str())
    }
    fn num(&self, k: &str) -> f64 {
        self.attr(k)
            .parse()
            .unwrap_or_else(|_| panic!("{k} of {self:?}"))
    }
    fn points(&self) -> Vec<(f64, f64)> {
        self.attr("points")
            .split_whitespace()
            .map(|p| {
                let (x, y) = p.split_once(',').expect("x,y");
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The elements of an SVG in document order.
fn parse(svg: &str) -> Vec<El> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("a tag ends");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with(['/', '?', '!']) {
            continue;
        }
        let tag = tag.trim_end_matches('/');
        let (name, mut a) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        let mut attrs = Vec::new();
        while let Some(eq) = a.find("=\"") {
            let key = a[..eq].trim().to_owned();
            let v = &a[eq + 2..];
            let close = v.find('"').expect("a closing quote");
            attrs.push((key, unescape(&v[..close])));
            a = &v[close + 1..];
        }
        let text = if name == "text" {
            unescape(rest[..rest.find('<').unwrap_or(rest.len())].trim())
        } else {
            String::new()
        };
        out.push(El {
            name: name.to_owned(),
            attrs,
            text,
        });
    }
    out
}

/// A fresh directory per plot (stems differ between tests), so a file left by another test can never pass for ours.
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "proofs-engine-figure-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn series(name: &str, points: &[(f64, f64)]) -> Series {
    Series {
        name: name.into(),
        points: points.to_vec(),
    }
}

fn plot(stem: &str, title: &str, series: Vec<Series>) -> LinePlot {
    LinePlot {
        file_stem: stem.into(),
        title: title.into(),
        x_label: "step h".into(),
        y_label: "error".into(),
        series,
    }
}

/// A one-curve plot, drawn.
fn one_curve(stem: &str, title: &str, points: &[(f64, f64)]) -> Figure {
    Figure::draw(&plot(stem, title, vec![series("a", points)]))
}

/// The figure as written, with the parts the checks need picked out.
struct Figure {
    width: f64,
    height: f64,
    els: Vec<El>,
    /// The plotting area: (left, top, right, bottom) px, from the two axis lines.
    area: (f64, f64, f64, f64),
}

impl Figure {
    fn draw(p: &LinePlot) -> Figure {
        let d = dir(&p.file_stem);
        let path = p.write_svg(&d).expect("the plot is drawn");
        assert_eq!(
            path,
            d.join(format!("{}.svg", p.file_stem)),
            "the path it wrote"
        );
        let els = parse(&std::fs::read_to_string(&path).expect("the SVG exists"));
        let _ = std::fs::remove_dir_all(&d);
        let svg = &els[0];
        assert_eq!(svg.name, "svg");
        // The axes: the longest thin black vertical and horizontal lines.
        let axis = |vertical: bool| {
            els.iter()
                .filter(|e| e.name == "polyline" && e.attr("stroke") == "#000000")
                .map(El::points)
                .filter(|p| p.len() == 2 && (p[0].0 == p[1].0) == vertical)
                .max_by(|a, b| {
                    let len =
                        |p: &Vec<(f64, f64)>| (p[0].0 - p[1].0).abs() + (p[0].1 - p[1].1).abs();
                    len(a).total_cmp(&len(b))
                })
                .expect("an axis line")
        };
        let (y_axis, x_axis) = (axis(true), axis(false));
        let area = (
            x_axis[0].0.min(x_axis[1].0),
            y_axis[0].1.min(y_axis[1].1),
            x_axis[0].0.max(x_axis[1].0),
            y_axis[0].1.max(y_axis[1].1),
        );
        Figure {
            width: svg.num("width"),
            height: svg.num("height"),
            els,
            area,
        }
    }

    fn texts(&self) -> impl Iterator<Item = &El> {
        self.els.iter().filter(|e| e.name == "text")
    }

    /// The title's lines, top to bottom: the texts above the plotting area.
    fn title(&self) -> Vec<&El> {
        self.texts()
            .filter(|t| t.num("y") < self.area.1 && t.attr("transform").is_empty())
            .collect()
    }

    /// The curves: our series are stroked 2 px wide.
    fn curves(&self) -> Vec<&El> {
        self.els
            .iter()
            .filter(|e| e.name == "polyline" && e.attr("stroke-width") == "2")
            .collect()
    }

    /// The legend: (swatch, label) pairs; swatches are stroked 3 px, labels start-anchored.
    fn legend(&self) -> Vec<(&El, &El)> {
        let swatches = self
            .els
            .iter()
            .filter(|e| e.name == "polyline" && e.attr("stroke-width") == "3");
        let labels = self.texts().filter(|t| t.attr("text-anchor") == "start");
        swatches.zip(labels).collect()
    }

    /// The y axis' tick labels: (value as printed, pixel row).
    fn y_ticks(&self) -> Vec<(&str, f64)> {
        self.texts()
            .filter(|t| t.attr("text-anchor") == "end")
            .map(|t| (t.text.as_str(), t.num("y")))
            .collect()
    }

    /// The x axis' tick labels: middle-anchored, hanging just under the plotting area.
    fn x_ticks(&self) -> Vec<(&str, f64)> {
        self.texts()
            .filter(|t| {
                t.attr("text-anchor") == "middle"
                    && t.attr("dy") == "0.76em"
                    && t.num("y") > self.area.3
            })
            .map(|t| (t.text.as_str(), t.num("x")))
            .collect()
    }
}

/// A conservative width for `n` characters of a label at `font_size`: 0.6 em a character,
/// about the average advance of a sans-serif lowercase letter.
fn text_width(n: usize, font_size: f64) -> f64 {
    0.6 * font_size * n as f64
}

#[test]
fn the_file_is_named_by_its_stem_on_an_opaque_white_background() {
    let f = one_curve("curves", "t", &[(0.0, 0.0), (1.0, 1.0)]);
    let bg = &f.els[1];
    assert_eq!(bg.name, "rect", "the background is drawn first");
    assert_eq!(
        (bg.num("x"), bg.num("y"), bg.num("width"), bg.num("height")),
        (0.0, 0.0, f.width, f.height)
    );
    assert_eq!((bg.attr("fill"), bg.num("opacity")), ("#FFFFFF", 1.0));
}

/// The legend lives in its own strip under the chart: every series once, in reading order,
/// each label right of its swatch, in the series' colour, no two entries overlapping, all
/// inside the figure and aligned with the plotting area, with no empty row at the bottom.
#[test]
fn the_legend_sits_under_the_chart_one_entry_per_series() {
    // 40 characters: the longest name that still shares a row with another.
    let long = |c: char| std::iter::repeat_n(c, 40).collect::<String>();
    let names = [long('a'), long('b'), long('c')];
    let s = names
        .iter()
        .enumerate()
        .map(|(i, n)| series(n, &[(0.0, i as f64), (1.0, i as f64 + 1.0)]))
        .collect();
    let f = Figure::draw(&plot("legend", "t", s));
    let legend = f.legend();
    let labels: Vec<&str> = legend.iter().map(|(_, t)| t.text.as_str()).collect();
    assert_eq!(labels, names, "each series once, in order");
    let curves = f.curves();
    // The x axis' description is the lowest text of the chart: the legend starts below it.
    let x_desc = f.texts().find(|t| t.text == "step h").expect("x label");
    let mut boxes = Vec::new();
    for (i, (swatch, label)) in legend.iter().enumerate() {
        assert_eq!(
            swatch.attr("stroke"),
            curves[i].attr("stroke"),
            "entry {i}'s colour"
        );
        let sw = swatch.points();
        let (x, y) = (label.num("x"), label.num("y"));
        let size = label.num("font-size");
        assert_eq!(sw[0].1, y, "swatch and label share a line");
        assert!(
            x > sw[1].0,
            "entry {i}: the label starts right of its swatch"
        );
        let b = (
            sw[0].0,
            y - size / 2.0,
            x + text_width(40, size),
            y + size / 2.0,
        );
        assert!(
            b.1 > x_desc.num("y") && b.1 > f.area.3,
            "entry {i} under the chart: {b:?}"
        );
        assert!(
            b.2 <= f.width && b.3 <= f.height,
            "entry {i} inside the figure: {b:?}"
        );
        boxes.push(b);
    }
    let overlap = |a: &(f64, f64, f64, f64), b: &(f64, f64, f64, f64)| {
        a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
    };
    for i in 0..boxes.len() {
        for j in i + 1..boxes.len() {
            assert!(
                !overlap(&boxes[i], &boxes[j]),
                "entries {i} and {j} overlap"
            );
        }
    }
    // Two columns, filled row by row, the first aligned with the plotting area.
    assert!(
        (boxes[0].0 - f.area.0).abs() <= 4.0,
        "{:?} vs {:?}",
        boxes[0],
        f.area
    );
    assert_eq!(
        boxes[0].1, boxes[1].1,
        "entries 0 and 1 share the first row"
    );
    assert_eq!(boxes[0].0, boxes[2].0, "entry 2 starts the second row");
    assert!(boxes[2].1 > boxes[0].3, "the second row is below the first");
    // The strip ends under the last row, with no room for another one.
    let last = legend[2].1.num("y");
    assert!(
        f.height - last <= 22.0,
        "{} px under the last entry",
        f.height - last
    );
}

#[test]
fn a_long_title_wraps_at_spaces_keeping_every_word() {
    // Eleven 5-letter words and a 1-letter one fill 67 characters; the next 1-letter word
    // would make 69 > 68, so it must open the second line.
    let mut words: Vec<String> = (b'a'..=b'k')
        .map(|c| format!("word{}", c as char))
        .collect();
    words.extend(["x", "y", "&", "<tail>"].map(String::from));
    let title = words.join(" ");
    let one = one_curve("short", "one line", &[(0.0, 0.0), (1.0, 1.0)]);
    let f = one_curve("long", &title, &[(0.0, 0.0), (1.0, 1.0)]);
    let lines = f.title();
    let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(text.join(" "), title, "every word, in order");
    assert_eq!(text.len(), 2, "{text:?}");
    for l in &text {
        assert!(
            l.chars().count() <= 68,
            "{l:?} is longer than 68 characters"
        );
    }
    assert!(
        text[0].chars().count() == 67,
        "greedy: the first line takes what fits"
    );
    for l in &lines {
        assert_eq!(l.num("x"), f.width / 2.0, "centred: {l:?}");
        assert_eq!(l.attr("text-anchor"), "middle");
    }
    // The lines sit one under the other in the title strip, which grows by one line each.
    let (y0, y1) = (lines[0].num("y"), lines[1].num("y"));
    let size = lines[0].num("font-size");
    assert!(
        (0.0..=12.0).contains(&y0),
        "the first line near the top: {y0}"
    );
    assert!(y1 - y0 >= size, "lines do not overlap: {y0}, {y1}");
    assert_eq!(
        f.height - one.height,
        y1 - y0,
        "a line adds its height to the figure"
    );
    assert_eq!(
        f.area.1 - one.area.1,
        y1 - y0,
        "and pushes the chart down by as much"
    );
    assert!(
        y1 + size <= f.area.1,
        "the title ends above the plotting area"
    );
    assert!(
        one.area.1 - (one.title()[0].num("y") + size) <= 2.0 * size,
        "no gap of more than two lines between title and chart"
    );
}

/// The y range spans the finite points with 5% of their span added each side; the x range
/// spans them exactly. NaN and infinite points are left out of both and of the curves.
#[test]
fn the_axes_span_the_finite_points_with_padding_on_y() {
    let pts = [
        (0.0, 2.0),
        (1.0, 12.0),
        (2.0, f64::NAN),
        (f64::NAN, 100.0),
        (f64::INFINITY, 5.0),
        (3.0, f64::NEG_INFINITY),
        (4.0, 7.0),
    ];
    let f = one_curve("range", "t", &pts);
    let c = f.curves()[0].points();
    assert_eq!(c.len(), 3, "only the finite points are drawn: {c:?}");
    let (l, top, r, bottom) = f.area;
    // Pixel rounding: both the curve and the axes are on whole pixels.
    let px = 1.5;
    assert!(
        (c[0].0 - l).abs() <= px && (c[2].0 - r).abs() <= px,
        "x spans 0..4: {c:?}"
    );
    // The value at a pixel row, from the curve's two extreme points (y = 2 and y = 12).
    let per_px = (12.0 - 2.0) / (c[0].1 - c[1].1);
    let value = |row: f64| 2.0 + (c[0].1 - row) * per_px;
    let pad = 0.05 * (12.0 - 2.0);
    let tol = px * per_px;
    assert!(
        (value(top) - (12.0 + pad)).abs() <= tol,
        "top {}",
        value(top)
    );
    assert!(
        (value(bottom) - (2.0 - pad)).abs() <= tol,
        "bottom {}",
        value(bottom)
    );
    assert!(
        ((c[2].1 - c[0].1) * -per_px - 5.0).abs() <= tol,
        "y = 7 where it belongs"
    );
}

/// Tick labels: at most 4 significant digits, no trailing zeros, and each names the value
/// at its own position.
#[test]
fn tick_labels_name_their_values_without_trailing_zeros() {
    let f = one_curve("ticks", "t", &[(0.0, 0.001), (2.0, 0.003)]);
    let c = f.curves()[0].points();
    let per_px = (0.003 - 0.001) / (c[0].1 - c[1].1);
    let ys = f.y_ticks();
    assert!(ys.len() >= 3, "{ys:?}");
    for &(label, row) in &ys {
        let v: f64 = label
            .parse()
            .unwrap_or_else(|_| panic!("{label:?} is a number"));
        let at = 0.001 + (c[0].1 - row) * per_px;
        assert!((v - at).abs() <= 1.5 * per_px.abs(), "{label:?} at {at}");
        let digits = label.trim_start_matches(['-', '0', '.']).replace('.', "");
        assert!(
            digits.len() <= 4,
            "{label:?}: more than 4 significant digits"
        );
        if label.contains('.') {
            assert!(!label.ends_with(['0', '.']), "{label:?} has trailing zeros");
        }
    }
    let xs = f.x_ticks();
    assert!(
        xs.iter().any(|&(l, _)| l == "2"),
        "whole numbers print bare: {xs:?}"
    );
    assert!(xs.iter().all(|&(l, _)| !l.ends_with(".0")), "{xs:?}");
}

/// A single point or a flat curve is still a figure (not the "no finite points" error): the
/// point, or a horizontal line, at mid-height of the plotting area.
#[test]
fn a_single_point_or_a_flat_curve_is_drawn() {
    let f = one_curve("point", "t", &[(1.0, 2.0)]);
    let (l, top, r, bottom) = f.area;
    let p = f.curves()[0].points();
    assert_eq!(p.len(), 1);
    // Its row is the middle; plotters places a zero-width x range's point elsewhere, but
    // inside the plotting area.
    assert!((l..=r).contains(&p[0].0), "{p:?} in {:?}", f.area);
    assert!(
        (p[0].1 - (top + bottom) / 2.0).abs() <= 1.5,
        "{p:?} in {:?}",
        f.area
    );
    let f = one_curve("flat", "t", &[(0.0, 3.0), (2.0, 3.0)]);
    let p = f.curves()[0].points();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].1, p[1].1, "horizontal");
    assert!((p[0].1 - (top + bottom) / 2.0).abs() <= 1.5, "{p:?}");
}

/// Okabe and Ito's seven colours, all different and none the background's white; the
/// eighth series starts the palette again.
#[test]
fn series_colours_differ_and_repeat_after_seven() {
    let s = (0..8)
        .map(|i| series(&format!("s{i}"), &[(0.0, i as f64), (1.0, i as f64)]))
        .collect();
    let f = Figure::draw(&plot("colours", "t", s));
    let colours: Vec<&str> = f.curves().iter().map(|c| c.attr("stroke")).collect();
    assert_eq!(colours.len(), 8);
    for i in 0..7 {
        assert_ne!(colours[i], "#FFFFFF");
        for j in i + 1..7 {
            assert_ne!(colours[i], colours[j], "series {i} and {j}");
        }
    }
    assert_eq!(colours[7], colours[0]);
}

#[test]
fn a_plot_it_cannot_draw_is_an_error_naming_the_file() {
    let d = dir("empty");
    let p = plot(
        "nothing",
        "t",
        vec![series("a", &[(f64::NAN, 1.0), (1.0, f64::INFINITY)])],
    );
    let err = p.write_svg(&d).expect_err("nothing to draw");
    assert!(
        err.contains(&d.join("nothing.svg").display().to_string()),
        "{err}"
    );
    assert!(err.contains("no finite points"), "{err}");
    // Finite points whose span overflows f64: plotters would never return, so an error.
    for (stem, pts) in [
        ("wide-y", [(0.0, -1e308), (1.0, 1e308)]),
        ("wide-x", [(-1e308, 0.0), (1e308, 1.0)]),
        ("wide-pad", [(0.0, 0.0), (1.0, f64::MAX)]),
        // Both padded ends finite, but their distance is not.
        ("wide-padded-span", [(0.0, -0.85e308), (1.0, 0.85e308)]),
        ("wide-padded-low", [(0.0, -1.7e308), (1.0, 0.01)]),
    ] {
        // On its own thread: a hang in plotters must fail this test, not stall it.
        let (tx, rx) = std::sync::mpsc::channel();
        let (p, dir) = (plot(stem, "t", vec![series("a", &pts)]), d.clone());
        std::thread::spawn(move || tx.send(p.write_svg(&dir)));
        let err = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{stem}: drawing did not return within 10 s"))
            .expect_err(stem);
        assert!(
            err.contains(&format!("{stem}.svg")) && err.contains("too wide"),
            "{err}"
        );
    }
    let none = plot("none", "t", vec![]);
    assert!(none.write_svg(&d).is_err(), "no series at all");
    let _ = std::fs::remove_dir_all(&d);
}

/// Regression only: the whole SVG of a small plot against `tests/data/figure-golden.svg`,
/// so that an unintended change to any pixel shows up. The properties above are the real
/// checks; when a layout change is meant, rewrite the file with `BLESS=1 cargo test`.
#[test]
fn a_small_plot_is_unchanged() {
    let d = dir("golden");
    let p = plot(
        "golden",
        "A small plot",
        vec![
            series("one", &[(0.0, 1.0), (1.0, 2.0)]),
            series("two", &[(0.0, 2.0), (1.0, 0.5)]),
        ],
    );
    let svg = std::fs::read_to_string(p.write_svg(&d).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&d);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/figure-golden.svg");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&golden, &svg).unwrap();
    }
    assert!(
        svg == std::fs::read_to_string(&golden).unwrap(),
        "the SVG changed; if that was meant, rerun with BLESS=1:\n{svg}"
    );
}
