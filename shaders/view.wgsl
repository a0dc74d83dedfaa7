// Shared by every layer: how world (data) coordinates map into the canvas.
// ndc = (world - center) * scale; `pixel` is the size of one pixel in NDC units; `time` is the
// scrubbed ODE time in [0, 1].
struct View {
    center: vec2<f32>,
    scale: vec2<f32>,
    pixel: vec2<f32>,
    point_radius: f32,
    line_half_width: f32,
    time: f32,
    // 1: trails coloured by their trajectory's curvature (trails.wgsl), 0: by time.
    by_curvature: f32,
    _pad1: f32,
    _pad2: f32,
};

@group(0) @binding(0) var<uniform> view: View;

fn to_ndc(world: vec2<f32>) -> vec2<f32> {
    return (world - view.center) * view.scale;
}

// Corner `vertex` (0..6) of a quad drawn as two triangles: x in {0, 1} along a segment, y in
// {-1, 1} across it.
fn segment_corner(vertex: u32) -> vec2<f32> {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(0.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(0.0, 1.0),
    );
    return corners[vertex];
}

// Where a segment's quad corner lands (NDC): the segment from pa to pb (NDC), widened to the line
// width in pixels across its direction. A segment of no length has no area and draws nothing.
fn segment_vertex(pa: vec2<f32>, pb: vec2<f32>, corner: vec2<f32>) -> vec2<f32> {
    // The normal is taken in pixel space so the width is the same in every direction.
    let along = (pb - pa) / view.pixel;
    let len = length(along);
    var normal = vec2<f32>(0.0, 0.0);
    if len > 1e-6 {
        normal = vec2<f32>(-along.y, along.x) / len;
    }
    return mix(pa, pb, corner.x) + normal * corner.y * view.line_half_width * view.pixel;
}

// Corner `vertex` (0..3) of one triangle around the unit disc (its incircle), so a point costs
// one triangle, not two: software rasterisers pay per triangle.
fn disc_triangle_corner(vertex: u32) -> vec2<f32> {
    var corners = array<vec2<f32>, 3>(vec2<f32>(0.0, 2.0), vec2<f32>(-1.7320508, -1.0), vec2<f32>(1.7320508, -1.0));
    return corners[vertex];
}

// An anti-aliased disc of radius view.point_radius: `offset` is the fragment's distance from the
// centre in pixels (per axis). Returns the premultiplied colour.
fn disc(color: vec4<f32>, offset: vec2<f32>) -> vec4<f32> {
    let coverage = clamp(view.point_radius + 0.5 - length(offset), 0.0, 1.0);
    let alpha = color.a * coverage;
    return vec4<f32>(color.rgb * alpha, alpha);
}
