/**
 * A forger of NVIDIA Hopper GPU attestation reports for tests: a P-384
 * device certificate chain under a test root, and SPDM 1.1
 * GET_MEASUREMENTS + MEASUREMENTS pairs (DSP0274 1.1 §10.11) signed by the
 * device key, with any one field changed. Test support only; the encoder is
 * written independently of the evidence package's decoder.
 */
import * as nodeCrypto from "node:crypto";
import {
  buildCertificate,
  type Ca,
  ecKey,
  ext,
  type KeyPair,
  keyId,
  makeIntermediate,
  makeRoot,
  name,
} from "./x509.js";

/** A test GPU device chain: root → intermediate → device certificate (all ECDSA P-384, SHA-384). */
export interface GpuDeviceChain {
  readonly root: Ca;
  readonly intermediate: Ca;
  /** The device attestation key (signs reports). */
  readonly deviceKey: KeyPair;
  /** The device certificate (DER). */
  readonly device: Uint8Array;
  /** The chain as NVIDIA ships it: device certificate first, root last (DER). */
  readonly chain: readonly Uint8Array[];
}

/**
 * Make a fresh test device chain shaped like NVIDIA's (leaf without
 * basicConstraints, digitalSignature only). The device certificate's CN is
 * `deviceName`, default "GH100 A01 GSP FMC LF" as on a real H100: its first
 * word names the chip.
 */
export function makeGpuDeviceChain(
  options: { notAfter?: Date; deviceKey?: KeyPair; deviceName?: string } = {},
): GpuDeviceChain {
  const root = makeRoot("Test GPU Device Identity CA", ecKey("P-384"), { sigAlg: "ecdsa-sha384" });
  const intermediate = makeIntermediate("Test GH100 Identity", root, ecKey("P-384"), { sigAlg: "ecdsa-sha384" });
  const deviceKey = options.deviceKey ?? ecKey("P-384");
  const device = buildCertificate({
    subject: name(options.deviceName ?? "GH100 A01 GSP FMC LF", "Veritee Test"),
    issuer: intermediate.name,
    publicKey: deviceKey.publicKey,
    signingKey: intermediate.key.privateKey,
    sigAlg: "ecdsa-sha384",
    serial: Uint8Array.of(0x53, 0xc2),
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
    extensions: [ext.keyUsage([0]), ext.ski(keyId(deviceKey.publicKey)), ext.aki(keyId(intermediate.key.publicKey))],
  });
  return { root, intermediate, deviceKey, device, chain: [device, intermediate.cert, root.cert] };
}

/** One measurement block to encode. */
export interface ForgedBlock {
  index: number;
  /** MeasurementSpecification; default 0x01 (DMTF). */
  spec?: number;
  /** DMTFSpecMeasurementValueType; default 0x01. */
  valueType?: number;
  value: Uint8Array;
  /** Override MeasurementSize (default: 3 + value length). */
  measurementSize?: number;
}

/** Every field of a forged report; `forgeGpuReport` fills defaults. */
export interface GpuReportFields {
  version: number;
  requestCode: number;
  /** GET_MEASUREMENTS Param1 (attributes); default 0x01 (signature requested). */
  attributes: number;
  /** GET_MEASUREMENTS Param2; default 0xFF (every block). */
  measurementOperation: number;
  nonce: Uint8Array;
  slotId: number;
  responseVersion: number;
  responseCode: number;
  param1: number;
  responseSlotId: number;
  blocks: ForgedBlock[];
  /** Override NumberOfBlocks (default: blocks.length). */
  numberOfBlocks?: number;
  responderNonce: Uint8Array;
  /** Opaque TLVs, each `{ type, value }`. */
  opaque: { type: number; value: Uint8Array }[];
  /** Replace the computed signature (96 bytes r‖s), to forge a bad one. */
  signature?: Uint8Array;
  /** Sign with this key instead of the device key. */
  signingKey?: nodeCrypto.KeyObject;
}

/** A NUL-terminated, NUL-padded text field as the GPU writes it. */
export function opaqueText(text: string, size = text.length + 1): Uint8Array {
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(text));
  return out;
}

