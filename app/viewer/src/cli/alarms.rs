//! `twinscope alarms`: the alarm history of a recording, every transition of device alarms
//! and of the scene's local alarm rules, as a table or as CSV. What the alarm panel's
//! history shows, for a whole night at once, without a window. Live, with `--session`, it
//! hears the session's alarm handling too, and `--ack TWIN ALARM` acknowledges in it.

use std::process::ExitCode;

use twinscope_core::replay::state_by_full_replay_with;

use twinscope_core::session::SessionLink;
use twinscope_core::session::alarm_actions::SharedAlarmAction;

use super::AlarmsArgs;

pub fn run(args: AlarmsArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    super::init_cli_logging();
    let Some((mut store, sources)) = super::scene_store_and_sources(args.scene.as_deref()) else {
        return Ok(ExitCode::FAILURE);
    };
    let mut schemas = args.schemas.choice();
    schemas.json_sources = sources;
    let source = match &args.replay {
        Some(path) => {
            let Some((mut recording, _, end)) = super::open_recording(path, schemas.clone()) else {
                return Ok(ExitCode::FAILURE);
            };
            // Every message in order: seeking would skip transitions between checkpoints.
            if let Err(error) =
                state_by_full_replay_with(&mut recording.file, &mut store, end, &schemas)
            {
                eprintln!("error: {error}");
                return Ok(ExitCode::FAILURE);
            }
            path.display().to_string()
        }
        None => {
            let settings = args.connect.resolve(None)?;
            let session = join_the_session(&args, &settings)?;
            let watching_since = twinscope_core::Timestamp::now();
            let stats = super::listen::listen(&settings, &schemas, &mut store, args.listen_for)?;
            if let Some(code) = super::listen::never_connected(&settings, &stats, args.listen_for) {
                return Ok(code);
            }
            if let Some(link) = session {
                handle_in_the_session(&args, &link, &mut store, watching_since)?;
                link.leave();
            }
            format!("{} (listened {:?})", settings.broker, args.listen_for)
        }
    };
    let book = store.alarm_book();
    match args.csv.as_deref() {
        Some(target) if target.as_os_str() == "-" => {
            let mut csv = Vec::new();
            book.write_history_csv(&mut csv)?;
            out.push_str(&String::from_utf8_lossy(&csv));
            return Ok(ExitCode::SUCCESS);
        }
        Some(target) => {
            let write = std::fs::File::create(target).and_then(|file| {
                let mut writer = std::io::BufWriter::new(file);
                book.write_history_csv(&mut writer)?;
                std::io::Write::flush(&mut writer)
            });
            if let Err(error) = write {
                eprintln!("error: cannot write {}: {error}", target.display());
                return Ok(ExitCode::FAILURE);
            }
            crate::outln!(
                out,
                "wrote {} transitions to {}",
                book.history().len(),
                target.display()
            );
        }
        None => {
            crate::outln!(
                out,
                "# alarm history of {source}: {} transitions",
                book.history().len()
            );
            for t in book.history() {
                crate::outln!(
                    out,
                    "{}  {:<28} {:<18} {:<8} {:<11} {} -> {}  ({})",
                    t.time,
                    t.twin.as_str(),
                    &*t.alarm_type,
                    t.severity.as_str(),
                    t.action.as_str(),
                    t.from.as_str(),
                    t.to.as_str(),
                    t.cause
                );
            }
        }
    }
    crate::outln!(
        out,
        "# in the alarm list at the end: {}",
        book.alarms().len()
    );
    for i in book.sorted() {
        let alarm = &book.alarms()[i];
        let by = alarm
            .acknowledged_by
            .as_deref()
            .map(|who| format!("  (acknowledged by {who})"))
            .unwrap_or_default();
        crate::outln!(
            out,
            "{:<24} {:<28} {:<18} {:<8} {}{by}",
            alarm.state.as_str(),
            alarm.twin_id.as_str(),
            &*alarm.alarm_type,
            alarm.severity.as_str(),
            alarm.text
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// With --session: the session's link, as a writer (--ack) or an observer.
fn join_the_session(
    args: &AlarmsArgs,
    plant: &twinscope_core::connection::ConnectionSettings,
) -> anyhow::Result<Option<SessionLink>> {
    let Some(topics) = args.session.topics()? else {
        return Ok(None);
    };
    let settings = args
        .session
        .connection(&args.connect, Some(plant))?
        .unwrap_or_else(|| plant.clone());
    let link = match (
        &args.ack,
        args.session
            .presence(twinscope_core::session::Device::Desktop)?,
    ) {
        (Some(_), Some(me)) => SessionLink::join_as_writer(&settings, topics, &me.user)?,
        (Some(_), None) => anyhow::bail!("an observer cannot acknowledge"),
        (None, _) => SessionLink::join(&settings, topics, None)?,
    };
    Ok(Some(link))
}

/// Applies what the session did to alarms, and our --ack (told to the session, waited for
/// until the broker has it).
fn handle_in_the_session(
    args: &AlarmsArgs,
    link: &SessionLink,
    store: &mut twinscope_core::twin::TwinStore,
    watching_since: twinscope_core::Timestamp,
) -> anyhow::Result<()> {
    let now = twinscope_core::Timestamp::now();
    twinscope_core::session::alarm_apply::AlarmActionApplier::new(watching_since).apply(
        store,
        link.take_alarm_actions(),
        now,
    );
    let Some([twin_id, alarm]) = args.ack.as_deref() else {
        return Ok(());
    };
    let twin = store
        .find(twin_id)
        .ok_or_else(|| anyhow::anyhow!("no twin {twin_id} was heard on the broker"))?;
    let alarm_type = store
        .alarm_book()
        .alarms()
        .iter()
        .find(|a| a.twin == twin && *a.alarm_type == **alarm)
        .map(|a| a.alarm_type.clone());
    let alarm_type =
        alarm_type.ok_or_else(|| anyhow::anyhow!("{twin_id} has no alarm {alarm} in the list"))?;
    let raised = store
        .alarm_book()
        .alarms()
        .iter()
        .find(|a| a.twin == twin && a.alarm_type == alarm_type)
        .map_or(now.0, |a| a.activated.0);
    if !store.acknowledge(twin, &alarm_type, link.user(), now) {
        eprintln!("{twin_id} {alarm} was acknowledged already");
        return Ok(());
    }
    link.tell_alarm_action(
        twin_id,
        alarm,
        SharedAlarmAction::Acknowledge,
        now.0,
        raised,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !link.alarm_action_confirmed(twin_id, alarm, now.0) {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the broker did not confirm the acknowledgement within 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(())
}
