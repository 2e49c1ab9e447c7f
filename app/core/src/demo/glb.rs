//! Writes the demo plant as a binary glTF (`.glb`): a node per twin with `extras`
//! `{"twin": "<id>"}`, mirroring the twin hierarchy, and shape nodes below each twin node.
//! Two shared meshes (a unit box and a unit cylinder) keep the file a few tens of kilobytes.

use serde_json::{Value, json};

use super::layout::{AssetKind, HALL_SPACING, Halls, LINE_SPACING, PartKind, PlantLayout};

#[derive(Clone, Copy)]
enum Mesh {
    Box = 0,
    Cylinder = 1,
}

#[derive(Clone, Copy)]
enum Material {
    Concrete = 0,
    LineFloor,
    Steel,
    PumpBlue,
    MotorGreen,
    Frame,
    Belt,
    Metal,
    Instrument,
    Valve,
}

const MATERIALS: [(&str, [f32; 3], f32, f32); 10] = [
    ("concrete", [0.52, 0.52, 0.50], 0.0, 0.9),
    ("line-floor", [0.32, 0.34, 0.38], 0.0, 0.8),
    ("steel", [0.70, 0.72, 0.76], 0.5, 0.4),
    ("pump-blue", [0.12, 0.32, 0.68], 0.2, 0.5),
    ("motor-green", [0.16, 0.42, 0.30], 0.2, 0.5),
    ("frame", [0.28, 0.28, 0.30], 0.4, 0.6),
    ("belt", [0.07, 0.07, 0.07], 0.0, 0.9),
    ("metal", [0.80, 0.80, 0.83], 0.8, 0.3),
    ("instrument", [0.92, 0.92, 0.90], 0.0, 0.6),
    ("valve", [0.45, 0.47, 0.55], 0.6, 0.4),
];

/// A shape under a twin node: mesh, position, size, whether it lies along X, material.
struct Shape {
    mesh: Mesh,
    at: [f32; 3],
    size: [f32; 3],
    along_x: bool,
    along_z: bool,
    material: Material,
}

fn shape(mesh: Mesh, at: [f32; 3], size: [f32; 3], material: Material) -> Shape {
    Shape {
        mesh,
        at,
        size,
        along_x: false,
        along_z: false,
        material,
    }
}

fn along_x(mut s: Shape) -> Shape {
    s.along_x = true;
    s
}

fn along_z(mut s: Shape) -> Shape {
    s.along_z = true;
    s
}

