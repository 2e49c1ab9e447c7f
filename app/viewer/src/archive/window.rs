//! The Trends window: several properties on one shared time axis, zoomed and panned from a
//! year down to single samples. Each plot is one column of data per pixel column: the band
//! is each column's min..max, the line its mean (so a spike shows at every zoom), raw
//! samples once there are at most two per column; the live tail from the twin's history joins
//! on after the newest archived sample. Alarm limits are drawn as lines and alarm periods as
//! shaded spans.

use bevy_egui::egui::{self, Color32, RichText};
use egui_plot::{FilledArea, HLine, Line, LineStyle, Plot, Points, Span};
use twinscope_core::archive::{Level, TrendQuery};
use twinscope_core::time::Timestamp;
use twinscope_core::time_zone::PlantClock;
use twinscope_core::twin::Status;

use super::loader::Loaded;
use crate::ui::panels::status_color;

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

/// Spans the buttons offer, with their labels.
pub const SPANS: [(&str, i64); 7] = [
    ("1 min", 60 * SECOND),
    ("1 h", 3_600 * SECOND),
    ("1 d", DAY),
    ("7 d", 7 * DAY),
    ("30 d", 30 * DAY),
    ("1 y", 365 * DAY),
    ("all", 0),
];

/// One property in the window.
#[derive(Debug, Clone)]
pub struct TrendSeries {
    pub id: u64,
    pub twin: String,
    pub property: String,
    pub unit: String,
    /// The newest answer drawn.
    pub loaded: Option<Loaded>,
    /// The last request sent.
    pub wanted: Option<TrendQuery>,
}

/// What the live store adds to a series: its recent samples and its alarm limits.
#[derive(Debug, Clone, Default)]
pub struct SeriesLive {
    pub tail: Vec<(i64, f64)>,
    pub limits: Vec<(f64, Status, String)>,
}

/// The window's state between frames.
#[derive(Debug, Clone)]
pub struct TrendWindow {
    pub open: bool,
    pub series: Vec<TrendSeries>,
    /// The time axis, UTC µs.
    pub from: i64,
    pub to: i64,
    /// The axis ends at now and moves with it.
    pub follow_live: bool,
    /// The archive's first day (for "all").
    pub archive_start: Option<i64>,
    /// Set the plots' axis to `from..to` next frame (a button, not a drag).
    pub reset_axis: bool,
    /// The plot width in columns last frame.
    pub columns: usize,
    next_id: u64,
}

impl Default for TrendWindow {
    fn default() -> Self {
        let now = Timestamp::now().0;
        TrendWindow {
            open: false,
            series: Vec::new(),
            from: now - DAY,
            to: now,
            follow_live: true,
            archive_start: None,
            reset_axis: true,
            columns: 0,
            next_id: 1,
        }
    }
}

impl TrendWindow {
    /// Adds a series (once) and opens the window.
    pub fn add(&mut self, twin: &str, property: &str, unit: &str) {
        self.open = true;
        if self
            .series
            .iter()
            .any(|s| s.twin == twin && s.property == property)
        {
            return;
        }
        self.series.push(TrendSeries {
            id: self.next_id,
            twin: twin.to_owned(),
            property: property.to_owned(),
            unit: unit.to_owned(),
            loaded: None,
            wanted: None,
        });
        self.next_id += 1;
    }

    /// Shows the last `span` (µs), following live.
    pub fn show_last(&mut self, span: i64, now: i64) {
        self.from = now - span;
        self.to = now;
        self.follow_live = true;
        self.reset_axis = true;
    }

    /// Takes in an answer, if it is for a series still shown.
    pub fn take(&mut self, loaded: Loaded) {
        if let Some(series) = self.series.iter_mut().find(|s| s.id == loaded.series) {
            series.loaded = Some(loaded);
        }
    }

    /// Whether any series waits for an answer to its newest request.
    pub fn loading(&self) -> bool {
        self.series
            .iter()
            .any(|s| s.wanted.as_ref() != s.loaded.as_ref().map(|l| &l.query))
    }

