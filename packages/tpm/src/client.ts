/**
 * The high-level TPM 2.0 client: each method is one operation (often several
 * commands), run atomically on the client's serial queue.
 */
import { digestSize, EK_NV_INDEX, type HashAlg, MalformedError, randomBytes, TPM_RH } from "@veritee/core";
import {
  flushContextCommand,
  getHandlesCommand,
  getPropertyCommand,
  getRandomCommand,
  shutdownCommand,
  startupCommand,
} from "./commands/basic.js";
import { dictionaryAttackLockResetCommand, dictionaryAttackParametersCommand } from "./commands/da.js";
import { type NvPublic, nvReadCommand, nvReadPublicCommand } from "./commands/nv.js";
import {
  activateCredentialCommand,
  type CreatedKey,
  createCommand,
  createPrimaryCommand,
  evictControlCommand,
  type LoadedObject,
  loadCommand,
  type QuoteResult,
  quoteCommand,
  readPublicCommand,
} from "./commands/object.js";
import { pcrExtendCommand, pcrReadCommand } from "./commands/pcr.js";
import { policySecretCommand, startAuthSessionCommand } from "./commands/session.js";
import type { TpmCommand } from "./commands/types.js";
import { HANDLE_RANGE, TPM_PT, TPM_SE, TPM_SU, TPMA_NV, TPMA_SESSION } from "./constants.js";
import { TpmError, type TpmErrorCode } from "./errors.js";
import { SerialQueue } from "./queue.js";
import { type AkKind, type AkScheme, akTemplate, type EkKind, ekTemplate } from "./templates.js";
import { openTransport, type TransportSpec } from "./transport/open.js";
import type { TpmTransport } from "./transport/types.js";
import { type AuthCommand, encodeCommand } from "./wire/command.js";
import { trimDerPadding } from "./wire/der.js";
import { type DecodedResponse, decodeParameters, decodeResponse } from "./wire/response.js";
import { type NormalizedSelection, normalizeSelection, type PcrSelection } from "./wire/structures.js";

/** PCR values by bank, then by PCR index. */
export type PcrValues = Map<HashAlg, Map<number, Uint8Array>>;

/** EK certificates a TPM may hold in NV (TCG EK Credential Profile 2.5 §2.2.1.4). */
export type EkCertificateKind = "rsa2048" | "eccP256" | "eccP384";

/** How a parent key's user role is authorised for TPM2_Create / TPM2_Load. */
export type ParentAuth =
  /** The TCG EK policy: a policy session satisfying PolicySecret(TPM_RH_ENDORSEMENT). */
  | "ek-policy"
  /** A password session with this auth value (e.g. an empty one for an SRK). */
  | { readonly password: Uint8Array };

/** Client options. */
export interface TpmClientOptions {
  /**
   * Per-command timeout. Key generation on a hardware TPM can take tens of
   * seconds, hence the generous default of 120 s. After a timeout the
   * transport is closed.
   */
  readonly timeoutMs?: number;
  /** Connection timeout when connecting from a {@link TransportSpec} (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** The endorsement hierarchy's auth value (default empty). */
  readonly endorsementAuth?: Uint8Array;
  /** The owner hierarchy's auth value (default empty), for EvictControl and owner-read NV indices. */
  readonly ownerAuth?: Uint8Array;
  /** The lockout hierarchy's auth value (default empty), for the dictionary-attack commands. */
  readonly lockoutAuth?: Uint8Array;
}

const EMPTY = new Uint8Array(0);
/** Bytes per TPM2_GetRandom call; a TPM returns at most its largest digest size (Part 3 §16.1). */
const RANDOM_CHUNK = 64;
/** Attempts at a consistent multi-call PCR read before giving up with `pcr-changed`. */
const PCR_READ_ATTEMPTS = 5;
/** NV chunk size when the TPM does not report TPM_PT_NV_BUFFER_MAX (the smallest PC Client allows is 512). */
const FALLBACK_NV_BUFFER = 512;

