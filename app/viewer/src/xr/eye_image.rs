//! `--screenshot FILE` in headset mode: what the left eye sees, saved as PNG shortly before
//! the session ends. A spectator camera follows the left eye's pose (same position and
//! direction, a 90° field of view) and renders the same world into an image; the headset's
//! swapchain itself belongs to the runtime.

use std::path::PathBuf;
use std::time::Duration;

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy_mod_xr::camera::XrCamera;

/// Renders and saves the left eye's view.
pub struct XrEyeImagePlugin {
    pub path: PathBuf,
    /// How long after the session started running to take the image.
    pub at: Duration,
}

/// The eye image being made; the session is not ended before it is written.
#[derive(Resource)]
pub struct EyeImage {
    path: PathBuf,
    at: Duration,
    target: Option<Handle<Image>>,
    requested: bool,
    running_frames: u64,
    pub written: bool,
}

#[derive(Component)]
struct SpectatorCamera;

/// The side of the square eye image, in pixels.
const SIDE: u32 = 1024;

impl Plugin for XrEyeImagePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(EyeImage {
            path: self.path.clone(),
            at: self.at,
            target: None,
            requested: false,
            running_frames: 0,
            written: false,
        })
        .add_systems(Startup, spawn_spectator_camera)
        .add_systems(Update, (follow_the_left_eye, take_the_image).chain());
    }
}

fn spawn_spectator_camera(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut eye: ResMut<EyeImage>,
) {
    let image = Image::new_target_texture(
        SIDE,
        SIDE,
        TextureFormat::Rgba8Unorm,
        Some(TextureFormat::Rgba8UnormSrgb),
    );
    let handle = images.add(image);
    commands.spawn((
        Camera3d::default(),
        Camera {
            order: -1,
            ..default()
        },
        RenderTarget::Image(handle.clone().into()),
        Projection::Perspective(PerspectiveProjection {
            fov: std::f32::consts::FRAC_PI_2,
            ..default()
        }),
        SpectatorCamera,
        Name::new("spectator-left-eye"),
    ));
    eye.target = Some(handle);
}

fn follow_the_left_eye(
    eyes: Query<(&XrCamera, &GlobalTransform)>,
    mut spectator: Query<&mut Transform, With<SpectatorCamera>>,
    mut eye: ResMut<EyeImage>,
) {
    let Some((_, left)) = eyes.iter().find(|(camera, _)| camera.0 == 0) else {
        return;
    };
    eye.running_frames += 1;
    if let Ok(mut transform) = spectator.single_mut() {
        *transform = left.compute_transform();
    }
}

#[allow(clippy::too_many_arguments)]
fn take_the_image(
    mut commands: Commands,
    time: Res<Time<Real>>,
    mut eye: ResMut<EyeImage>,
    mut started: Local<Option<f64>>,
    spectator: Query<(&Camera, &GlobalTransform), With<SpectatorCamera>>,
    surfaces: (
        Option<Res<super::label::PartLabel>>,
        Option<Res<super::panel::XrPanel>>,
    ),
    poses: Query<(&GlobalTransform, &InheritedVisibility)>,
    session: (
        Option<Res<crate::session::Participants>>,
        Option<Res<crate::store::sync::TwinState>>,
    ),
) {
    if eye.requested || eye.running_frames == 0 {
        return;
    }
    let now = time.elapsed_secs_f64();
    let since = *started.get_or_insert(now);
    if now - since < eye.at.as_secs_f64() {
        return;
    }
    let Some(target) = eye.target.clone() else {
        return;
    };
    eye.requested = true;
    let path = eye.path.clone();
    if let Ok((camera, at)) = spectator.single() {
        let on_screen = |surface: Option<Entity>, corners: fn(&GlobalTransform) -> [Vec3; 4]| {
            let (pose, visible) = poses.get(surface?).ok()?;
            visible.get().then_some(())?;
            let points: Vec<Vec2> = corners(pose)
                .iter()
                .filter_map(|&c| camera.world_to_viewport(at, c).ok())
                .collect();
            (points.len() == 4).then(|| {
                points
                    .iter()
                    .fold(Rect::from_corners(points[0], points[0]), |r, &p| {
                        r.union_point(p)
                    })
            })
        };
        let label = on_screen(
            surfaces.0.map(|l| l.surface),
            super::label::PartLabel::corners,
        );
        let panel = on_screen(
            surfaces.1.map(|p| p.surface),
            super::panel::XrPanel::corners,
        );
        eprintln!(
            "xr: in the eye image, label {} ; panel {}",
            pixels(label),
            pixels(panel)
        );
        if let (Some(participants), Some(state)) = session {
            for participant in &participants.others {
                let seen = participant
                    .head
                    .and_then(|head| {
                        crate::session::panel::screen_place(camera, at, head.translation)
                    })
                    .is_some_and(|(_, in_view)| in_view);
                let view = if seen { "in view" } else { "out of view" };
                eprintln!(
                    "xr: in the eye image, {view}: {}",
                    crate::session::shown(participant, &state.store)
                );
            }
        }
    }
    commands.spawn(Screenshot::image(target)).observe(
        move |captured: On<ScreenshotCaptured>, mut eye: ResMut<EyeImage>| {
            crate::scene::capture::save_png(&captured.image, &path);
            eye.written = true;
        },
    );
}

/// A screen rectangle as `x0,y0,x1,y1` in pixels (what tests read), or `not shown`.
fn pixels(rect: Option<Rect>) -> String {
    match rect {
        Some(r) => format!(
            "{:.0},{:.0},{:.0},{:.0}",
            r.min.x, r.min.y, r.max.x, r.max.y
        ),
        None => "not shown".to_owned(),
    }
}
