/**
 * Property: a genuine attestation document with any one mutation either
 * fails verification with a MalformedError or VerificationError (never
 * another exception), or still verifies because nothing verified changed —
 * only the EK CA hints (`ek.intermediates`) are outside the verified set.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { MalformedError, randomBytes } from "@veritee/core";
import {
  canonicalJson,
  decodeTpm2bPublic,
  encodeAttestationDocument,
  encodeTpm2bPublic,
  VerificationError,
  verifyAttestationDocument,
} from "@veritee/evidence";
import fc from "fast-check";
import { type Attester, createAttester, measureLaunch, runMeasuredLaunch } from "../../src/index.js";
import { writeTree } from "../launch/code-tree.js";
import { type DevTpm, startDevTpm } from "../launch/dev-tpm.js";
import { SAMPLE_CONFIG } from "../launch/sample-config.js";

// biome-ignore lint/suspicious/noExplicitAny: the tests edit arbitrary paths of parsed JSON
type Edit = any;

let dir: string;
let dev: DevTpm;
let attester: Attester;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-attest-prop-"));
  await writeTree(path.join(dir, "release"));
  dev = await startDevTpm(dir, "tpm");
  const measurements = await measureLaunch({
    codeRoot: path.join(dir, "release"),
    config: SAMPLE_CONFIG,
    models: [],
    engineBinaries: [],
  });
  const { launchLog, keys } = await runMeasuredLaunch({ tpm: dev.tpm, measurements });
  attester = await createAttester({
    tpm: dev.tpm,
    keySet: keys.keySet,
    launchLog,
    ekIntermediates: [dev.intermediate],
    bootEventLog: "none",
  });
});

after(async () => {
  await attester?.close();
  await dev?.stop();
  await rm(dir, { recursive: true, force: true });
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

function leaves(value: Json, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((v, i) => leaves(v, [...prefix, i]))];
  if (value !== null && typeof value === "object") {
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => leaves(v, [...prefix, k]))];
  }
  return [prefix];
}

type Mutation =
  | { kind: "replace"; pick: number; value: Json }
  | { kind: "flip"; pick: number; at: number; char: string }
  | { kind: "delete"; pick: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("replace" as const),
    pick: fc.nat(),
    value: fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json>,
  }),
  fc.record({
    kind: fc.constant("flip" as const),
    pick: fc.nat(),
    at: fc.nat(),
    char: fc.constantFrom(..."0189afAF+/=x".split("")),
  }),
  fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
);

function apply(original: Json, m: Mutation): Json {
  const root = structuredClone(original);
  const all = leaves(root).filter((p) => p.length > 0);
  const at = all[m.pick % all.length]!;
  const parent = at.slice(0, -1).reduce<Edit>((v, k) => v[k], root);
  const key = at[at.length - 1]!;
  if (m.kind === "replace") parent[key] = m.value;
  else if (m.kind === "delete") {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else if (typeof parent[key] === "string" && parent[key].length > 0) {
    const s: string = parent[key];
    const i = m.at % s.length;
    parent[key] = s.slice(0, i) + m.char + s.slice(i + 1);
  }
  return root;
}

function withoutHints(doc: Json): string {
  const copy = structuredClone(doc) as Edit;
  if (copy && typeof copy === "object" && copy.ek && typeof copy.ek === "object") delete copy.ek.intermediates;
  return canonicalJson(copy);
}

test("one mutation of a genuine document: typed failure, or nothing verified changed", async () => {
  const nonce = randomBytes(32);
  const doc = await attester.attest(nonce);
  const original = JSON.parse(new TextDecoder().decode(encodeAttestationDocument(doc))) as Json;
  const options = { nonce, at: new Date(), ekRoots: [dev.root], ekIntermediates: [dev.intermediate] };
  await verifyAttestationDocument(original, options);
  let rejected = 0;
  await fc.assert(
    fc.asyncProperty(mutation, async (m) => {
      const mutated = apply(original, m);
      try {
        await verifyAttestationDocument(mutated, options);
      } catch (e) {
        if (!(e instanceof MalformedError) && !(e instanceof VerificationError)) throw e;
        rejected++;
        return;
      }
      assert.equal(withoutHints(mutated), withoutHints(original));
    }),
    { numRuns: 400 },
  );
  assert.ok(rejected > 300, `most mutations are rejected (${rejected})`);
});

test("an EK public area that is not a TCG default EK, with the certified key: ek-attributes", async () => {
  const nonce = randomBytes(32);
  const doc = await attester.attest(nonce);
  const ek = decodeTpm2bPublic(doc.ek.public);
  const options = { nonce, at: new Date(), ekRoots: [dev.root] };
  const variants = [
    { ...ek, objectAttributes: ek.objectAttributes | 0x40 }, // userWithAuth
    { ...ek, authPolicy: new Uint8Array(0) },
    { ...ek, symmetric: { algorithm: "aes" as const, keyBits: 256 as const, mode: "cfb" as const } },
  ];
  for (const v of variants) {
    await assert.rejects(
      verifyAttestationDocument({ ...doc, ek: { ...doc.ek, public: encodeTpm2bPublic(v) } }, options),
      (e: unknown) => e instanceof VerificationError && e.code === "ek-attributes",
    );
  }
});
