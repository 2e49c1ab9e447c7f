//! `twinscope check SCENE`: load a scene and its glTF without a window and report bindings.

use std::process::ExitCode;

use serde_json::json;
use twinscope_core::manifest::{BoundBy, load_scene};

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
                "gltf_node": model.nodes[b.node].index,
                "twin": b.twin,
                "by": b.by.to_string(),
                "parent": b.parent_twin,
            })).collect::<Vec<_>>(),
            "twins_without_node": scene.binding.twins_without_node,
            "bound_by": BoundBy::ALL.iter().map(|m| (m.to_string(), json!(scene.binding.count_by(*m)))).collect::<serde_json::Map<_, _>>(),
            "nodes_without_twin": scene.binding.unbound_mesh_nodes.iter().map(|n| json!({ "node": model.path(*n), "mesh": model.nodes[*n].mesh_name })).collect::<Vec<_>>(),
            "warnings": scene.binding.warnings,
            "rules": scene.rules.len(),
            "alarm_rules": scene.alarm_rules.len(),
            "strict_failures": strict_failures(&scene),
        });
        crate::outln!(out, "{}", serde_json::to_string_pretty(&report)?);
        return Ok(strict_exit(&scene, &args));
    }
    crate::outln!(
        out,
        "scene {:?} ({})",
        scene.name(),
        scene.manifest_path.display()
    );
    crate::outln!(
        out,
        "model {}: {} nodes in scene {} of {}, {} rules, {} alarm rules",
        scene.model_path.display(),
        model.nodes.len(),
        model.scene_index,
        model.scene_count,
        scene.rules.len(),
        scene.alarm_rules.len()
    );
    let counts: Vec<String> = BoundBy::ALL
        .iter()
        .map(|m| (m, scene.binding.count_by(*m)))
        .filter(|(_, n)| *n > 0)
        .map(|(m, n)| format!("{n} by {m}"))
        .collect();
    crate::outln!(
        out,
        "\nbound nodes ({}{}{}):",
        scene.binding.bound.len(),
        if counts.is_empty() { "" } else { ": " },
        counts.join(", ")
    );
    for binding in &scene.binding.bound {
        crate::outln!(
            out,
            "  {}  ->  {}  [{}]",
            model.path(binding.node),
            binding.twin,
            binding.by
        );
    }
    crate::outln!(
        out,
        "\ntwins with no node ({}):",
        scene.binding.twins_without_node.len()
    );
    for twin in &scene.binding.twins_without_node {
        crate::outln!(out, "  {twin}");
    }
    // A sample, with mesh names (what CAD exports name), to write patterns from.
    const SAMPLE: usize = 20;
    crate::outln!(
        out,
        "\nnodes with a mesh that match no twin ({}):",
        scene.binding.unbound_mesh_nodes.len()
    );
    for node in scene.binding.unbound_mesh_nodes.iter().take(SAMPLE) {
        match &model.nodes[*node].mesh_name {
            Some(mesh) => crate::outln!(out, "  {}  (mesh {mesh:?})", model.path(*node)),
            None => crate::outln!(out, "  {}", model.path(*node)),
        }
    }
    if scene.binding.unbound_mesh_nodes.len() > SAMPLE {
        crate::outln!(
            out,
            "  … and {} more",
            scene.binding.unbound_mesh_nodes.len() - SAMPLE
        );
    }
    if !scene.binding.warnings.is_empty() {
        const SHOWN: usize = 50;
        crate::outln!(out, "\nwarnings ({}):", scene.binding.warnings.len());
        for warning in scene.binding.warnings.iter().take(SHOWN) {
            crate::outln!(out, "  {warning}");
        }
        if scene.binding.warnings.len() > SHOWN {
            crate::outln!(
                out,
                "  … and {} more (--json lists all)",
                scene.binding.warnings.len() - SHOWN
            );
        }
    }
    if scene.binding.bound.is_empty() {
        crate::outln!(
            out,
            "\nnote: no node is bound; give nodes extras {{\"{}\": \"<twin id>\"}}, or add binding.name_patterns (matched against mesh names for unnamed nodes), binding.path_patterns, [[bind]] pairs or a binding.tag_table",
            scene.manifest.binding.extras_key
        );
    }
    let code = check_sources(&scene, &args, out)?;
    if args.strict {
        for failure in strict_failures(&scene) {
            eprintln!("strict: {failure}");
        }
    }
    Ok(if code == ExitCode::SUCCESS {
        strict_exit(&scene, &args)
    } else {
        code
    })
}

/// What `--strict` refuses: nothing bound, declared twins without a node, warnings.
fn strict_failures(scene: &twinscope_core::manifest::LoadedScene) -> Vec<String> {
    let mut failures = Vec::new();
    if scene.binding.bound.is_empty() {
        failures.push("no node is bound to a twin".to_owned());
    }
    if !scene.binding.twins_without_node.is_empty() {
        failures.push(format!(
            "{} declared twins have no node",
            scene.binding.twins_without_node.len()
        ));
    }
    if !scene.binding.warnings.is_empty() {
        failures.push(format!("{} warnings", scene.binding.warnings.len()));
    }
    failures
}

fn strict_exit(scene: &twinscope_core::manifest::LoadedScene, args: &CheckArgs) -> ExitCode {
    if args.strict && !strict_failures(scene).is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// The scene's JSON sources: their topic filters, and what the given samples yield.
fn check_sources(
    scene: &twinscope_core::manifest::LoadedScene,
    args: &CheckArgs,
    out: &mut String,
) -> anyhow::Result<ExitCode> {
    use twinscope_core::schema::TopicSchema;
    use twinscope_core::schema::json_map::JsonMappingSchema;
    let mut samples: Vec<(String, String)> = args
        .sample
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect();
    if let Some(path) = &args.samples {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for line in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (topic, payload) = line.split_once(' ').unwrap_or((line, ""));
            samples.push((topic.to_owned(), payload.to_owned()));
        }
    }
    if scene.manifest.sources.is_empty() {
        if !samples.is_empty() {
            eprintln!("error: the scene has no [[source]] to test samples against");
            return Ok(ExitCode::FAILURE);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Checked when the scene was loaded.
    let mut schema = JsonMappingSchema::new(&scene.manifest.sources).map_err(anyhow::Error::msg)?;
    crate::outln!(out, "\nJSON sources ({}):", schema.sources().len());
    for source in schema.sources() {
        crate::outln!(out, "  {}: {}", source.name, source.pattern.filter());
    }
    let mut failed = false;
    for (topic, payload) in samples {
        let mut updates = Vec::new();
        crate::outln!(out, "\nsample {topic}");
        match schema.decode(
            &topic,
            payload.as_bytes(),
            twinscope_core::Timestamp::now(),
            &mut updates,
        ) {
            Ok(_) => {
                for update in &updates {
                    crate::outln!(out, "  {update:?}");
                }
                if updates.is_empty() {
                    crate::outln!(
                        out,
                        "  (no updates: no property or alarm found in the payload)"
                    );
                }
            }
            Err(error) => {
                failed = true;
                crate::outln!(out, "  rejected: {error}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
