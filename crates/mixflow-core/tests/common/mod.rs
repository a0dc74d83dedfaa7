//! Helpers shared by the training test files.

use mixflow_core::config::TrainConfig;
use mixflow_core::method::Method;
use mixflow_core::train::Trainer;

/// The default settings with a dataset, method and step count.
pub fn config(dataset: &str, method: Method, steps: usize) -> TrainConfig {
    TrainConfig {
        dataset: dataset.into(),
        method,
        steps,
        ..TrainConfig::default()
    }
}

/// A run trained to its last step.
pub fn train(config: TrainConfig) -> Trainer {
    let mut t = Trainer::new(config).unwrap();
    while !t.is_finished() {
        t.step().unwrap();
    }
    t
}
