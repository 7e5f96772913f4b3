//! SVG charts of a run's timeline and of a sweep's steps, drawn with plotters.
//!
//! Each chart is one or two stacked *panels*. A panel is described as data ([`Panel`]: series,
//! vertical and horizontal reference lines, shaded x bands) and drawn by one function,
//! [`draw_panel`], so that the five charts differ only in what they put in their panels.
//!
//! A panel is laid out top to bottom as: a header line with the title on the left and the legend
//! on the right; a strip holding the labels of the vertical lines (a run's marks, a sweep's
//! limit), as many rows as their labels need not to overlap; then the plot with its axes. Legend
//! and labels therefore never cover data.
//!
//! # Text without a font backend
//!
//! plotters is built without its `ttf` and `ab_glyph` features, so it loads no font at all.
//! With neither, plotters uses its built-in "naive" font, which only *estimates* a string's
//! extent (0.7 em per byte) and cannot rasterise glyphs (its `draw` panics). Only the bitmap
//! backend rasterises text; the SVG backend writes every string as an SVG `<text>` element with
//! a font family and size, which the browser renders with its own fonts. So the estimate is all
//! plotters needs here, for placing labels: a font backend would add a dependency on system
//! fonts (or an embedded font file) to measure exactly text the browser lays out anyway. The
//! estimate errs wide for proportional fonts, so the label areas below are sized with room to
//! spare, and [`text_width`] uses it to place the legend and the labels of vertical lines.
//!
//! # What reaches plotters
//!
//! Only finite values: samples whose value is `None`, NaN or infinite are left out (a line is
//! broken there rather than drawn across the gap), and every axis range is finite and non-empty,
//! widened when all values are equal. A log axis is used only when every value on it is
//! positive; values at or below zero are then left out as well.

use std::ops::Range;

use anyhow::Result;
use plotters::coord::ranged1d::{
    KeyPointHint, KeyPointWeight, NoDefaultFormatting, Ranged, ValueFormatter,
};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::human;
use super::model::{RunReport, Sample, SweepReport, SweepStep};

/// Width of every chart, in pixels.
const WIDTH: u32 = 960;
/// Height of each panel of a two-panel chart (throughput, resources, CPU against load).
const PANEL_HEIGHT: u32 = 330;
/// Height of a chart with one panel only (latency over time, latency against load).
const SINGLE_HEIGHT: u32 = 480;

/// Layout of a panel, in pixels. [`draw_panel`] uses the same figures to build the chart and to
/// place the labels of vertical lines above it, so they must agree.
const MARGIN: u32 = 12;
const HEADER: u32 = 28;
const LABEL_ROW: u32 = 16;
const X_LABEL_AREA: u32 = 44;
const Y_LABEL_AREA: u32 = 80;

/// plotters font sizes; the SVG backend writes `size / 1.24` as the CSS font size.
const TITLE_FONT: u32 = 18;
const TEXT_FONT: u32 = 15;

