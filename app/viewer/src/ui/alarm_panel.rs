//! The alarm panel: the list (state, severity, time, twin, type, text, with acknowledge and
//! shelve buttons; a click on a row selects and frames its part) and the history of every
//! transition, exportable as CSV.

use bevy_egui::egui::{self, Color32, RichText};
use twinscope_core::alarms::AlarmState;
use twinscope_core::twin::{Severity, TwinIndex, TwinStore};

use super::alarm_view::{AlarmListState, AlarmTab};
use twinscope_core::time_zone::PlantClock;

use super::model::UiCommand;
use crate::scene::visuals::colors::severity_srgb;

pub const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::Major,
    Severity::Minor,
    Severity::Warning,
];

pub fn severity_color(severity: Severity) -> Color32 {
    let [r, g, b] = severity_srgb(severity);
    Color32::from_rgb(r, g, b)
}

/// A state chip: unacknowledged states stand out, acknowledged ones are quieter.
pub fn state_chip(ui: &mut egui::Ui, state: AlarmState, severity: Severity) {
    let text = RichText::new(format!(" {:<9} ", state.short()))
        .monospace()
        .small()
        .strong();
    let chip = match state {
        AlarmState::ActiveUnacknowledged => text
            .color(Color32::BLACK)
            .background_color(severity_color(severity)),
        AlarmState::ActiveAcknowledged => text.color(severity_color(severity)),
        AlarmState::ReturnedUnacknowledged => text
            .color(Color32::BLACK)
            .background_color(Color32::from_gray(170)),
        AlarmState::Normal => text.weak(),
    };
    ui.label(chip);
}

