//! Binding glTF nodes to twins, the one implementation `twinscope check` and the viewer share
//! (the viewer maps the glTF node indices bound here to the entities Bevy spawns for them).
//!
//! Methods, in the order they apply (a node bound by one is not bound again by a later one):
//! 1. the node's `extras` (`{"twin": "line1-pump1"}`);
//! 2. node-name patterns (`TW_{twin}`, `Ifc*_*_{twin}`), and for a node without a name the
//!    same patterns against its mesh's name (CAD exports name meshes, not nodes);
//! 3. node-path patterns (`Engine/*/Piston_{twin}`, `Site/**/Valve_{twin}`);
//! 4. explicit pairs in the manifest (`[[bind]] node = "Engine/Block/Piston_1" twin = "p1"`);
//! 5. a tag table (CSV of node path or name, twin id, optional parent).
//!
//! A node's label (its segment in a path) is its name, else its mesh's name, else `#index`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use super::model::ModelTree;
use super::pattern::{NamePattern, PathPattern};
use super::tag_table::TagRow;

/// How a node was bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BoundBy {
    Extras,
    NamePattern,
    MeshName,
    PathPattern,
    Explicit,
    TagTable,
}

impl BoundBy {
    pub const ALL: [BoundBy; 6] = [
        BoundBy::Extras,
        BoundBy::NamePattern,
        BoundBy::MeshName,
        BoundBy::PathPattern,
        BoundBy::Explicit,
        BoundBy::TagTable,
    ];
}

impl fmt::Display for BoundBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BoundBy::Extras => "extras",
            BoundBy::NamePattern => "name pattern",
            BoundBy::MeshName => "mesh name",
            BoundBy::PathPattern => "path pattern",
            BoundBy::Explicit => "[[bind]]",
            BoundBy::TagTable => "tag table",
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
    /// The parent the binding names, else the twin of the nearest bound ancestor node.
    pub parent_twin: Option<String>,
}

/// One `[[bind]]`: a node (a path pattern, or without `/` a node name anywhere) and its twin
/// (or a `{twin}` placeholder in the node pattern).
#[derive(Debug, Clone)]
pub struct ExplicitBinding {
    pub node: NodeSelector,
    pub twin: Option<String>,
    pub parent: Option<String>,
}

/// Which nodes a `[[bind]]` or tag-table row means.
#[derive(Debug, Clone)]
pub enum NodeSelector {
    /// Names joined by `/` from the root, with `*`/`**` wildcards.
    Path(PathPattern),
    /// A node name (its label), wherever the node is.
    Name(NamePattern),
}

impl NodeSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.contains('/') {
            PathPattern::parse(text).map(NodeSelector::Path)
        } else {
            NamePattern::parse_glob(text).map(NodeSelector::Name)
        }
    }

    pub fn captures(&self) -> bool {
        match self {
            NodeSelector::Path(p) => p.captures(),
            NodeSelector::Name(p) => p.captures(),
        }
    }
}

/// Everything a scene says about binding.
#[derive(Debug, Clone, Default)]
pub struct BindingRules {
    pub extras_key: String,
    pub name_patterns: Vec<NamePattern>,
    pub path_patterns: Vec<PathPattern>,
    pub explicit: Vec<ExplicitBinding>,
    pub tags: Vec<TagRow>,
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

    /// How many nodes each method bound.
    pub fn count_by(&self, method: BoundBy) -> usize {
        self.bound.iter().filter(|b| b.by == method).count()
    }

    /// glTF node index → twin id: what the viewer binds the spawned entities by.
    pub fn by_gltf_node(&self, tree: &ModelTree) -> HashMap<usize, String> {
        self.bound
            .iter()
            .map(|b| (tree.nodes[b.node].index, b.twin.clone()))
            .collect()
    }
}

