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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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
    ahead: HashesAhead,
}

/// Topics hashed while looking ahead, with their hashes: a message's topic is hashed once,
/// at the farthest stage, not again at each later stage and when it is decoded (three
/// quarters of the hashing a message cost). Kept by the text's address and length: what
/// the MQTT client and the bench look ahead at is the very text decoded next. A topic whose
/// address is reused by another of the same length in between is then looked up by a wrong
/// hash, found nowhere, and then looked up by its own hash (one probe more, never wrong:
/// lookups compare the whole topic).
///
/// The entry a later stage found the topic in is kept with it too: the stages after it and
/// decoding go straight there instead of probing again (decoding still compares the whole
/// topic there).
///
/// Atomics (relaxed: plain loads and stores) only because a schema is `Sync`; one thread
/// looks ahead and decodes.
#[derive(Default)]
struct HashesAhead {
    slots: [AheadSlot; HASHES_AHEAD],
    next: AtomicUsize,
}

#[derive(Default)]
struct AheadSlot {
    /// The topic's address and length ([`ahead_key`]).
    key: AtomicUsize,
    hash: AtomicU64,
    /// One past the position of the entry a look-ahead stage found the topic in; 0 for not
    /// yet found.
    entry: AtomicUsize,
}

/// Topics remembered: more than the farthest look-ahead stage is ahead of decoding.
const HASHES_AHEAD: usize = 8;
const _: () = assert!(
    crate::schema::LookAhead::Far.steps() * crate::schema::LOOK_AHEAD_STEP < HASHES_AHEAD
        && HASHES_AHEAD.is_power_of_two()
);

/// How many topics were remembered after the one `steps` look-ahead steps from being
/// decoded, and that one, when every message is looked ahead at (as the MQTT client's
/// queue and the bench do): where it is nearly always found, checked first.
const fn remembered_back(steps: usize) -> usize {
    (crate::schema::LookAhead::Far.steps() - steps) * crate::schema::LOOK_AHEAD_STEP + 1
}

/// A topic's address and length in one word (addresses use the low 48 bits; only topics up
/// to [`MEDIUM_TOPIC_BYTES`] are remembered). Zero for none.
fn ahead_key(topic: &str) -> usize {
    topic.as_ptr() as usize ^ topic.len().rotate_right(16)
}

impl HashesAhead {
    /// Remembers a topic's hash. An older slot of the same address and length (buffers are
    /// reused) is forgotten: a key is in one slot at most, so the slot where it is nearly
    /// always found can be taken without looking at the newer ones.
    fn remember(&self, topic: &str, hash: u64) {
        let key = ahead_key(topic);
        for slot in &self.slots {
            if slot.key.load(Ordering::Relaxed) == key {
                slot.key.store(0, Ordering::Relaxed);
            }
        }
        let at = self.next.load(Ordering::Relaxed) & (HASHES_AHEAD - 1);
        self.next.store(at + 1, Ordering::Relaxed);
        let slot = &self.slots[at];
        slot.key.store(key, Ordering::Relaxed);
        slot.hash.store(hash, Ordering::Relaxed);
        slot.entry.store(0, Ordering::Relaxed);
    }

    /// The slot remembered last for this address and length, looked for first where a topic
    /// `steps` look-ahead steps from being decoded nearly always is.
    fn recall(&self, topic: &str, steps: usize) -> Option<&AheadSlot> {
        let key = ahead_key(topic);
        let newest = self.next.load(Ordering::Relaxed);
        let slot = |back: usize| &self.slots[newest.wrapping_sub(back) & (HASHES_AHEAD - 1)];
        let expected = slot(remembered_back(steps));
        if expected.key.load(Ordering::Relaxed) == key {
            return Some(expected);
        }
        (1..=HASHES_AHEAD)
            .map(slot)
            .find(|slot| slot.key.load(Ordering::Relaxed) == key)
    }
}

impl AheadSlot {
    fn hash(&self) -> u64 {
        self.hash.load(Ordering::Relaxed)
    }

    fn entry(&self) -> Option<usize> {
        self.entry.load(Ordering::Relaxed).checked_sub(1)
    }
}

