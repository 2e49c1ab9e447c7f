//! The hierarchy panel: search box and a virtualised tree (only the rows on screen are laid
//! out, so ten thousand twins cost what forty do). Each row shows the worst status below it
//! and how many alarms are active there.

use bevy_egui::egui::{self, Color32, RichText};
use twinscope_core::twin::tree::Rollup;
use twinscope_core::twin::{TwinIndex, TwinStore};

use super::model::UiCommand;
use super::panels::status_color;
use super::tree_view::HierarchyState;

pub fn tree_panel(ui: &mut egui::Ui, store: &TwinStore, rollup: &Rollup, tree: &mut HierarchyState, selected: Option<TwinIndex>) -> Vec<UiCommand> {
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
    let search = ui.add(egui::TextEdit::singleline(&mut tree.query).hint_text("search id or name (Ctrl+F)").desired_width(f32::INFINITY));
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
    let mut area = egui::ScrollArea::vertical().id_salt("twin-tree").auto_shrink([false, false]);
    if let Some(row) = tree.scroll_to.take() {
        let target = (row as f32 * (row_height + ui.spacing().item_spacing.y) - ui.available_height() / 3.0).max(0.0);
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
                    if ui.add(egui::Button::new(RichText::new(sign).monospace()).small().frame(false)).clicked() {
                        tree.toggle(row.index);
                    }
                } else {
                    ui.add_space(ui.spacing().icon_width * 0.8);
                }
                let worst = rollup.worst(row.index);
                ui.label(RichText::new("■").color(status_color(worst)));
                let label = ui.selectable_label(selected == Some(row.index), twin.label()).on_hover_text(twin.id.as_str());
                if label.clicked() {
                    commands.push(UiCommand::SelectAndFrame(row.index));
                }
                if label.double_clicked() && row.has_children {
                    tree.toggle(row.index);
                }
                let alarms = rollup.alarms(row.index);
                if alarms > 0 {
                    ui.label(RichText::new(format!(" {alarms} ")).small().strong().color(Color32::WHITE).background_color(status_color(twinscope_core::twin::Status::Alarm)));
                }
            });
        }
    });
    commands
}
