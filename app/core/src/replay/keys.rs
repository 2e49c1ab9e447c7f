//! The seek index's keys: what decides a piece of the state (a channel, and a property on
//! channels of measurements), numbered as they first appear.
//!
//! Indexing looks one up for every value of every message. Kept in one table hashed by
//! (channel, name), that was about a third of indexing a recording of 20,000 signals. A
//! message's channel is a number, so its keys are found by position, and a channel's few
//! properties by their names, which decoders share (equal pointers compare first).

use std::sync::Arc;

/// Properties on one channel past which they are hashed (a payload of thousands of keys must
/// not cost a scan per key).
const LISTED_PROPERTIES: usize = 8;

#[derive(Default)]
pub(super) struct Keys {
    by_channel: Vec<ChannelKeys>,
    /// The topics of shared channels (a recording of more topics than MCAP has channel ids),
    /// each decided on its own as if it had its channel: their place in `topic_keys`.
    by_topic: foldhash::HashMap<Box<str>, u32>,
    topic_keys: Vec<ChannelKeys>,
    count: u32,
}

/// A topic of a shared channel, found once for all the keys of its message.
#[derive(Debug, Clone, Copy)]
pub(super) struct TopicSlot(u32);

#[derive(Default)]
struct ChannelKeys {
    /// The channel as a whole (a message that sets no property).
    whole: Option<u32>,
    listed: Vec<(Arc<str>, u32)>,
    hashed: Option<foldhash::HashMap<Arc<str>, u32>>,
}

impl Keys {
    /// The key of `property` on `channel` (`None`: the channel as a whole), numbered next if
    /// it is new.
    pub(super) fn key(&mut self, channel: u16, property: Option<&Arc<str>>) -> u32 {
        let c = channel as usize;
        if c >= self.by_channel.len() {
            self.by_channel.resize_with(c + 1, ChannelKeys::default);
        }
        self.by_channel[c].key(&mut self.count, property)
    }

    /// Where the keys of `topic`, a topic carried in a shared channel's messages, are.
    pub(super) fn topic_slot(&mut self, topic: &str) -> TopicSlot {
        if let Some(slot) = self.by_topic.get(topic) {
            return TopicSlot(*slot);
        }
        let slot = self.topic_keys.len() as u32;
        self.topic_keys.push(ChannelKeys::default());
        self.by_topic.insert(topic.into(), slot);
        TopicSlot(slot)
    }

    /// The key of `property` on the topic in `slot`, numbered next if it is new.
    pub(super) fn key_of_topic(&mut self, slot: TopicSlot, property: Option<&Arc<str>>) -> u32 {
        self.topic_keys[slot.0 as usize].key(&mut self.count, property)
    }
}

impl ChannelKeys {
    fn key(&mut self, count: &mut u32, property: Option<&Arc<str>>) -> u32 {
        let mut next = || {
            *count += 1;
            *count - 1
        };
        let Some(name) = property else {
            return *self.whole.get_or_insert_with(next);
        };
        if let Some(hashed) = &mut self.hashed {
            if let Some(key) = hashed.get(&**name) {
                return *key;
            }
            let key = next();
            hashed.insert(name.clone(), key);
            return key;
        }
        if let Some((_, key)) = self.listed.iter().find(|(listed, _)| listed == name) {
            return *key;
        }
        let key = next();
        self.listed.push((name.clone(), key));
        if self.listed.len() > LISTED_PROPERTIES {
            self.hashed = Some(std::mem::take(&mut self.listed).into_iter().collect());
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are numbered in order of first appearance, one per (channel, property), whether
    /// a channel's properties are listed or hashed, and whatever pointer a name comes in.
    #[test]
    fn each_channel_and_property_has_one_key_numbered_as_it_first_appears() {
        let mut keys = Keys::default();
        let mut reference = std::collections::HashMap::new();
        let names: Vec<Arc<str>> = (0..40).map(|i| Arc::from(format!("p{i}"))).collect();
        for round in 0..3 {
            for channel in [3u16, 0, 700, 3] {
                for property in
                    std::iter::once(None).chain((0..if channel == 700 { 40 } else { 3 }).map(Some))
                {
                    // Later rounds bring the same names in other allocations.
                    let name = property.map(|i: usize| {
                        if round == 0 {
                            names[i].clone()
                        } else {
                            Arc::from(format!("p{i}"))
                        }
                    });
                    let next = reference.len() as u32;
                    let expected = *reference.entry((channel, name.clone())).or_insert(next);
                    assert_eq!(
                        keys.key(channel, name.as_ref()),
                        expected,
                        "channel {channel}, {name:?}, round {round}"
                    );
                }
            }
        }
        assert!(keys.by_channel[700].hashed.is_some() && keys.by_channel[3].hashed.is_none());
    }
}
