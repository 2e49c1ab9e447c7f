//! twinscope's own materials, with their WGSL in the top-level `shaders/` folder:
//! [`AlarmMaterial`] (pulsing unacknowledged alarms, steady acknowledged ones, hatched stale
//! parts) and [`XRayMaterial`] (translucent context around a focused twin).
//!
//! The shaders are compiled into the binary, so the viewer runs from any working directory.

use bevy::asset::uuid_handle;
use bevy::prelude::*;
use bevy::render::render_resource::AsBindGroup;
use bevy::shader::ShaderRef;

const ALARM_SHADER: Handle<Shader> = uuid_handle!("6f6a3c52-93a1-4d0e-a0c7-5b1b1f0d2a11");
const XRAY_SHADER: Handle<Shader> = uuid_handle!("0f8e2d9c-7c44-4b52-9a43-1c3e55f0b7a2");

/// Registers the materials and their shaders with the renderer.
pub struct TwinscopeMaterialsPlugin;

impl Plugin for TwinscopeMaterialsPlugin {
    fn build(&self, app: &mut App) {
        let mut shaders = app.world_mut().resource_mut::<Assets<Shader>>();
        let alarm = Shader::from_wgsl(
            include_str!("../../../../shaders/alarm.wgsl"),
            "shaders/alarm.wgsl",
        );
        let xray = Shader::from_wgsl(
            include_str!("../../../../shaders/xray.wgsl"),
            "shaders/xray.wgsl",
        );
        // Inserting under a fixed id cannot fail for a fresh asset collection.
        let _ = shaders.insert(ALARM_SHADER.id(), alarm);
        let _ = shaders.insert(XRAY_SHADER.id(), xray);
        app.add_plugins((
            MaterialPlugin::<AlarmMaterial>::default(),
            MaterialPlugin::<XRayMaterial>::default(),
        ));
    }
}

/// A part in alarm (pulsing while unacknowledged) or stale (hatched).
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct AlarmMaterial {
    #[uniform(0)]
    pub color: LinearRgba,
    /// 1 pulses (unacknowledged), 0 steady.
    #[uniform(0)]
    pub pulse: f32,
    /// 1 draws comms-lost stripes.
    #[uniform(0)]
    pub hatch: f32,
    #[uniform(0)]
    pub _padding: Vec2,
}

impl AlarmMaterial {
    pub fn new(color: Color, pulse: bool, hatch: bool) -> Self {
        AlarmMaterial {
            color: color.to_linear(),
            pulse: pulse as u8 as f32,
            hatch: hatch as u8 as f32,
            _padding: Vec2::ZERO,
        }
    }
}

impl Material for AlarmMaterial {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(ALARM_SHADER)
    }
}

/// The translucent look of everything outside the focus in x-ray mode.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct XRayMaterial {
    #[uniform(0)]
    pub color: LinearRgba,
}

impl Material for XRayMaterial {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(XRAY_SHADER)
    }

    fn alpha_mode(&self) -> AlphaMode {
        AlphaMode::Blend
    }
}
