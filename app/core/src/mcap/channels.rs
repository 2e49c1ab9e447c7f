//! A recording's channels by id, looked up for every message read.

use std::ops::Index;

use super::ChannelInfo;

/// Channels by id. Replay and indexing look one up per message, and a plant's recording has
/// tens of thousands: a table indexed by id (four bytes per possible id up to the largest
/// seen, at most 256 KiB) finds one in two reads, where a sorted map walked several nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Channels {
    /// Position in `infos` by id; `NONE` where no channel has that id.
    positions: Vec<u32>,
    infos: Vec<ChannelInfo>,
}

const NONE: u32 = u32::MAX;

impl Channels {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, id: &u16) -> Option<&ChannelInfo> {
        match self.positions.get(*id as usize) {
            Some(&position) if position != NONE => self.infos.get(position as usize),
            _ => None,
        }
    }

    /// Adds or replaces the channel with this id; returns the one it replaced.
    pub fn insert(&mut self, id: u16, info: ChannelInfo) -> Option<ChannelInfo> {
        let slot = id as usize;
        if slot >= self.positions.len() {
            self.positions.resize(slot + 1, NONE);
        }
        match self.positions[slot] {
            NONE => {
                self.positions[slot] = self.infos.len() as u32;
                self.infos.push(info);
                None
            }
            position => Some(std::mem::replace(&mut self.infos[position as usize], info)),
        }
    }

    pub fn clear(&mut self) {
        self.positions.clear();
        self.infos.clear();
    }

    pub fn len(&self) -> usize {
        self.infos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    pub fn contains_key(&self, id: &u16) -> bool {
        self.get(id).is_some()
    }

    /// The channels in the order they were added.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &ChannelInfo> {
        self.infos.iter()
    }
}

impl Index<&u16> for Channels {
    type Output = ChannelInfo;

    /// Panics if there is no such channel, as a map's index does.
    fn index(&self, id: &u16) -> &ChannelInfo {
        self.get(id).expect("no channel with this id")
    }
}

impl FromIterator<(u16, ChannelInfo)> for Channels {
    fn from_iter<I: IntoIterator<Item = (u16, ChannelInfo)>>(items: I) -> Self {
        let mut channels = Channels::new();
        for (id, info) in items {
            channels.insert(id, info);
        }
        channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcap::Delivery;

    fn channel(id: u16, topic: &str) -> ChannelInfo {
        ChannelInfo {
            id,
            topic: topic.into(),
            encoding: "json".into(),
            delivery: Delivery {
                qos: 0,
                retain: false,
            },
        }
    }

    #[test]
    fn finds_replaces_and_misses_by_id() {
        let mut channels: Channels = [(3, channel(3, "a")), (65_535, channel(65_535, "b"))]
            .into_iter()
            .collect();
        assert_eq!(channels.len(), 2);
        assert_eq!(channels[&3].topic, "a");
        assert_eq!(channels.get(&65_535).map(|c| c.topic.as_str()), Some("b"));
        assert!(
            channels.get(&0).is_none()
                && channels.get(&4).is_none()
                && !channels.contains_key(&65_534)
        );
        assert_eq!(
            channels.insert(3, channel(3, "c")).map(|c| c.topic),
            Some("a".into())
        );
        assert_eq!(channels.len(), 2);
        assert_eq!(
            channels
                .values()
                .map(|c| c.topic.as_str())
                .collect::<Vec<_>>(),
            ["c", "b"]
        );
        channels.clear();
        assert!(channels.is_empty() && channels.get(&3).is_none());
    }
}
