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
        Signal {
            name: $name,
            unit: $unit,
            nominal: $nominal,
            drift: $drift,
            noise: $noise,
        }
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
            AssetKind::Tank => &[
                signal!("level", "%", 62.0, 20.0, 0.5),
                signal!("temperature", "°C", 38.0, 4.0, 0.2),
                signal!("pressure", "bar", 2.1, 0.3, 0.02),
            ],
            AssetKind::Pump => &[
                signal!("flow", "m³/h", 48.0, 6.0, 0.8),
                signal!("pressure", "bar", 4.2, 0.4, 0.05),
                signal!("speed", "rpm", 1480.0, 20.0, 3.0),
            ],
            AssetKind::Motor => &[
                signal!("speed", "rpm", 1490.0, 10.0, 2.0),
                signal!("current", "A", 31.0, 4.0, 0.4),
                signal!("temperature", "°C", 55.0, 5.0, 0.3),
            ],
            AssetKind::Conveyor => &[
                signal!("speed", "m/s", 1.2, 0.1, 0.01),
                signal!("load", "%", 55.0, 25.0, 1.0),
            ],
            AssetKind::Part(part) => match part {
                PartKind::Bearing => &[
                    signal!("temperature", "°C", 48.0, 6.0, 0.3),
                    signal!("vibration", "mm/s", 2.2, 0.6, 0.15),
                ],
                PartKind::Impeller => &[signal!("vibration", "mm/s", 3.1, 0.8, 0.2)],
                PartKind::Seal => &[
                    signal!("temperature", "°C", 41.0, 3.0, 0.2),
                    signal!("leakage", "ml/h", 0.4, 0.2, 0.05),
                ],
                PartKind::Winding => &[signal!("temperature", "°C", 72.0, 6.0, 0.3)],
                PartKind::Fan => &[signal!("speed", "rpm", 1490.0, 10.0, 2.0)],
                PartKind::LevelSensor => &[signal!("level", "%", 62.0, 20.0, 0.3)],
                PartKind::Valve => &[signal!("position", "%", 40.0, 30.0, 0.5)],
                PartKind::Belt => &[signal!("tension", "kN", 8.5, 1.0, 0.1)],
                PartKind::Roller => &[signal!("vibration", "mm/s", 1.8, 0.4, 0.1)],
                PartKind::Gearbox => &[
                    signal!("temperature", "°C", 58.0, 5.0, 0.3),
                    signal!("oil_level", "%", 88.0, 3.0, 0.2),
                ],
            },
        }
    }

    /// Whether the simulator may push this twin into a fault (an overheating bearing).
    pub fn can_fault(self) -> bool {
        matches!(
            self,
            AssetKind::Part(PartKind::Bearing | PartKind::Winding | PartKind::Gearbox)
        )
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

/// Distance between halls of lines, metres (a line is 26 m wide).
pub const HALL_SPACING: f32 = 30.0;

/// How a plant's lines are laid out: in halls side by side, each a row of lines, so a big plant
/// is about as wide as it is deep. In one row, 1,250 lines made a plant 8.7 km long and 28 m
/// wide, which shown whole was a thin line. Plants of up to 9 lines (the demo) are one hall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halls {
    pub count: usize,
    pub lines_per_hall: usize,
}

impl Halls {
    pub fn for_lines(lines: usize) -> Self {
        let count = ((lines as f32 * LINE_SPACING / HALL_SPACING).sqrt().round() as usize).max(1);
        Halls {
            count,
            lines_per_hall: lines.div_ceil(count).max(1),
        }
    }

    /// Where line `index` (from 0) stands on the plant's floor, x and z.
    pub fn line_position(&self, index: usize) -> [f32; 2] {
        let (hall, row) = (index / self.lines_per_hall, index % self.lines_per_hall);
        let x = (hall as f32 - (self.count - 1) as f32 / 2.0) * HALL_SPACING;
        let z = (row as f32 - (self.lines_per_hall - 1) as f32 / 2.0) * LINE_SPACING;
        [x, z]
    }
}

