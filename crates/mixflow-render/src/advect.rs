//! The particle-advection compute pass (`shaders/advect.wgsl`): base samples carried through the
//! trained velocity MLP by Euler steps on the GPU, each step written as a [`TrailSegment`] into a
//! buffer that is also the trails layer's vertex buffer, so sampling for display never reads back
//! to the CPU. The network arrives flattened ([`FlatField`]); `Sampler::flat_field` makes it.

use super::TrailSegment;
use mixflow_core::nn::{FlatField, ShaderLimits};

/// The widest hidden layer and the most dimensions the kernel's private arrays hold.
pub const LIMITS: ShaderLimits = ShaderLimits {
    max_width: 256,
    max_dim: 8,
};
const WORKGROUP: u32 = 64;
/// Every step's parameters sit at their own offset of one uniform buffer (bound with a dynamic
/// offset), so all the steps of an advection are recorded into one command buffer.
const PARAMS_STRIDE: u64 = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    particles: u32,
    dim: u32,
    width: u32,
    hidden_layers: u32,
    step: u32,
    total_steps: u32,
    _pad: [u32; 2],
}

/// A 2 × dim affine map from model space to the drawn plane (data units, projected).
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    pub rows: [Vec<f32>; 2],
    pub offset: [f32; 2],
}

impl Plane {
    /// The first two coordinates, mapped from the [-1, 1]-scaled model space to data units
    /// when the model trains scaled (`lo`, `hi`: the scaler's bounds), as-is otherwise.
    pub fn first_axes(dim: usize, scale: Option<(&[f32], &[f32])>) -> Self {
        let mut rows = [vec![0.0; dim], vec![0.0; dim]];
        let mut offset = [0.0; 2];
        for axis in 0..2.min(dim) {
            let (a, c) = match scale {
                // x = lo + (y + 1) · (hi - lo) / 2
                Some((lo, hi)) => ((hi[axis] - lo[axis]) / 2.0, lo[axis] + (hi[axis] - lo[axis]) / 2.0),
                None => (1.0, 0.0),
            };
            rows[axis][axis] = a;
            offset[axis] = c;
        }
        Self { rows, offset }
    }
}

/// What the trails layer advects: the field, the base draws (model space, [n × dim], row-major)
/// and the plane they are drawn in.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub field: FlatField,
    pub x0: Vec<f32>,
    pub plane: Plane,
}

/// Why the advection pass cannot take a job.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AdvectError {
    #[error(
        "the advection shader takes widths up to {} and 1 to {} dimensions, not width {width} in {dim} dimensions",
        LIMITS.max_width,
        LIMITS.max_dim
    )]
    Network { width: usize, dim: usize },
    #[error("advection needs whole points of {0} coordinates and a plane over them")]
    Points(usize),
    #[error("{particles} particles × {steps} steps do not fit one GPU buffer ({bytes} bytes)")]
    TooLarge { particles: usize, steps: usize, bytes: u64 },
}

impl Job {
    /// Refuses what the kernel cannot take, so that the renderer never meets it.
    pub fn new(field: FlatField, x0: Vec<f32>, plane: Plane) -> Result<Self, AdvectError> {
        takes(&field)?;
        let dim = field.dim;
        if x0.is_empty() || !x0.len().is_multiple_of(dim) || plane.rows.iter().any(|r| r.len() != dim) {
            return Err(AdvectError::Points(dim));
        }
        Ok(Self { field, x0, plane })
    }
}

/// Whether the kernel takes this network (its private arrays are sized at compile time).
pub fn takes(field: &FlatField) -> Result<(), AdvectError> {
    if !LIMITS.fits(field) {
        return Err(AdvectError::Network {
            width: field.width,
            dim: field.dim,
        });
    }
    Ok(())
}

/// The bytes of the trails buffer of `particles` advected for `steps` steps, which must fit one
/// storage binding of the device.
pub fn trail_bytes(particles: usize, steps: usize) -> u64 {
    (particles * steps * std::mem::size_of::<TrailSegment>()) as u64
}

