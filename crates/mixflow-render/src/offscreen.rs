//! Draws a scene into an image with the same pipelines the canvas uses, without a window: for
//! rendering tests and for pictures made from the command line.

use super::{Camera, GpuScene, Pipelines, Scene, Style, ViewUniform};

/// A device to draw with when no window provides one (lavapipe on a machine without a GPU), with
/// what its adapter is.
pub fn device() -> Result<(wgpu::Device, wgpu::Queue, wgpu::AdapterInfo), NoDevice> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        // GL deadlocks on lavapipe; the primary APIs are what the app uses too.
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .map_err(NoDevice::Adapter)?;
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).map_err(NoDevice::Device)?;
    Ok((device, queue, adapter.get_info()))
}

/// Why no device could be had to draw offscreen.
#[derive(Debug, thiserror::Error)]
pub enum NoDevice {
    #[error("no GPU adapter: {0}")]
    Adapter(wgpu::RequestAdapterError),
    #[error("the GPU device cannot start: {0}")]
    Device(wgpu::RequestDeviceError),
}

/// How to draw an offscreen picture.
pub struct Frame {
    pub camera: Camera,
    pub style: Style,
    /// The scrubbed ODE time.
    pub time: f32,
    pub size: [u32; 2],
    /// Straight sRGB bytes.
    pub background: [u8; 4],
}

/// Renders `scene` as `frame` says and returns the RGBA image, row by row from the top.
pub fn render(device: &wgpu::Device, queue: &wgpu::Queue, scene: &Scene, frame: &Frame) -> image::RgbaImage {
    let mut target = Target::new(device, queue, scene, frame.size);
    target.draw(device, queue, frame);
    target.read(device, queue)
}

/// A scene uploaded once and an image to draw it into, as often as asked: one picture, or the
/// frames of a benchmark.
pub struct Target {
    pipelines: Pipelines,
    gpu: GpuScene,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    size: [u32; 2],
}

const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

impl Target {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, scene: &Scene, size: [u32; 2]) -> Self {
        let pipelines = Pipelines::new(device, FORMAT);
        let gpu = GpuScene::new(device, &pipelines);
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("mixflow offscreen"),
            size: extent(size),
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        let mut target = Self {
            pipelines,
            gpu,
            texture,
            view,
            size,
        };
        target.show(device, queue, scene, 0);
        target
    }

    /// Uploads `scene` (numbered `version`) in place of the last one, as the canvas does when a
    /// view or a layer changes; true when it advected particles again.
    pub fn show(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, scene: &Scene, version: u64) -> bool {
        let advect = self.gpu.upload(device, queue, scene, version);
        let advected = advect.is_some();
        queue.submit(advect);
        advected
    }

    /// The same target drawing every layer every frame, as if no layer were worth caching.
    pub fn without_cache(mut self) -> Self {
        self.gpu.caching = false;
        self
    }

    /// Which layers the last frame laid from their cache: (the settled layer, the points).
    pub fn cached(&self) -> (bool, bool) {
        (
            self.gpu.settled.ready().is_some(),
            self.gpu.points_layer.ready().is_some(),
        )
    }

    /// Draws one frame and waits until the GPU has finished it.
    pub fn draw(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, frame: &Frame) {
        let size_f = [self.size[0] as f32, self.size[1] as f32];
        let uniform = ViewUniform::new(&frame.camera, &frame.style, size_f, 1.0, frame.time);
        let layers = self.gpu.prepare(device, queue, &self.pipelines, &uniform, self.size);
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let [r, g, b, a] = frame.background.map(|c| c as f64 / 255.0);
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("mixflow offscreen"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            self.gpu.draw(&self.pipelines, &mut pass);
        }
        queue.submit(layers.into_iter().chain([encoder.finish()]));
        let _ = device.poll(wgpu::PollType::wait_indefinitely());
    }

    /// The image last drawn, row by row from the top.
    pub fn read(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> image::RgbaImage {
        let [width, height] = self.size;
        let bytes_per_row =
            (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("mixflow readback"),
            size: (bytes_per_row * height) as u64,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        encoder.copy_texture_to_buffer(
            self.texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(bytes_per_row),
                    rows_per_image: None,
                },
            },
            extent(self.size),
        );
        queue.submit([encoder.finish()]);
        let slice = readback.slice(..);
        slice.map_async(wgpu::MapMode::Read, |_| {});
        let _ = device.poll(wgpu::PollType::wait_indefinitely());
        let mapped = slice.get_mapped_range().expect("the readback buffer was mapped above");
        let mut pixels = Vec::with_capacity((width * height * 4) as usize);
        for row in mapped.chunks(bytes_per_row as usize).take(height as usize) {
            pixels.extend_from_slice(&row[..(width * 4) as usize]);
        }
        drop(mapped);
        readback.unmap();
        image::RgbaImage::from_raw(width, height, pixels).expect("the buffer holds every pixel")
    }
}

fn extent(size: [u32; 2]) -> wgpu::Extent3d {
    wgpu::Extent3d {
        width: size[0],
        height: size[1],
        depth_or_array_layers: 1,
    }
}
