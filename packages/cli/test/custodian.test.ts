/**
 * `veritee custodian …` as an owner runs it, and every wrong input it must
 * refuse with the documented exit code: a short or missing token, a port in
 * use, a wrong token, an open key file, an invalid policy file, an unknown
 * model, a custodian that is not there, TLS files that do not go together.
 * The key is in no output.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { encodePem } from "@veritee/core";
import { freePort, runVeritee, startVeritee, type VeriteeProcess } from "@veritee/e2e/support/process";
import { policyFromReferenceValues } from "@veritee/policy";
import { sharedPath } from "@veritee/testkit";
import { buildCertificate, ecKey, name, seq, tlv } from "@veritee/testkit/x509";
import { EXIT } from "../src/exit-codes.js";

const TOKEN = `custodian-cli-${process.pid}-0123456789`;
const ADMIN = { VERITEE_ADMIN_TOKEN: TOKEN };
const tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-custodian-cli-"));
let custodian: VeriteeProcess;
let url: string;

before(async () => {
  custodian = await startVeritee(["custodian", "serve", "--data", path.join(tmp, "data"), "--port", "0"], {
    ready: /listening on (http:\/\/127\.0\.0\.1:\d+) \(sqlite store\)/,
    env: ADMIN,
  });
  url = custodian.ready[1]!;
});

after(async () => {
  await custodian.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test("serve refuses a missing or short token (19) and a port in use (15)", async () => {
  const none = await runVeritee(["custodian", "serve", "--data", path.join(tmp, "d1"), "--port", "0"], {
    VERITEE_ADMIN_TOKEN: "",
  });
  assert.equal(none.code, EXIT.custody, none.stderr);
  const short = await runVeritee(["custodian", "serve", "--data", path.join(tmp, "d1"), "--port", "0"], {
    VERITEE_ADMIN_TOKEN: "short",
  });
  assert.equal(short.code, EXIT.custody, short.stderr);
  assert.match(short.stderr, /at least 16 characters/);
  const port = new URL(url).port;
  const taken = await runVeritee(["custodian", "serve", "--data", path.join(tmp, "d2"), "--port", port], ADMIN);
  assert.equal(taken.code, EXIT.environment, taken.stderr);
  assert.match(taken.stderr, /already in use/);
  assert.ok(!taken.stderr.includes(TOKEN));
});

test("the admin commands: a key file in, a deployment, the audit; wrong inputs exit with their codes", async () => {
  const sealed = path.join(tmp, "m.sealed");
  const keyFile = path.join(tmp, "m.key");
  const seal = await runVeritee([
    ...["model", "seal", "--in", sharedPath("models", "stories260K.gguf"), "--out", sealed],
    ...["--model-id", "m", "--key-out", keyFile],
  ]);
  assert.equal(seal.code, 0, seal.stderr);
  const secret = (JSON.parse(readFileSync(keyFile, "utf8")) as { secret: string }).secret;

  const wrong = await runVeritee(["custodian", "model", "list", "--custodian", url], {
    VERITEE_ADMIN_TOKEN: `${TOKEN}-not`,
  });
  assert.equal(wrong.code, EXIT.custody);
  assert.match(wrong.stderr, /unauthorized/);

  const add = await runVeritee(["custodian", "model", "add", "--custodian", url, "--key-file", keyFile], ADMIN);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /registered: model m/);
  const again = await runVeritee(["custodian", "model", "add", "--custodian", url, "--key-file", keyFile], ADMIN);
  assert.match(again.stdout, /already registered/);

  const open = path.join(tmp, "open.key");
  writeFileSync(open, readFileSync(keyFile));
  chmodSync(open, 0o644);
  const refusedOpen = await runVeritee(["custodian", "model", "add", "--custodian", url, "--key-file", open], ADMIN);
  assert.notEqual(refusedOpen.code, 0);
  assert.match(refusedOpen.stderr, /group|others|0644|mode/);

  const badPolicy = path.join(tmp, "bad.policy.json");
  writeFileSync(badPolicy, '{"version": 1}');
  const bad = await runVeritee(
    ["custodian", "deployment", "add", "--custodian", url, "--id", "d", "--model-id", "m", "--policy", badPolicy],
    ADMIN,
  );
  assert.equal(bad.code, EXIT.usage, bad.stderr);

  // A valid policy: a real development server's reference values (packages/policy/test/fixtures).
  const fixture = JSON.parse(readFileSync("packages/policy/test/fixtures/dev-attestation.json", "utf8"));
  const policy = path.join(tmp, "policy.json");
  writeFileSync(
    policy,
    JSON.stringify(policyFromReferenceValues({ ...fixture.referenceValues, ekRootsPem: fixture.ekRootsPem })),
  );
  const unknownModel = await runVeritee(
    ["custodian", "deployment", "add", "--custodian", url, "--id", "d", "--model-id", "absent", "--policy", policy],
    ADMIN,
  );
  assert.equal(unknownModel.code, EXIT.custody);
  assert.match(unknownModel.stderr, /not-found|no model/);
  const dep = await runVeritee(
    ["custodian", "deployment", "add", "--custodian", url, "--id", "d", "--model-id", "m", "--policy", policy],
    ADMIN,
  );
  assert.equal(dep.code, 0, dep.stderr);
  const list = await runVeritee(["custodian", "deployment", "list", "--custodian", url, "--json"], ADMIN);
  assert.equal((JSON.parse(list.stdout) as { deployments: { id: string }[] }).deployments[0]?.id, "d");
  const consumer = await runVeritee(
    ["custodian", "consumer", "add", "--custodian", url, "--deployment", "d", "--id", "alice"],
    ADMIN,
  );
  assert.equal(consumer.code, 0, consumer.stderr);
  const apiKey = consumer.stdout.trim().split("\n").at(-1)!;
  assert.match(apiKey, /^vtk_[A-Za-z0-9_-]{43}$/, "the key is the last line");
  const consumers = await runVeritee(["custodian", "consumer", "list", "--custodian", url, "--deployment", "d"], ADMIN);
  assert.match(consumers.stdout, /^alice {2}since /m);
  assert.ok(!consumers.stdout.includes(apiKey));
  const consumerGone = await runVeritee(
    ["custodian", "consumer", "revoke", "--custodian", url, "--deployment", "d", "--id", "alice"],
    ADMIN,
  );
  assert.equal(consumerGone.code, 0, consumerGone.stderr);
  assert.match(
    (await runVeritee(["custodian", "consumer", "list", "--custodian", url, "--deployment", "d"], ADMIN)).stdout,
    /REVOKED/,
  );
  assert.ok(!custodian.stderr().includes(apiKey), "the API key is in the custodian's log");
  const revoke = await runVeritee(["custodian", "revoke", "--custodian", url, "--deployment", "d"], ADMIN);
  assert.equal(revoke.code, 0, revoke.stderr);
  const unknown = await runVeritee(["custodian", "revoke", "--custodian", url, "--deployment", "nope"], ADMIN);
  assert.equal(unknown.code, EXIT.custody);

  const audit = await runVeritee(["custodian", "audit", "--custodian", url, "--json"], ADMIN);
  const types = (JSON.parse(audit.stdout) as { events: { type: string }[] }).events.map((e) => e.type);
  assert.deepEqual(types, ["model-added", "deployment-added", "consumer-added", "consumer-revoked", "revocation"]);
  const badAfter = await runVeritee(["custodian", "audit", "--custodian", url, "--after", "-3"], ADMIN);
  assert.equal(badAfter.code, EXIT.usage);

  const gone = await runVeritee(["custodian", "audit", "--custodian", `http://127.0.0.1:${await freePort()}`], ADMIN);
  assert.equal(gone.code, EXIT.custody, gone.stderr);

  for (const r of [seal, add, again, refusedOpen, dep, list, revoke, audit, wrong]) {
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), "the key is in an output");
  }
  assert.ok(!custodian.stderr().includes(secret) && !custodian.stdout().includes(secret));
});

test("serve --tls-cert/--tls-key speaks HTTPS; admin commands trust it through NODE_EXTRA_CA_CERTS, and say so when not", async () => {
  // A self-signed certificate for 127.0.0.1 (subjectAltName iPAddress, RFC 5280 §4.2.1.6).
  const keys = ecKey();
  const subject = name("127.0.0.1");
  const der = buildCertificate({
    subject,
    issuer: subject,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: [{ oid: "2.5.29.17", value: seq(tlv(0x87, Uint8Array.of(127, 0, 0, 1))) }],
  });
  const cert = path.join(tmp, "tls.crt");
  const key = path.join(tmp, "tls.key");
  writeFileSync(cert, encodePem("CERTIFICATE", der));
  writeFileSync(key, keys.privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
  const both = ["--tls-cert", cert, "--tls-key", key];
  const half = await runVeritee(
    ["custodian", "serve", "--data", path.join(tmp, "t0"), "--port", "0", "--tls-cert", cert],
    ADMIN,
  );
  assert.equal(half.code, EXIT.usage);
  chmodSync(key, 0o640);
  const open = await runVeritee(["custodian", "serve", "--data", path.join(tmp, "t0"), "--port", "0", ...both], ADMIN);
  assert.equal(open.code, EXIT.usage);
  assert.match(open.stderr, /chmod 600/);
  chmodSync(key, 0o600);
  const swapped = path.join(tmp, "swapped.key");
  writeFileSync(swapped, readFileSync(cert), { mode: 0o600 });
  const wrong = await runVeritee(
    ["custodian", "serve", "--data", path.join(tmp, "t0"), "--port", "0", "--tls-cert", cert, "--tls-key", swapped],
    ADMIN,
  );
  assert.equal(wrong.code, EXIT.custody);
  assert.match(wrong.stderr, /do not load/);

  const tls = await startVeritee(["custodian", "serve", "--data", path.join(tmp, "tls"), "--port", "0", ...both], {
    ready: /listening on (https:\/\/127\.0\.0\.1:\d+)/,
    env: ADMIN,
  });
  try {
    const at = tls.ready[1]!;
    const trusted = await runVeritee(["custodian", "audit", "--custodian", at, "--json"], {
      ...ADMIN,
      NODE_EXTRA_CA_CERTS: cert,
    });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.deepEqual(JSON.parse(trusted.stdout), { events: [] });
    const untrusted = await runVeritee(["custodian", "audit", "--custodian", at], ADMIN);
    assert.equal(untrusted.code, EXIT.custody);
    assert.match(untrusted.stderr, /does not trust/);
    const plain = await runVeritee(["custodian", "audit", "--custodian", at.replace("https:", "http:")], ADMIN);
    assert.notEqual(plain.code, 0, "plain HTTP to the TLS port gets no answer");
  } finally {
    await tls.stop();
  }
});

test("governance commands: supply, usage, throttle; a 2-of-3 model's owners approve, one revokes alone", async () => {
  const fixture = JSON.parse(readFileSync("packages/policy/test/fixtures/dev-attestation.json", "utf8"));
  const policy = path.join(tmp, "gov.policy.json");
  writeFileSync(
    policy,
    JSON.stringify(policyFromReferenceValues({ ...fixture.referenceValues, ekRootsPem: fixture.ekRootsPem })),
  );
  const shares = path.join(tmp, "gov-shares");
  mkdirSync(shares);
  const seal = await runVeritee([
    ...["model", "seal", "--in", sharedPath("models", "stories260K.gguf"), "--out", path.join(tmp, "gov.sealed")],
    ...["--model-id", "gov", "--owners", `${url},${url}/b,${url}/c`, "--threshold", "2", "--key-out", shares],
  ]);
  assert.equal(seal.code, 0, seal.stderr);
  const c = ["--custodian", url];
  const run = async (args: string[], env: Record<string, string> = ADMIN) => runVeritee(["custodian", ...args], env);
  assert.equal((await run(["model", "add", ...c, "--key-file", path.join(shares, "gov.share-1.key")])).code, 0);
  assert.equal((await run(["deployment", "add", ...c, "--id", "gd", "--model-id", "gov", "--policy", policy])).code, 0);
  assert.equal((await run(["consumer", "add", ...c, "--deployment", "gd", "--id", "bob"])).code, 0);

  // Wrong inputs: exit 2, before anything is sent.
  for (const args of [
    ["supply", ...c, "--deployment", "gd", "--consumer", "bob"],
    ["supply", ...c, "--deployment", "gd", "--consumer", "bob", "--inferences", "0"],
    ["supply", ...c, "--deployment", "gd", "--consumer", "bob", "--inferences", "5", "--approval", "vta_garbage"],
    ["throttle", ...c, "--deployment", "gd"],
    ["throttle", ...c, "--deployment", "gd", "--tokens-per-second", "0"],
    ["throttle", ...c, "--deployment", "gd", "--lease-seconds", "4000"],
    ["approve", "--owner-key", "x", "--owner", "a", "--action", "nope", "--deployment", "gd"],
    ["revoke", ...c, "--deployment", "gd", "--owner", "a"],
  ]) {
    const r = await run(args);
    assert.equal(r.code, EXIT.usage, `${args.join(" ")}: ${r.stderr}`);
  }

  // Three owners' keys, registered once.
  const owners: Record<string, { key: string; publicKey: string }> = {};
  for (const name of ["a", "b", "c"]) {
    const key = path.join(tmp, `owner-${name}.key`);
    const made = await run(["owner", "keygen", "--out", key], {});
    assert.equal(made.code, 0, made.stderr);
    owners[name] = { key, publicKey: made.stdout.trim().split("\n").at(-1)! };
  }
  const set = await run([
    ...["owner", "set", ...c, "--model-id", "gov"],
    ...Object.entries(owners).flatMap(([name, o]) => ["--owner", `${name}=${o.publicKey}`]),
  ]);
  assert.equal(set.code, 0, set.stderr);
  assert.equal((await run(["owner", "keygen", "--out", owners.a!.key], {})).code, EXIT.custody, "never replaced");

  // The admin token alone no longer supplies a 2-of-3 model.
  const alone = await run(["supply", ...c, "--deployment", "gd", "--consumer", "bob", "--inferences", "7"]);
  assert.equal(alone.code, EXIT.custody);
  assert.match(alone.stderr, /approval\.threshold/);
  const approve = async (owner: string, ...args: string[]) => {
    const r = await run(
      ["approve", "--owner-key", owners[owner]!.key, "--owner", owner, "--deployment", "gd", ...args],
      {},
    );
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split("\n").at(-1)!;
  };
  const supplyArgs = ["--consumer", "bob", "--inferences", "7"];
  const approvals = [
    await approve("a", "--action", "supply", ...supplyArgs),
    await approve("c", "--action", "supply", ...supplyArgs),
  ];
  const supplied = await run([
    ...["supply", ...c, "--deployment", "gd", ...supplyArgs],
    ...approvals.flatMap((a) => ["--approval", a]),
  ]);
  assert.equal(supplied.code, 0, supplied.stderr);
  assert.match(supplied.stdout, /7 inferences left, tokens unlimited/);
  const replayed = await run([
    ...["supply", ...c, "--deployment", "gd", ...supplyArgs],
    ...approvals.flatMap((a) => ["--approval", a]),
  ]);
  assert.equal(replayed.code, EXIT.custody);
  assert.match(replayed.stderr, /approval\.replayed/);
  const usage = await run(["usage", ...c, "--deployment", "gd", "--json"]);
  const record = (JSON.parse(usage.stdout) as { usage: { consumer: string; inferencesRemaining: number }[] }).usage[0]!;
  assert.deepEqual([record.consumer, record.inferencesRemaining], ["bob", 7]);
  const throttle = await run([
    "throttle",
    ...c,
    "--deployment",
    "gd",
    "--tokens-per-second",
    "12",
    "--lease-seconds",
    "5",
  ]);
  assert.equal(throttle.code, 0, throttle.stderr);
  assert.match(throttle.stdout, /tokens per second 12, requests per minute none, lease 5 s/);

  // One owner revokes, with no admin token at all; lifting it takes two.
  const revoked = await run(["revoke", ...c, "--deployment", "gd", "--owner-key", owners.b!.key, "--owner", "b"], {});
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /revoked: deployment gd, by owner b/);
  const lift = [await approve("a", "--action", "unrevoke"), await approve("b", "--action", "unrevoke")];
  const one = await run(["unrevoke", ...c, "--deployment", "gd", "--approval", lift[0]!]);
  assert.equal(one.code, EXIT.custody);
  const both = await run(["unrevoke", ...c, "--deployment", "gd", ...lift.flatMap((a) => ["--approval", a])]);
  assert.equal(both.code, 0, both.stderr);
  const policyApprovals = [
    await approve("b", "--action", "policy", "--policy", policy),
    await approve("c", "--action", "policy", "--policy", policy),
  ];
  const changed = await run([
    ...["deployment", "set-policy", ...c, "--id", "gd", "--policy", policy],
    ...policyApprovals.flatMap((a) => ["--approval", a]),
  ]);
  assert.equal(changed.code, 0, changed.stderr);
  const audit = await run(["audit", ...c, "--json"]);
  const types = (JSON.parse(audit.stdout) as { events: { type: string; deployment?: string }[] }).events
    .filter((e) => e.deployment === "gd" || e.type === "owners-set")
    .map((e) => e.type);
  for (const t of ["owners-set", "supply", "throttle", "revocation", "revocation-lifted", "policy-changed"]) {
    assert.ok(types.includes(t), `${t} in ${types.join(", ")}`);
  }
});
