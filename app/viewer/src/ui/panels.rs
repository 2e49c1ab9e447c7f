//! Drawing the views with egui. Reads views, returns commands; changes nothing itself.

use bevy_egui::egui::{self, Color32, RichText};
use twinscope_core::twin::Status;

use super::alarm_panel::{SEVERITIES, severity_color, state_chip};
use super::model::{
    ConnectionView, DvrBarView, InspectorView, RecordView, StatusBarView, TimelineView, UiCommand,
};
use crate::scene::focus::FocusMode;

pub fn status_color(status: Status) -> Color32 {
    match status {
        Status::Unknown => Color32::from_rgb(140, 140, 140),
        Status::Ok => Color32::from_rgb(90, 190, 110),
        Status::Warning => Color32::from_rgb(242, 158, 18),
        Status::Stale => Color32::from_rgb(120, 135, 165),
        Status::Alarm => Color32::from_rgb(230, 40, 40),
    }
}

fn status_chip(ui: &mut egui::Ui, status: Status) {
    ui.label(
        RichText::new(format!(" {} ", status.as_str().to_uppercase()))
            .strong()
            .color(Color32::BLACK)
            .background_color(status_color(status)),
    );
}

/// Alarm counts per severity, always visible: the first thing an operator reads. A click
/// opens the alarm list.
fn alarm_counts(ui: &mut egui::Ui, view: &StatusBarView, commands: &mut Vec<UiCommand>) {
    ui.horizontal(|ui| {
        if ui.button(RichText::new("Alarms (L)").strong()).clicked() {
            commands.push(UiCommand::ToggleAlarmList);
        }
        for severity in SEVERITIES {
            let count = view.alarms.active[severity as usize];
            let text = RichText::new(format!(" {} {} ", count, severity.as_str().to_uppercase()))
                .strong()
                .monospace();
            ui.label(if count > 0 {
                text.color(Color32::BLACK)
                    .background_color(severity_color(severity))
            } else {
                text.weak()
            });
        }
        let unacknowledged =
            RichText::new(format!("{} unacknowledged", view.alarms.unacknowledged)).strong();
        ui.label(if view.alarms.unacknowledged > 0 {
            unacknowledged.color(status_color(Status::Alarm))
        } else {
            unacknowledged.weak()
        });
        ui.label(RichText::new(format!("{} shelved", view.alarms.shelved)).weak());
        if ui.small_button("Tree (T)").clicked() {
            commands.push(UiCommand::ToggleTree);
        }
    });
}