fn shapes(kind: AssetKind, lines: usize) -> Vec<Shape> {
    use Material::*;
    use Mesh::{Box as B, Cylinder as C};
    match kind {
        AssetKind::Plant => {
            let halls = Halls::for_lines(lines);
            let width = 28.0 + (halls.count - 1) as f32 * HALL_SPACING;
            let depth = halls.lines_per_hall as f32 * LINE_SPACING + 4.0;
            vec![shape(B, [-1.0, -0.05, 0.0], [width, 0.1, depth], Concrete)]
        }
        AssetKind::Line => vec![shape(B, [-1.0, 0.005, 0.0], [26.0, 0.01, 5.6], LineFloor)],
        AssetKind::Tank => vec![
            shape(C, [0.0, 1.5, 0.0], [2.0, 3.0, 2.0], Steel),
            shape(C, [0.0, 3.05, 0.0], [1.6, 0.1, 1.6], Steel),
        ],
        AssetKind::Pump => vec![
            shape(B, [-0.05, 0.1, 0.0], [1.8, 0.2, 0.8], Frame),
            along_x(shape(C, [-0.2, 0.5, 0.0], [0.3, 1.2, 0.3], PumpBlue)),
        ],
        AssetKind::Motor => vec![
            shape(B, [0.0, 0.1, 0.0], [1.3, 0.2, 0.8], Frame),
            along_x(shape(C, [0.0, 0.6, 0.0], [1.0, 1.3, 1.0], MotorGreen)),
        ],
        AssetKind::Conveyor => {
            let mut parts = vec![
                shape(B, [0.0, 0.8, 0.62], [8.4, 0.15, 0.1], Frame),
                shape(B, [0.0, 0.8, -0.62], [8.4, 0.15, 0.1], Frame),
            ];
            for x in [-3.9, -1.3, 1.3, 3.9] {
                for z in [0.62, -0.62] {
                    parts.push(shape(B, [x, 0.37, z], [0.1, 0.74, 0.1], Frame));
                }
            }
            parts
        }
        AssetKind::Part(part) => match part {
            PartKind::Bearing => vec![along_x(shape(
                C,
                [0.0, 0.0, 0.0],
                [0.55, 0.22, 0.55],
                Metal,
            ))],
            PartKind::Impeller => vec![along_x(shape(
                C,
                [0.0, 0.0, 0.0],
                [0.95, 0.35, 0.95],
                PumpBlue,
            ))],
            PartKind::Seal => vec![along_x(shape(C, [0.0, 0.0, 0.0], [0.42, 0.16, 0.42], Belt))],
            PartKind::Winding => vec![shape(B, [0.0, 0.0, 0.0], [0.45, 0.3, 0.45], MotorGreen)],
            PartKind::Fan => vec![along_x(shape(C, [0.0, 0.0, 0.0], [0.9, 0.16, 0.9], Frame))],
            PartKind::LevelSensor => vec![shape(B, [0.0, 0.0, 0.0], [0.3, 0.45, 0.3], Instrument)],
            PartKind::Valve => vec![
                along_x(shape(C, [0.0, 0.0, 0.0], [0.35, 0.6, 0.35], Valve)),
                shape(B, [0.0, 0.3, 0.0], [0.1, 0.3, 0.1], Valve),
            ],
            PartKind::Belt => vec![shape(B, [0.0, 0.0, 0.0], [8.2, 0.05, 1.1], Belt)],
            PartKind::Roller => vec![along_z(shape(C, [0.0, 0.0, 0.0], [0.32, 1.2, 0.32], Metal))],
            PartKind::Gearbox => vec![shape(B, [0.0, 0.0, 0.0], [0.55, 0.55, 0.45], Frame)],
        },
    }
}

/// Builds the `.glb` bytes for a plant. Deterministic: the same layout gives the same bytes.
pub fn plant_glb(layout: &PlantLayout) -> Vec<u8> {
    let mut nodes: Vec<Value> = Vec::new();
    let mut child_lists: Vec<Vec<usize>> = Vec::new();
    // Twin nodes first, so twin i is node i.
    for twin in &layout.twins {
        nodes.push(json!({
            "name": twin.id,
            "extras": { "twin": twin.id, "label": twin.name },
            "translation": twin.offset,
        }));
        child_lists.push(Vec::new());
    }
    for (i, twin) in layout.twins.iter().enumerate() {
        if let Some(parent) = twin.parent {
            child_lists[parent].push(i);
        }
        for (s, shape) in shapes(twin.kind, layout.lines).into_iter().enumerate() {
            let quarter = std::f32::consts::FRAC_1_SQRT_2;
            let rotation = if shape.along_x {
                [0.0, 0.0, quarter, quarter]
            } else if shape.along_z {
                [quarter, 0.0, 0.0, quarter]
            } else {
                [0.0, 0.0, 0.0, 1.0]
            };
            nodes.push(json!({
                "name": format!("{}.shape{}", twin.id, s),
                "mesh": shape.mesh as usize * MATERIALS.len() + shape.material as usize,
                "translation": shape.at,
                "rotation": rotation,
                "scale": shape.size,
            }));
            child_lists[i].push(nodes.len() - 1);
        }
    }
    for (i, children) in child_lists.into_iter().enumerate() {
        if !children.is_empty() {
            nodes[i]["children"] = json!(children);
        }
    }

    let mut bin = Vec::new();
    let mut views = Vec::new();
    let mut accessors = Vec::new();
    let mut primitives = Vec::new();
    for mesh in [unit_box(), unit_cylinder(24)] {
        primitives.push(push_mesh(&mut bin, &mut views, &mut accessors, mesh));
    }
    let mut meshes = Vec::new();
    for (mesh_name, (position, normal, index)) in ["box", "cylinder"].iter().zip(&primitives) {
        for (material, (material_name, _, _, _)) in MATERIALS.iter().enumerate() {
            meshes.push(json!({
                "name": format!("{mesh_name}-{material_name}"),
                "primitives": [{ "attributes": { "POSITION": position, "NORMAL": normal }, "indices": index, "material": material }],
            }));
        }
    }
    let materials: Vec<Value> = MATERIALS
        .iter()
        .map(|(name, color, metallic, roughness)| {
            json!({
                "name": name,
                "pbrMetallicRoughness": {
                    "baseColorFactor": [color[0], color[1], color[2], 1.0],
                    "metallicFactor": metallic,
                    "roughnessFactor": roughness,
                },
            })
        })
        .collect();
    let document = json!({
        "asset": { "version": "2.0", "generator": "twinscope gen-plant" },
        "scene": 0,
        "scenes": [{ "name": "plant", "nodes": [0] }],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{ "byteLength": bin.len() }],
    });
    glb_bytes(&document, bin)
}

