//! The canvas widget: a rectangle the render layers draw into through a paint callback, with pan
//! (drag), zoom (scroll or pinch, about the pointer) and fit (double-click). The camera is shared
//! between canvases, which is what links the views of the comparison.

use super::paint::CanvasCallback;
use crate::render::{Camera, Scene, Style};
use eframe::{egui, egui_wgpu};
use std::sync::Arc;

/// The data box to fit, or None before any data is known.
pub type Bounds = Option<([f32; 2], [f32; 2])>;

pub struct CanvasOutput {
    /// The data point under the pointer.
    pub hover: Option<[f32; 2]>,
    /// Where the canvas is on screen (what the PNG and GIF exports crop).
    pub rect: egui::Rect,
    /// While drawing: the data point under the held primary button.
    pub pressed: Option<[f32; 2]>,
    /// Data units per screen point (a brush's radius in data units).
    pub units_per_point: f32,
    /// The data point clicked (not while drawing): where to follow a trajectory through.
    pub clicked: Option<[f32; 2]>,
}

/// A followed trajectory as the canvas paints it over the layers, in the canvas plane.
pub struct FollowedOverlay {
    pub path: Vec<[f32; 2]>,
    /// Each state and its velocity (per unit time), projected.
    pub arrows: Vec<([f32; 2], [f32; 2])>,
    /// The point followed through.
    pub through: [f32; 2],
    /// Its length, chord and curvature, for the canvas's corner.
    pub caption: String,
}

/// Points being drawn by hand, painted over the layers; while there is one, dragging draws
/// instead of panning.
pub struct Sketch<'a> {
    pub points: &'a [[f32; 2]],
    pub classes: &'a [u8],
    /// Brush radius in screen points, outlined at the pointer.
    pub brush: f32,
}

/// What a canvas draws: the scene (uploaded again only when `version` changes), how, and when.
pub struct Drawn {
    pub scene: Arc<Scene>,
    pub version: u64,
    pub style: Style,
    /// The scrubbed ODE time.
    pub time: f32,
    /// What the visible layers are, named in the canvas's corner.
    pub legend: Vec<super::scene::LegendEntry>,
    pub followed: Option<FollowedOverlay>,
}

// The canvas's parts come from different owners (camera, fit, scene, sketch): one call site.
#[allow(clippy::too_many_arguments)]
pub fn show(
    ui: &mut egui::Ui,
    id: egui::Id,
    size: egui::Vec2,
    camera: &mut Option<Camera>,
    follow: &mut bool,
    fit: Bounds,
    drawn: Drawn,
    sketch: Option<Sketch>,
) -> CanvasOutput {
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "canvas"));
    let size_points = [rect.width(), rect.height()];
    // Until the user pans or zooms, the camera keeps fitting the data as the canvas changes
    // size (the window's first frames, a panel opened); a double-click returns to that.
    *follow |= response.double_clicked();
    if (camera.is_none() || *follow)
        && let Some((lo, hi)) = fit
    {
        *camera = Some(Camera::fit(lo, hi, size_points));
    }
    let cam = camera.get_or_insert(Camera {
        center: [0.0, 0.0],
        units_per_point: 0.01,
    });
    if response.dragged() && sketch.is_none() {
        *follow = false;
        let d = response.drag_delta();
        cam.center[0] -= d.x * cam.units_per_point;
        cam.center[1] += d.y * cam.units_per_point;
    }
    let offset = |p: egui::Pos2| [p.x - rect.center().x, p.y - rect.center().y];
    if response.hovered() {
        let zoom = ui.input(|i| i.zoom_delta() * (i.smooth_scroll_delta.y / 200.0).exp());
        if zoom != 1.0
            && let Some(pointer) = response.hover_pos()
        {
            // Keep the data point under the pointer where it is.
            *follow = false;
            let anchor = cam.to_data(offset(pointer));
            cam.units_per_point = (cam.units_per_point / zoom).clamp(1e-6, 1e6);
            let moved = cam.to_data(offset(pointer));
            cam.center[0] += anchor[0] - moved[0];
            cam.center[1] += anchor[1] - moved[1];
        }
    }
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, egui::Color32::from_gray(14));
    painter.add(egui_wgpu::Callback::new_paint_callback(
        rect,
        CanvasCallback {
            id,
            scene: drawn.scene,
            version: drawn.version,
            camera: *cam,
            style: drawn.style,
            rect,
            time: drawn.time,
        },
    ));
    axes(&painter, rect, cam);
    legend(&painter, rect, &drawn.legend);
    if let Some(followed) = &drawn.followed {
        paint_followed(&painter, rect, cam, followed);
    }
    let clicked = (response.clicked() && sketch.is_none())
        .then(|| response.interact_pointer_pos().map(|p| cam.to_data(offset(p))))
        .flatten();
    let hover = response.hover_pos().map(|p| cam.to_data(offset(p)));
    let mut pressed = None;
    if let Some(sketch) = sketch {
        let screen = |p: [f32; 2]| {
            let s = cam.to_screen(p);
            rect.center() + egui::vec2(s[0], s[1])
        };
        for (p, &c) in sketch.points.iter().zip(sketch.classes) {
            painter.circle_filled(screen(*p), 2.0, super::drawing::class_color(c));
        }
        if let Some(pos) = response.hover_pos() {
            painter.circle_stroke(pos, sketch.brush, egui::Stroke::new(1.0, egui::Color32::from_gray(200)));
        }
        if response.is_pointer_button_down_on() {
            pressed = response.interact_pointer_pos().map(|p| cam.to_data(offset(p)));
        }
    }
    CanvasOutput {
        hover,
        rect,
        pressed,
        units_per_point: cam.units_per_point,
        clicked,
    }
}