/// The always-visible bar at the bottom: where data comes from and how healthy the feed is,
/// and the record button for the live session.
/// `text` cut to `limit` characters, with an ellipsis when cut (the whole text is on hover).
fn shortened(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

pub fn status_bar(ui: &mut egui::Ui, view: &StatusBarView, record: &RecordView) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    alarm_counts(ui, view, &mut commands);
    ui.horizontal_wrapped(|ui| {
        if record.available {
            match record.progress {
                None => {
                    if ui.button(RichText::new("■ Record").color(status_color(Status::Alarm))).on_hover_text("record the live session to MCAP").clicked() {
                        commands.push(UiCommand::StartRecording);
                    }
                }
                Some((seconds, bytes)) => {
                    let label = format!("■ Stop  {:02}:{:02}  {:.1} MB", seconds as u64 / 60, seconds as u64 % 60, bytes as f64 / 1e6);
                    if ui.button(RichText::new(label).color(status_color(Status::Alarm)).strong()).clicked() {
                        commands.push(UiCommand::StopRecording);
                    }
                }
            }
            ui.separator();
        }
        let (text, color) = if view.replay {
            ("■ REPLAY".to_owned(), Color32::from_rgb(120, 170, 255))
        } else {
            match &view.connection {
                ConnectionView::Connected => ("■ connected".to_owned(), Color32::from_rgb(90, 190, 110)),
                ConnectionView::Connecting => ("■ connecting…".to_owned(), Color32::from_rgb(242, 158, 18)),
                ConnectionView::Failed(why) => (format!("■ NO BROKER: {}", shortened(why, 90)), Color32::from_rgb(230, 40, 40)),
            }
        };
        let state = ui.label(RichText::new(text).color(color).strong());
        let source = ui.label(&view.source);
        if let Some(timeline) = &view.timeline {
            ui.label(RichText::new(format!("· {timeline}")).color(Color32::from_rgb(180, 150, 255)));
        }
        if !view.replay {
            let details = match &view.connection {
                ConnectionView::Failed(why) => format!("{why}\n{}", view.connection_details),
                _ => view.connection_details.clone(),
            };
            state.on_hover_text(&details);
            source.on_hover_text(&details);
        }
        ui.separator();
        ui.label(format!("{:.0} msg/s", view.messages_per_second));
        ui.separator();
        let errors = RichText::new(format!("{} decode errors", view.decode_errors));
        ui.label(if view.decode_errors > 0 { errors.color(Color32::from_rgb(242, 158, 18)) } else { errors });
        if view.refused != Default::default() {
            ui.label(RichText::new(format!("refused by caps: {} new twins, {} new properties", view.refused.twins, view.refused.entries)).color(Color32::from_rgb(242, 158, 18)))
                .on_hover_text("the scene's [twins] max_twins and max_properties_per_twin keep a broker's made-up topics from growing memory without end");
        }
        if view.unknown_topics > 0 {
            ui.label(format!("{} unknown topics", view.unknown_topics));
        }
        if view.coalesced > 0 {
            ui.label(RichText::new(format!("{} merged while behind", view.coalesced)).weak())
                .on_hover_text("the viewer fell behind; repeated values were merged into the latest one (no alarm or registration is ever merged)");
        }
        if view.reconnects > 0 {
            ui.label(format!("{} reconnects", view.reconnects));
        }
        ui.separator();
        for status in [Status::Alarm, Status::Warning, Status::Stale, Status::Ok, Status::Unknown] {
            let count = view.counts[status as usize];
            ui.label(RichText::new(format!("{} {}", count, status.as_str())).color(status_color(status)));
        }
        ui.separator();
        if view.focus != FocusMode::Normal {
            ui.label(RichText::new(format!("focus: {}", view.focus.label())).strong().color(Color32::from_rgb(51, 217, 255)));
            ui.separator();
        }
        if view.operations_allowed {
            ui.label(RichText::new("operations allowed").color(Color32::from_rgb(255, 170, 60)))
                .on_hover_text("requests to devices are possible (--allow-operations), each confirmed and audited");
        } else {
            ui.label(RichText::new(if view.publishes_acks { "acks published" } else { "read-only" }).weak())
                .on_hover_text("acknowledging is local unless started with --publish-acks; operations need --allow-operations");
        }
        if ui.small_button("? help").clicked() {
            commands.push(UiCommand::ToggleHelp);
        }
    });
    if let Some(error) = &view.scene_error {
        ui.label(
            RichText::new(error)
                .color(Color32::from_rgb(230, 40, 40))
                .strong(),
        );
    }
    if let Some(message) = &record.message {
        ui.label(RichText::new(message).weak());
    }
    commands
}

