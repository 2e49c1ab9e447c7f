//! The hierarchy panel's state: which twins are expanded, the search, and keeping the
//! selection in view. Plain data; [`super::tree_panel`] draws it.

use std::collections::HashSet;

use twinscope_core::twin::tree::{SearchResult, TreeRow, search, visible_rows};
use twinscope_core::twin::{TwinIndex, TwinStore};

#[derive(Debug, Default)]
pub struct HierarchyState {
    pub expanded: HashSet<TwinIndex>,
    pub query: String,
    /// The last search, reused while neither the query nor the set of twins changed.
    search: Option<(String, usize, SearchResult)>,
    /// The selection the tree last revealed; a new one is expanded to and scrolled to.
    revealed: Option<TwinIndex>,
    /// A row to scroll to in the next frame.
    pub scroll_to: Option<usize>,
    /// Put the keyboard focus in the search box (Ctrl+F).
    pub focus_search: bool,
}

impl HierarchyState {
    /// Expands every twin with children (`--expand-tree`, "expand all").
    pub fn expand_all(&mut self, store: &TwinStore) {
        self.expanded.extend(
            store
                .twins()
                .filter(|(_, t)| !t.children.is_empty())
                .map(|(i, _)| i),
        );
    }

    pub fn toggle(&mut self, index: TwinIndex) {
        if !self.expanded.remove(&index) {
            self.expanded.insert(index);
        }
    }

    /// The rows to draw now; also expands to a newly selected twin and asks to scroll to it.
    pub fn rows(&mut self, store: &TwinStore, selected: Option<TwinIndex>) -> Vec<TreeRow> {
        let selected = selected.filter(|s| (s.0 as usize) < store.len());
        let newly_selected = selected.is_some() && selected != self.revealed;
        if newly_selected && let Some(index) = selected {
            // Open every ancestor so the row is there to scroll to.
            self.expanded.extend(
                store
                    .path_indices(index)
                    .into_iter()
                    .filter(|i| *i != index),
            );
        }
        self.revealed = selected;
        let query = self.query.trim();
        let rows = if query.is_empty() {
            visible_rows(store, |i| self.expanded.contains(&i), None)
        } else {
            let stale = self
                .search
                .as_ref()
                .is_none_or(|(q, n, _)| q != query || *n != store.len());
            if stale {
                self.search = Some((query.to_owned(), store.len(), search(store, query)));
            }
            let filter = self.search.as_ref().map(|(_, _, r)| r.visible.as_slice());
            visible_rows(store, |_| true, filter)
        };
        if newly_selected {
            self.scroll_to = rows.iter().position(|r| Some(r.index) == selected);
        }
        rows
    }

    /// How many twins the current search matches.
    pub fn match_count(&self) -> Option<usize> {
        self.search
            .as_ref()
            .filter(|(q, _, _)| !self.query.trim().is_empty() && q == self.query.trim())
            .map(|(_, _, r)| r.matches.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twinscope_core::rules::RuleSet;
    use twinscope_core::twin::StoreConfig;

    #[test]
    fn selecting_deep_in_the_tree_expands_to_it_and_scrolls_there() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("plant", None, None);
        for line in 0..3 {
            store.declare(&format!("line{line}"), Some("plant"), None);
            for pump in 0..3 {
                store.declare(
                    &format!("line{line}-pump{pump}"),
                    Some(&format!("line{line}")),
                    None,
                );
            }
        }
        let mut tree = HierarchyState::default();
        assert_eq!(tree.rows(&store, None).len(), 1);
        let target = store.find("line2-pump1").unwrap();
        let rows = tree.rows(&store, Some(target));
        assert_eq!(rows.len(), 1 + 3 + 3, "plant, three lines, line2's pumps");
        assert_eq!(tree.scroll_to, Some(5));
        tree.scroll_to = None;
        tree.rows(&store, Some(target));
        assert_eq!(tree.scroll_to, None, "only once per new selection");
        tree.query = "PUMP1".into();
        let rows = tree.rows(&store, Some(target));
        assert_eq!(tree.match_count(), Some(3));
        assert_eq!(rows.len(), 1 + 3 + 3, "matches in context");
        tree.query.clear();
        tree.expand_all(&store);
        assert_eq!(tree.rows(&store, Some(target)).len(), store.len());
    }
}
