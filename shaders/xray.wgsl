// X-ray: everything outside the focused twin turns into a faint glass silhouette, so the
// focused part stands out while its surroundings still give context. Edges (where the
// surface turns away from the eye) are more opaque than faces seen head-on.

#import bevy_pbr::forward_io::VertexOutput
#import bevy_pbr::mesh_view_bindings::view

struct XRay {
    color: vec4<f32>,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> xray: XRay;

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let normal = normalize(in.world_normal);
    let to_eye = normalize(view.world_position.xyz - in.world_position.xyz);
    let edge = pow(1.0 - abs(dot(normal, to_eye)), 2.5);
    let alpha = clamp(xray.color.a + 0.55 * edge, 0.0, 1.0);
    return vec4<f32>(xray.color.rgb * (0.6 + 0.8 * edge), alpha);
}
