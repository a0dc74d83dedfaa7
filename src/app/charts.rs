//! Charts of training (egui_plot): losses, W2 (with its floor) and curvature over steps, W2
//! against NFE, and the metrics table, for one run or several side by side.

use super::run::Run;
use eframe::egui;
use egui_plot::{HLine, Line, LineStyle, Plot, PlotPoints, Points};

const HEIGHT: f32 = 150.0;

// The charts carry no legends: each run has the colour of its name in the canvas titles and the
// metrics table, which is easier to read than a legend covering a small plot.

/// Colours of the compared runs.
pub fn run_color(i: usize) -> egui::Color32 {
    let [r, g, b] = super::scene::PALETTE[i % super::scene::PALETTE.len()];
    egui::Color32::from_rgb(r, g, b)
}

/// Reads one of the losses a step reports.
type LossOf = fn(&crate::train::Losses) -> Option<f32>;

/// At most `max` points, averaged in buckets so long histories stay cheap and readable.
fn downsample(values: &[(f64, f64)], max: usize) -> Vec<[f64; 2]> {
    if values.len() <= max {
        return values.iter().map(|&(x, y)| [x, y]).collect();
    }
    values
        .chunks(values.len().div_ceil(max))
        .map(|c| {
            let n = c.len() as f64;
            [
                c.iter().map(|p| p.0).sum::<f64>() / n,
                c.iter().map(|p| p.1).sum::<f64>() / n,
            ]
        })
        .collect()
}

/// A line with a marker at each measurement (a single measurement is visible too).
fn series(plot: &mut egui_plot::PlotUi<'_>, name: &str, pts: Vec<[f64; 2]>, color: egui::Color32) {
    plot.line(Line::new(name, PlotPoints::from(pts.clone())).color(color));
    plot.points(Points::new(name, PlotPoints::from(pts)).radius(2.5).color(color));
}

pub fn losses(ui: &mut egui::Ui, runs: &[Run]) {
    Plot::new("losses")
        .height(HEIGHT)
        .x_axis_label("step")
        .y_axis_label("loss (log10)")
        .show(ui, |plot| {
            for (i, run) in runs.iter().enumerate() {
                let series: [(&str, LossOf); 3] = [("flow", |l| l.flow), ("base", |l| l.base), ("kl", |l| l.kl)];
                for (name, get) in series {
                    let values: Vec<(f64, f64)> = run
                        .losses_by_step()
                        .filter_map(|(s, l)| get(l).filter(|v| *v > 0.0).map(|v| (s as f64, (v as f64).log10())))
                        .collect();
                    if values.is_empty() {
                        continue;
                    }
                    let mut line = Line::new(
                        format!("{} {name}", run.label()),
                        PlotPoints::from(downsample(&values, 600)),
                    )
                    .color(run_color(i));
                    if name != "flow" {
                        line = line.style(LineStyle::dashed_loose());
                    }
                    plot.line(line);
                }
            }
        });
}

pub fn w2_over_training(ui: &mut egui::Ui, runs: &[Run]) {
    Plot::new("w2-training")
        .height(HEIGHT)
        .x_axis_label("step")
        .y_axis_label("W2")
        .show(ui, |plot| {
            for (i, run) in runs.iter().enumerate() {
                let pts: Vec<[f64; 2]> = run.metrics.iter().map(|m| [m.step as f64, m.w2]).collect();
                series(plot, run.label(), pts, run_color(i));
                if let Some(info) = &run.info {
                    let floor = HLine::new(format!("{} floor", run.label()), info.w2_floor)
                        .color(run_color(i))
                        .style(LineStyle::dashed_loose());
                    plot.hline(floor);
                }
            }
        });
}

pub fn curvature(ui: &mut egui::Ui, runs: &[Run]) {
    Plot::new("curvature")
        .height(HEIGHT)
        .x_axis_label("step")
        .y_axis_label("curvature")
        .show(ui, |plot| {
            for (i, run) in runs.iter().enumerate() {
                let pts: Vec<[f64; 2]> = run
                    .metrics
                    .iter()
                    .filter(|m| m.curvature.is_finite())
                    .map(|m| [m.step as f64, m.curvature])
                    .collect();
                series(plot, run.label(), pts, run_color(i));
            }
        });
}

pub fn w2_by_nfe(ui: &mut egui::Ui, runs: &[Run]) {
    Plot::new("w2-nfe")
        .height(HEIGHT)
        .x_axis_label("NFE (log2)")
        .y_axis_label("W2")
        .show(ui, |plot| {
            for (i, run) in runs.iter().enumerate() {
                let pts: Vec<[f64; 2]> = run.nfe_curve.iter().map(|&(n, w)| [(n as f64).log2(), w]).collect();
                plot.line(Line::new(run.label(), PlotPoints::from(pts.clone())).color(run_color(i)));
                plot.points(
                    Points::new(run.label(), PlotPoints::from(pts))
                        .radius(3.0)
                        .color(run_color(i)),
                );
            }
        });
}

/// One row per run: where it is and how good it is, with the W2 floor beside the W2.
pub fn metrics_table(ui: &mut egui::Ui, runs: &[Run]) {
    egui::Grid::new("metrics").striped(true).num_columns(8).show(ui, |ui| {
        for head in [
            "run",
            "step",
            "steps/s",
            "flow loss",
            "W2",
            "W2 floor",
            "curvature",
            "parameters",
        ] {
            ui.strong(head);
        }
        ui.end_row();
        for (i, run) in runs.iter().enumerate() {
            ui.colored_label(run_color(i), run.label());
            ui.label(run.step.to_string());
            ui.label(if run.playing {
                format!("{:.0}", run.steps_per_s)
            } else {
                "paused".into()
            });
            let flow = run.losses.last().and_then(|l| l.flow);
            ui.label(flow.map_or("–".into(), |v| format!("{v:.4}")));
            let last = run.metrics.last();
            ui.label(last.map_or("–".into(), |m| format!("{:.4}", m.w2)));
            ui.label(run.info.as_ref().map_or("–".into(), |i| format!("{:.4}", i.w2_floor)));
            ui.label(
                last.filter(|m| m.curvature.is_finite())
                    .map_or("–".into(), |m| format!("{:.4}", m.curvature)),
            );
            let params: usize = run
                .info
                .as_ref()
                .map_or(0, |i| i.param_counts.iter().map(|(_, n)| n).sum());
            ui.label(params.to_string());
            ui.end_row();
        }
    });
}
