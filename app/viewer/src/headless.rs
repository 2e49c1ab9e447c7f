//! An app with what the viewer's data and look plugins need and no window or renderer: the
//! material asset types, assets and transforms. Headless tests and `bench --scene` add
//! twinscope's plugins to it.

use bevy::prelude::*;

use crate::scene::materials::{AlarmMaterial, XRayMaterial};

pub fn headless_app() -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((
            bevy::asset::AssetPlugin::default(),
            bevy::transform::TransformPlugin,
        ))
        .init_asset::<StandardMaterial>()
        .init_asset::<AlarmMaterial>()
        .init_asset::<XRayMaterial>();
    app
}
