/**
 * Sealed requests, version 2 (docs/CHANNEL.md §Sealed requests): the whole
 * request — method, target, header fields and body, as a Binary HTTP message
 * (RFC 9292, bhttp.ts) — sealed with HPKE (RFC 9180, base mode, single shot)
 * to the attested HPKE key, as an Oblivious HTTP request (RFC 9458 §4.3):
 *
 *     sealed = hdr ‖ enc ‖ ct
 *     hdr    = key_id (u8) ‖ kem_id (u16) ‖ kdf_id (u16) ‖ aead_id (u16)
 *     info   = "veritee sealed request v2" ‖ 0x00 ‖ hdr ‖ keySetDigest
 *     ct     = Seal(pkR, info, aad = "", bhttp)
 *
 * `info` binds the attested key set (its digest, which the quote covers).
 * On the wire the outer request is always `POST /v1/sealed` with the sealed
 * content type: an intermediary sees neither the real method and path nor
 * any header field (`Authorization` included), so there is nothing left in
 * clear to bind as associated data (RFC 9458 uses none either). The client
 * keeps a {@link RequestContext} (the exported response secret) to open the
 * response; the server gets a {@link Responder}.
 *
 * Version 1 (the body alone sealed, method, path and content type as
 * associated data, other headers in clear) is not produced or opened any
 * more; the server refuses it with a clear error (docs/CHANNEL.md).
 */
import type { SenderContext } from "@hpke/core";
import { ByteWriter, HPKE_KEM_X25519_SHA256, type HpkeKeyConfig, MalformedError, utf8 } from "@veritee/core";
import { type ChannelSuite, channelSuite, type HpkeBackend } from "./backend.js";
import {
  type BinaryRequestLimits,
  type DecodedBinaryRequest,
  decodeOwnedBinaryRequest,
  encodeBinaryRequest,
} from "./bhttp.js";
import { concat } from "./bytes.js";
import { ChannelError } from "./errors.js";
import { FrameSealer } from "./frames.js";
import { encodeResponseHead, type ResponseHead } from "./head.js";
import { deriveResponseKeys, randomBytes, responseSecretSize } from "./response-keys.js";
import { webCryptoBackend } from "./web-backend.js";
import {
  FRAME_HEADER_SIZE,
  KEY_SET_DIGEST_SIZE,
  KEY_SET_HEADER,
  MAX_FRAME_PLAINTEXT,
  REQUEST_HEADER_SIZE,
  REQUEST_INFO_LABEL,
  RESPONSE_EXPORT_LABEL,
  SEALED_PATH,
  SEALED_REQUEST_TYPE,
  X25519_ENC_SIZE,
} from "./wire.js";

/** What a request is sealed to: the attested HPKE key configuration and key-set digest (a `VerifiedAttestation` is one). */
export interface SealTarget {
  readonly keySet: { readonly hpke: HpkeKeyConfig };
  readonly keySetDigest: Uint8Array;
}

/** A plaintext request: all of it is sealed (method, target, header fields, body). */
export interface PlainRequest {
  /** The method, e.g. "POST" (an RFC 9110 token). */
  readonly method: string;
  /** The request target as the server will route it: absolute path and query, e.g. "/v1/chat/completions". */
  readonly path: string;
  /** The target's authority (host[:port]) as the client addressed it; default "" (none). */
  readonly authority?: string;
  /** Header fields (lower-case names, in order), e.g. `[["authorization", "Bearer …"]]`. */
  readonly headers?: readonly (readonly [string, string])[];
  /** The body's media type, added as a `content-type` field when the headers have none; "" or absent for none. */
  readonly contentType?: string;
  /** The body; absent or empty for none. */
  readonly body?: Uint8Array;
}

/** Options of {@link sealRequest}. */
export interface SealOptions {
  /** Default {@link webCryptoBackend}; on Node use `nodeBackend` from `@veritee/channel/node`. */
  readonly backend?: HpkeBackend;
  /** Use this AEAD id (it must be in the key configuration); default: the server's first choice the backend has. */
  readonly aeadId?: number;
}

