//! `--offscreen`: the desktop viewer with no window, its camera drawing into an image of the
//! window's size. For machines with a GPU and no display (a GPU server, where neither a window
//! nor Xvfb can present with the GPU's driver): the soak benchmark runs the whole renderer
//! there. Frames run as fast as the machine allows, so the frame times printed at exit are the
//! viewer's own cost, not a display's refresh.

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;

/// Creates the image the viewer's cameras draw into (add it after `DefaultPlugins`, given
/// with no primary window and without winit).
pub struct OffscreenPlugin {
    /// The image's size in pixels (`--window-size`).
    pub size: UVec2,
}

/// The image the viewer draws into instead of a window; screenshots are taken of it.
#[derive(Resource, Clone, Debug)]
pub struct OffscreenTarget {
    pub image: Handle<Image>,
}

impl Plugin for OffscreenPlugin {
    fn build(&self, app: &mut App) {
        let size = self.size.max(UVec2::ONE);
        let target = Image::new_target_texture(
            size.x,
            size.y,
            TextureFormat::Rgba8Unorm,
            Some(TextureFormat::Rgba8UnormSrgb),
        );
        let image = app.world_mut().resource_mut::<Assets<Image>>().add(target);
        app.insert_resource(OffscreenTarget { image })
            .add_observer(draw_into_the_image);
    }
}

/// Every camera the desktop viewer spawns for its window (the orbit camera, and the panels'
/// camera over it) draws into the image instead, from its first frame.
fn draw_into_the_image(
    camera: On<Add, Camera>,
    mut commands: Commands,
    target: Res<OffscreenTarget>,
) {
    commands
        .entity(camera.entity)
        .insert(RenderTarget::Image(target.image.clone().into()));
}
