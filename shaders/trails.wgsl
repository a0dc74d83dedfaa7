// ODE trajectories and the particles riding them. Each instance is one step of one trajectory,
// from `a` at time `times.x` to `b` at `times.y`. The scrubbed time (view.time) cuts the trails and
// places the particles here on the GPU, so scrubbing and play-back need no CPU work and no upload.

struct TrailOut {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec4<f32>,
    @location(1) corner: vec2<f32>,
};

// Violet at the base (t = 0), yellow at the data (t = 1); the same ramp as the app's legends.
fn time_color(t: f32, alpha: f32) -> vec4<f32> {
    let rgb = mix(vec3<f32>(120.0, 60.0, 220.0), vec3<f32>(250.0, 220.0, 60.0), clamp(t, 0.0, 1.0)) / 255.0;
    return vec4<f32>(rgb, alpha);
}

// How far along this step the scrubbed time is: 0 before it starts, 1 after it ends.
fn progress(times: vec2<f32>) -> f32 {
    return clamp((view.time - times.x) / max(times.y - times.x, 1e-9), 0.0, 1.0);
}

@vertex
fn vs_trail(
    @builtin(vertex_index) vertex: u32,
    @location(0) a: vec2<f32>,
    @location(1) b: vec2<f32>,
    @location(2) times: vec2<f32>,
) -> TrailOut {
    // (t along the segment, side of the centre line) for each vertex of the two triangles.
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(0.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(0.0, 1.0),
    );
    let corner = corners[vertex];
    let f = progress(times);
    let pa = to_ndc(a);
    let pb = to_ndc(mix(a, b, f));
    let along = (pb - pa) / view.pixel;
    let len = length(along);
    var normal = vec2<f32>(0.0, 0.0);
    // A step the scrubbed time has not reached has no length and so no area: nothing is drawn.
    if len > 1e-6 {
        normal = vec2<f32>(-along.y, along.x) / len;
    }
    var out: TrailOut;
    out.position = vec4<f32>(mix(pa, pb, corner.x) + normal * corner.y * view.line_half_width * view.pixel, 0.0, 1.0);
    out.color = time_color(times.x + corner.x * f * (times.y - times.x), 0.45);
    out.corner = vec2<f32>(0.0, 0.0);
    return out;
}

@vertex
fn vs_head(
    @builtin(vertex_index) vertex: u32,
    @location(0) a: vec2<f32>,
    @location(1) b: vec2<f32>,
    @location(2) times: vec2<f32>,
) -> TrailOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, 1.0),
    );
    let corner = corners[vertex];
    // Each particle is drawn by the one step whose span holds the scrubbed time (the last step
    // also holds t = 1); every other step of its trajectory draws an empty quad.
    let holds = view.time >= times.x && (view.time < times.y || (times.y >= 1.0 && view.time >= 1.0));
    let radius = select(0.0, view.point_radius + 0.5, holds);
    var out: TrailOut;
    out.position = vec4<f32>(to_ndc(mix(a, b, progress(times))) + corner * radius * view.pixel, 0.0, 1.0);
    out.color = vec4<f32>(1.0, 1.0, 1.0, 0.9);
    out.corner = corner * radius;
    return out;
}

@fragment
fn fs_trail(in: TrailOut) -> @location(0) vec4<f32> {
    return vec4<f32>(in.color.rgb * in.color.a, in.color.a);
}

@fragment
fn fs_head(in: TrailOut) -> @location(0) vec4<f32> {
    let coverage = clamp(view.point_radius + 0.5 - length(in.corner), 0.0, 1.0);
    if coverage <= 0.0 {
        discard;
    }
    let alpha = in.color.a * coverage;
    return vec4<f32>(in.color.rgb * alpha, alpha);
}
