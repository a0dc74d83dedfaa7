// A run's training off the page's thread: this Web Worker instantiates the page's own compiled
// module (the page's first message) and hands the commands that follow to the run's worker loop
// in Rust (mixflow_live::remote::serve), which posts its events back.
import init, { mixflow_train_worker } from "./pkg/mixflow.js";

// Commands posted while the module is being instantiated wait for it.
const early = [];
self.onmessage = async (first) => {
  self.onmessage = (e) => early.push(e);
  await init({ module_or_path: first.data.module });
  mixflow_train_worker();
  for (const e of early) self.onmessage(e);
};
