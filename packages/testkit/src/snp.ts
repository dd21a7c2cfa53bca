/**
 * `@veritee/testkit/snp`: forges AMD SEV-SNP evidence under a test root, for
 * tests only. A test ARK and ASK (RSA, RSASSA-PSS SHA-384 as AMD signs), a
 * test VCEK or VLEK (P-384) with AMD's TCB, product and hwID extensions
 * (AMD publication 57230 Table 9), and ATTESTATION_REPORTs (AMD publication
 * 56860 Table 23) with any one field changed, correctly signed.
 */
import * as nodeCrypto from "node:crypto";
import {
  buildCertificate,
  type Ca,
  type Ext,
  ecKey,
  int,
  type KeyPair,
  makeIntermediate,
  makeRoot,
  name,
  rsaKey,
  tlv,
} from "./x509.js";

/** The product lines a test chain can be made for. */
export type SnpTestProduct = "Milan" | "Genoa" | "Turin";

/** TCB components by name; `fmc` is Turin's only. */
export interface SnpTcbParts {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  readonly fmc?: number;
}

/** The 64-bit TCB_VERSION of `parts` in the product's layout (56860 Table 3). */
export function snpTcbValue(parts: SnpTcbParts, product: SnpTestProduct = "Milan"): bigint {
  const b = (v: number, i: number) => BigInt(v & 0xff) << BigInt(8 * i);
  if (product === "Turin") {
    return b(parts.fmc ?? 0, 0) | b(parts.bootloader, 1) | b(parts.tee, 2) | b(parts.snp, 3) | b(parts.microcode, 7);
  }
  return b(parts.bootloader, 0) | b(parts.tee, 1) | b(parts.snp, 6) | b(parts.microcode, 7);
}

/** Every field of an ATTESTATION_REPORT, as raw values. */
export interface SnpReportFields {
  version: number;
  guestSvn: number;
  /** The 64-bit guest policy (bit 17 must be one). */
  policy: bigint;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  signatureAlgo: number;
  currentTcb: bigint;
  platformInfo: bigint;
  /** The u32 at 0x48: AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY (bits 4:2). */
  keyInfo: number;
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  reportedTcb: bigint;
  /** CPUID family, model, stepping (written for version 3+ only). */
  cpuid: { family: number; model: number; stepping: number };
  chipId: Uint8Array;
  committedTcb: bigint;
  currentVersion: { build: number; minor: number; major: number };
  committedVersion: { build: number; minor: number; major: number };
  launchTcb: bigint;
  /** Written for version 4+ only. */
  launchMitVector: bigint;
  currentMitVector: bigint;
}

/** Guest policy bits (56860 Table 9). */
export const SNP_POLICY = {
  smt: 1n << 16n,
  reservedOne: 1n << 17n,
  migrateMa: 1n << 18n,
  debug: 1n << 19n,
  singleSocket: 1n << 20n,
} as const;

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

/** The TCB a default test chip runs and its VCEK certifies. */
export const SNP_TEST_TCB: SnpTcbParts = Object.freeze({ bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: 1 });

/** Plausible defaults: a version 3 Milan report, VCEK-signed, debug off. */
export function defaultSnpReportFields(product: SnpTestProduct = "Milan"): SnpReportFields {
  const tcb = snpTcbValue(SNP_TEST_TCB, product);
  return {
    version: 3,
    guestSvn: 1,
    policy: SNP_POLICY.reservedOne | SNP_POLICY.smt,
    familyId: fill(16, 0x0f),
    imageId: fill(16, 0x1e),
    vmpl: 0,
    signatureAlgo: 1,
    currentTcb: tcb,
    platformInfo: 1n,
    keyInfo: 0,
    reportData: fill(64, 0x5d),
    measurement: fill(48, 0xa5),
    hostData: fill(32, 0x40),
    idKeyDigest: fill(48, 0x1d),
    authorKeyDigest: new Uint8Array(48),
    reportId: fill(32, 0x77),
    reportIdMa: fill(32, 0xff),
    reportedTcb: tcb,
    cpuid:
      product === "Turin"
        ? { family: 0x1a, model: 0x02, stepping: 0 }
        : product === "Genoa"
          ? { family: 0x19, model: 0x11, stepping: 1 }
          : { family: 0x19, model: 0x01, stepping: 1 },
    chipId: fill(64, 0xc1),
    committedTcb: tcb,
    currentVersion: { build: 3, minor: 55, major: 1 },
    committedVersion: { build: 3, minor: 55, major: 1 },
    launchTcb: tcb,
    launchMitVector: 0n,
    currentMitVector: 0n,
  };
}

