//! Where each known DATA topic's messages go (its node and device), by topic (live) and by
//! channel key (replay): parsing a topic and looking its node and device up are otherwise
//! most of what a DATA message costs.
//!
//! A topic of a usual length is kept inside its table entry, with the route: found and
//! checked in one or two cache lines, loaded together. Kept as its own string, checking it is
//! another cache miss on every message when thousands of devices report in turn (under
//! cachegrind, decoding the bench's DDATA misses the last-level cache 7.0 times a message
//! instead of 7.5). The tables are open-addressed and our own, so that the entry a topic will
//! be found in can be loaded ahead, before the message is decoded ([`Routes::prefetch`]).
//!
//! Topics up to 51 bytes are kept in one-line entries, up to 115 in two-line ones: real
//! topics (`spBv1.0/<group>/DDATA/<node>/<device>`) are often past 51 bytes, and with only
//! one size about a quarter of the bench's devices were looked up in a hash map, their topic
//! read from a string of its own, and never loaded ahead.

use std::hash::BuildHasher;

use super::node::Route;

/// Topics whose routes are kept: as many as a store holds twins.
const MAX_ROUTES: usize = crate::twin::DEFAULT_MAX_TWINS;
/// Longer topics are not routed (real ones are a few dozen bytes): the routes' memory stays
/// bounded whatever topics arrive.
const MAX_ROUTED_TOPIC_BYTES: usize = 256;
/// Topics up to this long are kept in a one-line entry (with the route, 64 bytes): 51,
/// enough for `spBv1.0/<group>/DDATA/<node>/<device>` with 31 bytes of names.
const SHORT_TOPIC_BYTES: usize = 64 - std::mem::size_of::<Route>() - 1;
/// Topics up to this long are kept in a two-line entry (128 bytes): 115.
const MEDIUM_TOPIC_BYTES: usize = 128 - std::mem::size_of::<Route>() - 1;
const _: () = assert!(SHORT_TOPIC_BYTES >= 40);

/// What a route is found by: the topic (live), or the recording's channel (replay).
#[derive(Debug, Clone, Copy)]
pub(super) enum RouteKey<'a> {
    Topic(&'a str),
    Channel(u16),
}

#[derive(Default)]
pub(super) struct Routes {
    short: InlineTable<SHORT_TOPIC_BYTES>,
    medium: InlineTable<MEDIUM_TOPIC_BYTES>,
    long: foldhash::HashMap<Box<str>, Route>,
    by_key: Vec<Option<Route>>,
}

impl Routes {
    pub(super) fn get(&self, key: RouteKey) -> Option<Route> {
        match key {
            RouteKey::Topic(topic) => self.by_topic(topic),
            RouteKey::Channel(channel) => self.by_key.get(channel as usize).copied().flatten(),
        }
    }

    /// Remembers a route: a topic's unless the topic is too long or the table full; a
    /// channel's always (channel ids are at most 65,536).
    pub(super) fn insert(&mut self, key: RouteKey, route: Route) {
        match key {
            RouteKey::Topic(topic) => self.insert_topic(topic, route),
            RouteKey::Channel(channel) => {
                let k = channel as usize;
                if k >= self.by_key.len() {
                    self.by_key.resize(k + 1, None);
                }
                self.by_key[k] = Some(route);
            }
        }
    }

    /// Starts loading the entry a topic's route would be found in.
    pub(super) fn prefetch(&self, topic: &str) {
        if topic.len() <= SHORT_TOPIC_BYTES {
            self.short.prefetch(topic.as_bytes());
        } else if topic.len() <= MEDIUM_TOPIC_BYTES {
            self.medium.prefetch(topic.as_bytes());
        }
    }

    fn by_topic(&self, topic: &str) -> Option<Route> {
        if topic.len() <= SHORT_TOPIC_BYTES {
            self.short.get(topic.as_bytes())
        } else if topic.len() <= MEDIUM_TOPIC_BYTES {
            self.medium.get(topic.as_bytes())
        } else {
            self.long.get(topic).copied()
        }
    }

    fn topics(&self) -> usize {
        self.short.len() + self.medium.len() + self.long.len()
    }

    fn insert_topic(&mut self, topic: &str, route: Route) {
        if self.topics() >= MAX_ROUTES || topic.len() > MAX_ROUTED_TOPIC_BYTES || topic.is_empty() {
            return;
        }
        if let Some(entry) = InlineRoute::new(topic, route) {
            self.short.insert(entry);
        } else if let Some(entry) = InlineRoute::new(topic, route) {
            self.medium.insert(entry);
        } else {
            self.long.insert(topic.into(), route);
        }
    }

    /// Forgets every route (their nodes and devices are forgotten too).
    #[cfg(test)]
    pub(super) fn clear(&mut self) {
        *self = Routes::default();
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.topics() + self.by_key.iter().flatten().count()
    }
}

/// A route and its topic, in one cache line (or two, for topics past 51 bytes). An entry
/// with no topic (length 0) is empty: an empty topic is never routed.
#[derive(Clone)]
#[repr(C, align(64))]
struct InlineRoute<const BYTES: usize> {
    route: Route,
    len: u8,
    bytes: [u8; BYTES],
}

