//! `twinscope notes`: a session's notes from the command line. Lists a live session's notes
//! (text, Markdown, CSV or JSON), pins one (`--add TWIN TEXT`: scripts, tests, a maintenance
//! system feeding findings in), edits, resolves or deletes one; with `--replay FILE`, lists
//! the notes a recording holds.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use twinscope_core::session::notes::export::{write_csv, write_markdown};
use twinscope_core::session::{Note, SessionLink};

use super::ConnectArgs;
use super::session::SessionArgs;

#[derive(Args, Debug)]
pub struct NotesArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    /// List the notes of this recording (MCAP) instead of a live session's.
    #[arg(long, conflicts_with = "broker")]
    pub replay: Option<std::path::PathBuf>,
    /// Pin a note to twin TWIN (as --user).
    #[arg(long, num_args = 2, value_names = ["TWIN", "TEXT"], requires = "session")]
    pub add: Option<Vec<String>>,
    /// Change a note's text.
    #[arg(long, num_args = 2, value_names = ["ID", "TEXT"], requires = "session")]
    pub edit: Option<Vec<String>>,
    /// Mark a note resolved.
    #[arg(long, value_name = "ID", requires = "session")]
    pub resolve: Option<String>,
    /// Open a resolved note again.
    #[arg(long, value_name = "ID", requires = "session")]
    pub reopen: Option<String>,
    /// Delete a note (its author, or the session's host with --host).
    #[arg(long, value_name = "ID", requires = "session")]
    pub delete: Option<String>,
    /// How long to listen for the session's notes (they are retained: they come at once).
    #[arg(long = "for", default_value = "2s", value_parser = twinscope_core::time::parse_duration)]
    pub listen_for: Duration,
    /// How to list them.
    #[arg(long, value_enum, default_value_t = NotesFormat::Text)]
    pub format: NotesFormat,
    /// Shorthand for --format json.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotesFormat {
    Text,
    Markdown,
    Csv,
    Json,
}

pub fn run(args: NotesArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let format = if args.json {
        NotesFormat::Json
    } else {
        args.format
    };
    if let Some(path) = &args.replay {
        let notes = twinscope_core::session::notes::recorded::notes_in_recording(
            path,
            &args.session.session_root,
            args.session.session.as_deref(),
        )?;
        print_notes(
            &notes.notes(),
            &format!("recording {}", path.display()),
            format,
            out,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(topics) = args.session.topics()? else {
        anyhow::bail!("name the session (--session NAME) or a recording (--replay FILE)")
    };
    let plant = args.connect.resolve(None)?;
    let settings = args
        .session
        .connection(&args.connect, Some(&plant))?
        .unwrap_or(plant);
    let writes = args.add.is_some()
        || args.edit.is_some()
        || args.resolve.is_some()
        || args.reopen.is_some()
        || args.delete.is_some();
    let link = if writes {
        let user = args
            .session
            .presence(twinscope_core::session::Device::Desktop)?
            .map(|p| p.user)
            .ok_or_else(|| anyhow::anyhow!("an observer cannot write notes"))?;
        let link = SessionLink::join_as_writer(&settings, topics, &user)?;
        if args.session.host {
            link.lock().set_writer_host(true);
        }
        link
    } else {
        SessionLink::join(&settings, topics, None)?
    };
    // The retained notes first: an edit must start from the latest version.
    super::session::listen_to_the_session(&link, args.listen_for)?;
    if let Some([twin, text]) = args.add.as_deref() {
        let id = link.pin_note(twin, text)?;
        crate::outln!(out, "pinned {id} to {twin}");
    }
    if let Some([id, text]) = args.edit.as_deref() {
        link.edit_note(id, Some(text), None)?;
    }
    if let Some(id) = &args.resolve {
        link.edit_note(id, None, Some(true))?;
    }
    if let Some(id) = &args.reopen {
        link.edit_note(id, None, Some(false))?;
    }
    if let Some(id) = &args.delete {
        link.delete_note(id)?;
    }
    if writes {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !link.notes_confirmed() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the broker did not confirm the note within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    } else {
        let shared = link.lock();
        let name = format!("session {}", shared.roster.topics().name());
        print_notes(&shared.notes.notes(), &name, format, out)?;
        if shared.notes.dropped_total() > 0 {
            let reasons: Vec<String> = shared
                .notes
                .dropped()
                .map(|(d, n)| format!("{} {n}", d.as_str()))
                .collect();
            eprintln!("notes dropped: {}", reasons.join(", "));
        }
    }
    link.leave();
    Ok(ExitCode::SUCCESS)
}

fn print_notes(
    notes: &[&Note],
    name: &str,
    format: NotesFormat,
    out: &mut String,
) -> anyhow::Result<()> {
    let no_path: &dyn Fn(&str) -> Option<String> = &|twin: &str| Some(twin.to_owned());
    let mut bytes = Vec::new();
    match format {
        NotesFormat::Markdown => write_markdown(notes, no_path, &mut bytes)?,
        NotesFormat::Csv => write_csv(notes, no_path, &mut bytes)?,
        NotesFormat::Json => {
            let list: Vec<serde_json::Value> = notes
                .iter()
                .map(|n| {
                    let v = &n.latest;
                    serde_json::json!({"id": v.id, "twin": v.twin, "text": v.text, "resolved": v.resolved, "author": n.author(), "created_ms": v.created, "last_by": v.by, "last_at_ms": v.clock.millis()})
                })
                .collect();
            crate::outln!(
                out,
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"source": name, "notes": list}))?
            );
        }
        NotesFormat::Text => {
            let open = notes.iter().filter(|n| !n.latest.resolved).count();
            crate::outln!(out, "# notes of {name}: {} ({open} open)", notes.len());
            for n in notes {
                let v = &n.latest;
                let state = if v.resolved { "resolved" } else { "open" };
                let first = v.text.lines().next().unwrap_or("");
                let more = if v.text.lines().count() > 1 {
                    " …"
                } else {
                    ""
                };
                crate::outln!(
                    out,
                    "{}  [{state}]  {}  {}  {}  {first}{more}",
                    v.id,
                    v.twin,
                    n.author(),
                    twinscope_core::Timestamp((v.created as i64).saturating_mul(1000))
                );
            }
        }
    }
    out.push_str(&String::from_utf8_lossy(&bytes));
    Ok(())
}