/** A sealed request, ready to send: `POST` {@link SealedRequest.path} with `headers` and `body`. */
export interface SealedRequest {
  /** The sealed request: hdr ‖ enc ‖ ciphertext. */
  readonly sealed: Uint8Array<ArrayBuffer>;
  /** The outer body to send: `sealed`. */
  readonly body: Uint8Array<ArrayBuffer>;
  /** The outer request's path, the same for every sealed request ({@link SEALED_PATH}). */
  readonly path: string;
  /** The outer request's only headers (lower-case names): the sealed content type and the key-set digest. */
  readonly headers: Readonly<Record<string, string>>;
  /** Opens this request's response (once). */
  readonly context: RequestContext;
}

/** Where the server's key lives, for {@link openRequest}. */
export interface RecipientKey {
  /** The server's HPKE key configuration, as attested. */
  readonly keyConfig: HpkeKeyConfig;
  /** The attested key set's digest. */
  readonly keySetDigest: Uint8Array;
  /** The X25519 private key, a key of `backend` (WebCrypto `CryptoKey`, or `nodeX25519Key(...)` for the Node backend). */
  readonly privateKey: CryptoKey;
  readonly backend: HpkeBackend;
}

/** An opened request. */
export interface OpenedRequest {
  /** The inner request, decoded strictly (bhttp.ts). */
  readonly request: DecodedBinaryRequest;
  /** The inner request's content (`request.body`). */
  readonly body: Uint8Array<ArrayBuffer>;
  /** Seals this request's response (once). */
  readonly responder: Responder;
}

interface ContextState {
  readonly suite: ChannelSuite;
  readonly enc: Uint8Array;
  readonly secret: Uint8Array;
  used: boolean;
}

const contexts = new WeakMap<RequestContext, ContextState>();
const TOKEN: unique symbol = Symbol("RequestContext");

/**
 * The client's half of one sealed request: what opens its response. Opaque;
 * made only by {@link sealRequest}, usable for one response.
 */
export class RequestContext {
  /** The HPKE AEAD id this request uses. */
  readonly aeadId: number;

  /** Not for callers: made by {@link sealRequest}. */
  constructor(token: typeof TOKEN, state: ContextState) {
    if (token !== TOKEN) throw new TypeError("RequestContext is made by sealRequest");
    this.aeadId = state.suite.aeadId;
    contexts.set(this, state);
  }

  toJSON(): unknown {
    return { aeadId: this.aeadId };
  }
}

/**
 * The suite and secret of a context, marking it used (module-internal: response.ts).
 *
 * @throws ChannelError `closed` when the context already opened a response.
 */
export function takeContext(context: RequestContext): { suite: ChannelSuite; enc: Uint8Array; secret: Uint8Array } {
  const state = contexts.get(context);
  if (state === undefined) throw new TypeError("not a RequestContext");
  if (state.used) throw new ChannelError("closed", "this request's response was already opened");
  state.used = true;
  return state;
}

function requestHeader(keyId: number, suite: ChannelSuite): Uint8Array {
  return new ByteWriter().u8(keyId).u16(suite.kemId).u16(suite.kdfId).u16(suite.aeadId).finish();
}

function requestInfo(hdr: Uint8Array, keySetDigest: Uint8Array): Uint8Array {
  return concat(utf8(REQUEST_INFO_LABEL), Uint8Array.of(0), hdr, keySetDigest);
}

const RESPONSE_EXPORT_BYTES = utf8(RESPONSE_EXPORT_LABEL);

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Imported recipient keys per suite, by their bytes: a session seals every request to the same key. */
const publicKeys = new WeakMap<ChannelSuite, Map<string, Promise<CryptoKey>>>();
/** Key sets a client meets at once (replicas, a rotation) are few; the oldest import is dropped beyond this. */
const MAX_CACHED_PUBLIC_KEYS = 16;

