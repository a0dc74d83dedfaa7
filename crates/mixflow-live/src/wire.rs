//! The Command / Event protocol as bytes, for a run whose worker lives in another memory (a Web
//! Worker of the page): CBOR of the protocol's own types, byte fields as byte strings. Two fields
//! cannot cross as they are and are written here: a cached start (static bytes; the receiving
//! memory keeps one copy of each start it was sent) and a comparison's pace slot (its address;
//! the receiver joins that pace, see `pace.rs`). The GPU device is never sent: a run on the GPU
//! trains where the window's device is.

use crate::protocol::{Command, Event};

/// Why bytes could not be read as a message (a bug, or a page and worker of different builds).
#[derive(Debug, thiserror::Error)]
#[error("a message between the page and its training worker is damaged: {0}")]
pub struct WireError(String);

pub fn encode_command(command: &Command) -> Result<Vec<u8>, WireError> {
    encode(command)
}

pub fn decode_command(bytes: &[u8]) -> Result<Command, WireError> {
    decode(bytes)
}

pub fn encode_event(event: &Event) -> Result<Vec<u8>, WireError> {
    encode(event)
}

pub fn decode_event(bytes: &[u8]) -> Result<Event, WireError> {
    decode(bytes)
}

fn encode(message: &impl serde::Serialize) -> Result<Vec<u8>, WireError> {
    let mut bytes = Vec::new();
    ciborium::into_writer(message, &mut bytes).map_err(|e| WireError(e.to_string()))?;
    Ok(bytes)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    ciborium::from_reader(bytes).map_err(|e| WireError(e.to_string()))
}

/// A cached start as its bytes; read back into a copy kept for the life of the memory, one per
/// distinct start (the demos bundle a handful), so a reset to the same start adds nothing.
pub(crate) mod static_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Mutex;

    static KEPT: Mutex<Vec<&'static [u8]>> = Mutex::new(Vec::new());

    pub fn serialize<S: Serializer>(bytes: &Option<&'static [u8]>, s: S) -> Result<S::Ok, S::Error> {
        bytes.map(serde_bytes::Bytes::new).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'static [u8]>, D::Error> {
        let Some(bytes) = Option::<serde_bytes::ByteBuf>::deserialize(d)?.map(serde_bytes::ByteBuf::into_vec) else {
            return Ok(None);
        };
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(same) = kept.iter().find(|k| **k == bytes.as_slice()) {
            return Ok(Some(same));
        }
        let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        kept.push(leaked);
        Ok(Some(leaked))
    }
}