/// A log y axis is used when the largest value is more than this many times the smallest.
const LOG_SPREAD: f64 = 30.0;
/// A sweep's rate axis is logarithmic when its highest rate is more than this many times its
/// lowest, as in a geometric sweep (1k, 2k, 5k, ... 1M); an arithmetic sweep stays linear.
const LOG_RATE_SPREAD: f64 = 20.0;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 120, 20);
const GREEN: RGBColor = RGBColor(44, 150, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(110, 110, 110);
const DARK: RGBColor = RGBColor(60, 60, 60);
/// Background of the x bands where a sweep step was not sustainable.
const BAND: RGBColor = RGBColor(250, 215, 215);

const TIME_AXIS: &str = "time since load start (s)";
const RATE_AXIS: &str = "offered rate (lines/s)";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One line of a panel: `(x, y)` points, `None` where there is no value.
struct Series {
    name: &'static str,
    color: RGBColor,
    points: Vec<(f64, Option<f64>)>,
    /// Draw a dot on every point (sweeps: each point is one step), not only on isolated ones.
    dots: bool,
    /// Draw the line dashed (reference lines such as "offered").
    dashed: bool,
}

/// A vertical line across the plot, labelled above it.
struct VLine {
    x: f64,
    label: String,
    color: RGBColor,
}

/// A horizontal line across the plot, labelled at its right end.
struct HLine {
    y: f64,
    label: String,
    color: RGBColor,
}

/// Everything one panel shows.
struct Panel {
    title: String,
    x_title: &'static str,
    y_title: &'static str,
    series: Vec<Series>,
    vlines: Vec<VLine>,
    hlines: Vec<HLine>,
    /// X intervals shaded as not sustainable; open ends may be infinite and are clipped.
    bands: Vec<(f64, f64)>,
    /// Use a log x axis (when every x is positive).
    x_log: bool,
    /// Use a log y axis when the values spread over more than [`LOG_SPREAD`].
    y_log_if_spread: bool,
    /// Said in the middle of the plot when no series has a single point.
    empty: &'static str,
    /// Tick label formats.
    x_fmt: fn(f64) -> String,
    y_fmt: fn(f64) -> String,
}

impl Panel {
    fn new(title: impl Into<String>, x_title: &'static str, y_title: &'static str) -> Self {
        Panel {
            title: title.into(),
            x_title,
            y_title,
            series: Vec::new(),
            vlines: Vec::new(),
            hlines: Vec::new(),
            bands: Vec::new(),
            x_log: false,
            y_log_if_spread: false,
            empty: "no samples",
            x_fmt: human::tick,
            y_fmt: human::tick,
        }
    }

    fn line(
        mut self,
        name: &'static str,
        color: RGBColor,
        points: Vec<(f64, Option<f64>)>,
    ) -> Self {
        self.series.push(Series {
            name,
            color,
            points,
            dots: false,
            dashed: false,
        });
        self
    }

    /// Marks every point of the last series added: for sweeps, where each point is a step.
    fn dots(mut self) -> Self {
        if let Some(s) = self.series.last_mut() {
            s.dots = true;
        }
        self
    }

    /// Draws the last series added dashed, as a reference rather than a measurement.
    fn dashed(mut self) -> Self {
        if let Some(s) = self.series.last_mut() {
            s.dashed = true;
        }
        self
    }
}

/// A linear or logarithmic axis, chosen at run time, with its tick label format.
///
/// plotters types linear and log axes differently; one [`Ranged`] type for both lets one
/// drawing function serve either, and lets the tick labels use [`human`] formats. The log axis
/// is drawn here rather than with plotters' `LogCoord`, whose ticks crowd (it labels 60k, 70k,
/// 80k, 90k, 100k side by side); ours are 1-2-5 per decade, or fewer when space is short.
struct Scale {
    kind: ScaleKind,
    fmt: fn(f64) -> String,
}

enum ScaleKind {
    Linear(RangedCoordf64),
    /// `log10` of the range's ends; the range itself is positive.
    Log(Range<f64>),
}

impl Scale {
    fn new(range: Range<f64>, log: bool, fmt: fn(f64) -> String) -> Scale {
        let kind = if log {
            ScaleKind::Log(range.start.log10()..range.end.log10())
        } else {
            ScaleKind::Linear(range.into())
        };
        Scale { kind, fmt }
    }
}

impl Ranged for Scale {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        match &self.kind {
            ScaleKind::Linear(c) => c.map(value, limit),
            ScaleKind::Log(l) => {
                let f = (value.log10() - l.start) / (l.end - l.start);
                limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
            }
        }
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match &self.kind {
            ScaleKind::Linear(c) => c.key_points(hint),
            ScaleKind::Log(l) => {
                let light = matches!(hint.weight(), KeyPointWeight::Any);
                log_ticks(l, hint.max_num_points(), light)
            }
        }
    }

    fn range(&self) -> Range<f64> {
        match &self.kind {
            ScaleKind::Linear(c) => c.range(),
            ScaleKind::Log(l) => 10f64.powf(l.start)..10f64.powf(l.end),
        }
    }
}

