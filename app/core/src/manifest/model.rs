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
    /// Bytes on disk: the model file and the buffer and image files it refers to (what a
    /// viewer reads to show it, for a progress bar).
    pub file_bytes: u64,
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
    check_glb_header(&bytes)?;
    let describe = |e: gltf::Error| match e.to_string() {
        // Compressed geometry is not decoded here; say so plainly.
        text if text.contains("Unsupported extension") => format!(
            "{} (compressed meshes, Draco or meshopt, are not supported: export without compression)",
            text.trim_end_matches(';')
        ),
        text => format!("not a valid glTF 2.0 file: {text}"),
    };
    let gltf::Gltf { document, blob } =
        gltf::Gltf::from_slice_without_validation(&bytes).map_err(describe)?;
    check_position_accessors(document.as_json())?;
    let gltf = gltf::Gltf {
        document: gltf::Document::from_json(document.into_json()).map_err(describe)?,
        blob,
    };
    let external_bytes = check_buffers(&gltf, path)?;
    let document = &gltf.document;
    let scene = document
        .default_scene()
        .or_else(|| document.scenes().next())
        .ok_or_else(|| "the file has no scene to show".to_owned())?;
    if scene.nodes().len() == 0 {
        return Err(format!(
            "scene {} has no nodes: there is nothing to show",
            scene.index()
        ));
    }
    let file_bytes = (bytes.len() as u64).saturating_add(external_bytes);
    let mut tree = ModelTree {
        nodes: Vec::new(),
        scene_index: scene.index(),
        scene_count: document.scenes().count(),
        file_bytes,
    };
    let mut on_path = HashSet::new();
    let mut seen = HashSet::new();
    for node in scene.nodes() {
        visit(node, None, 0, &mut tree, &mut on_path, &mut seen)?;
    }
    Ok(tree)
}

/// A binary glTF's header must count at least itself: the `gltf` crate subtracts its 12 bytes
/// from the declared length unchecked (an overflow panic where overflow is checked).
fn check_glb_header(bytes: &[u8]) -> Result<(), String> {
    const HEADER_BYTES: u32 = 12;
    if let Some(length) = bytes
        .strip_prefix(b"glTF")
        .and_then(|rest| rest.get(4..8))
        .map(|l| u32::from_le_bytes(l.try_into().expect("4 bytes")))
        && length < HEADER_BYTES
    {
        return Err(format!(
            "not a valid glTF 2.0 file: its GLB header declares {length} bytes, less than the {HEADER_BYTES}-byte header itself"
        ));
    }
    Ok(())
}

/// Every primitive's `POSITION` names an accessor that exists: the `gltf` crate's validation
/// reads that accessor before checking the index (an index out of bounds panics).
fn check_position_accessors(root: &gltf::json::Root) -> Result<(), String> {
    let position = gltf::json::validation::Checked::Valid(gltf::json::mesh::Semantic::Positions);
    for (m, mesh) in root.meshes.iter().enumerate() {
        for (p, primitive) in mesh.primitives.iter().enumerate() {
            if let Some(accessor) = primitive.attributes.get(&position)
                && accessor.value() >= root.accessors.len()
            {
                return Err(format!(
                    "not a valid glTF 2.0 file: mesh {m}, primitive {p}: POSITION names accessor {}, and there are {}",
                    accessor.value(),
                    root.accessors.len()
                ));
            }
        }
    }
    Ok(())
}

fn visit(
    node: gltf::Node<'_>,
    parent: Option<usize>,
    depth: usize,
    tree: &mut ModelTree,
    on_path: &mut HashSet<usize>,
    seen: &mut HashSet<usize>,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "node {} is nested more than {MAX_DEPTH} levels deep",
            node.index()
        ));
    }
    if !on_path.insert(node.index()) {
        return Err(format!(
            "node {} is its own ancestor (the node tree has a cycle)",
            node.index()
        ));
    }
    // Each node is walked once: one listed under two parents (glTF allows one) would make
    // the walk grow exponentially with a chain of such nodes.
    if !seen.insert(node.index()) {
        return Err(format!(
            "node {} is the child of more than one parent (glTF allows one)",
            node.index()
        ));
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
    tree.nodes.push(ModelNode {
        index: node.index(),
        name: node.name().map(str::to_owned),
        extras,
        has_mesh: node.mesh().is_some(),
        mesh_name,
        parent,
    });
    for child in node.children() {
        visit(child, Some(position), depth + 1, tree, on_path, seen)?;
    }
    on_path.remove(&node.index());
    Ok(())
}