/// Binds `tree`'s nodes by `rules`. `declared` are twins the manifest names explicitly.
pub fn bind_model(tree: &ModelTree, rules: &BindingRules, declared: &[String]) -> BindingReport {
    let mut report = BindingReport::default();
    let n = tree.nodes.len();
    // (twin, method, explicit parent) per node.
    let mut chosen: Vec<Option<(String, BoundBy, Option<String>)>> = vec![None; n];
    for (position, node) in tree.nodes.iter().enumerate() {
        let from_extras = match node
            .extras
            .as_ref()
            .and_then(|extras| extras.get(&rules.extras_key))
        {
            Some(serde_json::Value::String(id)) if !id.trim().is_empty() => Some(id.clone()),
            Some(other) => {
                report.warnings.push(format!(
                    "node {}: extras key {:?} is {other}, not a twin id string; ignored",
                    tree.path(position),
                    rules.extras_key
                ));
                None
            }
            None => None,
        };
        chosen[position] = from_extras
            .map(|id| (id, BoundBy::Extras))
            .or_else(|| match (&node.name, &node.mesh_name) {
                (Some(name), _) => rules
                    .name_patterns
                    .iter()
                    .find_map(|p| p.twin_of(name))
                    .map(|id| (id.to_owned(), BoundBy::NamePattern)),
                (None, Some(mesh)) => rules
                    .name_patterns
                    .iter()
                    .find_map(|p| p.twin_of(mesh))
                    .map(|id| (id.to_owned(), BoundBy::MeshName)),
                (None, None) => None,
            })
            .map(|(id, by)| (id, by, None));
    }
    let needs_paths =
        !rules.path_patterns.is_empty() || !rules.explicit.is_empty() || !rules.tags.is_empty();
    let owned_labels: Vec<Vec<std::borrow::Cow<str>>> = if needs_paths {
        (0..n).map(|p| tree.label_path(p)).collect()
    } else {
        Vec::new()
    };
    let labels: Vec<Vec<&str>> = owned_labels
        .iter()
        .map(|path| path.iter().map(|l| l.as_ref()).collect())
        .collect();
    if !rules.path_patterns.is_empty() {
        for position in 0..n {
            if chosen[position].is_some() {
                continue;
            }
            for pattern in &rules.path_patterns {
                if let Some(Some(id)) = pattern.match_path(&labels[position]) {
                    chosen[position] = Some((id.to_owned(), BoundBy::PathPattern, None));
                    break;
                }
            }
        }
    }
    for (i, bind) in rules.explicit.iter().enumerate() {
        let mut matched = 0;
        for position in 0..n {
            let captured = match &bind.node {
                NodeSelector::Path(pattern) => pattern.match_path(&labels[position]),
                NodeSelector::Name(pattern) => {
                    pattern.match_name(labels[position].last().copied().unwrap_or_default())
                }
            };
            let Some(captured) = captured else { continue };
            matched += 1;
            let Some(twin) = captured.map(str::to_owned).or_else(|| bind.twin.clone()) else {
                continue;
            };
            let what = format!("bind[{i}]");
            offer(
                &mut chosen[position],
                &mut report.warnings,
                tree,
                position,
                twin,
                BoundBy::Explicit,
                bind.parent.clone(),
                &what,
            );
        }
        if matched == 0 {
            report.warnings.push(format!(
                "bind[{i}]: no node matches {:?}",
                selector_text(&bind.node)
            ));
        }
    }
    if !rules.tags.is_empty() {
        // Tag tables are large: nodes looked up by path and by label, not matched row by row.
        let mut by_path: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_label: HashMap<&str, Vec<usize>> = HashMap::new();
        for (position, path) in labels.iter().enumerate() {
            by_path.entry(path.join("/")).or_default().push(position);
            by_label
                .entry(path.last().copied().unwrap_or_default())
                .or_default()
                .push(position);
        }
        for row in &rules.tags {
            let nodes = if row.node.contains('/') {
                by_path.get(row.node.as_str())
            } else {
                by_label.get(row.node.as_str())
            };
            let Some(nodes) = nodes else {
                report.warnings.push(format!(
                    "tag table line {}: no node {:?}",
                    row.line, row.node
                ));
                continue;
            };
            let what = format!("tag table line {}", row.line);
            for &position in nodes {
                offer(
                    &mut chosen[position],
                    &mut report.warnings,
                    tree,
                    position,
                    row.twin.clone(),
                    BoundBy::TagTable,
                    row.parent.clone(),
                    &what,
                );
            }
        }
    }
    // Parents: the binding's own, else the nearest bound ancestor's twin (nodes come parents
    // first, so ancestors are settled).
    for position in 0..n {
        let Some((twin, by, parent)) = chosen[position].clone() else {
            continue;
        };
        let parent_twin = parent.or_else(|| {
            let mut cursor = tree.nodes[position].parent;
            while let Some(ancestor) = cursor {
                if let Some((id, _, _)) = &chosen[ancestor]
                    && *id != twin
                {
                    return Some(id.clone());
                }
                cursor = tree.nodes[ancestor].parent;
            }
            None
        });
        report.bound.push(NodeBinding {
            node: position,
            twin,
            by,
            parent_twin,
        });
    }
    for (position, node) in tree.nodes.iter().enumerate() {
        if node.has_mesh && !has_bound_ancestor_or_self(tree, &chosen, position) {
            report.unbound_mesh_nodes.push(position);
        }
    }
    let bound_ids = report.twin_ids();
    report.twins_without_node = declared
        .iter()
        .filter(|id| !bound_ids.contains(id.as_str()))
        .cloned()
        .collect();
    // A twin bound to several nodes is fine (one machine, several meshes), but two different
    // parents for one twin means the model and the hierarchy disagree.
    let mut parents: BTreeMap<&str, BTreeSet<Option<&str>>> = BTreeMap::new();
    for binding in &report.bound {
        parents
            .entry(&binding.twin)
            .or_default()
            .insert(binding.parent_twin.as_deref());
    }
    for (twin, parent_set) in parents {
        if parent_set.len() > 1 {
            report.warnings.push(format!(
                "twin {twin:?} is bound under different parents in the model: {parent_set:?}"
            ));
        }
    }
    report
}

