/**
 * Object commands: TPM2_CreatePrimary, TPM2_Create, TPM2_Load,
 * TPM2_ReadPublic, TPM2_EvictControl, TPM2_Quote, TPM2_ActivateCredential
 * (Part 3 §24.1, §12.1, §12.2, §12.4, §28.5, §18.4, §12.5).
 */
import { ByteWriter, bytesEqual, MalformedError, TPM_ALG, TPM_GENERATED_VALUE, TPM_ST } from "@veritee/core";
import { TPM_CC } from "../constants.js";
import {
  computeName,
  type NormalizedSelection,
  readPublicHeader,
  readSignature,
  readTpm2bPublic,
  skipCreationOutputs,
  writeEmptySensitiveCreate,
  writePcrSelection,
} from "../wire/structures.js";
import type { TpmCommand } from "./types.js";

/** A loaded object: its handle, public area and Name. */
export interface LoadedObject {
  readonly handle: number;
  /** TPM2B_PUBLIC bytes (size-prefixed TPMT_PUBLIC), the form `tpm2_readpublic -o` writes. */
  readonly publicArea: Uint8Array;
  /** TPM2B_NAME contents: nameAlg || H(TPMT_PUBLIC). */
  readonly name: Uint8Array;
}

/** A created (not yet loaded) key. */
export interface CreatedKey {
  /** TPM2B_PRIVATE bytes (size-prefixed), the form `tpm2_create -r` writes. */
  readonly privateBlob: Uint8Array;
  /** TPM2B_PUBLIC bytes (size-prefixed), the form `tpm2_create -u` writes. */
  readonly publicArea: Uint8Array;
  /** The key's Name, computed from its public area. */
  readonly name: Uint8Array;
}

/** A quote, as raw evidence bytes for the verifier. */
export interface QuoteResult {
  /** TPMS_ATTEST bytes (the contents of TPM2B_ATTEST), what `tpm2_quote -m` writes. */
  readonly attest: Uint8Array;
  /** TPMT_SIGNATURE bytes, what `tpm2_quote -s` writes. */
  readonly signature: Uint8Array;
}

/** Name = nameAlg || H(TPMT_PUBLIC); a TPM answer whose Name does not match its public area is refused. */
function checkName(command: string, tpmt: Uint8Array, name: Uint8Array): void {
  const { nameAlg } = readPublicHeader(tpmt, command);
  if (!bytesEqual(name, computeName(nameAlg, tpmt))) {
    throw new MalformedError("bad-value", `${command}.name`, "does not match the public area");
  }
}

/** Check that `bytes` is exactly one TPM2B (size prefix matching the length) before sending it. */
function checkTpm2b(bytes: Uint8Array, what: string): void {
  if (bytes.length < 2 || ((bytes[0]! << 8) | bytes[1]!) !== bytes.length - 2) {
    throw new RangeError(`${what} is not a TPM2B (size prefix does not match its length)`);
  }
}

/** TPM2_CreatePrimary (Part 3 §24.1) with an empty sensitive area, no outsideInfo and no creation PCRs. */
export function createPrimaryCommand(primaryHandle: number, template: Uint8Array): TpmCommand<LoadedObject> {
  const w = new ByteWriter();
  writeEmptySensitiveCreate(w);
  w.tpm2b(template);
  w.u16(0); // outsideInfo
  w.u32(0); // creationPCR: empty TPML_PCR_SELECTION
  return {
    name: "TPM2_CreatePrimary",
    code: TPM_CC.CreatePrimary,
    handles: [primaryHandle],
    authHandles: 1,
    parameters: w.finish(),
    responseHandles: 1,
    parse: (handles, r) => {
      const pub = readTpm2bPublic(r, "outPublic");
      skipCreationOutputs(r);
      const name = r.tpm2b("name", 66);
      checkName("TPM2_CreatePrimary", pub.tpmt, name);
      return { handle: handles[0]!, publicArea: pub.tpm2b, name };
    },
  };
}

/** TPM2_Create (Part 3 §12.1) of an ordinary key under `parentHandle`. */
export function createCommand(parentHandle: number, template: Uint8Array): TpmCommand<CreatedKey> {
  const w = new ByteWriter();
  writeEmptySensitiveCreate(w);
  w.tpm2b(template);
  w.u16(0); // outsideInfo
  w.u32(0); // creationPCR
  return {
    name: "TPM2_Create",
    code: TPM_CC.Create,
    handles: [parentHandle],
    authHandles: 1,
    parameters: w.finish(),
    responseHandles: 0,
    parse: (_h, r) => {
      const priv = r.tpm2b("outPrivate");
      if (priv.length === 0) throw new MalformedError("bad-length", "TPM2_Create.outPrivate", "empty");
      const pub = readTpm2bPublic(r, "outPublic");
      skipCreationOutputs(r);
      const privateBlob = new ByteWriter().tpm2b(priv).finish();
      const { nameAlg } = readPublicHeader(pub.tpmt, "TPM2_Create.outPublic");
      return { privateBlob, publicArea: pub.tpm2b, name: computeName(nameAlg, pub.tpmt) };
    },
  };
}

