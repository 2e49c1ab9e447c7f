//! Centred windows over the 3D view for what keeps the plant from showing: a long job still
//! running (a progress bar) or a model that could not be loaded (its error, in the middle of
//! the window rather than a blank view and a line in the status bar).

use bevy_egui::egui::{self, Align2, Color32, RichText};

use crate::history::opening::OpeningRecording;
use crate::scene::model_load::{LoadStage, ModelLoad, human_bytes};

/// A job's progress as the window shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressView {
    pub title: String,
    pub detail: String,
    /// 0 to 1.
    pub fraction: f32,
}

/// The progress of a model's load as one bar: reading its files fills the first 60 %,
/// uploading meshes the rest (decoding in between has no count, so its detail says what it
/// does and for how long).
pub fn model_load_view(load: &ModelLoad, file: &str) -> Option<ProgressView> {
    let (fraction, detail) = match load.stage {
        LoadStage::Reading if load.bytes_total > 0 => {
            let read = load.bytes_read.min(load.bytes_total);
            (
                0.6 * read as f32 / load.bytes_total as f32,
                format!(
                    "reading: {} of {}",
                    human_bytes(read),
                    human_bytes(load.bytes_total)
                ),
            )
        }
        LoadStage::Reading => (0.0, format!("reading: {}", human_bytes(load.bytes_read))),
        LoadStage::Decoding => (
            0.6,
            format!(
                "building meshes and materials ({:.0} s)",
                load.elapsed.as_secs_f64()
            ),
        ),
        LoadStage::Uploading => {
            let share = if load.meshes_total == 0 {
                1.0
            } else {
                load.meshes_uploaded as f32 / load.meshes_total as f32
            };
            (
                0.6 + 0.4 * share,
                format!(
                    "meshes uploaded to the GPU: {} of {}",
                    load.meshes_uploaded, load.meshes_total
                ),
            )
        }
        LoadStage::Placing => (1.0, "placing parts".to_owned()),
        LoadStage::NoModel | LoadStage::Shown | LoadStage::Failed => return None,
    };
    Some(ProgressView {
        title: format!("Loading {file}"),
        detail,
        fraction,
    })
}

/// The progress window.
pub fn progress_window(ctx: &egui::Context, view: &ProgressView) {
    egui::Window::new(&view.title)
        .id(egui::Id::new("progress-window"))
        .collapsible(false)
        .resizable(false)
        .anchor(Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            ui.add(
                egui::ProgressBar::new(view.fraction)
                    .desired_width(360.0)
                    .show_percentage(),
            );
            ui.label(&view.detail);
        });
}