/// Binds a node by a later method unless an earlier one already did (then a different twin
/// is a warning: the manifest contradicts itself).
#[allow(clippy::too_many_arguments)]
fn offer(
    slot: &mut Option<(String, BoundBy, Option<String>)>,
    warnings: &mut Vec<String>,
    tree: &ModelTree,
    position: usize,
    twin: String,
    by: BoundBy,
    parent: Option<String>,
    what: &str,
) {
    match slot {
        None => *slot = Some((twin, by, parent)),
        Some((existing, earlier, _)) if *existing != twin => {
            warnings.push(format!(
                "{what}: node {} is already bound to {existing:?} by {earlier}; {twin:?} ignored",
                tree.path(position)
            ));
        }
        Some(_) => {}
    }
}

fn selector_text(selector: &NodeSelector) -> String {
    match selector {
        NodeSelector::Path(p) => p.to_string(),
        NodeSelector::Name(p) => p.to_string(),
    }
}

fn has_bound_ancestor_or_self<T>(tree: &ModelTree, chosen: &[Option<T>], position: usize) -> bool {
    let mut cursor = Some(position);
    while let Some(i) = cursor {
        if chosen[i].is_some() {
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

    fn node(
        index: usize,
        name: &str,
        extras: Option<serde_json::Value>,
        has_mesh: bool,
        parent: Option<usize>,
    ) -> ModelNode {
        ModelNode {
            index,
            name: Some(name.into()),
            extras,
            has_mesh,
            mesh_name: None,
            parent,
        }
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
            file_bytes: 0,
        }
    }

    #[test]
    fn binds_by_extras_then_name_pattern_and_derives_parents() {
        let rules = BindingRules {
            extras_key: "twin".into(),
            name_patterns: vec![NamePattern::parse("TW_{twin}").unwrap()],
            ..Default::default()
        };
        let report = bind_model(&tree(), &rules, &["pump1".into(), "ghost".into()]);
        let bound: Vec<(&str, BoundBy, Option<&str>)> = report
            .bound
            .iter()
            .map(|b| (b.twin.as_str(), b.by, b.parent_twin.as_deref()))
            .collect();
        assert_eq!(
            bound,
            [
                ("main", BoundBy::Extras, None),
                ("pump1", BoundBy::Extras, Some("main")),
                ("bearing1", BoundBy::NamePattern, Some("pump1"))
            ]
        );
        assert_eq!(report.twins_without_node, ["ghost"]);
        // The floor is under the bound plant node, so it belongs to "main"; only "bad" is loose.
        assert_eq!(report.unbound_mesh_nodes, [5]);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].contains("not a twin id string"));
    }

    /// A CAD export: no node names, meshes named by part.
    fn cad_tree() -> ModelTree {
        let unnamed = |index: usize, mesh: Option<&str>, parent: Option<usize>| ModelNode {
            index,
            name: None,
            extras: None,
            has_mesh: mesh.is_some(),
            mesh_name: mesh.map(str::to_owned),
            parent,
        };
        ModelTree {
            nodes: vec![
                ModelNode {
                    index: 0,
                    name: Some("Engine".into()),
                    extras: None,
                    has_mesh: false,
                    mesh_name: None,
                    parent: None,
                },
                ModelNode {
                    index: 1,
                    name: Some("Block".into()),
                    extras: None,
                    has_mesh: false,
                    mesh_name: None,
                    parent: Some(0),
                },
                unnamed(2, Some("Piston_123-844_0_Parts_1"), Some(1)),
                unnamed(3, Some("Piston_123-845_0_Parts_1"), Some(1)),
                unnamed(4, Some("Crank_9"), Some(0)),
                ModelNode {
                    index: 5,
                    name: Some("Valve_7".into()),
                    extras: None,
                    has_mesh: true,
                    mesh_name: None,
                    parent: Some(1),
                },
                unnamed(6, None, Some(0)),
            ],
            scene_index: 0,
            scene_count: 1,
            file_bytes: 0,
        }
    }

    #[test]
    fn each_method_binds_in_its_order() {
        let tree = cad_tree();
        assert_eq!(
            tree.path(2),
            "Engine/Block/Piston_123-844_0_Parts_1",
            "an unnamed node's label is its mesh's name"
        );
        assert_eq!(tree.path(6), "Engine/#6");
        let rules = BindingRules {
            extras_key: "twin".into(),
            name_patterns: vec![NamePattern::parse("Piston_{twin}_0_Parts_*").unwrap()],
            path_patterns: vec![PathPattern::parse("Engine/**/Valve_{twin}").unwrap()],
            explicit: vec![
                ExplicitBinding {
                    node: NodeSelector::parse("Engine/Block").unwrap(),
                    twin: Some("block".into()),
                    parent: Some("engine".into()),
                },
                // Already bound by the path pattern to another twin: a warning, not a rebind.
                ExplicitBinding {
                    node: NodeSelector::parse("Valve_*").unwrap(),
                    twin: Some("valve-x".into()),
                    parent: None,
                },
                ExplicitBinding {
                    node: NodeSelector::parse("Nowhere/*").unwrap(),
                    twin: Some("x".into()),
                    parent: None,
                },
            ],
            tags: super::super::tag_table::parse_tag_table(
                "node,twin,parent\nCrank_9,crank,engine\nEngine/#6,frame,\nMissing,m,\n",
            )
            .unwrap(),
        };
        let report = bind_model(&tree, &rules, &[]);
        let bound: Vec<(usize, &str, BoundBy, Option<&str>)> = report
            .bound
            .iter()
            .map(|b| (b.node, b.twin.as_str(), b.by, b.parent_twin.as_deref()))
            .collect();
        assert_eq!(
            bound,
            [
                (1, "block", BoundBy::Explicit, Some("engine")),
                (2, "123-844", BoundBy::MeshName, Some("block")),
                (3, "123-845", BoundBy::MeshName, Some("block")),
                (4, "crank", BoundBy::TagTable, Some("engine")),
                (5, "7", BoundBy::PathPattern, Some("block")),
                (6, "frame", BoundBy::TagTable, None),
            ]
        );
        assert!(report.unbound_mesh_nodes.is_empty());
        let warnings = report.warnings.join("\n");
        assert!(
            warnings.contains(
                "bind[1]: node Engine/Block/Valve_7 is already bound to \"7\" by path pattern"
            ),
            "{warnings}"
        );
        assert!(warnings.contains("bind[2]: no node matches"), "{warnings}");
        assert!(
            warnings.contains("tag table line 4: no node \"Missing\""),
            "{warnings}"
        );
        assert_eq!(report.count_by(BoundBy::MeshName), 2);
        assert_eq!(
            report.by_gltf_node(&tree).get(&5).map(String::as_str),
            Some("7")
        );
    }
}
