/**
 * Decoding of AMD SEV-SNP attestation reports (SEV Secure Nested Paging
 * Firmware ABI Specification, AMD publication 56860, §7.3 Table 23
 * "ATTESTATION_REPORT Structure"). Decoding only: nothing here checks the
 * signature or the certificate; that is `verify.ts`. A `SnpReport` is
 * therefore untrusted data.
 *
 * The decoder is strict: exactly 1184 bytes, a known report version, every
 * must-be-zero range and reserved bit checked, the guest policy's
 * must-be-one bit checked, and the signature's zero extension checked. All
 * multi-byte integers are little-endian (56860 §1.3 "Conventions").
 */
import { ByteReader, MalformedError } from "@veritee/core";

/** Size of an ATTESTATION_REPORT (0x4A0 bytes, 56860 Table 23). */
export const SNP_REPORT_SIZE = 0x4a0;
/** The signature covers bytes 0x000–0x29F (56860 Table 23, SIGNATURE). */
export const SNP_SIGNED_SIZE = 0x2a0;
/** Report versions this decoder knows. 2: ABI 1.51–1.54; 3: adds CPUID; 4 and 5: add mitigation vectors (Turin era). */
export const SNP_REPORT_VERSIONS: readonly number[] = Object.freeze([2, 3, 4, 5]);
/** SIGNATURE_ALGO value of ECDSA P-384 with SHA-384 (56860 Table 139 "Signature Algorithm Encodings"). */
export const SNP_SIG_ALGO_ECDSA_P384_SHA384 = 1;

/** Family of CPUID Fn0000_0001 (base + extended) for Zen 3 and Zen 4 (Milan, Genoa). */
export const SNP_CPU_FAMILY_ZEN3_ZEN4 = 0x19;
/** Family for Zen 5 (Turin). */
export const SNP_CPU_FAMILY_ZEN5 = 0x1a;

/**
 * How the eight bytes of a TCB_VERSION are laid out (56860 §2.2 Table 3):
 * Milan and Genoa put BOOT_LOADER, TEE, 4 reserved, SNP, MICROCODE; Turin
 * (family 1Ah) puts FMC, BOOT_LOADER, TEE, SNP, 3 reserved, MICROCODE.
 */
export type SnpTcbLayout = "milan-genoa" | "turin";

/** A decoded TCB_VERSION: the security patch level of each firmware component. */
export interface SnpTcbVersion {
  /** The 64-bit value as found (little-endian), for exact comparison and display. */
  readonly raw: bigint;
  /** The PSP firmware-management controller's SPL; Turin only (undefined otherwise). */
  readonly fmc: number | undefined;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
}

/** The guest policy the VM was launched with (56860 §4.3 Table 9 "Guest Policy Structure"). */
export interface SnpGuestPolicy {
  readonly raw: bigint;
  readonly abiMinor: number;
  readonly abiMajor: number;
  /** Bit 16: SMT is allowed. */
  readonly smt: boolean;
  /** Bit 18: association with a migration agent is allowed. */
  readonly migrateMa: boolean;
  /** Bit 19: debugging (host decryption of guest memory) is allowed. */
  readonly debug: boolean;
  /** Bit 20: the guest may be active on one socket only. */
  readonly singleSocket: boolean;
  /** Bit 21: CXL may be populated with devices or memory. */
  readonly cxlAllowed: boolean;
  /** Bit 22: AES-256-XTS is required for memory encryption. */
  readonly memAes256Xts: boolean;
  /** Bit 23: Running Average Power Limit must be disabled. */
  readonly raplDis: boolean;
  /** Bit 24: ciphertext hiding for DRAM must be enabled. */
  readonly ciphertextHiding: boolean;
  /** Bit 25: SNP_PAGE_MOVE / SWAP_OUT / SWAP_IN are disabled for the guest. */
  readonly pageSwapDisable: boolean;
}

/** PLATFORM_INFO (56860 Table 24): the platform's configuration when the report was made. */
export interface SnpPlatformInfo {
  readonly raw: bigint;
  readonly smtEnabled: boolean;
  readonly tsmeEnabled: boolean;
  readonly eccEnabled: boolean;
  readonly raplDisabled: boolean;
  readonly ciphertextHidingEnabled: boolean;
  /** Alias detection completed with no aliasing (AMD-SB-3015 "BadRAM" mitigation). */
  readonly aliasCheckComplete: boolean;
}

/** Which key signed the report (56860 Table 23, SIGNING_KEY). */
export type SnpSigningKey = "vcek" | "vlek" | "none";