/** Encode the report body (bytes 0x000–0x29F) followed by a zero signature. */
export function encodeSnpReport(f: SnpReportFields): Uint8Array {
  const out = new Uint8Array(0x4a0);
  const v = new DataView(out.buffer);
  const put = (offset: number, bytes: Uint8Array, size: number) => {
    if (bytes.length !== size) throw new RangeError(`field at 0x${offset.toString(16)} must be ${size} bytes`);
    out.set(bytes, offset);
  };
  v.setUint32(0x00, f.version, true);
  v.setUint32(0x04, f.guestSvn, true);
  v.setBigUint64(0x08, f.policy, true);
  put(0x10, f.familyId, 16);
  put(0x20, f.imageId, 16);
  v.setUint32(0x30, f.vmpl, true);
  v.setUint32(0x34, f.signatureAlgo, true);
  v.setBigUint64(0x38, f.currentTcb, true);
  v.setBigUint64(0x40, f.platformInfo, true);
  v.setUint32(0x48, f.keyInfo, true);
  put(0x50, f.reportData, 64);
  put(0x90, f.measurement, 48);
  put(0xc0, f.hostData, 32);
  put(0xe0, f.idKeyDigest, 48);
  put(0x110, f.authorKeyDigest, 48);
  put(0x140, f.reportId, 32);
  put(0x160, f.reportIdMa, 32);
  v.setBigUint64(0x180, f.reportedTcb, true);
  if (f.version >= 3) {
    out[0x188] = f.cpuid.family;
    out[0x189] = f.cpuid.model;
    out[0x18a] = f.cpuid.stepping;
  }
  put(0x1a0, f.chipId, 64);
  v.setBigUint64(0x1e0, f.committedTcb, true);
  out.set([f.currentVersion.build, f.currentVersion.minor, f.currentVersion.major], 0x1e8);
  out.set([f.committedVersion.build, f.committedVersion.minor, f.committedVersion.major], 0x1ec);
  v.setBigUint64(0x1f0, f.launchTcb, true);
  if (f.version >= 4) {
    v.setBigUint64(0x1f8, f.launchMitVector, true);
    v.setBigUint64(0x200, f.currentMitVector, true);
  }
  return out;
}

/**
 * Sign bytes 0x000–0x29F of `report` in place with `key` (ECDSA P-384
 * SHA-384) and write r and s little-endian, zero-extended to 72 bytes each
 * (56860 §10.2 Table 141). Returns `report`.
 */
export function signSnpReport(report: Uint8Array, key: nodeCrypto.KeyObject): Uint8Array {
  const sig = nodeCrypto.sign("sha384", report.subarray(0, 0x2a0), { key, dsaEncoding: "ieee-p1363" });
  report.fill(0, 0x2a0);
  report.set(Uint8Array.from(sig.subarray(0, 48)).reverse(), 0x2a0);
  report.set(Uint8Array.from(sig.subarray(48, 96)).reverse(), 0x2a0 + 72);
  return report;
}

/** AMD's extensions of a test VCEK/VLEK (57230 Table 9). */
export interface SnpEndorsementSpec {
  /** productName; default "<product>-B0"; null leaves it out. */
  productName?: string | null;
  /** The certified TCB; default {@link SNP_TEST_TCB}. Set a component to null to leave its extension out. */
  tcb?: { [K in keyof SnpTcbParts]?: number | null };
  /** hwID (VCEK); default the default report's CHIP_ID. */
  hwId?: Uint8Array;
  /** Make a VLEK: a cspID extension instead of hwID. */
  vlek?: boolean;
  /** The key pair to certify; default a fresh P-384 key. */
  key?: KeyPair;
  /** More extensions, e.g. a critical unknown one. */
  extra?: Ext[];
  /** The signature algorithm; default "rsa-pss-sha384". */
  sigAlg?: "rsa-pss-sha384" | "rsa-pss-sha256" | "rsa-sha256";
  notBefore?: Date;
  notAfter?: Date;
}

/** A test AMD PKI for one product: ARK, ASK (and ASVK), and one endorsed chip key. */
export interface SnpTestPki {
  readonly product: SnpTestProduct;
  readonly ark: Ca;
  readonly ask: Ca;
  readonly asvk: Ca;
  /** The chip's VCEK key pair (P-384). */
  readonly vcekKey: KeyPair;
  /** The VCEK certificate (DER) for {@link SNP_TEST_TCB} and the default CHIP_ID. */
  readonly vcek: Uint8Array;
  /** Trust anchors in the shape of the verifier's `roots` option. */
  readonly roots: Record<string, { ark: Uint8Array; ask: Uint8Array; asvk: Uint8Array }>;
}

