//! `twinscope gen-plant`: write the demo plant (or a bigger one) as .glb, and a manifest.

use std::process::ExitCode;

use anyhow::Context;
use twinscope_core::demo::{PlantLayout, plant_glb, plant_manifest, relative_path};

use super::GenPlantArgs;

pub fn run(args: GenPlantArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let layout = PlantLayout::new(args.lines);
    let bytes = plant_glb(&layout);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    crate::outln!(
        out,
        "wrote {} ({} twins, {} bytes)",
        args.out.display(),
        layout.twins.len(),
        bytes.len()
    );
    if let Some(scene) = &args.scene {
        let model = relative_path(&args.out, scene);
        let name = if args.lines == 2 {
            "Demo plant".to_owned()
        } else {
            format!("Generated plant ({} lines)", args.lines)
        };
        std::fs::write(scene, plant_manifest(&name, &model))
            .with_context(|| format!("cannot write {}", scene.display()))?;
        crate::outln!(out, "wrote {}", scene.display());
    }
    Ok(ExitCode::SUCCESS)
}
