//! The twin hierarchy as a drill-down tree: status roll-up (a parent shows the worst below it
//! and how many alarms are active there), search, and the flat list of visible rows a
//! virtualised tree view draws.
//!
//! Everything is one O(twins) pass, so a view can redo it whenever the store changed, even for
//! tens of thousands of twins.

use super::{Status, TwinIndex, TwinStore};

/// Per twin (indexed by [`TwinIndex`]): the worst status in its subtree and the active,
/// unshelved alarms there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollup {
    pub worst: Vec<Status>,
    pub alarms: Vec<u32>,
}

impl Rollup {
    pub fn compute(store: &TwinStore) -> Self {
        let mut rollup = Rollup::default();
        rollup.compute_into(store);
        rollup
    }

    /// Recomputes in place, reusing the buffers.
    pub fn compute_into(&mut self, store: &TwinStore) {
        self.worst.clear();
        self.alarms.clear();
        self.worst.extend(store.twins().map(|(_, t)| t.status));
        self.alarms
            .extend(store.twins().map(|(_, t)| t.active_alarms));
        for index in depth_first(store).into_iter().rev() {
            if let Some(parent) = store.get(index).parent {
                let (worst, alarms) = (self.worst[index.0 as usize], self.alarms[index.0 as usize]);
                let p = parent.0 as usize;
                self.worst[p] = self.worst[p].max(worst);
                self.alarms[p] += alarms;
            }
        }
    }

    pub fn worst(&self, index: TwinIndex) -> Status {
        self.worst
            .get(index.0 as usize)
            .copied()
            .unwrap_or_default()
    }

    pub fn alarms(&self, index: TwinIndex) -> u32 {
        self.alarms.get(index.0 as usize).copied().unwrap_or(0)
    }
}

/// Every twin, parents before children, roots and siblings in the order they became known.
pub fn depth_first(store: &TwinStore) -> Vec<TwinIndex> {
    let mut order = Vec::with_capacity(store.len());
    let mut stack: Vec<TwinIndex> = store.roots().collect();
    stack.reverse();
    while let Some(index) = stack.pop() {
        order.push(index);
        stack.extend(store.get(index).children.iter().rev().copied());
    }
    order
}

/// `index` and everything below it (nothing for an index the store does not have).
pub fn subtree(store: &TwinStore, index: TwinIndex) -> Vec<TwinIndex> {
    let mut out = Vec::new();
    if index.0 as usize >= store.len() {
        return out;
    }
    let mut stack = vec![index];
    while let Some(i) = stack.pop() {
        out.push(i);
        stack.extend(store.get(i).children.iter().copied());
    }
    out
}

/// Whether `index` is `ancestor` or lies below it. Indices the store does not have (a view
/// may hold some from a store that was replaced, as a replay seek does) are within nothing.
pub fn is_within(store: &TwinStore, index: TwinIndex, ancestor: TwinIndex) -> bool {
    if index.0 as usize >= store.len() {
        return false;
    }
    let mut cursor = Some(index);
    let mut steps = 0;
    while let Some(i) = cursor {
        if i == ancestor {
            return true;
        }
        steps += 1;
        if steps > store.len() {
            return false;
        }
        cursor = store.get(i).parent;
    }
    false
}

/// Twins whose id or display name contains `query` (case-insensitive), and which rows to
/// show so every match appears in context: the matches and their ancestors.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    pub matches: Vec<TwinIndex>,
    /// Indexed by [`TwinIndex`].
    pub visible: Vec<bool>,
}

pub fn search(store: &TwinStore, query: &str) -> SearchResult {
    let query = query.trim().to_lowercase();
    let mut result = SearchResult {
        matches: Vec::new(),
        visible: vec![false; store.len()],
    };
    for (index, twin) in store.twins() {
        let hit = contains_ignore_case(twin.id.as_str(), &query)
            || twin
                .display_name
                .as_deref()
                .is_some_and(|n| contains_ignore_case(n, &query));
        if !hit {
            continue;
        }
        result.matches.push(index);
        let mut cursor = Some(index);
        while let Some(i) = cursor {
            if result.visible[i.0 as usize] {
                break;
            }
            result.visible[i.0 as usize] = true;
            cursor = store.get(i).parent;
        }
    }
    result
}

fn contains_ignore_case(text: &str, lower_query: &str) -> bool {
    if text.is_ascii() && lower_query.is_ascii() {
        text.as_bytes()
            .windows(lower_query.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(lower_query.as_bytes()))
            || lower_query.is_empty()
    } else {
        text.to_lowercase().contains(lower_query)
    }
}

/// One row of the tree view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeRow {
    pub index: TwinIndex,
    pub depth: u16,
    pub has_children: bool,
    pub expanded: bool,
}