    /// The requests to send so every series has data for the axis at the plot's width:
    /// sent when the axis moved by more than half a column, or the width changed.
    pub fn requests(&mut self) -> Vec<(u64, TrendQuery)> {
        if self.columns == 0 {
            return Vec::new();
        }
        let slack = ((self.to - self.from) / self.columns as i64 / 2).max(1);
        let (from, to, columns) = (self.from, self.to, self.columns);
        let mut out = Vec::new();
        for series in &mut self.series {
            let stale = series.wanted.as_ref().is_none_or(|w| {
                w.columns != columns || (w.from - from).abs() > slack || (w.to - to).abs() > slack
            });
            if stale {
                let query = TrendQuery {
                    twin: series.twin.clone(),
                    property: series.property.clone(),
                    from,
                    to,
                    columns,
                };
                series.wanted = Some(query.clone());
                out.push((series.id, query));
            }
        }
        out
    }
}

/// The band and mean of a series as drawn: per column (x at its middle, in seconds), its min,
/// max and mean, the archive's and then the live tail's.
pub fn drawn_columns(loaded: &Loaded, tail: &[(i64, f64)]) -> Vec<(f64, f64, f64, f64)> {
    let trend = &loaded.trend;
    let half = trend.width as f64 / 2.0;
    trend
        .columns_with_tail(tail.iter().copied())
        .iter()
        .map(|c| ((c.start as f64 + half) / 1e6, c.min, c.max, c.mean()))
        .collect()
}

/// Draws the window; returns whether it is still open.
pub fn trend_window(
    ctx: &egui::Context,
    window: &mut TrendWindow,
    live: &[SeriesLive],
    clock: &PlantClock,
    now: i64,
) {
    let mut open = window.open;
    egui::Window::new("Trends")
        .id(egui::Id::new("twinscope-trends"))
        .open(&mut open)
        .default_size([900.0, 460.0])
        .resizable(true)
        .show(ctx, |ui| trend_contents(ui, window, live, clock, now));
    window.open = open;
}

