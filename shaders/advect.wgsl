// Particle advection through the trained velocity MLP, fused: one dispatch is one Euler step
// x <- x + v(x, t_k) dt, one invocation one particle evaluating every layer itself, and the step
// is written as a trail segment straight into the vertex buffer that trails.wgsl draws. (Several
// steps in one invocation stopped after two steps on lavapipe, so the host dispatches per step.)
// Time and conditioning are folded into one first-layer bias per step on the CPU (FlatField in
// src/nn.rs), so the kernel multiplies x alone. The layout of `net` is FlatField::net's.

const MAX_WIDTH: u32 = 256u;
const MAX_DIM: u32 = 8u;

struct Params {
    particles: u32,
    dim: u32,
    width: u32,
    hidden_layers: u32,
    // The Euler step this dispatch takes, of `total_steps`.
    step: u32,
    total_steps: u32,
    _pad: vec2<u32>,
};

// A trail segment (TrailSegment in crates/mixflow-render/src/trails.rs): from a at t.x to b at
// t.y, drawn units, and the shade of trails coloured by curvature (none here: advected trails are
// coloured by time; the app integrates on the CPU to colour by curvature).
struct Segment {
    a: vec2<f32>,
    b: vec2<f32>,
    t: vec2<f32>,
    shade: f32,
    _pad: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> net: array<f32>;
@group(0) @binding(2) var<storage, read> step_bias: array<f32>;
// The drawn plane: rows 0 and 1 of a 2 × dim map from model space, then its 2 offsets.
@group(0) @binding(3) var<storage, read> plane: array<f32>;
// Particle positions in model space [particles × dim], carried between dispatches.
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> segments: array<Segment>;

fn silu(x: f32) -> f32 {
    return x / (1.0 + exp(-x));
}

fn drawn(x: array<f32, MAX_DIM>) -> vec2<f32> {
    let d = params.dim;
    var p = vec2<f32>(plane[2u * d], plane[2u * d + 1u]);
    for (var i = 0u; i < d; i++) {
        p += x[i] * vec2<f32>(plane[i], plane[d + i]);
    }
    return p;
}

@compute @workgroup_size(64)
fn advect(@builtin(global_invocation_id) id: vec3<u32>) {
    let particle = id.x;
    if particle >= params.particles {
        return;
    }
    let d = params.dim;
    let w = params.width;
    var x: array<f32, MAX_DIM>;
    for (var i = 0u; i < d; i++) {
        x[i] = state[particle * d + i];
    }
    var h: array<f32, MAX_WIDTH>;
    var g: array<f32, MAX_WIDTH>;
    let dt = 1.0 / f32(params.total_steps);
    let step = params.step;
    // First layer: x's rows of the weight, the step's folded bias.
    for (var j = 0u; j < w; j++) {
        var acc = step_bias[step * w + j];
        for (var i = 0u; i < d; i++) {
            acc += x[i] * net[i * w + j];
        }
        h[j] = silu(acc);
    }
    var offset = d * w;
    for (var layer = 1u; layer < params.hidden_layers; layer++) {
        for (var j = 0u; j < w; j++) {
            var acc = net[offset + w * w + j];
            for (var i = 0u; i < w; i++) {
                acc += h[i] * net[offset + i * w + j];
            }
            g[j] = silu(acc);
        }
        for (var j = 0u; j < w; j++) {
            h[j] = g[j];
        }
        offset += w * w + w;
    }
    var next: array<f32, MAX_DIM>;
    for (var o = 0u; o < d; o++) {
        var acc = net[offset + w * d + o];
        for (var i = 0u; i < w; i++) {
            acc += h[i] * net[offset + i * d + o];
        }
        next[o] = x[o] + acc * dt;
    }
    let t = f32(step) * dt;
    segments[step * params.particles + particle] = Segment(drawn(x), drawn(next), vec2<f32>(t, t + dt), 0.0, 0.0);
    for (var i = 0u; i < d; i++) {
        state[particle * d + i] = next[i];
    }
}
