//! The browser entry point: starts the app in the page's canvas with eframe's web runner, and says
//! in the page itself what went wrong when something does (never a blank page). Also the few page
//! facts the app uses: the address's fragment (shared state), and a status element that pages
//! embedding the app, and the end-to-end test, read.

use crate::app::{Launch, MixflowApp};
use wasm_bindgen::JsCast;

const CANVAS_ID: &str = "mixflow-canvas";
/// index.html's loading screen: hidden once the app runs, shown again with a failure message.
const LOADING_ID: &str = "mixflow-loading";
const STATUS_ID: &str = "mixflow-status";

/// Called once the module has loaded (the binary's `main`); in a Web Worker, where the module
/// trains a run, there is no page to start.
pub fn start() {
    if web_sys::window().is_none() {
        return;
    }
    if query().contains("bench") {
        wasm_bindgen_futures::spawn_local(bench());
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let message = format!("MixFlow Explorer stopped with an internal error: {info}");
        web_sys::console::error_1(&message.clone().into());
        show_failure(&message);
    }));
    wasm_bindgen_futures::spawn_local(async {
        if let Err(e) = run().await {
            web_sys::console::error_1(&e.clone().into());
            show_failure(&e);
        }
    });
}

async fn run() -> Result<(), String> {
    let canvas = document()?
        .get_element_by_id(CANVAS_ID)
        .ok_or_else(|| format!("the page has no element #{CANVAS_ID} to draw in"))?
        .dyn_into::<web_sys::HtmlCanvasElement>()
        .map_err(|_| format!("#{CANVAS_ID} is not a canvas"))?;
    let webgpu = page_webgpu().await;
    let search = query();
    let draw_with_webgl2 = search.contains("renderer=webgl2");
    let launch = Launch {
        state: Some(fragment()).filter(|f| !f.is_empty()),
        // `?playback`: the particles play back from the start, so the page draws every frame
        // (what `web/bench.sh` times, with training on and off).
        playback: search.contains("playback"),
        ..Launch::default()
    };
    eframe::WebRunner::new()
        .start(
            canvas,
            web_options(webgpu, draw_with_webgl2),
            Box::new(move |cc| Ok(Box::new(MixflowApp::new(cc, launch)))),
        )
        .await
        .map_err(|e| {
            format!(
                "this browser cannot draw the app (neither WebGPU nor WebGL2 started): {}",
                js_text(&e)
            )
        })?;
    // Hidden, not removed: a later failure shows its message on it, above the canvas.
    if let Some(loading) = document()?.get_element_by_id(LOADING_ID) {
        let _ = loading.set_attribute("style", "display: none");
    }
    Ok(())
}

/// `?bench`: B1 and B2 of SPEC section 8 on the CPU backend in this browser (B6's engine half),
/// with B1's layer alone (the products' throughput), instead of the app. The figures, as
/// `mixflow bench --json` prints them, go into the status element for `web/bench.sh`, and a
/// table onto the page.
async fn bench() {
    use crate::bench::{Report, Sizes, engine};
    let say = |text: &str| {
        if let Ok(Some(el)) = document().map(|d| d.get_element_by_id("mixflow-progress")) {
            el.set_text_content(Some(text));
        }
    };
    say("Running B1, B1's layer alone and B2 on the CPU backend (about 15 s)…");
    // Lets the page show that before the benchmark holds its thread.
    mixflow_core::platform::yield_to_page(50).await;
    let sizes = Sizes::default();
    let cpu = crate::backend::BackendKind::Cpu;
    let figures = [
        engine::b1(&sizes, cpu),
        engine::b1_layer(&sizes, cpu),
        engine::b2(&sizes, cpu),
        view_on_the_wire(&sizes),
    ];
    let report = figures
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()
        .map(|figures| Report {
            threads: 1,
            backend: "cpu (wasm)".into(),
            figures,
            skipped: Vec::new(),
        });
    match report {
        Ok(report) => {
            publish_status(&serde_json::to_string(&report).unwrap_or_default());
            say(&report.figures.iter().map(|f| f.line()).collect::<Vec<_>>().join("\n"));
        }
        Err(e) => show_failure(&format!("the benchmark failed: {e:#}")),
    }
}

