//! The way to a part in alarm: when the selected twin has an active alarm, arrows on the floor
//! lead from where the user stands to it, and a beacon in its severity colour rises over it,
//! so an engineer who does not know the plant walks straight there.

use bevy::prelude::*;

use super::selected::SelectedPart;
use crate::scene::visuals::colors;

/// Draws the guide to the selected part in alarm.
pub struct XrGuidePlugin;

impl Plugin for XrGuidePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            draw_the_way_to_the_alarm.in_set(super::XrSystems::Show),
        );
    }
}

/// Arrows are this far apart along the way, in metres.
const ARROW_SPACING: f32 = 1.0;

/// Arrows float this high, in metres: above floor slabs and kerbs, below the knees.
const ARROW_HEIGHT: f32 = 0.25;

fn draw_the_way_to_the_alarm(
    selected: SelectedPart,
    mode: Res<super::XrViewMode>,
    mut gizmos: Gizmos,
) {
    let Some(twin) = selected.twin() else { return };
    let Some(severity) = selected.state.store.get(twin).alarm_severity else {
        return;
    };
    let (Some(eye), Some((min, max))) = (selected.eye(), selected.bounds()) else {
        return;
    };
    let colour = colors::severity(severity);
    let floor = |p: Vec3| Vec3::new(p.x, ARROW_HEIGHT, p.z);
    let (from, to) = (floor(eye), floor((min + max) / 2.0));
    // The beacon: from the top of the part up, seen over whatever stands in between.
    let top = Vec3::new(to.x, max.y, to.z);
    gizmos.line(top, top + Vec3::Y * 3.0, colour);
    // On the table the whole plant is in reach: the beacon is enough.
    if *mode == super::XrViewMode::Tabletop {
        return;
    }
    let way = to - from;
    let length = way.length();
    if length < 0.5 {
        return;
    }
    let direction = way / length;
    let mut travelled = ARROW_SPACING / 2.0;
    while travelled + ARROW_SPACING / 2.0 < length {
        let at = from + direction * travelled;
        gizmos.arrow(at, at + direction * (ARROW_SPACING * 0.6), colour);
        travelled += ARROW_SPACING;
    }
}
