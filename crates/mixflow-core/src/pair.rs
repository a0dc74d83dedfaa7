//! Two pieces of work at once on the machine's second core: [`join`] runs one closure on the
//! calling thread and offers the other to a helper thread.
//!
//! A training step's products (256 × 128 × 128) take 40 to 80 µs, and waking a sleeping thread
//! takes about 70 µs on these machines (rayon's pool included), which ate the whole gain of
//! splitting them (docs/PERFORMANCE.md). So the helper does not sleep between jobs: after each
//! one it keeps looking for the next for `STAY_AWAKE` (2 ms), yielding its core to any thread that
//! wants it, and only then parks. And the caller never waits on a helper that has not started:
//! when its own half is done and the other is still on offer, it takes it back and runs it
//! itself. On one core, and in the browser (no threads), both closures run on the caller.
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: a closure handed to the
// helper thread for the duration of one call, with its SAFETY comment.
#![allow(unsafe_code)]

#[cfg(not(target_arch = "wasm32"))]
mod helper {
    use std::any::Any;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering::SeqCst};
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};

    /// How long the helper looks for work after its last job before it parks.
    pub const STAY_AWAKE: Duration = Duration::from_millis(2);

    const IDLE: u8 = 0;
    const OFFERED: u8 = 1;
    const TAKEN: u8 = 2;
    const DONE: u8 = 3;

    /// The offered closure, on the caller's stack while it is offered.
    struct Job {
        run: *mut (dyn FnMut() + Send),
        panic: Option<Box<dyn Any + Send>>,
    }

    struct Helper {
        state: AtomicU8,
        job: AtomicPtr<Job>,
        parked: AtomicBool,
        thread: std::thread::Thread,
        /// One join at a time; a second caller meanwhile runs both halves itself.
        caller: Mutex<()>,
    }

    fn helper() -> Option<&'static Helper> {
        static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();
        *HELPER.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if cores < 2 {
                return None;
            }
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("mixflow pair".into())
                .spawn(move || {
                    let helper: &'static Helper = Box::leak(Box::new(Helper {
                        state: AtomicU8::new(IDLE),
                        job: AtomicPtr::new(std::ptr::null_mut()),
                        parked: AtomicBool::new(false),
                        thread: std::thread::current(),
                        caller: Mutex::new(()),
                    }));
                    let _ = tx.send(helper);
                    helper.serve();
                })
                .ok()?;
            rx.recv().ok()
        })
    }

    impl Helper {
        fn serve(&self) {
            let mut last_job = Instant::now();
            loop {
                if self.state.load(SeqCst) == OFFERED {
                    if self.state.compare_exchange(OFFERED, TAKEN, SeqCst, SeqCst).is_ok() {
                        // SAFETY: the caller keeps the job alive until it sees DONE.
                        let job = unsafe { &mut *self.job.load(SeqCst) };
                        job.panic = catch_unwind(AssertUnwindSafe(|| unsafe { (*job.run)() })).err();
                        self.state.store(DONE, SeqCst);
                    }
                    last_job = Instant::now();
                } else if last_job.elapsed() < STAY_AWAKE {
                    std::thread::yield_now();
                } else {
                    self.parked.store(true, SeqCst);
                    if self.state.load(SeqCst) != OFFERED {
                        std::thread::park();
                    }
                    self.parked.store(false, SeqCst);
                    last_job = Instant::now();
                }
            }
        }
    }

    pub fn join<A: FnOnce() + Send, B: FnOnce() + Send>(a: A, b: B) {
        let Some(helper) = helper() else {
            a();
            return b();
        };
        let Ok(_turn) = helper.caller.try_lock() else {
            a();
            return b();
        };
        let mut b = Some(b);
        let mut run_b = || (b.take().expect("the offered half runs once"))();
        let run: &mut (dyn FnMut() + Send) = &mut run_b;
        // SAFETY (lifetime erased): this function does not return before the job is done, by the
        // helper (DONE) or by this thread (taken back), so `run` outlives every use of it.
        let run: *mut (dyn FnMut() + Send + 'static) = unsafe { std::mem::transmute(run) };
        let mut job = Job { run, panic: None };
        helper.job.store(&mut job, SeqCst);
        helper.state.store(OFFERED, SeqCst);
        if helper.parked.load(SeqCst) {
            helper.thread.unpark();
        }
        let mine = catch_unwind(AssertUnwindSafe(a));
        if helper.state.compare_exchange(OFFERED, IDLE, SeqCst, SeqCst).is_ok() {
            // SAFETY: taken back before the helper started it: only this thread runs it.
            job.panic = catch_unwind(AssertUnwindSafe(|| unsafe { (*job.run)() })).err();
        } else {
            while helper.state.load(SeqCst) != DONE {
                std::hint::spin_loop();
            }
            helper.state.store(IDLE, SeqCst);
        }
        if let Err(panic) = mine {
            resume_unwind(panic);
        }
        if let Some(panic) = job.panic.take() {
            resume_unwind(panic);
        }
    }
}

/// Runs `a` and `b`, at once where a second core is free; returns when both are done. A panic in
/// either is raised again here.
pub fn join<A: FnOnce() + Send, B: FnOnce() + Send>(a: A, b: B) {
    #[cfg(not(target_arch = "wasm32"))]
    helper::join(a, b);
    #[cfg(target_arch = "wasm32")]
    {
        a();
        b();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_once_whoever_runs_them() {
        let mut halves = vec![[0u32; 2]; 2000];
        for (k, pair) in halves.iter_mut().enumerate() {
            let (left, right) = pair.split_at_mut(1);
            // Every few rounds the helper has parked, so the caller takes the half back.
            if k % 500 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            join(|| left[0] += 1, || right[0] += 1);
        }
        assert!(halves.iter().all(|p| *p == [1, 1]));
    }

    #[test]
    fn a_panic_in_either_half_reaches_the_caller_and_the_pair_still_works() {
        let caught = std::panic::catch_unwind(|| join(|| (), || panic!("offered half")));
        assert!(caught.is_err());
        let caught = std::panic::catch_unwind(|| join(|| panic!("own half"), || ()));
        assert!(caught.is_err());
        let (mut a, mut b) = (0, 0);
        join(|| a = 1, || b = 2);
        assert_eq!((a, b), (1, 2));
    }
}
