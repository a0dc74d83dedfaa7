// Particles (data, samples, base draws): one instanced quad per point, shaded as an
// anti-aliased disc. Colours arrive premultiplied-ready in sRGB bytes, as egui's are.

struct PointOut {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec4<f32>,
    @location(1) corner: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32, @location(0) world: vec2<f32>, @location(1) color: vec4<f32>) -> PointOut {
    // Half a pixel of margin so the disc's anti-aliased edge is not cut by the quad.
    let corner = disc_triangle_corner(vertex) * (view.point_radius + 0.5);
    var out: PointOut;
    out.position = vec4<f32>(to_ndc(world) + corner * view.pixel, 0.0, 1.0);
    out.color = color;
    out.corner = corner;
    return out;
}

@fragment
fn fs_main(in: PointOut) -> @location(0) vec4<f32> {
    let color = disc(in.color, in.corner);
    if color.a <= 0.0 {
        discard;
    }
    return color;
}