/** Warnings after which the command is sent again unchanged. */
const RETRY_CODES: ReadonlySet<TpmErrorCode> = new Set(["TPM_RC_RETRY", "TPM_RC_YIELDED", "TPM_RC_TESTING"]);
const MAX_ATTEMPTS = 20;
const RETRY_DELAY_MS = 5;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const EK_CERT_INDEX: Readonly<Record<EkCertificateKind, number>> = {
  rsa2048: EK_NV_INDEX.rsa2048Cert,
  eccP256: EK_NV_INDEX.eccP256Cert,
  eccP384: EK_NV_INDEX.eccP384HighCert,
};

function password(auth: Uint8Array): AuthCommand {
  return { sessionHandle: TPM_RH.PW, nonce: EMPTY, attributes: TPMA_SESSION.continueSession, hmac: auth };
}

function badArgument(command: string, error: unknown): TpmError {
  const detail = error instanceof Error ? error.message : "invalid argument";
  return new TpmError("bad-argument", command, detail, { cause: error });
}

/**
 * A TPM 2.0 client over any {@link TpmTransport}. Authorisation uses
 * password sessions (TPM_RS_PW) and, for the EK, an unsalted policy session
 * with PolicySecret(TPM_RH_ENDORSEMENT). Errors are `TpmError`s.
 *
 * @example
 * const tpm = await TpmClient.connect({ kind: "tcp", port: sim.port });
 * await tpm.startup();
 * const ek = await tpm.createEk("rsa2048");
 * const ak = await tpm.createAk(ek.handle, "ecc-p256");
 * const loaded = await tpm.load(ek.handle, ak);
 * const { attest, signature } = await tpm.quote(loaded.handle, nonce, { sha256: [0, 1, 2, 3, 4, 5, 6, 7] });
 * await tpm.close();
 */
export class TpmClient {
  readonly #transport: TpmTransport;
  readonly #queue = new SerialQueue();
  readonly #timeoutMs: number;
  readonly #endorsementAuth: Uint8Array;
  readonly #ownerAuth: Uint8Array;
  readonly #lockoutAuth: Uint8Array;
  #nvBufferMax: number | undefined;
  #closed = false;

  private constructor(transport: TpmTransport, options: TpmClientOptions) {
    this.#transport = transport;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#endorsementAuth = options.endorsementAuth ?? EMPTY;
    this.#ownerAuth = options.ownerAuth ?? EMPTY;
    this.#lockoutAuth = options.lockoutAuth ?? EMPTY;
  }

  /**
   * Connect to a TPM. Sends nothing: call {@link TpmClient.startup} first on a
   * fresh simulator (a kernel-managed TPM is already started).
   *
   * @throws TpmError `transport-error` when the TPM cannot be reached.
   */
  static async connect(target: TransportSpec | TpmTransport, options: TpmClientOptions = {}): Promise<TpmClient> {
    const transport = "transmit" in target ? target : await openTransport(target, options.connectTimeoutMs);
    return new TpmClient(transport, options);
  }

  /** Where the client is connected, e.g. "tcp 127.0.0.1:2321". */
  get description(): string {
    return this.#transport.description;
  }

