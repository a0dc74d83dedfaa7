// Line segments (sigma ellipses, pairing lines, velocity arrows, encoder links): one instanced
// quad per segment, a constant width in pixels, colour blended from end to end.

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
    let corner = segment_corner(vertex);
    var out: LineOut;
    out.position = vec4<f32>(segment_vertex(to_ndc(a), to_ndc(b), corner), 0.0, 1.0);
    out.color = mix(color_a, color_b, corner.x);
    return out;
}

@fragment
fn fs_main(in: LineOut) -> @location(0) vec4<f32> {
    return vec4<f32>(in.color.rgb * in.color.a, in.color.a);
}