impl ValueFormatter<f64> for Scale {
    fn format_ext(&self, value: &f64) -> String {
        (self.fmt)(*value)
    }
}

/// Ticks of a log axis spanning `10^l.start ..= 10^l.end`: the densest of 1-2-5, 1-3 or 1 per
/// decade (every digit per decade too, for `light` grid lines) that has at most `max` ticks;
/// failing all, every n-th power of ten.
fn log_ticks(l: &Range<f64>, max: usize, light: bool) -> Vec<f64> {
    const ALL: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    const BOLD: [&[f64]; 3] = [&[1.0, 2.0, 5.0], &[1.0, 3.0], &[1.0]];
    let ticks = |mantissas: &[f64]| {
        let mut out = Vec::new();
        for e in (l.start.floor() as i32)..=(l.end.ceil() as i32) {
            for m in mantissas {
                let t = m * 10f64.powi(e);
                let lt = t.log10();
                if lt >= l.start && lt <= l.end {
                    out.push(t);
                }
            }
        }
        out
    };
    let sets = std::iter::once(ALL).filter(|_| light).chain(BOLD);
    for set in sets {
        let t = ticks(set);
        if t.len() <= max {
            return t;
        }
    }
    let decades = ticks(&[1.0]);
    let step = decades.len().div_ceil(max.max(1));
    decades.into_iter().step_by(step).collect()
}

/// The range a linear axis shows for `values` (already finite): from zero (or the lowest value,
/// if negative) to the highest value plus `headroom`, a fraction of the span. Never empty.
fn linear_range(values: &[f64], headroom: f64) -> Range<f64> {
    let lo = values.iter().copied().fold(0.0, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    if hi == lo {
        // No values, or every value is zero.
        return 0.0..1.0;
    }
    lo..hi + (hi - lo) * headroom
}

/// The range a log axis shows for `values` (finite and positive): from the lowest value divided
/// by `pad` to the highest times `pad`. Never empty.
fn log_range(values: &[f64], pad: f64) -> Range<f64> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() && hi.is_finite() {
        lo / pad..hi * pad
    } else {
        1.0..10.0
    }
}

/// Whether values (already finite) spread enough for a log axis, and can go on one.
fn wants_log(values: &[f64], spread: f64) -> bool {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    lo > 0.0 && hi / lo > spread
}

/// The finite value of `v`, if any, that a (log, if `log`) axis can show.
fn drawable(v: Option<f64>, log: bool) -> Option<f64> {
    v.filter(|v| v.is_finite() && (!log || *v > 0.0))
}

