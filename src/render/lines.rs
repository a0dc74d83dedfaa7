//! The line layer (`shaders/lines.wgsl`): σ ellipses, pairing lines, velocity arrows and encoder
//! links, one instanced quad per segment.

use super::{build_pipeline, instanced, shader};
use eframe::wgpu;
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
        let module = shader(device, "mixflow lines", include_str!("../../shaders/lines.wgsl"));
        let attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x2, 2 => Unorm8x4, 3 => Unorm8x4];
        let buffer = instanced::<Segment>(&attributes);
        let label = "mixflow lines";
        Self(build_pipeline(
            device,
            format,
            label,
            &module,
            ("vs_main", "fs_main"),
            &[Some(view)],
            &[Some(buffer)],
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
