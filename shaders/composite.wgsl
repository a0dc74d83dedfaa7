// A cached layer (premultiplied colour, drawn at the canvas's own pixel size) laid over the
// canvas with one triangle covering the viewport: pixel for pixel, no filtering.

@group(0) @binding(0) var layer: texture_2d<f32>;

struct CompositeOut {
    @builtin(position) position: vec4<f32>,
    // Where in the layer this fragment is, 0..1 from the top left.
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> CompositeOut {
    let ndc = vec2<f32>(f32((vertex << 1u) & 2u) * 2.0 - 1.0, f32(vertex & 2u) * 2.0 - 1.0);
    var out: CompositeOut;
    out.position = vec4<f32>(ndc, 0.0, 1.0);
    out.uv = vec2<f32>(ndc.x * 0.5 + 0.5, 0.5 - ndc.y * 0.5);
    return out;
}

@fragment
fn fs_main(in: CompositeOut) -> @location(0) vec4<f32> {
    let size = textureDimensions(layer);
    let texel = min(vec2<u32>(in.uv * vec2<f32>(size)), size - vec2<u32>(1u, 1u));
    return textureLoad(layer, texel, 0);
}
