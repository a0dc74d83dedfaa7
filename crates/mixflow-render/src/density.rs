//! The base-density layer (`shaders/density.wgsl`): a Gaussian mixture in the canvas plane,
//! evaluated per pixel in the fragment shader.

use super::{build_pipeline, shader, uniform_entry};

/// Components the shader's uniform holds; more are merged away by keeping the heaviest.
pub const MAX_COMPONENTS: usize = 64;

/// One 2D Gaussian: weight, mean and covariance (xx, xy, yy).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gaussian2 {
    pub weight: f32,
    pub mean: [f32; 2],
    pub cov: [f32; 3],
}

/// What the heat map shows.
#[derive(Clone, Debug, PartialEq)]
pub struct DensityLayer {
    pub components: Vec<Gaussian2>,
    /// Nats below the peak where the colour scale fades out.
    pub range: f32,
    pub opacity: f32,
}

impl DensityLayer {
    /// The mixture's log density at `x` (the same formula as the shader), for tests and readouts.
    pub fn log_density(&self, x: [f32; 2]) -> f32 {
        let terms: Vec<f32> = self.uniform_components().iter().map(|g| g.log_term(x)).collect();
        let best = terms.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        best + terms.iter().map(|t| (t - best).exp()).sum::<f32>().ln()
    }

    fn uniform_components(&self) -> Vec<GaussianUniform> {
        let mut comps: Vec<&Gaussian2> = self.components.iter().filter(|g| g.weight > 0.0).collect();
        comps.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        comps.truncate(MAX_COMPONENTS);
        comps.into_iter().map(GaussianUniform::new).collect()
    }

    /// Log density at the heaviest-peaked component's mean: the top of the colour scale.
    fn log_peak(&self) -> f32 {
        self.components
            .iter()
            .map(|g| self.log_density(g.mean))
            .fold(f32::NEG_INFINITY, f32::max)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct GaussianUniform {
    mean: [f32; 2],
    inv_xx: f32,
    inv_xy: f32,
    inv_yy: f32,
    log_norm: f32,
    _pad: [f32; 2],
}

impl GaussianUniform {
    fn new(g: &Gaussian2) -> Self {
        // Floor the variances so a collapsed component stays a finite, visible spike.
        let (a, b, c) = (g.cov[0].max(1e-8), g.cov[1], g.cov[2].max(1e-8));
        let det = (a * c - b * b).max(1e-16);
        Self {
            mean: g.mean,
            inv_xx: c / det,
            inv_xy: -b / det,
            inv_yy: a / det,
            log_norm: g.weight.ln() - (2.0 * std::f32::consts::PI).ln() - 0.5 * det.ln(),
            _pad: [0.0; 2],
        }
    }

    fn log_term(&self, x: [f32; 2]) -> f32 {
        let d = [x[0] - self.mean[0], x[1] - self.mean[1]];
        let q = self.inv_xx * d[0] * d[0] + 2.0 * self.inv_xy * d[0] * d[1] + self.inv_yy * d[1] * d[1];
        self.log_norm - 0.5 * q
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DensityUniform {
    count: u32,
    log_peak: f32,
    range: f32,
    opacity: f32,
    components: [GaussianUniform; MAX_COMPONENTS],
}

pub struct Pipeline {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
}

pub struct Buffers {
    uniform: wgpu::Buffer,
    group: wgpu::BindGroup,
}

impl Buffers {
    pub fn new(device: &wgpu::Device, pipeline: &Pipeline) -> Self {
        let (uniform, group) = super::uniform::<DensityUniform>(device, &pipeline.layout, "mixflow density");
        Self { uniform, group }
    }

    pub fn upload(&self, queue: &wgpu::Queue, layer: &DensityLayer) {
        let comps = layer.uniform_components();
        let mut uniform = DensityUniform {
            count: comps.len() as u32,
            log_peak: layer.log_peak(),
            range: layer.range.max(0.1),
            opacity: layer.opacity.clamp(0.0, 1.0),
            components: [GaussianUniform::default(); MAX_COMPONENTS],
        };
        uniform.components[..comps.len()].copy_from_slice(&comps);
        queue.write_buffer(&self.uniform, 0, bytemuck::bytes_of(&uniform));
    }
}

impl Pipeline {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat, view: &wgpu::BindGroupLayout) -> Self {
        let module = shader(device, "mixflow density", include_str!("../../../shaders/density.wgsl"));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mixflow density"),
            entries: &[uniform_entry(wgpu::ShaderStages::FRAGMENT)],
        });
        let stages = ("vs_main", "fs_main");
        let groups = [Some(view), Some(&layout)];
        let pipeline = build_pipeline(device, format, "mixflow density", &module, stages, &groups, &[]);
        Self { pipeline, layout }
    }

    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, buffers: &Buffers) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(1, &buffers.group, &[]);
        pass.draw(0..3, 0..1);
    }
}
