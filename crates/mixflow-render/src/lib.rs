//! GPU drawing of the canvas, with wgpu alone: a [`Scene`] (plain vertex data in data
//! coordinates, built by the app from a view of the model) is uploaded once per change and drawn
//! every frame by four layer pipelines (density heat map, line segments, trajectory trails with
//! their particles, points) whose shaders live in the top-level `shaders/`; what does not move with
//! the scrubbed time is cached in textures ([`layers`]). The same [`GpuScene`] draws inside the
//! app's window (its egui paint callback) and into an offscreen image for tests
//! ([`offscreen::render`]); [`advect`] is the compute pass that carries particles on the GPU.
//! This crate knows nothing of egui or of training: it draws what it is given.

pub mod advect;
mod density;
mod layers;
mod lines;
#[cfg(not(target_arch = "wasm32"))]
pub mod offscreen;
mod points;
mod trails;

pub use density::{DensityLayer, Gaussian2};
pub use lines::Segment;
pub use points::PointVertex;
pub use trails::{TrailColour, TrailSegment};

use std::ops::Range;
use std::sync::Arc;

/// Everything one canvas draws, in data coordinates. Layers are drawn in this order: density,
/// `under` segments, trails, points, particles on the trails, `over` segments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    pub density: Option<DensityLayer>,
    pub under: Vec<Segment>,
    /// Every step of the traced trajectories, step by step: the segments of step k (from
    /// `trail_times[k]` to `trail_times[k + 1]`) are one block of equal length. The scrubbed time
    /// decides what is drawn.
    pub trails: Vec<TrailSegment>,
    pub trail_times: Vec<f32>,
    pub show_trails: bool,
    /// The particles at the scrubbed time, riding the trails.
    pub show_particles: bool,
    pub points: Vec<PointVertex>,
    pub over: Vec<Segment>,
    /// Particles advected on the GPU, drawn instead of `trails` (and `trail_times`).
    pub advected: Option<Advected>,
}

/// Particles the GPU carries itself: `shaders/advect.wgsl` writes every step into the trails
/// layer's own vertex buffer, so they never pass through the CPU. The first `traced` draw trails
/// and ride them; when `samples_at` is set, every particle's end is drawn as a sample, among the
/// scene's `points` just before `points[samples_at]` (so what is drawn over samples still is).
#[derive(Clone, Debug, PartialEq)]
pub struct Advected {
    pub job: Arc<advect::Job>,
    pub traced: usize,
    pub samples_at: Option<usize>,
}

/// Which part of data space the canvas shows.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Camera {
    pub center: [f32; 2],
    /// Data units per egui point (the same on both axes, so circles stay round).
    pub units_per_point: f32,
}

impl Camera {
    /// The camera that shows `min..max` whole inside a canvas of `size` points, with a margin.
    pub fn fit(min: [f32; 2], max: [f32; 2], size: [f32; 2]) -> Self {
        let span = [(max[0] - min[0]).max(1e-3), (max[1] - min[1]).max(1e-3)];
        let units = (span[0] / size[0].max(1.0)).max(span[1] / size[1].max(1.0)) * 1.1;
        Self {
            center: [(min[0] + max[0]) / 2.0, (min[1] + max[1]) / 2.0],
            units_per_point: units,
        }
    }

    /// Offset in points from the canvas centre (y down) of a data point.
    pub fn to_screen(&self, p: [f32; 2]) -> [f32; 2] {
        [
            (p[0] - self.center[0]) / self.units_per_point,
            -(p[1] - self.center[1]) / self.units_per_point,
        ]
    }

    /// The data point at an offset in points from the canvas centre (y down).
    pub fn to_data(&self, px: [f32; 2]) -> [f32; 2] {
        [
            self.center[0] + px[0] * self.units_per_point,
            self.center[1] - px[1] * self.units_per_point,
        ]
    }
}

/// Sizes of the drawn primitives, in egui points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Style {
    pub point_radius: f32,
    pub line_width: f32,
    pub trail_colour: TrailColour,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            point_radius: 1.6,
            line_width: 1.0,
            trail_colour: TrailColour::Time,
        }
    }
}

