//! The keyboard shortcuts, in one table the help overlay shows (`H` or `F1`).

use bevy_egui::egui::{self, RichText};

/// Every shortcut: key and what it does.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Click", "select a part (in 3D, the tree or the alarm list)"),
    ("F", "fly to the selection (or the whole plant)"),
    ("Home", "fly to the whole plant"),
    ("Esc", "up one level (to the parent twin)"),
    ("I", "isolate the selection (again: back to normal)"),
    ("X", "x-ray around the selection (again: back to normal)"),
    ("N", "normal view"),
    ("A", "acknowledge the selected twin's alarms"),
    ("Ctrl+F", "search the tree"),
    ("T", "show or hide the tree"),
    ("L", "show or hide the alarm list"),
    ("H / F1", "this help"),
    ("Left drag", "orbit"),
    ("Right / middle drag", "pan"),
    ("Wheel", "zoom"),
];

/// The overlay; returns false when the user closed it.
pub fn help_overlay(ctx: &egui::Context) -> bool {
    let mut open = true;
    egui::Window::new("Keyboard shortcuts")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            egui::Grid::new("shortcuts")
                .striped(true)
                .num_columns(2)
                .show(ui, |ui| {
                    for (key, action) in SHORTCUTS {
                        ui.label(RichText::new(*key).monospace().strong());
                        ui.label(*action);
                        ui.end_row();
                    }
                });
        });
    open
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::PanelHarness;

    #[test]
    fn the_overlay_lists_every_shortcut() {
        let mut harness = PanelHarness::new(1000.0, 800.0);
        // A window sizes itself in its first frame and shows in the next.
        harness.frame(vec![], |ui| help_overlay(ui.ctx()));
        assert!(
            harness.frame(vec![], |ui| help_overlay(ui.ctx())),
            "open until closed"
        );
        for (key, action) in SHORTCUTS {
            assert!(
                harness.find(key).is_some() && harness.find(action).is_some(),
                "{key}: {action} missing"
            );
        }
        for key in ["F", "I", "X", "Esc", "A", "H / F1"] {
            assert!(
                SHORTCUTS.iter().any(|(k, _)| k == &key),
                "{key} is not listed"
            );
        }
    }
}
