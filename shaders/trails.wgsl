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

// Teal for a straight trajectory (shade 0) to red for the most curved (shade 1).
fn curvature_color(shade: f32, alpha: f32) -> vec4<f32> {
    let rgb = mix(vec3<f32>(40.0, 200.0, 190.0), vec3<f32>(240.0, 60.0, 50.0), clamp(shade, 0.0, 1.0)) / 255.0;
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
    @location(3) shade: f32,
) -> TrailOut {
    let corner = segment_corner(vertex);
    let f = progress(times);
    // A step the scrubbed time has not reached has no length, so it draws nothing.
    var out: TrailOut;
    out.position = vec4<f32>(segment_vertex(to_ndc(a), to_ndc(mix(a, b, f)), corner), 0.0, 1.0);
    if view.by_curvature > 0.5 {
        out.color = curvature_color(shade, 0.6);
    } else {
        out.color = time_color(times.x + corner.x * f * (times.y - times.x), 0.45);
    }
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
    // Each particle is drawn by the one step whose span holds the scrubbed time (the last step
    // also holds t = 1); every other step of its trajectory draws an empty quad.
    let holds = view.time >= times.x && (view.time < times.y || (times.y >= 1.0 && view.time >= 1.0));
    let corner = disc_triangle_corner(vertex) * select(0.0, view.point_radius + 0.5, holds);
    var out: TrailOut;
    out.position = vec4<f32>(to_ndc(mix(a, b, progress(times))) + corner * view.pixel, 0.0, 1.0);
    out.color = vec4<f32>(1.0, 1.0, 1.0, 0.9);
    out.corner = corner;
    return out;
}

// A sample: the end of a particle's last step, drawn as the points layer draws its points, in the
// app's sample colour (SAMPLE_COLOR in src/app/scene.rs).
@vertex
fn vs_end(
    @builtin(vertex_index) vertex: u32,
    @location(0) a: vec2<f32>,
    @location(1) b: vec2<f32>,
    @location(2) times: vec2<f32>,
) -> TrailOut {
    let corner = disc_triangle_corner(vertex) * (view.point_radius + 0.5);
    var out: TrailOut;
    out.position = vec4<f32>(to_ndc(b) + corner * view.pixel, 0.0, 1.0);
    out.color = vec4<f32>(vec3<f32>(80.0, 160.0, 255.0) / 255.0, 190.0 / 255.0);
    out.corner = corner;
    return out;
}

@fragment
fn fs_trail(in: TrailOut) -> @location(0) vec4<f32> {
    return vec4<f32>(in.color.rgb * in.color.a, in.color.a);
}

@fragment
fn fs_head(in: TrailOut) -> @location(0) vec4<f32> {
    let color = disc(in.color, in.corner);
    if color.a <= 0.0 {
        discard;
    }
    return color;
}
