//! egui's side of the GPU canvas: the paint callback that hands one canvas's scene to the
//! renderer (`mixflow_render`), whose pipelines and per-canvas GPU state live in egui's callback
//! resources.

use crate::render::{Camera, CanvasFrame, GpuScene, Pipelines, Scene, Style};
use eframe::egui;
use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor};
use eframe::wgpu;
use std::collections::HashMap;
use std::sync::Arc;

/// What lives in egui's callback resources: the pipelines and one [`GpuScene`] per canvas.
struct CanvasResources {
    pipelines: Pipelines,
    scenes: HashMap<egui::Id, GpuScene>,
}

/// Makes the canvas callbacks work with this render state; call once at start-up.
pub fn install(render_state: &egui_wgpu::RenderState) {
    let pipelines = Pipelines::new(&render_state.device, render_state.target_format);
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(CanvasResources {
            pipelines,
            scenes: HashMap::new(),
        });
}

/// Draws one canvas's scene inside egui. `version` changes whenever `scene` does, so the upload
/// happens once per new view, not once per frame.
pub struct CanvasCallback {
    pub id: egui::Id,
    pub scene: Arc<Scene>,
    pub version: u64,
    pub camera: Camera,
    pub style: Style,
    /// Where the canvas is on the screen, in points (the paint callback's rectangle).
    pub rect: egui::Rect,
    /// The scrubbed ODE time: where trails end and particles are.
    pub time: f32,
}

impl CallbackTrait for CanvasCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen: &ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(res) = resources.get_mut::<CanvasResources>() else {
            return Vec::new();
        };
        let CanvasResources { pipelines, scenes } = res;
        let gpu = scenes
            .entry(self.id)
            .or_insert_with(|| GpuScene::new(device, pipelines));
        let ppp = screen.pixels_per_point;
        // The pixels egui's viewport will cover, rounded as egui rounds them.
        let pixels = egui::epaint::ViewportInPixels::from_points(&self.rect, ppp, screen.size_in_pixels);
        let frame = CanvasFrame {
            camera: self.camera,
            style: self.style,
            size_points: self.rect.size().into(),
            size_pixels: [pixels.width_px.max(1) as u32, pixels.height_px.max(1) as u32],
            pixels_per_point: ppp,
            time: self.time,
        };
        gpu.prepare_frame(device, queue, pipelines, &self.scene, self.version, &frame)
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        if let Some(res) = resources.get::<CanvasResources>()
            && let Some(gpu) = res.scenes.get(&self.id)
        {
            gpu.draw(&res.pipelines, pass);
        }
    }
}
