//! What the engine needs of the platform it runs on: in the browser, a way to hand the page's
//! event loop back its turn while waiting (there are no threads to block there).

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
