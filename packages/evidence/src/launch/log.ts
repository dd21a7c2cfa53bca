/**
 * Veritee's launch log: the JSON record of what a server measured into its
 * application PCR at launch, one event per measurement, sealed by a
 * separator. This module is the log's schema: its types, the event digests,
 * the strict decoder and the encoder. `verify.ts` checks a decoded log
 * against a quoted PCR value.
 *
 * A log (version 1) is the RFC 8785 canonical JSON of
 *
 *     { "version": 1, "hashAlg": "sha256", "events": [ event, ... ] }
 *     event = { "pcr": 8..15, "type": <type>, "data": { ... }, "digest": <64 hex> }
 *
 * where `digest` = SHA-256(canonical JSON of `data`) and each event was
 * extended, in order, into `pcr` of the SHA-256 bank:
 * PCR_new = SHA-256(PCR_old || digest) (TPM 2.0 Part 1 §17.2), from zeros.
 *
 * Each type has exactly one `data` schema, and no two schemas have the same
 * member names, so the data (and therefore the digest) determines the type:
 * relabelling an event's type cannot keep its digest valid.
 */
import {
  bytesEqual,
  canonicalJson,
  canonicalJsonBytes,
  checkJsonValue,
  expectArray,
  expectHexDigest,
  expectInteger,
  expectMembers,
  expectObject,
  expectText,
  fromHex,
  hash,
  type JsonObject,
  MalformedError,
  parseJsonBytes,
  toHex,
} from "@veritee/core";

/** The launch-log schema version this module reads and writes. */
export const LAUNCH_LOG_VERSION = 1;

/**
 * The application PCR Veritee servers measure into: PCR 15, a static OS PCR
 * (TCG PC Client PTP: not resettable at any locality) that the Veritee
 * confidential-VM image leaves otherwise unused. docs/TRUST_MODEL.md
 * ("The application PCR") gives the reasons.
 */
export const DEFAULT_LAUNCH_PCR = 15;

/** PCRs a launch log may name: the static OS PCRs 8–15 (never 16 or 23, which locality 0 can reset). */
export const LAUNCH_PCR_RANGE = { min: 8, max: 15 } as const;

/** The fixed data of the separator event. */
export const LAUNCH_SEPARATOR = "veritee-launch-separator-v1";

/** Bounds that keep decoding cheap whatever the input. */
export const LAUNCH_LOG_LIMITS = {
  /** Largest serialized log accepted, in bytes. */
  maxBytes: 256 * 1024,
  /** Most events in a log. */
  maxEvents: 64,
  /** Largest canonical configuration object, in bytes. */
  maxConfigBytes: 64 * 1024,
  /** Longest name, id or version string. */
  maxTextLength: 256,
} as const;

/** The event types, in the order a server records them. */
export const LAUNCH_EVENT_TYPES = [
  "code-bundle",
  "configuration",
  "runtime",
  "engine-binary",
  "model",
  "key-set",
  "separator",
] as const;

/** The kind of thing an event measures. */
export type LaunchEventType = (typeof LAUNCH_EVENT_TYPES)[number];

/** The `data` of each event type. Digests are lower-case hex SHA-256. */
export interface LaunchEventData {
  /** The server's runtime code: SHA-256 of the code-bundle manifest, and how many files it lists. */
  readonly "code-bundle": { readonly digest: string; readonly files: number };
  /** The configuration with secrets removed, and SHA-256 of its canonical JSON. */
  readonly configuration: { readonly digest: string; readonly config: JsonObject };
  /** The JavaScript runtime: its name ("node"), version, and the executable's SHA-256 and size. */
  readonly runtime: { readonly name: string; readonly version: string; readonly digest: string; readonly size: number };
  /** One native engine file (e.g. the llama.cpp addon), by a stable name. */
  readonly "engine-binary": { readonly name: string; readonly digest: string; readonly size: number };
  /** One model file: the model id clients name, the file's SHA-256 and size. */
  readonly model: { readonly id: string; readonly digest: string; readonly size: number };
  /** SHA-256 of the key set's canonical encoding (see `encodeKeySet`). */
  readonly "key-set": { readonly digest: string };
  /** The end of the launch: always {@link LAUNCH_SEPARATOR}. */
  readonly separator: { readonly separator: typeof LAUNCH_SEPARATOR };
}

/** One event of a launch log. */
export type LaunchEvent = {
  readonly [T in LaunchEventType]: {
    /** The PCR extended (the same for every event of a log). */
    readonly pcr: number;
    readonly type: T;
    readonly data: LaunchEventData[T];
    /** SHA-256 of the canonical JSON of `data`: what was extended. */
    readonly digest: Uint8Array;
  };
}[LaunchEventType];