/// The selected twin: breadcrumb, status, focus buttons, alarms, live values with trends,
/// its parts worst first, services and twin data.
pub fn inspector(
    ui: &mut egui::Ui,
    view: Option<&InspectorView>,
    focus: FocusMode,
    shelve_minutes: u32,
) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    let Some(view) = view else {
        ui.heading("Nothing selected");
        ui.label("Click a part in the 3D view, the tree or the alarm list to inspect it.");
        ui.label("Press H for keyboard shortcuts.");
        return commands;
    };
    ui.horizontal_wrapped(|ui| {
        for (i, (index, label)) in view.path.iter().enumerate() {
            if i > 0 {
                ui.label("›");
            }
            if *index == view.index {
                ui.label(RichText::new(label).strong());
            } else if ui
                .link(label)
                .on_hover_text("up to this level (Esc goes up one)")
                .clicked()
            {
                commands.push(UiCommand::SelectAndFrame(*index));
            }
        }
    });
    ui.separator();
    ui.horizontal(|ui| {
        ui.heading(&view.label);
        status_chip(ui, view.status);
    });
    ui.label(RichText::new(format!("{} · {}", view.id, view.kind)).weak());
    if let Some(since) = &view.offline_since {
        ui.label(
            RichText::new(format!(
                "OFFLINE since {since}: the values below are the last received"
            ))
            .strong()
            .color(status_color(Status::Stale)),
        );
    } else if view.comms_lost {
        ui.label(
            RichText::new("NO LIVE DATA: the values below are the last received")
                .strong()
                .color(status_color(Status::Stale)),
        );
    }
    if let Some(up) = view.health {
        ui.label(if up {
            "service health: up"
        } else {
            "service health: DOWN"
        });
    }
    ui.horizontal(|ui| {
        if ui.button("Frame (F)").clicked() {
            commands.push(UiCommand::FrameSelection);
        }
        for (mode, label) in [
            (FocusMode::Isolate, "Isolate (I)"),
            (FocusMode::XRay, "X-ray (X)"),
        ] {
            if ui.selectable_label(focus == mode, label).clicked() {
                commands.push(UiCommand::Focus(mode));
            }
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("inspector")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if !view.alarms.is_empty() {
                ui.add_space(6.0);
                ui.label(RichText::new("Alarms").strong());
                for alarm in &view.alarms {
                    ui.horizontal_wrapped(|ui| {
                        state_chip(ui, alarm.state, alarm.severity);
                        ui.label(
                            RichText::new(format!(
                                "{} ({})",
                                alarm.alarm_type,
                                alarm.severity.as_str()
                            ))
                            .color(severity_color(alarm.severity))
                            .strong(),
                        );
                        if alarm.state.is_unacknowledged() && ui.small_button("Ack (A)").clicked() {
                            commands.push(UiCommand::Acknowledge(vec![(
                                view.index,
                                alarm.alarm_type.clone(),
                            )]));
                        }
                        if alarm.shelved {
                            if ui.small_button("Unshelve").clicked() {
                                commands.push(UiCommand::Unshelve {
                                    twin: view.index,
                                    alarm_type: alarm.alarm_type.clone(),
                                });
                            }
                        } else if ui.small_button("Shelve").clicked() {
                            commands.push(UiCommand::Shelve {
                                twin: view.index,
                                alarm_type: alarm.alarm_type.clone(),
                                minutes: shelve_minutes,
                            });
                        }
                    });
                    ui.label(
                        RichText::new(format!(
                            "{} · {} · since {}",
                            alarm.text,
                            alarm.source.as_str(),
                            alarm.time
                        ))
                        .weak()
                        .small(),
                    );
                }
            }
            ui.add_space(6.0);
            ui.label(RichText::new("Live values").strong());
            if view.properties.is_empty() {
                ui.label(RichText::new("no values received yet").weak());
            }
            // Names with folders (`Alarms/HighTemp`, a Sparkplug metric folder or template member)
            // are grouped under their folder; the rest come first, in their order.
            let folder = |name: &str| {
                name.rsplit_once('/')
                    .map_or("", |(folder, _)| folder)
                    .to_owned()
            };
            let mut rows: Vec<_> = view.properties.iter().collect();
            rows.sort_by_key(|row| folder(&row.name));
            egui::Grid::new("properties")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    let mut current = String::new();
                    for row in rows {
                        let group = folder(&row.name);
                        if group != current {
                            ui.label(RichText::new(format!("{group}/")).strong());
                            ui.end_row();
                            current = group;
                        }
                        match row.name.rsplit_once('/') {
                            Some((_, leaf)) => ui.label(format!("   {leaf}")),
                            None => ui.label(&row.name),
                        };
                        let value = RichText::new(&row.value).monospace();
                        ui.label(if row.status > Status::Ok {
                            value.color(status_color(row.status))
                        } else {
                            value
                        });
                        ui.label(&row.unit);
                        ui.label(RichText::new(&row.time).weak().small());
                        ui.end_row();
                    }
                });
            let plotted: Vec<_> = view
                .properties
                .iter()
                .filter(|p| p.trend.len() >= 2 || view.history)
                .collect();
            if !plotted.is_empty() {
                egui::CollapsingHeader::new(RichText::new("Trends").strong())
                    .default_open(true)
                    .show(ui, |ui| {
                        for row in plotted {
                            if super::trend::trend_plot(ui, &view.id, row, view.history) {
                                commands.push(UiCommand::OpenTrend {
                                    twin: view.id.clone(),
                                    property: row.name.clone(),
                                });
                            }
                        }
                    });
            }
            if !view.children.is_empty() {
                ui.add_space(6.0);
                let below: usize = view.descendants.iter().sum();
                ui.label(
                    RichText::new(format!(
                        "Parts ({} direct, {} below)",
                        view.children.len(),
                        below
                    ))
                    .strong(),
                );
                ui.horizontal_wrapped(|ui| {
                    for status in [
                        Status::Alarm,
                        Status::Stale,
                        Status::Warning,
                        Status::Ok,
                        Status::Unknown,
                    ] {
                        let count = view.descendants[status as usize];
                        if count > 0 {
                            ui.label(
                                RichText::new(format!("{count} {}", status.as_str()))
                                    .color(status_color(status)),
                            );
                        }
                    }
                });
                for part in &view.children {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new("■").color(status_color(part.worst)));
                        if ui.link(&part.label).clicked() {
                            commands.push(UiCommand::SelectAndFrame(part.index));
                        }
                        if part.alarms > 0 {
                            ui.label(
                                RichText::new(format!("{} alarms", part.alarms))
                                    .color(status_color(Status::Alarm))
                                    .small(),
                            );
                        }
                    });
                }
            }
            if !view.services.is_empty() {
                ui.add_space(6.0);
                ui.label(RichText::new("Services").strong());
                for (index, label, health) in &view.services {
                    ui.horizontal(|ui| {
                        let (text, status) = match health {
                            Some(true) => ("up", Status::Ok),
                            Some(false) => ("DOWN", Status::Stale),
                            None => ("unknown", Status::Unknown),
                        };
                        ui.label(RichText::new(text).color(status_color(status)).strong());
                        if ui.link(label).clicked() {
                            commands.push(UiCommand::SelectAndFrame(*index));
                        }
                    });
                }
            }
            if !view.fragments.is_empty() {
                ui.add_space(6.0);
                ui.label(RichText::new("Twin data").strong());
                for (name, value) in &view.fragments {
                    ui.label(RichText::new(format!("{name}: {value}")).small());
                }
            }
            for table in &view.tables {
                ui.add_space(6.0);
                ui.label(RichText::new(&table.name).strong());
                egui::Grid::new(("data-table", &table.name))
                    .striped(true)
                    .show(ui, |ui| {
                        for column in &table.columns {
                            ui.label(RichText::new(column).small().strong());
                        }
                        ui.end_row();
                        for row in &table.rows {
                            for cell in row {
                                ui.label(RichText::new(cell).small().monospace());
                            }
                            ui.end_row();
                        }
                    });
            }
        });
    commands
}

