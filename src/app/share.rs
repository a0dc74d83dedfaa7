//! Shareable state: everything needed to reproduce what the app shows (the settings with their
//! seeds, the descriptor, the scrubbed time and the camera) as one URL fragment,
//! `#v1=<base64url of RON>`. Opening a link with it reproduces the run; a fragment that is broken,
//! from another version, or asks for an impossible run is refused with a reason, and the app opens
//! the defaults instead.

use super::settings::Settings;
use crate::data::Dataset;
use crate::render::Camera;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Bumped whenever a field changes meaning, so old links are refused rather than misread.
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedState {
    pub settings: Settings,
    /// The explored descriptor (empty: the first training descriptor).
    pub descriptor: Vec<f32>,
    pub time: f32,
    /// The training step shown (none: the newest model); links made before it had none.
    #[serde(default)]
    pub training_step: Option<usize>,
    pub camera: Option<Camera>,
}

impl SharedState {
    /// The URL fragment, without the leading `#`.
    pub fn to_fragment(&self) -> String {
        let ron = ron::to_string(self).expect("plain data always serialises");
        format!("v{VERSION}={}", URL_SAFE_NO_PAD.encode(ron))
    }

    /// The state a fragment (with or without its `#`) describes; `Ok(None)` for no state at all.
    pub fn from_fragment(fragment: &str) -> Result<Option<Self>, String> {
        let fragment = fragment.trim_start_matches('#').trim();
        if fragment.is_empty() {
            return Ok(None);
        }
        let (version, payload) = fragment
            .strip_prefix('v')
            .and_then(|rest| rest.split_once('='))
            .ok_or("the link's state is not of the form v1=…")?;
        match version.parse::<u32>() {
            Ok(VERSION) => {}
            Ok(other) => {
                return Err(format!(
                    "the link was made by another version of MixFlow Explorer (state v{other}, this one reads v{VERSION})"
                ));
            }
            Err(_) => return Err(format!("the link's state version `{version}` is not a number")),
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|e| format!("the link's state is damaged ({e})"))?;
        let text = String::from_utf8(bytes).map_err(|_| "the link's state is damaged (not text)".to_string())?;
        let state: Self = ron::from_str(&text).map_err(|e| format!("the link's state cannot be read ({e})"))?;
        state.check()?;
        Ok(Some(state))
    }

    /// Refuses state that could not start or draw a run, naming the setting.
    fn check(&self) -> Result<(), String> {
        for config in self.settings.run_configs() {
            let dataset = Dataset::load(&config.dataset_request()).map_err(|e| format!("the link's dataset: {e}"))?;
            config.validate(&dataset).map_err(|e| format!("the link's run: {e}"))?;
        }
        let finite = self.descriptor.iter().all(|x| x.is_finite())
            && self.time.is_finite()
            && self
                .camera
                .is_none_or(|c| c.center.iter().all(|x| x.is_finite()) && c.units_per_point > 0.0);
        if !finite {
            return Err("the link's view has numbers that are not finite".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::Method;

    fn sample_state() -> SharedState {
        let mut settings = Settings::default();
        settings.config.dataset = "8gaussians".into();
        settings.config.method = Method::OtCfm;
        settings.config.seed = 7;
        settings.config.lr = 3e-4;
        settings.layers.field = true;
        settings.particles = 5000;
        SharedState {
            settings,
            descriptor: vec![0.5, -0.25],
            time: 0.4,
            training_step: Some(1200),
            camera: Some(Camera {
                center: [0.5, -1.0],
                units_per_point: 0.02,
            }),
        }
    }

    #[test]
    fn state_round_trips_through_the_fragment() {
        let state = sample_state();
        let fragment = state.to_fragment();
        assert!(fragment.starts_with("v1="), "{fragment}");
        assert!(fragment.chars().all(|c| c.is_ascii_alphanumeric() || "-_=".contains(c)));
        assert_eq!(SharedState::from_fragment(&format!("#{fragment}")), Ok(Some(state)));
        assert_eq!(SharedState::from_fragment("#"), Ok(None));
        assert_eq!(SharedState::from_fragment(""), Ok(None));
    }

    #[test]
    fn bad_fragments_are_refused_with_a_reason() {
        let err = |f: &str| SharedState::from_fragment(f).unwrap_err();
        assert!(err("#hello").contains("not of the form"));
        assert!(err("#v9=AAAA").contains("another version"), "{}", err("#v9=AAAA"));
        assert!(err("#vx=AAAA").contains("not a number"));
        assert!(err("#v1=***").contains("damaged"));
        let not_ron = URL_SAFE_NO_PAD.encode("(settings: 12");
        assert!(err(&format!("#v1={not_ron}")).contains("cannot be read"));

        let mut state = sample_state();
        state.settings.config.dataset = "no-such-data".into();
        assert!(err(&state.to_fragment()).contains("dataset"));
        let mut state = sample_state();
        state.settings.config.batch = 0;
        assert!(err(&state.to_fragment()).contains("batch"));
        let mut state = sample_state();
        state.time = f32::NAN;
        assert!(err(&state.to_fragment()).contains("not finite"));
    }
}
