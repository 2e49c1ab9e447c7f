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
    /// What each channel's encoding makes of its messages ([`READABLE`], [`SHARED`]), by
    /// position: known from the table, where the encoding's text is one of tens of thousands
    /// of small strings all over memory (a wait on memory per message read, about a tenth of
    /// a seek at 20,000 signals).
    kinds: Vec<u8>,
}

const NONE: u32 = u32::MAX;
const READABLE: u8 = 1;
const SHARED: u8 = 2;

/// A channel found for a message, with what its encoding makes of it.
#[derive(Debug, Clone, Copy)]
pub struct ChannelRef<'a> {
    pub info: &'a ChannelInfo,
    /// Twinscope reads its messages ([`ChannelInfo::readable`]).
    pub readable: bool,
    /// Each message carries its own topic ([`ChannelInfo::is_shared`]).
    pub shared: bool,
}

impl<'a> ChannelRef<'a> {
    /// A message's MQTT topic and payload (see [`ChannelInfo::message`]).
    pub fn message(&self, data: &'a [u8]) -> Option<(&'a str, &'a [u8])> {
        self.info.message_as(self.shared, data)
    }
}

fn kind_of(info: &ChannelInfo) -> u8 {
    let mut kind = 0;
    if info.readable() {
        kind |= READABLE;
    }
    if info.is_shared() {
        kind |= SHARED;
    }
    kind
}

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

    /// The channel with this id and what its encoding makes of its messages, without reading
    /// the encoding's text.
    pub fn lookup(&self, id: u16) -> Option<ChannelRef<'_>> {
        match self.positions.get(id as usize) {
            Some(&position) if position != NONE => {
                let kind = self.kinds[position as usize];
                Some(ChannelRef {
                    info: self.infos.get(position as usize)?,
                    readable: kind & READABLE != 0,
                    shared: kind & SHARED != 0,
                })
            }
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
                self.kinds.push(kind_of(&info));
                self.infos.push(info);
                None
            }
            position => {
                self.kinds[position as usize] = kind_of(&info);
                Some(std::mem::replace(&mut self.infos[position as usize], info))
            }
        }
    }

    pub fn clear(&mut self) {
        self.positions.clear();
        self.infos.clear();
        self.kinds.clear();
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
