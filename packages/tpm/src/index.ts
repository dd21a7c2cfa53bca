/**
 * `@veritee/tpm`: a TPM 2.0 client in pure TypeScript (command marshalling,
 * transports, EK/AK creation, PCRs, quotes, NV, credential activation) and the
 * swtpm development-TPM manager. It returns raw evidence bytes; decoding them
 * for verification is the `evidence` package's job.
 */
export {
  type EkCertificateKind,
  type ParentAuth,
  type PcrValues,
  TpmClient,
  type TpmClientOptions,
} from "./client.js";
export type { NvPublic } from "./commands/nv.js";
export type { CreatedKey, LoadedObject, QuoteResult } from "./commands/object.js";
export { HANDLE_RANGE, TPM_CC, TPM_PT, TPMA_NV } from "./constants.js";
export { TpmError, type TpmErrorCode } from "./errors.js";
export { decodeResponseCode, type ResponseCodeInfo, TPM_RC_NAMES, type TpmRcName } from "./rc.js";
export { SwtpmError, type SwtpmErrorCode } from "./sim/errors.js";
export {
  provisionSwtpm,
  type SwtpmInstance,
  type SwtpmState,
  type SwtpmStatus,
  startSwtpm,
  stopSwtpm,
  swtpmStatus,
} from "./sim/swtpm.js";
export {
  type AkKind,
  type AkScheme,
  akTemplate,
  EK_POLICY_SHA256,
  type EkKind,
  ekTemplate,
} from "./templates.js";
export { DEFAULT_TPM_DEVICE, DeviceTransport } from "./transport/device.js";
export { openTransport, parseTransportSpec, type TransportSpec } from "./transport/open.js";
export { type StreamTarget, StreamTransport } from "./transport/stream.js";
export type { TpmTransport, TransmitOptions } from "./transport/types.js";
export { type AuthCommand, type CommandFrame, encodeCommand } from "./wire/command.js";
export {
  type AuthResponse,
  type DecodedResponse,
  decodeResponse,
  MAX_RESPONSE_SIZE,
  type ResponseShape,
} from "./wire/response.js";
export { computeName, type PcrSelection } from "./wire/structures.js";
