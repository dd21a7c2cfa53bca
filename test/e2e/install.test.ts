/**
 * What `npm ci` installs is what the package registry holds, and nothing an
 * install script fetched from elsewhere: onnxruntime-node's would download
 * CUDA execution-provider libraries from NuGet (its `script/install`), which
 * a machine without internet cannot do and a measured server must not load
 * unannounced. The project's install skips it (scripts/ensure-env.mjs); here
 * the CPU binaries it bundles are present and no downloaded provider is.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./support/paths.js";

test("onnxruntime-node is installed from its package alone: bundled CPU binaries, no downloaded CUDA provider", () => {
  const bin = path.join(REPO_ROOT, "node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", "x64");
  const files = readdirSync(bin).sort();
  assert.ok(files.includes("onnxruntime_binding.node") && files.includes("libonnxruntime.so.1"), files.join(", "));
  const downloaded = files.filter((f) => /providers_(cuda|tensorrt)|cudnn|cublas/i.test(f));
  assert.deepEqual(downloaded, [], "an install script downloaded execution providers");
});
