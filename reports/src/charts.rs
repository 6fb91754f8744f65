//! The figures. Each is a small description ([`Plot`]) drawn twice, to SVG and to PNG, with
//! the legend in its own panel to the right so that it never covers data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hesim_sim::arch::NttAlgorithm;
use hesim_sim::{Arch, Bound, TimelineEntry, Unit};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::load::{FinetuneCurve, Run, SweepTable};
use crate::{Figure, PAPER_SPEEDUPS, ReportError, write_atomically};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const SIZE: (u32, u32) = (1100, 620);
const LEGEND_W: u32 = 260;

/// Tableau 10, then darker variants: distinguishable, colour-blind-aware first choices.
const PALETTE: [RGBColor; 14] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
    RGBColor(40, 70, 110),
    RGBColor(150, 80, 20),
    RGBColor(60, 110, 50),
    RGBColor(110, 60, 100),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the embedded font as "sans-serif" (idempotent).
pub fn register_font() {
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
}

type DrawResult = Result<(), String>;

/// A figure that can draw itself on any backend.
trait Plot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

fn e2s<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Draws `plot` to `out/name.svg` and `out/name.png` (each written atomically).
fn render(out: &Path, name: &str, plot: &impl Plot) -> Result<(), ReportError> {
    let draw_err = |message: String| ReportError::Draw {
        figure: name.to_owned(),
        message,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(e2s).map_err(draw_err)?;
        plot.draw(&root).map_err(draw_err)?;
        root.present().map_err(e2s).map_err(draw_err)?;
    }
    write_atomically(&out.join(format!("{name}.svg")), svg.as_bytes())?;
    let tmp = out.join(format!(".tmp-{name}-{}.png", std::process::id()));
    {
        let root = BitMapBackend::new(&tmp, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(e2s).map_err(draw_err)?;
        plot.draw(&root).map_err(draw_err)?;
        root.present().map_err(e2s).map_err(draw_err)?;
    }
    let png = out.join(format!("{name}.png"));
    std::fs::rename(&tmp, &png).map_err(|source| ReportError::Io { path: png, source })
}

/// Splits off the legend panel and draws `entries` (name, colour) in it.
fn with_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[(String, RGBColor, LegendMark)],
) -> Result<DrawingArea<DB, Shift>, String> {
    let (w, _) = root.dim_in_pixel();
    let (plot, legend) = root.split_horizontally(w - LEGEND_W);
    let font = ("sans-serif", 15).into_font();
    legend
        .draw(&Text::new(
            title.to_owned(),
            (8, 60),
            font.clone().color(&BLACK),
        ))
        .map_err(e2s)?;
    for (i, (name, c, mark)) in entries.iter().enumerate() {
        let y = 88 + 22 * i as i32;
        match mark {
            LegendMark::Box => legend
                .draw(&Rectangle::new([(8, y - 7), (22, y + 7)], c.filled()))
                .map_err(e2s)?,
            LegendMark::Dot => legend
                .draw(&Circle::new((15, y), 5, c.filled()))
                .map_err(e2s)?,
            LegendMark::Line => legend
                .draw(&PathElement::new(vec![(6, y), (24, y)], c.stroke_width(3)))
                .map_err(e2s)?,
        }
        let shown: String = if name.chars().count() > 28 {
            name.chars().take(27).chain(['…']).collect()
        } else {
            name.clone()
        };
        legend
            .draw(&Text::new(
                shown,
                (30, y),
                font.clone()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e2s)?;
    }
    Ok(plot)
}

#[derive(Clone, Copy)]
enum LegendMark {
    Box,
    Dot,
    Line,
}

/// `c` blended 60% towards white (faint points that stay opaque in both backends).
fn light(c: RGBColor) -> RGBColor {
    let f = |x: u8| (x as f64 + (255.0 - x as f64) * 0.6) as u8;
    RGBColor(f(c.0), f(c.1), f(c.2))
}

/// `n` category slots (plotters' segmented range over `0..k` has k + 1 slots).
fn segments(
    n: usize,
) -> plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordusize> {
    (0..n.saturating_sub(1)).into_segmented()
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    v * 1.12
}

/// Bars stacked per category.
struct StackedBars {
    title: String,
    y_desc: String,
    legend_title: String,
    categories: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
}

impl Plot for StackedBars {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let entries: Vec<_> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), color(i), LegendMark::Box))
            .collect();
        let area = with_legend(root, &self.legend_title, &entries)?;
        let n = self.categories.len();
        let totals: Vec<f64> = (0..n)
            .map(|c| self.series.iter().map(|(_, v)| v[c]).sum())
            .collect();
        let ymax = nice_max(totals.iter().copied().fold(0.0, f64::max));
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(segments(n), 0.0..ymax)
            .map_err(e2s)?;
        let cats = self.categories.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .y_desc(self.y_desc.as_str())
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => cats.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(e2s)?;
        let mut base = vec![0.0; n];
        for (i, (_, values)) in self.series.iter().enumerate() {
            let c = color(i);
            let rects: Vec<_> = (0..n)
                .map(|k| {
                    let (y0, y1) = (base[k], base[k] + values[k]);
                    base[k] = y1;
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(k), y0),
                            (SegmentValue::Exact(k + 1), y1),
                        ],
                        c.filled(),
                    );
                    r.set_margin(0, 0, 18, 18);
                    r
                })
                .collect();
            chart.draw_series(rects).map_err(e2s)?;
        }
        // Totals above the bars.
        chart
            .draw_series(totals.iter().enumerate().map(|(k, t)| {
                Text::new(
                    format!("{t:.2}"),
                    (SegmentValue::CenterOf(k), *t),
                    ("sans-serif", 14)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))
            .map_err(e2s)?;
        Ok(())
    }
}

