//! Drives the panels with a real egui context, as a user would: lay out a frame, find a
//! text on screen, click it, read the commands the panel returned. No window, no GPU.

use bevy_egui::egui::{self, Event, Modifiers, Pos2, RawInput, Rect};

/// One egui context and the texts (with their positions) of the last frame.
pub struct PanelHarness {
    ctx: egui::Context,
    size: egui::Vec2,
    pub texts: Vec<(String, Pos2)>,
}

impl PanelHarness {
    pub fn new(width: f32, height: f32) -> Self {
        PanelHarness {
            ctx: egui::Context::default(),
            size: egui::vec2(width, height),
            texts: Vec::new(),
        }
    }

    /// Runs one frame with `events`; returns what `draw` returned.
    pub fn frame<R>(&mut self, events: Vec<Event>, draw: impl FnMut(&mut egui::Ui) -> R) -> R {
        self.run(None, events, draw)
    }

    /// The same at `time` (seconds): what depends on how long something is held.
    pub fn frame_at<R>(
        &mut self,
        time: f64,
        events: Vec<Event>,
        draw: impl FnMut(&mut egui::Ui) -> R,
    ) -> R {
        self.run(Some(time), events, draw)
    }

    fn run<R>(
        &mut self,
        time: Option<f64>,
        events: Vec<Event>,
        mut draw: impl FnMut(&mut egui::Ui) -> R,
    ) -> R {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, self.size)),
            events,
            time,
            ..Default::default()
        };
        let mut result = None;
        let mut output = self.ctx.run_ui(input, |ui| {
            result = Some(draw(ui));
        });
        output.textures_delta.clear(); // no renderer here to upload font textures to
        self.texts = output
            .shapes
            .iter()
            .filter_map(|clipped| match &clipped.shape {
                egui::Shape::Text(text) => Some((
                    text.galley.text().to_owned(),
                    text.pos + text.galley.rect.center().to_vec2(),
                )),
                _ => None,
            })
            .collect();
        result.expect("the frame ran")
    }

    /// Where `text` was drawn in the last frame.
    pub fn find(&self, text: &str) -> Option<Pos2> {
        self.texts.iter().find(|(t, _)| t == text).map(|(_, p)| *p)
    }

    /// Clicks at `pos` (press and release in one frame, after moving there) and returns what
    /// the frames returned.
    pub fn click<R>(&mut self, pos: Pos2, mut draw: impl FnMut(&mut egui::Ui) -> R) -> Vec<R> {
        let press = |pressed| Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        };
        vec![
            self.frame(vec![Event::PointerMoved(pos)], &mut draw),
            self.frame(vec![press(true), press(false)], &mut draw),
        ]
    }
}