/// The camera uniform of `shaders/view.wgsl`, with the scrubbed time.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct ViewUniform {
    center: [f32; 2],
    scale: [f32; 2],
    pixel: [f32; 2],
    point_radius: f32,
    line_half_width: f32,
    time: f32,
    /// 1 when the trails are coloured by curvature, 0 by time.
    by_curvature: f32,
    _pad: [f32; 2],
}

impl ViewUniform {
    fn new(camera: &Camera, style: &Style, size_points: [f32; 2], pixels_per_point: f32, time: f32) -> Self {
        let (w, h) = (size_points[0].max(1.0), size_points[1].max(1.0));
        Self {
            center: camera.center,
            scale: [2.0 / (w * camera.units_per_point), 2.0 / (h * camera.units_per_point)],
            pixel: [2.0 / (w * pixels_per_point), 2.0 / (h * pixels_per_point)],
            point_radius: style.point_radius * pixels_per_point,
            line_half_width: style.line_width * pixels_per_point / 2.0,
            time: time.clamp(0.0, 1.0),
            by_curvature: f32::from(u8::from(style.trail_colour == TrailColour::Curvature)),
            _pad: [0.0; 2],
        }
    }
}

/// The compiled pipelines, shared by every canvas drawn into one target format.
pub struct Pipelines {
    view_layout: wgpu::BindGroupLayout,
    points: points::Pipeline,
    lines: lines::Pipeline,
    trails: trails::Pipeline,
    density: density::Pipeline,
    compositor: layers::Compositor,
}

/// Prepends the shared camera code to a layer's shader.
fn shader(device: &wgpu::Device, name: &str, source: &str) -> wgpu::ShaderModule {
    let code = format!("{}\n{}", include_str!("../../../shaders/view.wgsl"), source);
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(code.into()),
    })
}

/// One `T` per instance (every layer but the density draws one quad per instance).
fn instanced<T>(attributes: &[wgpu::VertexAttribute]) -> wgpu::VertexBufferLayout<'_> {
    wgpu::VertexBufferLayout {
        array_stride: std::mem::size_of::<T>() as u64,
        step_mode: wgpu::VertexStepMode::Instance,
        attributes,
    }
}

/// The pipeline of a layer that draws one quad per `T` with `vs_main` and `fs_main` of `source`.
fn quad_pipeline<T>(
    device: &wgpu::Device,
    format: wgpu::TextureFormat,
    view: &wgpu::BindGroupLayout,
    label: &str,
    source: &str,
    attributes: &[wgpu::VertexAttribute],
) -> wgpu::RenderPipeline {
    let module = shader(device, label, source);
    let buffers = [Some(instanced::<T>(attributes))];
    build_pipeline(
        device,
        format,
        label,
        &module,
        ("vs_main", "fs_main"),
        &[Some(view)],
        &buffers,
    )
}

/// A render pipeline of one layer: entry points `stages` (vertex, fragment) of `module`, bind
/// groups `groups`, instance `buffers`, triangles, and egui's premultiplied-alpha blending.
fn build_pipeline(
    device: &wgpu::Device,
    format: wgpu::TextureFormat,
    label: &str,
    module: &wgpu::ShaderModule,
    stages: (&str, &str),
    groups: &[Option<&wgpu::BindGroupLayout>],
    buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
) -> wgpu::RenderPipeline {
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: groups,
        immediate_size: 0,
    });
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(&layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some(stages.0),
            compilation_options: Default::default(),
            buffers,
        },
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some(stages.1),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format,
                blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        multiview_mask: None,
        cache: None,
    })
}

impl Pipelines {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let view_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mixflow view"),
            entries: &[uniform_entry(wgpu::ShaderStages::VERTEX_FRAGMENT)],
        });
        Self {
            points: points::Pipeline::new(device, format, &view_layout),
            lines: lines::Pipeline::new(device, format, &view_layout),
            trails: trails::Pipeline::new(device, format, &view_layout),
            density: density::Pipeline::new(device, format, &view_layout),
            compositor: layers::Compositor::new(device, format),
            view_layout,
        }
    }
}