/** A decoded, unverified ATTESTATION_REPORT. Byte arrays are copies. */
export interface SnpReport {
  /** 2, 3, 4 or 5. */
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: SnpGuestPolicy;
  /** 16 bytes, from the ID block. */
  readonly familyId: Uint8Array;
  /** 16 bytes, from the ID block. */
  readonly imageId: Uint8Array;
  /** The VMPL the report was requested at (0–3). */
  readonly vmpl: number;
  readonly signatureAlgo: number;
  /** How the TCB fields below were read; from the CPUID family for version 3+, Milan/Genoa for version 2. */
  readonly tcbLayout: SnpTcbLayout;
  readonly currentTcb: SnpTcbVersion;
  readonly platformInfo: SnpPlatformInfo;
  /** The ID block carried an author key (AUTHOR_KEY_EN). */
  readonly authorKeyEn: boolean;
  /** CHIP_ID is masked (all zero) in this report (MASK_CHIP_KEY). */
  readonly maskChipKey: boolean;
  readonly signingKey: SnpSigningKey;
  /** 64 bytes supplied by the guest: the binding to a nonce or a key. */
  readonly reportData: Uint8Array;
  /** 48 bytes: the launch digest. */
  readonly measurement: Uint8Array;
  /** 32 bytes supplied by the host at launch. */
  readonly hostData: Uint8Array;
  /** 48 bytes: SHA-384 of the ID block's signing key. */
  readonly idKeyDigest: Uint8Array;
  /** 48 bytes: SHA-384 of the author key (zero unless authorKeyEn). */
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  /** The TCB the report was signed under: the VCEK/VLEK is derived for this TCB. */
  readonly reportedTcb: SnpTcbVersion;
  /** CPUID family/model/stepping (version 3+); undefined in version 2. */
  readonly cpuid: { readonly family: number; readonly model: number; readonly stepping: number } | undefined;
  /** 64 bytes identifying the chip (zero when masked). */
  readonly chipId: Uint8Array;
  readonly committedTcb: SnpTcbVersion;
  readonly currentVersion: { readonly build: number; readonly minor: number; readonly major: number };
  readonly committedVersion: { readonly build: number; readonly minor: number; readonly major: number };
  readonly launchTcb: SnpTcbVersion;
  /** Mitigation vectors (version 4+); undefined before. */
  readonly launchMitVector: bigint | undefined;
  readonly currentMitVector: bigint | undefined;
  /** ECDSA r, big-endian, 48 bytes (converted from the report's little-endian zero-extended 72 bytes). */
  readonly signatureR: Uint8Array;
  /** ECDSA s, big-endian, 48 bytes. */
  readonly signatureS: Uint8Array;
  /** A copy of bytes 0x000–0x29F: the signed message. */
  readonly signedBytes: Uint8Array;
}

const P384_SIZE = 48;
/** r and s each take 72 bytes, little-endian, zero-extended (56860 §10.2 Table 141). */
const SIG_COMPONENT_SIZE = 72;

function mbz(bytes: Uint8Array, field: string): void {
  for (const b of bytes) {
    if (b !== 0) throw new MalformedError("reserved-nonzero", `ATTESTATION_REPORT.${field}`, "must be zero");
  }
}

function bit(v: bigint, n: number): boolean {
  return ((v >> BigInt(n)) & 1n) === 1n;
}

/**
 * Decode a TCB_VERSION from its 64-bit value under `layout` (56860 Table 3).
 * Reserved bytes must be zero.
 */
export function decodeSnpTcb(raw: bigint, layout: SnpTcbLayout, field = "TCB_VERSION"): SnpTcbVersion {
  const byte = (i: number) => Number((raw >> BigInt(8 * i)) & 0xffn);
  const reserved = layout === "turin" ? [4, 5, 6] : [2, 3, 4, 5];
  for (const i of reserved) {
    if (byte(i) !== 0) throw new MalformedError("reserved-nonzero", field, "reserved TCB byte must be zero");
  }
  const tcb =
    layout === "turin"
      ? { raw, fmc: byte(0), bootloader: byte(1), tee: byte(2), snp: byte(3), microcode: byte(7) }
      : { raw, fmc: undefined, bootloader: byte(0), tee: byte(1), snp: byte(6), microcode: byte(7) };
  return Object.freeze(tcb);
}

