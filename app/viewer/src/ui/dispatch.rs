//! Where the panels' commands go: the same messages picking, the keyboard and the replay
//! controls send, so every way of doing something ends in one place.

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use twinscope_core::Timestamp;
use twinscope_core::twin::TwinIndex;

use super::PanelState;
use super::model::UiCommand;
use crate::history::dvr::DvrCommand;
use crate::history::recording::RecordCommand;
use crate::history::replay::ReplayCommand;
use crate::scene::focus::FocusCommand;
use crate::scene::selection::{FrameTwin, SelectTwin};
use crate::store::alarm_actions::AlarmCommand;

#[derive(SystemParam)]
pub struct CommandOutlets<'w> {
    select: MessageWriter<'w, SelectTwin>,
    frame: MessageWriter<'w, FrameTwin>,
    replay: MessageWriter<'w, ReplayCommand>,
    record: MessageWriter<'w, RecordCommand>,
    dvr: MessageWriter<'w, DvrCommand>,
    alarm: MessageWriter<'w, AlarmCommand>,
    focus: MessageWriter<'w, FocusCommand>,
    trend: MessageWriter<'w, crate::archive::OpenTrend>,
}

impl CommandOutlets<'_> {
    /// Sends one command on; panel visibility is view state and changes here directly.
    pub fn send(
        &mut self,
        command: UiCommand,
        panels: &mut PanelState,
        selected: Option<TwinIndex>,
        replay_start: Option<Timestamp>,
    ) {
        let replay_command = match command {
            UiCommand::Select(twin) => {
                self.select.write(SelectTwin(twin));
                return;
            }
            UiCommand::SelectAndFrame(twin) => {
                self.select.write(SelectTwin(Some(twin)));
                self.frame.write(FrameTwin(twin));
                return;
            }
            UiCommand::FrameSelection => {
                if let Some(twin) = selected {
                    self.frame.write(FrameTwin(twin));
                }
                return;
            }
            UiCommand::Acknowledge(alarms) => {
                self.alarm.write(AlarmCommand::Acknowledge(alarms));
                return;
            }
            UiCommand::Shelve {
                twin,
                alarm_type,
                minutes,
            } => {
                self.alarm.write(AlarmCommand::Shelve {
                    twin,
                    alarm_type,
                    minutes,
                });
                return;
            }
            UiCommand::Unshelve { twin, alarm_type } => {
                self.alarm
                    .write(AlarmCommand::Unshelve { twin, alarm_type });
                return;
            }
            UiCommand::ExportAlarmHistory => {
                self.alarm.write(AlarmCommand::ExportHistory);
                return;
            }
            UiCommand::Focus(mode) => {
                self.focus.write(FocusCommand(mode));
                return;
            }
            UiCommand::ToggleHelp => {
                panels.show_help ^= true;
                return;
            }
            UiCommand::ToggleAlarmList => {
                panels.show_alarms ^= true;
                return;
            }
            UiCommand::ToggleTree => {
                panels.show_tree ^= true;
                return;
            }
            UiCommand::TogglePlay => ReplayCommand::TogglePlay,
            UiCommand::SetSpeed(speed) => ReplayCommand::SetSpeed(speed),
            UiCommand::SeekTo(seconds) => match replay_start {
                Some(start) => ReplayCommand::SeekTo(Timestamp(start.0 + (seconds * 1e6) as i64)),
                None => return,
            },
            UiCommand::Scrub(seconds) => match replay_start {
                Some(start) => ReplayCommand::Scrub(Timestamp(start.0 + (seconds * 1e6) as i64)),
                None => return,
            },
            UiCommand::Step(seconds) => ReplayCommand::Step(seconds),
            UiCommand::PreviousAlarm => ReplayCommand::PreviousAlarm,
            UiCommand::NextAlarm => ReplayCommand::NextAlarm,
            UiCommand::MarkLoop => ReplayCommand::MarkLoop,
            UiCommand::ClearLoop => ReplayCommand::ClearLoop,
            UiCommand::LookBack(seconds) => {
                let at = Timestamp(Timestamp::now().0 + (seconds * 1e6) as i64);
                self.dvr.write(DvrCommand::LookBack(at));
                return;
            }
            UiCommand::GoLive => {
                self.dvr.write(DvrCommand::GoLive);
                return;
            }
            UiCommand::OpenTrend { twin, property } => {
                self.trend
                    .write(crate::archive::OpenTrend { twin, property });
                return;
            }
            UiCommand::StartRecording | UiCommand::StopRecording => {
                self.record.write(if command == UiCommand::StartRecording {
                    RecordCommand::Start
                } else {
                    RecordCommand::Stop
                });
                return;
            }
        };
        self.replay.write(replay_command);
    }
}

#[cfg(test)]
mod tests {
    use bevy::ecs::system::RunSystemOnce;
    use twinscope_core::rules::RuleSet;
    use twinscope_core::twin::{StoreConfig, TwinStore};

    use super::*;
    use crate::scene::focus::{FocusMode, FocusPlugin};
    use crate::scene::selection::{Selection, SelectionPlugin};
    use crate::store::sync::TwinState;

    /// What a click in the tree returns, routed as the panels route it, changes the shared
    /// selection; a focus button changes the focus mode.
    #[test]
    fn panel_commands_reach_the_selection_and_the_focus_mode() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins((SelectionPlugin, FocusPlugin))
            .init_resource::<PanelState>();
        app.add_message::<ReplayCommand>()
            .add_message::<RecordCommand>()
            .add_message::<DvrCommand>()
            .add_message::<AlarmCommand>()
            .add_message::<crate::archive::OpenTrend>();
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        let pump = store.declare("pump1", None, None);
        app.insert_resource(TwinState { store });
        let send = move |command: UiCommand| {
            move |mut outlets: CommandOutlets, mut panels: ResMut<PanelState>| {
                outlets.send(command.clone(), &mut panels, Some(pump), None)
            }
        };
        app.world_mut()
            .run_system_once(send(UiCommand::SelectAndFrame(pump)))
            .unwrap();
        app.update();
        assert_eq!(app.world().resource::<Selection>().twin, Some(pump));
        app.world_mut()
            .run_system_once(send(UiCommand::Focus(FocusMode::XRay)))
            .unwrap();
        app.update();
        assert_eq!(*app.world().resource::<FocusMode>(), FocusMode::XRay);
        app.world_mut()
            .run_system_once(send(UiCommand::ToggleHelp))
            .unwrap();
        assert!(app.world().resource::<PanelState>().show_help);
    }
}