impl<const BYTES: usize> InlineRoute<BYTES> {
    const EMPTY: Self = InlineRoute { route: Route { node: 0, device: None, kind: super::MessageType::NData }, len: 0, bytes: [0; BYTES] };

    /// An entry for `topic`, if it fits this size.
    fn new(topic: &str, route: Route) -> Option<Self> {
        let len = topic.len();
        if len > BYTES || len == 0 {
            return None;
        }
        let mut bytes = [0; BYTES];
        bytes[..len].copy_from_slice(topic.as_bytes());
        Some(InlineRoute { route, len: len as u8, bytes })
    }

    fn topic(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Inline routes by topic: linear probing in a table at most half full, so a topic is
/// nearly always in the entry its hash points at, and that entry can be prefetched.
#[derive(Default)]
struct InlineTable<const BYTES: usize> {
    /// A power of two long (or empty).
    entries: Vec<InlineRoute<BYTES>>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

impl<const BYTES: usize> InlineTable<BYTES> {
    fn len(&self) -> usize {
        self.len
    }

    fn home(&self, topic: &[u8]) -> usize {
        self.hasher.hash_one(topic) as usize & (self.entries.len() - 1)
    }

    /// Starts loading every line of the entry `topic` is nearly always found in.
    fn prefetch(&self, topic: &[u8]) {
        if !self.entries.is_empty() {
            crate::prefetch::first_bytes(&self.entries[self.home(topic)], std::mem::size_of::<InlineRoute<BYTES>>());
        }
    }

    /// The position of the entry holding `topic`, else of the empty one where it would go.
    fn position(&self, topic: &[u8]) -> usize {
        let mask = self.entries.len() - 1;
        let mut at = self.home(topic);
        loop {
            let entry = &self.entries[at];
            if entry.len == 0 || entry.topic() == topic {
                return at;
            }
            at = (at + 1) & mask;
        }
    }

    fn get(&self, topic: &[u8]) -> Option<Route> {
        if self.entries.is_empty() {
            return None;
        }
        let entry = &self.entries[self.position(topic)];
        (entry.len != 0).then_some(entry.route)
    }

    fn insert(&mut self, entry: InlineRoute<BYTES>) {
        if (self.len + 1) * 2 > self.entries.len() {
            let room = (self.entries.len() * 2).max(64);
            let entries = std::mem::replace(&mut self.entries, vec![InlineRoute::EMPTY; room]);
            self.len = 0;
            for old in entries.into_iter().filter(|e| e.len != 0) {
                self.insert(old);
            }
        }
        let at = self.position(entry.topic());
        self.len += usize::from(self.entries[at].len == 0);
        self.entries[at] = entry;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::sparkplug::MessageType;

    #[test]
    fn an_entry_is_one_cache_line_or_two() {
        assert_eq!((std::mem::size_of::<InlineRoute<SHORT_TOPIC_BYTES>>(), std::mem::align_of::<InlineRoute<SHORT_TOPIC_BYTES>>()), (64, 64));
        assert_eq!(std::mem::size_of::<InlineRoute<MEDIUM_TOPIC_BYTES>>(), 128);
    }

    /// Topics of every length up to the limit find their own route, past it none.
    #[test]
    fn every_topic_finds_its_own_route_whatever_its_length() {
        let mut routes = Routes::default();
        let topic = |len: usize| "spBv1.0/g/DDATA/n/".chars().chain(std::iter::repeat('d')).take(len).collect::<String>();
        for len in 1..=MAX_ROUTED_TOPIC_BYTES + 8 {
            routes.insert(RouteKey::Topic(&topic(len)), Route { node: len as u32, device: Some(7), kind: MessageType::DData });
        }
        for len in 1..=MAX_ROUTED_TOPIC_BYTES + 8 {
            let found = routes.get(RouteKey::Topic(&topic(len))).map(|r| r.node);
            assert_eq!(found, (len <= MAX_ROUTED_TOPIC_BYTES).then_some(len as u32), "length {len}");
        }
        assert!(routes.get(RouteKey::Topic("spBv1.0/g/DDATA/n/dx")).is_none(), "a topic never routed");
    }

    /// Thousands of topics that differ only at the end (as a node's devices' do), each
    /// routed twice: every one finds its latest route, and the table holds each once.
    #[test]
    fn a_topic_routed_again_finds_its_new_route_among_thousands() {
        let mut routes = Routes::default();
        let topic = |d: u32| format!("spBv1.0/plant/DDATA/node/device-{d}");
        for round in 0..2u32 {
            for d in 0..5_000 {
                routes.insert(RouteKey::Topic(&topic(d)), Route { node: round, device: Some(d), kind: MessageType::DData });
            }
        }
        assert_eq!(routes.len(), 5_000);
        for d in 0..5_000 {
            routes.prefetch(&topic(d));
            let route = routes.get(RouteKey::Topic(&topic(d))).expect("routed");
            assert_eq!((route.node, route.device), (1, Some(d)));
        }
        assert!(routes.get(RouteKey::Topic(&topic(5_000))).is_none() && routes.get(RouteKey::Topic("")).is_none());
    }
}
