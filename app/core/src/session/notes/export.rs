//! A session's notes for people outside it: Markdown for a shift report or a ticket, CSV for
//! a spreadsheet or a maintenance system. Each note with its twin's path in the plant (or
//! "no longer in the plant"), author, last writer, times and state.

use std::io::Write;

use super::Note;
use crate::time::Timestamp;

/// Where a twin stands in the plant (`main / line1 / line1-tank1`), or `None` when this
/// viewer's plant has no twin of that id.
pub type TwinPath<'a> = &'a dyn Fn(&str) -> Option<String>;

fn when(millis: u64) -> String {
    Timestamp((millis as i64).saturating_mul(1000)).to_string()
}

fn state(note: &Note) -> &'static str {
    if note.latest.resolved {
        "resolved"
    } else {
        "open"
    }
}

/// The notes as a Markdown list, one section per twin.
pub fn write_markdown(
    notes: &[&Note],
    path: TwinPath<'_>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut sorted: Vec<&&Note> = notes.iter().collect();
    sorted.sort_by(|a, b| {
        (a.latest.twin.as_str(), a.latest.created).cmp(&(b.latest.twin.as_str(), b.latest.created))
    });
    writeln!(out, "# Notes ({})", notes.len())?;
    let mut twin = None;
    for note in sorted {
        if twin != Some(note.latest.twin.as_str()) {
            twin = Some(note.latest.twin.as_str());
            let place = path(&note.latest.twin)
                .unwrap_or_else(|| format!("{} (no longer in the plant)", note.latest.twin));
            writeln!(out, "\n## {place}\n")?;
        }
        let edited = if note.latest.by == note.author() {
            String::new()
        } else {
            format!(
                ", last edited by {} at {}",
                note.latest.by,
                when(note.latest.clock.millis())
            )
        };
        writeln!(
            out,
            "- **{}** ({}, {}{edited}):",
            state(note),
            note.author(),
            when(note.latest.created)
        )?;
        for line in note.latest.text.lines() {
            writeln!(out, "  > {line}")?;
        }
    }
    Ok(())
}

/// The notes as CSV: `id,twin,twin_path,state,author,created,last_by,last_at,text`.
pub fn write_csv(notes: &[&Note], path: TwinPath<'_>, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "id,twin,twin_path,state,author,created,last_by,last_at,text"
    )?;
    for note in notes {
        let v = &note.latest;
        let place = path(&v.twin).unwrap_or_else(|| "(no longer in the plant)".to_owned());
        let fields = [
            v.id.clone(),
            v.twin.clone(),
            place,
            state(note).to_owned(),
            note.author().to_owned(),
            when(v.created),
            v.by.clone(),
            when(v.clock.millis()),
            v.text.clone(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

/// A CSV field, quoted when it must be; a leading `=`, `+`, `-` or `@` is defused so a
/// spreadsheet does not run a note as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::clock::Stamp;
    use crate::session::notes::NoteVersion;

    fn note(twin: &str, text: &str, by: &str, resolved: bool) -> Note {
        let latest = NoteVersion {
            id: "anna~K7M2QX".into(),
            twin: twin.into(),
            text: text.into(),
            resolved,
            deleted: false,
            created: 1_765_000_000_000,
            clock: Stamp(1_765_000_060_000, 0),
            by: by.into(),
            host: false,
        };
        Note {
            latest,
            deleted_by: None,
        }
    }

    #[test]
    fn markdown_groups_by_twin_path_and_keeps_a_gone_twin() {
        let (a, b) = (
            note("line1-tank1", "seal weeps\nreplace Monday", "bob", false),
            note("old-pump", "removed?", "anna", true),
        );
        let path =
            |id: &str| (id == "line1-tank1").then(|| "main / line1 / line1-tank1".to_owned());
        let mut out = Vec::new();
        write_markdown(&[&a, &b], &path, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("## main / line1 / line1-tank1"), "{text}");
        assert!(
            text.contains("## old-pump (no longer in the plant)"),
            "{text}"
        );
        assert!(
            text.contains("- **open** (anna, ")
                && text.contains("last edited by bob")
                && text.contains("  > replace Monday"),
            "{text}"
        );
        assert!(text.contains("- **resolved** (anna"), "{text}");
    }

    #[test]
    fn csv_quotes_what_it_must_and_defuses_formulas() {
        let a = note(
            "line1-tank1",
            "=HYPERLINK(\"x\"), then \"check\"",
            "bob",
            false,
        );
        let mut out = Vec::new();
        write_csv(&[&a], &|_| None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(
            row.starts_with("anna~K7M2QX,line1-tank1,(no longer in the plant),open,anna,"),
            "{row}"
        );
        assert!(
            row.ends_with(",\"'=HYPERLINK(\"\"x\"\"), then \"\"check\"\"\""),
            "{row}"
        );
    }
}