/// The progress of a recording being opened: its chunks indexed.
pub fn recording_open_view(opening: &OpeningRecording) -> ProgressView {
    let file = opening.path.file_name().map_or_else(
        || opening.path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let seconds = opening.started.elapsed().as_secs_f64();
    let (done, total) = opening.chunks();
    let (fraction, detail) = if total == 0 {
        (0.0, format!("reading the file ({seconds:.0} s)"))
    } else {
        (
            done as f32 / total as f32,
            format!("indexing for seeks: chunk {done} of {total} ({seconds:.0} s)"),
        )
    };
    ProgressView {
        title: format!("Opening {file}"),
        detail,
        fraction,
    }
}

/// What the model's load error window says.
pub const MODEL_ERROR: (&str, &str) = (
    "The model could not be loaded",
    "Live twins, the tree, alarms and trends still work without the 3D view.",
);
/// What the recording's error window says.
pub const RECORDING_ERROR: (&str, &str) = (
    "The recording could not be opened",
    "Nothing is replayed; check the file with `twinscope state --replay FILE`.",
);

/// The model's load error; returns false once the user dismisses it.
pub fn load_error_window(ctx: &egui::Context, message: &str) -> bool {
    error_window(ctx, MODEL_ERROR, message)
}

/// An error in the middle of the window: what failed, why, and what still works; returns
/// false once the user dismisses it.
pub fn error_window(
    ctx: &egui::Context,
    (title, consequence): (&str, &str),
    message: &str,
) -> bool {
    let mut open = true;
    egui::Window::new(
        RichText::new(title)
            .color(Color32::from_rgb(230, 40, 40))
            .strong(),
    )
    .id(egui::Id::new(("error-window", title)))
    .collapsible(false)
    .resizable(false)
    .anchor(Align2::CENTER_CENTER, egui::Vec2::ZERO)
    .show(ctx, |ui| {
        ui.set_max_width(560.0);
        ui.label(RichText::new(message).strong());
        ui.label(consequence);
        if title == MODEL_ERROR.0 {
            ui.label(
                RichText::new(
                    "`twinscope check SCENE` lists every problem with the scene and its model.",
                )
                .weak(),
            );
        }
        if ui.button("Dismiss").clicked() {
            open = false;
        }
    });
    open
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::PanelHarness;

    fn load(stage: LoadStage) -> ModelLoad {
        let mut load = ModelLoad::default();
        (
            load.stage,
            load.bytes_read,
            load.bytes_total,
            load.meshes_uploaded,
            load.meshes_total,
        ) = (stage, 30_000_000, 40_000_000, 250, 1000);
        load
    }

    #[test]
    fn the_bar_moves_forward_through_the_stages() {
        let stages = [
            LoadStage::Reading,
            LoadStage::Decoding,
            LoadStage::Uploading,
            LoadStage::Placing,
        ];
        let views: Vec<ProgressView> = stages
            .iter()
            .map(|s| model_load_view(&load(*s), "plant.glb").unwrap())
            .collect();
        assert!(
            views.windows(2).all(|w| w[0].fraction < w[1].fraction),
            "{views:?}"
        );
        assert_eq!(views[0].detail, "reading: 30.0 MB of 40.0 MB");
        assert!((views[0].fraction - 0.45).abs() < 1e-6);
        assert_eq!(views[2].detail, "meshes uploaded to the GPU: 250 of 1000");
        assert_eq!(views[0].title, "Loading plant.glb");
        for done in [LoadStage::NoModel, LoadStage::Shown, LoadStage::Failed] {
            assert_eq!(model_load_view(&load(done), "plant.glb"), None);
        }
        // More bytes than the files held (a file grew): the bar stops at its stage's end.
        let mut grown = load(LoadStage::Reading);
        grown.bytes_read = 90_000_000;
        assert!((model_load_view(&grown, "p").unwrap().fraction - 0.6).abs() < 1e-6);
    }

    #[test]
    fn the_windows_sit_in_the_middle_and_the_error_can_be_dismissed() {
        let mut harness = PanelHarness::new(1000.0, 800.0);
        let view = model_load_view(&load(LoadStage::Uploading), "plant.glb").unwrap();
        for _ in 0..2 {
            harness.frame(vec![], |ui| progress_window(ui.ctx(), &view));
        }
        let at = harness
            .find("meshes uploaded to the GPU: 250 of 1000")
            .expect("the detail is shown");
        assert!(
            (at.x - 500.0).abs() < 200.0 && (at.y - 400.0).abs() < 100.0,
            "centred: {at:?}"
        );

        let mut harness = PanelHarness::new(1000.0, 800.0);
        let message = "plant.glb: the model could not be loaded: buffer 0 declares 400 bytes";
        for _ in 0..2 {
            assert!(harness.frame(vec![], |ui| load_error_window(ui.ctx(), message)));
        }
        assert!(
            harness.find(message).is_some()
                && harness.find("The model could not be loaded").is_some()
        );
        let dismiss = harness.find("Dismiss").unwrap();
        assert!(
            harness
                .click(dismiss, |ui| load_error_window(ui.ctx(), message))
                .contains(&false),
            "dismissed"
        );
    }
}
