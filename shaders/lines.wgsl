// Line segments (trajectory trails, sigma ellipses, pairing lines, velocity arrows): one
// instanced quad per segment, a constant width in pixels, colour blended from end to end.

struct LineOut {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec4<f32>,
};

@vertex
fn vs_main(
    @builtin(vertex_index) vertex: u32,
    @location(0) a: vec2<f32>,
    @location(1) b: vec2<f32>,
    @location(2) color_a: vec4<f32>,
    @location(3) color_b: vec4<f32>,
) -> LineOut {
    // (t along the segment, side of the centre line) for each vertex of the two triangles.
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(0.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(0.0, 1.0),
    );
    let corner = corners[vertex];
    let pa = to_ndc(a);
    let pb = to_ndc(b);
    // The normal is taken in pixel space so the width is the same in every direction.
    let along = (pb - pa) / view.pixel;
    let len = length(along);
    var normal = vec2<f32>(0.0, 1.0);
    if len > 1e-6 {
        normal = vec2<f32>(-along.y, along.x) / len;
    }
    var out: LineOut;
    out.position = vec4<f32>(mix(pa, pb, corner.x) + normal * corner.y * view.line_half_width * view.pixel, 0.0, 1.0);
    out.color = mix(color_a, color_b, corner.x);
    return out;
}

@fragment
fn fs_main(in: LineOut) -> @location(0) vec4<f32> {
    return vec4<f32>(in.color.rgb * in.color.a, in.color.a);
}
