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
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
};

@group(0) @binding(0) var<uniform> view: View;

fn to_ndc(world: vec2<f32>) -> vec2<f32> {
    return (world - view.center) * view.scale;
}
