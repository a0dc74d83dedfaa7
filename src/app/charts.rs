//! Charts of training (egui_plot): losses, W2 (with its floor), curvature and, on a finite
//! training set, the memorised share over steps, W2 against NFE, and the metrics table, for one
//! run or several side by side.

use eframe::egui;
use egui_plot::{
    AxisHints, Corner, GridInput, GridMark, HLine, Legend, Line, LineStyle, Plot, PlotPoints, Points, VLine,
};
use mixflow_live::Run;

/// A chart as every chart here is drawn: ticks at 1-2-5 steps close enough that a small chart
/// still shows three or four numbers per axis (egui_plot's default, powers of ten 60 points
/// apart, left most axes with a single "0"), and a legend when several runs or marker shapes
/// share it.
pub fn plot<'a>(id: &str, x: &str, y: &str, legend: bool, height: f32) -> Plot<'a> {
    let plot = Plot::new(id)
        .height(height)
        .grid_spacing(egui::Rangef::new(10.0, 120.0))
        .x_grid_spacer(nice_marks)
        .y_grid_spacer(nice_marks)
        .custom_x_axes(vec![
            AxisHints::new_x().label(x).label_spacing(egui::Rangef::new(34.0, 50.0)),
        ])
        .custom_y_axes(vec![
            AxisHints::new_y().label(y).label_spacing(egui::Rangef::new(16.0, 24.0)),
        ])
        .x_axis_formatter(|mark, _| tick_label(mark))
        .y_axis_formatter(|mark, _| tick_label(mark));
    // A short chart (presenter mode) has no room for one: the canvas titles carry the colours.
    if legend && height >= 140.0 {
        plot.legend(Legend::default().position(Corner::RightTop).background_alpha(0.6))
    } else {
        plot
    }
}

/// Grid lines at multiples of 1, 2 or 5 times a power of ten: the finest that is at least the
/// plot's minimum spacing, and the two coarser ones after it.
fn nice_marks(input: GridInput) -> Vec<GridMark> {
    let steps = nice_steps(input.base_step_size.abs());
    let (lo, hi) = input.bounds;
    let mut marks = Vec::new();
    for (i, &step) in steps.iter().enumerate() {
        // Marks of a coarser step replace the finer ones at the same value.
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        if last - first > 1000 {
            continue;
        }
        for k in first..=last {
            let value = k as f64 * step;
            let coarser = steps[i + 1..]
                .iter()
                .any(|s| (value / s - (value / s).round()).abs() < 1e-9);
            if !coarser {
                marks.push(GridMark { value, step_size: step });
            }
        }
    }
    marks
}

/// A tick's value with as many decimals as its step needs (0.5 steps: one), so neighbouring
/// ticks never read the same ("2, 2, 3" for 1.5, 2, 2.5).
fn tick_label(mark: GridMark) -> String {
    let decimals = (-mark.step_size.log10().floor()).max(0.0) as usize;
    format!("{:.*}", decimals, mark.value)
}

/// The smallest 1-2-5 step at or above `at_least`, and the next two.
fn nice_steps(at_least: f64) -> [f64; 3] {
    if !(at_least.is_finite() && at_least > 0.0) {
        return [1.0, 2.0, 5.0];
    }
    let decade = 10f64.powf(at_least.log10().floor());
    let ladder = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];
    let first = ladder
        .iter()
        .position(|m| m * decade >= at_least * (1.0 - 1e-9))
        .unwrap_or(0);
    [
        ladder[first] * decade,
        ladder[first + 1] * decade,
        ladder[first + 2] * decade,
    ]
}

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

pub fn losses(ui: &mut egui::Ui, runs: &[Run], height: f32) {
    plot("losses", "step", "loss (log10)", runs.len() > 1, height).show(ui, |plot| {
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
        shown_steps(plot, runs);
    });
}

pub fn w2_over_training(ui: &mut egui::Ui, runs: &[Run], height: f32) {
    plot("w2-training", "step", "W2", runs.len() > 1, height).show(ui, |plot| {
        for (i, run) in runs.iter().enumerate() {
            let pts: Vec<[f64; 2]> = run.metrics.iter().map(|m| [m.step as f64, m.w2]).collect();
            series(plot, run.label(), pts, run_color(i));
        }
        floor(plot, runs);
        shown_steps(plot, runs);
    });
}