/**
 * The recipient's public key imported into `suite`'s KEM, once per key: an
 * import is a WebCrypto call (a thread-pool round trip on Node) or a key
 * object on the Node backend, and public keys hold no secret.
 *
 * @throws ChannelError `unsupported-suite` when the key does not import.
 */
async function recipientPublicKeyOf(suite: ChannelSuite, publicKey: Uint8Array): Promise<CryptoKey> {
  let byKey = publicKeys.get(suite);
  if (byKey === undefined) {
    byKey = new Map();
    publicKeys.set(suite, byKey);
  }
  const id = hex(publicKey);
  let key = byKey.get(id);
  if (key === undefined) {
    key = suite.hpke.kem.deserializePublicKey(publicKey.slice());
    byKey.set(id, key);
    if (byKey.size > MAX_CACHED_PUBLIC_KEYS) byKey.delete(byKey.keys().next().value!);
    // A key that does not import is not kept: the next request tries again (and fails the same way).
    const imported = key;
    imported.catch(() => {
      if (byKey.get(id) === imported) byKey.delete(id);
    });
  }
  try {
    return await key;
  } catch (e) {
    throw new ChannelError("unsupported-suite", "the HPKE public key does not import", { cause: e });
  }
}

/** How requests to one target are sealed: the suite, the request header and the HPKE info (module-internal). */
export interface SealPlan {
  readonly suite: ChannelSuite;
  /** hdr: key id, KEM, KDF and AEAD ids. */
  readonly hdr: Uint8Array;
  /** info: the label, hdr and the key-set digest. */
  readonly info: Uint8Array;
  /** The recipient's raw X25519 public key. */
  readonly publicKey: Uint8Array;
  /** The key-set digest as the `veritee-key-set` header carries it. */
  readonly keySetHex: string;
}

/**
 * The plan for sealing to `target`: the server's first suite the backend has (or `options.aeadId`).
 *
 * @throws ChannelError `unsupported-suite`; RangeError for a key-set digest that is not 32 bytes.
 */
export function planSeal(target: SealTarget, options: SealOptions = {}): SealPlan {
  const backend = options.backend ?? webCryptoBackend;
  if (target.keySetDigest.length !== KEY_SET_DIGEST_SIZE) throw new RangeError("SealTarget.keySetDigest: not 32 bytes");
  const config = target.keySet.hpke;
  if (config.kemId !== HPKE_KEM_X25519_SHA256) throw new ChannelError("unsupported-suite", "the key is not X25519");
  const suite = config.cipherSuites
    .filter((s) => options.aeadId === undefined || s.aeadId === options.aeadId)
    .map((s) => channelSuite(backend, s.kdfId, s.aeadId))
    .find((s) => s !== undefined);
  if (suite === undefined)
    throw new ChannelError("unsupported-suite", "no cipher suite of the key configuration is available");
  const hdr = requestHeader(config.keyId, suite);
  return Object.freeze({
    suite,
    hdr,
    info: requestInfo(hdr, target.keySetDigest),
    publicKey: config.publicKey.slice(),
    keySetHex: hex(target.keySetDigest),
  });
}

/**
 * A fresh HPKE encapsulation to the plan's key (RFC 9180 §5.1.1 SetupBaseS:
 * a new ephemeral key, the DH, the key schedule), for exactly one request
 * (module-internal).
 *
 * @throws ChannelError `unsupported-suite` when the public key does not import.
 */
export async function encapsulate(plan: SealPlan): Promise<SenderContext> {
  const recipientPublicKey = await recipientPublicKeyOf(plan.suite, plan.publicKey);
  return plan.suite.hpke.createSenderContext({ recipientPublicKey, info: plan.info });
}

/** A plain request encoded as Binary HTTP, before any key is touched. */
interface CheckedRequest {
  readonly message: Uint8Array;
}

/**
 * Check and encode a plain request (module-internal).
 *
 * @throws RangeError for a method, path, authority or header field outside the format (bhttp.ts).
 */