/// Side-by-side bars per category, with optional reference marks (a line across the slot).
struct GroupedBars {
    title: String,
    y_desc: String,
    legend_title: String,
    categories: Vec<String>,
    series: Vec<(String, Vec<Option<f64>>)>,
    marks: Option<(String, Vec<Option<f64>>)>,
    value_format: fn(f64) -> String,
}

impl Plot for GroupedBars {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let mut entries: Vec<_> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), color(i), LegendMark::Box))
            .collect();
        let mark_color = RGBColor(200, 30, 30);
        if let Some((n, _)) = &self.marks {
            entries.push((n.clone(), mark_color, LegendMark::Line));
        }
        let area = with_legend(root, &self.legend_title, &entries)?;
        let n = self.categories.len();
        let all = self
            .series
            .iter()
            .chain(self.marks.iter())
            .flat_map(|(_, v)| v.iter().flatten().copied());
        let ymax = nice_max(all.fold(0.0, f64::max));
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(segments(n), 0.0..ymax)
            .map_err(e2s)?;
        let cats = self.categories.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .y_desc(self.y_desc.as_str())
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => cats.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(e2s)?;
        let (plot_w, _) = chart.plotting_area().dim_in_pixel();
        let slot = plot_w as f64 / n.max(1) as f64;
        let gap = (slot * 0.12) as u32;
        let m = self.series.len().max(1);
        let bar = ((slot - 2.0 * gap as f64) / m as f64).max(1.0);
        for (i, (_, values)) in self.series.iter().enumerate() {
            let c = color(i);
            let left = gap + (bar * i as f64) as u32;
            let right = gap + (bar * (m - 1 - i) as f64) as u32;
            let mut labels = Vec::new();
            let rects: Vec<_> = values
                .iter()
                .enumerate()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .map(|(k, v)| {
                    labels.push((k, v));
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(k), 0.0),
                            (SegmentValue::Exact(k + 1), v),
                        ],
                        c.filled(),
                    );
                    r.set_margin(0, 0, left, right);
                    r
                })
                .collect();
            chart.draw_series(rects).map_err(e2s)?;
            if m <= 3 {
                // Value labels only when bars are wide enough to carry them.
                let shift = (left as f64 + bar / 2.0 - slot / 2.0) as i32;
                let fmt = self.value_format;
                chart
                    .draw_series(labels.into_iter().map(|(k, v)| {
                        EmptyElement::at((SegmentValue::CenterOf(k), v))
                            + Text::new(
                                fmt(v),
                                (shift, -2),
                                ("sans-serif", 13)
                                    .into_font()
                                    .color(&BLACK)
                                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
                            )
                    }))
                    .map_err(e2s)?;
            }
        }
        if let Some((name, values)) = &self.marks {
            for (k, v) in values.iter().enumerate() {
                let Some(v) = *v else { continue };
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(SegmentValue::Exact(k), v), (SegmentValue::Exact(k + 1), v)],
                        mark_color.stroke_width(3),
                    )))
                    .map_err(e2s)?;
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((SegmentValue::Exact(k), v))
                            + Text::new(
                                format!("{name}: {}", (self.value_format)(v)),
                                (6, -4),
                                ("sans-serif", 13)
                                    .into_font()
                                    .color(&mark_color)
                                    .pos(Pos::new(HPos::Left, VPos::Bottom)),
                            ),
                    ))
                    .map_err(e2s)?;
            }
        }
        Ok(())
    }
}

/// A workload's name, all its design points and its front, as (area, latency).
type ParetoGroup = (String, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Scatter groups with a highlighted front line per group.
struct Pareto {
    title: String,
    groups: Vec<ParetoGroup>,
}

impl Plot for Pareto {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let mut entries = Vec::new();
        for (i, (n, _, _)) in self.groups.iter().enumerate() {
            entries.push((n.clone(), light(color(i)), LegendMark::Dot));
            entries.push((format!("{n} front"), color(i), LegendMark::Line));
        }
        let area = with_legend(root, "workload", &entries)?;
        let pts = self.groups.iter().flat_map(|g| g.1.iter());
        let (mut xmax, mut ymax) = (0.0f64, 0.0f64);
        for (x, y) in pts {
            xmax = xmax.max(*x);
            ymax = ymax.max(*y);
        }
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..nice_max(xmax), 0.0..nice_max(ymax))
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("area (mm², 14/12 nm-equivalent)")
            .y_desc("latency (ms)")
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(e2s)?;
        for (i, (_, points, front)) in self.groups.iter().enumerate() {
            let faint = light(color(i));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, faint.filled())))
                .map_err(e2s)?;
            chart
                .draw_series(LineSeries::new(
                    front.iter().copied(),
                    color(i).stroke_width(3),
                ))
                .map_err(e2s)?;
            chart
                .draw_series(front.iter().map(|&p| Circle::new(p, 5, color(i).filled())))
                .map_err(e2s)?;
        }
        Ok(())
    }
}

