/**
 * `npm run bench`: every benchmark, each printing ratios measured side by side
 * in one run. Timings never fail anything; they are for the closing notes.
 * Pass names to run a subset: `npm run bench -- eventlog`.
 */

import { benchChannel } from "./channel.js";
import { benchClient } from "./client.js";
import { benchCustody } from "./custody.js";
import { benchCustodyStartup } from "./custody-startup.js";
import { benchEventlogReplay } from "./eventlog-replay.js";
import { benchGovernance } from "./governance.js";
import { benchHttpOverhead } from "./http-overhead.js";
import { benchNvidia } from "./nvidia.js";
import { benchOnnx } from "./onnx.js";
import { benchQuote } from "./quote.js";
import { benchServer } from "./server.js";
import { benchSnp } from "./snp.js";
import { benchTdx } from "./tdx.js";

const suites: Record<string, () => Promise<void>> = {
  quote: benchQuote,
  server: benchServer,
  http: benchHttpOverhead,
  channel: benchChannel,
  eventlog: benchEventlogReplay,
  client: benchClient,
  snp: benchSnp,
  tdx: benchTdx,
  nvidia: benchNvidia,
  custody: async () => {
    await benchCustody();
    await benchCustodyStartup();
  },
  governance: benchGovernance,
  onnx: benchOnnx,
};

const wanted = process.argv.slice(2);
console.log(`# Veritee benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
