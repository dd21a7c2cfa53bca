/**
 * Test data for the launch-log and attestation-document tests: key sets with
 * freshly generated keys, valid launch logs, and a JSON mutator.
 */
import { generateKeyPairSync } from "node:crypto";
import { hash, toHex } from "@veritee/core";
import fc from "fast-check";
import {
  canonicalJsonBytes,
  createLaunchEvent,
  type JsonValue,
  type KeySet,
  keySetDigest,
  LAUNCH_LOG_VERSION,
  LAUNCH_SEPARATOR,
  type LaunchEvent,
  type LaunchLog,
} from "../../src/index.js";

/** A key set with a fresh P-256 TLS key and a fresh X25519 HPKE key. */
export function freshKeySet(): KeySet {
  const tls = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const hpke = generateKeyPairSync("x25519");
  return {
    tlsSpki: new Uint8Array(tls.publicKey.export({ format: "der", type: "spki" })),
    hpke: {
      keyId: 0,
      kemId: 0x0020,
      publicKey: new Uint8Array(Buffer.from(hpke.publicKey.export({ format: "jwk" }).x!, "base64url")),
      cipherSuites: [
        { kdfId: 1, aeadId: 1 },
        { kdfId: 1, aeadId: 3 },
      ],
    },
  };
}

export const HEX_A = "a".repeat(64);
export const HEX_B = "b".repeat(64);

/** The events of a complete, sealed log for `keySet` (separator last). */
export function launchEvents(keySet: KeySet, pcr = 15): LaunchEvent[] {
  return [
    createLaunchEvent(pcr, "code-bundle", { digest: HEX_A, files: 120 }),
    createLaunchEvent(pcr, "configuration", configurationData({ host: "127.0.0.1", port: 8443 })),
    createLaunchEvent(pcr, "runtime", { name: "node", version: "v20.20.2", digest: HEX_B, size: 1000 }),
    createLaunchEvent(pcr, "engine-binary", { name: "llama-addon.node", digest: HEX_A, size: 42 }),
    createLaunchEvent(pcr, "model", { id: "stories260K", digest: HEX_B, size: 1185376 }),
    createLaunchEvent(pcr, "key-set", { digest: toHex(keySetDigest(keySet)) }),
    createLaunchEvent(pcr, "separator", { separator: LAUNCH_SEPARATOR }),
  ];
}

/** Configuration event data with the right digest. */
export function configurationData(config: Record<string, JsonValue>): { digest: string; config: typeof config } {
  return { digest: toHex(hash("sha256", canonicalJsonBytes(config))), config };
}

/** A log from events. */
export function logOf(events: readonly LaunchEvent[], pcr = 15): LaunchLog {
  return { version: LAUNCH_LOG_VERSION, hashAlg: "sha256", pcr, events };
}

/** Arbitrary valid event data of every type but the configuration, as [type, data]. */
export const arbitraryEvent = (pcr: number): fc.Arbitrary<LaunchEvent> => {
  const hex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex);
  const text = fc
    .string({ minLength: 1, maxLength: 40 })
    .filter((s) => [...s].every((c) => c.charCodeAt(0) > 0x1f && (c.charCodeAt(0) < 0x7f || c.charCodeAt(0) > 0x9f)));
  const size = fc.nat();
  return fc.oneof(
    fc
      .record({ digest: hex, files: fc.integer({ min: 1, max: 10000 }) })
      .map((d) => createLaunchEvent(pcr, "code-bundle", d)),
    fc.record({ name: text, version: text, digest: hex, size }).map((d) => createLaunchEvent(pcr, "runtime", d)),
    fc.record({ name: text, digest: hex, size }).map((d) => createLaunchEvent(pcr, "engine-binary", d)),
    fc.record({ id: text, digest: hex, size }).map((d) => createLaunchEvent(pcr, "model", d)),
    fc.record({ digest: hex }).map((d) => createLaunchEvent(pcr, "key-set", d)),
    fc.constant(createLaunchEvent(pcr, "separator", { separator: LAUNCH_SEPARATOR })),
    fc
      .dictionary(
        fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== "__proto__"),
        fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null)),
        { maxKeys: 4 },
      )
      .map((config) => createLaunchEvent(pcr, "configuration", configurationData(config))),
  );
};

/** Arbitrary decoded launch logs (valid per the decoder; not necessarily sealed). */
export const arbitraryLaunchLog: fc.Arbitrary<LaunchLog> = fc
  .integer({ min: 8, max: 15 })
  .chain((pcr) => fc.array(arbitraryEvent(pcr), { minLength: 1, maxLength: 10 }).map((events) => logOf(events, pcr)));

/** A path into a JSON value: member names and array indices. */
type JsonPath = (string | number)[];

function paths(value: unknown, prefix: JsonPath = []): JsonPath[] {
  const out: JsonPath[] = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...paths(v, [...prefix, i]));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

/** A mutation of a JSON value at one path. */
export type Mutation =
  | { kind: "replace"; pick: number; value: JsonValue }
  | { kind: "delete"; pick: number }
  | { kind: "add"; pick: number; name: string; value: JsonValue }
  | { kind: "edit-string"; pick: number; at: number; char: string };

export const arbitraryMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("replace" as const),
    pick: fc.nat(),
    value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>,
  }),
  fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant("add" as const),
    pick: fc.nat(),
    name: fc.string({ maxLength: 6 }),
    value: fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<JsonValue>,
  }),
  fc.record({
    kind: fc.constant("edit-string" as const),
    pick: fc.nat(),
    at: fc.nat(),
    char: fc.string({ minLength: 1, maxLength: 1 }),
  }),
);

/** Apply a mutation to a deep copy of `value`. */
export function mutate(value: JsonValue, m: Mutation): JsonValue {
  const root = structuredClone(value) as JsonValue;
  const all = paths(root);
  const path = all[m.pick % all.length]!;
  if (path.length === 0) return m.kind === "replace" ? m.value : root;
  const parent = path.slice(0, -1).reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root) as
    | Record<string, unknown>
    | unknown[];
  const key = path[path.length - 1]!;
  const current = (parent as Record<string | number, unknown>)[key];
  switch (m.kind) {
    case "replace":
      (parent as Record<string | number, unknown>)[key] = m.value;
      break;
    case "delete":
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case "add":
      if (current !== null && typeof current === "object" && !Array.isArray(current)) {
        Object.defineProperty(current, m.name, {
          value: m.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else if (Array.isArray(current)) current.push(m.value);
      break;
    case "edit-string":
      if (typeof current === "string") {
        const at = current.length === 0 ? 0 : m.at % current.length;
        (parent as Record<string | number, unknown>)[key] = current.slice(0, at) + m.char + current.slice(at + 1);
      }
      break;
  }
  return root;
}