/// Accuracy (%) against sparsity: one line per series of (sparsity, accuracy) points.
struct AccuracyLines {
    title: String,
    x_desc: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

impl Plot for AccuracyLines {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let entries: Vec<_> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), color(i), LegendMark::Line))
            .collect();
        let area = with_legend(root, "accuracy", &entries)?;
        let values = self.series.iter().flat_map(|s| s.1.iter());
        let ymin = values.clone().map(|p| p.1).fold(100.0f64, f64::min);
        let xmax = values.map(|p| p.0).fold(0.0f64, f64::max);
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..(xmax * 1.05).max(0.1), (ymin - 2.0).max(0.0)..100.0)
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc(&self.x_desc)
            .y_desc("accuracy (%)")
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(e2s)?;
        for (i, (_, points)) in self.series.iter().enumerate() {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color(i).stroke_width(3),
                ))
                .map_err(e2s)?;
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 5, color(i).filled())))
                .map_err(e2s)?;
        }
        Ok(())
    }
}

/// `hesim finetune`'s curve: accuracy against sub-block sparsity after fine-tuning with the
/// masks fixed, right after pruning, and of the unpruned checkpoint, on the same images.
pub fn accuracy_vs_sparsity(
    curve: &FinetuneCurve,
    index: usize,
    out: &Path,
) -> Result<Figure, ReportError> {
    let points = &curve.points;
    let line = |f: fn(&crate::FinetunePoint) -> f64| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.sparsity, 100.0 * f(p))).collect()
    };
    let first = &points[0];
    let name = if index == 0 {
        "accuracy-sparsity".to_owned()
    } else {
        format!("accuracy-sparsity-{index}")
    };
    let plot = AccuracyLines {
        title: format!(
            "{}: accuracy vs sub-block sparsity ({} images from {})",
            first.network, first.eval_images, first.eval_offset
        ),
        x_desc: "sub-block sparsity (fraction of the pruned layers' weights)".into(),
        series: vec![
            (
                "fine-tuned, masks fixed".into(),
                line(|p| p.finetuned_accuracy),
            ),
            ("pruned, not fine-tuned".into(), line(|p| p.pruned_accuracy)),
            (
                "unpruned checkpoint".into(),
                line(|p| p.checkpoint_accuracy),
            ),
        ],
    };
    render(out, &name, &plot)?;
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            vec![
                format!("{:.2}", p.sparsity),
                format!("{:.2}", 100.0 * p.finetuned_accuracy),
                format!("{:.2}", 100.0 * p.pruned_accuracy),
                format!("{:.2}", 100.0 * p.checkpoint_accuracy),
            ]
        })
        .collect();
    Ok(Figure {
        name,
        title: plot.title,
        caption: format!("{}. From `{}`.", first.split, curve.path.display()),
        series: plot.series.iter().map(|s| s.0.clone()).collect(),
        table: md_table(
            &[
                "sparsity",
                "fine-tuned (%)",
                "pruned, not fine-tuned (%)",
                "unpruned checkpoint (%)",
            ],
            &rows,
        ),
    })
}

/// Log-log roofline: layer points over min(peak, bandwidth × intensity).
struct Roofline {
    title: String,
    peak_ops_per_cycle: f64,
    hbm_bytes_per_cycle: f64,
    /// (bound, intensity ops/byte, attained ops/cycle)
    points: Vec<(Bound, f64, f64)>,
}

impl Plot for Roofline {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let compute_c = color(0);
        let memory_c = color(1);
        let mut entries = vec![("roof".to_owned(), RGBColor(40, 40, 40), LegendMark::Line)];
        for (b, name, c) in [
            (Bound::Compute, "compute-bound layer", compute_c),
            (Bound::Memory, "memory-bound layer", memory_c),
        ] {
            if self.points.iter().any(|p| p.0 == b) {
                entries.push((name.to_owned(), c, LegendMark::Dot));
            }
        }
        let area = with_legend(root, "", &entries)?;
        let ridge = self.peak_ops_per_cycle / self.hbm_bytes_per_cycle;
        let xs = self.points.iter().map(|p| p.1).chain([ridge]);
        let xmin = xs.clone().fold(f64::INFINITY, f64::min).max(1e-3) / 4.0;
        let xmax = xs.fold(0.0, f64::max) * 4.0;
        let ymin = self
            .points
            .iter()
            .map(|p| p.2)
            .fold(self.hbm_bytes_per_cycle * xmin, f64::min)
            .max(1e-3)
            / 2.0;
        let ymax = self.peak_ops_per_cycle * 3.0;
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d((xmin..xmax).log_scale(), (ymin..ymax).log_scale())
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity (modular ops per HBM byte)")
            .y_desc("attained modular ops per cycle")
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(e2s)?;
        let roof: Vec<(f64, f64)> = (0..=200)
            .map(|i| {
                let x = xmin * (xmax / xmin).powf(i as f64 / 200.0);
                (
                    x,
                    (self.hbm_bytes_per_cycle * x).min(self.peak_ops_per_cycle),
                )
            })
            .collect();
        chart
            .draw_series(LineSeries::new(roof, RGBColor(40, 40, 40).stroke_width(2)))
            .map_err(e2s)?;
        for (bound, c) in [(Bound::Compute, compute_c), (Bound::Memory, memory_c)] {
            chart
                .draw_series(
                    self.points
                        .iter()
                        .filter(|p| p.0 == bound)
                        .map(|p| Circle::new((p.1, p.2), 5, c.filled())),
                )
                .map_err(e2s)?;
        }
        Ok(())
    }
}

