//! The demo plant's layout: lines of tanks, pumps, motors and conveyors, each with parts.
//! The model generator and the simulator both read it, so the glTF and the telemetry agree.

/// What a twin is, for its shape, colour and telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetKind {
    Plant,
    Line,
    Tank,
    Pump,
    Motor,
    Conveyor,
    /// A part: bearing, impeller, seal, winding, belt, ...
    Part(PartKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Bearing,
    Impeller,
    Seal,
    Winding,
    Fan,
    LevelSensor,
    Valve,
    Belt,
    Roller,
    Gearbox,
}

/// One telemetry signal a twin publishes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    pub name: &'static str,
    pub unit: &'static str,
    pub nominal: f64,
    /// Size of the slow drift around nominal.
    pub drift: f64,
    /// Size of the noise on each sample.
    pub noise: f64,
}

/// A struct literal (not a `const fn` call) so the signal tables are promoted to statics.
macro_rules! signal {
    ($name:literal, $unit:literal, $nominal:literal, $drift:literal, $noise:literal) => {
        Signal { name: $name, unit: $unit, nominal: $nominal, drift: $drift, noise: $noise }
    };
}

impl AssetKind {
    /// The thin-edge measurement type its signals are published under.
    pub fn measurement_type(self) -> &'static str {
        match self {
            AssetKind::Part(_) => "condition",
            _ => "process",
        }
    }

    pub fn signals(self) -> &'static [Signal] {
        match self {
            AssetKind::Plant => &[signal!("power", "kW", 420.0, 40.0, 4.0)],
            AssetKind::Line => &[signal!("throughput", "t/h", 12.0, 1.5, 0.2)],
            AssetKind::Tank => &[signal!("level", "%", 62.0, 20.0, 0.5), signal!("temperature", "°C", 38.0, 4.0, 0.2), signal!("pressure", "bar", 2.1, 0.3, 0.02)],
            AssetKind::Pump => &[signal!("flow", "m³/h", 48.0, 6.0, 0.8), signal!("pressure", "bar", 4.2, 0.4, 0.05), signal!("speed", "rpm", 1480.0, 20.0, 3.0)],
            AssetKind::Motor => &[signal!("speed", "rpm", 1490.0, 10.0, 2.0), signal!("current", "A", 31.0, 4.0, 0.4), signal!("temperature", "°C", 55.0, 5.0, 0.3)],
            AssetKind::Conveyor => &[signal!("speed", "m/s", 1.2, 0.1, 0.01), signal!("load", "%", 55.0, 25.0, 1.0)],
            AssetKind::Part(part) => match part {
                PartKind::Bearing => &[signal!("temperature", "°C", 48.0, 6.0, 0.3), signal!("vibration", "mm/s", 2.2, 0.6, 0.15)],
                PartKind::Impeller => &[signal!("vibration", "mm/s", 3.1, 0.8, 0.2)],
                PartKind::Seal => &[signal!("temperature", "°C", 41.0, 3.0, 0.2), signal!("leakage", "ml/h", 0.4, 0.2, 0.05)],
                PartKind::Winding => &[signal!("temperature", "°C", 72.0, 6.0, 0.3)],
                PartKind::Fan => &[signal!("speed", "rpm", 1490.0, 10.0, 2.0)],
                PartKind::LevelSensor => &[signal!("level", "%", 62.0, 20.0, 0.3)],
                PartKind::Valve => &[signal!("position", "%", 40.0, 30.0, 0.5)],
                PartKind::Belt => &[signal!("tension", "kN", 8.5, 1.0, 0.1)],
                PartKind::Roller => &[signal!("vibration", "mm/s", 1.8, 0.4, 0.1)],
                PartKind::Gearbox => &[signal!("temperature", "°C", 58.0, 5.0, 0.3), signal!("oil_level", "%", 88.0, 3.0, 0.2)],
            },
        }
    }

    /// Whether the simulator may push this twin into a fault (an overheating bearing).
    pub fn can_fault(self) -> bool {
        matches!(self, AssetKind::Part(PartKind::Bearing | PartKind::Winding | PartKind::Gearbox))
    }
}

/// One twin of the demo plant.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantTwin {
    pub id: String,
    pub name: String,
    pub kind: AssetKind,
    /// Position in [`PlantLayout::twins`] of the parent.
    pub parent: Option<usize>,
    /// Where the twin sits relative to its parent, metres (x, y up, z).
    pub offset: [f32; 3],
}

/// The whole demo plant.
#[derive(Debug, Clone)]
pub struct PlantLayout {
    pub twins: Vec<PlantTwin>,
    pub lines: usize,
}

/// Distance between lines, metres.
pub const LINE_SPACING: f32 = 7.0;

