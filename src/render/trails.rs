//! The trajectory layer (`shaders/trails.wgsl`): every step of every traced trajectory with its
//! start and end time. The shader cuts the trails at the scrubbed time and draws each particle
//! where it is at that time, so scrubbing and play-back change one uniform, not the buffers.

use super::{build_pipeline, shader};
use eframe::wgpu;

/// One step of a trajectory: from `a` at time `t[0]` to `b` at time `t[1]` (data units).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct TrailSegment {
    pub a: [f32; 2],
    pub b: [f32; 2],
    pub t: [f32; 2],
}

pub struct Pipeline {
    trails: wgpu::RenderPipeline,
    heads: wgpu::RenderPipeline,
}

impl Pipeline {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat, view: &wgpu::BindGroupLayout) -> Self {
        let module = shader(device, "mixflow trails", include_str!("../../shaders/trails.wgsl"));
        let attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x2, 2 => Float32x2];
        let buffer = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<TrailSegment>() as u64,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &attributes,
        };
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
        }
    }

    /// The trails up to the scrubbed time.
    pub fn draw_trails(&self, pass: &mut wgpu::RenderPass<'_>, segments: &wgpu::Buffer, count: u32) {
        pass.set_pipeline(&self.trails);
        pass.set_vertex_buffer(0, segments.slice(..));
        pass.draw(0..6, 0..count);
    }

    /// The particles at the scrubbed time.
    pub fn draw_heads(&self, pass: &mut wgpu::RenderPass<'_>, segments: &wgpu::Buffer, count: u32) {
        pass.set_pipeline(&self.heads);
        pass.set_vertex_buffer(0, segments.slice(..));
        pass.draw(0..6, 0..count);
    }
}