/** A decoded launch log. Decoding implies no trust: see `verifyLaunchLog`. */
export interface LaunchLog {
  readonly version: typeof LAUNCH_LOG_VERSION;
  readonly hashAlg: "sha256";
  /** The PCR every event extends. */
  readonly pcr: number;
  readonly events: readonly LaunchEvent[];
}

/** The JSON form of a launch log, as {@link launchLogToJson} makes it. */
export interface LaunchLogJson {
  readonly version: number;
  readonly hashAlg: string;
  readonly events: readonly {
    readonly pcr: number;
    readonly type: string;
    readonly data: JsonObject;
    readonly digest: string;
  }[];
}

const DATA_MEMBERS: Readonly<Record<LaunchEventType, readonly string[]>> = {
  "code-bundle": ["digest", "files"],
  configuration: ["digest", "config"],
  runtime: ["name", "version", "digest", "size"],
  "engine-binary": ["name", "digest", "size"],
  model: ["id", "digest", "size"],
  "key-set": ["digest"],
  separator: ["separator"],
};

/** Largest file size recorded: 2^53 − 1 bytes, far beyond any model. */
const MAX_SIZE = Number.MAX_SAFE_INTEGER;

function isEventType(value: unknown): value is LaunchEventType {
  return typeof value === "string" && (LAUNCH_EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * Check `data` against its type's schema and return a frozen copy.
 * Members are read once, so a getter cannot show one value here and another later.
 */
function decodeData<T extends LaunchEventType>(type: T, value: unknown, what: string): LaunchEventData[T] {
  const d = expectMembers(value, what, DATA_MEMBERS[type]);
  const text = (name: string) => expectText(d[name], `${what}.${name}`, LAUNCH_LOG_LIMITS.maxTextLength);
  const digest = () => expectHexDigest(d.digest, `${what}.digest`, 32);
  const size = () => expectInteger(d.size, `${what}.size`, 0, MAX_SIZE);
  let out: LaunchEventData[LaunchEventType];
  switch (type) {
    case "code-bundle":
      out = { digest: digest(), files: expectInteger(d.files, `${what}.files`, 1, 1_000_000) };
      break;
    case "configuration": {
      const config = decodeConfig(d.config, `${what}.config`);
      const expected = toHex(hash("sha256", canonicalJsonBytes(config)));
      const declared = digest();
      if (declared !== expected) {
        throw new MalformedError("bad-value", `${what}.digest`, "not the SHA-256 of the canonical configuration");
      }
      out = { digest: declared, config };
      break;
    }
    case "runtime":
      out = { name: text("name"), version: text("version"), digest: digest(), size: size() };
      break;
    case "engine-binary":
      out = { name: text("name"), digest: digest(), size: size() };
      break;
    case "model":
      out = { id: text("id"), digest: digest(), size: size() };
      break;
    case "key-set":
      out = { digest: digest() };
      break;
    case "separator":
      if (d.separator !== LAUNCH_SEPARATOR) {
        throw new MalformedError("bad-value", `${what}.separator`, "not the version-1 separator");
      }
      out = { separator: LAUNCH_SEPARATOR };
      break;
    default:
      throw new MalformedError("unsupported", what, "unknown event type");
  }
  return Object.freeze(out) as LaunchEventData[T];
}

/** A configuration object: JSON, bounded, deep-frozen copy. */
function decodeConfig(value: unknown, what: string): JsonObject {
  expectObject(value, what);
  checkJsonValue(value, what);
  const text = canonicalJson(value);
  if (new TextEncoder().encode(text).length > LAUNCH_LOG_LIMITS.maxConfigBytes) {
    throw new MalformedError("too-large", what, `configuration larger than ${LAUNCH_LOG_LIMITS.maxConfigBytes}`);
  }
  // Re-parsing the canonical text yields an unaliased copy with the members in canonical order.
  return deepFreeze(JSON.parse(text) as JsonObject);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

/**
 * SHA-256 of the canonical JSON of an event's data: the digest extended into the PCR.
 *
 * @example
 * launchEventDigest({ separator: LAUNCH_SEPARATOR });
 */
export function launchEventDigest(data: LaunchEventData[LaunchEventType]): Uint8Array {
  return hash("sha256", canonicalJsonBytes(data));
}

/**
 * Make an event: check `data` against the type's schema (as the decoder
 * does) and compute its digest. The server builds its log with this.
 *
 * @throws MalformedError for data that does not fit the type's schema, or a PCR outside 8–15.
 * @example
 * const e = createLaunchEvent(15, "key-set", { digest: toHex(keySetDigest(keySet)) });
 */
export function createLaunchEvent<T extends LaunchEventType>(
  pcr: number,
  type: T,
  data: LaunchEventData[T],
): Extract<LaunchEvent, { readonly type: T }> {
  expectInteger(pcr, "LaunchEvent.pcr", LAUNCH_PCR_RANGE.min, LAUNCH_PCR_RANGE.max);
  // Round-trip through canonical JSON so the stored data is exactly what a verifier will decode.
  const copy = decodeData(type, JSON.parse(canonicalJson(data)), `LaunchEvent(${type}).data`);
  const event = { pcr, type, data: copy, digest: launchEventDigest(copy) };
  return Object.freeze(event) as unknown as Extract<LaunchEvent, { readonly type: T }>;
}

/**
 * Decode a launch log, strictly: the version-1 schema exactly (no unknown or
 * missing members), known event types, lower-case hex digests of the right
 * length, every event's digest equal to SHA-256 of its canonical data, one
 * PCR in 8–15 for all events, and at most {@link LAUNCH_LOG_LIMITS}. Bytes must
 * be the log's RFC 8785 canonical JSON; an already parsed value is checked
 * the same way, member by member.
 *
 * Decoding does not check the log's shape as a launch (separator last,
 * required events) nor any PCR: `verifyLaunchLog` does.
 *
 * @throws MalformedError naming the field.
 * @example
 * const log = decodeLaunchLog(new TextEncoder().encode(json));
 */
export function decodeLaunchLog(input: unknown): LaunchLog {
  const what = "LaunchLog";
  const value =
    input instanceof Uint8Array ? parseJsonBytes(input, what, { maxBytes: LAUNCH_LOG_LIMITS.maxBytes }) : input;
  const obj = expectMembers(value, what, ["version", "hashAlg", "events"]);
  if (obj.version !== LAUNCH_LOG_VERSION) throw new MalformedError("unsupported", `${what}.version`, "not version 1");
  if (obj.hashAlg !== "sha256") throw new MalformedError("unsupported", `${what}.hashAlg`, "only sha256");
  const list = expectArray(obj.events, `${what}.events`, LAUNCH_LOG_LIMITS.maxEvents);
  if (list.length === 0) throw new MalformedError("bad-length", `${what}.events`, "a log has at least one event");
  let pcr: number | undefined;
  const events = list.map((item, i): LaunchEvent => {
    const at = `${what}.events[${i}]`;
    const e = expectMembers(item, at, ["pcr", "type", "data", "digest"]);
    const eventPcr = expectInteger(e.pcr, `${at}.pcr`, LAUNCH_PCR_RANGE.min, LAUNCH_PCR_RANGE.max);
    if (pcr !== undefined && eventPcr !== pcr) {
      throw new MalformedError("bad-value", `${at}.pcr`, "all events of a launch log extend the same PCR");
    }
    pcr = eventPcr;
    if (!isEventType(e.type)) throw new MalformedError("unsupported", `${at}.type`, "unknown event type");
    const data = decodeData(e.type, e.data, `${at}.data`);
    const digest = fromHex(expectHexDigest(e.digest, `${at}.digest`, 32), `${at}.digest`);
    if (!bytesEqual(digest, launchEventDigest(data))) {
      throw new MalformedError("bad-value", `${at}.digest`, "not the SHA-256 of the canonical event data");
    }
    return Object.freeze({ pcr: eventPcr, type: e.type, data, digest }) as LaunchEvent;
  });
  return Object.freeze({ version: LAUNCH_LOG_VERSION, hashAlg: "sha256", pcr: pcr!, events: Object.freeze(events) });
}

/** The JSON form of a launch log (digests in lower-case hex). */
export function launchLogToJson(log: LaunchLog): LaunchLogJson {
  return {
    version: log.version,
    hashAlg: log.hashAlg,
    events: log.events.map((e) => ({
      pcr: e.pcr,
      type: e.type,
      data: e.data as unknown as JsonObject,
      digest: toHex(e.digest),
    })),
  };
}

/**
 * The canonical bytes of a launch log: what a server publishes and what
 * {@link decodeLaunchLog} accepts.
 */
export function encodeLaunchLog(log: LaunchLog): Uint8Array {
  return canonicalJsonBytes(launchLogToJson(log));
}

/**
 * Replay a log: start from 32 zero bytes and extend each event's digest,
 * PCR = SHA-256(PCR || digest) (TPM 2.0 Part 1 §17.2). The result is the
 * value the application PCR holds after a launch that recorded exactly these
 * events since the platform's reset.
 */
export function replayLaunchLog(log: LaunchLog): Uint8Array {
  let pcr: Uint8Array = new Uint8Array(32);
  for (const e of log.events) pcr = hash("sha256", pcr, e.digest);
  return pcr;
}