/// The compiled kernel.
pub struct Advection {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// One set of particles on its way: the buffers of one advection, and where it has got to.
pub struct Particles {
    bind_group: wgpu::BindGroup,
    /// [steps × particles] segments, step by step: the trails layer draws it as it is.
    pub segments: wgpu::Buffer,
    pub particles: u32,
    pub total_steps: u32,
    pub steps_done: u32,
}

impl Advection {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("mixflow advect"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../../shaders/advect.wgsl").into()),
        });
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty,
            count: None,
        };
        let storage = |read_only| wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        let uniform = wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: true,
            min_binding_size: wgpu::BufferSize::new(std::mem::size_of::<Params>() as u64),
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mixflow advect"),
            entries: &[
                entry(0, uniform),
                entry(1, storage(true)),
                entry(2, storage(true)),
                entry(3, storage(true)),
                entry(4, storage(false)),
                entry(5, storage(false)),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("mixflow advect"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("mixflow advect"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("advect"),
            compilation_options: Default::default(),
            cache: None,
        });
        Self { pipeline, layout }
    }

    /// Uploads a job's field and base draws; nothing runs until [`Self::encode`]. Fails only
    /// when the trails would not fit one buffer of this device.
    pub fn prepare(&self, device: &wgpu::Device, queue: &wgpu::Queue, job: &Job) -> Result<Particles, AdvectError> {
        let (field, x0, plane) = (&job.field, &job.x0, &job.plane);
        let n = x0.len() / field.dim;
        let bytes = trail_bytes(n, field.steps);
        if bytes > device.limits().max_storage_buffer_binding_size {
            return Err(AdvectError::TooLarge {
                particles: n,
                steps: field.steps,
                bytes,
            });
        }
        // Written through the queue, not mapped at creation: a browser's WebGPU (Chromium's, seen
        // here) refuses mapped-at-creation buffers of a network's size.
        let upload = |label, contents: &[u8], usage| {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: contents.len() as u64,
                usage: usage | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            queue.write_buffer(&buffer, 0, contents);
            buffer
        };
        let storage = |label, contents: &[f32], usage| {
            upload(
                label,
                bytemuck::cast_slice(contents),
                wgpu::BufferUsages::STORAGE | usage,
            )
        };
        let mut plane_data = plane.rows[0].clone();
        plane_data.extend(&plane.rows[1]);
        plane_data.extend(plane.offset);
        let net = storage("mixflow advect net", &field.net, wgpu::BufferUsages::empty());
        let step_bias = storage("mixflow advect bias", &field.step_bias, wgpu::BufferUsages::empty());
        let plane = storage("mixflow advect plane", &plane_data, wgpu::BufferUsages::empty());
        let state = storage("mixflow advect state", x0, wgpu::BufferUsages::COPY_SRC);
        let segments = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("mixflow advected trails"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut params = vec![0u8; field.steps * PARAMS_STRIDE as usize];
        for (step, slot) in params.chunks_mut(PARAMS_STRIDE as usize).enumerate() {
            let p = Params {
                particles: n as u32,
                dim: field.dim as u32,
                width: field.width as u32,
                hidden_layers: field.hidden_layers as u32,
                step: step as u32,
                total_steps: field.steps as u32,
                _pad: [0; 2],
            };
            slot[..std::mem::size_of::<Params>()].copy_from_slice(bytemuck::bytes_of(&p));
        }
        let params = upload("mixflow advect params", &params, wgpu::BufferUsages::UNIFORM);
        let params = wgpu::BufferBinding {
            buffer: &params,
            offset: 0,
            size: wgpu::BufferSize::new(std::mem::size_of::<Params>() as u64),
        };
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(params),
        }];
        entries.extend(
            [&net, &step_bias, &plane, &state, &segments]
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: b.as_entire_binding(),
                }),
        );
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("mixflow advect"),
            layout: &self.layout,
            entries: &entries,
        });
        Ok(Particles {
            bind_group,
            segments,
            particles: n as u32,
            total_steps: field.steps as u32,
            steps_done: 0,
        })
    }

    /// Records the next `steps` Euler steps (at most those left), one dispatch each, in one pass.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder, p: &mut Particles, steps: u32) {
        let end = (p.steps_done + steps).min(p.total_steps);
        if p.steps_done >= end {
            return;
        }
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("mixflow advect"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        for step in p.steps_done..end {
            pass.set_bind_group(0, &p.bind_group, &[step * PARAMS_STRIDE as u32]);
            pass.dispatch_workgroups(p.particles.div_ceil(WORKGROUP), 1, 1);
        }
        p.steps_done = end;
    }

    /// Runs every step left in one submission and waits for the GPU.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run(&self, device: &wgpu::Device, queue: &wgpu::Queue, p: &mut Particles) {
        let mut encoder = device.create_command_encoder(&Default::default());
        self.encode(&mut encoder, p, u32::MAX);
        queue.submit([encoder.finish()]);
        let _ = device.poll(wgpu::PollType::wait_indefinitely());
    }
}

/// Reads a GPU buffer back (tests and benchmarks only: the display never does).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_buffer<T: bytemuck::Pod>(device: &wgpu::Device, queue: &wgpu::Queue, buffer: &wgpu::Buffer) -> Vec<T> {
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("mixflow readback"),
        size: buffer.size(),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
    queue.submit([encoder.finish()]);
    let slice = staging.slice(..);
    slice.map_async(wgpu::MapMode::Read, |_| {});
    let _ = device.poll(wgpu::PollType::wait_indefinitely());
    let data = bytemuck::cast_slice(&slice.get_mapped_range().expect("mapped above")).to_vec();
    staging.unmap();
    data
}