/// A uniform buffer holding one `T`, and its bind group (binding 0 of `layout`).
fn uniform<T>(device: &wgpu::Device, layout: &wgpu::BindGroupLayout, label: &str) -> (wgpu::Buffer, wgpu::BindGroup) {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: std::mem::size_of::<T>() as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: buffer.as_entire_binding(),
        }],
    });
    (buffer, group)
}

fn uniform_entry(visibility: wgpu::ShaderStages) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A vertex buffer that grows (to the next power of two) when the data outgrows it.
struct GrowingBuffer {
    buffer: Option<wgpu::Buffer>,
    label: &'static str,
}

impl GrowingBuffer {
    fn new(label: &'static str) -> Self {
        Self { buffer: None, label }
    }

    fn upload(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let needed = bytes.len() as u64;
        if self.buffer.as_ref().is_none_or(|b| b.size() < needed) {
            self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(self.label),
                size: needed.next_power_of_two(),
                usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        queue.write_buffer(self.buffer.as_ref().expect("just created"), 0, bytes);
    }
}

/// Which trail segments the scrubbed time needs. Steps are blocks of equal length in the buffer,
/// so no segment beyond the time is even visited. Of each block the first `drawn` are drawn (all
/// of it, but for advected particles of which only some are traced).
#[derive(Clone, Default, PartialEq, Debug)]
struct TrailSteps {
    times: Vec<f32>,
    per_step: u32,
    drawn: u32,
}

/// The trail steps of one frame: those the scrubbed time has completed, and the one that holds
/// it (drawn cut at the time, with the particles at its tips).
#[derive(Clone, Default, PartialEq, Debug)]
struct TrailRanges {
    done: Range<u32>,
    current: Range<u32>,
}

impl TrailSteps {
    fn new(scene: &Scene) -> Self {
        let steps = scene.trail_times.len().saturating_sub(1);
        let per_step = scene.trails.len().checked_div(steps).unwrap_or(0) as u32;
        Self {
            times: scene.trail_times.clone(),
            per_step,
            drawn: per_step,
        }
    }

    /// The steps `time` needs. A step holds its start time, and the last one also holds t = 1.
    fn ranges(&self, time: f32) -> TrailRanges {
        let steps = self.times.len().saturating_sub(1);
        if steps == 0 || self.drawn == 0 {
            return TrailRanges::default();
        }
        let holding = self.times[..steps].iter().filter(|&&t| t <= time).count().max(1) as u32 - 1;
        TrailRanges {
            done: 0..holding,
            current: holding..holding + 1,
        }
    }

    /// The segments of `steps` to draw: one range when whole blocks are drawn, else one per step.
    fn segments(&self, steps: Range<u32>) -> impl Iterator<Item = Range<u32>> + '_ {
        let (per, whole) = (self.per_step, self.drawn == self.per_step);
        let merged = whole.then(|| steps.start * per..steps.end * per);
        let each = (!whole).then(|| steps.map(move |k| k * per..k * per + self.drawn));
        merged
            .into_iter()
            .chain(each.into_iter().flatten())
            .filter(|r| !r.is_empty())
    }
}

/// Where and how one frame of a canvas is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CanvasFrame {
    pub camera: Camera,
    pub style: Style,
    /// The canvas's size in points, and in the pixels the target will cover (rounded as the
    /// target rounds them, so that a cached layer lies on the canvas pixel for pixel).
    pub size_points: [f32; 2],
    pub size_pixels: [u32; 2],
    pub pixels_per_point: f32,
    /// The scrubbed ODE time: where trails end and particles are.
    pub time: f32,
}

