//! The scene manifest for a generated plant, with the demo's visual rules.

use std::path::Path;

/// Manifest text for a plant model at `model` (a path relative to the manifest).
pub fn plant_manifest(name: &str, model: &str) -> String {
    format!(
        r##"# A twinscope scene: the model to show, how its nodes bind to twins, and visual rules.
# Written by `twinscope gen-plant`; copy it as a starting point for your own plant.

[scene]
name = "{name}"
model = "{model}"

[binding]
# Nodes carry their twin id in glTF extras: {{"twin": "line1-pump1"}}.
extras_key = "twin"
# Nodes without extras bind by name, e.g. a node called "TW_line1-pump1".
name_patterns = ["TW_{{twin}}"]

[twins]
# The model's node tree is the twin hierarchy: plant > line > machine > part.
from_model = true
# A twin that sent data but nothing for this long is shown as stale.
stale_after_secs = 15
history_len = 600

[[rule]]
name = "Bearing temperature"
twins = "*-bearing-*"
property = "temperature"
range = [
    {{ max = 70.0, status = "ok" }},
    {{ min = 70.0, max = 85.0, status = "warning" }},
    {{ min = 85.0, status = "alarm" }},
]

[[rule]]
name = "Bearing vibration (ISO 10816 class II)"
twins = "*-bearing-*"
property = "vibration"
range = [
    {{ max = 4.5, status = "ok" }},
    {{ min = 4.5, max = 7.1, status = "warning" }},
    {{ min = 7.1, status = "alarm" }},
]

[[rule]]
name = "Winding temperature (class F)"
twins = "*-winding"
property = "temperature"
range = [
    {{ max = 100.0, status = "ok" }},
    {{ min = 100.0, max = 120.0, status = "warning" }},
    {{ min = 120.0, status = "alarm" }},
]

[[rule]]
name = "Gearbox oil temperature"
twins = "*-gearbox"
property = "temperature"
range = [
    {{ max = 80.0, status = "ok" }},
    {{ min = 80.0, max = 95.0, status = "warning" }},
    {{ min = 95.0, status = "alarm" }},
]

[[rule]]
name = "Tank level"
twins = "*-tank?"
property = "level"
range = [
    {{ max = 10.0, status = "warning", color = "#4a90d9" }},
    {{ min = 10.0, max = 92.0, status = "ok" }},
    {{ min = 92.0, status = "warning", color = "#4a90d9" }},
]

# Local alarm rules: evaluated here, not on the device, and listed with the device's own
# alarms. The deadband stops a value at the limit from chattering; the on-delay ignores spikes.

[[alarm]]
type = "bearing-hot"
twins = "*-bearing-*"
property = "temperature"
above = 85.0
deadband = 3.0
on_delay_secs = 2.0
severity = "minor"
text = "Bearing temperature above 85 °C"

[[alarm]]
type = "tank-level-low"
twins = "*-tank?"
property = "level"
below = 5.0
deadband = 2.0
on_delay_secs = 5.0
severity = "warning"
text = "Tank almost empty"

[[alarm]]
type = "gearbox-oil-low"
twins = "*-gearbox"
property = "oil_level"
below = 80.0
deadband = 2.0
on_delay_secs = 10.0
severity = "major"
text = "Gearbox oil level low"
"##
    )
}

/// `model` as the manifest at `manifest` refers to it: relative to the manifest's folder
/// (absolute when the two share no base).
pub fn relative_path(model: &Path, manifest: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let (model, manifest_dir) = (
        absolute(model),
        absolute(manifest.parent().unwrap_or(Path::new("."))),
    );
    let model_parts: Vec<_> = model.components().collect();
    let dir_parts: Vec<_> = manifest_dir.components().collect();
    let common = model_parts
        .iter()
        .zip(&dir_parts)
        .take_while(|(a, b)| a == b)
        .count();
    if common <= 1 {
        return model.display().to_string();
    }
    let mut parts: Vec<String> =
        std::iter::repeat_n("..".to_owned(), dir_parts.len() - common).collect();
    parts.extend(
        model_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_manifest;

    #[test]
    fn manifest_paths_are_relative() {
        assert_eq!(
            relative_path(Path::new("/a/assets/p.glb"), Path::new("/a/scenes/p.toml")),
            "../assets/p.glb"
        );
        assert_eq!(
            relative_path(Path::new("/tmp/x/p.glb"), Path::new("/tmp/x/p.toml")),
            "p.glb"
        );
    }

    #[test]
    fn the_generated_manifest_parses_and_its_rules_compile() {
        let manifest = parse_manifest(
            &plant_manifest("Demo plant", "../assets/demo-plant.glb"),
            Path::new("demo.toml"),
        )
        .unwrap();
        assert_eq!(manifest.rules.len(), 5);
        crate::rules::RuleSet::compile(&manifest.rules).unwrap();
        assert_eq!(
            crate::alarms::AlarmRules::compile(&manifest.alarms)
                .unwrap()
                .find("line1-pump1-bearing-de", "temperature")
                .len(),
            1
        );
    }
}
