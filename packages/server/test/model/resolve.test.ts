/**
 * Model resolution: local paths, and the download path (hf: references and
 * https URLs) fed by a loopback mirror serving the real test model — the same
 * code a deployment uses against the hub, with no network.
 */
import assert from "node:assert/strict";
import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { sharedPath } from "@veritee/testkit";
import { ModelError, modelUrl, resolveModel } from "../../src/model/resolve.js";

const MODEL = sharedPath("models", "stories260K.gguf");
const MODEL_SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

let dir: string;
let server: Server;
let base: string;
let requests: string[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-model-"));
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.url === "/acme/tiny/resolve/main/stories260K.gguf" || req.url === "/direct/stories260K.gguf") {
      res.writeHead(200, { "content-length": statSync(MODEL).size });
      createReadStream(MODEL).pipe(res);
    } else if (req.url === "/acme/tiny/resolve/main/cut.gguf") {
      // Announces the whole file, sends half of it, then drops the connection.
      res.writeHead(200, { "content-length": statSync(MODEL).size });
      res.write(Buffer.alloc(1000, 1));
      res.destroy();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

const isModelError = (code: string) => (e: unknown) => e instanceof ModelError && e.code === code;

test("a local path resolves in place with its SHA-256", async () => {
  const m = await resolveModel(MODEL);
  assert.equal(m.path, MODEL);
  assert.equal(m.sha256, MODEL_SHA256);
  await assert.rejects(resolveModel(MODEL, { sha256: "00".repeat(32) }), isModelError("digest-mismatch"));
  await assert.rejects(resolveModel(path.join(dir, "none.gguf")), isModelError("not-found"));
  const notGguf = path.join(dir, "x.gguf");
  await writeFile(notGguf, "not a model");
  await assert.rejects(resolveModel(notGguf), isModelError("not-a-gguf"));
});

test("hf: references download once into the content-addressed cache, with progress", async () => {
  const cacheDir = path.join(dir, "cache");
  let last = 0;
  const m = await resolveModel("hf:acme/tiny/stories260K.gguf", {
    sha256: MODEL_SHA256,
    cacheDir,
    hubEndpoint: base,
    onProgress: (done) => {
      last = done;
    },
  });
  assert.equal(m.sha256, MODEL_SHA256);
  assert.equal(m.path, path.join(cacheDir, `${MODEL_SHA256}.gguf`));
  assert.equal(last, statSync(MODEL).size);
  requests = [];
  const again = await resolveModel("hf:acme/tiny/stories260K.gguf", {
    sha256: MODEL_SHA256,
    cacheDir,
    hubEndpoint: base,
  });
  assert.equal(again.path, m.path);
  assert.deepEqual(requests, [], "the cached copy is used without a request");
});

test("remote models need a pinned digest, and a wrong one leaves nothing behind", async () => {
  const cacheDir = path.join(dir, "cache2");
  await assert.rejects(resolveModel(`${base}/direct/stories260K.gguf`, { cacheDir }), isModelError("unpinned"));
  await assert.rejects(
    resolveModel(`${base}/direct/stories260K.gguf`, { cacheDir, sha256: "ab".repeat(32) }),
    isModelError("digest-mismatch"),
  );
  assert.deepEqual(readdirSync(cacheDir), []);
  const unpinned = await resolveModel(`${base}/direct/stories260K.gguf`, { cacheDir, allowUnpinned: true });
  assert.equal(unpinned.sha256, MODEL_SHA256);
});

test("a failed or truncated download is an error and leaves no partial file", async () => {
  const cacheDir = path.join(dir, "cache3");
  await assert.rejects(
    resolveModel("hf:acme/tiny/missing.gguf", { sha256: MODEL_SHA256, cacheDir, hubEndpoint: base }),
    isModelError("download-failed"),
  );
  await assert.rejects(
    resolveModel("hf:acme/tiny/cut.gguf", { sha256: MODEL_SHA256, cacheDir, hubEndpoint: base }),
    (e: unknown) => e instanceof ModelError && (e.code === "download-failed" || e.code === "digest-mismatch"),
  );
  assert.ok(!existsSync(cacheDir) || readdirSync(cacheDir).length === 0);
});

test("references are parsed strictly; plain http only to loopback", () => {
  assert.equal(
    modelUrl("hf:org/repo@v1.2/sub/dir/m.gguf")?.href,
    "https://huggingface.co/org/repo/resolve/v1.2/sub/dir/m.gguf",
  );
  assert.equal(modelUrl("./models/m.gguf"), undefined);
  assert.throws(() => modelUrl("hf:nope"), isModelError("bad-reference"));
  assert.throws(() => modelUrl("http://example.com/m.gguf"), isModelError("bad-reference"));
  assert.throws(() => modelUrl("ftp://example.com/m.gguf"), isModelError("bad-reference"));
});
