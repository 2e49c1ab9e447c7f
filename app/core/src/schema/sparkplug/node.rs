//! What the host knows of each edge node: its birth, sequence and held messages, its devices,
//! and where a known DATA topic's messages go.

use super::metrics::{Declared, Templates};
use super::{MessageType, Payload};
use crate::time::Timestamp;
use crate::twin::TwinId;

/// What a DATA message reads (its twin, whether born, its aliases) comes first, and each
/// device starts a cache line: across thousands of devices reporting in turn, a message
/// then costs one miss here, not two or three.
#[derive(Debug)]
#[repr(C, align(64))]
pub(super) struct Device {
    pub(super) twin: TwinId,
    pub(super) born: bool,
    pub(super) metrics: Declared,
    /// The device id of its topics.
    pub(super) name: String,
}

/// Which device of its node a message is about: none (the node's own), by name (from its
/// topic), or by position (a known topic's [`Route`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum DeviceRef<'a> {
    Node,
    Named(&'a str),
    At(u32),
}

/// Where a DATA topic's messages go, worked out once from the topic: parsing it and looking
/// its node and device up are otherwise most of what a data message costs. Nodes and devices
/// are never removed (until a restart, which forgets the routes), so a route stays right.
#[derive(Debug, Clone, Copy)]
pub(super) struct Route {
    pub(super) node: u32,
    pub(super) device: Option<u32>,
    pub(super) kind: MessageType,
}

/// A message that came after a missing one, held until the gap fills or the reorder
/// timeout passes.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) seq: u8,
    pub(super) kind: MessageType,
    pub(super) device: Option<String>,
    pub(super) payload: Payload,
    pub(super) received: Timestamp,
}

/// At most this many messages are held for one node; more end the wait at once.
pub(super) const MAX_HELD: usize = 256;

#[derive(Debug)]
pub(super) struct EdgeNode {
    /// `group/node`.
    pub(super) key: String,
    pub(super) twin: TwinId,
    pub(super) born: bool,
    pub(super) bd_seq: Option<u64>,
    /// The seq due next (after the last message applied).
    pub(super) next_seq: Option<u8>,
    /// Since when a message is missing (messages after it are held).
    pub(super) gap: Option<Timestamp>,
    pub(super) held: Vec<Held>,
    pub(super) rebirth_asked: Option<Timestamp>,
    pub(super) metrics: Declared,
    /// Template definitions from the node's birth, by name (its devices' instances use them).
    pub(super) templates: Templates,
    /// Devices in order of their first birth, and their positions by name.
    pub(super) devices: Vec<Device>,
    pub(super) device_index: foldhash::HashMap<String, u32>,
}

/// Why DATA of `kind` read from a target born or not, with `unknown` metrics it could not
/// identify, asks its node for a rebirth, if it does.
pub(super) fn data_rebirth_reason(
    kind: MessageType,
    born: bool,
    unknown: usize,
) -> Option<&'static str> {
    if unknown > 0 {
        Some("metrics with unknown aliases")
    } else if !born {
        Some(if kind == MessageType::NData {
            "data before its birth"
        } else {
            "device data before its birth"
        })
    } else {
        None
    }
}

impl EdgeNode {
    pub(super) fn group_and_node(&self) -> (&str, &str) {
        self.key.split_once('/').unwrap_or((&self.key, ""))
    }

    /// The device's position, if it was ever born.
    pub(super) fn device_at(&self, device: DeviceRef) -> Option<usize> {
        match device {
            DeviceRef::Node => None,
            DeviceRef::Named(name) => self.device_index.get(name).map(|d| *d as usize),
            DeviceRef::At(d) => Some(d as usize).filter(|d| *d < self.devices.len()),
        }
    }

    /// What DATA of `kind` on `device` updates: the twin, what its birth declared, and
    /// whether it (and for a device, its node) is born. `None` for a device never born.
    pub(super) fn data_target(
        &self,
        kind: MessageType,
        device: DeviceRef,
    ) -> Option<(&TwinId, &Declared, bool)> {
        if kind == MessageType::NData {
            return Some((&self.twin, &self.metrics, self.born));
        }
        let d = &self.devices[self.device_at(device)?];
        Some((&d.twin, &d.metrics, d.born && self.born))
    }

    /// The device's position, made for its birth if it is new.
    pub(super) fn device_for_birth(&mut self, device: DeviceRef) -> usize {
        if let Some(d) = self.device_at(device) {
            return d;
        }
        let name = match device {
            DeviceRef::Named(name) => name,
            DeviceRef::Node | DeviceRef::At(_) => "",
        };
        let d = self.devices.len();
        self.devices.push(Device {
            name: name.to_owned(),
            twin: TwinId::kept(&format!("{}/{name}", self.key)),
            born: false,
            metrics: Declared::default(),
        });
        self.device_index.insert(name.to_owned(), d as u32);
        d
    }

    /// The device's name, to keep with a held message.
    pub(super) fn device_name(&self, device: DeviceRef) -> Option<String> {
        match device {
            DeviceRef::Node => None,
            DeviceRef::Named(name) => Some(name.to_owned()),
            DeviceRef::At(d) => self.devices.get(d as usize).map(|d| d.name.clone()),
        }
    }
}

impl<'a> DeviceRef<'a> {
    pub(super) fn named(device: Option<&'a str>) -> Self {
        device.map_or(DeviceRef::Node, DeviceRef::Named)
    }
}