export function checkPlainRequest(request: PlainRequest): CheckedRequest {
  const headers = [...(request.headers ?? [])];
  const contentType = request.contentType ?? "";
  if (contentType !== "" && !headers.some(([name]) => name === "content-type")) {
    headers.push(["content-type", contentType]);
  }
  const message = encodeBinaryRequest({
    method: request.method,
    path: request.path,
    authority: request.authority ?? "",
    headers,
    body: request.body ?? new Uint8Array(0),
  });
  return { message };
}

const EMPTY = new Uint8Array(0);

/**
 * Seal a checked request with `sender`, a fresh encapsulation that is used
 * for this request only and then dropped (module-internal).
 */
export async function sealWith(plan: SealPlan, sender: SenderContext, request: CheckedRequest): Promise<SealedRequest> {
  const ct = new Uint8Array(await sender.seal(request.message, EMPTY));
  const secret = new Uint8Array(await sender.export(RESPONSE_EXPORT_BYTES, responseSecretSize(plan.suite)));
  const enc = new Uint8Array(sender.enc);
  const sealed = concat(plan.hdr, enc, ct);
  return Object.freeze({
    sealed,
    body: sealed,
    path: SEALED_PATH,
    headers: Object.freeze({ "content-type": SEALED_REQUEST_TYPE, [KEY_SET_HEADER]: plan.keySetHex }),
    context: new RequestContext(TOKEN, { suite: plan.suite, enc, secret, used: false }),
  });
}

/**
 * Seal a request to the attested HPKE key. The suite is the server's first
 * preference that the backend supports (or `options.aeadId`). To seal many
 * requests to one key set, `createRequestSealer` keeps the next
 * encapsulation ready.
 *
 * @throws ChannelError `unsupported-suite` when no suite fits; RangeError for
 *   a method, path, authority or header field outside the format (bhttp.ts),
 *   or a key-set digest that is not 32 bytes.
 * @example
 * const { path, body, headers, context } = await sealRequest(verified, {
 *   method: "POST", path: "/v1/chat/completions", headers: [["authorization", `Bearer ${key}`]],
 *   contentType: "application/json", body: utf8(json),
 * }, { backend: nodeBackend });
 * const response = await fetch(new URL(path, origin), { method: "POST", headers, body });
 * const opened = await openResponse(context, new Uint8Array(await response.arrayBuffer()));
 */
export async function sealRequest(
  target: SealTarget,
  request: PlainRequest,
  options: SealOptions = {},
): Promise<SealedRequest> {
  const checked = checkPlainRequest(request);
  const plan = planSeal(target, options);
  return sealWith(plan, await encapsulate(plan), checked);
}

/**
 * Open a sealed request with the server's key and decode the Binary HTTP
 * request inside it.
 *
 * @throws ChannelError `bad-framing` (too short; or it opened but the inner
 *   message is not a valid Binary HTTP request: the MalformedError is the
 *   cause), `too-large` (the inner message exceeds `limits`), `unknown-key`
 *   (another key id, KEM or a suite the key configuration does not offer),
 *   `unsupported-suite` (offered but not in this backend), `tampered`
 *   (authentication failed: modified, or sealed to another key or key set, or
 *   a version 1 request).
 * @example
 * const { request, responder } = await openRequest(recipient, sealed, { maxBodyBytes: 1 << 20 });
 */
