// `npm run bench`: build, then run bench/dist/main.js with any suite names given.
import { spawnSync } from "node:child_process";
import { ensureAll } from "./ensure-env.mjs";

ensureAll();
const r = spawnSync(process.execPath, ["bench/dist/main.js", ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(r.status ?? 1);