impl PlantLayout {
    /// A plant of `lines` identical lines (the demo has 2; benchmarks use hundreds).
    pub fn new(lines: usize) -> Self {
        let mut twins = vec![PlantTwin { id: "main".into(), name: "Demo plant".into(), kind: AssetKind::Plant, parent: None, offset: [0.0; 3] }];
        let first_z = -(lines.saturating_sub(1) as f32) * LINE_SPACING / 2.0;
        for l in 1..=lines {
            let line_id = format!("line{l}");
            let line = push(&mut twins, &line_id, format!("Line {l}"), AssetKind::Line, 0, [0.0, 0.0, first_z + (l - 1) as f32 * LINE_SPACING]);
            for (t, x) in [(1, -11.0), (2, -8.0)] {
                let id = format!("{line_id}-tank{t}");
                let tank = push(&mut twins, &id, format!("Tank {l}.{t}"), AssetKind::Tank, line, [x, 0.0, -1.5]);
                push(&mut twins, &format!("{id}-level-sensor"), "Level sensor".into(), AssetKind::Part(PartKind::LevelSensor), tank, [0.0, 3.3, 0.0]);
                push(&mut twins, &format!("{id}-valve"), "Outlet valve".into(), AssetKind::Part(PartKind::Valve), tank, [1.2, 0.3, 0.0]);
            }
            for (p, x) in [(1, -11.0), (2, -8.0)] {
                let id = format!("{line_id}-pump{p}");
                let pump = push(&mut twins, &id, format!("Pump {l}.{p}"), AssetKind::Pump, line, [x, 0.0, 1.5]);
                push(&mut twins, &format!("{id}-impeller"), "Impeller".into(), AssetKind::Part(PartKind::Impeller), pump, [0.55, 0.5, 0.0]);
                push(&mut twins, &format!("{id}-seal"), "Mechanical seal".into(), AssetKind::Part(PartKind::Seal), pump, [0.15, 0.5, 0.0]);
                push(&mut twins, &format!("{id}-bearing-de"), "Bearing (drive end)".into(), AssetKind::Part(PartKind::Bearing), pump, [-0.25, 0.5, 0.0]);
                push(&mut twins, &format!("{id}-bearing-nde"), "Bearing (non-drive end)".into(), AssetKind::Part(PartKind::Bearing), pump, [-0.65, 0.5, 0.0]);
            }
            for (m, x) in [(1, -4.5), (2, -1.5)] {
                let id = format!("{line_id}-motor{m}");
                let motor = push(&mut twins, &id, format!("Motor {l}.{m}"), AssetKind::Motor, line, [x, 0.0, 0.0]);
                push(&mut twins, &format!("{id}-bearing-de"), "Bearing (drive end)".into(), AssetKind::Part(PartKind::Bearing), motor, [0.75, 0.6, 0.0]);
                push(&mut twins, &format!("{id}-bearing-nde"), "Bearing (non-drive end)".into(), AssetKind::Part(PartKind::Bearing), motor, [-0.75, 0.6, 0.0]);
                push(&mut twins, &format!("{id}-winding"), "Stator winding".into(), AssetKind::Part(PartKind::Winding), motor, [0.0, 1.25, 0.0]);
                push(&mut twins, &format!("{id}-fan"), "Cooling fan".into(), AssetKind::Part(PartKind::Fan), motor, [-1.05, 0.6, 0.0]);
            }
            let id = format!("{line_id}-conveyor1");
            let conveyor = push(&mut twins, &id, format!("Conveyor {l}"), AssetKind::Conveyor, line, [5.5, 0.0, 0.0]);
            push(&mut twins, &format!("{id}-belt"), "Belt".into(), AssetKind::Part(PartKind::Belt), conveyor, [0.0, 0.95, 0.0]);
            push(&mut twins, &format!("{id}-drive-roller"), "Drive roller".into(), AssetKind::Part(PartKind::Roller), conveyor, [4.1, 0.8, 0.0]);
            push(&mut twins, &format!("{id}-idler-roller"), "Idler roller".into(), AssetKind::Part(PartKind::Roller), conveyor, [-4.1, 0.8, 0.0]);
            push(&mut twins, &format!("{id}-gearbox"), "Gearbox".into(), AssetKind::Part(PartKind::Gearbox), conveyor, [4.1, 0.5, 0.9]);
        }
        PlantLayout { twins, lines }
    }

    /// The demo plant that `twinscope` shows by default.
    pub fn demo() -> Self {
        Self::new(2)
    }
}

fn push(twins: &mut Vec<PlantTwin>, id: &str, name: String, kind: AssetKind, parent: usize, offset: [f32; 3]) -> usize {
    twins.push(PlantTwin { id: id.to_owned(), name, kind, parent: Some(parent), offset });
    twins.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn demo_plant_has_unique_ids_and_a_deep_hierarchy() {
        let plant = PlantLayout::demo();
        let ids: HashSet<&str> = plant.twins.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), plant.twins.len());
        assert_eq!(plant.twins.len(), 1 + 2 * (1 + 2 * 3 + 2 * 5 + 2 * 5 + 5));
        let bearing = plant.twins.iter().position(|t| t.id == "line1-pump1-bearing-de").unwrap();
        let mut depth = 0;
        let mut cursor = plant.twins[bearing].parent;
        while let Some(p) = cursor {
            depth += 1;
            cursor = plant.twins[p].parent;
        }
        assert_eq!(depth, 3, "main -> line -> pump -> bearing");
    }

    #[test]
    fn benchmark_plants_scale_linearly() {
        assert_eq!(PlantLayout::new(300).twins.len(), 1 + 300 * 32);
    }
}