/// The GLB container: a JSON chunk and a binary chunk, each padded to 4 bytes.
fn glb_bytes(document: &Value, mut bin: Vec<u8>) -> Vec<u8> {
    let mut json_bytes = serde_json::to_vec(document).expect("a JSON value always serialises");
    while !json_bytes.len().is_multiple_of(4) {
        json_bytes.push(b' ');
    }
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let total = 12 + 8 + json_bytes.len() + 8 + bin.len();
    let mut glb = Vec::with_capacity(total);
    glb.extend_from_slice(b"glTF");
    glb.extend_from_slice(&2u32.to_le_bytes());
    glb.extend_from_slice(&(total as u32).to_le_bytes());
    glb.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
    glb.extend_from_slice(b"JSON");
    glb.extend_from_slice(&json_bytes);
    glb.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    glb.extend_from_slice(b"BIN\0");
    glb.extend_from_slice(&bin);
    glb
}

/// One node of a model made by [`model_glb`].
#[derive(Debug, Clone, Default)]
pub struct NodeSpec {
    pub name: Option<String>,
    /// The name of its mesh (a unit box); nodes naming the same mesh share it.
    pub mesh: Option<String>,
    pub extras: Option<Value>,
    pub translation: [f32; 3],
    /// The box's size, in model units.
    pub scale: [f32; 3],
    pub children: Vec<usize>,
}

/// A `.glb` of arbitrary nodes (one shared box primitive, one material), in the shapes real
/// exports have: unnamed nodes with named meshes (CAD), IFC-style names, any units. For tests
/// and benchmarks of binding and loading.
pub fn model_glb(nodes: &[NodeSpec], roots: &[usize]) -> Vec<u8> {
    let mut bin = Vec::new();
    let (mut views, mut accessors) = (Vec::new(), Vec::new());
    let (position, normal, index) = push_mesh(&mut bin, &mut views, &mut accessors, unit_box());
    let mut mesh_index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut meshes = Vec::new();
    let json_nodes: Vec<Value> = nodes
        .iter()
        .map(|node| {
            let mut json_node = json!({ "translation": node.translation });
            if let Some(name) = &node.name {
                json_node["name"] = json!(name);
            }
            if let Some(extras) = &node.extras {
                json_node["extras"] = extras.clone();
            }
            if !node.children.is_empty() {
                json_node["children"] = json!(node.children);
            }
            if let Some(mesh) = &node.mesh {
                let next = meshes.len();
                let i = *mesh_index.entry(mesh.as_str()).or_insert(next);
                if i == next {
                    meshes.push(json!({ "name": mesh, "primitives": [{ "attributes": { "POSITION": position, "NORMAL": normal }, "indices": index, "material": 0 }] }));
                }
                json_node["mesh"] = json!(i);
                json_node["scale"] = json!(node.scale);
            }
            json_node
        })
        .collect();
    let document = json!({
        "asset": { "version": "2.0", "generator": "twinscope tests" },
        "scene": 0,
        "scenes": [{ "nodes": roots }],
        "nodes": json_nodes,
        "meshes": meshes,
        "materials": [{ "name": "part", "pbrMetallicRoughness": { "baseColorFactor": [0.6, 0.62, 0.66, 1.0], "metallicFactor": 0.3, "roughnessFactor": 0.5 } }],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{ "byteLength": bin.len() }],
    });
    glb_bytes(&document, bin)
}

