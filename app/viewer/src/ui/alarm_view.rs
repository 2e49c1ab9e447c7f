//! The alarm panel's state (filters, which tab) and the rows it shows: the alarm book's list,
//! sorted by state, severity and time, filtered by severity, by the selected subtree and by
//! shelving. Plain data; [`super::alarm_panel`] draws it.

use twinscope_core::twin::tree::is_within;
use twinscope_core::twin::{Severity, TwinIndex, TwinStore};

/// Which list the alarm panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlarmTab {
    #[default]
    Active,
    History,
}

#[derive(Debug, Clone)]
pub struct AlarmListState {
    pub tab: AlarmTab,
    /// Severities shown, indexed by `Severity as usize`.
    pub severities: [bool; 4],
    /// Only alarms on the selected twin and below it.
    pub subtree_only: bool,
    pub show_shelved: bool,
    /// How long the Shelve button shelves for.
    pub shelve_minutes: u32,
    /// Result of the last CSV export, for the panel to show.
    pub export_message: Option<String>,
    cache: Option<(ListKey, Vec<usize>)>,
}

/// What the cached rows depend on: the book's generation, the subtree and the filters.
type ListKey = (u64, Option<TwinIndex>, [bool; 4], bool, bool);

impl Default for AlarmListState {
    fn default() -> Self {
        AlarmListState {
            tab: AlarmTab::Active,
            severities: [true; 4],
            subtree_only: false,
            show_shelved: false,
            shelve_minutes: 30,
            export_message: None,
            cache: None,
        }
    }
}

impl AlarmListState {
    /// Indices into the book's alarms, in display order. Recomputed only when the book, the
    /// filters or (for the subtree filter) the selection changed.
    pub fn rows(&mut self, store: &TwinStore, selected: Option<TwinIndex>) -> &[usize] {
        let book = store.alarm_book();
        let scope = if self.subtree_only {
            selected.filter(|s| (s.0 as usize) < store.len())
        } else {
            None
        };
        let key = (
            book.generation(),
            scope,
            self.severities,
            self.subtree_only,
            self.show_shelved,
        );
        let fresh = self
            .cache
            .as_ref()
            .is_some_and(|(cached, _)| *cached == key);
        if !fresh {
            let rows = book
                .sorted()
                .into_iter()
                .filter(|&i| {
                    let alarm = &book.alarms()[i];
                    self.severities[alarm.severity as usize]
                        && (self.show_shelved || !alarm.is_shelved())
                        && scope.is_none_or(|root| is_within(store, alarm.twin, root))
                })
                .collect();
            self.cache = Some((key, rows));
        }
        self.cache.as_ref().map_or(&[], |(_, rows)| rows.as_slice())
    }

    pub fn toggle_severity(&mut self, severity: Severity) {
        self.severities[severity as usize] ^= true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twinscope_core::rules::RuleSet;
    use twinscope_core::twin::StoreConfig;
    use twinscope_core::{Timestamp, TwinUpdate};

    fn raise(store: &mut TwinStore, twin: &str, alarm_type: &str, severity: Severity, t: i64) {
        let update = TwinUpdate::AlarmRaised {
            twin: twin.into(),
            alarm_type: alarm_type.into(),
            severity,
            text: String::new(),
            time: Timestamp(t),
        };
        store.apply(&update, Timestamp(t));
    }

    #[test]
    fn filters_by_severity_subtree_and_shelving() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("line1", None, None);
        store.declare("pump1", Some("line1"), None);
        store.declare("line2", None, None);
        store.declare("pump2", Some("line2"), None);
        raise(&mut store, "pump1", "a", Severity::Minor, 1);
        raise(&mut store, "pump2", "b", Severity::Critical, 2);
        raise(&mut store, "pump1", "c", Severity::Major, 3);
        let mut list = AlarmListState::default();
        let types = |store: &TwinStore, rows: &[usize]| {
            rows.iter()
                .map(|&i| store.alarm_book().alarms()[i].alarm_type.to_string())
                .collect::<Vec<_>>()
        };
        let rows = list.rows(&store, None).to_vec();
        assert_eq!(types(&store, &rows), ["b", "c", "a"], "severity first");
        list.subtree_only = true;
        let line1 = store.find("line1").unwrap();
        let rows = list.rows(&store, Some(line1)).to_vec();
        assert_eq!(types(&store, &rows), ["c", "a"]);
        list.toggle_severity(Severity::Minor);
        let rows = list.rows(&store, Some(line1)).to_vec();
        assert_eq!(types(&store, &rows), ["c"]);
        let pump1 = store.find("pump1").unwrap();
        store.shelve(pump1, &"c".into(), Timestamp(100), "op", Timestamp(4));
        assert!(
            list.rows(&store, Some(line1)).is_empty(),
            "shelved alarms are hidden"
        );
        list.show_shelved = true;
        assert_eq!(list.rows(&store, Some(line1)).len(), 1);
    }

    /// A replay seek replaces the store; the cached rows must not outlive it.
    #[test]
    fn a_replaced_store_is_never_mistaken_for_the_cached_one() {
        let mut list = AlarmListState::default();
        let mut before = TwinStore::new(StoreConfig::default(), RuleSet::default());
        for (i, twin) in ["a", "b", "c"].into_iter().enumerate() {
            raise(&mut before, twin, "x", Severity::Major, i as i64);
        }
        assert_eq!(list.rows(&before, None).len(), 3);
        // Three transitions, as many as the old book had, and nothing left in the list.
        let mut after = TwinStore::new(StoreConfig::default(), RuleSet::default());
        raise(&mut after, "a", "x", Severity::Major, 0);
        let a = after.find("a").unwrap();
        after.acknowledge(a, &"x".into(), "op", Timestamp(1));
        after.apply(
            &TwinUpdate::AlarmCleared {
                twin: "a".into(),
                alarm_type: "x".into(),
                time: Timestamp(2),
            },
            Timestamp(2),
        );
        assert_eq!(after.alarm_book().history().len(), 3);
        assert!(
            list.rows(&after, None).is_empty(),
            "the rows of the new store, not the old one's three"
        );
    }
}
