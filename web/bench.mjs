// B6's browser half (SPEC section 8), driven in Debian's headless Chromium through Playwright:
//   node web/bench.mjs URL engine   B1 and B2 on the CPU backend (the page's `?bench` mode): the
//                                   report `mixflow bench --json` prints, on one line
//   node web/bench.mjs URL app      the app's training steps/s and median frame interval while
//                                   training and paused (particles playing back, so every frame
//                                   is drawn), with training in a Web Worker and on the page's
//                                   thread (?worker=off): one JSON line
import { launch, sleep, status, until } from "./browser.mjs";

const [url, mode] = process.argv.slice(2);
const browser = await launch();

/// The status once `pred` holds of it; throws after `timeoutMs`.
async function waitFor(page, pred, timeoutMs) {
  const holds = (s) => s !== null && pred(s);
  const s = await until(() => status(page).catch(() => null), holds, timeoutMs);
  if (holds(s)) return s;
  throw new Error(`timed out; last status ${JSON.stringify(s)}`);
}

/// Training steps/s over `seconds`, and the median frame interval at the end of it.
async function measure(page, seconds) {
  const a = await status(page);
  await sleep(seconds * 1000);
  const b = await status(page);
  return { stepsPerS: (b.step - a.step) / seconds, frameMedianMs: b.frame_median_ms, frameMeanMs: b.frame_ms };
}

async function app(query) {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  await page.goto(`${url}?playback${query}`);
  await waitFor(page, (s) => s.views >= 2 && s.step > 20, 240_000);
  await sleep(3000);
  const training = await measure(page, 10);
  const s = await status(page);
  const r = s.controls["play-pause"];
  await page.mouse.click((r[0] + r[2]) / 2, (r[1] + r[3]) / 2);
  await waitFor(page, (s) => !s.playing, 20_000);
  // 120 frames of the paused page, the interval's window.
  await sleep(6000);
  const paused = await measure(page, 2);
  const result = { training: s.training, view_ms: s.view_ms, ...training, pausedFrameMedianMs: paused.frameMedianMs };
  await page.context().close();
  return result;
}

try {
  if (mode === "engine") {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${url}?bench`);
    const report = await waitFor(page, (s) => Array.isArray(s.figures), 300_000);
    console.log(JSON.stringify(report));
  } else {
    console.log(JSON.stringify({ worker: await app(""), page: await app("&worker=off") }));
  }
} finally {
  await browser.close();
}
