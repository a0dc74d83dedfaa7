//! Lock-step for the runs of a comparison: no run trains more than [`LEAD`] steps ahead of the
//! slowest one still training, so the canvases side by side show the models at the same step
//! (unpaced, RF reached step 3474 while OT-CFM was at 583 on 8gaussians). Each worker holds one
//! [`PaceSlot`]; a run that is paused, finished or stopped holds nobody back.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How many steps a run may be ahead of the slowest training run.
pub const LEAD: usize = 1;

/// The shared record of where each run of one comparison is.
#[derive(Debug, Default)]
pub struct Pace {
    /// Each run's completed steps while it trains; None while it does not.
    steps: Mutex<Vec<Option<usize>>>,
    changed: Condvar,
}

/// One run's place in a [`Pace`]. Dropping it (a worker that ends, or panics) releases the others.
#[derive(Debug)]
pub struct PaceSlot {
    pace: Arc<Pace>,
    index: usize,
}

impl Pace {
    /// A pace for `runs` runs, each counted as training at step 0 until it says otherwise (so a
    /// run still building its model holds the others at the start line).
    pub fn slots(runs: usize) -> Vec<PaceSlot> {
        let pace = Arc::new(Pace {
            steps: Mutex::new(vec![Some(0); runs]),
            changed: Condvar::new(),
        });
        (0..runs)
            .map(|index| PaceSlot {
                pace: pace.clone(),
                index,
            })
            .collect()
    }
}

impl PaceSlot {
    /// Records this run's progress: `Some(completed steps)` while it trains, None when it stops.
    pub fn set(&self, steps: Option<usize>) {
        let mut all = self.pace.steps.lock().unwrap_or_else(|e| e.into_inner());
        if all[self.index] != steps {
            all[self.index] = steps;
            self.pace.changed.notify_all();
        }
    }

    /// Whether a run that has completed `steps` may train one more now.
    pub fn may_step(&self, steps: usize) -> bool {
        let all = self.pace.steps.lock().unwrap_or_else(|e| e.into_inner());
        let slowest = all
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != self.index)
            .filter_map(|(_, s)| *s)
            .min();
        slowest.is_none_or(|slowest| steps < slowest + LEAD)
    }

    /// Sleeps until another run moves or `timeout` passes (a thread only: the page cannot block,
    /// and its tasks take turns anyway).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait(&self, timeout: Duration) {
        let all = self.pace.steps.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.pace.changed.wait_timeout(all, timeout);
    }

    #[cfg(target_arch = "wasm32")]
    pub fn wait(&self, _timeout: Duration) {}
}

impl Drop for PaceSlot {
    fn drop(&mut self) {
        self.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_waits_for_the_slowest_training_run_and_not_for_stopped_ones() {
        let mut slots = Pace::slots(3);
        slots[0].set(Some(10));
        slots[1].set(Some(12));
        slots[2].set(None);
        assert!(slots[0].may_step(10), "the slowest always may");
        assert!(!slots[1].may_step(12), "two ahead of the slowest");
        assert!(slots[1].may_step(10));
        slots[0].set(None);
        assert!(slots[1].may_step(12), "nobody left training to wait for");
        slots[0].set(Some(5));
        drop(slots.remove(0));
        assert!(
            slots[0].may_step(12),
            "a dropped slot (a worker gone) holds nobody back"
        );
    }
}