/// One canvas's GPU copy of its scene: [`GpuScene::prepare_frame`] before the render pass,
/// [`GpuScene::draw`] inside it.
pub struct GpuScene {
    view: wgpu::Buffer,
    view_group: wgpu::BindGroup,
    density: density::Buffers,
    points: GrowingBuffer,
    segments: GrowingBuffer,
    trails: GrowingBuffer,
    /// The kernel (made on the first job), and the last job with the trails it wrote, drawn
    /// instead of `trails`.
    advection: Option<advect::Advection>,
    advected: Option<(Arc<advect::Job>, advect::Particles)>,
    trail_steps: TrailSteps,
    counts: Counts,
    /// Which scene version is uploaded.
    version: u64,
    /// The trail segments of the frame being drawn (set by [`GpuScene::prepare`]).
    frame: TrailRanges,
    /// The density, `under` lines and completed trail steps, and how many steps it holds.
    settled: layers::Cached,
    settled_steps: u32,
    /// The points layer.
    points_layer: layers::Cached,
    /// Whether layers are cached where it pays (off only to test that caching changes nothing).
    caching: bool,
}

#[derive(Default, Clone)]
struct Counts {
    points: u32,
    under: u32,
    over: u32,
    /// Trail segments drawn over all steps.
    trails: u32,
    /// The advected particles' ends drawn as samples: before which point, and their segments.
    ends: Option<(u32, Range<u32>)>,
    show_trails: bool,
    show_particles: bool,
    density: bool,
}

impl GpuScene {
    /// Uploads `scene` if `version` is new and prepares its cached layers for `frame`; returns the
    /// command buffers (advection, layer caching) to submit before the pass that draws.
    pub fn prepare_frame(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        pipelines: &Pipelines,
        scene: &Scene,
        version: u64,
        frame: &CanvasFrame,
    ) -> Vec<wgpu::CommandBuffer> {
        let advect = self.upload(device, queue, scene, version);
        let view = ViewUniform::new(
            &frame.camera,
            &frame.style,
            frame.size_points,
            frame.pixels_per_point,
            frame.time,
        );
        let size = [frame.size_pixels[0].max(1), frame.size_pixels[1].max(1)];
        let layers = self.prepare(device, queue, pipelines, &view, size);
        advect.into_iter().chain(layers).collect()
    }

    pub fn new(device: &wgpu::Device, pipelines: &Pipelines) -> Self {
        let (view, view_group) = uniform::<ViewUniform>(device, &pipelines.view_layout, "mixflow view");
        Self {
            view,
            view_group,
            density: density::Buffers::new(device, &pipelines.density),
            points: GrowingBuffer::new("mixflow points"),
            segments: GrowingBuffer::new("mixflow segments"),
            trails: GrowingBuffer::new("mixflow trails"),
            advection: None,
            advected: None,
            trail_steps: TrailSteps::default(),
            counts: Counts::default(),
            version: u64::MAX,
            frame: TrailRanges::default(),
            settled: layers::Cached::default(),
            settled_steps: 0,
            points_layer: layers::Cached::default(),
            caching: true,
        }
    }

    /// Uploads a changed scene; returns the compute work of its advected trails, if any, to be
    /// submitted before the frame that draws them.
    fn upload(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        scene: &Scene,
        version: u64,
    ) -> Option<wgpu::CommandBuffer> {
        if self.version == version {
            return None;
        }
        self.version = version;
        self.points.upload(device, queue, bytemuck::cast_slice(&scene.points));
        let segments: Vec<Segment> = scene.under.iter().chain(&scene.over).copied().collect();
        self.segments.upload(device, queue, bytemuck::cast_slice(&segments));
        self.trails.upload(device, queue, bytemuck::cast_slice(&scene.trails));
        self.trail_steps = TrailSteps::new(scene);
        let advect = self.advect(device, queue, scene.advected.as_ref());
        if let Some(layer) = &scene.density {
            self.density.upload(queue, layer);
        }
        self.counts = Counts {
            points: scene.points.len() as u32,
            under: scene.under.len() as u32,
            over: scene.over.len() as u32,
            trails: self.trail_steps.drawn * self.trail_steps.times.len().saturating_sub(1) as u32,
            ends: scene
                .advected
                .as_ref()
                .zip(self.advected.as_ref())
                .and_then(|(a, (_, p))| {
                    let last = p.total_steps.checked_sub(1)? * p.particles;
                    Some((a.samples_at? as u32, last..last + p.particles))
                }),
            show_trails: scene.show_trails,
            show_particles: scene.show_particles,
            density: scene.density.is_some(),
        };
        advect
    }

