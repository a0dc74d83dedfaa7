//! What the engine needs of the platform it runs on: in the browser, a way to hand the page's
//! event loop back its turn while waiting (there are no threads to block there), and what the page
//! found its WebGPU adapter to be.

/// Returns to the page's event loop, resuming after `ms` milliseconds (0: as soon as the input,
/// drawing and other tasks queued meanwhile have run).
#[cfg(target_arch = "wasm32")]
pub async fn yield_to_page(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    static HARDWARE_WEBGPU: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records what the page found its WebGPU adapter to be (once, before any run starts).
#[cfg(target_arch = "wasm32")]
pub fn set_hardware_webgpu(hardware: bool) {
    HARDWARE_WEBGPU.set(hardware);
}

/// Whether the page's WebGPU device is a real GPU. A software one (SwiftShader, which Chromium
/// offers only behind a flag) runs burn's kernels a hundred times slower than the CPU backend.
#[cfg(target_arch = "wasm32")]
pub fn has_hardware_webgpu() -> bool {
    HARDWARE_WEBGPU.get()
}
