//! The settings' one declaration against what is said of it elsewhere: the README's table, the
//! TOML keys, the ranges that validation checks.

use mixflow_core::config::{self, SETTINGS, TrainConfig};

const START: &str = "<!-- settings table: generated, see above -->\n";
const END: &str = "<!-- end of settings table -->";

#[test]
fn the_readme_table_of_settings_is_the_declaration() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme.find(START).expect("the README marks its table of settings") + START.len();
    let end = start + readme[start..].find(END).expect("the table's end is marked");
    let table = config::markdown_table();
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        readme[start..end],
        table,
        "the README's table of settings differs from the declaration in config.rs; \
         UPDATE_README=1 cargo test --test settings rewrites it"
    );
}

#[test]
fn every_field_of_the_config_is_declared_once_under_its_toml_key() {
    let defaults = toml::Value::try_from(TrainConfig::default()).unwrap();
    let keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
    for key in defaults.as_table().unwrap().keys() {
        assert!(keys.contains(&key.as_str()), "{key} is not declared");
    }
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "a key is declared twice");
    assert_eq!(
        SETTINGS.iter().find(|s| s.key == "steps").unwrap().default_text(),
        "4000"
    );
    assert_eq!(
        SETTINGS.iter().find(|s| s.key == "grad-clip").unwrap().default_text(),
        ""
    );
}

#[test]
fn a_setting_outside_its_declared_range_is_refused_with_the_range() {
    let dataset = mixflow_core::data::Dataset::load(&TrainConfig::default().dataset_request()).unwrap();
    assert_eq!(config::range::steps, 1..=10_000_000);
    let mut c = TrainConfig {
        steps: 0,
        ..TrainConfig::default()
    };
    assert_eq!(
        c.validate(&dataset).unwrap_err().to_string(),
        "setting `steps`: must be between 1 and 10,000,000, got 0"
    );
    c.steps = 100;
    c.grad_clip = Some(-1.0);
    assert_eq!(
        c.validate(&dataset).unwrap_err().to_string(),
        "setting `grad-clip`: must be between 1e-6 and 1e6, got -1"
    );
    c.grad_clip = None;
    c.sigma = f64::NAN;
    assert_eq!(c.validate(&dataset).unwrap_err().setting, "sigma");
    c.sigma = 0.1;
    assert_eq!(c.validate(&dataset), Ok(()));
}
