// What the browser scripts share (e2e.mjs, bench.mjs, prof.mjs): Debian's Chromium, headless,
// through Playwright's driver; the status the app publishes in the page; polling.
import { chromium } from "playwright-core";

const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  // WebGL2 through SwiftShader (software), since these machines have no GPU.
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function launch(extraFlags = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraFlags],
  });
}

/// The app's status (the JSON it writes into `#mixflow-status`), or null before its first frame.
export async function status(page) {
  return page.evaluate(() => {
    const text = document.getElementById("mixflow-status")?.textContent;
    return text ? JSON.parse(text) : null;
  });
}

/// `read()` every half second, the first time after half a second (what is read at once can be
/// a state in passing), until `done` holds of what it read or `timeoutMs` has passed; the last
/// value read.
export async function until(read, done, timeoutMs) {
  let value;
  let waited = 0;
  do {
    await sleep(500);
    waited += 500;
    value = await read();
  } while (waited < timeoutMs && !done(value));
  return value;
}
