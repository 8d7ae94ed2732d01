//! Line plots as SVG: the figures the runner draws from real data for the book.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One named curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line plot with several series, saved as `<file_stem>.svg`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePlot {
    /// The file name without extension, e.g. `activation-functions`.
    pub file_stem: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

impl LinePlot {
    /// Writes the plot as SVG to `dir/<file_stem>.svg`.
    pub fn write_svg(&self, dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
        let path = dir.join(format!("{}.svg", self.file_stem));
        self.draw(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    fn draw(&self, path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in self.series.iter().flat_map(|s| &s.points) {
            if x.is_finite() && y.is_finite() {
                (x0, x1, y0, y1) = (x0.min(*x), x1.max(*x), y0.min(*y), y1.max(*y));
            }
        }
        if x0 > x1 || y0 > y1 {
            return Err("no finite points to plot".into());
        }
        // The y axis adds 5% of the points' span each side; the x axis spans them exactly.
        let pad = 0.05 * (y1 - y0).max(1e-12);
        // plotters never returns from a range whose width overflows f64: refuse it by name.
        if !((x1 - x0).is_finite() && ((y1 + pad) - (y0 - pad)).is_finite()) {
            return Err(format!(
                "points spanning x {x0:e}..{x1:e}, y {y0:e}..{y1:e} are too wide to plot"
            )
            .into());
        }
        let title = wrap(&self.title, TITLE_CHARS);
        let legend = LegendLayout::new(&self.series);
        let title_h = 12 + TITLE_LINE * title.len() as u32;
        let height = title_h + CHART_H + legend.height();
        let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
        // Opaque white: the dark ink reads the same on mdBook's light and dark themes.
        root.fill(&WHITE)?;
        let (top, rest) = root.split_vertically(title_h);
        let (chart_area, legend_area) = rest.split_vertically(CHART_H);
        let title_style = ("sans-serif", 19)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (k, line) in title.iter().enumerate() {
            top.draw(&Text::new(
                line.as_str(),
                ((WIDTH / 2) as i32, 8 + (TITLE_LINE as i32) * k as i32),
                title_style.clone(),
            ))?;
        }
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style(("sans-serif", 15))
            .label_style(("sans-serif", 13))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (i, s) in self.series.iter().enumerate() {
            let points = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            chart.draw_series(LineSeries::new(points, colour(i).stroke_width(2)))?;
        }
        // The legend sits in its own strip under the chart: it can never hide a curve.
        legend.draw(&legend_area, &self.series)?;
        root.present()?;
        Ok(())
    }
}

/// The figure's width in px, and the plot's height without title and legend.
const WIDTH: u32 = 760;
const CHART_H: u32 = 440;
/// A title line's height in px, and how many characters fit on one.
const TITLE_LINE: u32 = 24;
const TITLE_CHARS: usize = 68;

/// Series `i`'s colour: Okabe and Ito's colour-blind-safe palette, less its yellow, which is
/// too pale on white; it repeats after seven series.
fn colour(i: usize) -> RGBColor {
    const OKABE_ITO: [RGBColor; 7] = [
        RGBColor(0, 114, 178),   // blue
        RGBColor(213, 94, 0),    // vermillion
        RGBColor(0, 158, 115),   // bluish green
        RGBColor(204, 121, 167), // reddish purple
        RGBColor(230, 159, 0),   // orange
        RGBColor(86, 180, 233),  // sky blue
        RGBColor(0, 0, 0),       // black
    ];
    OKABE_ITO[i % OKABE_ITO.len()]
}

/// `s` broken at spaces into lines of at most `width` characters (a longer word keeps its
/// own line).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// A tick label: up to 4 significant digits, no trailing zeros (`2`, not `2.0`).
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// The legend: one entry per series in one or two columns, below the chart.
struct LegendLayout {
    columns: u32,
    rows: u32,
}

impl LegendLayout {
    const ROW: u32 = 22;

    fn new(series: &[Series]) -> Self {
        let longest = series
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0);
        let columns = if series.len() > 1 && longest <= 40 {
            2
        } else {
            1
        };
        let rows = (series.len() as u32).div_ceil(columns);
        Self { columns, rows }
    }

    fn height(&self) -> u32 {
        if self.rows == 0 {
            0
        } else {
            self.rows * Self::ROW + 12
        }
    }

    fn draw(
        &self,
        area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
        series: &[Series],
    ) -> Result<(), Box<dyn std::error::Error>> {
        let col_w = (WIDTH - 80) / self.columns;
        let style = ("sans-serif", 14)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, s) in series.iter().enumerate() {
            let (r, c) = (i as u32 / self.columns, i as u32 % self.columns);
            let x = 80 + (c * col_w) as i32;
            let y = (6 + r * Self::ROW + Self::ROW / 2) as i32;
            area.draw(&PathElement::new(
                vec![(x, y), (x + 28, y)],
                colour(i).stroke_width(3),
            ))?;
            area.draw(&Text::new(s.name.as_str(), (x + 36, y), style.clone()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_wrap_at_spaces() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("averylongword x", 4), ["averylongword", "x"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn ticks_drop_trailing_zeros() {
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(-1.5), "-1.5");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(12345.0), "12345");
        assert_eq!(tick(2e-5), "2.0e-5");
    }

    #[test]
    fn legend_has_a_row_per_two_short_names() {
        let s = |n: &str| Series {
            name: n.into(),
            points: vec![(0.0, 0.0)],
        };
        let l = LegendLayout::new(&[s("a"), s("b"), s("c")]);
        assert_eq!((l.columns, l.rows), (2, 2));
        let long = "x".repeat(41);
        let l = LegendLayout::new(&[s(&long), s("b")]);
        assert_eq!((l.columns, l.rows), (1, 2));
    }
}