    /// Starts the advection of `advected`'s job (dropping the last one's trails): the commands
    /// that run it. The same job as the last one (a scene rebuilt for a layer or the field's
    /// time) keeps its trails. A job the kernel cannot take was refused by whoever made it
    /// ([`advect::Job::new`]).
    fn advect(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        advected: Option<&Advected>,
    ) -> Option<wgpu::CommandBuffer> {
        let Some(advected) = advected else {
            self.advected = None;
            return None;
        };
        let same_job = self.advected.as_ref().is_some_and(|(job, _)| **job == *advected.job);
        let mut commands = None;
        if !same_job {
            self.advected = None;
            let advection = self.advection.get_or_insert_with(|| advect::Advection::new(device));
            // Too many trails for one buffer: none are drawn (the app checks the size first).
            let mut particles = advection.prepare(device, queue, &advected.job).ok()?;
            let mut encoder = device.create_command_encoder(&Default::default());
            advection.encode(&mut encoder, &mut particles, u32::MAX);
            self.advected = Some((advected.job.clone(), particles));
            commands = Some(encoder.finish());
        }
        let particles = &self.advected.as_ref()?.1;
        let h = 1.0 / particles.total_steps as f32;
        self.trail_steps = TrailSteps {
            times: (0..=particles.total_steps).map(|k| k as f32 * h).collect(),
            per_step: particles.particles,
            drawn: (advected.traced as u32).min(particles.particles),
        };
        commands
    }

    /// The trails drawn: the advected ones, else the uploaded ones, if there are any.
    fn trail_buffer(&self) -> Option<&wgpu::Buffer> {
        let advected = self.advected.as_ref().map(|(_, p)| &p.segments);
        advected
            .or(self.trails.buffer.as_ref())
            .filter(|_| self.counts.trails > 0 || self.counts.ends.is_some())
    }