impl PlantLayout {
    /// A plant of `lines` identical lines (the demo has 2; benchmarks use hundreds).
    pub fn new(lines: usize) -> Self {
        let mut twins = vec![PlantTwin {
            id: "main".into(),
            name: "Demo plant".into(),
            kind: AssetKind::Plant,
            parent: None,
            offset: [0.0; 3],
        }];
        let halls = Halls::for_lines(lines);
        for l in 1..=lines {
            let line_id = format!("line{l}");
            let [x, z] = halls.line_position(l - 1);
            let line = push(
                &mut twins,
                &line_id,
                format!("Line {l}"),
                AssetKind::Line,
                0,
                [x, 0.0, z],
            );
            for (t, x) in [(1, -11.0), (2, -8.0)] {
                let id = format!("{line_id}-tank{t}");
                let tank = push(
                    &mut twins,
                    &id,
                    format!("Tank {l}.{t}"),
                    AssetKind::Tank,
                    line,
                    [x, 0.0, -1.5],
                );
                push(
                    &mut twins,
                    &format!("{id}-level-sensor"),
                    "Level sensor".into(),
                    AssetKind::Part(PartKind::LevelSensor),
                    tank,
                    [0.0, 3.3, 0.0],
                );
                push(
                    &mut twins,
                    &format!("{id}-valve"),
                    "Outlet valve".into(),
                    AssetKind::Part(PartKind::Valve),
                    tank,
                    [1.2, 0.3, 0.0],
                );
            }
            for (p, x) in [(1, -11.0), (2, -8.0)] {
                let id = format!("{line_id}-pump{p}");
                let pump = push(
                    &mut twins,
                    &id,
                    format!("Pump {l}.{p}"),
                    AssetKind::Pump,
                    line,
                    [x, 0.0, 1.5],
                );
                push(
                    &mut twins,
                    &format!("{id}-impeller"),
                    "Impeller".into(),
                    AssetKind::Part(PartKind::Impeller),
                    pump,
                    [0.55, 0.5, 0.0],
                );
                push(
                    &mut twins,
                    &format!("{id}-seal"),
                    "Mechanical seal".into(),
                    AssetKind::Part(PartKind::Seal),
                    pump,
                    [0.15, 0.5, 0.0],
                );
                push(
                    &mut twins,
                    &format!("{id}-bearing-de"),
                    "Bearing (drive end)".into(),
                    AssetKind::Part(PartKind::Bearing),
                    pump,
                    [-0.25, 0.5, 0.0],
                );
                push(
                    &mut twins,
                    &format!("{id}-bearing-nde"),
                    "Bearing (non-drive end)".into(),
                    AssetKind::Part(PartKind::Bearing),
                    pump,
                    [-0.65, 0.5, 0.0],
                );
            }
            for (m, x) in [(1, -4.5), (2, -1.5)] {
                let id = format!("{line_id}-motor{m}");
                let motor = push(
                    &mut twins,
                    &id,
                    format!("Motor {l}.{m}"),
                    AssetKind::Motor,
                    line,
                    [x, 0.0, 0.0],
                );
                push(
                    &mut twins,
                    &format!("{id}-bearing-de"),
                    "Bearing (drive end)".into(),
                    AssetKind::Part(PartKind::Bearing),
                    motor,
                    [0.75, 0.6, 0.0],
                );
                push(
                    &mut twins,
                    &format!("{id}-bearing-nde"),
                    "Bearing (non-drive end)".into(),
                    AssetKind::Part(PartKind::Bearing),
                    motor,
                    [-0.75, 0.6, 0.0],
                );
                push(
                    &mut twins,
                    &format!("{id}-winding"),
                    "Stator winding".into(),
                    AssetKind::Part(PartKind::Winding),
                    motor,
                    [0.0, 1.25, 0.0],
                );
                push(
                    &mut twins,
                    &format!("{id}-fan"),
                    "Cooling fan".into(),
                    AssetKind::Part(PartKind::Fan),
                    motor,
                    [-1.05, 0.6, 0.0],
                );
            }
            let id = format!("{line_id}-conveyor1");
            let conveyor = push(
                &mut twins,
                &id,
                format!("Conveyor {l}"),
                AssetKind::Conveyor,
                line,
                [5.5, 0.0, 0.0],
            );
            push(
                &mut twins,
                &format!("{id}-belt"),
                "Belt".into(),
                AssetKind::Part(PartKind::Belt),
                conveyor,
                [0.0, 0.95, 0.0],
            );
            push(
                &mut twins,
                &format!("{id}-drive-roller"),
                "Drive roller".into(),
                AssetKind::Part(PartKind::Roller),
                conveyor,
                [4.1, 0.8, 0.0],
            );
            push(
                &mut twins,
                &format!("{id}-idler-roller"),
                "Idler roller".into(),
                AssetKind::Part(PartKind::Roller),
                conveyor,
                [-4.1, 0.8, 0.0],
            );
            push(
                &mut twins,
                &format!("{id}-gearbox"),
                "Gearbox".into(),
                AssetKind::Part(PartKind::Gearbox),
                conveyor,
                [4.1, 0.5, 0.9],
            );
        }
        PlantLayout { twins, lines }
    }

