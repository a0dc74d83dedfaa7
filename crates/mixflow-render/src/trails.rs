//! The trajectory layer (`shaders/trails.wgsl`): every step of every traced trajectory with its
//! start and end time. The shader cuts the trails at the scrubbed time and draws each particle
//! where it is at that time, so scrubbing and play-back change one uniform, not the buffers. The
//! last step's ends are the samples, drawn from the same buffer when the GPU advected them.

use super::{build_pipeline, instanced, shader};
use std::ops::Range;

/// One step of a trajectory: from `a` at time `t[0]` to `b` at time `t[1]` (data units), and the
/// trajectory's shade in [0, 1] (its curvature on the scene's scale) for trails coloured by
/// curvature. 32 bytes: `shaders/advect.wgsl` writes the same struct, which WGSL pads to 8.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct TrailSegment {
    pub a: [f32; 2],
    pub b: [f32; 2],
    pub t: [f32; 2],
    pub shade: f32,
    _pad: f32,
}

impl TrailSegment {
    pub fn new(a: [f32; 2], b: [f32; 2], t: [f32; 2]) -> Self {
        Self::shaded(a, b, t, 0.0)
    }

    pub fn shaded(a: [f32; 2], b: [f32; 2], t: [f32; 2], shade: f32) -> Self {
        Self {
            a,
            b,
            t,
            shade,
            _pad: 0.0,
        }
    }
}

/// What colours the trails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrailColour {
    /// Violet at the base (t = 0) to yellow at the data (t = 1).
    #[default]
    Time,
    /// Each trajectory by its shade: teal when straight to red when most curved.
    Curvature,
}

pub struct Pipeline {
    trails: wgpu::RenderPipeline,
    heads: wgpu::RenderPipeline,
    ends: wgpu::RenderPipeline,
}

impl Pipeline {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat, view: &wgpu::BindGroupLayout) -> Self {
        let module = shader(device, "mixflow trails", include_str!("../../../shaders/trails.wgsl"));
        let attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x2, 2 => Float32x2, 3 => Float32];
        let buffer = instanced::<TrailSegment>(&attributes);
        let build = |label, vs, fs| {
            build_pipeline(
                device,
                format,
                label,
                &module,
                (vs, fs),
                &[Some(view)],
                &[Some(buffer.clone())],
            )
        };
        Self {
            trails: build("mixflow trails", "vs_trail", "fs_trail"),
            heads: build("mixflow trail heads", "vs_head", "fs_head"),
            ends: build("mixflow trail ends", "vs_end", "fs_head"),
        }
    }

    /// The trails up to the scrubbed time, from the segments in `range`.
    pub fn draw_trails(&self, pass: &mut wgpu::RenderPass<'_>, segments: &wgpu::Buffer, range: Range<u32>) {
        Self::draw(&self.trails, pass, segments, 6, range);
    }

    /// The particles at the scrubbed time, from the segments in `range` (the step holding it).
    pub fn draw_heads(&self, pass: &mut wgpu::RenderPass<'_>, segments: &wgpu::Buffer, range: Range<u32>) {
        // One triangle per particle (shaders/view.wgsl's disc_triangle_corner).
        Self::draw(&self.heads, pass, segments, 3, range);
    }

    /// The ends of the segments in `range` (the last step's) as samples, whatever the time.
    pub fn draw_ends(&self, pass: &mut wgpu::RenderPass<'_>, segments: &wgpu::Buffer, range: Range<u32>) {
        Self::draw(&self.ends, pass, segments, 3, range);
    }

    fn draw(
        pipeline: &wgpu::RenderPipeline,
        pass: &mut wgpu::RenderPass<'_>,
        segments: &wgpu::Buffer,
        vertices: u32,
        range: Range<u32>,
    ) {
        if range.is_empty() {
            return;
        }
        pass.set_pipeline(pipeline);
        pass.set_vertex_buffer(0, segments.slice(..));
        pass.draw(0..vertices, range);
    }
}
