//! The CSV import window: a file picked by path, dropped on the window (a path on the desktop,
//! the bytes in the browser), previewed, its columns assigned to data or descriptor, and checked
//! in full before any run restarts, so a bad file leaves the current run as it was and the error
//! names the row and column.

use super::page::PageState;
use crate::config::TrainConfig;
use crate::data::{CsvSpec, Dataset, Preview};
use eframe::egui;
use std::path::Path;

/// Rows shown in the preview.
const PREVIEW_ROWS: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Data,
    Descriptor,
    Ignored,
}

#[derive(Default)]
pub struct Import {
    pub open: bool,
    /// A path on disk, or the name a dropped file is kept under in memory.
    path: String,
    preview: Option<Preview>,
    roles: Vec<Role>,
    error: Option<String>,
}

impl Import {
    /// Opens the window on `path`, with its preview.
    pub fn open_file(&mut self, path: &str) {
        self.open = true;
        self.path = path.to_string();
        self.load_preview();
    }

    fn load_preview(&mut self) {
        self.preview = None;
        self.error = None;
        match crate::data::preview(Path::new(self.path.trim()), PREVIEW_ROWS) {
            Ok(p) => {
                // A column named like a label or condition is a descriptor until the user says otherwise.
                self.roles = p
                    .headers
                    .iter()
                    .map(|h| match h.to_lowercase().as_str() {
                        "label" | "class" | "condition" | "descriptor" | "c" => Role::Descriptor,
                        _ => Role::Data,
                    })
                    .collect();
                self.preview = Some(p);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// The file previewed (a path, or a dropped file's name in memory).
    pub fn file(&self) -> &str {
        self.path.trim()
    }

    /// The window; returns the settings to train with once the user accepts a file that loads.
    pub fn show(&mut self, ctx: &egui::Context, current: &TrainConfig, page: &mut PageState) -> Option<TrainConfig> {
        let mut open = self.open;
        let mut accepted = None;
        egui::Window::new("Import CSV")
            .open(&mut open)
            .default_width(520.0)
            .show(ctx, |ui| accepted = self.contents(ui, current, page));
        self.open = open && accepted.is_none();
        accepted
    }

    fn contents(&mut self, ui: &mut egui::Ui, current: &TrainConfig, page: &mut PageState) -> Option<TrainConfig> {
        #[cfg(not(target_arch = "wasm32"))]
        ui.horizontal(|ui| {
            ui.label("File");
            let field = ui.text_edit_singleline(&mut self.path);
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Preview").clicked() || enter {
                self.load_preview();
            }
        });
        let how = if cfg!(target_arch = "wasm32") {
            "Drop a .csv file on the page."
        } else {
            "…or drop a .csv file on the window."
        };
        ui.label(format!("{how} The first row names the columns."));
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(255, 120, 100), e);
        }
        let preview = self.preview.as_ref()?;
        egui::ScrollArea::horizontal().show(ui, |ui| {
            egui::Grid::new("import-preview").striped(true).show(ui, |ui| {
                for (i, name) in preview.headers.iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.strong(name);
                        egui::ComboBox::from_id_salt(("role", i))
                            .selected_text(role_name(self.roles[i]))
                            .show_ui(ui, |ui| {
                                for role in [Role::Data, Role::Descriptor, Role::Ignored] {
                                    ui.selectable_value(&mut self.roles[i], role, role_name(role));
                                }
                            });
                    });
                }
                ui.end_row();
                for row in &preview.rows {
                    for cell in row {
                        ui.label(cell);
                    }
                    ui.end_row();
                }
            });
        });
        let pick = |role| -> Vec<String> {
            preview
                .headers
                .iter()
                .zip(&self.roles)
                .filter(|(_, r)| **r == role)
                .map(|(h, _)| h.clone())
                .collect()
        };
        let spec = CsvSpec {
            data_cols: pick(Role::Data),
            descriptor_cols: pick(Role::Descriptor),
        };
        ui.label(format!(
            "{} data column(s), {} descriptor column(s); rows with the same descriptor form one condition.",
            spec.data_cols.len(),
            spec.descriptor_cols.len()
        ));
        let train = ui.button("Train on this file");
        page.control("import-train", train.rect);
        if !train.clicked() {
            return None;
        }
        if spec.data_cols.is_empty() {
            self.error = Some("choose at least one data column".into());
            return None;
        }
        let config = TrainConfig {
            dataset: format!("csv:{}", self.path.trim()),
            source: "gaussian".into(),
            data_cols: spec.data_cols,
            descriptor_cols: spec.descriptor_cols,
            ..current.clone()
        };
        match checked(config) {
            Ok(config) => Some(config),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

/// The config when its data loads in full and the run's settings suit it.
pub fn checked(mut config: TrainConfig) -> Result<TrainConfig, String> {
    let dataset = Dataset::load(&config.dataset_request()).map_err(|e| e.to_string())?;
    // A method that needs descriptors falls back to its unconditional counterpart, and a
    // minibatch holds at most as many descriptor groups as the data has.
    if !dataset.is_conditional() && config.method == crate::method::Method::COt {
        config.method = crate::method::Method::OtCfm;
    }
    if dataset.is_conditional() {
        config.groups = config.groups.clamp(1, dataset.conditions.len());
    }
    config.validate(&dataset)?;
    Ok(config)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Data => "data",
        Role::Descriptor => "descriptor",
        Role::Ignored => "ignored",
    }
}

impl super::MixflowApp {
    /// A CSV file dropped on the window opens in the import window: by path on the desktop, kept
    /// in memory under its name in the browser (which gives bytes, read asynchronously, not paths).
    pub(super) fn take_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        for file in dropped {
            #[cfg(not(target_arch = "wasm32"))]
            self.import.open_file(&file.path().display().to_string());
            #[cfg(target_arch = "wasm32")]
            {
                let (slot, waker) = (self.dropped.clone(), ctx.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    let name = format!("dropped/{}", file.path().display());
                    let bytes = file.bytes_async().await;
                    if let Ok(mut s) = slot.lock() {
                        s.push((name, bytes));
                    }
                    waker.request_repaint();
                });
            }
        }
        #[cfg(target_arch = "wasm32")]
        for (name, bytes) in self
            .dropped
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default()
        {
            match bytes {
                Ok(bytes) => {
                    crate::data::remember(&name, bytes);
                    self.import.open_file(&name);
                }
                Err(e) => self
                    .notes
                    .push(format!("{name}: the dropped file could not be read: {e}")),
            }
        }
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            let layer = egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("drop-hint"));
            let painter = ctx.layer_painter(layer);
            let screen = ctx.content_rect();
            painter.rect_filled(screen, 0.0, egui::Color32::from_black_alpha(160));
            painter.text(
                screen.center(),
                egui::Align2::CENTER_CENTER,
                "Drop a CSV file to import it",
                egui::FontId::proportional(28.0),
                egui::Color32::WHITE,
            );
        }
    }
}
