/** Normalizing fetch arguments, and bounded body reads. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BodyTooLargeError, readBounded, readErrorCode } from "../src/body.js";
import { ClientError } from "../src/errors.js";
import { readOutgoingRequest } from "../src/request.js";
import { resolveServerAddress } from "../src/url.js";

const ADDRESS = resolveServerAddress("http://127.0.0.1:9/v1");

test("every fetch body form becomes bytes; GET has none; a Request works as input", async () => {
  const json = await readOutgoingRequest(ADDRESS, `${ADDRESS.apiRoot}/chat/completions`, {
    method: "post",
    headers: { "content-type": "application/json" },
    body: '{"a":"é"}',
  });
  assert.equal(json.method, "POST");
  assert.equal(new TextDecoder().decode(json.body!), '{"a":"é"}');
  const bytes = await readOutgoingRequest(ADDRESS, new URL(`${ADDRESS.apiRoot}/x`), {
    method: "PUT",
    body: new Uint8Array([1, 2, 3]),
  });
  assert.deepEqual([...bytes.body!], [1, 2, 3]);
  const form = new FormData();
  form.set("file", new Blob(["abc"]), "a.txt");
  const multipart = await readOutgoingRequest(ADDRESS, `${ADDRESS.apiRoot}/files`, { method: "POST", body: form });
  assert.match(multipart.headers.get("content-type")!, /^multipart\/form-data; boundary=/);
  assert.ok(new TextDecoder().decode(multipart.body!).includes("abc"));
  const get = await readOutgoingRequest(
    ADDRESS,
    new Request(`${ADDRESS.apiRoot}/models`, { headers: { accept: "x/y" } }),
  );
  assert.equal(get.body, null);
  assert.equal(get.headers.get("accept"), "x/y");
  const empty = await readOutgoingRequest(ADDRESS, `${ADDRESS.apiRoot}/x`, { method: "POST" });
  assert.equal(empty.body, null);
});

test("an aborted signal rejects with its reason; a foreign URL is refused before reading the body", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(
    readOutgoingRequest(ADDRESS, `${ADDRESS.apiRoot}/x`, { signal: controller.signal }),
    (e) => e === reason,
  );
  await assert.rejects(
    readOutgoingRequest(ADDRESS, "http://127.0.0.1:9/metrics", { method: "POST", body: "x" }),
    (e: unknown) => e instanceof ClientError && e.code === "foreign-url",
  );
});

test("bounded reads: at the bound, past it (declared or streamed), and error codes", async () => {
  assert.equal((await readBounded(new Response("abcd"), 4)).length, 4);
  await assert.rejects(readBounded(new Response("abcde"), 4), BodyTooLargeError);
  const declared = new Response("x", { headers: { "content-length": "999999" } });
  await assert.rejects(readBounded(declared, 10), BodyTooLargeError);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled++;
      c.enqueue(new Uint8Array(1024));
    },
  });
  await assert.rejects(readBounded(new Response(endless), 4096), BodyTooLargeError);
  assert.ok(pulled < 10, "stops reading at the bound");
  assert.equal((await readBounded(new Response(null), 1)).length, 0);
  assert.equal(await readErrorCode(Response.json({ error: { code: "x_y" } }, { status: 400 })), "x_y");
  assert.equal(await readErrorCode(new Response("not json")), undefined);
  assert.equal(await readErrorCode(Response.json({ error: { code: 5 } })), undefined);
});
