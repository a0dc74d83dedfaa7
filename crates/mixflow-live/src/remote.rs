//! Training off the page's thread: a run's worker in a Web Worker of its own, running the same
//! wasm module, talking to the page with the same Command / Event protocol as bytes (`wire.rs`).
//! The page side ([`RemoteWorker`]) starts the Web Worker (`worker.js`, which instantiates the
//! page's own compiled module, sent with the first message), posts commands and folds the events
//! that come back into the run's channel; the worker side ([`serve`]) is the worker loop of the
//! page, with an outbox that posts. Event bytes are moved to the page (transferred), not copied.
//! Also the comparison's lock-step across memories ([`PaceLink`], a broadcast channel per pace).

use crate::pace::{Pace, PaceAddress, PaceSlot};
use crate::protocol::{Command, Event, ViewRequest};
use crate::wire;
use crate::worker::{Outbox, Worker};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Weak;
use std::sync::mpsc::channel;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::{Closure, JsValue};

/// The worker script, beside the page (web/worker.js).
const WORKER_SCRIPT: &str = "./worker.js";

/// Why runs train on the page's thread instead (none: Web Workers are used), decided once.
pub fn workers_unavailable() -> Option<&'static str> {
    thread_local! {
        static WHY: Option<&'static str> = decide();
    }
    fn decide() -> Option<&'static str> {
        let window = web_sys::window()?;
        let search = window.location().search().unwrap_or_default();
        if search.contains("worker=off") {
            return Some("Web Workers are turned off by ?worker=off");
        }
        let has_worker = js_sys::Reflect::has(&js_sys::global(), &"Worker".into()).unwrap_or(false);
        (!has_worker).then_some("this browser has no Web Workers")
    }
    WHY.with(|w| *w)
}

/// The share of a core each of `runs` Web Workers of a comparison may take, so that together they
/// leave the page's thread a core to draw on: the whole of one where there are cores to spare. On
/// two cores, four workers training flat out left the page a fifth of the machine, and its frames
/// (and the browser test's screenshots) waited seconds.
pub(crate) fn core_share(runs: usize) -> f64 {
    thread_local! {
        static CORES: usize = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
            .and_then(|n| js_sys::Reflect::get(&n, &"hardwareConcurrency".into()))
            .ok()
            .and_then(|c| c.as_f64())
            .map_or(2, |c| c as usize);
    }
    let for_workers = CORES.with(|c| c.saturating_sub(1).max(1));
    (for_workers as f64 / runs.max(1) as f64).min(1.0)
}

