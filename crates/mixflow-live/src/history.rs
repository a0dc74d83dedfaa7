//! A run's training history: its weights every N steps as f16 bytes (the format of a cached
//! start, [`mixflow_core::train::Trainer::cached_start`]), within a memory budget, for the training
//! scrubber to redraw any kept step. Past the budget every other state goes and N doubles, so the
//! history always spans the whole run at an even spacing.

use crate::protocol::Event;
use mixflow_core::backend::BackendKind;
use mixflow_core::config::TrainConfig;
use mixflow_core::train::{SetupError, Trainer, WeightsError};

/// States an automatic interval aims for over a run's steps (the issue asks for 100 to 200 over a
/// 4,000-step run).
const TARGET_STATES: usize = 150;

/// The weights of a run at the steps kept so far.
#[derive(Clone, Debug, Default)]
pub struct WeightHistory {
    every: usize,
    budget: usize,
    /// (step, f16 weights), oldest first; steps are multiples of `every` (and step 0).
    states: Vec<(usize, Vec<u8>)>,
    bytes: usize,
}

impl WeightHistory {
    /// The history `config` asks for: every `history-every` steps (or about [`TARGET_STATES`]
    /// over its steps) within `history-mb`.
    pub fn for_run(config: &TrainConfig) -> Self {
        let every = config
            .history_every
            .unwrap_or(config.steps.div_ceil(TARGET_STATES))
            .max(1);
        Self::new(every, config.history_mb << 20)
    }

    pub fn new(every: usize, budget_bytes: usize) -> Self {
        Self {
            every: every.max(1),
            budget: budget_bytes,
            states: Vec::new(),
            bytes: 0,
        }
    }

    /// Whether the weights of `step` are to be kept: the first step seen (where the run starts:
    /// 0, or a cached start's or a checkpoint's step), then each step on the interval.
    pub fn wants(&self, step: usize) -> bool {
        match self.states.last() {
            None => true,
            Some((last, _)) => step.is_multiple_of(self.every) && *last < step,
        }
    }

    /// Keeps the weights of `step` (from [`Self::wants`]), thinning the history while it is over
    /// budget. The first state, where the run started, is always kept.
    pub fn keep(&mut self, step: usize, weights: Vec<u8>) {
        self.bytes += weights.len();
        self.states.push((step, weights));
        while self.bytes > self.budget && self.states.len() > 2 {
            self.every *= 2;
            let every = self.every;
            let ends = (
                self.states.first().map(|(s, _)| *s),
                self.states.last().map(|(s, _)| *s),
            );
            let bytes = &mut self.bytes;
            self.states.retain(|(s, w)| {
                let keep = s.is_multiple_of(every) || Some(*s) == ends.0 || Some(*s) == ends.1;
                if !keep {
                    *bytes -= w.len();
                }
                keep
            });
        }
    }

    /// The kept state nearest `step` at or before it (the first one when `step` is before all).
    pub fn at(&self, step: usize) -> Option<(usize, &[u8])> {
        let i = self.states.partition_point(|(s, _)| *s <= step);
        self.states.get(i.saturating_sub(1)).map(|(s, w)| (*s, w.as_slice()))
    }

    /// The steps kept, oldest first.
    pub fn steps(&self) -> Vec<usize> {
        self.states.iter().map(|(s, _)| *s).collect()
    }

    pub fn every(&self) -> usize {
        self.every
    }

    /// The memory the kept weights take.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The worker's side of the training scrubber: the history, the step the app asked to see, and a
/// CPU trainer holding that step's weights for views.
pub(crate) struct Rewind {
    pub history: WeightHistory,
    /// None: the newest (live) model.
    shown: Option<usize>,
    replay: Option<Trainer>,
}

impl Rewind {
    pub fn for_run(config: &TrainConfig) -> Self {
        Self {
            history: WeightHistory::for_run(config),
            shown: None,
            replay: None,
        }
    }

    /// Keeps the live model's weights when the history wants its step; whether it did.
    pub async fn record(&mut self, live: &Trainer) -> Result<bool, WeightsError> {
        let step = live.steps_done();
        if !self.history.wants(step) {
            return Ok(false);
        }
        self.history.keep(step, live.cached_start().await?);
        Ok(true)
    }

