//! Line plots as SVG: the figures the runner draws from real data for the book.

use plotters::prelude::*;

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
        let pad = 0.05 * (y1 - y0).max(1e-12);
        let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).stroke_width(2);
            let points = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            chart
                .draw_series(LineSeries::new(points, color))?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
        Ok(())
    }
}