/// The page's end of a run's Web Worker. Dropping it stops the worker.
pub struct RemoteWorker {
    worker: web_sys::Worker,
    /// The run's event channel, as a worker in the page's memory would send into it.
    events: Outbox,
    ending: Rc<Ending>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl RemoteWorker {
    /// Starts a Web Worker whose events go to `events` (which wakes the app); the page's
    /// compiled module is its first message, so the worker neither fetches nor compiles it again.
    pub(crate) fn start(events: Outbox) -> Result<Self, String> {
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options(WORKER_SCRIPT, &options)
            .map_err(|e| format!("cannot start a Web Worker: {}", text(&e)))?;
        let ending = Rc::new(Ending::default());
        let on_message = {
            let (events, ending, worker) = (events.clone(), ending.clone(), worker.clone());
            Closure::<dyn FnMut(_)>::new(move |message: web_sys::MessageEvent| {
                match wire::decode_event(&received_bytes(&message)) {
                    Ok(Event::Crashed(why)) => ending.crashed(&worker, &events, why),
                    Ok(event) => {
                        events.send(event);
                    }
                    Err(e) => ending.crashed(&worker, &events, e.to_string()),
                }
            })
        };
        let on_error = {
            let (events, ending, worker) = (events.clone(), ending.clone(), worker.clone());
            Closure::<dyn FnMut(_)>::new(move |error: web_sys::ErrorEvent| {
                ending.crashed(
                    &worker,
                    &events,
                    format!("the training worker stopped: {}", error.message()),
                );
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let hello = js_sys::Object::new();
        js_sys::Reflect::set(&hello, &"module".into(), &wasm_bindgen::module())
            .map_err(|e| format!("cannot hand the module to the worker: {}", text(&e)))?;
        worker
            .post_message(&hello)
            .map_err(|e| format!("cannot hand the module to the worker: {}", text(&e)))?;
        Ok(Self {
            worker,
            events,
            ending,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    /// Posts `command` to the worker, its bytes moved rather than copied. A run on a table the
    /// page holds in memory (a dropped file, drawn points) takes the table with it.
    pub fn send(&self, command: Command) {
        if let Command::Reset { config, pace, .. } = &command {
            self.ending.pace.set(pace.as_ref().map(PaceSlot::address));
            let (source, target) = config.source_and_target();
            for name in [source, target].iter().filter_map(|d| d.strip_prefix("csv:")) {
                if let Some(bytes) = mixflow_core::data::remembered(name) {
                    self.post(Command::Remember {
                        name: name.to_string(),
                        bytes: bytes.to_vec(),
                    });
                }
            }
        }
        self.post(command);
    }

    fn post(&self, command: Command) {
        let posted = wire::encode_command(&command)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let (array, transfer) = moved(&bytes);
                self.worker
                    .post_message_with_transfer(&array, &transfer)
                    .map_err(|e| format!("cannot reach the training worker: {}", text(&e)))
            });
        if let Err(why) = posted {
            self.ending.crashed(&self.worker, &self.events, why);
        }
    }
}

/// How a run's worker ended, if it did: said once, by its own panic hook or else by its error
/// event. A worker whose module aborted never drops its place in a comparison's pace, and its
/// siblings would wait for it for ever; the page frees that place for it.
#[derive(Default)]
struct Ending {
    reported: Cell<bool>,
    /// The worker's place in its run's pace, if the run keeps one.
    pace: Cell<Option<PaceAddress>>,
}

impl Ending {
    /// Stops `worker` for good (a reset starts another), frees its place in the pace, and tells
    /// the run why, once.
    fn crashed(&self, worker: &web_sys::Worker, events: &Outbox, why: String) {
        if self.reported.replace(true) {
            return;
        }
        worker.terminate();
        if let Some((id, index, _)) = self.pace.take() {
            PaceLink::tell_once(id, index, None);
        }
        events.send(Event::Crashed(why));
    }
}

impl Drop for RemoteWorker {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// The worker side, called by `worker.js` once the module runs in the Web Worker: commands
/// posted by the page go to a worker loop like the page's own, whose events are posted back.
pub fn serve() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    std::panic::set_hook(Box::new({
        let scope = scope.clone();
        move |info| {
            let _ = post(&scope, &Event::Crashed(info.to_string()));
        }
    }));
    let (commands, received) = channel();
    let on_message = {
        let scope = scope.clone();
        Closure::<dyn FnMut(_)>::new(move |message: web_sys::MessageEvent| {
            match wire::decode_command(&received_bytes(&message)) {
                Ok(command) => {
                    let _ = commands.send(command);
                }
                Err(e) => {
                    let _ = post(&scope, &Event::Crashed(e.to_string()));
                }
            }
        })
    };
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The worker's whole life: the handler lives as long as it.
    on_message.forget();
    let outbox = Outbox::posting(move |event| post(&scope, &event));
    // The page sends the view, the run and whether to play as its first commands.
    let worker = Worker::new(received, outbox, None, ViewRequest::default(), false).off_the_page();
    wasm_bindgen_futures::spawn_local(worker.run_in_page());
}

/// Posts `event` to the page, its bytes moved; false when it could not be posted.
fn post(scope: &web_sys::DedicatedWorkerGlobalScope, event: &Event) -> bool {
    let Ok(bytes) = wire::encode_event(event) else {
        return false;
    };
    let (array, transfer) = moved(&bytes);
    scope.post_message_with_transfer(&array, &transfer).is_ok()
}

/// `bytes` as a message and the list that moves its buffer to the receiver instead of copying it.
fn moved(bytes: &[u8]) -> (js_sys::Uint8Array, js_sys::Array) {
    let array = js_sys::Uint8Array::from(bytes);
    let transfer = js_sys::Array::of1(&array.buffer());
    (array, transfer)
}

/// The bytes a message of the protocol carries.
fn received_bytes(message: &web_sys::MessageEvent) -> Vec<u8> {
    js_sys::Uint8Array::new(&message.data()).to_vec()
}

/// A pace's voice on the broadcast channel named after its id: each run's progress is told to
/// the copies of the pace in the page and in the other workers, which record what they hear.
pub struct PaceLink {
    channel: Option<web_sys::BroadcastChannel>,
    _listener: Option<Closure<dyn FnMut(web_sys::MessageEvent)>>,
}

impl std::fmt::Debug for PaceLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaceLink")
    }
}

impl PaceLink {
    pub fn open(id: u64, pace: Weak<Pace>) -> Self {
        let Ok(channel) = pace_channel(id) else {
            return Self {
                channel: None,
                _listener: None,
            };
        };
        let listener = Closure::<dyn FnMut(_)>::new(move |message: web_sys::MessageEvent| {
            let said: js_sys::Array = message.data().unchecked_into();
            let (Some(index), Some(steps)) = (said.get(0).as_f64(), said.get(1).as_f64()) else {
                return;
            };
            if let Some(pace) = pace.upgrade() {
                pace.heard(index as usize, (steps >= 0.0).then_some(steps as usize));
            }
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        Self {
            channel: Some(channel),
            _listener: Some(listener),
        }
    }

    /// Tells the others that run `index` has completed `steps` (none: it stopped training).
    pub fn tell(&self, index: usize, steps: Option<usize>) {
        if let Some(channel) = &self.channel {
            say(channel, index, steps);
        }
    }

    /// [`Self::tell`] for pace `id` from a memory that holds no copy of it (the page, for a
    /// worker that can no longer speak).
    fn tell_once(id: u64, index: usize, steps: Option<usize>) {
        if let Ok(channel) = pace_channel(id) {
            say(&channel, index, steps);
            // What is posted is delivered even though the sender closes at once.
            channel.close();
        }
    }
}

/// The broadcast channel of pace `id`.
fn pace_channel(id: u64) -> Result<web_sys::BroadcastChannel, JsValue> {
    web_sys::BroadcastChannel::new(&format!("mixflow-pace-{id}"))
}

fn say(channel: &web_sys::BroadcastChannel, index: usize, steps: Option<usize>) {
    let steps = steps.map_or(-1.0, |s| s as f64);
    let _ = channel.post_message(&js_sys::Array::of2(&(index as f64).into(), &steps.into()));
}

impl Drop for PaceLink {
    fn drop(&mut self) {
        if let Some(channel) = &self.channel {
            channel.close();
        }
    }
}

fn text(value: &JsValue) -> String {
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
