//! Lock-step for the runs of a comparison: no run trains more than [`LEAD`] steps ahead of the
//! slowest one still training, so the canvases side by side show the models at the same step
//! (unpaced, RF reached step 3474 while OT-CFM was at 583 on 8gaussians). Each worker holds one
//! [`PaceSlot`]; a run that is paused, finished or stopped holds nobody back.
//!
//! A run whose worker lives in another memory (a Web Worker of the page) is sent its slot as the
//! pace's id, its place and the number of runs ([`PaceSlot::address`]); the worker joins a pace
//! of that id ([`PaceSlot::join`]). In the browser every pace also speaks on a broadcast channel
//! named after its id, so the copies in the page and in each worker hear every run's progress
//! without a round trip through the page's busy thread.

use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex, Weak};
#[cfg(not(target_arch = "wasm32"))]
use std::time::Duration;

/// How many steps a run may be ahead of the slowest training run.
pub const LEAD: usize = 1;

/// The shared record of where each run of one comparison is.
#[derive(Debug)]
pub struct Pace {
    /// Names this pace across memories (the page's and its workers').
    id: u64,
    /// Each run's completed steps while it trains; None while it does not.
    steps: Mutex<Vec<Option<usize>>>,
    changed: Condvar,
    #[cfg(target_arch = "wasm32")]
    link: crate::remote::PaceLink,
}

/// One run's place in a [`Pace`]. Dropping it (a worker that ends, or panics) releases the others.
#[derive(Debug)]
pub struct PaceSlot {
    pace: Arc<Pace>,
    index: usize,
    /// Sent to a worker elsewhere, which holds the place from then on: dropping this copy
    /// releases nobody.
    handed_over: Cell<bool>,
}

/// Where a slot is: its pace's id, its place and the number of runs.
pub type PaceAddress = (u64, usize, usize);

thread_local! {
    /// The paces alive in this memory, so that a slot joined by address finds its own.
    static PACES: std::cell::RefCell<Vec<Weak<Pace>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Pace {
    /// A pace for `runs` runs, each counted as training at step 0 until it says otherwise (so a
    /// run still building its model holds the others at the start line).
    pub fn slots(runs: usize) -> Vec<PaceSlot> {
        let pace = Self::new(new_id(), runs);
        (0..runs).map(|index| PaceSlot::at(pace.clone(), index)).collect()
    }

    fn new(id: u64, runs: usize) -> Arc<Self> {
        let pace = Arc::new_cyclic(|_weak| Pace {
            id,
            steps: Mutex::new(vec![Some(0); runs]),
            changed: Condvar::new(),
            #[cfg(target_arch = "wasm32")]
            link: crate::remote::PaceLink::open(id, _weak.clone()),
        });
        PACES.with_borrow_mut(|paces| {
            paces.retain(|p| p.strong_count() > 0);
            paces.push(Arc::downgrade(&pace));
        });
        pace
    }

    /// Records run `index`'s progress as heard from elsewhere.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn heard(&self, index: usize, steps: Option<usize>) {
        let mut all = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = all.get_mut(index) {
            *slot = steps;
            self.changed.notify_all();
        }
    }
}

/// A pace id no other pace of this page (or process) has: random in the browser, where the
/// broadcast channel named after it reaches every tab of the page's origin.
fn new_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let count = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    #[cfg(target_arch = "wasm32")]
    let count = count ^ ((js_sys::Math::random() * (1u64 << 52) as f64) as u64) << 8;
    count
}

impl PaceSlot {
    fn at(pace: Arc<Pace>, index: usize) -> Self {
        Self {
            pace,
            index,
            handed_over: Cell::new(false),
        }
    }

    /// This slot's address, for a worker elsewhere that takes over the place: this copy then
    /// releases nobody when it is dropped.
    pub fn address(&self) -> PaceAddress {
        self.handed_over.set(true);
        (self.pace.id, self.index, self.runs())
    }

    /// The slot at `address`, in the pace of that id alive in this memory, or a new one.
    pub fn join((id, index, runs): PaceAddress) -> Self {
        let alive = PACES.with_borrow(|paces| paces.iter().filter_map(Weak::upgrade).find(|p| p.id == id));
        Self::at(alive.unwrap_or_else(|| Pace::new(id, runs.max(index + 1))), index)
    }

    /// How many runs keep this pace.
    pub fn runs(&self) -> usize {
        self.pace.steps.lock().map_or(1, |s| s.len())
    }

    /// Records this run's progress: `Some(completed steps)` while it trains, None when it stops.
    pub fn set(&self, steps: Option<usize>) {
        let mut all = self.pace.steps.lock().unwrap_or_else(|e| e.into_inner());
        if all[self.index] != steps {
            all[self.index] = steps;
            self.pace.changed.notify_all();
            #[cfg(target_arch = "wasm32")]
            self.pace.link.tell(self.index, steps);
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

    /// Sleeps until another run moves or `timeout` passes (a thread only: the browser's tasks
    /// cannot block, and yield to hear the others instead).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait(&self, timeout: Duration) {
        let all = self.pace.steps.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.pace.changed.wait_timeout(all, timeout);
    }
}

impl Drop for PaceSlot {
    fn drop(&mut self) {
        if !self.handed_over.get() {
            self.set(None);
        }
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

    #[test]
    fn a_slot_joined_by_its_address_shares_the_pace_and_its_handed_over_copy_releases_nobody() {
        let slots = Pace::slots(2);
        let address = slots[1].address();
        let joined = PaceSlot::join(address);
        joined.set(Some(7));
        assert!(
            slots[0].may_step(7) && !slots[0].may_step(8),
            "the joined slot is run 1's"
        );
        let [first, second] = <[PaceSlot; 2]>::try_from(slots).unwrap();
        drop(second);
        assert!(!first.may_step(8), "the handed-over copy released nobody");
        drop(joined);
        assert!(first.may_step(8));
        // A pace not alive here is made afresh, its runs at the start line.
        let elsewhere = PaceSlot::join((u64::MAX, 0, 3));
        assert!(elsewhere.may_step(0) && !elsewhere.may_step(1));
    }
}
