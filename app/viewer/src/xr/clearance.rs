//! Keeping the label over the selected part clear of the panel, as the eye sees them.
//!
//! The panel floats at the user's left, a little below the eyes; standing in front of a part,
//! the label over it can fall behind the panel (only its edge showed). What matters is the
//! two quads' outlines as seen from the eye, so both are projected onto a screen through the
//! eye (a pinhole looking at the label) and, where they meet, the label slides sideways away
//! from the panel, then up, in small steps, until they no longer do.

use bevy::math::Rect;
use bevy::prelude::*;

/// The four corners of a quad of `size` metres in its local XY plane (how the egui surfaces
/// are built), placed by `pose`.
pub(super) fn quad_corners(pose: &GlobalTransform, size: Vec2) -> [Vec3; 4] {
    let (x, y) = (size.x / 2.0, size.y / 2.0);
    [
        Vec3::new(-x, -y, 0.0),
        Vec3::new(x, -y, 0.0),
        Vec3::new(x, y, 0.0),
        Vec3::new(-x, y, 0.0),
    ]
    .map(|corner| pose.transform_point(corner))
}

/// Where to hang a label of `size` metres (already scaled), facing the eye, so that seen from
/// `eye` it does not overlap the quad with `panel` corners; `wanted` if it already does not.
/// Tries sideways away from the panel first (the part stays under the label's edge), then up.
pub(super) fn clear_of_panel(eye: Vec3, wanted: Vec3, size: Vec2, panel: &[Vec3; 4]) -> Vec3 {
    let screen = Screen::looking_at(eye, wanted);
    let Some(panel_rect) = screen.outline(panel) else {
        return wanted;
    };
    let overlaps = |at: Vec3| {
        screen
            .outline(&facing_quad(eye, at, size))
            .is_some_and(|label| !label.intersect(panel_rect).is_empty())
    };
    if !overlaps(wanted) {
        return wanted;
    }
    let away = if screen
        .project(wanted)
        .is_some_and(|label| label.x < panel_rect.center().x)
    {
        -screen.right
    } else {
        screen.right
    };
    let step = size.x / 4.0;
    let sideways = (1..=12).map(|k| wanted + away * step * k as f32);
    let upwards = (1..=12).map(|k| wanted + Vec3::Y * step * k as f32);
    sideways
        .chain(upwards)
        .find(|&at| !overlaps(at))
        .unwrap_or(wanted)
}

/// The corners of a quad of `size` at `at`, turned about the vertical to face `eye` (as the
/// label hangs).
pub(super) fn facing_quad(eye: Vec3, at: Vec3, size: Vec2) -> [Vec3; 4] {
    let towards = Vec3::new(eye.x - at.x, 0.0, eye.z - at.z);
    let rotation = if towards.length_squared() > 1e-6 {
        Quat::from_rotation_arc(Vec3::Z, towards.normalize())
    } else {
        Quat::IDENTITY
    };
    quad_corners(
        &GlobalTransform::from(Transform::from_translation(at).with_rotation(rotation)),
        size,
    )
}

/// A flat screen one metre in front of the eye, looking towards a point.
struct Screen {
    eye: Vec3,
    forward: Vec3,
    right: Vec3,
    up: Vec3,
}

impl Screen {
    fn looking_at(eye: Vec3, target: Vec3) -> Self {
        let forward = (target - eye).try_normalize().unwrap_or(Vec3::NEG_Z);
        let right = forward.cross(Vec3::Y).try_normalize().unwrap_or(Vec3::X);
        Screen {
            eye,
            forward,
            right,
            up: right.cross(forward),
        }
    }

    /// Where a point falls on the screen; `None` behind the eye.
    fn project(&self, point: Vec3) -> Option<Vec2> {
        let d = point - self.eye;
        let depth = d.dot(self.forward);
        (depth > 0.05).then(|| Vec2::new(d.dot(self.right), d.dot(self.up)) / depth)
    }

    /// The rectangle around the corners in front of the eye; `None` if none is.
    fn outline(&self, corners: &[Vec3; 4]) -> Option<Rect> {
        let mut seen = corners.iter().filter_map(|&c| self.project(c));
        let first = seen.next()?;
        Some(seen.fold(Rect::from_corners(first, first), |rect, p| {
            rect.union_point(p)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panel where it floats (at the user's left, below the eyes, turned to them) and a
    /// label over a part straight ahead at its height: seen from the eye they overlap.
    fn floating_panel(eye: Vec3) -> [Vec3; 4] {
        let at = eye + Vec3::new(-0.42, -0.25, -0.7);
        let pose = Transform::from_translation(at)
            .looking_to(-Vec3::new(-0.42, 0.0, -0.7).normalize(), Vec3::Y);
        quad_corners(&GlobalTransform::from(pose), Vec2::splat(0.6))
    }

    fn overlap(eye: Vec3, label_at: Vec3, size: Vec2, panel: &[Vec3; 4]) -> bool {
        let screen = Screen::looking_at(eye, label_at);
        let label = screen.outline(&facing_quad(eye, label_at, size)).unwrap();
        !label.intersect(screen.outline(panel).unwrap()).is_empty()
    }

    #[test]
    fn a_label_behind_the_panel_moves_away_from_it_until_both_are_seen_whole() {
        let eye = Vec3::new(0.0, 1.6, 0.0);
        let panel = floating_panel(eye);
        let size = Vec2::new(0.48, 0.15) * 2.0;
        let wanted = Vec3::new(-1.0, 0.9, -2.0);
        assert!(
            overlap(eye, wanted, size, &panel),
            "the case the issue saw: the label behind the panel"
        );
        let placed = clear_of_panel(eye, wanted, size, &panel);
        assert!(!overlap(eye, placed, size, &panel), "moved clear: {placed}");
        assert!(
            placed.x > wanted.x,
            "to the side away from the panel (the panel is at the left): {placed}"
        );
        assert!(
            placed.distance(wanted) < size.x * 3.0,
            "not further than it needs: {placed}"
        );
    }

    #[test]
    fn a_label_already_clear_of_the_panel_stays_where_it_is() {
        let eye = Vec3::new(0.0, 1.6, 0.0);
        let panel = floating_panel(eye);
        let wanted = Vec3::new(1.0, 1.9, -3.0);
        assert_eq!(
            clear_of_panel(eye, wanted, Vec2::new(0.48, 0.15), &panel),
            wanted
        );
    }

    #[test]
    fn a_panel_behind_the_user_is_no_obstacle() {
        let eye = Vec3::new(0.0, 1.6, 0.0);
        let behind = [
            Vec3::new(-0.3, 1.3, 1.0),
            Vec3::new(0.3, 1.3, 1.0),
            Vec3::new(0.3, 1.9, 1.0),
            Vec3::new(-0.3, 1.9, 1.0),
        ];
        let wanted = Vec3::new(0.0, 1.6, -2.0);
        assert_eq!(
            clear_of_panel(eye, wanted, Vec2::new(0.48, 0.15), &behind),
            wanted
        );
    }
}
