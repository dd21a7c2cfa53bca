/** Sealed model files (docs/CUSTODY.md "The sealed format"). */
export {
  chunkCount,
  DEFAULT_CHUNK_SIZE,
  decodeHeader,
  encodeHeader,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  MODEL_ID,
  type SealedHeader,
} from "./header.js";
export {
  MODEL_KEY_BYTES,
  readSealedHeader,
  type SealOptions,
  type SealProgress,
  type SealResult,
  sealModel,
  type UnsealOptions,
  unsealModel,
} from "./stream.js";