/// A comparison's pace slot as its address; read back by joining that pace.
pub(crate) mod pace_slot {
    use crate::pace::{PaceAddress, PaceSlot};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(slot: &Option<PaceSlot>, s: S) -> Result<S::Ok, S::Error> {
        slot.as_ref().map(PaceSlot::address).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PaceSlot>, D::Error> {
        Ok(Option::<PaceAddress>::deserialize(d)?.map(PaceSlot::join))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pace::Pace;
    use crate::protocol::ViewRequest;
    use crate::worker::WorkerHandle;
    use mixflow_core::config::{Method, TrainConfig};
    use std::time::Duration;

    /// Every event a MixFlow-OOD run sends up to its first view (its info, steps, history, the
    /// view with its mixture and base components) reads back as written.
    #[test]
    fn a_runs_events_read_back_from_their_bytes_as_they_were_written() {
        let config = TrainConfig {
            dataset: "rotating-moons".into(),
            method: Method::MixflowOod,
            ..TrainConfig::default()
        };
        let view = ViewRequest {
            particles: 200,
            trajectories: 20,
            field_box: Some(([-2.0, -2.0], [2.0, 2.0])),
            ..ViewRequest::default()
        };
        let worker = WorkerHandle::spawn(config, None, view, false);
        worker.send(Command::Step);
        let mut kinds = Vec::new();
        let mut view_bytes = 0;
        let found = worker.wait_for(Duration::from_secs(120), |event| {
            let bytes = encode_event(&event).unwrap();
            let back = decode_event(&bytes).unwrap();
            assert_eq!(encode_event(&back).unwrap(), bytes, "the same bytes again");
            kinds.push(std::mem::discriminant(&event));
            match (event, back) {
                (Event::View(a), Event::View(b)) if a.model.step == 1 => {
                    assert_eq!(a.model.samples, b.model.samples);
                    assert_eq!(a.model.mixture, b.model.mixture);
                    assert_eq!(a.model.base_components, b.model.base_components);
                    assert_eq!(a.field.len(), b.field.len());
                    view_bytes = bytes.len();
                    Some(())
                }
                (Event::Started(a), Event::Started(b)) => {
                    assert_eq!(a.config, b.config);
                    assert_eq!(a.param_counts, b.param_counts);
                    None
                }
                _ => None,
            }
        });
        assert!(found.is_some(), "a view of step 1");
        assert!(kinds.len() >= 3, "info, steps and views crossed: {}", kinds.len());
        // 200 samples and base draws, 20 trajectories of 25 states, 11 field slices of 21²
        // arrows: about 25,000 floats, four bytes each.
        assert!((60_000..200_000).contains(&view_bytes), "{view_bytes} bytes");
    }

    #[test]
    fn a_reset_carries_its_settings_its_cached_start_and_its_place_in_the_pace() {
        static START: [u8; 5] = [1, 2, 3, 4, 5];
        let slots = Pace::slots(2);
        let [first, second] = <[_; 2]>::try_from(slots).unwrap();
        let config = TrainConfig {
            steps: 123,
            ..TrainConfig::default()
        };
        let command = Command::Reset {
            config: Box::new(config.clone()),
            gpu: None,
            start: Some(&START),
            pace: Some(second),
        };
        let bytes = encode_command(&command).unwrap();
        drop(command);
        let Command::Reset {
            config: back,
            start,
            pace,
            ..
        } = decode_command(&bytes).unwrap()
        else {
            panic!("a reset");
        };
        assert_eq!(*back, config);
        assert_eq!(start, Some(&START[..]));
        let pace = pace.expect("the place in the pace");
        pace.set(Some(4));
        assert!(!first.may_step(5), "the joined slot is the second run's");
        // The same start read twice is one copy.
        let again = decode_command(
            &encode_command(&Command::Reset {
                config: Box::new(config),
                gpu: None,
                start: Some(&START),
                pace: None,
            })
            .unwrap(),
        )
        .unwrap();
        let Command::Reset { start: again, .. } = again else {
            panic!()
        };
        assert!(std::ptr::eq(again.unwrap(), start.unwrap()));
        let damaged = decode_command(&[200, 1, 2]).err().expect("no command");
        assert!(damaged.to_string().contains("damaged"), "{damaged}");
    }

    /// A table sent to a worker and a cached start cross as byte strings: each message is its
    /// bytes and a few more (as integers, every byte from 24 up took two), and reads back whole.
    #[test]
    fn bytes_cross_as_byte_strings_barely_longer_than_themselves() {
        let table: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let start: &'static [u8] = Box::leak(table.clone().into_boxed_slice());
        let remember = encode_command(&Command::Remember {
            name: "dropped/ring.csv".into(),
            bytes: table.clone(),
        })
        .unwrap();
        let reset = encode_command(&Command::Reset {
            config: Box::default(),
            gpu: None,
            start: Some(start),
            pace: None,
        })
        .unwrap();
        assert!(remember.len() < table.len() + 64, "{} bytes", remember.len());
        assert!(reset.len() < table.len() + 2_000, "{} bytes", reset.len());
        let Command::Remember { bytes, .. } = decode_command(&remember).unwrap() else {
            panic!("a table")
        };
        assert_eq!(bytes, table);
        let Command::Reset { start: back, .. } = decode_command(&reset).unwrap() else {
            panic!("a reset")
        };
        assert_eq!(back, Some(start));
    }
}
