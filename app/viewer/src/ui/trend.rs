//! A property's trend over its history buffer (egui_plot), with its limits drawn as
//! horizontal lines in the colour of what lies beyond them; with an archive, a “History”
//! button opens it in the Trends window, which zooms from a year to a second.

use bevy_egui::egui::{self, RichText};
use egui_plot::{HLine, Line, LineStyle, Plot};
use twinscope_core::twin::Status;

use super::model::PropertyRow;
use super::panels::status_color;

/// Draws the trend; returns whether its long-range history was asked for.
pub fn trend_plot(ui: &mut egui::Ui, twin_id: &str, row: &PropertyRow, history: bool) -> bool {
    let mut open_history = false;
    let title = RichText::new(format!("{} [{}]", row.name, row.unit)).small();
    if history {
        ui.horizontal(|ui| {
            ui.label(title);
            open_history = ui
                .small_button("History")
                .on_hover_text(
                    "zoom through this property's archived history, from a year to a second",
                )
                .clicked();
        });
    } else {
        // Laid out as it always was: the headset panel's buttons stay where hands expect them.
        ui.label(title);
    }
    if row.trend.len() < 2 {
        return open_history;
    }
    let plot = Plot::new(("trend", twin_id, &row.name))
        .height(72.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_axes([false, true])
        .x_axis_formatter(|mark, _| format!("{:.0} s", mark.value));
    plot.show(ui, |plot_ui| {
        plot_ui.line(
            Line::new(row.name.clone(), row.trend.clone()).color(status_color(
                if row.status > Status::Ok {
                    row.status
                } else {
                    Status::Ok
                },
            )),
        );
        for limit in &row.limits {
            let style = if limit.status == Status::Ok {
                LineStyle::dashed_dense()
            } else {
                LineStyle::dashed_loose()
            };
            plot_ui.hline(
                HLine::new(limit.label.clone(), limit.value)
                    .color(status_color(limit.status))
                    .style(style),
            );
        }
    });
    open_history
}