/// What the Web Worker split costs per view: the app's default view of its default run (2,000
/// particles, 64 trajectories of 24 Euler steps, the velocity field), encoded into the bytes a
/// worker posts and decoded back, in milliseconds.
fn view_on_the_wire(sizes: &crate::bench::Sizes) -> anyhow::Result<crate::bench::Figure> {
    use mixflow_live::{Event, wire};
    let settings = crate::app::settings::Settings::default();
    let trainer = crate::train::Trainer::new(settings.config.clone())?;
    let request = settings.view_request(None, Some(([-3.0, -3.0], [3.0, 3.0])));
    let event = Event::View(Box::new(mixflow_live::make_view(&trainer, &request)?));
    let mut bytes = 0;
    let rounds = (0..sizes.repeats)
        .map(|_| {
            let started = web_time::Instant::now();
            let encoded = wire::encode_event(&event)?;
            wire::decode_event(&encoded)?;
            bytes = encoded.len();
            Ok(started.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<anyhow::Result<Vec<f64>>>()?;
    let detail = format!(
        "{bytes} bytes: {} particles, {} trajectories of {} Euler steps, the field",
        request.particles, request.trajectories, request.euler_steps
    );
    Ok(crate::bench::Figure::new(
        "B6-wire",
        "a view encoded and decoded",
        "ms",
        false,
        &rounds,
        detail,
    ))
}

/// The page's WebGPU device, made here rather than by eframe so that drawing and training share
/// it, as on the desktop. (eframe's WebGPU detection drops a probe instance, after which Chromium
/// refuses new devices and fails burn's work on the existing one: "A valid external Instance
/// reference no longer exists". Nothing here is ever dropped; headless Chromium still reports that
/// warning once for its WebGPU canvas, and there burn then refuses the shared device, so GPU
/// training falls back to the CPU with that message.) None where the browser has no usable
/// WebGPU: eframe then draws with WebGL2 and the CPU trains.
async fn page_webgpu() -> Option<eframe::egui_wgpu::WgpuSetupExisting> {
    use eframe::wgpu;
    if !has_webgpu() {
        return None;
    }
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = wgpu::Backends::BROWSER_WEBGPU;
    let instance = wgpu::Instance::new(descriptor);
    let options = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    };
    let unusable = |e: &dyn std::fmt::Display| {
        web_sys::console::warn_1(&format!("WebGPU is offered but cannot be used ({e}): the CPU trains").into());
    };
    let adapter = instance
        .request_adapter(&options)
        .await
        .map_err(|e| unusable(&e))
        .ok()?;
    // All the adapter offers, as on the desktop: burn's kernels need more than drawing does.
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("mixflow device"),
            required_features: adapter.features(),
            required_limits: adapter.limits(),
            ..Default::default()
        })
        .await
        .map_err(|e| unusable(&e))
        .ok()?;
    crate::platform::set_hardware_webgpu(adapter.get_info().device_type != wgpu::DeviceType::Cpu);
    #[cfg(feature = "gpu")]
    crate::backend::set_browser_gpu(crate::backend::share_wgpu(&instance, &adapter, &device, &queue));
    Some(eframe::egui_wgpu::WgpuSetupExisting {
        instance,
        adapter,
        device,
        queue,
    })
}

