#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_freed_heap();
    mixflow::cli::main()
}

/// glibc hands the free top of its heap back to the kernel once it passes a small threshold, and
/// a training step frees and allocates its activations (128 KiB and more) every step: each step
/// then faulted its pages in afresh. Keeping up to 128 MiB of freed heap: B1 1010 → 1320 steps/s
/// (docs/PERFORMANCE.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_heap() {
    // SAFETY: mallopt only sets a parameter of glibc's allocator, before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

/// In the browser the same binary is the web app (wasm-bindgen calls `main` once the module loads),
/// and in a Web Worker a run's training: there `main` does nothing and `web/worker.js` calls
/// [`mixflow_train_worker`].
#[cfg(target_arch = "wasm32")]
fn main() {
    mixflow::web::start();
}

/// The training side of a Web Worker (see `mixflow_live::remote`).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn mixflow_train_worker() {
    mixflow_live::remote::serve();
}