/// The replay timeline: transport buttons, speed, loop, clock, and a scrub bar with alarm
/// markers (red raise, green clear) and the loop range shaded.
pub fn timeline(ui: &mut egui::Ui, view: &TimelineView, speeds: &[f64]) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    // Wrapped: the headset's panel is narrower than a window.
    ui.horizontal_wrapped(|ui| {
        if view.dvr
            && ui
                .button(
                    RichText::new("Go live")
                        .strong()
                        .color(status_color(Status::Ok)),
                )
                .clicked()
        {
            commands.push(UiCommand::GoLive);
        }
        if ui
            .button(if view.playing { "Pause" } else { "Play" })
            .clicked()
        {
            commands.push(UiCommand::TogglePlay);
        }
        for (label, seconds) in [
            ("-10 s", -10.0),
            ("-1 s", -1.0),
            ("+1 s", 1.0),
            ("+10 s", 10.0),
        ] {
            if ui.button(label).clicked() {
                commands.push(UiCommand::Step(seconds));
            }
        }
        if ui
            .button("< alarm")
            .on_hover_text("previous alarm transition (PgUp)")
            .clicked()
        {
            commands.push(UiCommand::PreviousAlarm);
        }
        if ui
            .button("alarm >")
            .on_hover_text("next alarm transition (PgDn)")
            .clicked()
        {
            commands.push(UiCommand::NextAlarm);
        }
        egui::ComboBox::from_id_salt("speed")
            .selected_text(format!("{}x", view.speed))
            .show_ui(ui, |ui| {
                for speed in speeds {
                    if ui
                        .selectable_label(*speed == view.speed, format!("{speed}x"))
                        .clicked()
                    {
                        commands.push(UiCommand::SetSpeed(*speed));
                    }
                }
            });
        let loop_label = match (view.loop_range, view.loop_mark) {
            (_, Some(_)) => "loop: set end",
            (Some(_), None) => "loop: new start",
            (None, None) => "loop: set start",
        };
        if ui.button(loop_label).clicked() {
            commands.push(UiCommand::MarkLoop);
        }
        if view.loop_range.is_some() && ui.button("no loop").clicked() {
            commands.push(UiCommand::ClearLoop);
        }
        ui.separator();
        ui.label(RichText::new(&view.clock).monospace().strong());
        ui.label(RichText::new(format!("{:.1} / {:.1} s", view.position, view.length)).weak());
    });
    let mut position = view.position;
    ui.spacing_mut().slider_width = ui.available_width();
    let slider =
        ui.add(egui::Slider::new(&mut position, 0.0..=view.length.max(0.001)).show_value(false));
    // While the handle is dragged its positions are built off the frame (a newer one
    // replaces one not built yet); where it is let go, or a click puts it, the state is
    // built at once.
    if slider.drag_stopped() {
        commands.push(UiCommand::SeekTo(position));
    } else if slider.changed() {
        commands.push(if slider.dragged() {
            UiCommand::Scrub(position)
        } else {
            UiCommand::SeekTo(position)
        });
    }
    let rect = slider.rect;
    let x_of =
        |seconds: f64| rect.left() + (seconds / view.length.max(0.001)) as f32 * rect.width();
    let painter = ui.painter();
    if let Some((a, b)) = view.loop_range {
        let shade = egui::Rect::from_x_y_ranges(x_of(a)..=x_of(b), rect.y_range());
        painter.rect_filled(
            shade,
            2.0,
            Color32::from_rgba_unmultiplied(120, 170, 255, 40),
        );
    }
    for (seconds, raised) in &view.markers {
        let color = if *raised {
            status_color(Status::Alarm)
        } else {
            status_color(Status::Ok)
        };
        painter.vline(
            x_of(*seconds),
            rect.y_range(),
            egui::Stroke::new(2.0, color),
        );
    }
    if let Some(error) = &view.error {
        ui.label(RichText::new(error).color(status_color(Status::Alarm)));
    }
    if let Some(indexing) = &view.indexing {
        ui.label(RichText::new(indexing).weak());
    }
    if let Some(skipped) = &view.skipped {
        ui.label(RichText::new(skipped).color(status_color(Status::Warning)));
    }
    commands
}