/** The 8-byte VBIOS version field for "AA.BB.CC.DD.EE" (hex components). */
export function vbiosVersionField(version: string): Uint8Array {
  const parts = version.split(".").map((p) => Number.parseInt(p, 16));
  if (parts.length !== 5 || parts.some((p) => !(p >= 0 && p <= 255))) throw new RangeError("VBIOS version");
  return Uint8Array.of(parts[3]!, parts[2]!, parts[1]!, parts[0]!, parts[4]!, 0, 0, 0);
}

/** Default opaque data like a Hopper GPU's: driver 550.90.07, VBIOS 96.00.9F.00.01, project 1010, PPCIe off. */
export function defaultOpaque(): { type: number; value: Uint8Array }[] {
  return [
    { type: 6, value: vbiosVersionField("96.00.9F.00.01") },
    { type: 15, value: opaqueText("882", 9) },
    { type: 17, value: opaqueText("1010") },
    { type: 3, value: opaqueText("550.90.07") },
    { type: 11, value: Uint8Array.of(0x55) },
    { type: 21, value: Uint8Array.of(0x55) },
  ];
}

/** A deterministic 48-byte test measurement for `index`. */
export function testMeasurement(index: number): Uint8Array {
  return Uint8Array.from(nodeCrypto.createHash("sha384").update(`veritee-test-gpu-measurement-${index}`).digest());
}

function u16le(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}

/** The default report fields: 12 blocks (indices 1..12) of {@link testMeasurement}, a random nonce. */
export function defaultGpuReportFields(): GpuReportFields {
  return {
    version: 0x11,
    requestCode: 0xe0,
    attributes: 0x01,
    measurementOperation: 0xff,
    nonce: Uint8Array.from(nodeCrypto.randomBytes(32)),
    slotId: 0,
    responseVersion: 0x11,
    responseCode: 0x60,
    param1: 0,
    responseSlotId: 0,
    blocks: Array.from({ length: 12 }, (_, i) => ({ index: i + 1, value: testMeasurement(i + 1) })),
    responderNonce: Uint8Array.from(nodeCrypto.randomBytes(32)),
    opaque: defaultOpaque(),
  };
}

/** Encode the request and the unsigned part of the response. */
function encodeUnsigned(f: GpuReportFields): Uint8Array {
  const out: number[] = [f.version, f.requestCode, f.attributes, f.measurementOperation, ...f.nonce, f.slotId];
  const record: number[] = [];
  for (const b of f.blocks) {
    const measurement = [b.valueType ?? 0x01, ...u16le(b.value.length), ...b.value];
    record.push(b.index, b.spec ?? 0x01, ...u16le(b.measurementSize ?? measurement.length), ...measurement);
  }
  const opaque: number[] = [];
  for (const t of f.opaque) opaque.push(...u16le(t.type), ...u16le(t.value.length), ...t.value);
  out.push(f.responseVersion, f.responseCode, f.param1, f.responseSlotId, f.numberOfBlocks ?? f.blocks.length);
  out.push(record.length & 0xff, (record.length >> 8) & 0xff, (record.length >> 16) & 0xff, ...record);
  out.push(...f.responderNonce, ...u16le(opaque.length), ...opaque);
  return Uint8Array.from(out);
}

/**
 * A report (request ‖ response) signed by `device`'s key with `overrides`
 * applied to {@link defaultGpuReportFields}: change one field and every other
 * stays valid, so a verifier or policy check can be shown to reject exactly it.
 */
export function forgeGpuReport(device: GpuDeviceChain, overrides: Partial<GpuReportFields> = {}): Uint8Array {
  const fields: GpuReportFields = { ...defaultGpuReportFields(), ...overrides };
  const unsigned = encodeUnsigned(fields);
  const signature =
    fields.signature ??
    Uint8Array.from(
      nodeCrypto.sign("sha384", unsigned, {
        key: fields.signingKey ?? device.deviceKey.privateKey,
        dsaEncoding: "ieee-p1363",
      }),
    );
  const out = new Uint8Array(unsigned.length + signature.length);
  out.set(unsigned);
  out.set(signature, unsigned.length);
  return out;
}
