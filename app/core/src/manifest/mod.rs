//! Scene manifests (`scenes/*.toml`): which glTF model to show, how its nodes bind to twins,
//! and the visual rules that turn values into status and colour.
//!
//! ```toml
//! [scene]
//! name = "Demo plant"
//! model = "../assets/demo-plant.glb"   # relative to this file
//!
//! [binding]
//! extras_key = "twin"                  # node extras {"twin": "<id>"} bind first
//! name_patterns = ["TW_{twin}", "Ifc*_*_{twin}"]  # then node names (unnamed: mesh names)
//! path_patterns = ["Engine/*/Piston_{twin}", "Site/**/Valve_{twin}"]  # then node paths
//! tag_table = "tags.csv"               # last: node path or name, twin, parent (CSV)
//!
//! [[bind]]                             # explicit pairs, after the patterns
//! node = "Engine/Block/Crank"          # a path (wildcards allowed), or a name anywhere
//! twin = "crank"
//! parent = "engine"                    # optional
//!
//! [twins]
//! from_model = true                    # the model's node tree is the twin hierarchy
//! stale_after_secs = 15
//! max_twins = 250000                   # twins made from data at most (refusals are counted)
//! max_properties_per_twin = 5000       # and properties, alarm types, events per twin
//!
//! [[rule]]
//! twins = "*-bearing-*"
//! property = "temperature"
//! range = [{ max = 70, status = "ok" }, { min = 70, max = 85, status = "warning" }, { min = 85, status = "alarm" }]
//!
//! [[alarm]]                            # a local alarm rule (see `alarms::limit`)
//! type = "bearing-overheat"
//! twins = "*-bearing-*"
//! property = "temperature"
//! above = 85
//! deadband = 3
//! on_delay_secs = 2
//! severity = "major"
//! ```

mod binding;
mod model;
mod pattern;
mod tag_table;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use binding::{
    BindingReport, BindingRules, BoundBy, ExplicitBinding, NodeBinding, NodeSelector, bind_model,
};
pub use model::{ModelNode, ModelTree, read_model};
pub use pattern::{NamePattern, PathPattern};
pub use tag_table::{TagRow, parse_tag_table, read_tag_table};

use crate::alarms::{AlarmRuleSpec, AlarmRules};
use crate::rules::{RuleSet, RuleSpec};
use crate::twin::{StoreConfig, TwinStore};

/// The manifest file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneManifest {
    pub scene: SceneSection,
    #[serde(default)]
    pub binding: BindingSection,
    #[serde(default)]
    pub twins: TwinsSection,
    /// Explicit node → twin pairs.
    #[serde(default, rename = "bind")]
    pub binds: Vec<BindSpec>,
    /// Twins declared explicitly (in addition to those the model binds).
    #[serde(default, rename = "twin")]
    pub declared: Vec<TwinDeclaration>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
    /// Local alarm rules: limits with deadband and on-delay.
    #[serde(default, rename = "alarm")]
    pub alarms: Vec<AlarmRuleSpec>,
    /// JSON messages on topics of the plant's own design.
    #[serde(default, rename = "source")]
    pub sources: Vec<crate::schema::json_map::SourceSpec>,
    /// Which operations on devices this plant allows, once the operator turned operations on.
    #[serde(default)]
    pub operations: OperationsSection,
}

/// `[operations]`: the operations allowed on this plant's twins (`TWIN:OPERATION`, either may
/// be `*` or end in `*`); none listed allows every one the devices announce.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsSection {
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneSection {
    pub name: Option<String>,
    /// The glTF model, relative to the manifest.
    pub model: PathBuf,
    /// The unit the model's coordinates are in (CAD exports are often millimetres).
    #[serde(default)]
    pub units: Units,
}

/// Model units; the viewer scales the model to metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Units {
    #[default]
    #[serde(rename = "m")]
    Metres,
    #[serde(rename = "cm")]
    Centimetres,
    #[serde(rename = "mm")]
    Millimetres,
    #[serde(rename = "in")]
    Inches,
    #[serde(rename = "ft")]
    Feet,
}

