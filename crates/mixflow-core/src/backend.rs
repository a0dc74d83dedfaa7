//! Which burn backend runs the networks. `cpu` is burn's Flex backend: measured faster than
//! NdArray on the reference step (see README), pure Rust, and it builds for wasm32. `ndarray` stays
//! selectable for comparison; `gpu` is burn's wgpu backend (Vulkan, Metal, DX12 or WebGPU).

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Cpu,
    Ndarray,
    Gpu,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Gpu => "gpu",
        }
    }

    /// The plain (no autodiff) device, checked with one tiny operation so that a GPU backend
    /// that cannot start is reported here rather than panicking mid-training.
    pub fn device(self) -> Result<Device, BackendError> {
        let device = match self {
            BackendKind::Cpu => Ok(Device::flex()),
            #[allow(deprecated)] // kept on purpose, as the measured alternative to Flex
            BackendKind::Ndarray => Ok(Device::ndarray()),
            BackendKind::Gpu => gpu_device(),
        };
        device
            .and_then(probe)
            .map_err(|reason| BackendError { kind: self, reason })
    }
}

/// A backend that cannot start, with the reason its driver or burn gave (text: it comes from a
/// panic or a foreign error).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("the {} backend cannot start: {reason}", kind.name())]
pub struct BackendError {
    pub kind: BackendKind,
    pub reason: String,
}

/// The device, once one tiny operation has run on it; a backend that cannot start (a missing
/// driver, a rejected kernel) panics inside burn, which is caught here and reported.
pub fn probe(device: Device) -> Result<Device, String> {
    let probe = device.clone();
    std::panic::catch_unwind(move || {
        Tensor::<1>::from_floats([1.0f32, 2.0], &probe)
            .sum()
            .into_scalar::<f32>()
    })
    .map(|_| device)
    .map_err(|panic| panic_text(&panic))
}

#[cfg(feature = "gpu")]
fn gpu_device() -> Result<Device, String> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

/// Registers a window's wgpu device with burn, so training runs on the very device that draws
/// (no second device, no copies between them). Call once per device, then [`probe`] it off the
/// UI thread.
#[cfg(feature = "gpu")]
pub fn share_wgpu(
    instance: &burn::tensor::wgpu::wgpu::Instance,
    adapter: &burn::tensor::wgpu::wgpu::Adapter,
    device: &burn::tensor::wgpu::wgpu::Device,
    queue: &burn::tensor::wgpu::wgpu::Queue,
) -> Result<Device, String> {
    let setup = burn::tensor::wgpu::WgpuSetup {
        instance: instance.clone(),
        adapter: adapter.clone(),
        device: device.clone(),
        queue: queue.clone(),
        backend: adapter.get_info().backend,
    };
    // Registration only: the first operation (see [`probe`]) compiles kernels, which can take
    // minutes on a software GPU, so it belongs on a worker thread, not the UI's.
    Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| format!("the window's GPU cannot run burn: {e}"))
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    /// The page's WebGPU device as burn sees it: set once before the app starts (see
    /// `web::page_webgpu`), then checked by the first run that asks for it.
    static BROWSER_GPU: std::cell::RefCell<BrowserGpu> = const { std::cell::RefCell::new(BrowserGpu::Absent) };
}

#[cfg(target_arch = "wasm32")]
#[derive(Clone)]
enum BrowserGpu {
    Absent,
    Unchecked(Result<Device, String>),
    Checking,
    Checked(Result<Device, String>),
}

/// Hands burn the page's WebGPU device (registered with [`share_wgpu`]).
#[cfg(target_arch = "wasm32")]
pub fn set_browser_gpu(device: Result<Device, String>) {
    BROWSER_GPU.set(BrowserGpu::Unchecked(device));
}

/// Marks the page's WebGPU device as failed (lost or poisoned mid-run): every later run that asks
/// for it trains on the CPU with this reason.
#[cfg(target_arch = "wasm32")]
pub fn lose_browser_gpu(reason: &str) {
    BROWSER_GPU.set(BrowserGpu::Checked(Err(reason.to_string())));
}

/// The page's WebGPU device for training, once one small operation on it has been read back
/// (asynchronously: a browser reads its GPU no other way). Shared by every run; the first run to
/// ask checks it while later ones wait.
#[cfg(target_arch = "wasm32")]
pub async fn browser_gpu() -> Result<Device, String> {
    loop {
        let state = BROWSER_GPU.with_borrow_mut(|s| match s {
            BrowserGpu::Unchecked(_) => std::mem::replace(s, BrowserGpu::Checking),
            other => other.clone(),
        });
        match state {
            BrowserGpu::Absent => return Err("this browser offers no WebGPU".into()),
            BrowserGpu::Unchecked(device) => {
                let checked = match device {
                    Ok(device) => check_async(device).await,
                    Err(e) => Err(e),
                };
                BROWSER_GPU.set(BrowserGpu::Checked(checked.clone()));
                return checked;
            }
            BrowserGpu::Checking => crate::platform::yield_to_page(20).await,
            BrowserGpu::Checked(result) => return result,
        }
    }
}

#[cfg(target_arch = "wasm32")]
async fn check_async(device: Device) -> Result<Device, String> {
    let sum = Tensor::<1>::from_floats([1.0f32, 2.0], &device)
        .sum()
        .into_scalar_async::<f32>();
    match sum.await {
        Ok(v) if v == 3.0 => Ok(device),
        Ok(v) => Err(format!("WebGPU computed 1 + 2 = {v}")),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu_device() -> Result<Device, String> {
    Err("this build has no GPU backend (built without the `gpu` feature)".into())
}

/// The message a panic carries, for the user.
pub fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown error".into())
}