/// The rows to draw, top to bottom: children of expanded twins only; with a filter, only
/// visible twins, all of them expanded (a search shows its matches in context).
pub fn visible_rows(
    store: &TwinStore,
    is_expanded: impl Fn(TwinIndex) -> bool,
    filter: Option<&[bool]>,
) -> Vec<TreeRow> {
    let shown = |i: TwinIndex| filter.is_none_or(|f| f.get(i.0 as usize).copied().unwrap_or(false));
    let mut rows = Vec::new();
    let mut stack: Vec<(TwinIndex, u16)> = store
        .roots()
        .filter(|r| shown(*r))
        .map(|r| (r, 0))
        .collect();
    stack.reverse();
    while let Some((index, depth)) = stack.pop() {
        let children = &store.get(index).children;
        let expanded = filter.is_some() || is_expanded(index);
        rows.push(TreeRow {
            index,
            depth,
            has_children: !children.is_empty(),
            expanded,
        });
        if expanded {
            stack.extend(
                children
                    .iter()
                    .rev()
                    .filter(|c| shown(**c))
                    .map(|c| (*c, depth + 1)),
            );
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TwinUpdate;
    use crate::rules::RuleSet;
    use crate::time::Timestamp;
    use crate::twin::{Severity, StoreConfig};

    /// plant → line1 → (pump1 → seal, pump2), plant → line2 → pump3
    fn plant() -> TwinStore {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("plant", None, Some("Plant"));
        store.declare("line1", Some("plant"), Some("Line 1"));
        store.declare("pump1", Some("line1"), Some("Feed pump"));
        store.declare("seal", Some("pump1"), Some("Seal"));
        store.declare("pump2", Some("line1"), Some("Return pump"));
        store.declare("line2", Some("plant"), Some("Line 2"));
        store.declare("pump3", Some("line2"), Some("Dosing pump"));
        store
    }

    fn raise(store: &mut TwinStore, twin: &str, severity: Severity) {
        let update = TwinUpdate::AlarmRaised {
            twin: twin.into(),
            alarm_type: "a".into(),
            severity,
            text: String::new(),
            time: Timestamp(0),
        };
        store.apply(&update, Timestamp(0));
    }

    #[test]
    fn parents_show_the_worst_below_and_count_alarms() {
        let mut store = plant();
        raise(&mut store, "seal", Severity::Critical);
        raise(&mut store, "pump2", Severity::Minor);
        let m = TwinUpdate::Measurement {
            twin: "pump3".into(),
            name: "flow".into(),
            value: 1.0,
            time: Timestamp(0),
        };
        store.apply(&m, Timestamp(0));
        let rollup = Rollup::compute(&store);
        let at = |id: &str| {
            (
                rollup.worst(store.find(id).unwrap()),
                rollup.alarms(store.find(id).unwrap()),
            )
        };
        assert_eq!(at("plant"), (Status::Alarm, 2));
        assert_eq!(at("line1"), (Status::Alarm, 2));
        assert_eq!(at("pump1"), (Status::Alarm, 1));
        assert_eq!(at("pump2"), (Status::Warning, 1));
        assert_eq!(at("line2"), (Status::Ok, 0));
        // Shelving takes an alarm out of the roll-up.
        let seal = store.find("seal").unwrap();
        store.shelve(seal, &"a".into(), Timestamp(10), "op", Timestamp(0));
        let rollup = Rollup::compute(&store);
        assert_eq!(
            (
                rollup.worst(store.find("plant").unwrap()),
                rollup.alarms(store.find("plant").unwrap())
            ),
            (Status::Warning, 1)
        );
    }

    #[test]
    fn roll_up_works_when_children_became_known_before_parents() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("leaf", Some("mid"), None);
        store.declare("mid", Some("root"), None);
        raise(&mut store, "leaf", Severity::Major);
        let rollup = Rollup::compute(&store);
        assert_eq!(rollup.worst(store.find("root").unwrap()), Status::Alarm);
        assert_eq!(depth_first(&store).len(), 3);
    }

    #[test]
    fn search_matches_ids_and_names_and_shows_ancestors() {
        let store = plant();
        let result = search(&store, "PUMP");
        assert_eq!(result.matches.len(), 3, "ids pump1..3, case-insensitive");
        let result = search(&store, "seal");
        let rows = visible_rows(&store, |_| false, Some(&result.visible));
        let ids: Vec<&str> = rows
            .iter()
            .map(|r| store.get(r.index).id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["plant", "line1", "pump1", "seal"],
            "the match in context, expanded"
        );
        let result = search(&store, "dosing");
        assert_eq!(
            result.matches,
            vec![store.find("pump3").unwrap()],
            "display names match too"
        );
        assert!(search(&store, "nothing like it").matches.is_empty());
        let result = search(&store, "");
        assert_eq!(result.matches.len(), store.len());
    }

    #[test]
    fn rows_follow_expansion() {
        let store = plant();
        let plant = store.find("plant").unwrap();
        let line1 = store.find("line1").unwrap();
        assert_eq!(visible_rows(&store, |_| false, None).len(), 1);
        let rows = visible_rows(&store, |i| i == plant || i == line1, None);
        let ids: Vec<(&str, u16)> = rows
            .iter()
            .map(|r| (store.get(r.index).id.as_str(), r.depth))
            .collect();
        assert_eq!(
            ids,
            [
                ("plant", 0),
                ("line1", 1),
                ("pump1", 2),
                ("pump2", 2),
                ("line2", 1)
            ]
        );
        assert!(is_within(&store, store.find("seal").unwrap(), line1));
        assert!(!is_within(&store, store.find("pump3").unwrap(), line1));
        assert_eq!(subtree(&store, line1).len(), 4);
    }
}