    /// Sets the view of the next frame, `size` pixels large, and brings the cached layers up to
    /// it: returns the commands that do, to be submitted before the frame is drawn.
    fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        pipelines: &Pipelines,
        view: &ViewUniform,
        size: [u32; 2],
    ) -> Option<wgpu::CommandBuffer> {
        queue.write_buffer(&self.view, 0, bytemuck::bytes_of(view));
        self.frame = self.trail_steps.ranges(view.time);
        let c = self.counts.clone();
        let key = layers::Key::new(self.version, view, size);
        let mut encoder = device.create_command_encoder(&Default::default());
        let mut encoded = false;

        // The settled layer: redrawn from scratch when its key changes or the time went back,
        // else only the steps completed since the last frame are added.
        let trails = if c.show_trails { c.trails } else { 0 };
        let done = if c.show_trails { self.frame.done.end } else { 0 };
        if !(self.caching && layers::worth_caching(c.under + trails, c.density, size)) {
            self.settled.release();
        } else {
            let clear = !self.settled.holds(&key) || self.settled_steps > done;
            let from = if clear { 0 } else { self.settled_steps };
            if clear || from < done {
                let layer = self.settled.draw_for(device, &pipelines.compositor, key);
                let mut pass = layer.pass(&mut encoder, clear);
                self.draw_settled(pipelines, &mut pass, clear, from..done);
                encoded = true;
            }
            self.settled_steps = done;
        }

        // The points layer: redrawn only when its key changes.
        let points = c.points + c.ends.as_ref().map_or(0, |(_, e)| e.len() as u32);
        if !(self.caching && layers::worth_caching(points, false, size)) {
            self.points_layer.release();
        } else if !self.points_layer.holds(&key) {
            let layer = self.points_layer.draw_for(device, &pipelines.compositor, key);
            let mut pass = layer.pass(&mut encoder, true);
            self.draw_points(pipelines, &mut pass);
            encoded = true;
        }
        encoded.then(|| encoder.finish())
    }

    /// What lies under the moving trail tips: the density and `under` lines (when `base`) and the
    /// trail `steps` completed.
    fn draw_settled(&self, pipelines: &Pipelines, pass: &mut wgpu::RenderPass<'_>, base: bool, steps: Range<u32>) {
        pass.set_bind_group(0, &self.view_group, &[]);
        if base && self.counts.density {
            pipelines.density.draw(pass, &self.density);
        }
        if let (Some(lines), true) = (&self.segments.buffer, base) {
            pipelines.lines.draw(pass, lines, 0..self.counts.under);
        }
        if let (Some(trails), true) = (self.trail_buffer(), self.counts.show_trails) {
            for segments in self.trail_steps.segments(steps) {
                pipelines.trails.draw_trails(pass, trails, segments);
            }
        }
    }

    /// The points, with the advected particles' ends among them as samples.
    fn draw_points(&self, pipelines: &Pipelines, pass: &mut wgpu::RenderPass<'_>) {
        pass.set_bind_group(0, &self.view_group, &[]);
        let count = self.counts.points;
        let at = self.counts.ends.as_ref().map_or(count, |(at, _)| (*at).min(count));
        let points = self.points.buffer.as_ref().filter(|_| count > 0);
        if let Some(points) = points {
            pipelines.points.draw(pass, points, 0..at);
        }
        if let (Some((_, ends)), Some(trails)) = (&self.counts.ends, self.trail_buffer()) {
            pipelines.trails.draw_ends(pass, trails, ends.clone());
        }
        if let Some(points) = points {
            pipelines.points.draw(pass, points, at..count);
        }
    }

    /// Draws the frame [`GpuScene::prepare`] made ready: the cached layers laid over the canvas,
    /// the rest drawn.
    pub fn draw(&self, pipelines: &Pipelines, pass: &mut wgpu::RenderPass<'_>) {
        let c = &self.counts;
        match self.settled.ready() {
            Some(layer) => pipelines.compositor.draw(pass, layer),
            None => self.draw_settled(pipelines, pass, true, self.frame.done.clone()),
        }
        pass.set_bind_group(0, &self.view_group, &[]);
        let trails = self.trail_buffer();
        if let (Some(trails), true) = (trails, c.show_trails) {
            for segments in self.trail_steps.segments(self.frame.current.clone()) {
                pipelines.trails.draw_trails(pass, trails, segments);
            }
        }
        match self.points_layer.ready() {
            Some(layer) => pipelines.compositor.draw(pass, layer),
            None => self.draw_points(pipelines, pass),
        }
        pass.set_bind_group(0, &self.view_group, &[]);
        if let (Some(trails), true) = (trails, c.show_particles) {
            for segments in self.trail_steps.segments(self.frame.current.clone()) {
                pipelines.trails.draw_heads(pass, trails, segments);
            }
        }
        if let Some(segments) = &self.segments.buffer {
            pipelines.lines.draw(pass, segments, c.under..c.under + c.over);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrubbed_time_picks_the_steps_reached_and_the_one_holding_the_particles() {
        // Three steps of two trajectories each.
        let scene = Scene {
            trails: vec![TrailSegment::new([0.0; 2], [0.0; 2], [0.0; 2]); 6],
            trail_times: vec![0.0, 0.25, 0.5, 1.0],
            ..Scene::default()
        };
        let mut steps = TrailSteps::new(&scene);
        let ranges = |done, current| TrailRanges { done, current };
        assert_eq!(steps.ranges(0.0), ranges(0..0, 0..1));
        assert_eq!(steps.ranges(0.1), ranges(0..0, 0..1));
        assert_eq!(steps.ranges(0.25), ranges(0..1, 1..2), "a step holds its start time");
        assert_eq!(steps.ranges(0.7), ranges(0..2, 2..3));
        assert_eq!(steps.ranges(1.0), ranges(0..2, 2..3), "the last step holds t = 1");
        assert_eq!(TrailSteps::default().ranges(0.5), ranges(0..0, 0..0));
        let segments = |steps: &TrailSteps, r| steps.segments(r).collect::<Vec<_>>();
        assert_eq!(segments(&steps, 0..2), [0..4], "whole steps are one range");
        assert_eq!(segments(&steps, 2..2), []);
        steps.drawn = 1;
        assert_eq!(segments(&steps, 0..3), [0..1, 2..3, 4..5], "the first of each step");
    }
}
