// The base density as a heat map, evaluated per pixel: a Gaussian mixture (projected to the
// canvas plane) summed with log-sum-exp, shown on a log scale relative to its peak.

struct Gaussian {
    mean: vec2<f32>,
    // The inverse 2x2 covariance (xx, xy, yy) and log(weight / (2 pi sqrt(det))).
    inv_xx: f32,
    inv_xy: f32,
    inv_yy: f32,
    log_norm: f32,
    _pad: vec2<f32>,
};

const MAX_COMPONENTS: u32 = 64u;

struct Density {
    count: u32,
    // Log density at the peak: the top of the colour scale.
    log_peak: f32,
    // How many nats below the peak the scale reaches before fading out.
    range: f32,
    opacity: f32,
    components: array<Gaussian, MAX_COMPONENTS>,
};

@group(1) @binding(0) var<uniform> density: Density;

struct DensityOut {
    @builtin(position) position: vec4<f32>,
    @location(0) ndc: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> DensityOut {
    // One triangle covering the whole viewport.
    let ndc = vec2<f32>(f32((vertex << 1u) & 2u) * 2.0 - 1.0, f32(vertex & 2u) * 2.0 - 1.0);
    var out: DensityOut;
    out.position = vec4<f32>(ndc, 0.0, 1.0);
    out.ndc = ndc;
    return out;
}

fn log_density(x: vec2<f32>) -> f32 {
    var best = -1e30;
    var terms: array<f32, MAX_COMPONENTS>;
    let n = min(density.count, MAX_COMPONENTS);
    for (var k = 0u; k < n; k++) {
        let g = density.components[k];
        let d = x - g.mean;
        let q = g.inv_xx * d.x * d.x + 2.0 * g.inv_xy * d.x * d.y + g.inv_yy * d.y * d.y;
        terms[k] = g.log_norm - 0.5 * q;
        best = max(best, terms[k]);
    }
    var sum = 0.0;
    for (var k = 0u; k < n; k++) {
        sum += exp(terms[k] - best);
    }
    return best + log(sum);
}

// A compact "inferno"-like ramp: black-purple -> red -> yellow.
fn ramp(t: f32) -> vec3<f32> {
    let c0 = vec3<f32>(0.10, 0.03, 0.25);
    let c1 = vec3<f32>(0.75, 0.20, 0.30);
    let c2 = vec3<f32>(0.99, 0.85, 0.30);
    if t < 0.5 {
        return mix(c0, c1, t * 2.0);
    }
    return mix(c1, c2, t * 2.0 - 1.0);
}

@fragment
fn fs_main(in: DensityOut) -> @location(0) vec4<f32> {
    let world = in.ndc / view.scale + view.center;
    let t = clamp(1.0 + (log_density(world) - density.log_peak) / density.range, 0.0, 1.0);
    let alpha = density.opacity * sqrt(t);
    return vec4<f32>(ramp(t) * alpha, alpha);
}