function decodePolicy(raw: bigint): SnpGuestPolicy {
  // 56860 Table 9: bit 17 is reserved and must be one; bits 63:26 are reserved, MBZ.
  if (!bit(raw, 17)) throw new MalformedError("bad-value", "ATTESTATION_REPORT.POLICY", "bit 17 must be one");
  if (raw >> 26n !== 0n) throw new MalformedError("reserved-nonzero", "ATTESTATION_REPORT.POLICY", "bits 63:26");
  return Object.freeze({
    raw,
    abiMinor: Number(raw & 0xffn),
    abiMajor: Number((raw >> 8n) & 0xffn),
    smt: bit(raw, 16),
    migrateMa: bit(raw, 18),
    debug: bit(raw, 19),
    singleSocket: bit(raw, 20),
    cxlAllowed: bit(raw, 21),
    memAes256Xts: bit(raw, 22),
    raplDis: bit(raw, 23),
    ciphertextHiding: bit(raw, 24),
    pageSwapDisable: bit(raw, 25),
  });
}

function decodePlatformInfo(raw: bigint): SnpPlatformInfo {
  // Bits 0–5 are defined (56860 Table 24); higher bits are reserved. A bit
  // this decoder does not know could change what the report means, so it is
  // refused rather than ignored.
  if (raw >> 6n !== 0n) {
    throw new MalformedError("reserved-nonzero", "ATTESTATION_REPORT.PLATFORM_INFO", "bits 63:6");
  }
  return Object.freeze({
    raw,
    smtEnabled: bit(raw, 0),
    tsmeEnabled: bit(raw, 1),
    eccEnabled: bit(raw, 2),
    raplDisabled: bit(raw, 3),
    ciphertextHidingEnabled: bit(raw, 4),
    aliasCheckComplete: bit(raw, 5),
  });
}

/** A little-endian, zero-extended 72-byte ECDSA component as 48 big-endian bytes. */
function signatureComponent(r: ByteReader, field: string): Uint8Array {
  const le = r.bytes(SIG_COMPONENT_SIZE, field);
  mbz(le.subarray(P384_SIZE), `SIGNATURE.${field} (zero extension)`);
  return le.slice(0, P384_SIZE).reverse();
}

function firmwareVersion(r: ByteReader, field: string) {
  const build = r.u8(`${field}_BUILD`);
  const minor = r.u8(`${field}_MINOR`);
  const major = r.u8(`${field}_MAJOR`);
  mbz(r.bytes(1, `${field} reserved`), `${field} reserved`);
  return Object.freeze({ build, minor, major });
}

/**
 * Decode an SEV-SNP ATTESTATION_REPORT (56860 Table 23) without verifying
 * anything. Throws `MalformedError`: `bad-length` unless exactly 1184 bytes,
 * `unsupported` for an unknown version, signature algorithm or CPU family,
 * `reserved-nonzero` for a set reserved bit or byte, `bad-value` for an
 * impossible field (policy bit 17 clear, VMPL above 3, a reserved
 * SIGNING_KEY, a CHIP_ID present although masked).
 *
 * @example
 * const report = decodeSnpReport(bytes);
 * toHex(report.measurement); // the launch digest, still unverified
 */
