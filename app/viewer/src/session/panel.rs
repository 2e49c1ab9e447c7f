//! The session in the desktop's UI: a name tag over each participant in view (name, device,
//! what they selected), a marker at the edge of the 3D view towards each one out of view,
//! and the participants panel (who, on which device, what they selected, live or looking
//! back; "go to" and "follow").

use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};
use twinscope_core::session::{Device, Timeline};

use super::{Following, Participants, SessionCommand, SharedSession};
use crate::scene::camera::OrbitCamera;

fn colour32(colour: Color) -> egui::Color32 {
    let [r, g, b, _] = colour.to_srgba().to_u8_array();
    egui::Color32::from_rgb(r, g, b)
}

fn device_name(device: Device) -> &'static str {
    match device {
        Device::Desktop => "desktop",
        Device::Headset => "headset",
    }
}

fn timeline_name(timeline: Timeline) -> &'static str {
    match timeline {
        Timeline::Live => "live",
        Timeline::LookingBack => "looking back",
        Timeline::Replay => "replay",
    }
}

/// Where on screen a point shows, or, out of view, the point on the view's edge towards it
/// (`false`).
pub fn screen_place(camera: &Camera, eye: &GlobalTransform, at: Vec3) -> Option<(Vec2, bool)> {
    let rect = camera.logical_viewport_rect()?;
    let local = eye.affine().inverse().transform_point3(at);
    if local.z < 0.0
        && let Ok(place) = camera.world_to_viewport(eye, at)
        && rect.contains(place)
    {
        return Some((place, true));
    }
    // Towards it, from the middle, as the camera sees the direction (flipped y: screen down).
    let direction = Vec2::new(local.x, -local.y).try_normalize().unwrap_or(Vec2::X);
    let half = rect.half_size() - Vec2::splat(24.0);
    let reach = (half.x / direction.x.abs().max(1e-6)).min(half.y / direction.y.abs().max(1e-6));
    Some((rect.center() + direction * reach, false))
}

pub fn draw_name_tags(mut contexts: EguiContexts, participants: Res<Participants>, cameras: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>) -> Result {
    if participants.others.is_empty() {
        return Ok(());
    }
    let Ok((camera, eye)) = cameras.single() else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::new("session-name-tags")));
    for participant in &participants.others {
        let Some(head) = participant.head else { continue };
        let Some((place, in_view)) = screen_place(camera, eye, head.translation) else { continue };
        let colour = colour32(participant.colour);
        let at = egui::pos2(place.x, place.y);
        if in_view {
            let selected = participant.selected.as_ref().map(|(id, _)| format!(" · {id}")).unwrap_or_default();
            let text = format!("{} ({}){selected}", participant.user, device_name(participant.device));
            let galley = painter.layout_no_wrap(text, egui::FontId::proportional(13.0), egui::Color32::WHITE);
            let rect = egui::Rect::from_center_size(at - egui::vec2(0.0, 18.0), galley.size() + egui::vec2(10.0, 4.0));
            painter.rect_filled(rect, 4.0, colour.gamma_multiply(0.85));
            painter.galley(rect.min + egui::vec2(5.0, 2.0), galley, egui::Color32::WHITE);
        } else {
            painter.circle_filled(at, 7.0, colour);
            let galley = painter.layout_no_wrap(participant.user.clone(), egui::FontId::proportional(12.0), colour);
            let towards_middle = (ctx.viewport_rect().center() - at).normalized();
            painter.galley(at + towards_middle * 14.0 - galley.size() / 2.0, galley, colour);
        }
    }
    Ok(())
}

pub fn draw_participants_panel(
    mut contexts: EguiContexts,
    session: Option<Res<SharedSession>>,
    participants: Res<Participants>,
    following: Res<Following>,
    mut commands: MessageWriter<SessionCommand>,
    starter: Option<Res<super::SessionStarter>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    if session.is_none() {
        if starter.is_some() {
            egui::Area::new(egui::Id::new("session-start")).anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 8.0)).show(ctx, |ui| {
                if ui.button("Start shared session").on_hover_text("others join with the code shown, on this broker").clicked() {
                    commands.write(SessionCommand::Start);
                }
            });
        }
        return Ok(());
    }
    let title = format!("Session {}", participants.session);
    egui::Window::new(title).id(egui::Id::new("session-participants")).anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 8.0)).resizable(false).collapsible(true).show(ctx, |ui| {
        let me = if participants.me.is_empty() { "observing".to_owned() } else { format!("you are {}", participants.me) };
        let link = if participants.connected { "" } else { " · not connected" };
        ui.label(format!("{me} · {} other(s){link}", participants.others.len()));
        ui.horizontal(|ui| {
            ui.label("join code:");
            ui.monospace(&participants.session).on_hover_text(format!("others join with --session {} (a standalone headset too)", participants.session));
            if !participants.me.is_empty() && ui.small_button("Continue in headset").on_hover_text("start twinscope --xr here, with this session and selection").clicked() {
                commands.write(SessionCommand::ContinueOn(Device::Headset));
            }
            if participants.host && ui.small_button("Bring everyone here").on_hover_text("everyone's view to where you look, with your selection").clicked() {
                commands.write(SessionCommand::GatherHere);
            }
        });
        for command in participant_rows(ui, &participants, &following) {
            commands.write(command);
        }
        if participants.dropped > 0 {
            ui.small(format!("{} session messages dropped (malformed, forged or too fast)", participants.dropped));
        }
    });
    Ok(())
}

/// One row per other participant: colour, name, device, selection, timeline, Go to and Follow
/// (the desktop's Session window and the headset panel's Session tab).
pub fn participant_rows(ui: &mut egui::Ui, participants: &Participants, following: &Following) -> Vec<SessionCommand> {
    let mut commands = Vec::new();
    for participant in &participants.others {
        ui.horizontal(|ui| {
            ui.colored_label(colour32(participant.colour), "●");
            ui.strong(&participant.user);
            ui.label(device_name(participant.device));
            ui.label(participant.selected.as_ref().map_or("nothing selected", |(id, _)| id.as_str()));
            ui.label(timeline_name(participant.timeline));
            if ui.small_button("Go to").clicked() {
                commands.push(SessionCommand::GoTo(participant.user.clone()));
            }
            if following.0.as_deref() == Some(participant.user.as_str()) {
                if ui.small_button("Stop following").clicked() {
                    commands.push(SessionCommand::StopFollowing);
                }
            } else if ui.small_button("Follow").clicked() {
                commands.push(SessionCommand::Follow(participant.user.clone()));
            }
        });
    }
    if participants.others.is_empty() {
        ui.label(format!("nobody else yet: others join with --session {}", participants.session));
    }
    commands
}
