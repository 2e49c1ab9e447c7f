//! Room a store no longer needs, handed to the next store built in one go.
//!
//! A seek builds a whole plant's store at once: at 20,000 signals that is 20,000 twins'
//! property lists (cache-line aligned, so glibc's slow aligned allocator) and as many
//! histories, and the store it replaces frees as many again. Scrubbing seeks every frame, and
//! those allocations were about a third of each seek (`twinscope bench --seek`). The store
//! being replaced gives its emptied lists and history rings to the next one instead: the next
//! store is as fresh as a new one (nothing of the old state is kept, only memory).

use super::{Property, Twin, TwinIndex, TwinStore};
use crate::twin::TwinId;
use crate::twin::history::Room as HistoryRoom;

/// Emptied property lists and history rings from a store that is gone, and its tables of
/// twins and ids (megabytes at 20,000 twins: fresh ones are page faults as they fill).
#[derive(Default)]
pub struct Room {
    properties: Vec<Vec<Property>>,
    histories: Vec<HistoryRoom>,
    twins: Vec<Twin>,
    index: foldhash::HashMap<TwinId, TwinIndex>,
}

impl Room {
    /// An empty property list, from the room where there is one.
    pub(super) fn properties(&mut self) -> Vec<Property> {
        self.properties.pop().unwrap_or_default()
    }

    /// A history ring's memory, from the room where there is one.
    pub(super) fn history(&mut self) -> Option<HistoryRoom> {
        self.histories.pop()
    }

    /// Property lists and history rings held.
    pub fn len(&self) -> (usize, usize) {
        (self.properties.len(), self.histories.len())
    }

    pub fn is_empty(&self) -> bool {
        self.properties.is_empty() && self.histories.is_empty() && self.twins.capacity() == 0
    }
}

impl TwinStore {
    /// Empties this store into room for the next one (everything else is dropped). Takes
    /// about as long as dropping the store: do it where dropping it would have been.
    pub fn into_room(mut self) -> Room {
        let mut room = std::mem::take(&mut self.room);
        for twin in &mut self.twins {
            let mut properties = std::mem::take(&mut twin.properties);
            if properties.capacity() == 0 {
                continue;
            }
            room.histories.extend(
                properties
                    .drain(..)
                    .filter_map(|property| property.history.into_room()),
            );
            room.properties.push(properties);
        }
        let mut twins = std::mem::take(&mut self.twins);
        twins.clear();
        if twins.capacity() > room.twins.capacity() {
            room.twins = twins;
        }
        let mut index = std::mem::take(&mut self.index);
        index.clear();
        if index.capacity() > room.index.capacity() {
            room.index = index;
        }
        room
    }

    /// Builds from `room` (see [`into_room`](Self::into_room)): twins and properties added
    /// from now on take its memory before asking the allocator.
    pub fn with_room(mut self, mut room: Room) -> Self {
        // The tables take the room's memory, the twins declared so far moved in.
        if room.twins.capacity() > self.twins.capacity() {
            room.twins.append(&mut self.twins);
            self.twins = std::mem::take(&mut room.twins);
        }
        if room.index.capacity() > self.index.capacity() {
            room.index.extend(self.index.drain());
            self.index = std::mem::take(&mut room.index);
        }
        self.room = room;
        self
    }

    /// Gives back what the room still holds (a store kept for long need not hold it).
    pub fn release_room(&mut self) -> Room {
        std::mem::take(&mut self.room)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::RuleSet;
    use crate::time::Timestamp;
    use crate::twin::store::StoreConfig;
    use crate::twin::{TwinId, TwinStore};
    use crate::update::TwinUpdate;

    fn measurement(twin: &str, name: &str, value: f64, at: i64) -> TwinUpdate {
        TwinUpdate::Measurement {
            twin: TwinId::new(twin),
            name: name.into(),
            value,
            time: Timestamp(at),
        }
    }

    fn filled(twins: usize, at: i64) -> TwinStore {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        let updates: Vec<_> = (0..twins)
            .flat_map(|i| {
                [
                    measurement(&format!("t{i}"), "temperature", i as f64, at),
                    measurement(&format!("t{i}"), "pressure", at as f64, at),
                ]
            })
            .collect();
        store.apply_all(&updates, Timestamp(at));
        store
    }

    #[test]
    fn a_store_built_in_an_old_ones_room_is_as_fresh_as_a_new_one() {
        let old = filled(50, 1_000);
        let room = old.into_room();
        assert_eq!(room.len(), (50, 100));
        assert!(room.twins.capacity() >= 50 && room.index.capacity() >= 50);
        let updates: Vec<_> = (0..30)
            .map(|i| measurement(&format!("u{i}"), "level", 7.0, 5))
            .collect();
        let mut recycled =
            TwinStore::new(StoreConfig::default(), RuleSet::default()).with_room(room);
        recycled.apply_all(&updates, Timestamp(5));
        let mut new = TwinStore::new(StoreConfig::default(), RuleSet::default());
        new.apply_all(&updates, Timestamp(5));
        assert_eq!(recycled.len(), new.len());
        for ((_, a), (_, b)) in recycled.twins().zip(new.twins()) {
            assert_eq!(a.id, b.id);
            assert_eq!(
                a.properties.len(),
                1,
                "nothing of the old twins' properties"
            );
            let (pa, pb) = (&a.properties[0], &b.properties[0]);
            assert_eq!(
                (&*pa.name, pa.value, pa.time),
                (&*pb.name, pb.value, pb.time)
            );
            assert_eq!(
                pa.history.iter().collect::<Vec<_>>(),
                pb.history.iter().collect::<Vec<_>>(),
                "no old samples in a recycled ring"
            );
        }
        // What was not used is still there, and goes on to the next store.
        assert_eq!(recycled.release_room().len(), (20, 70));
    }
}
