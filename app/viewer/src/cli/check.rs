//! `twinscope check SCENE`: load a scene and its glTF without a window and report bindings.

use std::process::ExitCode;

use serde_json::json;
use twinscope_core::manifest::load_scene;

use super::CheckArgs;

pub fn run(args: CheckArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let scene = match load_scene(&args.scene) {
        Ok(scene) => scene,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let model = &scene.model;
    if args.json {
        let report = json!({
            "scene": scene.name(),
            "manifest": scene.manifest_path,
            "model": scene.model_path,
            "nodes": model.nodes.len(),
            "bound": scene.binding.bound.iter().map(|b| json!({
                "node": model.path(b.node),
                "twin": b.twin,
                "by": b.by.to_string(),
                "parent": b.parent_twin,
            })).collect::<Vec<_>>(),
            "twins_without_node": scene.binding.twins_without_node,
            "nodes_without_twin": scene.binding.unbound_mesh_nodes.iter().map(|n| model.path(*n)).collect::<Vec<_>>(),
            "warnings": scene.binding.warnings,
            "rules": scene.rules.len(),
            "alarm_rules": scene.alarm_rules.len(),
        });
        crate::outln!(out, "{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    crate::outln!(out, "scene {:?} ({})", scene.name(), scene.manifest_path.display());
    crate::outln!(out, 
        "model {}: {} nodes in scene {} of {}, {} rules, {} alarm rules",
        scene.model_path.display(),
        model.nodes.len(),
        model.scene_index,
        model.scene_count,
        scene.rules.len(),
        scene.alarm_rules.len()
    );
    crate::outln!(out, "\nbound nodes ({}):", scene.binding.bound.len());
    for binding in &scene.binding.bound {
        crate::outln!(out, "  {}  ->  {}  [{}]", model.path(binding.node), binding.twin, binding.by);
    }
    crate::outln!(out, "\ntwins with no node ({}):", scene.binding.twins_without_node.len());
    for twin in &scene.binding.twins_without_node {
        crate::outln!(out, "  {twin}");
    }
    crate::outln!(out, "\nnodes that match no twin ({}):", scene.binding.unbound_mesh_nodes.len());
    for node in &scene.binding.unbound_mesh_nodes {
        crate::outln!(out, "  {}", model.path(*node));
    }
    if !scene.binding.warnings.is_empty() {
        crate::outln!(out, "\nwarnings ({}):", scene.binding.warnings.len());
        for warning in &scene.binding.warnings {
            crate::outln!(out, "  {warning}");
        }
    }
    if scene.binding.bound.is_empty() {
        crate::outln!(out, "\nnote: no node is bound; give nodes extras {{\"{}\": \"<twin id>\"}} or add binding.name_patterns", scene.manifest.binding.extras_key);
    }
    Ok(ExitCode::SUCCESS)
}
