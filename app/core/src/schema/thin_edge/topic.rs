//! Parsing thin-edge.io topics: `<root>/<identifier: 4 segments>/<channel...>`.
//!
//! See thin-edge's MQTT API reference: the identifier is `device/<id>/service/<id>` by
//! default (empty segments for "not applicable"), and the channel starts with a category
//! (`m`, `e`, `a`, `twin`, `status`, `cmd`).

/// The four identifier segments of an entity, e.g. `["device", "main", "", ""]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTopicId<'a> {
    pub segments: [&'a str; 4],
}

impl<'a> EntityTopicId<'a> {
    /// Parses an identifier from up to four segments (missing trailing ones are empty).
    fn from_segments(parts: &[&'a str]) -> Option<Self> {
        if parts.is_empty() || parts.len() > 4 || parts[0].is_empty() {
            return None;
        }
        let mut segments = [""; 4];
        segments[..parts.len()].copy_from_slice(parts);
        if segments[1].is_empty() && (!segments[2].is_empty() || !segments[3].is_empty()) {
            return None;
        }
        Some(EntityTopicId { segments })
    }

    /// Parses an `@parent` value: `te/device/child01`, `device/child01//` or `device/main`.
    pub fn parse_reference(text: &'a str, root: &str) -> Option<Self> {
        let text = text
            .strip_prefix(root)
            .and_then(|t| t.strip_prefix('/'))
            .unwrap_or(text);
        let parts: Vec<&str> = text.split('/').collect();
        Self::from_segments(&parts)
    }

    /// The twin id this entity maps to, written into `out`:
    /// `device/<d>//` → `<d>`, `device/<d>/service/<s>` → `<d>/<s>`, otherwise the
    /// non-empty identifier segments joined by `/`.
    pub fn twin_id_into(&self, out: &mut String) {
        out.clear();
        let [a, b, c, d] = self.segments;
        if a == "device" && c.is_empty() && d.is_empty() {
            out.push_str(b);
        } else if a == "device" && c == "service" && !d.is_empty() {
            out.push_str(b);
            out.push('/');
            out.push_str(d);
        } else {
            let last = self
                .segments
                .iter()
                .rposition(|s| !s.is_empty())
                .unwrap_or(0);
            for (i, segment) in self.segments[..=last].iter().enumerate() {
                if i > 0 {
                    out.push('/');
                }
                out.push_str(segment);
            }
        }
    }

    pub fn twin_id(&self) -> String {
        let mut id = String::new();
        self.twin_id_into(&mut id);
        id
    }

    /// `device/<d>/service/<s>` services belong to device `<d>`.
    pub fn is_default_service(&self) -> bool {
        self.segments[0] == "device"
            && self.segments[2] == "service"
            && !self.segments[3].is_empty()
    }

    pub fn is_default_device(&self) -> bool {
        self.segments[0] == "device" && self.segments[2].is_empty() && self.segments[3].is_empty()
    }

    /// The device a default-scheme service runs on.
    pub fn service_device(&self) -> Option<EntityTopicId<'a>> {
        self.is_default_service().then(|| EntityTopicId {
            segments: [self.segments[0], self.segments[1], "", ""],
        })
    }
}

