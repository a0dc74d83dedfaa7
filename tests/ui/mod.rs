//! Helpers shared by the tests that drive the real app through egui_kittest.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mixflow::app::{Launch, MixflowApp};
use mixflow::method::Method;
use std::time::{Duration, Instant};

/// Runs frames until a label reads exactly `text` (`exact`) or contains it; fails after two
/// minutes.
pub fn wait_for_label(harness: &mut Harness<'_, MixflowApp>, text: &str, exact: bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        harness.run_steps(1);
        let found = if exact {
            harness.query_all_by_label(text).next().is_some()
        } else {
            harness.query_all_by_label_contains(text).next().is_some()
        };
        if found {
            return;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    panic!("timed out waiting for a label {text:?}");
}

/// The app on `dataset` and `method`, paused, without the settings of earlier launches.
pub fn paused(dataset: &str, method: Method) -> Launch {
    Launch {
        dataset: Some(dataset.into()),
        method: Some(method),
        fresh: true,
        paused: true,
        ..Launch::default()
    }
}