const AMD_OID = "1.3.6.1.4.1.3704";
const ia5 = (s: string) => tlv(0x16, new TextEncoder().encode(s));

/** Issue a VCEK (or VLEK) certificate for `spec` under `pki`'s ASK (or ASVK). */
export function issueSnpEndorsement(
  pki: Pick<SnpTestPki, "ask" | "asvk" | "product">,
  spec: SnpEndorsementSpec = {},
): { cert: Uint8Array; key: KeyPair } {
  const key = spec.key ?? ecKey("P-384");
  const tcb = { ...SNP_TEST_TCB, ...spec.tcb };
  const exts: Ext[] = [{ oid: `${AMD_OID}.1.1`, value: int(0) }];
  const productName = spec.productName === undefined ? `${pki.product}-B0` : spec.productName;
  if (productName !== null) exts.push({ oid: `${AMD_OID}.1.2`, value: ia5(productName) });
  const spl: [string, number | null | undefined][] = [
    ["3.1", tcb.bootloader],
    ["3.2", tcb.tee],
    ["3.3", tcb.snp],
    ["3.8", tcb.microcode],
  ];
  if (pki.product === "Turin") spl.push(["3.9", tcb.fmc]);
  for (const [arc, value] of spl) {
    if (value !== null && value !== undefined) exts.push({ oid: `${AMD_OID}.1.${arc}`, value: int(value) });
  }
  if (spec.vlek) exts.push({ oid: `${AMD_OID}.1.5`, value: ia5("veritee-test-csp") });
  else exts.push({ oid: `${AMD_OID}.1.4`, value: spec.hwId ?? defaultSnpReportFields(pki.product).chipId });
  exts.push(...(spec.extra ?? []));
  const issuer = spec.vlek ? pki.asvk : pki.ask;
  const cert = buildCertificate({
    subject: name(spec.vlek ? "SEV-VLEK" : "SEV-VCEK", "Veritee Test"),
    issuer: issuer.name,
    publicKey: key.publicKey,
    signingKey: issuer.key.privateKey,
    sigAlg: spec.sigAlg ?? "rsa-pss-sha384",
    serial: Uint8Array.of(0),
    extensions: exts,
    ...(spec.notBefore ? { notBefore: spec.notBefore } : {}),
    ...(spec.notAfter ? { notAfter: spec.notAfter } : {}),
  });
  return { cert, key };
}

const pkis = new Map<SnpTestProduct, SnpTestPki>();

/**
 * A test PKI for `product`, made once per process: ARK and ASK/ASVK with
 * RSA-2048 keys (AMD uses 4096; 2048 keeps tests fast and the verifier does
 * not pin the size), RSASSA-PSS SHA-384 signatures, and a VCEK.
 */
export function snpTestPki(product: SnpTestProduct = "Milan"): SnpTestPki {
  const cached = pkis.get(product);
  if (cached) return cached;
  const pss = { sigAlg: "rsa-pss-sha384" } as const;
  const ark = makeRoot(`ARK-${product}`, rsaKey(2048), pss);
  const ask = makeIntermediate(`SEV-${product}`, ark, rsaKey(2048), pss);
  const asvk = makeIntermediate(`SEV-VLEK-${product}`, ark, rsaKey(2048), pss);
  const { cert, key } = issueSnpEndorsement({ ask, asvk, product });
  const pki: SnpTestPki = {
    product,
    ark,
    ask,
    asvk,
    vcekKey: key,
    vcek: cert,
    roots: { [product]: { ark: ark.cert, ask: ask.cert, asvk: asvk.cert } },
  };
  pkis.set(product, pki);
  return pki;
}

/** Options of {@link forgeSnpReport}. */
export interface ForgeSnpReportOptions {
  /** Change raw bytes after encoding and before signing (e.g. a reserved byte). */
  patch?: (body: Uint8Array) => void;
  /** Sign with this key instead of the PKI's VCEK key. */
  signingKey?: nodeCrypto.KeyObject;
}

/**
 * A correctly signed report from `pki`'s chip with `overrides` applied to
 * {@link defaultSnpReportFields}: change one field, and everything else
 * stays valid.
 */
export function forgeSnpReport(
  pki: SnpTestPki,
  overrides: Partial<SnpReportFields> = {},
  options: ForgeSnpReportOptions = {},
): Uint8Array {
  const report = encodeSnpReport({ ...defaultSnpReportFields(pki.product), ...overrides });
  options.patch?.(report);
  return signSnpReport(report, options.signingKey ?? pki.vcekKey.privateKey);
}