/// While live: drag back to look at the last minutes (DVR).
pub fn dvr_bar(ui: &mut egui::Ui, view: &DvrBarView) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        ui.label(
            RichText::new("LIVE")
                .strong()
                .color(status_color(Status::Ok)),
        );
        ui.label(RichText::new(format!("look back up to {:.0} s:", view.available_seconds)).weak());
        let mut back = 0.0f64;
        ui.spacing_mut().slider_width = (ui.available_width() - 20.0).max(50.0);
        let slider = ui.add(
            egui::Slider::new(&mut back, -view.available_seconds.max(1.0)..=0.0).show_value(false),
        );
        if slider.drag_stopped() || (slider.changed() && !slider.dragged()) {
            commands.push(UiCommand::LookBack(back));
        }
    });
    if let Some(error) = &view.error {
        ui.label(RichText::new(error).color(status_color(Status::Alarm)));
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::model::{inspector_view, status_bar_view};
    use crate::ui::testing::PanelHarness;
    use twinscope_core::ingest::StatsSnapshot;
    use twinscope_core::rules::RuleSet;
    use twinscope_core::twin::tree::Rollup;
    use twinscope_core::twin::{Severity, StoreConfig, TwinStore};
    use twinscope_core::{Timestamp, TwinUpdate};

    fn pump_with_history() -> TwinStore {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("line1", None, Some("Line 1"));
        store.declare("pump1", Some("line1"), Some("Pump 1"));
        store.declare("seal", Some("pump1"), Some("Seal"));
        for i in 0..10 {
            let t = Timestamp(1_700_000_000_000_000 + i * 1_000_000);
            store.apply(
                &TwinUpdate::Measurement {
                    twin: "pump1".into(),
                    name: "flow".into(),
                    value: 40.0 + i as f64,
                    time: t,
                },
                t,
            );
        }
        let raise = TwinUpdate::AlarmRaised {
            twin: "seal".into(),
            alarm_type: "leak".into(),
            severity: Severity::Major,
            text: "drip".into(),
            time: Timestamp(0),
        };
        store.apply(&raise, Timestamp(0));
        store
    }

    #[test]
    fn the_inspector_goes_up_by_breadcrumb_down_by_part_and_switches_focus() {
        let store = pump_with_history();
        let pump = store.find("pump1").unwrap();
        let view = inspector_view(
            &store,
            &Rollup::compute(&store),
            pump,
            &twinscope_core::time_zone::PlantClock::default(),
        );
        let mut harness = PanelHarness::new(400.0, 900.0);
        let mut draw = |ui: &mut egui::Ui| inspector(ui, Some(&view), FocusMode::Normal, 30);
        harness.frame(vec![], &mut draw);
        assert!(
            harness.find("flow").is_some() && harness.find("Trends").is_some(),
            "{:?}",
            harness.texts
        );
        assert!(
            harness.find("1 alarm").is_some(),
            "the parts summary counts the seal in alarm: {:?}",
            harness.texts
        );
        let mut click = |text: &str| {
            let at = harness
                .find(text)
                .unwrap_or_else(|| panic!("{text:?} not on screen"));
            harness
                .click(at, &mut draw)
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            click("Line 1"),
            vec![UiCommand::SelectAndFrame(store.find("line1").unwrap())],
            "a crumb goes up"
        );
        assert_eq!(
            click("Seal"),
            vec![UiCommand::SelectAndFrame(store.find("seal").unwrap())],
            "a part goes down"
        );
        assert_eq!(click("X-ray (X)"), vec![UiCommand::Focus(FocusMode::XRay)]);
        assert_eq!(
            click("Isolate (I)"),
            vec![UiCommand::Focus(FocusMode::Isolate)]
        );
    }

    #[test]
    fn properties_in_folders_are_grouped_under_them() {
        let mut store = TwinStore::new(
            twinscope_core::twin::StoreConfig::default(),
            twinscope_core::rules::RuleSet::default(),
        );
        let plc = store.declare("plc", None, Some("PLC"));
        let now = twinscope_core::Timestamp(1_700_000_000_000_000);
        for name in [
            "Alarms/HighTemp",
            "Temperature",
            "Motor1/Speed",
            "Alarms/LowLevel",
        ] {
            store.apply(
                &twinscope_core::TwinUpdate::Measurement {
                    twin: "plc".into(),
                    name: name.into(),
                    value: 1.0,
                    time: now,
                },
                now,
            );
        }
        let view = inspector_view(
            &store,
            &Rollup::compute(&store),
            plc,
            &twinscope_core::time_zone::PlantClock::default(),
        );
        let mut harness = PanelHarness::new(500.0, 900.0);
        harness.frame(vec![], |ui| {
            inspector(ui, Some(&view), FocusMode::Normal, 30)
        });
        let y = |text: &str| {
            harness
                .find(text)
                .unwrap_or_else(|| panic!("{text:?} not on screen: {:?}", harness.texts))
                .y
        };
        assert!(
            y("Temperature") < y("Alarms/"),
            "names without a folder first"
        );
        assert!(
            y("Alarms/") < y("   HighTemp")
                && y("   HighTemp") < y("   LowLevel")
                && y("   LowLevel") < y("Motor1/"),
            "one header per folder, its members below it"
        );
        assert!(y("Motor1/") < y("   Speed"));
    }

    #[test]
    fn the_status_bar_always_shows_alarm_counts_per_severity() {
        let store = pump_with_history();
        let view = status_bar_view(&store, &StatsSnapshot::default(), 0.0, "test", false, None);
        let mut harness = PanelHarness::new(1400.0, 80.0);
        let commands = harness.frame(vec![], |ui| status_bar(ui, &view, &RecordView::default()));
        assert!(commands.is_empty());
        for text in [
            " 0 CRITICAL ",
            " 1 MAJOR ",
            " 0 MINOR ",
            " 0 WARNING ",
            "1 unacknowledged",
            "0 shelved",
            "read-only",
        ] {
            assert!(
                harness.find(text).is_some(),
                "{text:?} missing: {:?}",
                harness.texts
            );
        }
        let at = harness.find("Alarms (L)").unwrap();
        let commands: Vec<UiCommand> = harness
            .click(at, |ui| status_bar(ui, &view, &RecordView::default()))
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(commands, vec![UiCommand::ToggleAlarmList]);
    }

    #[test]
    fn the_status_bar_says_where_the_connection_stands_and_why_it_failed() {
        use std::sync::Arc;
        use twinscope_core::connection::{ConnectFailure, FailureKind};
        let store = pump_with_history();
        let label = |stats: &StatsSnapshot| {
            let view = status_bar_view(&store, stats, 0.0, "mqtts://plant:8883", false, None);
            let mut harness = PanelHarness::new(1600.0, 80.0);
            harness.frame(vec![], |ui| status_bar(ui, &view, &RecordView::default()));
            harness
                .texts
                .iter()
                .map(|(t, _)| t.clone())
                .find(|t| t.starts_with('■'))
                .unwrap_or_default()
        };
        assert_eq!(label(&StatsSnapshot::default()), "■ connecting…");
        assert_eq!(
            label(&StatsSnapshot {
                connected: true,
                connects: 1,
                ..Default::default()
            }),
            "■ connected"
        );
        let failure = ConnectFailure {
            kind: FailureKind::Tls,
            message: "TLS handshake with plant:8883 failed: the broker's certificate has expired"
                .into(),
        };
        let failed = StatsSnapshot {
            failed_attempts: 3,
            last_error: Some(Arc::new((twinscope_core::Timestamp(0), failure))),
            ..Default::default()
        };
        assert_eq!(
            label(&failed),
            "■ NO BROKER: TLS handshake with plant:8883 failed: the broker's certificate has expired"
        );
        let details = crate::ui::model::connection_details(
            &failed,
            &twinscope_core::time_zone::PlantClock::default(),
        );
        assert!(
            details.contains("3 failed attempt(s)") && details.contains("certificate has expired"),
            "{details}"
        );
    }
}
