//! `twinscope alarms`: the alarm history of a recording, every transition of device alarms
//! and of the scene's local alarm rules, as a table or as CSV. What the alarm panel's
//! history shows, for a whole night at once, without a window.

use std::process::ExitCode;

use twinscope_core::replay::state_by_full_replay_with;

use super::AlarmsArgs;

pub fn run(args: AlarmsArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    super::init_cli_logging();
    let Some((mut store, sources)) = super::scene_store_and_sources(args.scene.as_deref()) else { return Ok(ExitCode::FAILURE) };
    let mut schemas = args.schemas.choice();
    schemas.json_sources = sources;
    let source = match &args.replay {
        Some(path) => {
            let Some((mut recording, _, end)) = super::open_recording(path, schemas.clone()) else { return Ok(ExitCode::FAILURE) };
            // Every message in order: seeking would skip transitions between checkpoints.
            if let Err(error) = state_by_full_replay_with(&mut recording.file, &mut store, end, &schemas) {
                eprintln!("error: {error}");
                return Ok(ExitCode::FAILURE);
            }
            path.display().to_string()
        }
        None => {
            let settings = args.connect.resolve(None)?;
            let stats = super::listen::listen(&settings, &schemas, &mut store, args.listen_for)?;
            if let Some(code) = super::listen::never_connected(&settings, &stats, args.listen_for) {
                return Ok(code);
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
            crate::outln!(out, "wrote {} transitions to {}", book.history().len(), target.display());
        }
        None => {
            crate::outln!(out, "# alarm history of {source}: {} transitions", book.history().len());
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
    crate::outln!(out, "# in the alarm list at the end: {}", book.alarms().len());
    for i in book.sorted() {
        let alarm = &book.alarms()[i];
        crate::outln!(out, "{:<24} {:<28} {:<18} {:<8} {}", alarm.state.as_str(), alarm.twin_id.as_str(), &*alarm.alarm_type, alarm.severity.as_str(), alarm.text);
    }
    Ok(ExitCode::SUCCESS)
}