    /// The demo plant that `twinscope` shows by default.
    pub fn demo() -> Self {
        Self::new(2)
    }
}

fn push(
    twins: &mut Vec<PlantTwin>,
    id: &str,
    name: String,
    kind: AssetKind,
    parent: usize,
    offset: [f32; 3],
) -> usize {
    twins.push(PlantTwin {
        id: id.to_owned(),
        name,
        kind,
        parent: Some(parent),
        offset,
    });
    twins.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The demo's two lines stand where they always did; 1,250 lines stand in halls, each
    /// line in a place of its own, on a plant about as wide as it is deep.
    #[test]
    fn big_plants_stand_in_halls_about_as_wide_as_deep() {
        let line_offsets = |plant: &PlantLayout| -> Vec<[f32; 3]> {
            plant
                .twins
                .iter()
                .filter(|t| t.kind == AssetKind::Line)
                .map(|t| t.offset)
                .collect()
        };
        assert_eq!(
            line_offsets(&PlantLayout::demo()),
            [[0.0, 0.0, -3.5], [0.0, 0.0, 3.5]]
        );
        let big = PlantLayout::new(1250);
        let offsets = line_offsets(&big);
        assert_eq!(offsets.len(), 1250);
        let places: HashSet<(i32, i32)> = offsets
            .iter()
            .map(|o| (o[0].round() as i32, o[2].round() as i32))
            .collect();
        assert_eq!(places.len(), 1250, "no two lines in one place");
        let extent = |axis: usize| {
            offsets.iter().map(|o| o[axis]).fold(f32::MIN, f32::max)
                - offsets.iter().map(|o| o[axis]).fold(f32::MAX, f32::min)
        };
        let (width, depth) = (extent(0) + 26.0, extent(2) + 5.6);
        assert!(
            (0.8..1.25).contains(&(width / depth)),
            "{width} m wide, {depth} m deep"
        );
        let halls = Halls::for_lines(1250);
        assert!(halls.count * halls.lines_per_hall >= 1250);
    }

    #[test]
    fn demo_plant_has_unique_ids_and_a_deep_hierarchy() {
        let plant = PlantLayout::demo();
        let ids: HashSet<&str> = plant.twins.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), plant.twins.len());
        assert_eq!(plant.twins.len(), 1 + 2 * (1 + 2 * 3 + 2 * 5 + 2 * 5 + 5));
        let bearing = plant
            .twins
            .iter()
            .position(|t| t.id == "line1-pump1-bearing-de")
            .unwrap();
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