    /// Views show the kept state at or before `step` from now on (None: the live model).
    pub fn show(&mut self, step: Option<usize>) {
        self.shown = step;
    }

    pub fn shows_the_past(&self) -> bool {
        self.shown.is_some()
    }

    /// Readies the trainer of the shown step (see [`Self::replayed`]) from `live`'s settings;
    /// false when the live model is shown (or nothing is kept yet).
    pub fn ready(&mut self, live: &Trainer) -> Result<bool, SetupError> {
        let Some((step, weights)) = self.shown.and_then(|s| self.history.at(s)) else {
            return Ok(false);
        };
        let replay = match &mut self.replay {
            Some(replay) => replay,
            None => self.replay.insert(live.mirror_on(BackendKind::Cpu.device()?)?),
        };
        if replay.steps_done() != step {
            replay.start_from(weights)?;
        }
        Ok(true)
    }

    /// Whether the shown step now resolves to another kept state than the one views were drawn
    /// from (the first state at or before it was kept only now, or thinned away): a new view is due.
    pub fn outdated(&self) -> bool {
        let wanted = self.shown.and_then(|s| self.history.at(s)).map(|(step, _)| step);
        let drawn = self.replay.as_ref().map(Trainer::steps_done);
        self.shown.is_some() && wanted != drawn
    }

    /// The trainer holding the shown step's weights, once [`Self::ready`].
    pub fn replayed(&self) -> Option<&Trainer> {
        self.replay.as_ref().filter(|_| self.shown.is_some())
    }

    /// What the app is told of the history.
    pub fn event(&self) -> Event {
        Event::History {
            steps: self.history.steps(),
            bytes: self.history.bytes(),
            every: self.history.every(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(every: usize, budget: usize, to: usize) -> WeightHistory {
        let mut h = WeightHistory::new(every, budget);
        for step in 0..=to {
            if h.wants(step) {
                h.keep(step, vec![0; 100]);
            }
        }
        h
    }

    #[test]
    fn the_default_keeps_about_150_states_of_a_4000_step_run() {
        let config = TrainConfig::default();
        assert_eq!(config.steps, 4000);
        let h = WeightHistory::for_run(&config);
        assert_eq!(h.every(), 27);
        let mut h = h;
        for step in 0..=4000 {
            if h.wants(step) {
                h.keep(step, vec![0; 10]);
            }
        }
        assert_eq!(h.steps().len(), 149);
    }

    #[test]
    fn over_budget_every_other_state_goes_and_the_interval_doubles() {
        // 11 states of 100 bytes fit 1,100 bytes; the 12th does not.
        let h = filled(10, 1100, 100);
        assert_eq!(h.steps(), (0..=100).step_by(10).collect::<Vec<_>>());
        let h = filled(10, 1100, 110);
        assert_eq!(h.every(), 20);
        assert_eq!(h.steps(), [0, 20, 40, 60, 80, 100, 110]);
        assert_eq!(h.bytes(), 700);
        // It goes on at the new interval, spanning the whole run.
        let h = filled(10, 1100, 400);
        assert!(h.bytes() <= 1100);
        assert_eq!(h.steps().first(), Some(&0));
        assert!(h.steps().windows(2).all(|w| w[1] - w[0] <= h.every()));
        assert_eq!(h.steps().last(), Some(&400));
    }

    #[test]
    fn a_run_that_starts_later_keeps_its_first_step() {
        let mut h = WeightHistory::new(27, 1 << 20);
        assert!(h.wants(1000));
        h.keep(1000, vec![0; 10]);
        assert!(!h.wants(1001) && h.wants(1026));
        assert_eq!(h.at(3).map(|(s, _)| s), Some(1000));
    }

    #[test]
    fn a_step_between_kept_states_shows_the_one_before_it() {
        let h = filled(10, 10_000, 50);
        assert_eq!(h.at(0).map(|(s, _)| s), Some(0));
        assert_eq!(h.at(29).map(|(s, _)| s), Some(20));
        assert_eq!(h.at(1000).map(|(s, _)| s), Some(50));
        assert!(WeightHistory::default().at(5).is_none());
    }
}
