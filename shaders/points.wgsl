// Particles (data, samples, base draws): one instanced quad per point, shaded as an
// anti-aliased disc. Colours arrive premultiplied-ready in sRGB bytes, as egui's are.

struct PointOut {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec4<f32>,
    @location(1) corner: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32, @location(0) world: vec2<f32>, @location(1) color: vec4<f32>) -> PointOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, 1.0),
    );
    let corner = corners[vertex];
    // Half a pixel of margin so the disc's anti-aliased edge is not cut by the quad.
    let radius = view.point_radius + 0.5;
    var out: PointOut;
    out.position = vec4<f32>(to_ndc(world) + corner * radius * view.pixel, 0.0, 1.0);
    out.color = color;
    out.corner = corner * radius;
    return out;
}

@fragment
fn fs_main(in: PointOut) -> @location(0) vec4<f32> {
    let coverage = clamp(view.point_radius + 0.5 - length(in.corner), 0.0, 1.0);
    if coverage <= 0.0 {
        discard;
    }
    let alpha = in.color.a * coverage;
    return vec4<f32>(in.color.rgb * alpha, alpha);
}