  /** Run one operation on the queue, so operations never interleave. */
  #op<T>(name: string, task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new TpmError("transport-closed", name, "the client is closed"));
    return this.#queue.run(task);
  }

  /** One command exchange, unqueued: only call from inside {@link TpmClient.#op}. */
  async #execute<T>(command: TpmCommand<T>, sessions: readonly AuthCommand[] = []): Promise<T> {
    if (sessions.length !== command.authHandles) {
      throw new TpmError("bad-argument", command.name, "wrong number of authorisation sessions");
    }
    const bytes = encodeCommand({
      code: command.code,
      handles: command.handles,
      sessions,
      parameters: command.parameters,
    });
    const shape = { command: command.name, handleCount: command.responseHandles, sessionCount: sessions.length };
    for (let attempt = 1; ; attempt++) {
      const response = await this.#transport.transmit(bytes, { timeoutMs: this.#timeoutMs, command: command.name });
      let decoded: DecodedResponse;
      try {
        decoded = decodeResponse(response, shape);
      } catch (error) {
        // These warnings mean the command was not executed and should be sent again
        // (Part 2 §6.6: TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING).
        if (error instanceof TpmError && RETRY_CODES.has(error.code) && attempt < MAX_ATTEMPTS) {
          await sleep(RETRY_DELAY_MS * attempt);
          continue;
        }
        throw error;
      }
      return decodeParameters(command.name, decoded.parameters, (r) => command.parse(decoded.handles, r));
    }
  }

  /** Build a command, turning the builders' RangeErrors into `bad-argument`. */
  #build<T>(name: string, build: () => TpmCommand<T>): TpmCommand<T> {
    try {
      return build();
    } catch (error) {
      if (error instanceof RangeError) throw badArgument(name, error);
      throw error;
    }
  }

  /**
   * Run `use` with a fresh policy session that satisfies the EK's authPolicy,
   * PolicySecret(TPM_RH_ENDORSEMENT) (TCG EK Credential Profile, Annex B.3). The
   * session is sent without continueSession, so the TPM flushes it once the
   * command using it succeeds; on failure it is flushed here.
   */
  async #withEkPolicy<T>(use: (session: AuthCommand) => Promise<T>): Promise<T> {
    const { handle } = await this.#execute(startAuthSessionCommand(TPM_SE.POLICY, randomBytes(32)));
    let consumed = false;
    try {
      await this.#execute(policySecretCommand(TPM_RH.ENDORSEMENT, handle), [password(this.#endorsementAuth)]);
      const result = await use({ sessionHandle: handle, nonce: randomBytes(32), attributes: 0, hmac: EMPTY });
      consumed = true;
      return result;
    } finally {
      if (!consumed) await this.#execute(flushContextCommand(handle)).catch(() => undefined);
    }
  }

  async #parentSession<T>(auth: ParentAuth, use: (session: AuthCommand) => Promise<T>): Promise<T> {
    return auth === "ek-policy" ? this.#withEkPolicy(use) : use(password(auth.password));
  }

  /**
   * TPM2_Startup. A TPM that is already started (a kernel-managed TPM, or a
   * simulator started by someone else) answers TPM_RC_INITIALIZE, reported
   * here as "already-started".
   */
  startup(type: "clear" | "state" = "clear"): Promise<"started" | "already-started"> {
    return this.#op("TPM2_Startup", async () => {
      try {
        await this.#execute(startupCommand(type === "clear" ? TPM_SU.CLEAR : TPM_SU.STATE));
        return "started";
      } catch (error) {
        if (error instanceof TpmError && error.code === "TPM_RC_INITIALIZE") return "already-started";
        throw error;
      }
    });
  }

  /** TPM2_Shutdown: tell the TPM to save state before power goes away. */
  shutdown(type: "clear" | "state" = "clear"): Promise<void> {
    return this.#op("TPM2_Shutdown", () =>
      this.#execute(shutdownCommand(type === "clear" ? TPM_SU.CLEAR : TPM_SU.STATE)),
    );
  }

  /** `count` random bytes from the TPM's RNG (TPM2_GetRandom, repeated as needed). */
  getRandom(count: number): Promise<Uint8Array> {
    return this.#op("TPM2_GetRandom", async () => {
      if (!Number.isSafeInteger(count) || count < 0 || count > 1 << 20) {
        throw new TpmError("bad-argument", "TPM2_GetRandom", "count must be an integer in 0..1048576");
      }
      const out = new Uint8Array(count);
      let filled = 0;
      while (filled < count) {
        const chunk = await this.#execute(getRandomCommand(Math.min(RANDOM_CHUNK, count - filled)));
        if (chunk.length === 0) throw new TpmError("bad-response", "TPM2_GetRandom", "the TPM returned no bytes");
        out.set(chunk, filled);
        filled += chunk.length;
      }
      return out;
    });
  }

  /**
   * Read PCRs. TPM2_PCR_Read returns at most 8 values per call (TPML_DIGEST),
   * so this repeats the call with what is still missing until the whole
   * selection, across banks, is read. If the PCR update counter moves between
   * calls the values would mix two states, so the read starts over.
   *
   * @throws TpmError `unsupported` when the TPM will not return some selected
   *   PCR (e.g. an unallocated bank), `pcr-changed` when PCRs keep changing.
   */
  pcrRead(selection: PcrSelection): Promise<PcrValues> {
    return this.#op("TPM2_PCR_Read", async () => {
      let wanted: NormalizedSelection;
      try {
        wanted = normalizeSelection(selection);
      } catch (error) {
        throw badArgument("TPM2_PCR_Read", error);
      }
      for (let attempt = 0; attempt < PCR_READ_ATTEMPTS; attempt++) {
        const values = await this.#pcrReadOnce(wanted);
        if (values !== undefined) return values;
      }
      throw new TpmError("pcr-changed", "TPM2_PCR_Read", "PCRs changed during every attempt to read them");
    });
  }

  /** One consistent multi-call read, or undefined when the update counter moved. */
  async #pcrReadOnce(wanted: NormalizedSelection): Promise<PcrValues | undefined> {
    const remaining = new Map<HashAlg, Set<number>>();
    for (const [bank, pcrs] of wanted) remaining.set(bank, new Set(pcrs));
    const values: PcrValues = new Map();
    for (const bank of wanted.keys()) values.set(bank, new Map());
    let counter: number | undefined;
    while (remaining.size > 0) {
      const request = new Map<HashAlg, number[]>();
      for (const [bank, pcrs] of remaining)
        request.set(
          bank,
          [...pcrs].sort((a, b) => a - b),
        );
      const result = await this.#execute(pcrReadCommand(request));
      if (counter !== undefined && result.updateCounter !== counter) return undefined;
      counter = result.updateCounter;
      let index = 0;
      for (const { bank, pcrs } of result.selection) {
        const pending = remaining.get(bank);
        for (const pcr of pcrs) {
          // Only PCRs we asked for and have not had yet may come back.
          if (pending === undefined || !pending.has(pcr)) {
            throw new TpmError("bad-response", "TPM2_PCR_Read", "the TPM returned a PCR that was not requested");
          }
          values.get(bank)!.set(pcr, result.values[index++]!);
          pending.delete(pcr);
        }
        if (pending !== undefined && pending.size === 0) remaining.delete(bank);
      }
      if (index === 0) {
        throw new TpmError("unsupported", "TPM2_PCR_Read", "the TPM does not return some selected PCRs");
      }
    }
    return values;
  }

  /**
   * TPM2_PCR_Extend of one PCR in several banks at once: PCR_new =
   * H(PCR_old || digest) in each bank given (Part 1 §17). The PCR's auth
   * value is the empty password.
   */
  pcrExtend(pcr: number, digests: Readonly<Partial<Record<HashAlg, Uint8Array>>>): Promise<void> {
    return this.#op("TPM2_PCR_Extend", async () => {
      if (!Number.isInteger(pcr) || pcr < 0 || pcr > 255) {
        throw new TpmError("bad-argument", "TPM2_PCR_Extend", "PCR index out of range 0..255");
      }
      const map = new Map<HashAlg, Uint8Array>();
      for (const bank of ["sha1", "sha256", "sha384", "sha512"] as const) {
        const d = digests[bank];
        if (d === undefined) continue;
        if (d.length !== digestSize(bank)) {
          throw new TpmError("bad-argument", "TPM2_PCR_Extend", `a ${bank} digest is ${digestSize(bank)} bytes`);
        }
        map.set(bank, d);
      }
      if (map.size === 0) throw new TpmError("bad-argument", "TPM2_PCR_Extend", "no digest given");
      await this.#execute(pcrExtendCommand(pcr, map), [password(EMPTY)]);
    });
  }

  /**
   * Create the TCG default EK (template L-1 RSA 2048 or L-2 ECC P-256) with
   * TPM2_CreatePrimary in the endorsement hierarchy. The TPM derives it from
   * its endorsement seed, so it is the key an EK certificate certifies.
   * The handle is transient: flush it when done.
   */
  createEk(kind: EkKind): Promise<LoadedObject> {
    return this.#op("TPM2_CreatePrimary", () =>
      this.#execute(createPrimaryCommand(TPM_RH.ENDORSEMENT, ekTemplate(kind)), [password(this.#endorsementAuth)]),
    );
  }

  /**
   * Create a restricted signing attestation key under `parentHandle` (by
   * default an EK, authorised by the EK policy). Returns its private and
   * public blobs; {@link TpmClient.load} it to use it.
   */
  createAk(
    parentHandle: number,
    kind: AkKind,
    scheme?: AkScheme,
    options: { readonly parentAuth?: ParentAuth } = {},
  ): Promise<CreatedKey> {
    return this.#op("TPM2_Create", async () => {
      const command = this.#build("TPM2_Create", () => createCommand(parentHandle, akTemplate(kind, scheme)));
      return this.#parentSession(options.parentAuth ?? "ek-policy", (s) => this.#execute(command, [s]));
    });
  }

  /** TPM2_Load a key created under `parentHandle` (by default an EK, authorised by the EK policy). */
  load(
    parentHandle: number,
    key: { readonly privateBlob: Uint8Array; readonly publicArea: Uint8Array },
    options: { readonly parentAuth?: ParentAuth } = {},
  ): Promise<LoadedObject> {
    return this.#op("TPM2_Load", async () => {
      const command = this.#build("TPM2_Load", () => loadCommand(parentHandle, key.privateBlob, key.publicArea));
      return this.#parentSession(options.parentAuth ?? "ek-policy", (s) => this.#execute(command, [s]));
    });
  }

  /**
   * TPM2_Quote: the AK signs the selected PCRs' digest and `qualifyingData`
   * (the verifier's nonce) with its own scheme. Returns raw TPMS_ATTEST and
   * TPMT_SIGNATURE bytes for the verifier.
   */
  quote(
    akHandle: number,
    qualifyingData: Uint8Array,
    selection: PcrSelection,
    options: { readonly akAuth?: Uint8Array } = {},
  ): Promise<QuoteResult> {
    return this.#op("TPM2_Quote", async () => {
      let normalized: NormalizedSelection;
      try {
        normalized = normalizeSelection(selection);
      } catch (error) {
        throw badArgument("TPM2_Quote", error);
      }
      const command = this.#build("TPM2_Quote", () => quoteCommand(akHandle, qualifyingData, normalized));
      return this.#execute(command, [password(options.akAuth ?? EMPTY)]);
    });
  }

  /** TPM2_ReadPublic: an object's public area and Name (checked to match). */
  readPublic(handle: number): Promise<LoadedObject & { readonly qualifiedName: Uint8Array }> {
    return this.#op("TPM2_ReadPublic", () => this.#execute(readPublicCommand(handle)));
  }

  /** TPM2_NV_ReadPublic: an NV index's public area and Name (checked to match). */
  nvReadPublic(nvIndex: number): Promise<NvPublic> {
    return this.#op("TPM2_NV_ReadPublic", () => this.#execute(nvReadPublicCommand(nvIndex)));
  }

  /**
   * Read a whole NV index (or `size` bytes at `offset`) in chunks of the
   * TPM's TPM_PT_NV_BUFFER_MAX. Authorised by the index itself (TPMA_NV_AUTHREAD)
   * or else the owner (TPMA_NV_OWNERREAD), with an empty password unless given.
   */
  nvRead(
    nvIndex: number,
    options: { readonly offset?: number; readonly size?: number; readonly auth?: Uint8Array } = {},
  ): Promise<Uint8Array> {
    return this.#op("TPM2_NV_Read", () => this.#nvRead(nvIndex, options));
  }

  async #nvRead(
    nvIndex: number,
    options: { readonly offset?: number; readonly size?: number; readonly auth?: Uint8Array },
  ): Promise<Uint8Array> {
    const pub = await this.#execute(nvReadPublicCommand(nvIndex));
    const offset = options.offset ?? 0;
    const size = options.size ?? pub.dataSize - offset;
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(size) ||
      offset < 0 ||
      size < 0 ||
      offset + size > pub.dataSize
    ) {
      throw new TpmError("bad-argument", "TPM2_NV_Read", "offset and size must lie within the index");
    }
    let authHandle: number;
    let auth: Uint8Array;
    if ((pub.attributes & TPMA_NV.AUTHREAD) !== 0) {
      authHandle = nvIndex;
      auth = options.auth ?? EMPTY;
    } else if ((pub.attributes & TPMA_NV.OWNERREAD) !== 0) {
      authHandle = TPM_RH.OWNER;
      auth = options.auth ?? this.#ownerAuth;
    } else {
      throw new TpmError("unsupported", "TPM2_NV_Read", "the index is readable neither with its auth nor the owner's");
    }
    const chunk = await this.#nvChunkSize();
    const out = new Uint8Array(size);
    for (let done = 0; done < size; ) {
      const n = Math.min(chunk, size - done);
      out.set(await this.#execute(nvReadCommand(authHandle, nvIndex, n, offset + done), [password(auth)]), done);
      done += n;
    }
    return out;
  }

  async #nvChunkSize(): Promise<number> {
    if (this.#nvBufferMax === undefined) {
      const reported = await this.#execute(getPropertyCommand(TPM_PT.NV_BUFFER_MAX));
      this.#nvBufferMax = reported !== undefined && reported > 0 && reported <= 0xffff ? reported : FALLBACK_NV_BUFFER;
    }
    return this.#nvBufferMax;
  }

  /**
   * The DER EK certificate from its TCG NV index (RSA 2048: 0x01c00002, ECC
   * P-256: 0x01c0000a, ECC P-384: 0x01c00016), without the padding vendors
   * store after it.
   *
   * @throws TpmError `TPM_RC_HANDLE` when the TPM has no such certificate,
   *   `bad-response` when the index does not hold a DER certificate.
   */
  readEkCertificate(kind: EkCertificateKind): Promise<Uint8Array> {
    return this.#op("TPM2_NV_Read", async () => {
      const raw = await this.#nvRead(EK_CERT_INDEX[kind], {});
      try {
        return trimDerPadding(raw, "ekCertificate");
      } catch (error) {
        if (error instanceof MalformedError) {
          throw new TpmError("bad-response", "TPM2_NV_Read", "the EK certificate index holds no DER certificate", {
            cause: error,
          });
        }
        throw error;
      }
    });
  }

  /**
   * TPM2_ActivateCredential: the EK (`ekHandle`, authorised by the EK policy)
   * decrypts the seed in `encryptedSecret`, checks that `credentialBlob` was
   * made for the Name of `akHandle` (authorised by password, admin role), and
   * returns the credential. `credentialBlob` is the TPM2B_ID_OBJECT contents
   * and `encryptedSecret` the TPM2B_ENCRYPTED_SECRET contents, both without
   * their size prefix.
   */
  activateCredential(
    akHandle: number,
    ekHandle: number,
    credentialBlob: Uint8Array,
    encryptedSecret: Uint8Array,
    options: { readonly akAuth?: Uint8Array } = {},
  ): Promise<Uint8Array> {
    return this.#op("TPM2_ActivateCredential", async () => {
      const command = this.#build("TPM2_ActivateCredential", () =>
        activateCredentialCommand(akHandle, ekHandle, credentialBlob, encryptedSecret),
      );
      return this.#withEkPolicy((ekSession) => this.#execute(command, [password(options.akAuth ?? EMPTY), ekSession]));
    });
  }

  /**
   * TPM2_EvictControl under owner authorisation. With a transient
   * `objectHandle`, persists a copy at `persistentHandle` (0x81000000–0x817fffff);
   * with `objectHandle === persistentHandle`, removes that persistent object.
   */
  evictControl(objectHandle: number, persistentHandle: number): Promise<void> {
    return this.#op("TPM2_EvictControl", async () => {
      if (persistentHandle >>> 24 !== HANDLE_RANGE.persistent >>> 24) {
        throw new TpmError("bad-argument", "TPM2_EvictControl", "persistentHandle is not a persistent handle");
      }
      await this.#execute(evictControlCommand(TPM_RH.OWNER, objectHandle, persistentHandle), [
        password(this.#ownerAuth),
      ]);
    });
  }

  /** TPM2_DictionaryAttackLockReset: clear the dictionary-attack failure count (lockout authorisation). */
  dictionaryAttackLockReset(): Promise<void> {
    return this.#op("TPM2_DictionaryAttackLockReset", () =>
      this.#execute(dictionaryAttackLockResetCommand(), [password(this.#lockoutAuth)]),
    );
  }

  /**
   * TPM2_DictionaryAttackParameters (lockout authorisation). `recoveryTime: 0`
   * disables dictionary-attack protection altogether, which only a development
   * TPM should do.
   */
  dictionaryAttackParameters(params: {
    readonly maxTries: number;
    readonly recoveryTime: number;
    readonly lockoutRecovery: number;
  }): Promise<void> {
    return this.#op("TPM2_DictionaryAttackParameters", async () => {
      const { maxTries, recoveryTime, lockoutRecovery } = params;
      for (const v of [maxTries, recoveryTime, lockoutRecovery]) {
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
          throw new TpmError("bad-argument", "TPM2_DictionaryAttackParameters", "values are 32-bit unsigned integers");
        }
      }
      await this.#execute(dictionaryAttackParametersCommand(maxTries, recoveryTime, lockoutRecovery), [
        password(this.#lockoutAuth),
      ]);
    });
  }

  /** TPM2_FlushContext: unload a transient object or session. */
  flushContext(handle: number): Promise<void> {
    return this.#op("TPM2_FlushContext", () => this.#execute(flushContextCommand(handle)));
  }

  /**
   * The loaded handles of one type (TPM2_GetCapability(TPM_CAP_HANDLES)),
   * e.g. `listHandles("persistent")`.
   */
  listHandles(type: "persistent" | "transient" | "nv-index" | "policy-session" | "hmac-session"): Promise<number[]> {
    const first = {
      persistent: HANDLE_RANGE.persistent,
      transient: HANDLE_RANGE.transient,
      "nv-index": HANDLE_RANGE.nvIndex,
      "policy-session": HANDLE_RANGE.policySession,
      "hmac-session": HANDLE_RANGE.hmacSession,
    }[type];
    return this.#op("TPM2_GetCapability", async () => {
      const out: number[] = [];
      let next = first;
      for (;;) {
        const { handles, moreData } = await this.#execute(getHandlesCommand(next, 64));
        for (const h of handles) {
          // Only handles of the asked type, strictly increasing (else a buggy TPM could loop us forever).
          if (h >>> 24 !== first >>> 24) return out;
          if (h < next) throw new TpmError("bad-response", "TPM2_GetCapability", "handles are not increasing");
          out.push(h);
          next = h + 1;
        }
        if (!moreData || handles.length === 0) return out;
      }
    });
  }

  /** A fixed or variable TPM property (TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES)), undefined if not reported. */
  getProperty(property: number): Promise<number | undefined> {
    return this.#op("TPM2_GetCapability", () => this.#execute(getPropertyCommand(property)));
  }

  /** Close the transport. Queued and later operations fail with `transport-closed`. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#transport.close();
  }
}
