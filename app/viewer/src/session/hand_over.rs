//! Moving a session from one device to another, "as simply as transferring a call": the same
//! user joining from another device takes over their presence (the later instance wins, the
//! earlier one stops publishing and leaves), and the newcomer continues where the other stood,
//! with the same selection.
//!
//! "Continue in headset" on the desktop starts `twinscope --xr` with the same connection and
//! session, standing in front of the selection; the headset's panel has "Continue on desktop".
//! A standalone headset joins by the session's name (the join code) instead.

use std::path::PathBuf;

use bevy::prelude::*;
use twinscope_core::session::Device;

use super::{Participants, SessionCommand, SharedSession};
use crate::scene::camera::OrbitCamera;
use crate::scene::selection::{SelectTwin, Selection};
use crate::store::sync::TwinState;

/// How this process was started, to start the same session on the other kind of device.
#[derive(Resource, Debug, Clone)]
pub struct HandOverCommand {
    pub program: PathBuf,
    /// The arguments that name the data source, scene and session (no --xr, --select,
    /// --start-at, --screenshot, --exit-after, --offscreen, --window-size, --follow).
    pub args: Vec<String>,
}

/// Options that are this process's own and not handed over (with whether each takes a value).
const NOT_HANDED_OVER: [(&str, bool); 8] = [
    ("--xr", false),
    ("--offscreen", false),
    ("--select", true),
    ("--start-at", true),
    ("--screenshot", true),
    ("--exit-after", true),
    ("--window-size", true),
    ("--follow", true),
];

impl HandOverCommand {
    /// From this process's command line.
    pub fn from_command_line(program: PathBuf, args: impl IntoIterator<Item = String>) -> Self {
        let mut kept = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let name = arg.split('=').next().unwrap_or(&arg).to_owned();
            match NOT_HANDED_OVER.iter().find(|(option, _)| *option == name) {
                Some((_, true)) if !arg.contains('=') => {
                    args.next();
                }
                Some(_) => {}
                None => kept.push(arg),
            }
        }
        HandOverCommand {
            program,
            args: kept,
        }
    }

    /// The command line that continues on `device`, with `selected` selected (and, in the
    /// headset, stood in front of).
    pub fn continue_on(&self, device: Device, selected: Option<&str>) -> Vec<String> {
        let mut args = self.args.clone();
        if device == Device::Headset {
            args.push("--xr".into());
            if let Some(twin) = selected {
                args.extend(["--start-at".into(), twin.to_owned()]);
            }
        }
        if let Some(twin) = selected {
            args.extend(["--select".into(), twin.to_owned()]);
        }
        args
    }
}

/// Starts the other device's twinscope for the panel's "Continue in headset" / "Continue on
/// desktop".
pub fn start_the_other_device(
    mut commands: MessageReader<SessionCommand>,
    hand_over: Option<Res<HandOverCommand>>,
    selection: Res<Selection>,
    state: Res<TwinState>,
) {
    for command in commands.read() {
        let SessionCommand::ContinueOn(device) = command else {
            continue;
        };
        let Some(hand_over) = hand_over.as_ref() else {
            continue;
        };
        let selected = selection
            .twin
            .filter(|t| (t.0 as usize) < state.store.len())
            .map(|t| state.store.get(t).id.to_string());
        let args = hand_over.continue_on(*device, selected.as_deref());
        match std::process::Command::new(&hand_over.program)
            .args(&args)
            .spawn()
        {
            Ok(child) => info!(
                "continuing on the {device:?}: started {} (pid {})",
                hand_over.program.display(),
                child.id()
            ),
            Err(error) => error!(
                "cannot start {} to continue on the {device:?}: {error}",
                hand_over.program.display()
            ),
        }
    }
}

/// Where this user's other device stood (its head in plant coordinates), for a headset taking
/// over to stand there too; `selected`: it had a selection (the headset then stands in front
/// of that, as --start-at says).
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct ContinueFrom {
    pub head: Transform,
    pub selected: bool,
}

/// After a hand-over: the instance that was taken over leaves the session (its presence is the
/// other's now); the one that took over starts where the other stood, with its selection.
pub fn continue_where_the_other_left_off(
    mut commands: Commands,
    mut participants: ResMut<Participants>,
    session: Option<Res<SharedSession>>,
    state: Res<TwinState>,
    mut select: MessageWriter<SelectTwin>,
    mut cameras: Query<&mut OrbitCamera>,
    (frame, mut continued): (super::PlantFrame, MessageWriter<ContinueFrom>),
) {
    if let Some(device) = participants.handed_over_to {
        if session.is_some() {
            info!("this session continues on the {device:?}; this viewer has left it");
            commands.remove_resource::<SharedSession>();
        }
        return;
    }
    let Some((selected, head)) = participants.continue_from.take() else {
        return;
    };
    let twin = selected.as_deref().and_then(|id| state.store.find(id));
    if let Some(twin) = twin {
        select.write(SelectTwin(Some(twin)));
    }
    if let Some(head) = head {
        for mut camera in &mut cameras {
            super::hear::look_from(&mut camera, frame.to_world(head));
            camera.placed = true;
        }
        continued.write(ContinueFrom {
            head,
            selected: twin.is_some(),
        });
    }
    info!("continuing where this user's other device left off");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_device_gets_the_connection_and_session_but_not_this_ones_own_options() {
        let given = [
            "--broker",
            "mqtts://plant:8883",
            "--session",
            "pump-3",
            "--user",
            "anna",
            "--select",
            "line1-tank1",
            "--screenshot",
            "a.png",
            "--exit-after=10s",
            "--offscreen",
        ];
        let hand_over =
            HandOverCommand::from_command_line("twinscope".into(), given.map(String::from));
        assert_eq!(
            hand_over.args,
            [
                "--broker",
                "mqtts://plant:8883",
                "--session",
                "pump-3",
                "--user",
                "anna"
            ]
        );
        let headset = hand_over.continue_on(Device::Headset, Some("line1-pump2"));
        assert_eq!(
            headset[6..],
            [
                "--xr",
                "--start-at",
                "line1-pump2",
                "--select",
                "line1-pump2"
            ]
        );
        let back = HandOverCommand::from_command_line("twinscope".into(), headset);
        assert_eq!(
            back.continue_on(Device::Desktop, None),
            [
                "--broker",
                "mqtts://plant:8883",
                "--session",
                "pump-3",
                "--user",
                "anna"
            ]
        );
    }
}
