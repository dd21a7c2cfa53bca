/** TCG PC Client event logs: decode, encode, replay, verify against attested PCRs. */
export {
  type DecodeEventLogOptions,
  decodeEventLog,
  decodeSpecIdEvent,
  type EventLog,
  type EventLogFormat,
  MAX_EVENT_DATA_SIZE,
  MAX_SPEC_ID_ALGORITHMS,
  PCR_COUNT,
  type SpecIdAlgorithm,
  type SpecIdEvent,
  type TcgEvent,
} from "./decode.js";
export {
  type EventInput,
  type EventLogInput,
  encodeEventLog,
  encodeSpecIdEvent,
  type SpecIdInput,
  specIdForBanks,
  startupLocalityEventData,
} from "./encode.js";
export { checkEventData, digestIsOfEventData, type EventDataCheck, uefiVariableData } from "./event-data.js";
export { EV, eventTypeName } from "./event-types.js";
export { pcrResetValue, type ReplayedPcrs, replayEventLog } from "./replay.js";
export {
  type AttestedEvent,
  EventLogVerificationError,
  VerifiedEventLog,
  type VerifyEventLogOptions,
  verifyEventLogAgainstPcrs,
} from "./verify.js";
