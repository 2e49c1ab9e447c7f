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
    let direction = Vec2::new(local.x, -local.y)
        .try_normalize()
        .unwrap_or(Vec2::X);
    let half = rect.half_size() - Vec2::splat(24.0);
    let reach = (half.x / direction.x.abs().max(1e-6)).min(half.y / direction.y.abs().max(1e-6));
    Some((rect.center() + direction * reach, false))
}

pub fn draw_name_tags(
    mut contexts: EguiContexts,
    participants: Res<Participants>,
    cameras: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>,
) -> Result {
    if participants.others.is_empty() {
        return Ok(());
    }
    let Ok((camera, eye)) = cameras.single() else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::new("session-name-tags"),
    ));
    for participant in &participants.others {
        let Some(head) = participant.head else {
            continue;
        };
        let Some((place, in_view)) = screen_place(camera, eye, head.translation) else {
            continue;
        };
        let colour = colour32(participant.colour);
        let at = egui::pos2(place.x, place.y);
        if in_view {
            let selected = participant
                .selected
                .as_ref()
                .map(|(id, _)| format!(" · {id}"))
                .unwrap_or_default();
            let text = format!(
                "{} ({}){selected}",
                participant.user,
                device_name(participant.device)
            );
            let galley = painter.layout_no_wrap(
                text,
                egui::FontId::proportional(13.0),
                egui::Color32::WHITE,
            );
            let rect = egui::Rect::from_center_size(
                at - egui::vec2(0.0, 18.0),
                galley.size() + egui::vec2(10.0, 4.0),
            );
            painter.rect_filled(rect, 4.0, colour.gamma_multiply(0.85));
            painter.galley(
                rect.min + egui::vec2(5.0, 2.0),
                galley,
                egui::Color32::WHITE,
            );
        } else {
            painter.circle_filled(at, 7.0, colour);
            let galley = painter.layout_no_wrap(
                participant.user.clone(),
                egui::FontId::proportional(12.0),
                colour,
            );
            let towards_middle = (ctx.viewport_rect().center() - at).normalized();
            painter.galley(
                at + towards_middle * 14.0 - galley.size() / 2.0,
                galley,
                colour,
            );
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
    timeline: Res<super::timeline::TimelineStatus>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    if session.is_none() {
        if starter.is_some() {
            egui::Area::new(egui::Id::new("session-start"))
                .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 8.0))
                .show(ctx, |ui| {
                    commands.write_batch(start_button(ui));
                });
        }
        return Ok(());
    }
    let title = format!("Session {}", participants.session);
    egui::Window::new(title)
        .id(egui::Id::new("session-participants"))
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 8.0))
        .resizable(false)
        .collapsible(true)
        .show(ctx, |ui| {
            commands.write_batch(session_window(ui, &participants, &following, &timeline));
        });
    Ok(())
}

/// Outside a session: the button that starts one (the host's).
pub fn start_button(ui: &mut egui::Ui) -> Option<SessionCommand> {
    ui.button("Start shared session")
        .on_hover_text("others join with the code shown, on this broker")
        .clicked()
        .then_some(SessionCommand::Start)
}

/// The Session window's content: who we are, the join code, hand-over and gathering, one row
/// per participant.
pub fn session_window(
    ui: &mut egui::Ui,
    participants: &Participants,
    following: &Following,
    timeline: &super::timeline::TimelineStatus,
) -> Vec<SessionCommand> {
    let mut commands = Vec::new();
    let me = if participants.me.is_empty() {
        "observing".to_owned()
    } else {
        format!("you are {}", participants.me)
    };
    let link = if participants.connected {
        ""
    } else {
        " · not connected"
    };
    ui.label(format!(
        "{me} · {} other(s){link}",
        participants.others.len()
    ));
    ui.horizontal(|ui| {
        ui.label("join code:");
        ui.monospace(&participants.session).on_hover_text(format!(
            "others join with --session {} (a standalone headset too)",
            participants.session
        ));
        if !participants.me.is_empty()
            && ui
                .small_button("Continue in headset")
                .on_hover_text("start twinscope --xr here, with this session and selection")
                .clicked()
        {
            commands.push(SessionCommand::ContinueOn(Device::Headset));
        }
        if participants.host
            && ui
                .small_button("Bring everyone here")
                .on_hover_text("everyone's view to where you look, with your selection")
                .clicked()
        {
            commands.push(SessionCommand::GatherHere);
        }
    });
    if let Some(text) = &timeline.text {
        ui.horizontal(|ui| {
            ui.label(format!("timeline: {text}"));
            if participants.host
                && !participants.lead_the_timeline()
                && ui
                    .small_button("Take back")
                    .on_hover_text("lead the session's timeline again")
                    .clicked()
            {
                commands.push(SessionCommand::HandTimeline(None));
            }
            if !participants.lead_the_timeline() {
                if timeline.stepped_out {
                    if ui
                        .small_button("Rejoin")
                        .on_hover_text("back to the host's timeline")
                        .clicked()
                    {
                        commands.push(SessionCommand::Rejoin);
                    }
                } else if ui
                    .small_button("Step out")
                    .on_hover_text("look on your own; Rejoin brings you back")
                    .clicked()
                {
                    commands.push(SessionCommand::StepOut);
                }
            }
        });
        if let Some(problem) = &timeline.problem {
            ui.colored_label(egui::Color32::from_rgb(242, 158, 18), problem);
        }
    }
    commands.extend(participant_rows(ui, participants, following));
    if participants.dropped > 0 {
        ui.small(format!(
            "{} session messages dropped (malformed, forged or too fast)",
            participants.dropped
        ));
    }
    commands
}