/// The followed trajectory: a white path, its velocity as arrows (the fastest 28 points long),
/// a ring at the point followed through, and its measures in the canvas's top-left corner.
fn paint_followed(painter: &egui::Painter, rect: egui::Rect, cam: &Camera, f: &FollowedOverlay) {
    let screen = |p: [f32; 2]| {
        let s = cam.to_screen(p);
        rect.center() + egui::vec2(s[0], s[1])
    };
    let white = egui::Color32::from_rgb(250, 250, 250);
    let path: Vec<egui::Pos2> = f.path.iter().map(|&p| screen(p)).collect();
    painter.add(egui::Shape::line(path, egui::Stroke::new(2.0, white)));
    let fastest = f.arrows.iter().map(|(_, v)| v[0].hypot(v[1])).fold(0.0, f32::max);
    let scale = if fastest > 0.0 { 28.0 / fastest } else { 0.0 };
    let arrow = egui::Stroke::new(1.5, egui::Color32::from_rgb(255, 200, 80));
    for (at, v) in &f.arrows {
        painter.arrow(screen(*at), egui::vec2(v[0], -v[1]) * scale, arrow);
    }
    painter.circle_stroke(screen(f.through), 6.0, egui::Stroke::new(2.0, white));
    let font = egui::FontId::proportional(13.0);
    let galley = painter.layout_no_wrap(f.caption.clone(), font, white);
    let at = rect.left_top() + egui::vec2(8.0, 8.0);
    painter.rect_filled(
        egui::Rect::from_min_size(at, galley.size()).expand(4.0),
        3.0,
        egui::Color32::from_black_alpha(170),
    );
    painter.galley(at, galley, white);
}

/// Faint lines through the data origin, so pan and zoom have a reference.
fn axes(painter: &egui::Painter, rect: egui::Rect, cam: &Camera) {
    let origin = cam.to_screen([0.0, 0.0]);
    let o = rect.center() + egui::vec2(origin[0], origin[1]);
    let stroke = egui::Stroke::new(1.0, egui::Color32::from_gray(45));
    if rect.x_range().contains(o.x) {
        painter.vline(o.x, rect.y_range(), stroke);
    }
    if rect.y_range().contains(o.y) {
        painter.hline(rect.x_range(), o.y, stroke);
    }
}

/// The visible layers, one small line each, in the canvas's lower left corner over a dark
/// backing (left out on a canvas too small to spare the room).
fn legend(painter: &egui::Painter, rect: egui::Rect, entries: &[super::scene::LegendEntry]) {
    use super::scene::Mark;
    const ROW: f32 = 14.0;
    let height = entries.len() as f32 * ROW + 6.0;
    if entries.is_empty() || rect.height() < 3.0 * height || rect.width() < 220.0 {
        return;
    }
    let font = egui::FontId::proportional(11.0);
    let color = |c: [u8; 4]| egui::Color32::from_rgba_unmultiplied(c[0], c[1], c[2], c[3]);
    let text = egui::Color32::from_gray(200);
    let width = entries
        .iter()
        .map(|e| painter.layout_no_wrap(e.label.to_string(), font.clone(), text).size().x)
        .fold(0.0, f32::max)
        + 30.0;
    let backing = egui::Rect::from_min_size(
        rect.left_bottom() + egui::vec2(6.0, -height - 6.0),
        egui::vec2(width, height),
    );
    painter.rect_filled(backing, 3.0, egui::Color32::from_black_alpha(170));
    for (i, e) in entries.iter().enumerate() {
        let y = backing.top() + 3.0 + (i as f32 + 0.5) * ROW;
        let mark = egui::pos2(backing.left() + 12.0, y);
        match e.mark {
            Mark::Dot(c) => {
                painter.circle_filled(mark, 3.0, color(c));
            }
            Mark::Ring(c) => {
                painter.circle_stroke(mark, 4.0, egui::Stroke::new(1.2, color(c)));
            }
            Mark::Line(a, b) => {
                let (from, to) = (mark - egui::vec2(7.0, 0.0), mark + egui::vec2(7.0, 0.0));
                painter.line_segment([from, mark], egui::Stroke::new(1.5, color(a)));
                painter.line_segment([mark, to], egui::Stroke::new(1.5, color(b)));
            }
        }
        painter.text(
            egui::pos2(backing.left() + 24.0, y),
            egui::Align2::LEFT_CENTER,
            e.label.to_string(),
            font.clone(),
            text,
        );
    }
}
