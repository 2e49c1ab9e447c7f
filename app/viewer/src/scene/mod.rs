//! The 3D scene: the plant's glTF model loaded and its nodes bound to twins, how each part
//! looks for its twin's state, where the camera is, what is selected and focused, and
//! pictures of it (`--screenshot`, `--offscreen`).
//!
//! ```text
//! binding (glTF nodes ↔ twins)  ─▶ visuals (looks, with materials) ◀─ focus, see_through
//! model_load (load progress)       selection (one shared selection)    camera (orbit, fly-to)
//! capture (--screenshot, --exit-after), offscreen (no window)
//! ```

pub mod binding;
pub mod camera;
pub mod capture;
pub mod focus;
pub mod materials;
pub mod model_load;
pub mod offscreen;
pub mod see_through;
pub mod selection;
pub mod visuals;