/// Drawing on the page's WebGPU device where there is one; otherwise eframe's own choice, which
/// without WebGPU is WebGL2. `?renderer=webgl2` in the address draws with WebGL2 whatever the
/// browser offers (WebGPU may still train): for a browser whose WebGPU canvas misbehaves, as
/// headless Chromium's does (it composites nothing, and its device errors poison burn's work).
fn web_options(webgpu: Option<eframe::egui_wgpu::WgpuSetupExisting>, webgl2: bool) -> eframe::WebOptions {
    use eframe::egui_wgpu::{WgpuConfiguration, WgpuSetup, WgpuSetupCreateNew};
    let wgpu_setup = match webgpu {
        Some(existing) if !webgl2 => WgpuSetup::Existing(existing),
        _ => {
            let mut create = WgpuSetupCreateNew::without_display_handle();
            if webgl2 {
                create.instance_descriptor.backends = eframe::wgpu::Backends::GL;
            }
            WgpuSetup::CreateNew(create)
        }
    };
    eframe::WebOptions {
        wgpu_options: WgpuConfiguration {
            wgpu_setup,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn document() -> Result<web_sys::Document, String> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| "no page document".to_string())
}

/// The address's query (`?...`): the page's switches (`renderer=webgl2`, `worker=off`,
/// `playback`, `bench`).
fn query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// The address's fragment, without `#`.
pub fn fragment() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .map(|h| h.trim_start_matches('#').to_string())
        .unwrap_or_default()
}

/// Rewrites the address's fragment in place (no history entry, no reload), so the address bar
/// always holds a link to what is on screen.
pub fn set_fragment(fragment: &str) {
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("#{fragment}")));
    }
}

/// The page's address with `fragment` in place of its own.
pub fn link(fragment: &str) -> String {
    let href = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    let base = href.split('#').next().unwrap_or_default();
    format!("{base}#{fragment}")
}

/// Writes the app's status (JSON) into the page's status element.
pub fn publish_status(json: &str) {
    if let Ok(Some(el)) = document().map(|d| d.get_element_by_id(STATUS_ID)) {
        el.set_text_content(Some(json));
    }
}

/// Shows the loading screen again, over the canvas, with a readable failure message on it (as
/// loader.js does when the module cannot load).
fn show_failure(message: &str) {
    let Ok(document) = document() else {
        return;
    };
    let (Some(screen), Ok(failure)) = (document.get_element_by_id(LOADING_ID), document.create_element("div")) else {
        return;
    };
    let _ = screen.set_attribute("style", "display: flex");
    failure.set_id("mixflow-failure");
    failure.set_class_name("failure");
    failure.set_text_content(Some(message));
    let _ = screen.append_child(&failure);
}

fn js_text(value: &wasm_bindgen::JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<web_sys::js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Whether the browser offers WebGPU at all (`navigator.gpu`).
fn has_webgpu() -> bool {
    web_sys::window().is_some_and(|w| web_sys::js_sys::Reflect::has(&w.navigator(), &"gpu".into()).unwrap_or(false))
}

/// Offers `bytes` to the user as a download named `name`: a link to a blob, clicked. The blob's
/// address is let go a minute later, not at once: the browser starts reading it only after the
/// click returns.
pub fn download(name: &str, bytes: &[u8]) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    let fail = |what: &str| format!("cannot download {name}: {what}");
    let parts = js_sys_array_of(bytes);
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts).map_err(|_| fail("the browser refused the data"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| fail("no object URL"))?;
    let document = document()?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| fail("no link element"))?
        .dyn_into()
        .map_err(|_| fail("no link element"))?;
    anchor.set_href(&url);
    anchor.set_download(name);
    if let Some(body) = document.body() {
        let _ = body.append_child(&anchor);
        anchor.click();
        let _ = body.remove_child(&anchor);
    } else {
        anchor.click();
    }
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    }
    Ok(())
}

/// A JS array holding one Uint8Array copy of `bytes`, as `Blob::new` takes its parts.
fn js_sys_array_of(bytes: &[u8]) -> wasm_bindgen::JsValue {
    let array = js_sys::Array::new();
    array.push(&js_sys::Uint8Array::from(bytes));
    array.into()
}