export async function openRequest(
  recipient: RecipientKey,
  sealed: Uint8Array,
  limits: BinaryRequestLimits = {},
): Promise<OpenedRequest> {
  const config = recipient.keyConfig;
  if (sealed.length < REQUEST_HEADER_SIZE + X25519_ENC_SIZE)
    throw new ChannelError("bad-framing", "sealed request too short");
  const v = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const keyId = v.getUint8(0);
  const kemId = v.getUint16(1, false);
  const kdfId = v.getUint16(3, false);
  const aeadId = v.getUint16(5, false);
  if (keyId !== config.keyId || kemId !== config.kemId || kemId !== HPKE_KEM_X25519_SHA256) {
    throw new ChannelError("unknown-key", "the request is sealed to another key");
  }
  if (!config.cipherSuites.some((s) => s.kdfId === kdfId && s.aeadId === aeadId)) {
    throw new ChannelError("unknown-key", "the request uses a cipher suite the key does not offer");
  }
  const suite = channelSuite(recipient.backend, kdfId, aeadId);
  if (suite === undefined) throw new ChannelError("unsupported-suite", "the cipher suite is not available here");
  if (sealed.length < REQUEST_HEADER_SIZE + X25519_ENC_SIZE + suite.tagSize) {
    throw new ChannelError("bad-framing", "sealed request too short");
  }
  const hdr = sealed.slice(0, REQUEST_HEADER_SIZE);
  const enc = sealed.slice(REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE + X25519_ENC_SIZE);
  const ct = sealed.slice(REQUEST_HEADER_SIZE + X25519_ENC_SIZE);
  let message: Uint8Array<ArrayBuffer>;
  let secret: Uint8Array;
  try {
    const ctx = await suite.hpke.createRecipientContext({
      recipientKey: recipient.privateKey,
      enc,
      info: requestInfo(hdr, recipient.keySetDigest),
    });
    message = new Uint8Array(await ctx.open(ct, EMPTY));
    secret = new Uint8Array(await ctx.export(RESPONSE_EXPORT_BYTES, responseSecretSize(suite)));
  } catch (e) {
    // A bad `enc` (e.g. a low-order point, RFC 9180 §7.1.4) fails here as well as a bad tag.
    throw new ChannelError("tampered", "the sealed request failed authentication", { cause: e });
  }
  let request: DecodedBinaryRequest;
  try {
    // `message` is this call's own plaintext: the body may stay a view into it.
    request = decodeOwnedBinaryRequest(message, limits);
  } catch (e) {
    if (e instanceof MalformedError && e.code === "too-large") {
      throw new ChannelError("too-large", "the sealed request exceeds this server's limits", { cause: e });
    }
    throw new ChannelError("bad-framing", "the sealed request is not a valid Binary HTTP request", { cause: e });
  }
  return Object.freeze({
    request,
    body: request.body,
    responder: new Responder(RESPONDER_TOKEN, suite, enc, secret),
  });
}

const RESPONDER_TOKEN: unique symbol = Symbol("Responder");

/** Split a body into frame-sized chunks (at least one, possibly empty). */
function chunks(body: Uint8Array): Uint8Array[] {
  if (body.length <= MAX_FRAME_PLAINTEXT) return [body];
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.length; at += MAX_FRAME_PLAINTEXT) out.push(body.subarray(at, at + MAX_FRAME_PLAINTEXT));
  return out;
}

/**
 * Seals a response frame by frame: first the response nonce and the sealed
 * head (the {@link ResponseSealer.preamble}), then body chunks, then a final
 * frame. Frames must be sent in the order of the calls.
 */
export class ResponseSealer {
  /** Response nonce ‖ the head frame: send it first. */
  readonly preamble: Uint8Array<ArrayBuffer>;
  readonly #frames: FrameSealer;

  /** Not for callers: made by {@link Responder.sealStream}. */
  constructor(token: typeof RESPONDER_TOKEN, preamble: Uint8Array<ArrayBuffer>, frames: FrameSealer) {
    if (token !== RESPONDER_TOKEN) throw new TypeError("ResponseSealer is made by Responder.sealStream");
    this.preamble = preamble;
    this.#frames = frames;
  }

  /** Whether the final frame was sealed. */
  get finished(): boolean {
    return this.#frames.finished;
  }