/// One row per other participant: colour, name, device, selection, timeline, Go to and Follow
/// (the desktop's Session window and the headset panel's Session tab).
pub fn participant_rows(
    ui: &mut egui::Ui,
    participants: &Participants,
    following: &Following,
) -> Vec<SessionCommand> {
    let mut commands = Vec::new();
    for participant in &participants.others {
        ui.horizontal(|ui| {
            ui.colored_label(colour32(participant.colour), "●");
            ui.strong(&participant.user);
            ui.label(device_name(participant.device));
            ui.label(
                participant
                    .selected
                    .as_ref()
                    .map_or("nothing selected", |(id, _)| id.as_str()),
            );
            ui.label(timeline_name(participant.timeline));
            if ui.small_button("Go to").clicked() {
                commands.push(SessionCommand::GoTo(participant.user.clone()));
            }
            if participants.host
                && participants.timeline_lead.as_deref() != Some(participant.user.as_str())
                && ui
                    .small_button("Hand timeline")
                    .on_hover_text("they lead everyone's timeline (you can take it back)")
                    .clicked()
            {
                commands.push(SessionCommand::HandTimeline(Some(participant.user.clone())));
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
        ui.label(format!(
            "nobody else yet: others join with --session {}",
            participants.session
        ));
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Participant;
    use crate::ui::testing::PanelHarness;

    fn jonas() -> Participant {
        Participant {
            user: "jonas".into(),
            colour: Color::srgb(0.6, 0.3, 0.9),
            device: Device::Headset,
            timeline: Timeline::LookingBack,
            host: false,
            selected: Some(("line1-tank1".into(), None)),
            head: None,
            hands: Vec::new(),
            pointer: None,
            fov: None,
        }
    }

    /// Clicks `text` in the Session window; returns the commands the click gave.
    fn click(
        text: &str,
        participants: &Participants,
        following: &Following,
    ) -> Vec<SessionCommand> {
        let mut harness = PanelHarness::new(700.0, 300.0);
        let timeline = super::super::timeline::TimelineStatus {
            text: Some("on hans's timeline".into()),
            ..Default::default()
        };
        harness.frame(vec![], |ui| {
            session_window(ui, participants, following, &timeline)
        });
        let at = harness
            .find(text)
            .unwrap_or_else(|| panic!("{text} in the window: {:?}", harness.texts));
        harness
            .click(at, |ui| {
                session_window(ui, participants, following, &timeline)
            })
            .concat()
    }

    #[test]
    fn start_shared_session_starts_one() {
        let mut harness = PanelHarness::new(400.0, 100.0);
        harness.frame(vec![], start_button);
        let at = harness
            .find("Start shared session")
            .expect("the button is shown");
        assert_eq!(
            harness.click(at, start_button),
            vec![None, Some(SessionCommand::Start)]
        );
    }

    #[test]
    fn the_window_shows_who_is_where_and_its_buttons_give_their_commands() {
        let participants = Participants {
            others: vec![jonas()],
            me: "anna".into(),
            connected: true,
            session: "k7m2qx".into(),
            host: true,
            ..Default::default()
        };
        let following = Following::default();
        let mut harness = PanelHarness::new(700.0, 300.0);
        harness.frame(vec![], |ui| {
            session_window(ui, &participants, &following, &Default::default())
        });
        for text in [
            "you are anna · 1 other(s)",
            "k7m2qx",
            "jonas",
            "headset",
            "line1-tank1",
            "looking back",
        ] {
            assert!(
                harness.find(text).is_some(),
                "{text} shown: {:?}",
                harness.texts
            );
        }
        assert_eq!(
            click("Continue in headset", &participants, &following),
            vec![SessionCommand::ContinueOn(Device::Headset)]
        );
        assert_eq!(
            click("Bring everyone here", &participants, &following),
            vec![SessionCommand::GatherHere]
        );
        assert_eq!(
            click("Go to", &participants, &following),
            vec![SessionCommand::GoTo("jonas".into())]
        );
        assert_eq!(
            click("Follow", &participants, &following),
            vec![SessionCommand::Follow("jonas".into())]
        );
        let following = Following(Some("jonas".into()));
        assert_eq!(
            click("Stop following", &participants, &following),
            vec![SessionCommand::StopFollowing]
        );
        assert_eq!(
            click("Hand timeline", &participants, &Following::default()),
            vec![SessionCommand::HandTimeline(Some("jonas".into()))]
        );
        let guest = Participants {
            host: false,
            ..participants
        };
        assert_eq!(
            click("Step out", &guest, &following),
            vec![SessionCommand::StepOut]
        );
    }

    #[test]
    fn an_observer_cannot_hand_over_and_a_guest_cannot_gather() {
        let observer = Participants {
            others: vec![jonas()],
            session: "k7m2qx".into(),
            ..Default::default()
        };
        let mut harness = PanelHarness::new(700.0, 300.0);
        harness.frame(vec![], |ui| {
            session_window(ui, &observer, &Following::default(), &Default::default())
        });
        assert!(
            harness
                .find("observing · 1 other(s) · not connected")
                .is_some(),
            "{:?}",
            harness.texts
        );
        assert!(
            harness.find("Continue in headset").is_none()
                && harness.find("Bring everyone here").is_none(),
            "{:?}",
            harness.texts
        );
    }
}
