//! The hierarchy panel: search box and a virtualised tree (only the rows on screen are laid
//! out, so ten thousand twins cost what forty do). Each row shows the worst status below it
//! and how many alarms are active there.

use bevy_egui::egui::{self, Color32, RichText};
use twinscope_core::twin::tree::Rollup;
use twinscope_core::twin::{TwinIndex, TwinStore};

use super::model::UiCommand;
use super::panels::status_color;
use super::tree_view::HierarchyState;

pub fn tree_panel(
    ui: &mut egui::Ui,
    store: &TwinStore,
    rollup: &Rollup,
    tree: &mut HierarchyState,
    selected: Option<TwinIndex>,
) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Plant").strong());
        ui.label(RichText::new(format!("{} twins", store.len())).weak());
        if ui.small_button("expand all").clicked() {
            tree.expand_all(store);
        }
        if ui.small_button("collapse").clicked() {
            tree.expanded.clear();
        }
    });
    let search = ui.add(
        egui::TextEdit::singleline(&mut tree.query)
            .hint_text("search id or name (Ctrl+F)")
            .desired_width(f32::INFINITY),
    );
    if tree.focus_search {
        search.request_focus();
        tree.focus_search = false;
    }
    let rows = tree.rows(store, selected);
    if let Some(count) = tree.match_count() {
        ui.label(RichText::new(format!("{count} matches")).weak().small());
    }
    ui.separator();
    let row_height = ui.spacing().interact_size.y;
    let mut area = egui::ScrollArea::vertical()
        .id_salt("twin-tree")
        .auto_shrink([false, false]);
    if let Some(row) = tree.scroll_to.take() {
        let target = (row as f32 * (row_height + ui.spacing().item_spacing.y)
            - ui.available_height() / 3.0)
            .max(0.0);
        area = area.vertical_scroll_offset(target);
    }
    area.show_rows(ui, row_height, rows.len(), |ui, range| {
        for row in &rows[range] {
            let twin = store.get(row.index);
            ui.horizontal(|ui| {
                ui.set_height(row_height);
                ui.add_space(row.depth as f32 * 12.0);
                if row.has_children {
                    let sign = if row.expanded { "-" } else { "+" };
                    if ui
                        .add(
                            egui::Button::new(RichText::new(sign).monospace())
                                .small()
                                .frame(false),
                        )
                        .clicked()
                    {
                        tree.toggle(row.index);
                    }
                } else {
                    ui.add_space(ui.spacing().icon_width * 0.8);
                }
                let worst = rollup.worst(row.index);
                ui.label(RichText::new("■").color(status_color(worst)));
                let label = ui
                    .selectable_label(selected == Some(row.index), twin.label())
                    .on_hover_text(twin.id.as_str());
                if label.clicked() {
                    commands.push(UiCommand::SelectAndFrame(row.index));
                }
                if label.double_clicked() && row.has_children {
                    tree.toggle(row.index);
                }
                let alarms = rollup.alarms(row.index);
                if alarms > 0 {
                    ui.label(
                        RichText::new(format!(" {alarms} "))
                            .small()
                            .strong()
                            .color(Color32::WHITE)
                            .background_color(status_color(twinscope_core::twin::Status::Alarm)),
                    );
                }
            });
        }
    });
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::PanelHarness;
    use twinscope_core::rules::RuleSet;
    use twinscope_core::twin::StoreConfig;

    /// A plant of 100 lines of 100 parts: 10,101 twins.
    fn big_plant() -> TwinStore {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("plant", None, Some("Plant"));
        for line in 0..100 {
            let line_id = format!("line{line}");
            store.declare(&line_id, Some("plant"), Some(&format!("Line {line}")));
            for part in 0..100 {
                store.declare(
                    &format!("{line_id}-part{part}"),
                    Some(&line_id),
                    Some(&format!("Part {line}.{part}")),
                );
            }
        }
        store
    }

    #[test]
    fn clicking_a_row_selects_and_frames_its_twin_and_only_visible_rows_are_laid_out() {
        let store = big_plant();
        let rollup = Rollup::compute(&store);
        let mut tree = HierarchyState::default();
        tree.expand_all(&store);
        let mut harness = PanelHarness::new(300.0, 600.0);
        let mut draw = |ui: &mut egui::Ui| tree_panel(ui, &store, &rollup, &mut tree, None);
        harness.frame(vec![], &mut draw);
        let rows_drawn = harness
            .texts
            .iter()
            .filter(|(t, _)| t.starts_with("Part ") || t.starts_with("Line "))
            .count();
        assert!(
            rows_drawn > 10 && rows_drawn < 60,
            "virtualised: {rows_drawn} of 10,101 rows laid out"
        );
        let target = harness
            .find("Part 0.3")
            .expect("the fourth part of line 0 is on screen");
        let commands: Vec<UiCommand> = harness
            .click(target, &mut draw)
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(
            commands,
            vec![UiCommand::SelectAndFrame(
                store.find("line0-part3").unwrap()
            )]
        );
    }

    #[test]
    fn the_search_box_filters_the_tree() {
        let store = big_plant();
        let rollup = Rollup::compute(&store);
        let mut tree = HierarchyState::default();
        tree.query = "part 42.7".into();
        let mut harness = PanelHarness::new(300.0, 600.0);
        harness.frame(vec![], |ui| {
            tree_panel(ui, &store, &rollup, &mut tree, None)
        });
        assert!(
            harness.find("11 matches").is_some(),
            "substring matches: 42.7 and 42.70 to 42.79: {:?}",
            harness.texts
        );
        assert!(
            harness.find("Part 42.7").is_some()
                && harness.find("Line 42").is_some()
                && harness.find("Plant").is_some()
        );
        assert!(harness.find("Line 41").is_none());
    }
}
