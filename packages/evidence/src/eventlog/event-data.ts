/**
 * Binding of event data to event digests. Replay (`replay.ts`) only extends
 * digests, so a log's event data is evidence only where the digest can be
 * recomputed from it. TCG PC Client Platform Firmware Profile (PFP) 1.06
 * rev 52, §10.4.1 "Event Types", says per event type what the digest covers:
 *
 * - the event data itself for EV_SEPARATOR (§10.4.4: 0x00000000, or
 *   0xFFFFFFFF for an error), EV_EFI_ACTION (an ASCII string),
 *   EV_S_CRTM_VERSION, EV_EFI_GPT_EVENT(2) (the UEFI_GPT_DATA) and the
 *   UEFI_VARIABLE_DATA of EV_EFI_VARIABLE_DRIVER_CONFIG and
 *   EV_EFI_VARIABLE_BOOT(2) (§10.3.3, §10.4.4). For these the digest MUST be
 *   the hash of the data: any other digest is a log whose data was changed.
 * - EV_EFI_VARIABLE_BOOT(2) has one documented deviation: a lot of firmware
 *   (EDK II's OVMF among it, hence every GCE and most QEMU logs) hashes only
 *   the VariableData of the UEFI_VARIABLE_DATA. go-tpm-tools and Keylime
 *   accept both; so do we, and then only the VariableData is attested, not
 *   the variable's GUID and name.
 * - something that is not in the log for the rest: a PE image's
 *   Authenticode hash (EV_EFI_BOOT_SERVICES_APPLICATION, _DRIVER), a
 *   firmware volume or ACPI table in memory (EV_EFI_PLATFORM_FIRMWARE_BLOB,
 *   EV_POST_CODE, EV_EFI_HANDOFF_TABLES), a file GRUB loaded or a command
 *   line without its "grub_cmd: " prefix (EV_IPL). Such data cannot be
 *   checked from the log.
 * - EV_EFI_VARIABLE_AUTHORITY is defined as the hash of its
 *   UEFI_VARIABLE_DATA, but shim writes some that are not (on the GCE vector
 *   two of its three hash one byte less than the data holds), so a
 *   mismatch there marks the data unverified instead of failing a genuine log.
 *
 * Whatever the type, a digest equal to the hash of the data in every checked
 * bank binds the data (the hash is collision resistant), so such events count
 * as verified too; the others are exposed as unverified, never as verified.
 */
import { bytesEqual, type HashAlg, hash } from "@veritee/core";
import type { TcgEvent } from "./decode.js";
import { EV } from "./event-types.js";
import { EventLogVerificationError } from "./verify-error.js";

/**
 * How far an event's data is bound to its (attested) digests. A closed union:
 * - `"digest-matches"`: every checked digest is the hash of the whole event
 *   data, so the data is exactly what was measured;
 * - `"variable-data-matches"`: an EV_EFI_VARIABLE_BOOT(2) event whose
 *   digests are the hash of the UEFI_VARIABLE_DATA's VariableData only
 *   (a firmware deviation from PFP §10.4.4): the VariableData is attested,
 *   the VariableName GUID and UnicodeName are not;
 * - `"not-derivable"`: the digest is of something the log does not hold
 *   (an image, a blob in memory, a loaded file): the data is unverified.
 */
export type EventDataCheck = "digest-matches" | "variable-data-matches" | "not-derivable";

/** Event types whose digest PFP §10.4.1 defines as the hash of the event data. */
const DIGEST_OF_DATA: ReadonlySet<number> = new Set([
  EV.SEPARATOR,
  EV.EFI_ACTION,
  EV.S_CRTM_VERSION,
  EV.EFI_GPT_EVENT,
  EV.EFI_GPT_EVENT2,
  EV.EFI_VARIABLE_DRIVER_CONFIG,
  EV.EFI_VARIABLE_BOOT,
  EV.EFI_VARIABLE_BOOT2,
]);

/** The boot-variable types whose firmware may hash only the VariableData. */
const BOOT_VARIABLE: ReadonlySet<number> = new Set([EV.EFI_VARIABLE_BOOT, EV.EFI_VARIABLE_BOOT2]);

/** Whether PFP §10.4.1 defines `eventType`'s digest as the hash of its event data. */
export function digestIsOfEventData(eventType: number): boolean {
  return DIGEST_OF_DATA.has(eventType);
}

/**
 * Check `event`'s data against its digests in `banks` (each of which the
 * event must carry; a log from `decodeEventLog` always does).
 *
 * @throws EventLogVerificationError `eventlog-data-mismatch`, naming the
 * record index, event type and the first bank that differs, when the event
 * type's digest is defined as the hash of its data (see
 * {@link digestIsOfEventData}) and is not. That is the signature of a log
 * whose data was edited while its digests were left to replay.
 * @example
 * checkEventData(log.events[3]!, ["sha256"]); // "digest-matches"
 */
export function checkEventData(event: TcgEvent, banks: readonly HashAlg[]): EventDataCheck {
  const whole = firstMismatch(event, banks, event.data);
  if (whole === undefined) return "digest-matches";
  if (BOOT_VARIABLE.has(event.eventType)) {
    const variableData = uefiVariableData(event.data);
    if (variableData !== undefined && firstMismatch(event, banks, variableData) === undefined) {
      return "variable-data-matches";
    }
  }
  if (!DIGEST_OF_DATA.has(event.eventType)) return "not-derivable";
  throw new EventLogVerificationError(
    "eventlog-data-mismatch",
    `record ${event.index} (${event.eventTypeName}, PCR ${event.pcrIndex}): the ${whole} digest is not the hash of the event data, as PFP §10.4.1 requires`,
    whole,
    event.pcrIndex,
    event.index,
  );
}

/** The first bank whose digest is not the hash of `data`; undefined when all match. */
function firstMismatch(event: TcgEvent, banks: readonly HashAlg[], data: Uint8Array): HashAlg | undefined {
  for (const bank of banks) {
    const digest = event.digests.get(bank);
    if (digest === undefined || !bytesEqual(hash(bank, data), digest)) return bank;
  }
  return undefined;
}

/** Bytes of UEFI_VARIABLE_DATA before UnicodeName: VariableName (EFI_GUID), UnicodeNameLength, VariableDataLength (UINT64 each). */
const VARIABLE_HEADER = 16 + 8 + 8;

/**
 * The VariableData of a UEFI_VARIABLE_DATA (PFP §10.3.3: VariableName
 * EFI_GUID, UnicodeNameLength UINT64 in CHAR16s, VariableDataLength UINT64,
 * UnicodeName, VariableData), or undefined when `data` is not exactly one
 * such structure. Lengths are little-endian (PFP §10.2).
 */
export function uefiVariableData(data: Uint8Array): Uint8Array | undefined {
  if (data.length < VARIABLE_HEADER) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const nameLength = view.getBigUint64(16, true);
  const dataLength = view.getBigUint64(24, true);
  const expected = BigInt(VARIABLE_HEADER) + 2n * nameLength + dataLength;
  if (expected !== BigInt(data.length)) return undefined;
  return data.subarray(VARIABLE_HEADER + 2 * Number(nameLength));
}