/**
 * TPM2_Load (Part 3 §12.2). `privateBlob` and `publicArea` are TPM2B bytes;
 * the returned Name must be the one computed from `publicArea`.
 *
 * @throws RangeError when either blob is not a well-formed TPM2B.
 */
export function loadCommand(
  parentHandle: number,
  privateBlob: Uint8Array,
  publicArea: Uint8Array,
): TpmCommand<LoadedObject> {
  checkTpm2b(privateBlob, "privateBlob");
  checkTpm2b(publicArea, "publicArea");
  const tpmt = publicArea.slice(2);
  return {
    name: "TPM2_Load",
    code: TPM_CC.Load,
    handles: [parentHandle],
    authHandles: 1,
    parameters: new ByteWriter().bytes(privateBlob).bytes(publicArea).finish(),
    responseHandles: 1,
    parse: (handles, r) => {
      const name = r.tpm2b("name", 66);
      checkName("TPM2_Load", tpmt, name);
      return { handle: handles[0]!, publicArea: publicArea.slice(), name };
    },
  };
}

/** TPM2_ReadPublic (Part 3 §12.4). */
export function readPublicCommand(
  objectHandle: number,
): TpmCommand<LoadedObject & { readonly qualifiedName: Uint8Array }> {
  return {
    name: "TPM2_ReadPublic",
    code: TPM_CC.ReadPublic,
    handles: [objectHandle],
    authHandles: 0,
    parameters: new Uint8Array(0),
    responseHandles: 0,
    parse: (_h, r) => {
      const pub = readTpm2bPublic(r, "outPublic");
      const name = r.tpm2b("name", 66);
      const qualifiedName = r.tpm2b("qualifiedName", 66);
      checkName("TPM2_ReadPublic", pub.tpmt, name);
      return { handle: objectHandle, publicArea: pub.tpm2b, name, qualifiedName };
    },
  };
}

/**
 * TPM2_EvictControl (Part 3 §28.5): with a transient `objectHandle`, makes a
 * persistent copy at `persistentHandle`; with `objectHandle` equal to a
 * persistent handle, removes it.
 */
export function evictControlCommand(auth: number, objectHandle: number, persistentHandle: number): TpmCommand<void> {
  return {
    name: "TPM2_EvictControl",
    code: TPM_CC.EvictControl,
    handles: [auth, objectHandle],
    authHandles: 1,
    parameters: new ByteWriter().u32(persistentHandle).finish(),
    responseHandles: 0,
    parse: () => undefined,
  };
}

/**
 * TPM2_Quote (Part 3 §18.4) with inScheme TPM_ALG_NULL, so the key's own
 * scheme is used. The answer is framed, not verified: the attest must start
 * with TPM_GENERATED_VALUE and be a quote (a cheap check against protocol
 * confusion); everything else is the verifier's job.
 */
export function quoteCommand(
  signHandle: number,
  qualifyingData: Uint8Array,
  selection: NormalizedSelection,
): TpmCommand<QuoteResult> {
  const w = new ByteWriter();
  w.tpm2b(qualifyingData);
  w.u16(TPM_ALG.NULL);
  writePcrSelection(w, selection);
  return {
    name: "TPM2_Quote",
    code: TPM_CC.Quote,
    handles: [signHandle],
    authHandles: 1,
    parameters: w.finish(),
    responseHandles: 0,
    parse: (_h, r) => {
      const attest = r.tpm2b("quoted");
      const view = new DataView(attest.buffer, attest.byteOffset, attest.byteLength);
      if (attest.length < 6 || view.getUint32(0, false) !== TPM_GENERATED_VALUE) {
        throw new MalformedError("bad-magic", "TPM2_Quote.quoted.magic");
      }
      if (view.getUint16(4, false) !== TPM_ST.ATTEST_QUOTE)
        throw new MalformedError("bad-value", "TPM2_Quote.quoted.type");
      const signature = readSignature(r, "signature");
      return { attest, signature };
    },
  };
}

/**
 * TPM2_ActivateCredential (Part 3 §12.5): `credentialBlob` is the contents of
 * the TPM2B_ID_OBJECT and `encryptedSecret` the contents of the
 * TPM2B_ENCRYPTED_SECRET that MakeCredential produced. Returns certInfo.
 */
export function activateCredentialCommand(
  activateHandle: number,
  keyHandle: number,
  credentialBlob: Uint8Array,
  encryptedSecret: Uint8Array,
): TpmCommand<Uint8Array> {
  return {
    name: "TPM2_ActivateCredential",
    code: TPM_CC.ActivateCredential,
    handles: [activateHandle, keyHandle],
    authHandles: 2,
    parameters: new ByteWriter().tpm2b(credentialBlob).tpm2b(encryptedSecret).finish(),
    responseHandles: 0,
    parse: (_h, r) => r.tpm2b("certInfo", 64),
  };
}