/// Runs of consecutive drawable points: a line is broken where a value is missing.
fn runs(points: &[(f64, Option<f64>)], x_log: bool, y_log: bool) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for &(x, y) in points {
        match (drawable(Some(x), x_log), drawable(y, y_log)) {
            (Some(x), Some(y)) => out.last_mut().expect("never empty").push((x, y)),
            _ => {
                if !out.last().expect("never empty").is_empty() {
                    out.push(Vec::new());
                }
            }
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

fn text(size: u32, color: &RGBColor) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(color)
}

/// Width of `s` as plotters estimates it (see the module docs: an estimate, on the wide side).
fn text_width(area: &Area, s: &str, size: u32) -> Result<i32> {
    let (w, _) = area.estimate_text_size(s, &TextStyle::from(("sans-serif", size).into_font()))?;
    Ok(i32::try_from(w).unwrap_or(i32::MAX))
}

/// Assigns each label `(left, right)` the first row where it overlaps no earlier label.
fn label_rows(extents: &[(i32, i32)]) -> Vec<usize> {
    let mut row_ends: Vec<i32> = Vec::new();
    extents
        .iter()
        .map(|&(left, right)| {
            let row = row_ends
                .iter()
                .position(|&end| end < left)
                .unwrap_or(row_ends.len());
            if row == row_ends.len() {
                row_ends.push(right);
            } else {
                row_ends[row] = right;
            }
            row
        })
        .collect()
}

/// How a legend entry shows what it names.
enum Key {
    Line,
    Dashed,
    Box,
}

/// Draws one panel into `area`.
fn draw_panel(area: &Area, p: &Panel) -> Result<()> {
    let (width, _) = area.dim_in_pixel();
    let width = i32::try_from(width)?;

    // Axis ranges, from the values that will be drawn.
    let x_log = p.x_log && {
        let xs: Vec<f64> = p
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|pt| pt.0))
            .collect();
        !xs.is_empty() && xs.iter().all(|x| x.is_finite() && *x > 0.0)
    };
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for s in &p.series {
        for &(x, y) in &s.points {
            if let Some(x) = drawable(Some(x), x_log) {
                xs.push(x);
                if let Some(y) = drawable(y, false) {
                    ys.push(y);
                }
            }
        }
    }
    let has_data = !ys.is_empty();
    xs.extend(p.vlines.iter().filter_map(|v| drawable(Some(v.x), x_log)));
    ys.extend(p.hlines.iter().filter_map(|h| drawable(Some(h.y), false)));
    let y_log = p.y_log_if_spread && wants_log(&ys, LOG_SPREAD);
    if y_log {
        ys.retain(|y| *y > 0.0);
    }
    let x_range = if x_log {
        log_range(&xs, 1.25)
    } else {
        linear_range(&xs, 0.0)
    };
    let y_range = if y_log {
        log_range(&ys, 2.0)
    } else {
        linear_range(&ys, 0.08)
    };

    // Where the plot's x axis lies, for placing the labels of vertical lines above it (the
    // chart below is built with the same margins and label area).
    let x_scale = Scale::new(x_range.clone(), x_log, p.x_fmt);
    let plot_x = ((MARGIN + Y_LABEL_AREA) as i32, width - MARGIN as i32);
    let vlines: Vec<(&VLine, i32)> = p
        .vlines
        .iter()
        .filter(|v| within(&x_range, v.x))
        .map(|v| (v, x_scale.map(&v.x, plot_x)))
        .collect();
    let mut extents = Vec::with_capacity(vlines.len());
    for (v, px) in &vlines {
        let w = text_width(area, &v.label, TEXT_FONT)?;
        // Left-aligned after the line, unless that runs off the right edge.
        extents.push(if px + 4 + w <= plot_x.1 {
            (px + 4, px + 4 + w)
        } else {
            (px - 4 - w, px - 4)
        });
    }
    let rows = label_rows(&extents);
    let n_rows = rows.iter().max().map_or(0, |r| r + 1) as u32;

    let (header, rest) = area.split_vertically(HEADER);
    let (strip, body) = rest.split_vertically(n_rows * LABEL_ROW);

    // Header: title on the left, legend on the right.
    let title_style = text(TITLE_FONT, &BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let mid = (HEADER / 2) as i32;
    header.draw_text(&p.title, &title_style, (plot_x.0, mid))?;
    let legend_style = text(TEXT_FONT, &BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let mut entries: Vec<(&str, RGBColor, Key)> = p
        .series
        .iter()
        .map(|s| {
            (
                s.name,
                s.color,
                if s.dashed { Key::Dashed } else { Key::Line },
            )
        })
        .collect();
    if !p.bands.is_empty() {
        entries.push(("not sustainable", BAND, Key::Box));
    }
    let mut x = plot_x.1;
    for (name, color, key) in entries.iter().rev() {
        x -= text_width(area, name, TEXT_FONT)? + 26;
        match key {
            Key::Line => header.draw(&PathElement::new(
                vec![(x, mid), (x + 18, mid)],
                color.stroke_width(3),
            ))?,
            Key::Dashed => {
                for dash in [x, x + 12] {
                    header.draw(&PathElement::new(
                        vec![(dash, mid), (dash + 6, mid)],
                        color.stroke_width(2),
                    ))?;
                }
            }
            Key::Box => header.draw(&Rectangle::new(
                [(x, mid - 6), (x + 18, mid + 6)],
                color.filled(),
            ))?,
        }
        header.draw_text(name, &legend_style, (x + 22, mid))?;
        x -= 14;
    }

    // Labels of the vertical lines, in their rows above the plot.
    for (((v, _), (left, _)), row) in vlines.iter().zip(&extents).zip(&rows) {
        let y = (*row as u32 * LABEL_ROW + LABEL_ROW / 2) as i32;
        let style = text(TEXT_FONT, &v.color).pos(Pos::new(HPos::Left, VPos::Center));
        strip.draw_text(&v.label, &style, (*left, y))?;
    }

    let mut chart = ChartBuilder::on(&body)
        .margin_left(MARGIN)
        .margin_right(MARGIN)
        .margin_top(4)
        .margin_bottom(MARGIN / 2)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x_scale, Scale::new(y_range.clone(), y_log, p.y_fmt))?;

    // Shaded bands first, so that lines and points are drawn over them.
    for &(lo, hi) in &p.bands {
        let (lo, hi) = (lo.max(x_range.start), hi.min(x_range.end));
        if lo < hi {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(lo, y_range.start), (hi, y_range.end)],
                BAND.filled(),
            )))?;
        }
    }

    chart
        .configure_mesh()
        .x_desc(axis_title(p.x_title, x_log))
        .y_desc(axis_title(p.y_title, y_log))
        .x_labels(10)
        .y_labels(8)
        .label_style(("sans-serif", TEXT_FONT))
        .axis_desc_style(("sans-serif", TEXT_FONT))
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;

    for h in &p.hlines {
        if !within(&y_range, h.y) {
            continue;
        }
        chart.draw_series(DashedLineSeries::new(
            vec![(x_range.start, h.y), (x_range.end, h.y)],
            8,
            5,
            h.color.stroke_width(2),
        ))?;
        let at = chart.backend_coord(&(x_range.end, h.y));
        let base = body.get_base_pixel();
        let style = text(TEXT_FONT, &h.color).pos(Pos::new(HPos::Right, VPos::Bottom));
        body.draw_text(&h.label, &style, (at.0 - base.0 - 4, at.1 - base.1 - 3))?;
    }
    for (v, _) in &vlines {
        chart.draw_series(DashedLineSeries::new(
            vec![(v.x, y_range.start), (v.x, y_range.end)],
            6,
            4,
            v.color.stroke_width(1),
        ))?;
    }

    for s in &p.series {
        for run in runs(&s.points, x_log, y_log) {
            if s.dashed {
                chart.draw_series(DashedLineSeries::new(
                    run.clone(),
                    6,
                    4,
                    s.color.stroke_width(1),
                ))?;
            } else {
                chart.draw_series(LineSeries::new(run.clone(), s.color.stroke_width(2)))?;
            }
            if s.dots || run.len() == 1 {
                chart.draw_series(run.iter().map(|&pt| Circle::new(pt, 3, s.color.filled())))?;
            }
        }
    }

    if !has_data {
        let centre = chart.backend_coord(&(midpoint(&x_range, x_log), midpoint(&y_range, y_log)));
        let base = body.get_base_pixel();
        let style = text(TITLE_FONT, &GREY).pos(Pos::new(HPos::Center, VPos::Center));
        body.draw_text(p.empty, &style, (centre.0 - base.0, centre.1 - base.1))?;
    }
    Ok(())
}

