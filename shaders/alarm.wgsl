// Alarm and comms-lost looks for bound parts.
//
// - pulse = 1: an unacknowledged alarm. The part breathes in its severity colour (1.2 Hz)
//   with a bright rim, so it draws the eye even at the edge of the screen.
// - pulse = 0: an acknowledged alarm. The same colour, steady: still wrong, already seen.
// - hatch = 1: stale or comms lost. Dark diagonal stripes (over grey, or over the alarm
//   colour): old data must never look like a live reading, nor like an alarm.
//
// Lighting is a fixed key light plus ambient: these parts must read the same from every
// angle, which a physically based look does not give.

#import bevy_pbr::forward_io::VertexOutput
#import bevy_pbr::mesh_view_bindings::{globals, view}

struct AlarmLook {
    color: vec4<f32>,
    pulse: f32,
    hatch: f32,
    _padding: vec2<f32>,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> look: AlarmLook;

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let normal = normalize(in.world_normal);
    let to_eye = normalize(view.world_position.xyz - in.world_position.xyz);
    let key_light = normalize(vec3<f32>(0.4, 1.0, 0.6));
    let diffuse = 0.3 + 0.7 * max(dot(normal, key_light), 0.0);
    let rim = pow(1.0 - clamp(dot(normal, to_eye), 0.0, 1.0), 2.0);
    var rgb = look.color.rgb * diffuse;
    if (look.pulse > 0.5) {
        let wave = 0.5 + 0.5 * sin(globals.time * 6.2831853 * 1.2);
        rgb = rgb * (0.6 + 0.4 * wave) + look.color.rgb * (1.6 * rim + 0.5 * wave);
    } else {
        rgb = rgb + look.color.rgb * 0.4 * rim;
    }
    if (look.hatch > 0.5) {
        // Thin screen-space stripes: the same size at any distance (no moire on a far floor),
        // and light enough that the shading underneath still shows each part's shape.
        let stripe = fract((in.position.x + in.position.y) / 12.0);
        if (stripe < 0.35) {
            rgb = rgb * 0.55;
        }
    }
    return vec4<f32>(rgb, 1.0);
}