impl Routes {
    pub(super) fn get(&self, key: RouteKey) -> Option<Route> {
        match key {
            RouteKey::Topic(topic) => match self.ahead.recall(topic, 0) {
                Some(slot) => self.by_topic(topic, Some(slot.hash()), slot.entry()),
                None => self.by_topic(topic, None, None),
            },
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

    /// Starts loading the entry a topic's route would be found in (the first look-ahead
    /// stage), and remembers its hash for the later ones and for decoding.
    pub(super) fn prefetch(&self, topic: &str) {
        let hash = if topic.len() <= SHORT_TOPIC_BYTES {
            self.short.prefetch(topic.as_bytes())
        } else if topic.len() <= MEDIUM_TOPIC_BYTES {
            self.medium.prefetch(topic.as_bytes())
        } else {
            return;
        };
        self.ahead.remember(topic, hash);
    }

    /// The route of a topic looked ahead at, for a later look-ahead stage `steps` from
    /// being decoded: a hint, nearly always right (see [`InlineTable::peek`]); when wrong,
    /// what it has loaded is of no use but does no harm. The entry found is remembered for
    /// the stages after it and for decoding.
    pub(super) fn peek(&self, topic: &str, steps: usize) -> Option<Route> {
        let slot = self.ahead.recall(topic, steps)?;
        let found = if topic.len() <= SHORT_TOPIC_BYTES {
            self.short.peek(topic.as_bytes(), slot.hash(), slot.entry())
        } else {
            self.medium
                .peek(topic.as_bytes(), slot.hash(), slot.entry())
        };
        let (at, route) = found?;
        slot.entry.store(at + 1, Ordering::Relaxed);
        Some(route)
    }

    /// The route of `topic`; `hash` and `entry` are what looking ahead found for it, if
    /// anything (see [`HashesAhead`]).
    fn by_topic(&self, topic: &str, hash: Option<u64>, entry: Option<usize>) -> Option<Route> {
        if topic.len() <= SHORT_TOPIC_BYTES {
            self.short.get(topic.as_bytes(), hash, entry)
        } else if topic.len() <= MEDIUM_TOPIC_BYTES {
            self.medium.get(topic.as_bytes(), hash, entry)
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
    const EMPTY: Self = InlineRoute {
        route: Route {
            node: 0,
            device: None,
            kind: super::MessageType::NData,
        },
        len: 0,
        bytes: [0; BYTES],
    };

    /// An entry for `topic`, if it fits this size.
    fn new(topic: &str, route: Route) -> Option<Self> {
        let len = topic.len();
        if len > BYTES || len == 0 {
            return None;
        }
        let mut bytes = [0; BYTES];
        bytes[..len].copy_from_slice(topic.as_bytes());
        Some(InlineRoute {
            route,
            len: len as u8,
            bytes,
        })
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

    fn hash(&self, topic: &[u8]) -> u64 {
        self.hasher.hash_one(topic)
    }

    /// Where a topic of this hash is nearly always found (the table must not be empty).
    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.entries.len() - 1)
    }

    /// Starts loading every line of the entry `topic` is nearly always found in; returns
    /// the topic's hash.
    fn prefetch(&self, topic: &[u8]) -> u64 {
        let hash = self.hash(topic);
        if !self.entries.is_empty() {
            crate::prefetch::first_bytes(
                &self.entries[self.home(hash)],
                std::mem::size_of::<InlineRoute<BYTES>>(),
            );
        }
        hash
    }

    /// The entry that seems to hold `topic`, and its route: the one a stage before found
    /// (`known`), else probing from its hash's home as [`position`](Self::position) does,
    /// but checking only the length and last few bytes (a hint: a topic is nearly always in
    /// one of the first entries probed, and a topic of the same length ending alike is
    /// rare). About one topic in six is not in its home entry in a table a third full;
    /// taking the home entry's route unchecked loaded the wrong device for those.
    fn peek(&self, topic: &[u8], hash: u64, known: Option<usize>) -> Option<(usize, Route)> {
        const PROBES: usize = 4;
        const TAIL: usize = 8;
        if self.entries.is_empty() {
            return None;
        }
        if topic.len() < TAIL || topic.len() > BYTES {
            return None;
        }
        let mask = self.entries.len() - 1;
        let tail = topic.len() - TAIL;
        let last = |bytes: &[u8]| {
            u64::from_ne_bytes(bytes[tail..tail + TAIL].try_into().expect("eight bytes"))
        };
        let topic_last = last(topic);
        let seems = |entry: &InlineRoute<BYTES>| {
            entry.len as usize == topic.len() && last(&entry.bytes) == topic_last
        };
        if let Some(at) = known
            && let Some(entry) = self.entries.get(at)
            && seems(entry)
        {
            return Some((at, entry.route));
        }
        let mut at = self.home(hash);
        for _ in 0..PROBES {
            let entry = &self.entries[at];
            if entry.len == 0 {
                return None;
            }
            if seems(entry) {
                return Some((at, entry.route));
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// The position of the entry holding `topic`, else of the empty one where it would go;
    /// its hash is `hash` when the caller knows it (see [`HashesAhead`]).
    fn position(&self, topic: &[u8], hash: Option<u64>) -> usize {
        let mask = self.entries.len() - 1;
        let mut at = self.home(hash.unwrap_or_else(|| self.hash(topic)));
        loop {
            let entry = &self.entries[at];
            if entry.len == 0 || entry.topic() == topic {
                return at;
            }
            at = (at + 1) & mask;
        }
    }

    /// The route of `topic`: in the entry looking ahead found it in (`entry`), when it is
    /// there, else by probing. A hash remembered for its address that is not its own
    /// (another topic was there) finds nothing, and the topic is then looked up by its own.
    fn get(&self, topic: &[u8], hash: Option<u64>, entry: Option<usize>) -> Option<Route> {
        if self.entries.is_empty() {
            return None;
        }
        if let Some(found) = entry.and_then(|at| self.entries.get(at))
            && found.len != 0
            && found.topic() == topic
        {
            return Some(found.route);
        }
        let entry = &self.entries[self.position(topic, hash)];
        if entry.len != 0 {
            Some(entry.route)
        } else if hash.is_some() {
            self.get(topic, None, None)
        } else {
            None
        }
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
        let at = self.position(entry.topic(), None);
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
        assert_eq!(
            (
                std::mem::size_of::<InlineRoute<SHORT_TOPIC_BYTES>>(),
                std::mem::align_of::<InlineRoute<SHORT_TOPIC_BYTES>>()
            ),
            (64, 64)
        );
        assert_eq!(std::mem::size_of::<InlineRoute<MEDIUM_TOPIC_BYTES>>(), 128);
    }

    /// Topics of every length up to the limit find their own route, past it none.
    #[test]
    fn every_topic_finds_its_own_route_whatever_its_length() {
        let mut routes = Routes::default();
        let topic = |len: usize| {
            "spBv1.0/g/DDATA/n/"
                .chars()
                .chain(std::iter::repeat('d'))
                .take(len)
                .collect::<String>()
        };
        for len in 1..=MAX_ROUTED_TOPIC_BYTES + 8 {
            routes.insert(
                RouteKey::Topic(&topic(len)),
                Route {
                    node: len as u32,
                    device: Some(7),
                    kind: MessageType::DData,
                },
            );
        }
        for len in 1..=MAX_ROUTED_TOPIC_BYTES + 8 {
            let found = routes.get(RouteKey::Topic(&topic(len))).map(|r| r.node);
            assert_eq!(
                found,
                (len <= MAX_ROUTED_TOPIC_BYTES).then_some(len as u32),
                "length {len}"
            );
        }
        assert!(
            routes
                .get(RouteKey::Topic("spBv1.0/g/DDATA/n/dx"))
                .is_none(),
            "a topic never routed"
        );
    }

    /// Thousands of topics that differ only at the end (as a node's devices' do), each
    /// routed twice: every one finds its latest route, and the table holds each once.
    #[test]
    fn a_topic_routed_again_finds_its_new_route_among_thousands() {
        let mut routes = Routes::default();
        let topic = |d: u32| format!("spBv1.0/plant/DDATA/node/device-{d}");
        for round in 0..2u32 {
            for d in 0..5_000 {
                routes.insert(
                    RouteKey::Topic(&topic(d)),
                    Route {
                        node: round,
                        device: Some(d),
                        kind: MessageType::DData,
                    },
                );
            }
        }
        assert_eq!(routes.len(), 5_000);
        let mut hinted_right = 0;
        for d in 0..5_000 {
            let topic = topic(d);
            routes.prefetch(&topic);
            hinted_right += usize::from(routes.peek(&topic, 2).and_then(|r| r.device) == Some(d));
            let route = routes.get(RouteKey::Topic(&topic)).expect("routed");
            assert_eq!((route.node, route.device), (1, Some(d)));
        }
        assert!(
            hinted_right > 4_950,
            "look-ahead hints the right device for nearly every topic ({hinted_right} of 5,000)"
        );
        assert!(
            routes.get(RouteKey::Topic(&topic(5_000))).is_none()
                && routes.get(RouteKey::Topic("")).is_none()
        );
    }

    /// The entry a look-ahead stage found a topic in is where the later stages and decoding
    /// look first; after the table grew (a new topic routed in between) that entry holds
    /// another topic or none, and the topic is still found by its text.
    #[test]
    fn an_entry_found_ahead_that_moved_is_looked_up_again() {
        let mut routes = Routes::default();
        let topic = |d: u32| format!("spBv1.0/plant/DDATA/node/device-{d}");
        let route = |d: u32| Route {
            node: 0,
            device: Some(d),
            kind: MessageType::DData,
        };
        for d in 0..20 {
            routes.insert(RouteKey::Topic(&topic(d)), route(d));
        }
        let looked_at: Vec<String> = (0..20).map(topic).collect();
        let mut hinted = 0;
        for t in &looked_at[looked_at.len() - super::HASHES_AHEAD..] {
            routes.prefetch(t);
            // A hint: nearly always found (within a few probes of the topic's home entry).
            hinted += usize::from(routes.peek(t, 2).is_some() && routes.peek(t, 1).is_some());
        }
        assert!(hinted >= super::HASHES_AHEAD / 2, "found ahead: {hinted}");
        for d in 20..2_000 {
            routes.insert(RouteKey::Topic(&topic(d)), route(d));
        }
        for (d, t) in looked_at.iter().enumerate().rev().take(super::HASHES_AHEAD) {
            assert_eq!(
                routes.get(RouteKey::Topic(t)).and_then(|r| r.device),
                Some(d as u32)
            );
        }
    }

    /// A topic looked ahead at is found by the hash remembered for it; a different topic
    /// later at the same address (the hint is then wrong) is still found, or not, by its text.
    #[test]
    fn a_hash_remembered_for_an_address_never_finds_another_topic_there() {
        let mut routes = Routes::default();
        let route = |d: u32| Route {
            node: 0,
            device: Some(d),
            kind: MessageType::DData,
        };
        for d in 0..100 {
            routes.insert(
                RouteKey::Topic(&format!("spBv1.0/g/DDATA/n/d{d:02}")),
                route(d),
            );
        }
        let long = format!("spBv1.0/g/DDATA/n/{}", "x".repeat(60));
        routes.insert(RouteKey::Topic(&long), route(1000));
        let mut topic = String::from("spBv1.0/g/DDATA/n/d07");
        routes.prefetch(&topic);
        routes.prefetch(&long);
        assert!(routes.peek(&topic, 2).is_some());
        assert_eq!(
            routes.peek(&long, 2).and_then(|r| r.device),
            Some(1000),
            "alone in its table"
        );
        assert!(
            routes.peek("spBv1.0/g/DDATA/n/d08", 2).is_none(),
            "never looked ahead at"
        );
        assert_eq!(
            routes.get(RouteKey::Topic(&topic)).and_then(|r| r.device),
            Some(7)
        );
        // The same bytes now say another device, then a topic never routed.
        topic.replace_range(19.., "42");
        assert_eq!(
            routes.get(RouteKey::Topic(&topic)).and_then(|r| r.device),
            Some(42)
        );
        topic.replace_range(18.., "zz9");
        topic.truncate(21);
        assert!(routes.get(RouteKey::Topic(&topic)).is_none());
        // Routing it there (what decoding a message on it does) finds it from then on.
        routes.insert(RouteKey::Topic(&topic), route(9));
        assert_eq!(
            routes.get(RouteKey::Topic(&topic)).and_then(|r| r.device),
            Some(9)
        );
        assert_eq!(routes.len(), 102, "routed once each");
    }
}
