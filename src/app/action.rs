//! One path for every change of what runs: a panel, menu, window or message pushes an [`Action`]
//! while it draws, and the app applies the frame's actions once, after the panels (in the style of
//! rerun's command queue). So the settings, the demo and the runs change in one place and in one
//! order, and two changes in one frame restart the runs once.

use super::{MixflowApp, demo};
use crate::config::TrainConfig;
use crate::method::Method;

/// A change of what runs, asked for by the UI.
pub enum Action {
    /// Train this configuration (the panel's Apply or a switch), leaving any demo.
    Train(TrainConfig),
    /// Train this configuration on its own, leaving any comparison and demo: a dataset the user
    /// imported or drew.
    TrainAlone(TrainConfig),
    /// Back to the default settings.
    Defaults,
    /// Compare the methods side by side, or train one.
    Compare(bool),
    /// The methods compared side by side.
    Lineup(Vec<Method>),
    /// Start the runs again from step 0 with the same seeds (a demo's from their cached starts).
    Restart,
    /// Start again with a tenth of the learning rate (after a divergence).
    RestartLowerLr,
    /// Open a guided demo at one of its captions: its runs (from their cached starts) and view.
    OpenDemo(demo::Position),
    /// Leave the demo and go back to the settings from before it.
    LeaveDemo,
    /// Continue the run saved in this folder in place of the first run, on its own.
    #[cfg(not(target_arch = "wasm32"))]
    OpenCheckpoint(std::path::PathBuf),
}

/// What the frame's actions leave to do once they are all applied.
#[derive(Default)]
struct Due {
    restart: bool,
    /// A demo just opened: its captions up to this one are applied to its new runs.
    demo_caption: Option<usize>,
    #[cfg(not(target_arch = "wasm32"))]
    checkpoint: Option<std::path::PathBuf>,
}

impl MixflowApp {
    /// Queues a change for the end of the frame.
    pub(super) fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// Applies the queued actions in order, then restarts the runs once if any asked for it.
    pub(super) fn apply_actions(&mut self) {
        let mut due = Due::default();
        for action in std::mem::take(&mut self.actions) {
            self.apply(action, &mut due);
        }
        if due.restart {
            self.restart_runs();
        }
        // Every caption up to the opened one, so a link to a later caption shows what it says.
        if let Some(caption) = due.demo_caption {
            for step in 0..=caption {
                self.apply_demo_step(step);
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(dir) = due.checkpoint
            && let Some(run) = self.runs.first()
        {
            run.send(mixflow_live::Command::Open(dir));
        }
    }

    fn apply(&mut self, action: Action, due: &mut Due) {
        match action {
            Action::Train(config) => self.set_config(config),
            Action::TrainAlone(config) => {
                self.set_config(config);
                self.settings.comparing = false;
            }
            Action::Defaults => {
                self.settings = super::Settings::default();
                self.draft = self.settings.config.clone();
            }
            Action::Compare(on) => self.settings.comparing = on,
            Action::Lineup(methods) => self.settings.compare = methods,
            // A reset keeps what runs, a demo's runs included.
            Action::Restart => {
                due.restart = true;
                return;
            }
            Action::RestartLowerLr => {
                self.settings.config.lr /= 10.0;
                self.draft.lr = self.settings.config.lr;
                due.restart = true;
                return;
            }
            Action::OpenDemo(position) => {
                if self.demo.position.is_none() {
                    self.demo.before = Some(self.settings.clone());
                }
                self.settings = position.demo.settings(&self.settings);
                self.draft = self.settings.config.clone();
                self.demo.position = Some(position);
                self.demo.pending_split = None;
                due.demo_caption = Some(position.step);
                due.restart = true;
                return;
            }
            Action::LeaveDemo => {
                // A demo's lab studied the demo's finite sets; the runs after it may have none.
                if self.lab.open {
                    self.lab.close(&self.runs);
                }
                if let Some(settings) = self.demo.before.take() {
                    self.settings = settings;
                    self.draft = self.settings.config.clone();
                }
            }
            #[cfg(not(target_arch = "wasm32"))]
            Action::OpenCheckpoint(dir) => {
                // A checkpoint is one run: it takes the first run's place, outside any demo or
                // comparison (a plain run restarts only when it has to leave one).
                if self.demo.position.is_some() || self.settings.comparing {
                    self.settings.comparing = false;
                    self.leave_demo(due);
                }
                due.checkpoint = Some(dir);
                return;
            }
        }
        // Every other action changes the runs the settings describe: a demo's runs no longer.
        self.leave_demo(due);
    }

    fn set_config(&mut self, config: TrainConfig) {
        self.settings.config = config;
        self.draft = self.settings.config.clone();
    }

    fn leave_demo(&mut self, due: &mut Due) {
        self.demo.position = None;
        self.demo.pending_split = None;
        due.demo_caption = None;
        due.restart = true;
    }
}