/// Gantt chart: one row per unit, one bar per task's busy time, coloured by op kind.
struct Gantt {
    title: String,
    rows: Vec<String>,
    kinds: Vec<String>,
    /// (row, start, end, kind)
    bars: Vec<(usize, f64, f64, usize)>,
    end: f64,
}

impl Plot for Gantt {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let entries: Vec<_> = self
            .kinds
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), color(i), LegendMark::Box))
            .collect();
        let area = with_legend(root, "op kind", &entries)?;
        let rows = self.rows.clone();
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(110)
            .build_cartesian_2d(0.0..self.end.max(1.0), segments(rows.len()))
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("cycle (millions)")
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .x_label_formatter(&|v| format!("{:.2}", v / 1e6))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => rows.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(e2s)?;
        chart
            .draw_series(self.bars.iter().map(|&(row, s, e, k)| {
                let mut r = Rectangle::new(
                    [
                        (s, SegmentValue::Exact(row)),
                        (e, SegmentValue::Exact(row + 1)),
                    ],
                    color(k).filled(),
                );
                r.set_margin(6, 6, 0, 0);
                r
            }))
            .map_err(e2s)?;
        Ok(())
    }
}

fn ms(cycles: u64, clock_ghz: f64) -> f64 {
    cycles as f64 / (clock_ghz * 1e6)
}

fn md_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for r in rows {
        let _ = writeln!(t, "| {} |", r.join(" | "));
    }
    t
}

pub fn latency_by_kind(runs: &[Run], out: &Path) -> Result<Figure, ReportError> {
    let mut kinds: Vec<String> = Vec::new();
    for r in runs {
        for k in &r.result.by_kind {
            let name = k.kind.to_string();
            if !kinds.contains(&name) {
                kinds.push(name);
            }
        }
    }
    // Kinds with no critical-path time anywhere add nothing to a stack.
    let value = |r: &Run, kind: &str| {
        r.result
            .by_kind
            .iter()
            .find(|k| k.kind.as_str() == kind)
            .map(|k| ms(k.critical_cycles, r.result.clock_ghz))
            .unwrap_or(0.0)
    };
    kinds.retain(|k| runs.iter().any(|r| value(r, k) > 0.0));
    let series: Vec<(String, Vec<f64>)> = kinds
        .iter()
        .map(|k| (k.clone(), runs.iter().map(|r| value(r, k)).collect()))
        .collect();
    let plot = StackedBars {
        title: "Latency by op kind".into(),
        y_desc: "latency (ms)".into(),
        legend_title: "op kind".into(),
        categories: runs.iter().map(|r| r.label.clone()).collect(),
        series: series.clone(),
    };
    render(out, "latency_by_kind", &plot)?;
    let rows = runs
        .iter()
        .map(|r| {
            vec![
                r.label.clone(),
                r.result.arch.clone(),
                r.result.cycles.to_string(),
                format!("{:.3}", r.result.time_ms),
            ]
        })
        .collect::<Vec<_>>();
    Ok(Figure {
        name: "latency_by_kind".into(),
        title: plot.title,
        caption: "End-to-end latency per network and packing, split by the op kind whose \
                  scheduling extended the critical path (the parts sum to the total)."
            .into(),
        series: series.into_iter().map(|s| s.0).collect(),
        table: md_table(&["run", "architecture", "cycles", "latency (ms)"], &rows),
    })
}