/// What a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel<'a> {
    /// A retained registration message on the bare identifier topic.
    Registration,
    /// `m/<type>`
    Measurement { measurement_type: &'a str },
    /// `m/<type>/meta`
    MeasurementMeta { measurement_type: &'a str },
    /// `e/<type>`
    Event { event_type: &'a str },
    /// `a/<type>`
    Alarm { alarm_type: &'a str },
    /// `twin/<fragment>`
    Twin { fragment: &'a str },
    /// `status/health`
    Health,
    /// `cmd/...`: commands are for the device, not for a viewer.
    Command,
    /// A category thin-edge does not define (yet).
    Other { category: &'a str },
}

/// A parsed thin-edge topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThinEdgeTopic<'a> {
    pub entity: EntityTopicId<'a>,
    pub channel: Channel<'a>,
}

/// Why a topic is not a thin-edge topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicError {
    WrongRoot,
    BadIdentifier,
    BadChannel,
}

/// Parses `topic` under `root` (normally `te`).
pub fn parse_topic<'a>(topic: &'a str, root: &str) -> Result<ThinEdgeTopic<'a>, TopicError> {
    let rest = topic
        .strip_prefix(root)
        .and_then(|t| t.strip_prefix('/'))
        .ok_or(TopicError::WrongRoot)?;
    let mut parts = [""; 8];
    let mut count = 0;
    for part in rest.split('/') {
        if count == parts.len() {
            return Err(TopicError::BadChannel);
        }
        parts[count] = part;
        count += 1;
    }
    if count <= 4 {
        let entity =
            EntityTopicId::from_segments(&parts[..count]).ok_or(TopicError::BadIdentifier)?;
        return Ok(ThinEdgeTopic {
            entity,
            channel: Channel::Registration,
        });
    }
    let entity = EntityTopicId::from_segments(&parts[..4]).ok_or(TopicError::BadIdentifier)?;
    let channel = &parts[4..count];
    let channel = match channel {
        ["m", kind] => Channel::Measurement {
            measurement_type: kind,
        },
        ["m", kind, "meta"] => Channel::MeasurementMeta {
            measurement_type: kind,
        },
        ["e", kind] => Channel::Event { event_type: kind },
        ["a", kind] if !kind.is_empty() => Channel::Alarm { alarm_type: kind },
        ["twin", fragment] if !fragment.is_empty() => Channel::Twin { fragment },
        ["status", "health"] => Channel::Health,
        ["cmd", ..] => Channel::Command,
        ["m" | "e" | "a" | "twin" | "status", ..] => return Err(TopicError::BadChannel),
        [category, ..] => Channel::Other { category },
        [] => return Err(TopicError::BadChannel),
    };
    Ok(ThinEdgeTopic { entity, channel })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(topic: &str) -> Result<ThinEdgeTopic<'_>, TopicError> {
        parse_topic(topic, "te")
    }

    #[test]
    fn every_channel() {
        assert_eq!(
            parse("te/device/main///m/environment").unwrap().channel,
            Channel::Measurement {
                measurement_type: "environment"
            }
        );
        assert_eq!(
            parse("te/device/main///m/").unwrap().channel,
            Channel::Measurement {
                measurement_type: ""
            }
        );
        assert_eq!(
            parse("te/device/main///m/battery_reading/meta")
                .unwrap()
                .channel,
            Channel::MeasurementMeta {
                measurement_type: "battery_reading"
            }
        );
        assert_eq!(
            parse("te/device/child01///e/login").unwrap().channel,
            Channel::Event {
                event_type: "login"
            }
        );
        assert_eq!(
            parse("te/device/child01///a/overheat").unwrap().channel,
            Channel::Alarm {
                alarm_type: "overheat"
            }
        );
        assert_eq!(
            parse("te/device/main///twin/c8y_Hardware").unwrap().channel,
            Channel::Twin {
                fragment: "c8y_Hardware"
            }
        );
        assert_eq!(
            parse("te/device/main/service/tedge-agent/status/health")
                .unwrap()
                .channel,
            Channel::Health
        );
        assert_eq!(
            parse("te/device/main///cmd/restart/123").unwrap().channel,
            Channel::Command
        );
        assert_eq!(
            parse("te/device/main///signal/x").unwrap().channel,
            Channel::Other { category: "signal" }
        );
    }

    #[test]
    fn registration_topics_with_and_without_trailing_segments() {
        for topic in [
            "te/device/child01",
            "te/device/child01//",
            "te/device/child01/service/nodered",
        ] {
            assert_eq!(
                parse(topic).unwrap().channel,
                Channel::Registration,
                "{topic}"
            );
        }
        assert_eq!(
            parse("te/device/child01").unwrap().entity.segments,
            ["device", "child01", "", ""]
        );
    }

    #[test]
    fn twin_ids_follow_the_default_scheme() {
        assert_eq!(
            parse("te/device/main///m/x").unwrap().entity.twin_id(),
            "main"
        );
        assert_eq!(
            parse("te/device/pump1/service/modbus/m/x")
                .unwrap()
                .entity
                .twin_id(),
            "pump1/modbus"
        );
        assert_eq!(
            parse("te/factory1/shop1/plc1/sensor1/m/x")
                .unwrap()
                .entity
                .twin_id(),
            "factory1/shop1/plc1/sensor1"
        );
        assert_eq!(
            parse("te/component_namespace/service/nodered/instance-1")
                .unwrap()
                .entity
                .twin_id(),
            "component_namespace/service/nodered/instance-1"
        );
    }

    #[test]
    fn malformed_topics_are_refused() {
        assert_eq!(parse("tedge/measurements"), Err(TopicError::WrongRoot));
        assert_eq!(parse("other/device/main///m/x"), Err(TopicError::WrongRoot));
        assert_eq!(parse("te//main///m/x"), Err(TopicError::BadIdentifier));
        assert_eq!(
            parse("te/device//service/x/m/t"),
            Err(TopicError::BadIdentifier)
        );
        assert_eq!(
            parse("te/device/main///m/a/b/c"),
            Err(TopicError::BadChannel)
        );
        assert_eq!(parse("te/device/main///a/"), Err(TopicError::BadChannel));
        assert_eq!(
            parse("te/device/main///status/other"),
            Err(TopicError::BadChannel)
        );
        assert_eq!(parse("te/a/b/c/d/e/f/g/h/i"), Err(TopicError::BadChannel));
    }

    #[test]
    fn parent_references() {
        let main = EntityTopicId::parse_reference("te/device/main", "te").unwrap();
        assert_eq!(main.twin_id(), "main");
        let child = EntityTopicId::parse_reference("device/child01//", "te").unwrap();
        assert_eq!(child.twin_id(), "child01");
        assert!(EntityTopicId::parse_reference("", "te").is_none());
    }
}
