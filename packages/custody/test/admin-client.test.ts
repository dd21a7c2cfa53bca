/**
 * The admin client's transport rule: the bearer token and model keys go in
 * clear only to loopback; anywhere else only over https.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AdminClient, adminTransportProblem } from "../src/admin-client.js";
import { CustodyError } from "../src/errors.js";

const TOKEN = "0123456789abcdef0123";

test("plain http is for loopback only; https goes anywhere", () => {
  for (const ok of [
    "http://127.0.0.1:7300",
    "http://127.8.9.10",
    "http://localhost:7300/",
    "http://[::1]:7300",
    "https://custodian.example",
    "https://10.0.0.5:8443",
  ]) {
    assert.equal(adminTransportProblem(ok), undefined, ok);
    new AdminClient(ok, TOKEN);
  }
  for (const bad of [
    "http://10.0.0.5:7300",
    "http://custodian.example",
    "http://127.0.0.1.example.com",
    "http://[::ffff:10.0.0.1]",
    "http://0.0.0.0:7300",
    "ftp://127.0.0.1",
    "not a url",
  ]) {
    assert.ok(adminTransportProblem(bad), bad);
    assert.throws(
      () => new AdminClient(bad, TOKEN),
      (e: unknown) => e instanceof CustodyError && e.code === "invalid-request" && !e.message.includes(TOKEN),
    );
  }
});
