//! The fields of a request, as thin-edge's agent expects them per operation: the type among
//! those the device announced, and for logs and configurations the file-transfer URL the
//! agent uploads to or downloads from (thin-edge's own layout), with sensible defaults for
//! what the operator did not say (a log of the last day, 1,000 lines).

use serde_json::{Map, Value};

use super::file_transfer::file_url;
use super::policy::Refusal;
use crate::Timestamp;

/// Operations whose agent uploads a file to `tedgeUrl`.
const UPLOADS: [&str; 2] = ["log_upload", "config_snapshot"];
/// Operations whose `type` must be one the device announced.
const TYPED: [&str; 4] = [
    "log_upload",
    "config_snapshot",
    "config_update",
    "software_list",
];

/// Checks and completes `fields` for `operation` (types: what the device announced).
pub fn prepare_fields(
    operation: &str,
    mut fields: Map<String, Value>,
    types: &[String],
    cmd_id: &str,
    twin: &str,
    file_transfer: Option<&str>,
    now: Timestamp,
) -> Result<Map<String, Value>, Refusal> {
    let malformed = |why: String| Err(Refusal::Malformed(why));
    let needs_type =
        TYPED.contains(&operation) && operation != "software_list" && !types.is_empty();
    match fields.get("type") {
        Some(Value::String(kind))
            if !types.is_empty() && TYPED.contains(&operation) && !types.contains(kind) =>
        {
            return malformed(format!(
                "{twin} has no {operation} type {kind:?}; it offers {}",
                types.join(", ")
            ));
        }
        Some(Value::String(_)) | None => {}
        Some(_) => return malformed("\"type\" must be a string".into()),
    }
    if needs_type && !fields.contains_key("type") {
        match types {
            [only] => {
                fields.insert("type".into(), Value::String(only.clone()));
            }
            _ => return malformed(format!("say which {operation} type: {}", types.join(", "))),
        }
    }
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(operation)
        .to_owned();
    if UPLOADS.contains(&operation) && !fields.contains_key("tedgeUrl") {
        let Some(base) = file_transfer else {
            return Err(Refusal::NeedsFileTransfer {
                operation: operation.to_owned(),
            });
        };
        fields.insert(
            "tedgeUrl".into(),
            Value::String(file_url(base, twin, operation, &kind, cmd_id)),
        );
    }
    if operation == "log_upload" {
        let day_ago = Timestamp(now.0 - 24 * 3600 * 1_000_000);
        fields
            .entry("dateFrom")
            .or_insert_with(|| Value::String(day_ago.to_string()));
        fields
            .entry("dateTo")
            .or_insert_with(|| Value::String(now.to_string()));
        fields.entry("lines").or_insert_with(|| Value::from(1000));
    }
    if operation == "config_update" {
        // The agent downloads from tedgeUrl, else remoteUrl; both are in its payload type.
        let url = fields
            .get("tedgeUrl")
            .or_else(|| fields.get("remoteUrl"))
            .cloned();
        let Some(url) = url else {
            return malformed("config_update needs the new configuration: a file to upload (--file) or a remoteUrl".into());
        };
        fields.entry("remoteUrl").or_insert(url);
        fields
            .entry("serverUrl")
            .or_insert_with(|| Value::String(String::new()));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    const NOW: Timestamp = Timestamp(1_700_000_000_000_000);

    #[test]
    fn a_log_request_gets_its_type_url_and_defaults() {
        let types = vec!["tedge-agent".to_owned()];
        let done = prepare_fields(
            "log_upload",
            Map::new(),
            &types,
            "twinscope-1",
            "pump1",
            Some("http://h:8000"),
            NOW,
        )
        .unwrap();
        assert_eq!(done["type"], "tedge-agent", "the only type");
        assert_eq!(
            done["tedgeUrl"],
            "http://h:8000/te/v1/files/pump1/log_upload/tedge-agent-twinscope-1"
        );
        assert_eq!(done["lines"], 1000);
        assert!(done.contains_key("dateFrom") && done.contains_key("dateTo"));
        assert_eq!(
            prepare_fields("log_upload", Map::new(), &types, "x", "pump1", None, NOW),
            Err(Refusal::NeedsFileTransfer {
                operation: "log_upload".into()
            })
        );
    }

    #[test]
    fn types_must_be_announced_ones_and_a_config_update_needs_its_file() {
        let types = vec!["tedge.toml".to_owned(), "mosquitto".to_owned()];
        assert!(
            prepare_fields(
                "config_snapshot",
                Map::new(),
                &types,
                "x",
                "p",
                Some("http://h:8000"),
                NOW
            )
            .unwrap_err()
            .to_string()
            .contains("say which")
        );
        assert!(
            prepare_fields(
                "config_snapshot",
                fields(r#"{"type":"nginx"}"#),
                &types,
                "x",
                "p",
                Some("http://h:8000"),
                NOW
            )
            .unwrap_err()
            .to_string()
            .contains("offers tedge.toml, mosquitto")
        );
        assert!(
            prepare_fields(
                "config_update",
                fields(r#"{"type":"mosquitto"}"#),
                &types,
                "x",
                "p",
                None,
                NOW
            )
            .is_err()
        );
        let update = prepare_fields("config_update", fields(r#"{"type":"mosquitto","tedgeUrl":"http://h:8000/te/v1/files/p/config_update/m-1"}"#), &types, "x", "p", None, NOW).unwrap();
        assert_eq!(update["remoteUrl"], update["tedgeUrl"]);
        assert_eq!(
            prepare_fields("restart", Map::new(), &[], "x", "p", None, NOW).unwrap(),
            Map::new()
        );
    }
}