export function decodeSnpReport(bytes: Uint8Array): SnpReport {
  if (bytes.length !== SNP_REPORT_SIZE) {
    throw new MalformedError("bad-length", "ATTESTATION_REPORT", `must be ${SNP_REPORT_SIZE} bytes`);
  }
  const r = new ByteReader(bytes, "ATTESTATION_REPORT");
  const version = r.u32le("VERSION");
  if (!SNP_REPORT_VERSIONS.includes(version)) {
    throw new MalformedError("unsupported", "ATTESTATION_REPORT.VERSION", "unknown report version");
  }
  const guestSvn = r.u32le("GUEST_SVN");
  const policy = decodePolicy(r.u64le("POLICY"));
  const familyId = r.bytes(16, "FAMILY_ID");
  const imageId = r.bytes(16, "IMAGE_ID");
  const vmpl = r.u32le("VMPL");
  if (vmpl > 3) throw new MalformedError("bad-value", "ATTESTATION_REPORT.VMPL", "must be 0..3");
  const signatureAlgo = r.u32le("SIGNATURE_ALGO");
  if (signatureAlgo !== SNP_SIG_ALGO_ECDSA_P384_SHA384) {
    throw new MalformedError("unsupported", "ATTESTATION_REPORT.SIGNATURE_ALGO", "not ECDSA P-384 SHA-384");
  }
  // The TCB layout depends on the CPU family, which only version 3+ reports
  // carry (at 0x188). Read it ahead so every TCB field decodes one way.
  let tcbLayout: SnpTcbLayout = "milan-genoa";
  let cpuid: SnpReport["cpuid"];
  if (version >= 3) {
    cpuid = Object.freeze({ family: bytes[0x188]!, model: bytes[0x189]!, stepping: bytes[0x18a]! });
    if (cpuid.family === SNP_CPU_FAMILY_ZEN5) tcbLayout = "turin";
    else if (cpuid.family !== SNP_CPU_FAMILY_ZEN3_ZEN4) {
      throw new MalformedError("unsupported", "ATTESTATION_REPORT.CPUID_FAM_ID", "not an SEV-SNP CPU family");
    }
  }
  const currentTcb = decodeSnpTcb(r.u64le("CURRENT_TCB"), tcbLayout, "ATTESTATION_REPORT.CURRENT_TCB");
  const platformInfo = decodePlatformInfo(r.u64le("PLATFORM_INFO"));
  const keyInfo = r.u32le("KEY_INFO");
  // 0x48: bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY, bits 31:5 reserved MBZ.
  if (keyInfo >>> 5 !== 0) throw new MalformedError("reserved-nonzero", "ATTESTATION_REPORT.KEY_INFO", "bits 31:5");
  const signingKeyValue = (keyInfo >>> 2) & 7;
  let signingKey: SnpSigningKey;
  if (signingKeyValue === 0) signingKey = "vcek";
  else if (signingKeyValue === 1) signingKey = "vlek";
  else if (signingKeyValue === 7) signingKey = "none";
  else throw new MalformedError("bad-value", "ATTESTATION_REPORT.SIGNING_KEY", "reserved value");
  const authorKeyEn = (keyInfo & 1) === 1;
  const maskChipKey = (keyInfo & 2) === 2;
  mbz(r.bytes(4, "reserved 0x4C"), "reserved 0x4C");
  const reportData = r.bytes(64, "REPORT_DATA");
  const measurement = r.bytes(48, "MEASUREMENT");
  const hostData = r.bytes(32, "HOST_DATA");
  const idKeyDigest = r.bytes(48, "ID_KEY_DIGEST");
  const authorKeyDigest = r.bytes(48, "AUTHOR_KEY_DIGEST");
  const reportId = r.bytes(32, "REPORT_ID");
  const reportIdMa = r.bytes(32, "REPORT_ID_MA");
  const reportedTcb = decodeSnpTcb(r.u64le("REPORTED_TCB"), tcbLayout, "ATTESTATION_REPORT.REPORTED_TCB");
  if (version >= 3) {
    r.bytes(3, "CPUID"); // read above
    mbz(r.bytes(21, "reserved 0x18B"), "reserved 0x18B");
  } else {
    mbz(r.bytes(24, "reserved 0x188"), "reserved 0x188");
  }
  const chipId = r.bytes(64, "CHIP_ID");
  if (maskChipKey && chipId.some((b) => b !== 0)) {
    // MASK_CHIP_KEY: "CHIP_ID is set to zero" (56860 Table 23).
    throw new MalformedError("bad-value", "ATTESTATION_REPORT.CHIP_ID", "must be zero when masked");
  }
  const committedTcb = decodeSnpTcb(r.u64le("COMMITTED_TCB"), tcbLayout, "ATTESTATION_REPORT.COMMITTED_TCB");
  const currentVersion = firmwareVersion(r, "CURRENT");
  const committedVersion = firmwareVersion(r, "COMMITTED");
  const launchTcb = decodeSnpTcb(r.u64le("LAUNCH_TCB"), tcbLayout, "ATTESTATION_REPORT.LAUNCH_TCB");
  let launchMitVector: bigint | undefined;
  let currentMitVector: bigint | undefined;
  if (version >= 4) {
    launchMitVector = r.u64le("LAUNCH_MIT_VECTOR");
    currentMitVector = r.u64le("CURRENT_MIT_VECTOR");
    mbz(r.bytes(0x2a0 - 0x208, "reserved 0x208"), "reserved 0x208");
  } else {
    mbz(r.bytes(0x2a0 - 0x1f8, "reserved 0x1F8"), "reserved 0x1F8");
  }
  const signatureR = signatureComponent(r, "R");
  const signatureS = signatureComponent(r, "S");
  mbz(r.bytes(SNP_REPORT_SIZE - r.position, "SIGNATURE reserved"), "SIGNATURE reserved");
  r.end();

  return Object.freeze({
    version,
    guestSvn,
    policy,
    familyId,
    imageId,
    vmpl,
    signatureAlgo,
    tcbLayout,
    currentTcb,
    platformInfo,
    authorKeyEn,
    maskChipKey,
    signingKey,
    reportData,
    measurement,
    hostData,
    idKeyDigest,
    authorKeyDigest,
    reportId,
    reportIdMa,
    reportedTcb,
    cpuid,
    chipId,
    committedTcb,
    currentVersion,
    committedVersion,
    launchTcb,
    launchMitVector,
    currentMitVector,
    signatureR,
    signatureS,
    signedBytes: Uint8Array.prototype.slice.call(bytes, 0, SNP_SIGNED_SIZE),
  });
}