fn axis_title(title: &str, log: bool) -> String {
    if log {
        format!("{title}, log scale")
    } else {
        title.to_owned()
    }
}

/// Whether `v` lies on an axis with range `r`, ends included (a mark at the last sample is
/// at the very end of the axis).
fn within(r: &Range<f64>, v: f64) -> bool {
    r.start <= v && v <= r.end
}

/// The middle of an axis range, geometric on a log axis.
fn midpoint(r: &Range<f64>, log: bool) -> f64 {
    if log {
        (r.start * r.end).sqrt()
    } else {
        (r.start + r.end) / 2.0
    }
}

/// Renders panels stacked vertically into one SVG document.
fn render(height_per_panel: u32, panels: &[Panel]) -> Result<String> {
    let mut svg = String::new();
    {
        let height = height_per_panel * u32::try_from(panels.len())?;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        for (area, panel) in root.split_evenly((panels.len(), 1)).iter().zip(panels) {
            draw_panel(area, panel)?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// The run's marks as vertical lines.
fn marks(r: &RunReport) -> Vec<VLine> {
    r.marks
        .iter()
        .map(|m| VLine {
            x: m.t,
            label: m.what.clone(),
            color: DARK,
        })
        .collect()
}

fn timeline(r: &RunReport, f: impl Fn(&Sample) -> Option<f64>) -> Vec<(f64, Option<f64>)> {
    r.timeline.iter().map(|s| (s.t, f(s))).collect()
}

/// `throughput.svg`: lines/s received and written, and MB/s received, over time.
pub(super) fn throughput(r: &RunReport) -> Result<String> {
    let mut lines = Panel::new("Throughput: lines per second", TIME_AXIS, "lines/s")
        // Written first, so that received is drawn over it where the two are equal.
        .line("written", ORANGE, timeline(r, |s| Some(s.written_per_sec)))
        .line("received", BLUE, timeline(r, |s| Some(s.received_per_sec)));
    lines.vlines = marks(r);
    let mut mb = Panel::new(
        "Throughput: megabytes per second received",
        TIME_AXIS,
        "MB/s",
    )
    .line(
        "received MB/s",
        BLUE,
        timeline(r, |s| Some(s.received_mb_per_sec)),
    );
    mb.vlines = marks(r);
    render(PANEL_HEIGHT, &[lines, mb])
}

/// `latency.svg`: p50, p99, p99.9 and max latency over time.
pub(super) fn latency(r: &RunReport) -> Result<String> {
    let mut p = Panel::new("End-to-end latency", TIME_AXIS, "latency (ms)")
        .line("p50", BLUE, timeline(r, |s| s.p50_ms))
        .line("p99", ORANGE, timeline(r, |s| s.p99_ms))
        .line("p99.9", RED, timeline(r, |s| s.p999_ms))
        .line("max", PURPLE, timeline(r, |s| s.max_ms));
    p.vlines = marks(r);
    p.y_log_if_spread = true;
    p.y_fmt = human::tick_plain;
    p.empty = "no line received";
    render(SINGLE_HEIGHT, &[p])
}

/// `resources.svg`: CPU % and RSS of the system under test over time.
pub(super) fn resources(r: &RunReport) -> Result<String> {
    let mut cpu = Panel::new(
        "CPU of the system under test",
        TIME_AXIS,
        "CPU (% of one core)",
    )
    .line("CPU", GREEN, timeline(r, |s| s.cpu_percent));
    cpu.vlines = marks(r);
    let mut rss = Panel::new("Memory of the system under test", TIME_AXIS, "RSS (MiB)").line(
        "RSS",
        PURPLE,
        timeline(r, |s| s.rss_bytes.map(|b| b as f64 / (1024.0 * 1024.0))),
    );
    rss.vlines = marks(r);
    render(PANEL_HEIGHT, &[cpu, rss])
}

/// The decorations every sweep panel shares: the highest sustainable rate as a vertical line,
/// the unsustainable steps as shaded bands, and the rate axis.
fn sweep_panel(r: &SweepReport, title: &str, y_title: &'static str) -> Panel {
    let mut steps: Vec<_> = r
        .steps
        .iter()
        .filter(|s| s.offered_rate.is_finite())
        .collect();
    steps.sort_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate));
    let rates: Vec<f64> = steps.iter().map(|s| s.offered_rate).collect();
    let x_log = wants_log(&rates, LOG_RATE_SPREAD);

    let mut p = Panel::new(title, RATE_AXIS, y_title);
    p.x_log = x_log;
    // Each unsustainable step owns the x interval halfway to its neighbours (geometrically
    // halfway on a log axis); the first and last extend to the edge of the plot.
    for i in (0..steps.len()).filter(|&i| !steps[i].sustainable) {
        let lo = i.checked_sub(1).map_or(f64::NEG_INFINITY, |j| {
            midpoint(&(rates[j]..rates[i]), x_log)
        });
        let hi = rates
            .get(i + 1)
            .map_or(f64::INFINITY, |&next| midpoint(&(rates[i]..next), x_log));
        p.bands.push((lo, hi));
    }
    if let Some(max) = r.max_sustainable_rate.filter(|m| m.is_finite()) {
        p.vlines.push(VLine {
            x: max,
            label: format!("highest sustainable: {}", human::per_sec(max, "lines")),
            color: GREEN,
        });
    }
    p
}

fn steps(r: &SweepReport, f: impl Fn(&SweepStep) -> Option<f64>) -> Vec<(f64, Option<f64>)> {
    let mut pts: Vec<_> = r.steps.iter().map(|s| (s.offered_rate, f(s))).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// `latency-vs-load.svg`: p50, p99 and p99.9 against the offered rate, with the SLO.
pub(super) fn latency_vs_load(r: &SweepReport) -> Result<String> {
    let mut p = sweep_panel(r, "Latency against offered load", "latency (ms)")
        .line(
            "p50",
            BLUE,
            steps(r, |s| s.latency.as_ref().map(|l| l.p50_ms)),
        )
        .dots()
        .line(
            "p99",
            ORANGE,
            steps(r, |s| s.latency.as_ref().map(|l| l.p99_ms)),
        )
        .dots()
        .line(
            "p99.9",
            RED,
            steps(r, |s| s.latency.as_ref().map(|l| l.p999_ms)),
        )
        .dots();
    p.y_log_if_spread = true;
    p.y_fmt = human::tick_plain;
    p.empty = "no line received";
    if r.slo_p99_ms.is_finite() && r.slo_p99_ms > 0.0 {
        p.hlines.push(HLine {
            y: r.slo_p99_ms,
            label: format!("SLO: p99 ≤ {}", human::ms(r.slo_p99_ms)),
            color: RED,
        });
    }
    render(SINGLE_HEIGHT, &[p])
}

/// `cpu-vs-load.svg`: CPU % and received rate against the offered rate.
pub(super) fn cpu_vs_load(r: &SweepReport) -> Result<String> {
    let cpu = sweep_panel(r, "CPU against offered load", "CPU (% of one core)")
        .line("CPU", GREEN, steps(r, |s| Some(s.cpu_percent_mean)))
        .dots();
    let received = sweep_panel(r, "Received against offered load", "received (lines/s)")
        .line("received", BLUE, steps(r, |s| Some(s.received_rate)))
        .dots()
        .line("offered", GREY, steps(r, |s| Some(s.offered_rate)))
        .dashed();
    render(PANEL_HEIGHT, &[cpu, received])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use crate::report::model::{Mark, Sample, SweepStep};

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(linear_range(&[], 0.1), 0.0..1.0);
        assert_eq!(linear_range(&[0.0, 0.0], 0.1), 0.0..1.0);
        assert_eq!(linear_range(&[5.0], 0.0), 0.0..5.0);
        assert_eq!(linear_range(&[2.0, 4.0], 0.5), 0.0..6.0);
        assert_eq!(linear_range(&[-2.0, 2.0], 0.0), -2.0..2.0);
        assert_eq!(log_range(&[], 2.0), 1.0..10.0);
        assert_eq!(log_range(&[3.0], 2.0), 1.5..6.0);
    }

    #[test]
    fn log_axis_only_for_positive_spread_values() {
        assert!(wants_log(&[1.0, 100.0], 30.0));
        assert!(!wants_log(&[1.0, 20.0], 30.0));
        assert!(!wants_log(&[0.0, 100.0], 30.0));
        assert!(!wants_log(&[], 30.0));
    }

    #[test]
    fn log_ticks_thin_out_when_space_is_short() {
        let decades = 0.0..3.0; // 1 to 1000
        assert_eq!(
            log_ticks(&decades, 10, false),
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        assert_eq!(log_ticks(&decades, 5, false), [1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(log_ticks(&decades, 2, false), [1.0, 100.0]);
        assert_eq!(log_ticks(&decades, 100, true).len(), 28);
        // Ticks stay inside the range.
        assert_eq!(
            log_ticks(&(0.5f64.log10()..30f64.log10()), 10, false),
            [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
        );
    }

    #[test]
    fn lines_break_where_values_are_missing() {
        let pts = [
            (1.0, Some(1.0)),
            (2.0, Some(2.0)),
            (3.0, None),
            (4.0, Some(f64::NAN)),
            (5.0, Some(5.0)),
            (6.0, Some(0.0)),
            (f64::INFINITY, Some(7.0)),
        ];
        assert_eq!(
            runs(&pts, false, false),
            [vec![(1.0, 1.0), (2.0, 2.0)], vec![(5.0, 5.0), (6.0, 0.0)]]
        );
        assert_eq!(
            runs(&pts, false, true),
            [vec![(1.0, 1.0), (2.0, 2.0)], vec![(5.0, 5.0)]]
        );
    }

    #[test]
    fn overlapping_labels_take_new_rows() {
        assert_eq!(label_rows(&[]), Vec::<usize>::new());
        assert_eq!(label_rows(&[(0, 100), (101, 200)]), [0, 0]);
        assert_eq!(
            label_rows(&[(0, 100), (50, 150), (120, 200), (160, 300)]),
            [0, 1, 0, 1]
        );
        assert_eq!(label_rows(&[(0, 100), (10, 110), (20, 120)]), [0, 1, 2]);
    }

    fn no_bad_numbers(svg: &str) {
        assert!(svg.starts_with("<svg"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn odd_timelines_render() {
        let sample = Sample {
            t: 5.0,
            written_per_sec: f64::NAN,
            received_per_sec: f64::INFINITY,
            received_mb_per_sec: 0.0,
            p50_ms: Some(f64::NAN),
            p99_ms: Some(0.0),
            p999_ms: Some(f64::NEG_INFINITY),
            max_ms: None,
            cpu_percent: Some(0.0),
            ..Sample::default()
        };
        let mut r = fixtures::empty_run();
        r.marks = vec![
            Mark {
                t: f64::NAN,
                what: "never".to_owned(),
            },
            Mark {
                t: 5.0,
                what: "at the only sample".to_owned(),
            },
        ];
        for timeline in [vec![sample.clone()], vec![sample.clone(), sample]] {
            r.timeline = timeline;
            for svg in [throughput(&r), latency(&r), resources(&r)] {
                let svg = svg.unwrap();
                no_bad_numbers(&svg);
                assert!(svg.contains("at the only sample"));
                assert!(!svg.contains("never"));
            }
        }
    }

    #[test]
    fn odd_sweeps_render() {
        let mut r = fixtures::sweep();
        r.steps.push(SweepStep {
            offered_rate: f64::NAN,
            received_rate: f64::INFINITY,
            ..SweepStep::default()
        });
        r.max_sustainable_rate = Some(f64::INFINITY);
        r.slo_p99_ms = f64::NAN;
        for svg in [latency_vs_load(&r), cpu_vs_load(&r)] {
            let svg = svg.unwrap();
            no_bad_numbers(&svg);
            assert!(!svg.contains("highest sustainable"));
            assert!(!svg.contains("SLO"));
        }
        let svg = latency_vs_load(&SweepReport::default()).unwrap();
        no_bad_numbers(&svg);
        assert!(svg.contains("no line received"));
    }
}
