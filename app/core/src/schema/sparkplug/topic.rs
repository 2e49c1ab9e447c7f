//! Sparkplug B topics: `spBv1.0/<group>/<message type>/<edge node>[/<device>]`, and a host
//! application's `spBv1.0/STATE/<host id>`.

/// The namespace every Sparkplug B topic starts with.
pub const NAMESPACE: &str = "spBv1.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    NBirth,
    NDeath,
    DBirth,
    DDeath,
    NData,
    DData,
    NCmd,
    DCmd,
}

/// A parsed topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic<'a> {
    /// An edge node's or device's message.
    Edge {
        group: &'a str,
        kind: MessageType,
        node: &'a str,
        device: Option<&'a str>,
    },
    /// A host application's STATE.
    State { host: &'a str },
}

/// Parses `topic`, or says why it is not a Sparkplug B topic.
pub fn parse(topic: &str) -> Result<Topic<'_>, String> {
    let mut parts = topic.split('/');
    if parts.next() != Some(NAMESPACE) {
        return Err(format!("not in the {NAMESPACE} namespace"));
    }
    // At most five levels after the namespace are looked at (no allocation per message).
    let mut levels: [&str; 5] = [""; 5];
    let mut count = 0;
    for part in parts {
        if count == levels.len() {
            return Err("not spBv1.0/<group>/<type>/<edge node>[/<device>]".into());
        }
        levels[count] = part;
        count += 1;
    }
    if let ["STATE", host] = levels[..count] {
        return if host.is_empty() {
            Err("a STATE topic without a host id".into())
        } else {
            Ok(Topic::State { host })
        };
    }
    let (group, kind, node, device) = match levels[..count] {
        [group, kind, node] => (group, kind, node, None),
        [group, kind, node, device] => (group, kind, node, Some(device)),
        _ => return Err("not spBv1.0/<group>/<type>/<edge node>[/<device>]".into()),
    };
    if group.is_empty() || node.is_empty() || device.is_some_and(str::is_empty) {
        return Err("an empty group, edge node or device id".into());
    }
    let kind = match (kind, device.is_some()) {
        ("NBIRTH", false) => MessageType::NBirth,
        ("NDEATH", false) => MessageType::NDeath,
        ("NDATA", false) => MessageType::NData,
        ("NCMD", false) => MessageType::NCmd,
        ("DBIRTH", true) => MessageType::DBirth,
        ("DDEATH", true) => MessageType::DDeath,
        ("DDATA", true) => MessageType::DData,
        ("DCMD", true) => MessageType::DCmd,
        (other, _) => return Err(format!("{other} is not a message type for this topic")),
    };
    Ok(Topic::Edge {
        group,
        kind,
        node,
        device,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_device_and_state_topics() {
        assert_eq!(
            parse("spBv1.0/Plant1/NBIRTH/Edge1"),
            Ok(Topic::Edge {
                group: "Plant1",
                kind: MessageType::NBirth,
                node: "Edge1",
                device: None
            })
        );
        assert_eq!(
            parse("spBv1.0/Plant1/DDATA/Edge1/PLC 3"),
            Ok(Topic::Edge {
                group: "Plant1",
                kind: MessageType::DData,
                node: "Edge1",
                device: Some("PLC 3")
            })
        );
        assert_eq!(
            parse("spBv1.0/STATE/scada-1"),
            Ok(Topic::State { host: "scada-1" })
        );
        for bad in [
            "spBv1.0/Plant1/DDATA/Edge1",
            "spBv1.0/Plant1/NDATA/Edge1/dev",
            "spBv1.0//NDATA/Edge1",
            "spBv1.0/P/NDATA/E/d/x",
            "spAv1.0/P/NDATA/E",
            "spBv1.0/P/XDATA/E",
            "spBv1.0/STATE/",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
