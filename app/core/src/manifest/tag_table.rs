//! Tag tables: the CSV an engineering tool exports to say which model node is which tag.
//!
//! One row per node: `node,twin[,parent]`, where `node` is a node path (`Engine/Block/Piston_1`,
//! names joined by `/`) or, without a `/`, a node name. A first row starting with `node` is a
//! header. Fields may be quoted (`"a,b"`, `""` for a quote); blank lines and lines starting
//! with `#` are skipped. Errors name the file and line.

use std::path::Path;

/// A tag table larger than this is refused (a million rows of tags is about 60 MB).
pub const MAX_TABLE_BYTES: u64 = 256 * 1024 * 1024;

/// One row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    pub node: String,
    pub twin: String,
    pub parent: Option<String>,
    /// The line it came from, for messages.
    pub line: usize,
}

/// Reads a tag table file.
pub fn read_tag_table(path: &Path) -> Result<Vec<TagRow>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: cannot read the tag table: {e}", path.display()))?
        .len();
    if size > MAX_TABLE_BYTES {
        return Err(format!(
            "{}: the tag table is {size} bytes, more than the {MAX_TABLE_BYTES} allowed",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the tag table: {e}", path.display()))?;
    parse_tag_table(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse_tag_table(text: &str) -> Result<Vec<TagRow>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields = split_fields(line).map_err(|e| format!("line {number}: {e}"))?;
        if rows.is_empty()
            && fields
                .first()
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("node"))
        {
            continue; // the header
        }
        let field = |k: usize| fields.get(k).map(|f| f.trim()).filter(|f| !f.is_empty());
        let (Some(node), Some(twin)) = (field(0), field(1)) else {
            return Err(format!(
                "line {number}: expected `node,twin[,parent]`, got {line:?}"
            ));
        };
        if fields.len() > 3 {
            return Err(format!(
                "line {number}: {} fields, expected at most 3 (node, twin, parent)",
                fields.len()
            ));
        }
        rows.push(TagRow {
            node: node.to_owned(),
            twin: twin.to_owned(),
            parent: field(2).map(str::to_owned),
            line: number,
        });
    }
    Ok(rows)
}

/// One line's fields, RFC 4180 quoting.
fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_with_header_quotes_and_comments() {
        let text = "node,twin,parent\r\n# exported by the engineering tool\nEngine/Block/Piston_1,piston-1,engine\n\n\"Valve, main\",valve-main\n\"say \"\"hi\"\"\",x,\n";
        let rows = parse_tag_table(text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            TagRow {
                node: "Engine/Block/Piston_1".into(),
                twin: "piston-1".into(),
                parent: Some("engine".into()),
                line: 3
            }
        );
        assert_eq!(
            (
                rows[1].node.as_str(),
                rows[1].twin.as_str(),
                rows[1].parent.as_deref()
            ),
            ("Valve, main", "valve-main", None)
        );
        assert_eq!(rows[2].node, "say \"hi\"");
    }

    #[test]
    fn bad_rows_name_their_line() {
        for (text, needle) in [
            ("a\n", "line 1"),
            ("node,twin\nx,\n", "line 2"),
            ("\"open,x\n", "not closed"),
            ("a,b,c,d\n", "at most 3"),
        ] {
            let error = parse_tag_table(text).unwrap_err();
            assert!(error.contains(needle), "{text:?}: {error}");
        }
    }
}
