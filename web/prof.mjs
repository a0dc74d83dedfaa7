// Where the browser's training time goes: the page's `?bench` mode (B1, B2) under V8's sampling
// profiler, self time summed by function and printed as the top 45 with their share. Build
// without wasm-opt (it drops the names), serve web/dist, then:
//   node web/prof.mjs http://127.0.0.1:PORT/
// The profiler starts on a first page of the same origin: the benchmark holds the page's thread
// from its start, and a Profiler.start sent after it would wait until it ends.
import { launch, status, until } from "./browser.mjs";
const [url] = process.argv.slice(2);
const browser = await launch();
const page = await browser.newPage();
const cdp = await page.context().newCDPSession(page);
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
await page.goto(`${url}index.html?nothing`);
await cdp.send("Profiler.start");
await page.goto(`${url}?bench`);
await until(() => status(page), (s) => s !== null, 120_000);
const { profile } = await cdp.send("Profiler.stop");
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const s of profile.samples) counts.set(s, (counts.get(s) || 0) + 1);
let total = 0;
for (const [id, c] of counts) {
  const n = byId.get(id);
  const name = n.callFrame.functionName || n.callFrame.url || "(anon)";
  self.set(name, (self.get(name) || 0) + c);
  total += c;
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, 45);
for (const [name, c] of rows) console.log(`${(100 * c / total).toFixed(1).padStart(5)}%  ${name.slice(0, 150)}`);
await browser.close();