pub fn latency_by_layer(runs: &[Run], out: &Path) -> Result<Figure, ReportError> {
    let mut layers: Vec<String> = Vec::new();
    for r in runs {
        for l in &r.result.layers {
            if !layers.contains(&l.layer) {
                layers.push(l.layer.clone());
            }
        }
    }
    let value = |r: &Run, layer: &str| {
        r.result
            .layers
            .iter()
            .find(|l| l.layer == layer)
            .map(|l| ms(l.critical_cycles, r.result.clock_ghz))
            .unwrap_or(0.0)
    };
    layers.retain(|l| runs.iter().any(|r| value(r, l) > 0.0));
    let series: Vec<(String, Vec<f64>)> = layers
        .iter()
        .map(|l| (l.clone(), runs.iter().map(|r| value(r, l)).collect()))
        .collect();
    let plot = StackedBars {
        title: "Latency by layer".into(),
        y_desc: "latency (ms)".into(),
        legend_title: "layer".into(),
        categories: runs.iter().map(|r| r.label.clone()).collect(),
        series: series.clone(),
    };
    render(out, "latency_by_layer", &plot)?;
    let header: Vec<&str> = std::iter::once("layer")
        .chain(runs.iter().map(|r| r.label.as_str()))
        .collect();
    let rows: Vec<Vec<String>> = series
        .iter()
        .map(|(l, v)| {
            std::iter::once(l.clone())
                .chain(v.iter().map(|x| format!("{x:.3}")))
                .collect()
        })
        .collect();
    Ok(Figure {
        name: "latency_by_layer".into(),
        title: plot.title,
        caption: "The same latency split by network layer (ms on the critical path).".into(),
        series: series.into_iter().map(|s| s.0).collect(),
        table: md_table(&header, &rows),
    })
}

/// Speedup of each packing over `dense` per network, on the same architecture; `None` when no
/// network has a dense run and another packing.
pub fn speedup(runs: &[Run], out: &Path) -> Result<Option<Figure>, ReportError> {
    let mut by_net: BTreeMap<String, BTreeMap<String, &Run>> = BTreeMap::new();
    for r in runs {
        by_net
            .entry(r.result.trace.network.clone())
            .or_default()
            .insert(r.result.trace.packing.clone(), r);
    }
    let mut nets: Vec<String> = PAPER_SPEEDUPS.iter().map(|(n, _)| n.to_string()).collect();
    for n in by_net.keys() {
        if !nets.contains(n) {
            nets.push(n.clone());
        }
    }
    let ratio = |net: &str, packing: &str| -> Option<f64> {
        let m = by_net.get(net)?;
        let dense = m.get("dense")?;
        let other = m.get(packing)?;
        (other.result.cycles > 0 && dense.result.arch == other.result.arch)
            .then(|| dense.result.cycles as f64 / other.result.cycles as f64)
    };
    let packings = ["group", "spencnn"];
    if !nets
        .iter()
        .any(|n| packings.iter().any(|p| ratio(n, p).is_some()))
    {
        return Ok(None);
    }
    let series: Vec<(String, Vec<Option<f64>>)> = packings
        .iter()
        .map(|p| {
            (
                format!("{p} (simulated)"),
                nets.iter().map(|n| ratio(n, p)).collect(),
            )
        })
        .collect();
    let paper: Vec<Option<f64>> = nets
        .iter()
        .map(|n| PAPER_SPEEDUPS.iter().find(|(p, _)| p == n).map(|(_, s)| *s))
        .collect();
    let plot = GroupedBars {
        title: "Speedup over the dense packing".into(),
        y_desc: "speedup (×)".into(),
        legend_title: "".into(),
        categories: nets.clone(),
        series: series.clone(),
        marks: Some(("SpENCNN paper".into(), paper.clone())),
        value_format: |v| format!("{v:.2}×"),
    };
    render(out, "speedup", &plot)?;
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.2}×")).unwrap_or_else(|| "–".into());
    let rows: Vec<Vec<String>> = nets
        .iter()
        .enumerate()
        .map(|(i, n)| {
            vec![
                n.clone(),
                fmt(series[0].1[i]),
                fmt(series[1].1[i]),
                fmt(paper[i]),
            ]
        })
        .collect();
    let mut names: Vec<String> = series.into_iter().map(|s| s.0).collect();
    names.push("SpENCNN paper".into());
    Ok(Some(Figure {
        name: "speedup".into(),
        title: plot.title,
        caption: "Simulated speedup of the group-interleaved and SpENCNN packings over dense, \
                  per network, against SpENCNN's published overall speedups (red; ICML 2023). \
                  The paper measured CPU HE inference; these bars are accelerator cycles, so \
                  the comparison is of trends, not a validation. – = not simulated."
            .into(),
        series: names,
        table: md_table(
            &["network", "group (sim)", "spencnn (sim)", "SpENCNN paper"],
            &rows,
        ),
    }))
}

