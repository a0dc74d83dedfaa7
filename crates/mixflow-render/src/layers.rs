//! Cached layers: what does not move with the scrubbed time is drawn once into a texture of the
//! canvas's pixel size and laid over the canvas every frame with one triangle
//! (`shaders/composite.wgsl`).
//!
//! Software rasterisers (lavapipe; SwiftShader in a browser without a GPU) pay hundreds of
//! nanoseconds per triangle whatever its size, and a canvas of 50,000 points and 2,000 traced
//! trails is 300,000 triangles. Two layers are cached: the points, drawn again only when the scene,
//! the camera or the canvas size changes; and the settled layer below the moving trail tips (the
//! density, the `under` lines and every trail step the scrubbed time has completed), to which
//! play-back only adds the steps it completes. Premultiplied "over" is associative, so the picture
//! is the one drawn directly, up to the 8-bit rounding of the cached texture.

use super::ViewUniform;

/// Canvas pixels one composite costs as much as one drawn primitive (point, segment) does, on
/// lavapipe: 2.2 ms to lay a 1280 × 800 layer over the canvas, 0.4 to 0.6 µs per primitive.
const PIXELS_PER_PRIMITIVE: u64 = 200;

/// Whether a layer of `primitives` points or segments on a canvas of `size` pixels is cheaper
/// laid from a cache than drawn every frame. A per-pixel density always is.
pub fn worth_caching(primitives: u32, density: bool, size: [u32; 2]) -> bool {
    density || primitives as u64 * PIXELS_PER_PRIMITIVE >= size[0] as u64 * size[1] as u64
}

/// The pipeline that lays a cached layer over the canvas.
pub struct Compositor {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    format: wgpu::TextureFormat,
}

impl Compositor {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("mixflow composite"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../../shaders/composite.wgsl").into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mixflow composite"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let stages = ("vs_main", "fs_main");
        let pipeline = super::build_pipeline(
            device,
            format,
            "mixflow composite",
            &module,
            stages,
            &[Some(&layout)],
            &[],
        );
        Self {
            pipeline,
            layout,
            format,
        }
    }

    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, layer: &Layer) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &layer.group, &[]);
        pass.draw(0..3, 0..1);
    }
}

/// A transparent texture of the canvas's size that layers are drawn into.
pub struct Layer {
    view: wgpu::TextureView,
    group: wgpu::BindGroup,
    size: [u32; 2],
}

impl Layer {
    fn new(device: &wgpu::Device, compositor: &Compositor, size: [u32; 2]) -> Self {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("mixflow cached layer"),
            size: wgpu::Extent3d {
                width: size[0],
                height: size[1],
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: compositor.format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("mixflow cached layer"),
            layout: &compositor.layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&view),
            }],
        });
        Self { view, group, size }
    }

    /// A render pass drawing into the layer: from transparent when `clear`, else on what it holds.
    pub fn pass<'e>(&self, encoder: &'e mut wgpu::CommandEncoder, clear: bool) -> wgpu::RenderPass<'e> {
        let load = if clear {
            wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT)
        } else {
            wgpu::LoadOp::Load
        };
        encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("mixflow cached layer"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &self.view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load,
                    store: wgpu::StoreOp::Store,
                },
            })],
            ..Default::default()
        })
    }
}

/// What a cached layer was drawn for: the scene's version, the view (all of it but the time) and
/// the canvas's size in pixels.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Key {
    version: u64,
    view: ViewUniform,
    size: [u32; 2],
}

impl Key {
    pub fn new(version: u64, view: &ViewUniform, size: [u32; 2]) -> Self {
        Self {
            version,
            view: ViewUniform { time: 0.0, ..*view },
            size,
        }
    }
}

/// One cached layer and what it holds.
#[derive(Default)]
pub struct Cached {
    layer: Option<Layer>,
    /// What the layer holds; `None` while the layer is not in use (too cheap to cache).
    key: Option<Key>,
}

impl Cached {
    /// The layer in use this frame, if the layer is cached.
    pub fn ready(&self) -> Option<&Layer> {
        self.key.and(self.layer.as_ref())
    }

    /// Whether the layer holds what `key` asks for.
    pub fn holds(&self, key: &Key) -> bool {
        self.key.as_ref() == Some(key)
    }

    /// Stops using the layer (its texture is kept for the next time it is worth it).
    pub fn release(&mut self) {
        self.key = None;
    }

    /// The layer to draw `key`'s content into, made or remade at its size.
    pub fn draw_for(&mut self, device: &wgpu::Device, compositor: &Compositor, key: Key) -> &Layer {
        self.key = Some(key);
        if self.layer.as_ref().is_none_or(|l| l.size != key.size) {
            self.layer = Some(Layer::new(device, compositor, key.size));
        }
        self.layer.as_ref().expect("just made")
    }
}