/// A mesh's positions, normals and indices into the buffer: their accessors.
fn push_mesh(
    bin: &mut Vec<u8>,
    views: &mut Vec<Value>,
    accessors: &mut Vec<Value>,
    (positions, normals, indices): MeshData,
) -> (usize, usize, usize) {
    let position = push_view(
        bin,
        views,
        accessors,
        floats(&positions),
        34962,
        positions.len(),
        "VEC3",
        5126,
        Some(bounds(&positions)),
    );
    let normal = push_view(
        bin,
        views,
        accessors,
        floats(&normals),
        34962,
        normals.len(),
        "VEC3",
        5126,
        None,
    );
    let index_bytes: Vec<u8> = indices.iter().flat_map(|i| i.to_le_bytes()).collect();
    let index = push_view(
        bin,
        views,
        accessors,
        index_bytes,
        34963,
        indices.len(),
        "SCALAR",
        5123,
        None,
    );
    (position, normal, index)
}

#[allow(clippy::too_many_arguments)]
fn push_view(
    bin: &mut Vec<u8>,
    views: &mut Vec<Value>,
    accessors: &mut Vec<Value>,
    bytes: Vec<u8>,
    target: u32,
    count: usize,
    kind: &str,
    component: u32,
    bounds: Option<([f32; 3], [f32; 3])>,
) -> usize {
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    views.push(json!({ "buffer": 0, "byteOffset": bin.len(), "byteLength": bytes.len(), "target": target }));
    bin.extend_from_slice(&bytes);
    let mut accessor = json!({ "bufferView": views.len() - 1, "componentType": component, "count": count, "type": kind });
    if let Some((min, max)) = bounds {
        accessor["min"] = json!(min);
        accessor["max"] = json!(max);
    }
    accessors.push(accessor);
    accessors.len() - 1
}

fn floats(vectors: &[[f32; 3]]) -> Vec<u8> {
    vectors
        .iter()
        .flatten()
        .flat_map(|f| f.to_le_bytes())
        .collect()
}

fn bounds(positions: &[[f32; 3]]) -> ([f32; 3], [f32; 3]) {
    let mut min = [f32::MAX; 3];
    let mut max = [f32::MIN; 3];
    for p in positions {
        for k in 0..3 {
            min[k] = min[k].min(p[k]);
            max[k] = max[k].max(p[k]);
        }
    }
    (min, max)
}

type MeshData = (Vec<[f32; 3]>, Vec<[f32; 3]>, Vec<u16>);

/// A 1×1×1 box centred on the origin, flat-shaded.
fn unit_box() -> MeshData {
    let (mut positions, mut normals, mut indices) = (Vec::new(), Vec::new(), Vec::new());
    let faces: [([f32; 3], [f32; 3], [f32; 3]); 6] = [
        ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]),
        ([-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]),
        ([0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]),
        ([0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]),
        ([0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
        ([0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]),
    ];
    for (normal, u, v) in faces {
        let base = positions.len() as u16;
        for (su, sv) in [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)] {
            positions.push([0, 1, 2].map(|k| normal[k] * 0.5 + u[k] * su + v[k] * sv));
            normals.push(normal);
        }
        indices.extend_from_slice(&[base, base + 1, base + 2, base, base + 2, base + 3]);
    }
    (positions, normals, indices)
}

