//! What twinscope publishes when an operator acknowledges an alarm and publishing is turned
//! on (`--publish-acks`; off by default). thin-edge has no acknowledgement topic, so it is a
//! thin-edge event on the alarm's entity: `te/<entity>/e/alarm_acknowledged`, which reaches
//! the cloud like any event and never touches the alarm's own retained topic.

use serde_json::json;

use crate::time::Timestamp;

/// The entity topic id (`device/pump1//`) of a twin id, inverting the default scheme the
/// decoder maps topics to ids with (`pump1`, `pump1/modbus` for a service). Ids that already
/// look like an entity topic id (`factory/area1/line1/`) are taken as they are.
pub fn entity_topic_id(twin_id: &str) -> String {
    let segments: Vec<&str> = twin_id.split('/').collect();
    match segments.as_slice() {
        [device] => format!("device/{device}//"),
        [device, service] => format!("device/{device}/service/{service}"),
        _ => {
            let mut padded: Vec<&str> = segments.into_iter().take(4).collect();
            padded.resize(4, "");
            padded.join("/")
        }
    }
}

/// Topic and payload announcing that `who` acknowledged `alarm_type` on `twin_id` at `time`.
pub fn acknowledgement_event(
    root: &str,
    twin_id: &str,
    alarm_type: &str,
    who: &str,
    time: Timestamp,
) -> (String, String) {
    let topic = format!("{root}/{}/e/alarm_acknowledged", entity_topic_id(twin_id));
    let payload = json!({
        "text": format!("Alarm {alarm_type} acknowledged by {who}"),
        "time": time.to_string(),
        "alarmType": alarm_type,
        "acknowledgedBy": who,
    });
    (topic, payload.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::thin_edge::parse_topic;

    #[test]
    fn topic_ids_invert_the_decoders_twin_ids() {
        for topic in [
            "te/device/pump1///e/x",
            "te/device/main/service/plc/e/x",
            "te/factory/area1/line1//e/x",
        ] {
            let parsed = parse_topic(topic, "te").unwrap();
            let id = parsed.entity.twin_id();
            assert_eq!(
                parse_topic(&format!("te/{}/e/x", entity_topic_id(&id)), "te")
                    .unwrap()
                    .entity
                    .twin_id(),
                id,
                "{topic}"
            );
        }
        assert_eq!(entity_topic_id("pump1"), "device/pump1//");
    }

    #[test]
    fn acknowledgements_are_thin_edge_events_on_the_alarm_entity() {
        let (topic, payload) = acknowledgement_event(
            "te",
            "line1-pump1",
            "overheat",
            "alice",
            Timestamp(1_700_000_000_000_000),
        );
        assert_eq!(topic, "te/device/line1-pump1///e/alarm_acknowledged");
        let parsed = parse_topic(&topic, "te").unwrap();
        assert_eq!(
            parsed.channel,
            super::super::Channel::Event {
                event_type: "alarm_acknowledged"
            }
        );
        let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(payload["acknowledgedBy"], "alice");
        assert_eq!(payload["text"], "Alarm overheat acknowledged by alice");
    }
}
