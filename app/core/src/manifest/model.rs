//! Reading a glTF model's node tree (names, `extras`, meshes, parents) with the `gltf` crate,
//! so binding can be checked without Bevy or a window.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

/// One node of the model's default scene.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelNode {
    /// The glTF node index.
    pub index: usize,
    pub name: Option<String>,
    /// The node's `extras`, as JSON, if it has any.
    pub extras: Option<serde_json::Value>,
    pub has_mesh: bool,
    /// The name of its mesh (CAD exports name meshes, not nodes).
    pub mesh_name: Option<String>,
    /// Position of the parent in [`ModelTree::nodes`].
    pub parent: Option<usize>,
}

impl ModelNode {
    /// Its name, else its mesh's name, else `#index` (what paths and patterns see).
    pub fn label(&self) -> Cow<'_, str> {
        match self.name.as_deref().or(self.mesh_name.as_deref()) {
            Some(label) => Cow::Borrowed(label),
            None => Cow::Owned(format!("#{}", self.index)),
        }
    }
}

/// The nodes of a model's default scene, parents before children.
#[derive(Debug, Clone, Default)]
pub struct ModelTree {
    pub nodes: Vec<ModelNode>,
    /// The scene that will be shown (the default scene, else the first).
    pub scene_index: usize,
    pub scene_count: usize,
}

impl ModelTree {
    /// A readable path of node labels from the root, e.g. `main/line1/line1-pump1`.
    pub fn path(&self, position: usize) -> String {
        self.label_path(position).join("/")
    }

    /// The labels from the root down to the node: each node's name, else its mesh's name
    /// (CAD exports name meshes, not nodes), else `#index`.
    pub fn label_path(&self, position: usize) -> Vec<Cow<'_, str>> {
        let mut parts = Vec::new();
        let mut cursor = Some(position);
        while let Some(i) = cursor {
            parts.push(self.nodes[i].label());
            cursor = self.nodes[i].parent;
        }
        parts.reverse();
        parts
    }
}

/// Nodes deeper than this are refused (a malformed file can nest without end).
const MAX_DEPTH: usize = 256;

/// Reads and checks a `.glb` or `.gltf` file: it parses, has a scene, has no cycles, and its
/// buffers are present and long enough for their views.
pub fn read_model(path: &Path) -> Result<ModelTree, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let gltf = gltf::Gltf::from_slice(&bytes).map_err(|e| format!("not a valid glTF 2.0 file: {e}"))?;
    check_buffers(&gltf, path)?;
    let document = &gltf.document;
    let scene = document
        .default_scene()
        .or_else(|| document.scenes().next())
        .ok_or_else(|| "the file has no scene to show".to_owned())?;
    let mut tree = ModelTree { nodes: Vec::new(), scene_index: scene.index(), scene_count: document.scenes().count() };
    let mut on_path = HashSet::new();
    let mut seen = HashSet::new();
    for node in scene.nodes() {
        visit(node, None, 0, &mut tree, &mut on_path, &mut seen)?;
    }
    Ok(tree)
}

fn visit(node: gltf::Node<'_>, parent: Option<usize>, depth: usize, tree: &mut ModelTree, on_path: &mut HashSet<usize>, seen: &mut HashSet<usize>) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("node {} is nested more than {MAX_DEPTH} levels deep", node.index()));
    }
    if !on_path.insert(node.index()) {
        return Err(format!("node {} is its own ancestor (the node tree has a cycle)", node.index()));
    }
    // Each node is walked once: one listed under two parents (glTF allows one) would make
    // the walk grow exponentially with a chain of such nodes.
    if !seen.insert(node.index()) {
        return Err(format!("node {} is the child of more than one parent (glTF allows one)", node.index()));
    }
    let extras = match node.extras() {
        Some(raw) => Some(
            serde_json::from_str::<serde_json::Value>(raw.get())
                .map_err(|e| format!("node {} has extras that are not JSON: {e}", node.index()))?,
        ),
        None => None,
    };
    let position = tree.nodes.len();
    let mesh_name = node.mesh().and_then(|m| m.name().map(str::to_owned));
    tree.nodes.push(ModelNode { index: node.index(), name: node.name().map(str::to_owned), extras, has_mesh: node.mesh().is_some(), mesh_name, parent });
    for child in node.children() {
        visit(child, Some(position), depth + 1, tree, on_path, seen)?;
    }
    on_path.remove(&node.index());
    Ok(())
}

fn check_buffers(gltf: &gltf::Gltf, path: &Path) -> Result<(), String> {
    let document = &gltf.document;
    let mut lengths = Vec::new();
    for buffer in document.buffers() {
        let available = match buffer.source() {
            gltf::buffer::Source::Bin => gltf.blob.as_ref().map_or(0, Vec::len),
            gltf::buffer::Source::Uri(uri) if uri.starts_with("data:") => buffer.length(),
            gltf::buffer::Source::Uri(uri) => {
                let file = path.parent().unwrap_or(Path::new(".")).join(uri);
                std::fs::metadata(&file)
                    .map_err(|e| format!("buffer {} refers to {}, which cannot be read: {e}", buffer.index(), file.display()))?
                    .len() as usize
            }
        };
        if available < buffer.length() {
            return Err(format!(
                "buffer {} declares {} bytes but only {available} are present (truncated file?)",
                buffer.index(),
                buffer.length()
            ));
        }
        lengths.push(buffer.length());
    }
    for view in document.views() {
        let end = view.offset() + view.length();
        if end > lengths[view.buffer().index()] {
            return Err(format!("buffer view {} reaches byte {end}, past the end of its buffer", view.index()));
        }
    }
    for accessor in document.accessors() {
        if let Some(view) = accessor.view() {
            let element = accessor.size();
            let stride = view.stride().unwrap_or(element);
            let needed = accessor.offset() + stride * accessor.count().saturating_sub(1) + element;
            if accessor.count() > 0 && needed > view.length() {
                return Err(format!("accessor {} needs {needed} bytes but its view has {}", accessor.index(), view.length()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_gltf(name: &str, nodes: &serde_json::Value) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("twinscope-model-{}-{name}.gltf", std::process::id()));
        let document = serde_json::json!({ "asset": { "version": "2.0" }, "scene": 0, "scenes": [{ "nodes": [0] }], "nodes": nodes });
        std::fs::write(&path, document.to_string()).unwrap();
        path
    }

    /// Thirty levels of two nodes that both list the next two as children: 2^30 paths if
    /// walked naively. Refused at once, by name.
    #[test]
    fn a_node_under_two_parents_is_refused_not_walked_exponentially() {
        let levels = 30;
        let mut nodes = vec![serde_json::json!({ "name": "root", "children": [1, 2] })];
        for level in 0..levels {
            let next: Vec<usize> = if level + 1 < levels { vec![3 + 2 * level, 4 + 2 * level] } else { vec![] };
            for side in 0..2 {
                nodes.push(serde_json::json!({ "name": format!("n{level}-{side}"), "children": next }));
            }
        }
        let path = write_gltf("diamonds", &serde_json::Value::Array(nodes));
        let error = read_model(&path).unwrap_err();
        assert!(error.contains("child of more than one parent"), "{error}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_plain_tree_reads_with_paths_and_mesh_names() {
        let nodes = serde_json::json!([{ "name": "plant", "children": [1] }, { "name": "pump" }]);
        let path = write_gltf("tree", &nodes);
        let tree = read_model(&path).unwrap();
        assert_eq!(tree.path(1), "plant/pump");
        std::fs::remove_file(&path).unwrap();
    }
}