/// A cylinder of diameter 1 and height 1 along Y, centred on the origin.
fn unit_cylinder(segments: u16) -> MeshData {
    let (mut positions, mut normals, mut indices) = (Vec::new(), Vec::new(), Vec::new());
    let ring = |i: u16| {
        let angle = i as f32 / segments as f32 * std::f32::consts::TAU;
        (angle.cos(), angle.sin())
    };
    for i in 0..=segments {
        let (c, s) = ring(i);
        positions.push([0.5 * c, -0.5, 0.5 * s]);
        positions.push([0.5 * c, 0.5, 0.5 * s]);
        normals.push([c, 0.0, s]);
        normals.push([c, 0.0, s]);
    }
    for i in 0..segments {
        let a = i * 2;
        indices.extend_from_slice(&[a, a + 1, a + 3, a, a + 3, a + 2]);
    }
    for (y, normal_y) in [(0.5f32, 1.0f32), (-0.5, -1.0)] {
        let centre = positions.len() as u16;
        positions.push([0.0, y, 0.0]);
        normals.push([0.0, normal_y, 0.0]);
        for i in 0..=segments {
            let (c, s) = ring(i);
            positions.push([0.5 * c, y, 0.5 * s]);
            normals.push([0.0, normal_y, 0.0]);
        }
        for i in 0..segments {
            let (a, b) = (centre + 1 + i, centre + 2 + i);
            if normal_y > 0.0 {
                indices.extend_from_slice(&[centre, b, a]);
            } else {
                indices.extend_from_slice(&[centre, a, b]);
            }
        }
    }
    (positions, normals, indices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{bind_model, read_model};

    #[test]
    fn the_generated_model_reads_back_with_every_twin_bound_in_the_same_hierarchy() {
        let layout = PlantLayout::demo();
        let bytes = plant_glb(&layout);
        let path = std::env::temp_dir().join(format!("twinscope-glb-{}.glb", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let tree = read_model(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let report = bind_model(
            &tree,
            &crate::manifest::BindingRules {
                extras_key: "twin".into(),
                ..Default::default()
            },
            &[],
        );
        assert_eq!(report.bound.len(), layout.twins.len());
        assert!(report.unbound_mesh_nodes.is_empty());
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        for binding in &report.bound {
            let twin = layout.twins.iter().find(|t| t.id == binding.twin).unwrap();
            let parent = twin.parent.map(|p| layout.twins[p].id.clone());
            assert_eq!(binding.parent_twin, parent, "{}", twin.id);
        }
    }

    #[test]
    fn committed_demo_assets_match_the_generator() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let regenerate = "regenerate with: cargo run -- gen-plant --scene scenes/demo-plant.toml";
        let glb = std::fs::read(root.join("assets/demo-plant.glb")).expect(regenerate);
        assert!(
            glb == plant_glb(&PlantLayout::demo()),
            "assets/demo-plant.glb is stale; {regenerate}"
        );
        let manifest =
            std::fs::read_to_string(root.join("scenes/demo-plant.toml")).expect(regenerate);
        assert_eq!(
            manifest,
            crate::demo::plant_manifest("Demo plant", "../assets/demo-plant.glb"),
            "{regenerate}"
        );
    }

    #[test]
    fn output_is_deterministic_and_small() {
        let a = plant_glb(&PlantLayout::demo());
        assert_eq!(a, plant_glb(&PlantLayout::demo()));
        assert!(a.len() < 200_000, "{} bytes", a.len());
    }
}
