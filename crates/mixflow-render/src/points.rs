//! The points layer (`shaders/points.wgsl`): data, generated samples and base draws, one
//! instanced quad per point.

use super::quad_pipeline;

/// One point: where it is (data units) and its colour (sRGB bytes, straight alpha).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PointVertex {
    pub pos: [f32; 2],
    pub color: [u8; 4],
}

pub struct Pipeline(wgpu::RenderPipeline);

impl Pipeline {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat, view: &wgpu::BindGroupLayout) -> Self {
        let source = include_str!("../../../shaders/points.wgsl");
        let attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Unorm8x4];
        Self(quad_pipeline::<PointVertex>(
            device,
            format,
            view,
            "mixflow points",
            source,
            &attributes,
        ))
    }

    /// The points in `range` of the buffer.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, points: &wgpu::Buffer, range: std::ops::Range<u32>) {
        if range.is_empty() {
            return;
        }
        pass.set_pipeline(&self.0);
        pass.set_vertex_buffer(0, points.slice(..));
        pass.draw(0..3, range);
    }
}
