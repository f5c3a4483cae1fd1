//! The PNG bar chart of the rates: one group of bars per server, one bar
//! per query mix.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;

use super::mixes::Mix;
use super::report::ServerResult;

/// DejaVu Sans (Debian package fonts-dejavu-core, installed by setup):
/// plotters' bitmap backend draws text with a font it is given.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const COLORS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
];

pub fn rates_png(path: &Path, title: &str, mixes: &[Mix], results: &[ServerResult]) -> Result<()> {
    let font = std::fs::read(FONT)
        .with_context(|| format!("{FONT} (package fonts-dejavu-core; `cargo xtask setup`)"))?;
    // register_font keeps the bytes for the life of the process.
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow!("{FONT} is not a usable font"))?;
    draw(path, title, mixes, results).map_err(|e| anyhow!("drawing {}: {e}", path.display()))
}

fn draw(
    path: &Path,
    title: &str,
    mixes: &[Mix],
    results: &[ServerResult],
) -> Result<(), Box<dyn std::error::Error>> {
    let n = results.len();
    let ymax = results
        .iter()
        .flat_map(|r| r.rates.iter().map(|(_, x)| x.rate))
        .fold(1.0f64, f64::max)
        * 1.15;
    let root = BitMapBackend::new(path, (1400, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(100)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..ymax)?;
    let names: Vec<&str> = results.iter().map(|r| r.kind.name()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).copied().unwrap_or("").to_owned()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{:.0}k", y / 1000.0))
        .y_desc("answered queries/s, < 1% loss")
        .label_style(("sans-serif", 16))
        .draw()?;
    let width = 0.8 / mixes.len().max(1) as f64;
    for (mi, &mix) in mixes.iter().enumerate() {
        let color = COLORS[mi % COLORS.len()];
        let bars = results.iter().enumerate().filter_map(move |(si, r)| {
            let v = r.rate(mix)?.rate;
            let x0 = si as f64 - 0.4 + mi as f64 * width;
            Some(Rectangle::new(
                [(x0, 0.0), (x0 + width * 0.95, v)],
                color.filled(),
            ))
        });
        chart
            .draw_series(bars)?
            .label(mix.label())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
