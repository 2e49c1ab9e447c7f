//! Binding glTF nodes to twins: by the node's `extras` first (`{"twin": "line1-pump1"}`),
//! by node-name pattern second (`"TW_{twin}"`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::model::ModelTree;

/// How a node was bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundBy {
    Extras,
    NamePattern,
}

impl fmt::Display for BoundBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BoundBy::Extras => "extras",
            BoundBy::NamePattern => "name pattern",
        })
    }
}

/// A node bound to a twin.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBinding {
    /// Position in [`ModelTree::nodes`].
    pub node: usize,
    pub twin: String,
    pub by: BoundBy,
    /// The twin of the nearest bound ancestor node: the model's hierarchy.
    pub parent_twin: Option<String>,
}

/// A node-name pattern with one `{twin}` placeholder, e.g. `TW_{twin}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    prefix: String,
    suffix: String,
}

impl NamePattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (prefix, suffix) = text
            .split_once("{twin}")
            .ok_or_else(|| format!("pattern {text:?} has no {{twin}} placeholder"))?;
        if suffix.contains("{twin}") {
            return Err(format!("pattern {text:?} has more than one {{twin}} placeholder"));
        }
        Ok(NamePattern { prefix: prefix.to_owned(), suffix: suffix.to_owned() })
    }

    /// The twin id this node name names, if it matches.
    pub fn twin_of<'a>(&self, name: &'a str) -> Option<&'a str> {
        let id = name.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        (!id.is_empty()).then_some(id)
    }
}

/// The outcome of binding a model to twins, as `twinscope check` reports it.
#[derive(Debug, Clone, Default)]
pub struct BindingReport {
    pub bound: Vec<NodeBinding>,
    /// Twins the manifest declares that no node binds.
    pub twins_without_node: Vec<String>,
    /// Mesh nodes with no bound ancestor: they will never show a twin's state.
    pub unbound_mesh_nodes: Vec<usize>,
    /// Problems that do not stop the scene from loading.
    pub warnings: Vec<String>,
}

impl BindingReport {
    /// Every twin id the model binds, each once.
    pub fn twin_ids(&self) -> BTreeSet<&str> {
        self.bound.iter().map(|b| b.twin.as_str()).collect()
    }
}

/// Binds `tree`'s nodes. `declared` are twins the manifest names explicitly.
pub fn bind_model(tree: &ModelTree, extras_key: &str, patterns: &[NamePattern], declared: &[String]) -> BindingReport {
    let mut report = BindingReport::default();
    let mut twin_of_node: Vec<Option<String>> = vec![None; tree.nodes.len()];
    for (position, node) in tree.nodes.iter().enumerate() {
        let from_extras = match node.extras.as_ref().and_then(|extras| extras.get(extras_key)) {
            Some(serde_json::Value::String(id)) if !id.is_empty() => Some(id.clone()),
            Some(other) => {
                report.warnings.push(format!(
                    "node {}: extras key {extras_key:?} is {other}, not a twin id string; ignored",
                    tree.path(position)
                ));
                None
            }
            None => None,
        };
        let bound = match from_extras {
            Some(id) => Some((id, BoundBy::Extras)),
            None => node
                .name
                .as_deref()
                .and_then(|name| patterns.iter().find_map(|p| p.twin_of(name)))
                .map(|id| (id.to_owned(), BoundBy::NamePattern)),
        };
        if let Some((twin, by)) = bound {
            let mut parent_twin = None;
            let mut cursor = node.parent;
            while let Some(ancestor) = cursor {
                if let Some(id) = &twin_of_node[ancestor]
                    && *id != twin
                {
                    parent_twin = Some(id.clone());
                    break;
                }
                cursor = tree.nodes[ancestor].parent;
            }
            twin_of_node[position] = Some(twin.clone());
            report.bound.push(NodeBinding { node: position, twin, by, parent_twin });
        }
    }
    for (position, node) in tree.nodes.iter().enumerate() {
        if node.has_mesh && !has_bound_ancestor_or_self(tree, &twin_of_node, position) {
            report.unbound_mesh_nodes.push(position);
        }
    }
    let bound_ids = report.twin_ids();
    report.twins_without_node = declared.iter().filter(|id| !bound_ids.contains(id.as_str())).cloned().collect();
    // A twin bound to several nodes is fine (one machine, several meshes), but two different
    // parents for one twin means the model and the hierarchy disagree.
    let mut parents: BTreeMap<&str, BTreeSet<Option<&str>>> = BTreeMap::new();
    for binding in &report.bound {
        parents.entry(&binding.twin).or_default().insert(binding.parent_twin.as_deref());
    }
    for (twin, parent_set) in parents {
        if parent_set.len() > 1 {
            report.warnings.push(format!("twin {twin:?} is bound under different parents in the model: {parent_set:?}"));
        }
    }
    report
}

fn has_bound_ancestor_or_self(tree: &ModelTree, twin_of_node: &[Option<String>], position: usize) -> bool {
    let mut cursor = Some(position);
    while let Some(i) = cursor {
        if twin_of_node[i].is_some() {
            return true;
        }
        cursor = tree.nodes[i].parent;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::model::ModelNode;
    use serde_json::json;

    fn node(index: usize, name: &str, extras: Option<serde_json::Value>, has_mesh: bool, parent: Option<usize>) -> ModelNode {
        ModelNode { index, name: Some(name.into()), extras, has_mesh, mesh_name: None, parent }
    }

    fn tree() -> ModelTree {
        ModelTree {
            nodes: vec![
                node(0, "plant", Some(json!({"twin": "main"})), false, None),
                node(1, "floor", None, true, Some(0)),
                node(2, "pump", Some(json!({"twin": "pump1"})), true, Some(0)),
                node(3, "pump-housing", None, true, Some(2)),
                node(4, "TW_bearing1", None, true, Some(2)),
                node(5, "bad", Some(json!({"twin": 5})), true, None),
            ],
            scene_index: 0,
            scene_count: 1,
        }
    }

    #[test]
    fn binds_by_extras_then_name_pattern_and_derives_parents() {
        let patterns = [NamePattern::parse("TW_{twin}").unwrap()];
        let report = bind_model(&tree(), "twin", &patterns, &["pump1".into(), "ghost".into()]);
        let bound: Vec<(&str, BoundBy, Option<&str>)> =
            report.bound.iter().map(|b| (b.twin.as_str(), b.by, b.parent_twin.as_deref())).collect();
        assert_eq!(
            bound,
            [("main", BoundBy::Extras, None), ("pump1", BoundBy::Extras, Some("main")), ("bearing1", BoundBy::NamePattern, Some("pump1"))]
        );
        assert_eq!(report.twins_without_node, ["ghost"]);
        // The floor is under the bound plant node, so it belongs to "main"; only "bad" is loose.
        assert_eq!(report.unbound_mesh_nodes, [5]);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].contains("not a twin id string"));
    }

    #[test]
    fn name_patterns() {
        let pattern = NamePattern::parse("TW_{twin}_mesh").unwrap();
        assert_eq!(pattern.twin_of("TW_pump1_mesh"), Some("pump1"));
        assert_eq!(pattern.twin_of("TW__mesh"), None);
        assert_eq!(pattern.twin_of("pump1"), None);
        assert!(NamePattern::parse("no placeholder").is_err());
        assert!(NamePattern::parse("{twin}{twin}").is_err());
    }
}