/// `hesim validate`'s figure: each row's simulated latency divided by the published one, with
/// the published value (1.0) as the reference mark; `rows` are (label, simulated ms,
/// published ms) and rows without a published number are left out (predictions).
pub fn validation(rows: &[(String, f64, Option<f64>)], out: &Path) -> Result<Figure, ReportError> {
    let kept: Vec<&(String, f64, Option<f64>)> = rows
        .iter()
        .filter(|r| r.2.is_some_and(|p| p > 0.0))
        .collect();
    let ratio: Vec<Option<f64>> = kept.iter().map(|r| r.2.map(|p| r.1 / p)).collect();
    let plot = GroupedBars {
        title: "Simulated vs published latency".into(),
        y_desc: "simulated ÷ published".into(),
        legend_title: "".into(),
        categories: kept.iter().map(|r| r.0.clone()).collect(),
        series: vec![("simulated ÷ published".into(), ratio)],
        marks: Some(("published".into(), vec![Some(1.0); kept.len()])),
        value_format: |v| format!("{v:.2}"),
    };
    render(out, "validation", &plot)?;
    let table_rows: Vec<Vec<String>> = kept
        .iter()
        .map(|r| {
            vec![
                r.0.clone(),
                format!("{:.3}", r.1),
                r.2.map_or_else(|| "–".into(), |p| format!("{p:.2}")),
            ]
        })
        .collect();
    Ok(Figure {
        name: "validation".into(),
        title: plot.title,
        caption: "Each design's simulated latency on a benchmark workload over its published                   latency (red mark = 1). Nothing is calibrated; rows without a published                   number (ARK, BTS: held out) are predictions and are not drawn."
            .into(),
        series: vec!["simulated ÷ published".into(), "published".into()],
        table: md_table(&["design × workload", "simulated (ms)", "published (ms)"], &table_rows),
    })
}

/// The networks (in order of first appearance) and, per packing, each network's latency over
/// that network's fastest packing (`None` where the packing has no row for the network).
type RelativeLatencies = (Vec<String>, Vec<(String, Vec<Option<f64>>)>);

