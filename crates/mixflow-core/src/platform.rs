//! What the engine needs of the platform it runs on: in the browser, a way to hand the page's
//! event loop back its turn while waiting (there are no threads to block there), and what the page
//! found its WebGPU adapter to be.

/// Returns to the event loop (the page's, or a Web Worker's), resuming after `ms` milliseconds
/// (0: as soon as the input, drawing, messages and other tasks queued meanwhile have run).
/// `setTimeout` of the global scope, which a window and a worker both have; 0 goes through a
/// message channel instead, since browsers hold a chain of zero timeouts back to 4 ms each.
#[cfg(target_arch = "wasm32")]
pub async fn yield_to_page(ms: i32) {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if ms <= 0 && ZERO_DELAY.with(|z| z.as_ref().map(|z| z.after(resolve.clone())).is_some()) {
            return;
        }
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(set_timeout) = set_timeout {
            let _ = set_timeout.call2(&wasm_bindgen::JsValue::NULL, &resolve, &ms.into());
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A message channel that calls back in queue order: one task later, without a timer's clamp.
#[cfg(target_arch = "wasm32")]
struct ZeroDelay {
    channel: web_sys::MessageChannel,
    waiting: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<js_sys::Function>>>,
    _on_message: wasm_bindgen::closure::Closure<dyn FnMut()>,
}

#[cfg(target_arch = "wasm32")]
impl ZeroDelay {
    fn new() -> Option<Self> {
        use wasm_bindgen::JsCast;
        let channel = web_sys::MessageChannel::new().ok()?;
        let waiting = std::rc::Rc::new(std::cell::RefCell::new(
            std::collections::VecDeque::<js_sys::Function>::new(),
        ));
        let queue = waiting.clone();
        let on_message = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
            if let Some(resolve) = queue.borrow_mut().pop_front() {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            }
        });
        channel.port1().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Self {
            channel,
            waiting,
            _on_message: on_message,
        })
    }

    fn after(&self, resolve: js_sys::Function) {
        self.waiting.borrow_mut().push_back(resolve);
        let _ = self.channel.port2().post_message(&wasm_bindgen::JsValue::NULL);
    }
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    static ZERO_DELAY: Option<ZeroDelay> = ZeroDelay::new();
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
