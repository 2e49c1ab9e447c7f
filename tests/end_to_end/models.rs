//! Real models: a CAD-style assembly in millimetres (unnamed nodes, meshes named by part,
//! IFC-style names), bound by every method, the same through `twinscope check` and through
//! the viewer (which binds the glTF node indices the core chose), and framed on screen.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use twinscope_core::demo::{NodeSpec, model_glb};

use super::support::run_twinscope;
use super::{screenshot, stderr, stdout};

/// An assembly 2.4 m long in millimetres: an unnamed root; four pistons (unnamed nodes, meshes
/// named `Piston_123-84N_0_Parts_1`, as a CAD export names them); two pumps named the IFC way
/// (`IfcPump_P-10N_<GlobalId>`); a frame and a crank bound explicitly; one node by extras.
fn cad_assembly(dir: &Path) -> PathBuf {
    let part = |name: Option<String>, mesh: &str, x: f32, size: f32| NodeSpec {
        name,
        mesh: Some(mesh.to_owned()),
        translation: [x, size / 2.0, 0.0],
        scale: [size, size, size],
        ..Default::default()
    };
    let mut nodes = vec![NodeSpec {
        children: (1..=9).collect(),
        ..Default::default()
    }];
    for i in 0..4 {
        nodes.push(part(
            None,
            &format!("Piston_123-84{i}_0_Parts_1"),
            -1200.0 + 300.0 * i as f32,
            250.0,
        ));
    }
    for i in 0..2 {
        nodes.push(part(
            Some(format!("IfcPump_P-10{i}_3vB2YO$MX4xv5uCqZZG0{i}x")),
            "pump-body",
            300.0 + 400.0 * i as f32,
            350.0,
        ));
    }
    nodes.push(part(None, "Frame_1", 0.0, 120.0));
    nodes.push(part(Some("Crank".into()), "crank-body", 1100.0, 200.0));
    nodes.push(NodeSpec {
        extras: Some(json!({ "twin": "controller" })),
        ..part(Some("Controller".into()), "cabinet", -1300.0, 150.0)
    });
    let model = dir.join("cad.glb");
    std::fs::write(&model, model_glb(&nodes, &[0])).unwrap();
    std::fs::write(
        dir.join("tags.csv"),
        "node,twin,parent\nCrank,crank,frame\n",
    )
    .unwrap();
    let scene = dir.join("cad.toml");
    std::fs::write(
        &scene,
        r##"[scene]
name = "CAD assembly"
model = "cad.glb"
units = "mm"

[binding]
name_patterns = ["Piston_{twin}_0_Parts_*", "Ifc*_*_{twin}"]
tag_table = "tags.csv"

[[bind]]
node = "#0/Frame_1"
twin = "frame"
"##,
    )
    .unwrap();
    scene
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twinscope-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// (glTF node, twin) pairs.
type Bindings = BTreeSet<(u64, String)>;

fn check_bindings(scene: &Path) -> (serde_json::Value, Bindings) {
    let output = run_twinscope(
        &["check", "--json", "--strict", scene.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "check --strict passes: {}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("check --json prints JSON");
    let bound = report["bound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["gltf_node"].as_u64().unwrap(),
                b["twin"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (report, bound)
}

#[test]
fn a_cad_assembly_binds_by_every_method_and_check_says_how() {
    let dir = temp_dir("cad-check");
    let scene = cad_assembly(&dir);
    let (report, bound) = check_bindings(&scene);
    let expected: Bindings = [
        (1, "123-840"),
        (2, "123-841"),
        (3, "123-842"),
        (4, "123-843"),
        (5, "3vB2YO$MX4xv5uCqZZG00x"),
        (6, "3vB2YO$MX4xv5uCqZZG01x"),
        (7, "frame"),
        (8, "crank"),
        (9, "controller"),
    ]
    .into_iter()
    .map(|(n, t)| (n, t.to_owned()))
    .collect();
    assert_eq!(bound, expected);
    assert_eq!(
        report["bound_by"],
        json!({ "extras": 1, "name pattern": 2, "mesh name": 4, "path pattern": 0, "[[bind]]": 1, "tag table": 1 })
    );
    let crank = report["bound"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["twin"] == "crank")
        .unwrap();
    assert_eq!(crank["parent"], "frame", "the tag table's parent");
    // Human output: counts by method; an unbound mesh is listed with its path and mesh name.
    std::fs::write(dir.join("tags.csv"), "node,twin\n").unwrap();
    let output = run_twinscope(&["check", scene.to_str().unwrap()], Duration::from_secs(30));
    let text = stdout(&output);
    assert!(
        text.contains(
            "bound nodes (8: 1 by extras, 2 by name pattern, 4 by mesh name, 1 by [[bind]]):"
        ),
        "{text}"
    );
    assert!(text.contains("#0/Crank  (mesh \"crank-body\")"), "{text}");
    // A [[bind]] that matches nothing is a warning, and --strict fails on it.
    std::fs::write(
        &scene,
        std::fs::read_to_string(&scene)
            .unwrap()
            .replace("#0/Frame_1", "#0/Frame_9"),
    )
    .unwrap();
    let output = run_twinscope(
        &["check", "--strict", scene.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("bind[0]: no node matches \"#0/Frame_9\""),
        "{}",
        stdout(&output)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The viewer binds exactly what check reports (through the glTF node indices Bevy's loader
/// spawns), and a millimetre model opens framed: every part on screen, spread across it.
#[test]
fn the_viewer_binds_what_check_reports_and_frames_a_millimetre_model() {
    let dir = temp_dir("cad-view");
    let scene = cad_assembly(&dir);
    let (_, expected) = check_bindings(&scene);
    let Some(shot) = screenshot(
        "cad-assembly-mm",
        &[
            "--scene",
            scene.to_str().unwrap(),
            "--panels",
            "closed",
            "--exit-after",
            "15s",
        ],
    ) else {
        return;
    };
    let path = shot.path.display();
    let seen: Bindings = shot
        .placements
        .iter()
        .map(|p| {
            (
                p["gltf_node"]
                    .as_u64()
                    .expect("placements name their glTF node"),
                p["twin"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen, expected,
        "the viewer's bindings are check's; see {path}"
    );
    let xs: Vec<f64> = shot
        .placements
        .iter()
        .map(|p| p["x"].as_f64().unwrap())
        .collect();
    let ys: Vec<f64> = shot
        .placements
        .iter()
        .map(|p| p["y"].as_f64().unwrap())
        .collect();
    let inside = |v: f64, size: f64| v > size * 0.03 && v < size * 0.97;
    assert!(
        xs.iter().all(|x| inside(*x, 1280.0)) && ys.iter().all(|y| inside(*y, 720.0)),
        "every part on screen: {xs:?} {ys:?}; see {path}"
    );
    let span =
        xs.iter().cloned().fold(f64::MIN, f64::max) - xs.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        span > 1280.0 * 0.4,
        "the 2.4 m assembly spans {span} px of 1280: framed, not a speck; see {path}"
    );
    assert_load_was_counted(&shot.log);
    eprintln!("screenshot checked: {path}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The load progress counted every byte of the model's files and every mesh uploaded: the
/// viewer's one-line report, `model shown after 0.4 s: 12 KB read of 12 KB, 29 of 29 meshes uploaded`.
fn assert_load_was_counted(log: &str) {
    let line = log
        .lines()
        .find(|l| l.contains("model shown after"))
        .unwrap_or_else(|| panic!("no load report:\n{log}"));
    let report = line
        .split_once(": ")
        .map_or("", |(_, r)| r.split_once(": ").map_or(r, |(_, r)| r));
    let (read, rest) = report
        .split_once(" read of ")
        .unwrap_or_else(|| panic!("{line}"));
    let (total, meshes) = rest.split_once(", ").unwrap();
    assert_eq!(
        read, total,
        "every byte of the model was read through the counting reader: {line}"
    );
    let (uploaded, total_meshes) = meshes
        .trim_end_matches(" meshes uploaded")
        .split_once(" of ")
        .unwrap();
    assert!(
        uploaded == total_meshes && uploaded != "0",
        "every mesh uploaded: {line}"
    );
}

/// A model that cannot be loaded: the viewer runs, and says so in a window in the middle of
/// the 3D view (its red title), not only in the status bar under a blank view.
#[test]
fn a_model_that_cannot_be_loaded_shows_its_error_in_the_middle() {
    let dir = temp_dir("unloadable");
    let model = model_glb(
        &[NodeSpec {
            name: Some("Pump".into()),
            mesh: Some("pump".into()),
            ..Default::default()
        }],
        &[0],
    );
    std::fs::write(dir.join("cut.glb"), &model[..model.len() * 2 / 3]).unwrap();
    let scene = dir.join("cut.toml");
    std::fs::write(&scene, "[scene]\nmodel = \"cut.glb\"\n").unwrap();
    let Some(shot) = screenshot(
        "model-load-error",
        &["--scene", scene.to_str().unwrap(), "--exit-after", "5s"],
    ) else {
        return;
    };
    let path = shot.path.display();
    let red = (250..470)
        .step_by(2)
        .flat_map(|y| (340..940).step_by(2).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let [r, g, b] = shot.pixel(x, y);
            r > 180 && g < 100 && b < 100
        });
    assert!(
        red.count() > 20,
        "the error window's red title is in the middle of the window; see {path}\n{}",
        shot.log
    );
    assert!(
        shot.log.contains("cut.glb"),
        "the error names the file:\n{}",
        shot.log
    );
    eprintln!("screenshot checked: {path}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A valve in alarm behind a wall, selected: the viewer flies to it and the wall between
/// turns to glass, so the valve's red shows where the wall would hide it.
#[test]
fn a_selected_part_behind_a_wall_is_seen_through_it() {
    use super::support::Mosquitto;
    let dir = temp_dir("behind-wall");
    // The orbit camera looks from (sin 0.6·cos 0.6, sin 0.6, cos 0.6·cos 0.6): the wall
    // stands on that line, 0.8 m from the valve, between it and the camera.
    let toward_camera = [
        0.6f32.sin() * 0.6f32.cos(),
        0.6f32.sin(),
        0.6f32.cos() * 0.6f32.cos(),
    ];
    let nodes = vec![
        NodeSpec {
            children: vec![1, 2],
            ..Default::default()
        },
        NodeSpec {
            name: Some("Valve".into()),
            mesh: Some("valve".into()),
            extras: Some(json!({ "twin": "valve" })),
            scale: [0.5, 0.5, 0.5],
            ..Default::default()
        },
        NodeSpec {
            name: Some("Wall".into()),
            mesh: Some("wall".into()),
            translation: toward_camera.map(|d| d * 0.8),
            scale: [3.0, 3.0, 0.2],
            ..Default::default()
        },
    ];
    std::fs::write(dir.join("wall.glb"), model_glb(&nodes, &[0])).unwrap();
    let scene = dir.join("wall.toml");
    std::fs::write(&scene, "[scene]\nmodel = \"wall.glb\"\n").unwrap();
    let mosquitto = Mosquitto::start();
    mosquitto.publish(
        "te/device/valve///a/leak",
        r#"{"text":"Valve leaking","severity":"critical"}"#,
        true,
    );
    let args = [
        "--scene",
        scene.to_str().unwrap(),
        "--broker",
        &mosquitto.url(),
        "--select",
        "valve",
        "--panels",
        "closed",
        "--exit-after",
        "15s",
    ];
    let Some(shot) = screenshot("valve-behind-wall", &args) else {
        return;
    };
    let path = shot.path.display();
    let (x, y, status) = shot.at("valve");
    assert_eq!(status, "alarm");
    let [r, g, b] = shot.average(x, y);
    assert!(
        r > 150 && r > g + 80 && r > b + 80,
        "the valve's red shows through the wall at ({x},{y}): {:?}; see {path}",
        [r, g, b]
    );
    eprintln!("screenshot checked: {path}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_scene_reports_load_cost_and_per_frame_cost_of_status_changes() {
    let dir = temp_dir("cad-bench");
    let scene = cad_assembly(&dir);
    let output = run_twinscope(
        &["bench", "--scene", scene.to_str().unwrap()],
        Duration::from_secs(60),
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(
        text.contains("10 nodes (9 with a mesh), 9 bound to 9 twins"),
        "{text}"
    );
    assert!(
        text.contains("read and bound") && text.contains("headless viewer world"),
        "{text}"
    );
    assert!(
        text.contains("0 no change") && text.contains("9 status changes (every twin)"),
        "{text}"
    );
    let materials = text
        .lines()
        .find(|l| l.contains("materials after the status changes"))
        .unwrap_or_else(|| panic!("{text}"));
    let counts: Vec<usize> = materials
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        counts.len() == 2 && counts.iter().all(|n| *n < 9),
        "fewer materials than the 9 parts changing (shared, not one per part): {materials}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