  /**
   * Seal a body chunk: one frame per 64 KiB, none for an empty chunk.
   *
   * @throws ChannelError `closed` after {@link finish}, `sequence-overflow`.
   */
  async seal(chunk: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (chunk.length === 0) {
      if (this.#frames.finished) throw new ChannelError("closed", "the stream already ended");
      return new Uint8Array(0);
    }
    const parts = chunks(chunk);
    if (parts.length === 1) return this.#frames.seal(parts[0]!, false);
    return concat(...(await Promise.all(parts.map((p) => this.#frames.seal(p, false)))));
  }

  /**
   * Seal the last chunk (possibly empty) with the final flag.
   *
   * @throws ChannelError `closed` when already finished, `sequence-overflow`.
   */
  async finish(chunk: Uint8Array = new Uint8Array(0)): Promise<Uint8Array<ArrayBuffer>> {
    const parts = chunks(chunk);
    if (parts.length === 1) return this.#frames.seal(parts[0]!, true);
    return concat(...(await Promise.all(parts.map((p, i) => this.#frames.seal(p, i === parts.length - 1)))));
  }
}

/** The server's half of one sealed request: seals its one response. */
export class Responder {
  /** The HPKE AEAD id of the request (and so of the response). */
  readonly aeadId: number;
  readonly #suite: ChannelSuite;
  readonly #enc: Uint8Array;
  readonly #secret: Uint8Array;
  #used = false;

  /** Not for callers: made by {@link openRequest}. */
  constructor(token: typeof RESPONDER_TOKEN, suite: ChannelSuite, enc: Uint8Array, secret: Uint8Array) {
    if (token !== RESPONDER_TOKEN) throw new TypeError("Responder is made by openRequest");
    this.aeadId = suite.aeadId;
    this.#suite = suite;
    this.#enc = enc;
    this.#secret = secret;
  }

  /**
   * Start the sealed response: a fresh response nonce, the keys, and the
   * sealed head.
   *
   * @throws ChannelError `closed` on a second response; RangeError for a head outside the format.
   * @example
   * const sealer = await responder.sealStream({ status: 200, headers: { "content-type": "text/event-stream" } });
   * res.write(sealer.preamble);
   * res.write(await sealer.seal(utf8("data: {}\n\n")));
   * res.end(await sealer.finish());
   */
  async sealStream(head: ResponseHead): Promise<ResponseSealer> {
    if (this.#used) throw new ChannelError("closed", "this request was already answered");
    const headBytes = encodeResponseHead(head);
    this.#used = true;
    const nonce = randomBytes(responseSecretSize(this.#suite));
    const keys = await deriveResponseKeys(this.#suite, this.#secret, this.#enc, nonce);
    const frames = new FrameSealer(keys);
    const headFrame = await frames.seal(headBytes, false);
    return new ResponseSealer(RESPONDER_TOKEN, concat(nonce, headFrame), frames);
  }

  /**
   * The exact length of what {@link sealResponse} returns for `head` and a
   * body of `bodyLength` bytes, so that a server can announce a sealed
   * response's `content-length` before sealing it: the response nonce, the
   * head frame and one frame per 64 KiB of body (at least one).
   *
   * @throws RangeError for a head outside the format or a length that is not a non-negative integer.
   * @example
   * res.writeHead(200, { "content-length": responder.sealedSize(head, body.length) });
   */
  sealedSize(head: ResponseHead, bodyLength: number): number {
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) throw new RangeError("bodyLength: not a length");
    const headLength = encodeResponseHead(head).length;
    const tag = this.#suite.tagSize;
    const bodyFrames = Math.max(1, Math.ceil(bodyLength / MAX_FRAME_PLAINTEXT));
    return (
      responseSecretSize(this.#suite) +
      FRAME_HEADER_SIZE +
      headLength +
      tag +
      bodyFrames * (FRAME_HEADER_SIZE + tag) +
      bodyLength
    );
  }

  /**
   * Seal a whole response: preamble, then the body in final frames.
   *
   * @throws ChannelError `closed` on a second response.
   * @example
   * res.end(await responder.sealResponse({ status: 200, headers: { "content-type": "application/json" } }, body));
   */
  async sealResponse(head: ResponseHead, body: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const sealer = await this.sealStream(head);
    return concat(sealer.preamble, await sealer.finish(body));
  }
}
