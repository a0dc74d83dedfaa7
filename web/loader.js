// Loads the wasm module with a progress line, and turns any failure to load or start into a
// readable message on the page (never a blank page). The app's own failures after start are shown
// by its panic hook (src/web.rs) in the same place.
import init from "./pkg/mixflow.js";

const progress = document.getElementById("mixflow-progress");

function fail(message) {
  const loading = document.getElementById("mixflow-loading");
  loading.style.display = "flex";
  const box = document.createElement("div");
  box.id = "mixflow-failure";
  box.className = "failure";
  box.textContent = message;
  loading.appendChild(box);
  progress.textContent = "MixFlow Explorer could not start.";
}

// Fetches the module while counting bytes, so a slow connection shows how far it got.
async function fetchWithProgress(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get("Content-Length")) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    const mb = (received / 1e6).toFixed(1);
    progress.textContent = total
      ? `Loading the app… ${mb} of ${(total / 1e6).toFixed(1)} MB`
      : `Loading the app… ${mb} MB`;
  }
  progress.textContent = "Starting…";
  return new Response(new Blob(chunks), { headers: { "Content-Type": "application/wasm" } });
}

if (typeof WebAssembly !== "object") {
  fail("This browser has no WebAssembly: MixFlow Explorer needs a current Chrome, Edge, Firefox or Safari.");
} else {
  try {
    const module = await fetchWithProgress(new URL("pkg/mixflow_bg.wasm", import.meta.url));
    await init({ module_or_path: module });
  } catch (error) {
    console.error(error);
    fail(`MixFlow Explorer could not load: ${error && error.message ? error.message : error}`);
  }
}