pub fn alarm_panel(
    ui: &mut egui::Ui,
    store: &TwinStore,
    list: &mut AlarmListState,
    selected: Option<TwinIndex>,
    clock: &PlantClock,
) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    let book = store.alarm_book();
    let shown: Vec<usize> = list
        .rows(store, selected)
        .iter()
        .copied()
        .filter(|&i| i < book.alarms().len())
        .collect();
    ui.horizontal_wrapped(|ui| {
        ui.selectable_value(
            &mut list.tab,
            AlarmTab::Active,
            RichText::new(format!("Alarms ({})", shown.len())).strong(),
        );
        let history = match book.dropped_history() {
            0 => format!("History ({})", book.history().len()),
            dropped => format!(
                "History ({}, {dropped} oldest dropped)",
                book.history().len()
            ),
        };
        ui.selectable_value(&mut list.tab, AlarmTab::History, history);
        ui.separator();
        for severity in SEVERITIES {
            let mut on = list.severities[severity as usize];
            if ui
                .checkbox(
                    &mut on,
                    RichText::new(severity.as_str()).color(severity_color(severity)),
                )
                .changed()
            {
                list.toggle_severity(severity);
            }
        }
        ui.separator();
        ui.checkbox(&mut list.subtree_only, "selected subtree only");
        ui.checkbox(&mut list.show_shelved, "show shelved");
        ui.separator();
        let unacknowledged = shown
            .iter()
            .filter(|&&i| book.alarms()[i].state.is_unacknowledged())
            .count();
        if ui
            .add_enabled(
                unacknowledged > 0,
                egui::Button::new(format!("Acknowledge all shown ({unacknowledged})")),
            )
            .clicked()
        {
            let alarms = shown
                .iter()
                .map(|&i| &book.alarms()[i])
                .filter(|a| a.state.is_unacknowledged())
                .map(|a| (a.twin, a.alarm_type.clone()))
                .collect();
            commands.push(UiCommand::Acknowledge(alarms));
        }
        ui.label("shelve for");
        ui.add(
            egui::DragValue::new(&mut list.shelve_minutes)
                .range(1..=1440)
                .suffix(" min"),
        );
        if ui.button("Export history (CSV)").clicked() {
            commands.push(UiCommand::ExportAlarmHistory);
        }
        if let Some(message) = &list.export_message {
            ui.label(RichText::new(message).weak().small());
        }
    });
    ui.separator();
    let row_height = ui.spacing().interact_size.y;
    // On a narrow panel (the headset's) the columns shrink and the severity column goes (the
    // state chip has its colour), so Ack and Shelve stay in view.
    let narrow = ui.available_width() < 720.0;
    let (place_width, type_width) = if narrow {
        (140.0, 70.0)
    } else {
        (230.0, 130.0)
    };
    match list.tab {
        AlarmTab::Active => {
            if shown.is_empty() {
                ui.label(RichText::new("No alarms match.").weak());
            }
            egui::ScrollArea::vertical()
                .id_salt("alarm-list")
                .auto_shrink([false, false])
                .show_rows(ui, row_height, shown.len(), |ui, range| {
                    for &i in &shown[range] {
                        let alarm = &book.alarms()[i];
                        ui.horizontal(|ui| {
                            ui.set_height(row_height);
                            state_chip(ui, alarm.state, alarm.severity);
                            if !narrow {
                                ui.add_sized(
                                    [64.0, row_height],
                                    egui::Label::new(
                                        RichText::new(alarm.severity.as_str())
                                            .color(severity_color(alarm.severity)),
                                    ),
                                );
                            }
                            ui.add_sized(
                                [64.0, row_height],
                                egui::Label::new(
                                    RichText::new(clock.time_of_day(alarm.activated, 8))
                                        .monospace(),
                                ),
                            );
                            let twin = store.get(alarm.twin);
                            // Part names repeat across a plant ("Bearing (drive end)"): show the parent too.
                            let place = match twin.parent {
                                Some(parent) => {
                                    format!("{} › {}", store.get(parent).label(), twin.label())
                                }
                                None => twin.label().to_owned(),
                            };
                            let link = ui
                                .add_sized([place_width, row_height], egui::Link::new(place))
                                .on_hover_text(twin.id.as_str());
                            if link.clicked() {
                                commands.push(UiCommand::SelectAndFrame(alarm.twin));
                            }
                            let alarm_type =
                                egui::Label::new(RichText::new(&*alarm.alarm_type).strong())
                                    .truncate()
                                    .sense(egui::Sense::click());
                            if ui
                                .add_sized([type_width, row_height], alarm_type)
                                .on_hover_text("select and fly to the part")
                                .clicked()
                            {
                                commands.push(UiCommand::SelectAndFrame(alarm.twin));
                            }
                            if alarm.state.is_unacknowledged() && ui.small_button("Ack").clicked() {
                                commands.push(UiCommand::Acknowledge(vec![(
                                    alarm.twin,
                                    alarm.alarm_type.clone(),
                                )]));
                            }
                            if alarm.is_shelved() {
                                if ui.small_button("Unshelve").clicked() {
                                    commands.push(UiCommand::Unshelve {
                                        twin: alarm.twin,
                                        alarm_type: alarm.alarm_type.clone(),
                                    });
                                }
                                ui.label(
                                    RichText::new(format!(
                                        "shelved to {}",
                                        alarm
                                            .shelved_until
                                            .map(|t| clock.time_of_day(t, 5))
                                            .unwrap_or_default()
                                    ))
                                    .weak()
                                    .small(),
                                );
                            } else if ui
                                .small_button("Shelve")
                                .on_hover_text(format!("hide for {} min", list.shelve_minutes))
                                .clicked()
                            {
                                commands.push(UiCommand::Shelve {
                                    twin: alarm.twin,
                                    alarm_type: alarm.alarm_type.clone(),
                                    minutes: list.shelve_minutes,
                                });
                            }
                            ui.label(RichText::new(alarm.source.as_str()).weak().small());
                            ui.add(egui::Label::new(&alarm.text).truncate());
                        });
                    }
                });
        }
        AlarmTab::History => {
            let history = book.history();
            egui::ScrollArea::vertical()
                .id_salt("alarm-history")
                .auto_shrink([false, false])
                .show_rows(ui, row_height, history.len(), |ui, range| {
                    for row in range {
                        let t = &history[history.len() - 1 - row]; // newest first
                        ui.horizontal(|ui| {
                            ui.set_height(row_height);
                            ui.add_sized(
                                [96.0, row_height],
                                egui::Label::new(
                                    RichText::new(clock.time_of_day(t.time, 12)).monospace(),
                                ),
                            );
                            ui.add_sized(
                                [150.0, row_height],
                                egui::Label::new(t.twin.as_str()).truncate(),
                            );
                            ui.add_sized(
                                [130.0, row_height],
                                egui::Label::new(RichText::new(&*t.alarm_type).strong()).truncate(),
                            );
                            ui.add_sized(
                                [64.0, row_height],
                                egui::Label::new(
                                    RichText::new(t.severity.as_str())
                                        .color(severity_color(t.severity)),
                                ),
                            );
                            ui.add_sized([84.0, row_height], egui::Label::new(t.action.as_str()));
                            ui.label(
                                RichText::new(format!("{} -> {}", t.from.short(), t.to.short()))
                                    .monospace()
                                    .small(),
                            );
                            ui.label(RichText::new(&t.cause).weak());
                        });
                    }
                });
        }
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::PanelHarness;
    use twinscope_core::rules::RuleSet;
    use twinscope_core::twin::StoreConfig;
    use twinscope_core::{Timestamp, TwinUpdate};

    #[test]
    fn rows_select_their_twin_and_acknowledge_and_shelve() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("line1", None, Some("Line 1"));
        store.declare("pump1", Some("line1"), Some("Pump 1"));
        let raise = TwinUpdate::AlarmRaised {
            twin: "pump1".into(),
            alarm_type: "overheat".into(),
            severity: Severity::Major,
            text: "hot".into(),
            time: Timestamp(0),
        };
        store.apply(&raise, Timestamp(0));
        let pump = store.find("pump1").unwrap();
        let mut list = AlarmListState::default();
        let mut harness = PanelHarness::new(1200.0, 300.0);
        let mut draw =
            |ui: &mut egui::Ui| alarm_panel(ui, &store, &mut list, None, &PlantClock::default());
        harness.frame(vec![], &mut draw);
        let overheat: std::sync::Arc<str> = "overheat".into();
        let click = |harness: &mut PanelHarness,
                     text: &str,
                     draw: &mut dyn FnMut(&mut egui::Ui) -> Vec<UiCommand>| {
            let at = harness
                .find(text)
                .unwrap_or_else(|| panic!("{text:?} not on screen: {:?}", harness.texts));
            harness
                .click(at, draw)
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            click(&mut harness, "Line 1 › Pump 1", &mut draw),
            vec![UiCommand::SelectAndFrame(pump)]
        );
        assert_eq!(
            click(&mut harness, "overheat", &mut draw),
            vec![UiCommand::SelectAndFrame(pump)],
            "the alarm type selects too"
        );
        assert_eq!(
            click(&mut harness, "Ack", &mut draw),
            vec![UiCommand::Acknowledge(vec![(pump, overheat.clone())])]
        );
        assert_eq!(
            click(&mut harness, "Shelve", &mut draw),
            vec![UiCommand::Shelve {
                twin: pump,
                alarm_type: overheat,
                minutes: 30
            }]
        );
        assert_eq!(
            click(&mut harness, "Export history (CSV)", &mut draw),
            vec![UiCommand::ExportAlarmHistory]
        );
    }

    /// The headset's panel is 512 points wide: Ack and Shelve must be on it, and work.
    #[test]
    fn a_narrow_panel_keeps_ack_and_shelve_in_view() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("line1", None, Some("Line 1"));
        store.declare("pump1", Some("line1"), Some("Pump 1 with a long name"));
        let raise = TwinUpdate::AlarmRaised {
            twin: "pump1".into(),
            alarm_type: "overheat_of_the_bearing".into(),
            severity: Severity::Major,
            text: "hot".into(),
            time: Timestamp(0),
        };
        store.apply(&raise, Timestamp(0));
        let pump = store.find("pump1").unwrap();
        let mut list = AlarmListState::default();
        let width = 496.0;
        let mut harness = PanelHarness::new(width, 400.0);
        let mut draw =
            |ui: &mut egui::Ui| alarm_panel(ui, &store, &mut list, None, &PlantClock::default());
        harness.frame(vec![], &mut draw);
        for button in ["Ack", "Shelve"] {
            let at = harness
                .find(button)
                .unwrap_or_else(|| panic!("{button} not drawn: {:?}", harness.texts));
            assert!(
                at.x < width - 10.0,
                "{button} at x {} is off a {width}-point panel",
                at.x
            );
        }
        let at = harness.find("Ack").unwrap();
        let commands: Vec<UiCommand> = harness.click(at, &mut draw).into_iter().flatten().collect();
        assert_eq!(
            commands,
            vec![UiCommand::Acknowledge(vec![(
                pump,
                "overheat_of_the_bearing".into()
            )])]
        );
    }
}
