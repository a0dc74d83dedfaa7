//! The line layer (`shaders/lines.wgsl`): σ ellipses, pairing lines, velocity arrows and encoder
//! links, one instanced quad per segment.

use super::quad_pipeline;
use std::ops::Range;

/// One segment from `a` to `b` (data units), its colour blended from `color_a` to `color_b`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Segment {
    pub a: [f32; 2],
    pub b: [f32; 2],
    pub color_a: [u8; 4],
    pub color_b: [u8; 4],
}

pub struct Pipeline(wgpu::RenderPipeline);

impl Pipeline {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat, view: &wgpu::BindGroupLayout) -> Self {
        let source = include_str!("../../../shaders/lines.wgsl");
        let attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x2, 2 => Unorm8x4, 3 => Unorm8x4];
        Self(quad_pipeline::<Segment>(
            device,
            format,
            view,
            "mixflow lines",
            source,
            &attributes,
        ))
    }

    /// Draws the segments with instance indices in `range`.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, segments: &wgpu::Buffer, range: Range<u32>) {
        if range.is_empty() {
            return;
        }
        pass.set_pipeline(&self.0);
        pass.set_vertex_buffer(0, segments.slice(..));
        pass.draw(0..6, range);
    }
}
