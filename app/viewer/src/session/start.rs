//! Starting a shared session from the desktop: "Start shared session" joins a new session
//! as its host, on the plant's broker, under a short join code that others type or pass as
//! `--session`.

use bevy::prelude::*;
use twinscope_core::connection::ConnectionSettings;
use twinscope_core::session::{Presence, SessionLink, SessionTopics, join_code};

use super::{HandOverCommand, SessionCommand, SharedSession};

/// What a session started from the UI is made of: the broker, the topic root, and who we are
/// (the presence's session-independent part; `host` is set when starting).
#[derive(Resource, Clone)]
pub struct SessionStarter {
    pub connection: ConnectionSettings,
    pub root: String,
    pub me: Presence,
}

/// The panel's "Start shared session".
pub fn start_a_session(
    mut commands: MessageReader<SessionCommand>,
    starter: Option<Res<SessionStarter>>,
    session: Option<Res<SharedSession>>,
    hand_over: Option<Res<HandOverCommand>>,
    mut bevy_commands: Commands,
) {
    for command in commands.read() {
        let (SessionCommand::Start, Some(starter), None) =
            (command, starter.as_ref(), session.as_ref())
        else {
            continue;
        };
        let seed = twinscope_core::Timestamp::now().0 as u64
            ^ u64::from(std::process::id()).rotate_left(32);
        let code = join_code(seed);
        let topics = match SessionTopics::new(&starter.root, &code) {
            Ok(topics) => topics,
            Err(error) => {
                error!("cannot start a session: {error}");
                continue;
            }
        };
        let me = Presence {
            host: true,
            since: twinscope_core::Timestamp::now().0,
            ..starter.me.clone()
        };
        match SessionLink::join(&starter.connection, topics, Some(me)) {
            Ok(link) => {
                info!("started the shared session {code} as its host");
                bevy_commands.insert_resource(SharedSession(link));
                if let Some(hand_over) = hand_over.as_ref() {
                    // The other device joins this session, as this user.
                    let mut with_session = (**hand_over).clone();
                    with_session.args.extend([
                        "--session".into(),
                        code.clone(),
                        "--user".into(),
                        starter.me.user.clone(),
                    ]);
                    bevy_commands.insert_resource(with_session);
                }
            }
            Err(error) => error!("cannot start a session: {error}"),
        }
    }
}
