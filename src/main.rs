#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    mixflow::cli::main()
}

/// In the browser the same binary is the web app (wasm-bindgen calls `main` once the module loads).
#[cfg(target_arch = "wasm32")]
fn main() {
    mixflow::web::start();
}
