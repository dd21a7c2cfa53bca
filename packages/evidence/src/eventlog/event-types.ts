/**
 * Event types of the TCG PC Client Platform Firmware Profile (PFP), version
 * 1.06 rev 52, §10.4.1 "Event Types". The event type says what was measured
 * (and so how the event data is laid out); it never changes how the digest is
 * extended, except for EV_NO_ACTION, which is never extended at all.
 */

/** Event type values (PFP §10.4.1). Keys are the PFP names without the `EV_` prefix. */
export const EV = {
  PREBOOT_CERT: 0x00000000,
  POST_CODE: 0x00000001,
  UNUSED: 0x00000002,
  /** Informational: logged but never extended into a PCR (PFP §10.4.5). */
  NO_ACTION: 0x00000003,
  SEPARATOR: 0x00000004,
  ACTION: 0x00000005,
  EVENT_TAG: 0x00000006,
  S_CRTM_CONTENTS: 0x00000007,
  S_CRTM_VERSION: 0x00000008,
  CPU_MICROCODE: 0x00000009,
  PLATFORM_CONFIG_FLAGS: 0x0000000a,
  TABLE_OF_DEVICES: 0x0000000b,
  COMPACT_HASH: 0x0000000c,
  IPL: 0x0000000d,
  IPL_PARTITION_DATA: 0x0000000e,
  NONHOST_CODE: 0x0000000f,
  NONHOST_CONFIG: 0x00000010,
  NONHOST_INFO: 0x00000011,
  OMIT_BOOT_DEVICE_EVENTS: 0x00000012,
  POST_CODE2: 0x00000013,
  EFI_EVENT_BASE: 0x80000000,
  EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EFI_VARIABLE_BOOT: 0x80000002,
  EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EFI_RUNTIME_SERVICES_DRIVER: 0x80000005,
  EFI_GPT_EVENT: 0x80000006,
  EFI_ACTION: 0x80000007,
  EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EFI_HANDOFF_TABLES: 0x80000009,
  EFI_PLATFORM_FIRMWARE_BLOB2: 0x8000000a,
  EFI_HANDOFF_TABLES2: 0x8000000b,
  EFI_VARIABLE_BOOT2: 0x8000000c,
  EFI_GPT_EVENT2: 0x8000000d,
  /** The H-CRTM measurement in PCR 0 (PFP §10.4.1; TPM 2.0 Part 1 §34.3). */
  EFI_HCRTM_EVENT: 0x80000010,
  EFI_VARIABLE_AUTHORITY: 0x800000e0,
  EFI_SPDM_FIRMWARE_BLOB: 0x800000e1,
  EFI_SPDM_FIRMWARE_CONFIG: 0x800000e2,
  EFI_SPDM_DEVICE_POLICY: 0x800000e3,
  EFI_SPDM_DEVICE_AUTHORITY: 0x800000e4,
} as const;

const NAMES: ReadonlyMap<number, string> = new Map(Object.entries(EV).map(([key, value]) => [value, `EV_${key}`]));

/**
 * The PFP name of an event type, e.g. `eventTypeName(0x80000003)` is
 * `"EV_EFI_BOOT_SERVICES_APPLICATION"`. A type the PFP does not define
 * (vendor or OS specific) is named by its value, e.g. `"0x10000001"`, so a
 * name never claims a meaning the specification does not give it.
 */
export function eventTypeName(eventType: number): string {
  return NAMES.get(eventType) ?? `0x${(eventType >>> 0).toString(16).padStart(8, "0")}`;
}