/// Checks every size and reference in the file against what is there: buffers present and
/// as long as declared (files, `data:` URIs, the GLB chunk), views and accessors inside their
/// buffers (sums and products that overflow are errors, not wrap-arounds), image files present.
/// Returns the bytes of the files it refers to.
fn check_buffers(gltf: &gltf::Gltf, path: &Path) -> Result<u64, String> {
    let document = &gltf.document;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut lengths = Vec::new();
    let mut external_bytes = 0u64;
    let mut count_file = |uri: &str, length: usize| {
        if !uri.starts_with("data:") {
            external_bytes = external_bytes.saturating_add(length as u64);
        }
        length
    };
    for buffer in document.buffers() {
        let available = match buffer.source() {
            gltf::buffer::Source::Bin => gltf.blob.as_ref().map_or(0, Vec::len),
            gltf::buffer::Source::Uri(uri) => count_file(
                uri,
                resource_length(uri, folder)
                    .map_err(|e| format!("buffer {}: {e}", buffer.index()))?,
            ),
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
        let end = view.offset().checked_add(view.length());
        if end.is_none_or(|end| end > lengths[view.buffer().index()]) {
            return Err(format!(
                "buffer view {} (offset {}, length {}) reaches past the end of its buffer",
                view.index(),
                view.offset(),
                view.length()
            ));
        }
    }
    for accessor in document.accessors() {
        if let Some(view) = accessor.view()
            && accessor.count() > 0
        {
            let element = accessor.size();
            let stride = view.stride().unwrap_or(element);
            let needed = stride
                .checked_mul(accessor.count() - 1)
                .and_then(|n| n.checked_add(accessor.offset()))
                .and_then(|n| n.checked_add(element));
            if needed.is_none_or(|needed| needed > view.length()) {
                return Err(format!(
                    "accessor {} ({} elements) needs more bytes than its view's {}",
                    accessor.index(),
                    accessor.count(),
                    view.length()
                ));
            }
        }
    }
    for image in document.images() {
        if let gltf::image::Source::Uri { uri, .. } = image.source() {
            count_file(
                uri,
                resource_length(uri, folder)
                    .map_err(|e| format!("image {}: {e}", image.index()))?,
            );
        }
    }
    Ok(external_bytes)
}

/// The bytes a URI in the file refers to: a `data:` URI's payload, else a file next to the
/// model (percent-encoded, as URIs are: `my%20part.bin` is `my part.bin`).
fn resource_length(uri: &str, folder: &Path) -> Result<usize, String> {
    if let Some(data) = uri.strip_prefix("data:") {
        let (header, payload) = data.split_once(',').ok_or("a data: URI without a comma")?;
        return if header.ends_with(";base64") {
            base64_length(payload)
        } else {
            Ok(percent_decode(payload)?.len())
        };
    }
    if uri.contains("://") {
        return Err(format!(
            "refers to {uri}, which is not a file next to the model (only relative paths and data: URIs are read)"
        ));
    }
    let decoded = String::from_utf8(percent_decode(uri)?)
        .map_err(|_| format!("{uri:?} is not UTF-8 once decoded"))?;
    let file = folder.join(&decoded);
    let metadata = std::fs::metadata(&file)
        .map_err(|e| format!("refers to {}, which cannot be read: {e}", file.display()))?;
    usize::try_from(metadata.len()).map_err(|_| format!("{} is too large", file.display()))
}

/// The decoded length of base64 text, which must be well-formed.
fn base64_length(text: &str) -> Result<usize, String> {
    let text = text.trim_end_matches('=');
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_')))
    {
        return Err(format!("a data: URI has {bad:?}, which is not base64"));
    }
    if text.len() % 4 == 1 {
        return Err("a data: URI's base64 is cut short".into());
    }
    Ok(text.len() / 4 * 3 + (text.len() % 4).saturating_sub(1))
}

fn percent_decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| {
                format!("{text:?} has a % that is not followed by two hex digits")
            })?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_gltf(name: &str, nodes: &serde_json::Value) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "twinscope-model-{}-{name}.gltf",
            std::process::id()
        ));
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
            let next: Vec<usize> = if level + 1 < levels {
                vec![3 + 2 * level, 4 + 2 * level]
            } else {
                vec![]
            };
            for side in 0..2 {
                nodes.push(
                    serde_json::json!({ "name": format!("n{level}-{side}"), "children": next }),
                );
            }
        }
        let path = write_gltf("diamonds", &serde_json::Value::Array(nodes));
        let error = read_model(&path).unwrap_err();
        assert!(error.contains("child of more than one parent"), "{error}");
        std::fs::remove_file(&path).unwrap();
    }

    /// Files a user may hand us, broken in the ways real files are: each is refused with a
    /// message that says what is wrong, or read; none panics or allocates what it declares.
    #[test]
    fn a_corpus_of_malformed_files_is_refused_clearly() {
        let dir = std::env::temp_dir().join(format!("twinscope-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("my part.bin"), [0u8; 4]).unwrap();
        let node = serde_json::json!([{ "name": "a" }]);
        let with = |extra: serde_json::Value| {
            let mut document = serde_json::json!({ "asset": { "version": "2.0" }, "scene": 0, "scenes": [{ "nodes": [0] }], "nodes": node });
            for (key, value) in extra.as_object().unwrap() {
                document[key] = value.clone();
            }
            document.to_string()
        };
        let buffer =
            |uri: &str, length: u64| serde_json::json!([{ "byteLength": length, "uri": uri }]);
        let cases: Vec<(&str, String, Option<&str>)> = vec![
            ("not JSON", "{\"asset\":".into(), Some("not a valid glTF 2.0 file")),
            ("no scene", "{\"asset\":{\"version\":\"2.0\"}}".into(), Some("no scene to show")),
            ("a scene with no nodes", serde_json::json!({ "asset": { "version": "2.0" }, "scenes": [{ "nodes": [] }] }).to_string(), Some("has no nodes")),
            ("Draco", with(serde_json::json!({ "extensionsUsed": ["KHR_draco_mesh_compression"], "extensionsRequired": ["KHR_draco_mesh_compression"] })), Some("Draco or meshopt, are not supported")),
            ("meshopt", with(serde_json::json!({ "extensionsUsed": ["EXT_meshopt_compression"], "extensionsRequired": ["EXT_meshopt_compression"] })), Some("not supported")),
            ("a data: URI", with(serde_json::json!({ "buffers": buffer("data:application/octet-stream;base64,AAAAAA==", 4) })), None),
            ("a data: URI shorter than declared", with(serde_json::json!({ "buffers": buffer("data:application/octet-stream;base64,AAAAAA==", 400) })), Some("declares 400 bytes but only 4")),
            ("a data: URI that is not base64", with(serde_json::json!({ "buffers": buffer("data:;base64,AA*A", 3) })), Some("not base64")),
            ("a percent-encoded file name", with(serde_json::json!({ "buffers": buffer("my%20part.bin", 4) })), None),
            ("a missing buffer file", with(serde_json::json!({ "buffers": buffer("gone.bin", 4) })), Some("gone.bin, which cannot be read")),
            ("a bad percent escape", with(serde_json::json!({ "buffers": buffer("my%2part.bin", 4) })), Some("two hex digits")),
            ("a remote buffer", with(serde_json::json!({ "buffers": buffer("https://example.com/a.bin", 4) })), Some("not a file next to the model")),
            ("a view whose offset overflows", with(serde_json::json!({ "buffers": buffer("my%20part.bin", 4), "bufferViews": [{ "buffer": 0, "byteOffset": u64::MAX, "byteLength": 4 }] })), Some("past the end")),
            ("a view past its buffer", with(serde_json::json!({ "buffers": buffer("my%20part.bin", 4), "bufferViews": [{ "buffer": 0, "byteOffset": 2, "byteLength": 4 }] })), Some("past the end")),
            (
                "an accessor whose size overflows",
                with(serde_json::json!({ "buffers": buffer("my%20part.bin", 4), "bufferViews": [{ "buffer": 0, "byteLength": 4 }], "accessors": [{ "bufferView": 0, "componentType": 5126, "count": 1u64 << 62, "type": "VEC3" }] })),
                Some("needs more bytes"),
            ),
            ("a missing image", with(serde_json::json!({ "images": [{ "uri": "missing.png" }] })), Some("image 0: refers to")),
            ("a node that is its own child", serde_json::json!({ "asset": { "version": "2.0" }, "scene": 0, "scenes": [{ "nodes": [0] }], "nodes": [{ "children": [0] }] }).to_string(), Some("")),
        ];
        for (what, text, expected) in cases {
            let path = dir.join("model.gltf");
            std::fs::write(&path, text).unwrap();
            match (read_model(&path), expected) {
                (Ok(_), None) => {}
                (Err(error), Some(needle)) => assert!(error.contains(needle), "{what}: {error}"),
                (result, _) => panic!("{what}: {result:?}"),
            }
        }
        // A GLB cut short at every length: refused, never a panic.
        let glb = crate::demo::plant_glb(&crate::demo::PlantLayout::new(1));
        for cut in (0..glb.len()).step_by(97) {
            std::fs::write(dir.join("cut.glb"), &glb[..cut]).unwrap();
            assert!(read_model(&dir.join("cut.glb")).is_err(), "cut at {cut}");
        }
        // A POSITION naming an accessor that does not exist (found by the long mutation run).
        let missing = serde_json::json!({ "asset": { "version": "2.0" }, "scenes": [{ "nodes": [0] }], "nodes": [{ "mesh": 0 }], "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 } }] }] });
        std::fs::write(dir.join("model.gltf"), missing.to_string()).unwrap();
        let error = read_model(&dir.join("model.gltf")).unwrap_err();
        assert!(
            error.contains("POSITION names accessor 0, and there are 0"),
            "{error}"
        );
        // A GLB header declaring fewer bytes than itself (found by the long mutation run).
        for declared in [0u32, 11] {
            let mut short = glb.clone();
            short[8..12].copy_from_slice(&declared.to_le_bytes());
            std::fs::write(dir.join("short.glb"), &short).unwrap();
            let error = read_model(&dir.join("short.glb")).unwrap_err();
            assert!(
                error.contains(&format!("declares {declared} bytes")),
                "{error}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