fn relative_to_fastest(rows: &[(String, String, f64)]) -> RelativeLatencies {
    let mut networks: Vec<String> = Vec::new();
    let mut packings: Vec<String> = Vec::new();
    for (net, packing, _) in rows {
        if !networks.contains(net) {
            networks.push(net.clone());
        }
        if !packings.contains(packing) {
            packings.push(packing.clone());
        }
    }
    let fastest: Vec<f64> = networks
        .iter()
        .map(|n| {
            rows.iter()
                .filter(|r| &r.0 == n)
                .map(|r| r.2)
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let series = packings
        .into_iter()
        .map(|p| {
            let ratios = networks
                .iter()
                .zip(&fastest)
                .map(|(n, best)| {
                    rows.iter()
                        .find(|r| &r.0 == n && r.1 == p)
                        .map(|r| r.2 / best)
                })
                .collect();
            (p, ratios)
        })
        .collect();
    (networks, series)
}

/// `hesim trace compare`'s figure on one architecture: per network, each applicable packing's
/// simulated latency over the network's fastest packing (1 = fastest), so that networks whose
/// latencies differ by orders of magnitude share one axis. `rows` are (network, packing,
/// latency in ms); a packing missing from a network (it does not apply) leaves an empty slot.
pub fn packing_comparison(
    rows: &[(String, String, f64)],
    arch: &str,
    out: &Path,
) -> Result<Figure, ReportError> {
    let (networks, series) = relative_to_fastest(rows);
    let packings: Vec<String> = series.iter().map(|(p, _)| p.clone()).collect();
    let latency = |net: &str, packing: &str| {
        rows.iter()
            .find(|r| r.0 == net && r.1 == packing)
            .map(|r| r.2)
    };
    let name = format!("packings-{}", file_stem(arch));
    let plot = GroupedBars {
        title: format!("Packings compared on {arch}"),
        y_desc: "latency ÷ the network's fastest packing".into(),
        legend_title: "packing".into(),
        categories: networks.clone(),
        series: series.clone(),
        marks: None,
        value_format: |v| format!("{v:.2}"),
    };
    render(out, &name, &plot)?;
    let header: Vec<&str> = std::iter::once("network")
        .chain(packings.iter().map(String::as_str))
        .collect();
    let table_rows: Vec<Vec<String>> =
        networks
            .iter()
            .map(|n| {
                std::iter::once(n.clone())
                    .chain(packings.iter().map(|p| {
                        latency(n, p).map_or_else(|| "–".into(), |t| format!("{t:.2} ms"))
                    }))
                    .collect()
            })
            .collect();
    Ok(Figure {
        name,
        title: plot.title,
        caption: format!(
            "Simulated latency on {arch} of every packing that applies, per network, over the \
             network's fastest packing (1 = fastest; the table gives the milliseconds). An empty \
             slot is a packing that does not apply (see the comparison's list of reasons)."
        ),
        table: md_table(&header, &table_rows),
        series: packings,
    })
}

fn file_stem(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

pub fn utilization(run: &Run, out: &Path) -> Result<Figure, ReportError> {
    let layers: Vec<String> = run.result.layers.iter().map(|l| l.layer.clone()).collect();
    let units: Vec<Unit> = Unit::ALL
        .into_iter()
        .filter(|u| {
            run.result
                .layers
                .iter()
                .any(|l| l.utilization.get(u).is_some_and(|v| *v > 0.0))
        })
        .collect();
    let series: Vec<(String, Vec<Option<f64>>)> = units
        .iter()
        .map(|u| {
            (
                u.to_string(),
                run.result
                    .layers
                    .iter()
                    .map(|l| Some(100.0 * l.utilization.get(u).copied().unwrap_or(0.0)))
                    .collect(),
            )
        })
        .collect();
    let name = format!("utilization-{}", file_stem(&run.label));
    let plot = GroupedBars {
        title: format!(
            "Unit utilisation per layer: {} on {}",
            run.label, run.result.arch
        ),
        y_desc: "busy (% of the layer's span)".into(),
        legend_title: "unit".into(),
        categories: layers,
        series: series.clone(),
        marks: None,
        value_format: |v| format!("{v:.0}%"),
    };
    render(out, &name, &plot)?;
    let rows: Vec<Vec<String>> = run
        .result
        .layers
        .iter()
        .map(|l| {
            vec![
                l.layer.clone(),
                format!("{:?}", l.bound).to_lowercase(),
                format!("{:.3}", ms(l.critical_cycles, run.result.clock_ghz)),
                format!("{:.1}", l.hbm_bytes as f64 / 1e6),
            ]
        })
        .collect();
    Ok(Figure {
        name,
        title: plot.title,
        caption: "Busy cycles of each unit class over each layer's span (first start to last \
                  end; layers overlap, so spans can exceed their critical-path share)."
            .into(),
        series: series.into_iter().map(|s| s.0).collect(),
        table: md_table(&["layer", "bound", "critical path (ms)", "HBM (MB)"], &rows),
    })
}

/// Peak modular ops per cycle of `arch` at ring degree 2^log_n, counted as the simulator
/// counts them (butterfly = 3 ops, MAC = 2, element-wise op = 1): the sum of every unit class's
/// peak, so no single class reaches it alone.
pub fn peak_ops_per_cycle(arch: &Arch, log_n: u32) -> f64 {
    let c = arch.clusters as f64;
    let ntt_per_unit = match arch.ntt.algorithm {
        NttAlgorithm::FourStep => arch.ntt.lanes as f64 * log_n as f64 / 2.0 * 3.0,
        NttAlgorithm::Radix2 => arch.ntt.lanes as f64 * 3.0,
    };
    let ew = &arch.elementwise;
    let mut peak = arch.ntt.units as f64 * ntt_per_unit
        + ew.lanes as f64 * (ew.mul_units + ew.add_units) as f64;
    if arch.bconv.dedicated {
        peak += 2.0 * arch.bconv.macs_per_cycle as f64;
    }
    if arch.keyswitch.dedicated_inner_product {
        peak += 2.0 * arch.keyswitch.inner_product_lanes as f64;
    }
    c * peak
}

/// Roofline of every layer of every run on the first run's architecture (if its resolved
/// configuration was found).
pub fn roofline(runs: &[Run], out: &Path) -> Result<Option<Figure>, ReportError> {
    let Some(first) = runs.iter().find(|r| r.arch.is_some()) else {
        return Ok(None);
    };
    let Some(arch) = first.arch.as_ref() else {
        return Ok(None);
    };
    let same: Vec<&Run> = runs
        .iter()
        .filter(|r| r.result.arch == first.result.arch)
        .collect();
    let peak = peak_ops_per_cycle(arch, first.result.trace.log_n);
    let bw = arch.hbm_bytes_per_cycle();
    let mut points = Vec::new();
    let mut rows = Vec::new();
    let mut no_traffic = 0;
    for r in &same {
        for l in &r.result.layers {
            let span = l.end_cycle.saturating_sub(l.start_cycle);
            let Some(intensity) = l.ops_per_byte.filter(|x| *x > 0.0) else {
                no_traffic += 1;
                continue;
            };
            if span == 0 || l.mod_ops == 0 {
                continue;
            }
            let attained = l.mod_ops as f64 / span as f64;
            points.push((l.bound, intensity, attained));
            rows.push(vec![
                r.label.clone(),
                l.layer.clone(),
                format!("{intensity:.1}"),
                format!("{attained:.0}"),
                format!("{:?}", l.bound).to_lowercase(),
            ]);
        }
    }
    let plot = Roofline {
        title: format!("Roofline of the layers on {}", first.result.arch),
        peak_ops_per_cycle: peak,
        hbm_bytes_per_cycle: bw,
        points: points.clone(),
    };
    render(out, "roofline", &plot)?;
    let mut series = vec!["roof".to_owned()];
    for (b, n) in [
        (Bound::Compute, "compute-bound layer"),
        (Bound::Memory, "memory-bound layer"),
    ] {
        if points.iter().any(|p| p.0 == b) {
            series.push(n.into());
        }
    }
    Ok(Some(Figure {
        name: "roofline".into(),
        title: plot.title,
        caption: format!(
            "Each layer's modular ops per cycle over its span against its ops per HBM byte. \
             Roofs: HBM {bw:.0} B/cycle and a compute peak of {peak:.3e} ops/cycle (all unit \
             classes together). Colour = the simulator's own compute/memory classification \
             (busiest compute unit vs HBM port).{}",
            if no_traffic > 0 {
                format!(" {no_traffic} layer(s) moved no HBM bytes and are not shown.")
            } else {
                String::new()
            }
        ),
        series,
        table: md_table(&["run", "layer", "ops/byte", "ops/cycle", "bound"], &rows),
    }))
}

/// `lenet-spencnn` for `.../lenet-spencnn/timeline.json`, else the file name.
fn timeline_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match path.parent().and_then(|p| p.file_name()) {
        Some(dir) if file == "timeline.json" => dir.to_string_lossy().into_owned(),
        _ => file,
    }
}

pub fn gantt(path: &Path, entries: &[TimelineEntry], out: &Path) -> Result<Figure, ReportError> {
    let units: Vec<Unit> = Unit::ALL
        .into_iter()
        .filter(|u| entries.iter().any(|e| e.busy_cycles.contains_key(u)))
        .collect();
    let mut kinds: Vec<String> = Vec::new();
    let mut bars = Vec::new();
    let mut end = 0.0f64;
    for e in entries {
        let kind = e.kind.to_string();
        let k = match kinds.iter().position(|x| *x == kind) {
            Some(k) => k,
            None => {
                kinds.push(kind);
                kinds.len() - 1
            }
        };
        for (u, busy) in &e.busy_cycles {
            let Some(row) = units.iter().position(|x| x == u) else {
                continue;
            };
            let start = if *u == Unit::Hbm {
                e.hbm_start_cycle.unwrap_or(e.start_cycle)
            } else {
                e.start_cycle
            } as f64;
            bars.push((row, start, start + *busy as f64, k));
        }
        end = end.max(e.end_cycle as f64);
    }
    let plot = Gantt {
        title: format!("Timeline: {}", timeline_name(path)),
        rows: units.iter().map(|u| u.to_string()).collect(),
        kinds: kinds.clone(),
        bars,
        end,
    };
    render(out, "timeline", &plot)?;
    let rows: Vec<Vec<String>> = units
        .iter()
        .map(|u| {
            let busy: u64 = entries.iter().filter_map(|e| e.busy_cycles.get(u)).sum();
            vec![
                u.to_string(),
                busy.to_string(),
                format!("{:.1}%", 100.0 * busy as f64 / end.max(1.0)),
            ]
        })
        .collect();
    Ok(Figure {
        name: "timeline".into(),
        title: plot.title,
        caption: format!(
            "Per-task busy time on each unit class ({} tasks), coloured by op kind.",
            entries.len()
        ),
        series: kinds,
        table: md_table(&["unit", "busy cycles", "of the run"], &rows),
    })
}

/// The designs on the area–latency front: no other design is both smaller and faster.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in sorted {
        if front.last().is_none_or(|last| p.1 < last.1) {
            front.push(p);
        }
    }
    front
}