/// A vertical line at the training step each run's canvas shows, while the training scrubber
/// shows a past one.
fn shown_steps(plot: &mut egui_plot::PlotUi<'_>, runs: &[Run]) {
    for (i, run) in runs.iter().enumerate() {
        if let Some(step) = run.shown_step() {
            // Unnamed: the legend names the runs once, by their lines.
            plot.vline(VLine::new("", step as f64).color(run_color(i)).width(1.5));
        }
    }
}

/// The W2 floor as one dashed line: the runs of a view share their data and its floor.
fn floor(plot: &mut egui_plot::PlotUi<'_>, runs: &[Run]) {
    if let Some(info) = runs.iter().find_map(|r| r.info.as_ref()) {
        let floor = HLine::new("floor", info.w2_floor)
            .color(egui::Color32::from_gray(170))
            .style(LineStyle::dashed_loose());
        plot.hline(floor);
    }
}

pub fn curvature(ui: &mut egui::Ui, runs: &[Run], height: f32) {
    plot("curvature", "step", "curvature", runs.len() > 1, height).show(ui, |plot| {
        for (i, run) in runs.iter().enumerate() {
            let pts: Vec<[f64; 2]> = run
                .metrics
                .iter()
                .filter(|m| m.curvature.is_finite())
                .map(|m| [m.step as f64, m.curvature])
                .collect();
            series(plot, run.label(), pts, run_color(i));
        }
        shown_steps(plot, runs);
    });
}

/// The share of samples that copy a training point, for runs on a finite training set.
pub fn memorised(ui: &mut egui::Ui, runs: &[Run], height: f32) {
    plot("memorised", "step", "memorised", runs.len() > 1, height).show(ui, |plot| {
        for (i, run) in runs.iter().enumerate() {
            let pts: Vec<[f64; 2]> = run
                .metrics
                .iter()
                .filter_map(|m| Some([m.step as f64, m.memorised?]))
                .collect();
            series(plot, run.label(), pts, run_color(i));
        }
        shown_steps(plot, runs);
    });
}

pub fn w2_by_nfe(ui: &mut egui::Ui, runs: &[Run], height: f32) {
    let measured = runs.iter().any(|r| !r.nfe_curve.is_empty());
    plot("w2-nfe", "Euler steps (NFE)", "W2", runs.len() > 1 && measured, height)
        // The axis is log2 of the steps: name the whole powers of two only.
        .x_axis_formatter(|mark, _| match mark.value.fract() == 0.0 {
            true => format!("{}", 2f64.powf(mark.value)),
            false => String::new(),
        })
        .show(ui, |plot| {
            for (i, run) in runs.iter().enumerate() {
                let pts: Vec<[f64; 2]> = run.nfe_curve.iter().map(|&(n, w)| [(n as f64).log2(), w]).collect();
                series(plot, run.label(), pts, run_color(i));
            }
            if measured {
                floor(plot, runs);
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
            // The measures of the step the canvas shows: a past one while the training scrubber
            // is on one, with the newest step beside it.
            let shown = run.shown_step();
            ui.label(match shown {
                Some(s) => format!("{s} (of {})", run.step),
                None => run.step.to_string(),
            });
            ui.label(if run.playing {
                format!("{:.0}", run.steps_per_s)
            } else {
                "paused".into()
            });
            let flow = match shown {
                Some(s) => run.losses_at(s).and_then(|l| l.flow),
                None => run.losses.last().and_then(|l| l.flow),
            };
            ui.label(flow.map_or("–".into(), |v| format!("{v:.4}")));
            let last = match shown {
                Some(s) => run.metrics.iter().rev().find(|m| m.step <= s),
                None => run.metrics.last(),
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_steps_climb_the_one_two_five_ladder() {
        assert_eq!(nice_steps(0.7), [1.0, 2.0, 5.0]);
        assert_eq!(nice_steps(130.0), [200.0, 500.0, 1000.0]);
        assert_eq!(nice_steps(0.02), [0.02, 0.05, 0.1]);
        // 4000 steps across a 200-point chart with lines at least 10 points apart: every 200.
        let marks = nice_marks(GridInput {
            bounds: (0.0, 4000.0),
            base_step_size: 4000.0 / 200.0 * 10.0,
        });
        let coarse: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size == 1000.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(coarse, [0.0, 1000.0, 2000.0, 3000.0, 4000.0]);
        assert!(marks.iter().any(|m| m.value == 200.0 && m.step_size == 200.0));
        let label = |value, step_size| tick_label(GridMark { value, step_size });
        assert_eq!(
            [
                label(1.5, 0.5),
                label(2.0, 1.0),
                label(0.05, 0.05),
                label(3000.0, 1000.0)
            ],
            ["1.5", "2", "0.05", "3000"]
        );
    }
}