/// The window's inside (also what a test draws).
pub fn trend_contents(
    ui: &mut egui::Ui,
    window: &mut TrendWindow,
    live: &[SeriesLive],
    clock: &PlantClock,
    now: i64,
) {
    ui.horizontal_wrapped(|ui| {
        for (label, span) in SPANS {
            if ui.button(label).clicked() {
                if span == 0 {
                    window.from = window.archive_start.unwrap_or(now - 365 * DAY);
                    window.to = now;
                    window.follow_live = true;
                    window.reset_axis = true;
                } else {
                    window.show_last(span, now);
                }
            }
        }
        ui.checkbox(&mut window.follow_live, "follow live")
            .on_hover_text("the axis ends at now and moves with it");
        if window.loading() {
            ui.spinner();
            ui.label(RichText::new("loading…").weak());
        }
    });
    if window.follow_live {
        let span = window.to - window.from;
        window.to = now;
        window.from = now - span;
    }
    if window.series.is_empty() {
        ui.label("No properties yet: press “History” beside a property in the inspector.");
        return;
    }
    let plot_height =
        ((ui.available_height() - 8.0) / window.series.len() as f32 - 24.0).clamp(70.0, 260.0);
    let mut remove = None;
    let mut axis = None;
    let reset = std::mem::take(&mut window.reset_axis) || window.follow_live;
    for (k, series) in window.series.iter().enumerate() {
        let empty = SeriesLive::default();
        let live = live.get(k).unwrap_or(&empty);
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("{} · {}", series.twin, series.property)).strong());
            if !series.unit.is_empty() {
                ui.label(format!("[{}]", series.unit));
            }
            if let Some(loaded) = &series.loaded {
                ui.label(RichText::new(describe(loaded)).small().weak());
                if !loaded.trend.warnings.is_empty() {
                    ui.label(
                        RichText::new(format!("{} files skipped", loaded.trend.warnings.len()))
                            .small()
                            .color(Color32::YELLOW),
                    )
                    .on_hover_text(loaded.trend.warnings.join("\n"));
                }
            }
            if ui
                .small_button("remove")
                .on_hover_text("remove from the trend view")
                .clicked()
            {
                remove = Some(k);
            }
        });
        let (from, to) = (window.from as f64 / 1e6, window.to as f64 / 1e6);
        let span = to - from;
        let response = Plot::new(("twinscope-trend", series.id))
            .height(plot_height)
            .link_axis("twinscope-trends", [true, false])
            .allow_zoom([true, false])
            .allow_scroll([true, false])
            .allow_drag([true, false])
            .allow_boxed_zoom(false)
            .allow_double_click_reset(false)
            .auto_bounds([false, true])
            .x_axis_formatter(move |mark, _| axis_label(clock, mark.value, span))
            // No hover label: the band and line speak for themselves.
            .label_formatter(|_| None)
            .show(ui, |plot| {
                if reset {
                    plot.set_plot_bounds_x(from..=to);
                }
                plot.set_auto_bounds([false, true]);
                let color = status_color(Status::Ok);
                if let Some(alarms) = series.loaded.as_ref().and_then(|l| l.alarms.as_ref()) {
                    for period in alarms {
                        let end = period.cleared.unwrap_or(now) as f64 / 1e6;
                        let severity = period.severity.as_deref().unwrap_or("");
                        let tint = match severity {
                            "critical" | "major" => {
                                Color32::from_rgba_unmultiplied(220, 60, 60, 40)
                            }
                            _ => Color32::from_rgba_unmultiplied(230, 170, 40, 40),
                        };
                        plot.add(
                            Span::new(
                                format!("{} {severity}", period.alarm_type),
                                period.raised as f64 / 1e6..=end,
                            )
                            .fill(tint)
                            .border_width(0.0),
                        );
                    }
                }
                if let Some(loaded) = &series.loaded {
                    let columns = drawn_columns(loaded, &live.tail);
                    let xs: Vec<f64> = columns.iter().map(|c| c.0).collect();
                    let mins: Vec<f64> = columns.iter().map(|c| c.1).collect();
                    let maxs: Vec<f64> = columns.iter().map(|c| c.2).collect();
                    plot.add(
                        FilledArea::new("min..max", &xs, &mins, &maxs)
                            .fill_color(color.gamma_multiply(0.35)),
                    );
                    if loaded.trend.samples.is_empty() {
                        let mean: Vec<[f64; 2]> = columns.iter().map(|c| [c.0, c.3]).collect();
                        plot.line(Line::new("mean", mean).color(color));
                    } else {
                        let newest = loaded.trend.newest.unwrap_or(i64::MIN);
                        let samples: Vec<[f64; 2]> = loaded
                            .trend
                            .samples
                            .iter()
                            .map(|s| (s.time, s.value))
                            .chain(live.tail.iter().copied().filter(|(t, _)| *t > newest))
                            .map(|(t, v)| [t as f64 / 1e6, v])
                            .collect();
                        plot.line(Line::new("samples", samples.clone()).color(color));
                        plot.points(Points::new("samples", samples).radius(2.0).color(color));
                    }
                }
                for (value, status, label) in &live.limits {
                    let style = if *status == Status::Ok {
                        LineStyle::dashed_dense()
                    } else {
                        LineStyle::dashed_loose()
                    };
                    plot.hline(
                        HLine::new(label.clone(), *value)
                            .color(status_color(*status))
                            .style(style),
                    );
                }
            });
        if axis.is_none() {
            let bounds = response.transform.bounds();
            axis = Some((
                bounds.min()[0],
                bounds.max()[0],
                response.response.rect.width(),
            ));
        }
        if response.response.dragged()
            || response.response.hovered()
                && ui.input(|i| i.smooth_scroll_delta.x != 0.0 || i.zoom_delta() != 1.0)
        {
            window.follow_live = false;
        }
    }
    if let Some((lo, hi, width)) = axis {
        if hi > lo && !window.follow_live {
            window.from = (lo * 1e6) as i64;
            window.to = (hi * 1e6) as i64;
        }
        window.columns = width.max(1.0).round() as usize;
    }
    if let Some(k) = remove {
        window.series.remove(k);
    }
}

/// What a series was drawn from: the level, and how long the read took.
fn describe(loaded: &Loaded) -> String {
    let trend = &loaded.trend;
    let level = trend.level.map_or("nothing", Level::as_str);
    let alarms = if loaded.alarms.is_none() {
        " · alarm periods: zoom in to a month"
    } else {
        ""
    };
    format!(
        "{level}, {} columns, {} files, {:.0} ms{alarms}",
        trend.columns.len(),
        trend.files_read,
        loaded.took.as_secs_f64() * 1e3
    )
}

/// A time axis label that says as much as the span needs.
fn axis_label(clock: &PlantClock, seconds: f64, span: f64) -> String {
    let time = Timestamp((seconds * 1e6) as i64);
    let text = clock.format(time);
    // "2026-12-07 05:30:12.345+01:00"
    if span > 3.0 * 86_400.0 {
        text.get(..10).unwrap_or(&text).to_owned()
    } else if span > 3_600.0 {
        text.get(5..16).unwrap_or(&text).to_owned()
    } else {
        text.get(11..19).unwrap_or(&text).to_owned()
    }
}