pub fn pareto(sweep: &SweepTable, index: usize, out: &Path) -> Result<Figure, ReportError> {
    let mut workloads: Vec<String> = Vec::new();
    for r in &sweep.rows {
        if !workloads.contains(&r.workload) {
            workloads.push(r.workload.clone());
        }
    }
    let mut groups = Vec::new();
    let mut rows = Vec::new();
    for w in &workloads {
        let pts: Vec<(f64, f64)> = sweep
            .rows
            .iter()
            .filter(|r| &r.workload == w)
            .filter_map(|r| r.latency_ms.map(|l| (r.area_mm2, l)))
            .collect();
        let front = pareto_front(&pts);
        for (a, l) in &front {
            if let Some(r) = sweep
                .rows
                .iter()
                .find(|r| &r.workload == w && r.area_mm2 == *a && r.latency_ms == Some(*l))
            {
                rows.push(vec![
                    w.clone(),
                    format!("{a:.1}"),
                    format!("{l:.3}"),
                    r.design.clone(),
                    r.point_id.clone(),
                ]);
            }
        }
        groups.push((w.clone(), pts, front));
    }
    let name = if index == 0 {
        "pareto".to_owned()
    } else {
        format!("pareto-{index}")
    };
    let plot = Pareto {
        title: format!(
            "Area vs latency: sweep {:?} ({} points)",
            sweep.name,
            sweep.rows.len()
        ),
        groups,
    };
    render(out, &name, &plot)?;
    let series = workloads
        .iter()
        .flat_map(|w| [w.clone(), format!("{w} front")])
        .collect();
    Ok(Figure {
        name,
        title: plot.title,
        caption: "Every feasible design of the sweep (faint) and, per workload, the designs no \
                  other design beats on both area and latency (bold line)."
            .into(),
        series,
        table: md_table(
            &[
                "workload",
                "area (mm²)",
                "latency (ms)",
                "design",
                "point_id",
            ],
            &rows,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ratios worked by hand: network a's fastest is p2 (2 ms), b's only row is p1.
    #[test]
    fn packings_are_relative_to_each_networks_fastest() {
        let row = |n: &str, p: &str, ms: f64| (n.to_owned(), p.to_owned(), ms);
        let rows = [
            row("a", "p1", 5.0),
            row("a", "p2", 2.0),
            row("b", "p1", 300.0),
            row("a", "p3", 3.0),
        ];
        let (networks, series) = relative_to_fastest(&rows);
        assert_eq!(networks, ["a", "b"]);
        assert_eq!(
            series,
            [
                ("p1".to_owned(), vec![Some(2.5), Some(1.0)]),
                ("p2".to_owned(), vec![Some(1.0), None]),
                ("p3".to_owned(), vec![Some(1.5), None]),
            ]
        );
    }
}