impl Units {
    /// Metres per model unit.
    pub fn metres(self) -> f32 {
        match self {
            Units::Metres => 1.0,
            Units::Centimetres => 0.01,
            Units::Millimetres => 0.001,
            Units::Inches => 0.0254,
            Units::Feet => 0.3048,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingSection {
    #[serde(default = "default_extras_key")]
    pub extras_key: String,
    #[serde(default)]
    pub name_patterns: Vec<String>,
    #[serde(default)]
    pub path_patterns: Vec<String>,
    /// A CSV of node path or name, twin id, optional parent; relative to the manifest.
    pub tag_table: Option<PathBuf>,
}

impl Default for BindingSection {
    fn default() -> Self {
        BindingSection {
            extras_key: default_extras_key(),
            name_patterns: Vec::new(),
            path_patterns: Vec::new(),
            tag_table: None,
        }
    }
}

/// One `[[bind]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindSpec {
    pub node: String,
    /// Omitted when `node` has a `{twin}` placeholder.
    pub twin: Option<String>,
    pub parent: Option<String>,
}

fn default_extras_key() -> String {
    "twin".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinsSection {
    #[serde(default = "yes")]
    pub from_model: bool,
    #[serde(default = "default_stale_after")]
    pub stale_after_secs: f64,
    #[serde(default = "default_history_len")]
    pub history_len: usize,
    /// Twins made from data at most (what a broker's random topics could otherwise grow).
    #[serde(default = "default_max_twins")]
    pub max_twins: usize,
    /// Properties (and alarm types, event types, data fragments) per twin at most.
    #[serde(default = "default_max_properties")]
    pub max_properties_per_twin: usize,
}

impl Default for TwinsSection {
    fn default() -> Self {
        TwinsSection {
            from_model: true,
            stale_after_secs: default_stale_after(),
            history_len: default_history_len(),
            max_twins: default_max_twins(),
            max_properties_per_twin: default_max_properties(),
        }
    }
}

fn default_max_twins() -> usize {
    crate::twin::DEFAULT_MAX_TWINS
}
fn default_max_properties() -> usize {
    crate::twin::DEFAULT_MAX_ENTRIES_PER_TWIN
}

fn yes() -> bool {
    true
}
fn default_stale_after() -> f64 {
    15.0
}
fn default_history_len() -> usize {
    600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinDeclaration {
    pub id: String,
    pub parent: Option<String>,
    pub name: Option<String>,
}

/// What went wrong loading a scene; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error("{file}: cannot read the scene manifest: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Manifest { file: PathBuf, message: String },
    #[error("{file}: model {model}: {reason}")]
    Model {
        file: PathBuf,
        model: PathBuf,
        reason: String,
    },
}

/// A manifest with its model read, nodes bound and rules checked.
#[derive(Debug, Clone)]
pub struct LoadedScene {
    pub manifest_path: PathBuf,
    pub manifest: SceneManifest,
    /// The model's path, resolved against the manifest's folder.
    pub model_path: PathBuf,
    pub model: ModelTree,
    pub binding: BindingReport,
    pub rules: RuleSet,
    pub alarm_rules: AlarmRules,
}

impl LoadedScene {
    pub fn name(&self) -> &str {
        self.manifest
            .scene
            .name
            .as_deref()
            .unwrap_or("unnamed scene")
    }

    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            history_len: self.manifest.twins.history_len,
            stale_after: Duration::from_secs_f64(self.manifest.twins.stale_after_secs),
            max_twins: self.manifest.twins.max_twins,
            max_entries_per_twin: self.manifest.twins.max_properties_per_twin,
        }
    }

    /// A twin store with this scene's rules and its twins declared (model hierarchy first).
    pub fn new_store(&self) -> TwinStore {
        let mut store = TwinStore::new(self.store_config(), self.rules.clone())
            .with_alarm_rules(self.alarm_rules.clone());
        if self.manifest.twins.from_model {
            for binding in &self.binding.bound {
                let name = self.model.nodes[binding.node].name.as_deref();
                let display = name.filter(|n| *n != binding.twin);
                store.declare(&binding.twin, binding.parent_twin.as_deref(), display);
            }
        }
        for twin in &self.manifest.declared {
            store.declare(&twin.id, twin.parent.as_deref(), twin.name.as_deref());
        }
        store
    }
}

/// Parses a manifest from text; `file` is only used in messages.
pub fn parse_manifest(text: &str, file: &Path) -> Result<SceneManifest, SceneError> {
    let manifest: SceneManifest = toml::from_str(text).map_err(|e| SceneError::Manifest {
        file: file.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let fail = |message: String| SceneError::Manifest {
        file: file.to_owned(),
        message,
    };
    // Up to a year: beyond it nothing would ever be stale, and a duration that large overflows.
    if !(manifest.twins.stale_after_secs.is_finite()
        && manifest.twins.stale_after_secs > 0.0
        && manifest.twins.stale_after_secs <= 366.0 * 86_400.0)
    {
        return Err(fail(
            "twins.stale_after_secs must be a positive number of seconds, at most a year".into(),
        ));
    }
    // A trend of more than a day at 10 Hz is not a trend: the cap keeps a typo from
    // reserving gigabytes per property.
    if !(1..=1_000_000).contains(&manifest.twins.history_len) {
        return Err(fail(
            "twins.history_len must be from 1 to 1000000 samples".into(),
        ));
    }
    if manifest.twins.max_twins == 0 || manifest.twins.max_properties_per_twin == 0 {
        return Err(fail(
            "twins.max_twins and twins.max_properties_per_twin must be at least 1".into(),
        ));
    }
    if manifest.binding.extras_key.is_empty() {
        return Err(fail("binding.extras_key must not be empty".into()));
    }
    binding_rules(&manifest, Vec::new()).map_err(fail)?;
    for (i, twin) in manifest.declared.iter().enumerate() {
        if twin.id.is_empty() {
            return Err(fail(format!("twin[{i}]: id must not be empty")));
        }
    }
    crate::schema::json_map::JsonMappingSchema::new(&manifest.sources)
        .map_err(|e| fail(format!("source: {e}")))?;
    Ok(manifest)
}

/// The manifest's binding section and `[[bind]]`s, parsed; every message names the key.
fn binding_rules(manifest: &SceneManifest, tags: Vec<TagRow>) -> Result<BindingRules, String> {
    let binding = &manifest.binding;
    let name_patterns = binding
        .name_patterns
        .iter()
        .enumerate()
        .map(|(i, p)| NamePattern::parse(p).map_err(|e| format!("binding.name_patterns[{i}]: {e}")))
        .collect::<Result<_, _>>()?;
    let path_patterns = binding
        .path_patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let pattern = PathPattern::parse(p).map_err(|e| format!("binding.path_patterns[{i}]: {e}"))?;
            if pattern.captures() { Ok(pattern) } else { Err(format!("binding.path_patterns[{i}]: {p:?} has no {{twin}} placeholder (a fixed twin is a [[bind]])")) }
        })
        .collect::<Result<_, _>>()?;
    let mut explicit = Vec::new();
    for (i, bind) in manifest.binds.iter().enumerate() {
        let node = NodeSelector::parse(&bind.node).map_err(|e| format!("bind[{i}].node: {e}"))?;
        match (node.captures(), bind.twin.as_deref()) {
            (true, Some(_)) => {
                return Err(format!(
                    "bind[{i}]: node has a {{twin}} placeholder, so give no twin"
                ));
            }
            (false, None) => return Err(format!("bind[{i}]: twin is missing")),
            (false, Some(twin)) if twin.trim().is_empty() => {
                return Err(format!("bind[{i}]: twin must not be empty"));
            }
            _ => {}
        }
        explicit.push(ExplicitBinding {
            node,
            twin: bind.twin.clone(),
            parent: bind.parent.clone(),
        });
    }
    Ok(BindingRules {
        extras_key: binding.extras_key.clone(),
        name_patterns,
        path_patterns,
        explicit,
        tags,
    })
}

/// Loads a manifest, reads and checks its model, binds nodes and checks rules.
pub fn load_scene(path: &Path) -> Result<LoadedScene, SceneError> {
    let text = std::fs::read_to_string(path).map_err(|source| SceneError::Read {
        file: path.to_owned(),
        source,
    })?;
    let manifest = parse_manifest(&text, path)?;
    let visual_rules = RuleSet::compile(&manifest.rules).map_err(|e| SceneError::Manifest {
        file: path.to_owned(),
        message: e.to_string(),
    })?;
    let alarm_rules = AlarmRules::compile(&manifest.alarms).map_err(|e| SceneError::Manifest {
        file: path.to_owned(),
        message: e.to_string(),
    })?;
    let model_path = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&manifest.scene.model);
    let model = read_model(&model_path).map_err(|reason| SceneError::Model {
        file: path.to_owned(),
        model: model_path.clone(),
        reason,
    })?;
    let tags = match &manifest.binding.tag_table {
        Some(table) => read_tag_table(&path.parent().unwrap_or(Path::new(".")).join(table))
            .map_err(|message| SceneError::Manifest {
                file: path.to_owned(),
                message: format!("binding.tag_table: {message}"),
            })?,
        None => Vec::new(),
    };
    let rules = binding_rules(&manifest, tags).map_err(|message| SceneError::Manifest {
        file: path.to_owned(),
        message,
    })?;
    let declared: Vec<String> = manifest.declared.iter().map(|t| t.id.clone()).collect();
    let binding = bind_model(&model, &rules, &declared);
    Ok(LoadedScene {
        manifest_path: path.to_owned(),
        manifest,
        model_path,
        model,
        binding,
        rules: visual_rules,
        alarm_rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SceneManifest, String> {
        parse_manifest(text, Path::new("scenes/test.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn model_units_scale_to_metres() {
        let manifest = parse("[scene]\nmodel = \"plant.glb\"\nunits = \"mm\"\n").unwrap();
        assert_eq!(manifest.scene.units.metres(), 0.001);
        let err = parse("[scene]\nmodel = \"plant.glb\"\nunits = \"furlong\"\n").unwrap_err();
        assert!(err.contains("units"), "{err}");
    }

    #[test]
    fn a_scene_lists_the_operations_it_allows() {
        let manifest = parse("[scene]\nmodel = \"plant.glb\"\n[operations]\nallow = [\"line1-*:restart\", \"pump1:log_upload\"]\n").unwrap();
        assert_eq!(
            manifest.operations.allow,
            ["line1-*:restart", "pump1:log_upload"]
        );
        assert!(
            parse("[scene]\nmodel = \"plant.glb\"\n")
                .unwrap()
                .operations
                .allow
                .is_empty(),
            "none listed: every one announced"
        );
        assert!(
            parse("[scene]\nmodel = \"p.glb\"\n[operations]\nallowed = []\n")
                .unwrap_err()
                .contains("allowed"),
            "a misspelt key says so"
        );
    }

    #[test]
    fn minimal_manifest_gets_defaults() {
        let manifest = parse("[scene]\nmodel = \"plant.glb\"\n").unwrap();
        assert_eq!(manifest.scene.units, Units::Metres);
        assert_eq!(manifest.binding.extras_key, "twin");
        assert!(manifest.twins.from_model);
        assert_eq!(manifest.twins.stale_after_secs, 15.0);
        for bad in [
            "history_len = 0",
            "history_len = 100000000",
            "max_twins = 0",
            "max_properties_per_twin = 0",
        ] {
            let err = parse(&format!("[scene]\nmodel = \"x.glb\"\n[twins]\n{bad}\n")).unwrap_err();
            assert!(err.contains(bad.split(' ').next().unwrap()), "{bad}: {err}");
        }
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let err = parse("[scene]\n").unwrap_err();
        assert!(
            err.starts_with("scenes/test.toml:") && err.contains("model"),
            "{err}"
        );
        let err = parse("[scene]\nmodel = \"x.glb\"\ncolour = 1\n").unwrap_err();
        assert!(err.contains("colour"), "{err}");
        let err = parse("[scene]\nmodel = \"x.glb\"\n[binding]\nname_patterns = [\"pump\"]\n")
            .unwrap_err();
        assert!(err.contains("binding.name_patterns[0]"), "{err}");
        for (bind, needle) in [
            ("node = \"a/b\"", "bind[0]: twin is missing"),
            ("node = \"a/{twin}\"\ntwin = \"x\"", "give no twin"),
            ("node = \"a/{twin}/b\"", "bind[0].node"),
            ("node = \"a\"\ntwin = \"x\"\ncolour = 1", "colour"),
        ] {
            let err =
                parse(&format!("[scene]\nmodel = \"x.glb\"\n[[bind]]\n{bind}\n")).unwrap_err();
            assert!(err.contains(needle), "{bind}: {err}");
        }
        let err = parse("[scene]\nmodel = \"x.glb\"\n[binding]\npath_patterns = [\"a/b\"]\n")
            .unwrap_err();
        assert!(
            err.contains("binding.path_patterns[0]") && err.contains("[[bind]]"),
            "{err}"
        );
        for bad in ["-1", "1e20", "inf", "nan"] {
            let err = parse(&format!(
                "[scene]\nmodel = \"x.glb\"\n[twins]\nstale_after_secs = {bad}\n"
            ))
            .unwrap_err();
            assert!(err.contains("stale_after_secs"), "{bad}: {err}");
        }
        let err = parse("[scene\nmodel = 1").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn missing_model_is_reported_with_both_paths() {
        let dir = std::env::temp_dir().join(format!("twinscope-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("scene.toml");
        std::fs::write(&manifest, "[scene]\nmodel = \"missing.glb\"\n").unwrap();
        let err = load_scene(&manifest).unwrap_err().to_string();
        assert!(
            err.contains("scene.toml")
                && err.contains("missing.glb")
                && err.contains("cannot read"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
