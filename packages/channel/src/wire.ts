/**
 * The channel's wire constants (docs/CHANNEL.md): media types, header names,
 * HPKE labels and size limits. Labels carry a version, so a later format can
 * never be confused with this one.
 */

/** Content type of a request body that is a sealed request. */
export const SEALED_REQUEST_TYPE = "application/veritee-sealed-request";
/** Content type of a sealed response (always status 200 on the outside; the real status is sealed). */
export const SEALED_RESPONSE_TYPE = "application/veritee-sealed-response";

/** Request header: lower-case hex SHA-256 digest of the key set the request is sealed to. */
export const KEY_SET_HEADER = "veritee-key-set";
/**
 * The path every sealed request (version 2) is sent to, with `POST`: the real
 * method and target are inside the seal, so an intermediary sees only this.
 */
export const SEALED_PATH = "/v1/sealed";
/** The channel's wire version: 2 seals the whole request as Binary HTTP (RFC 9292). */
export const CHANNEL_VERSION = 2;
/** Version 1 request header (the inner content type): recognized only to refuse version 1 clearly. */
export const V1_INNER_CONTENT_TYPE_HEADER = "veritee-content-type";
/** Version 1 request header (a sealed GET or HEAD): recognized only to refuse version 1 clearly. */
export const V1_SEALED_REQUEST_HEADER = "veritee-sealed-request";

/** HPKE `info` label of a sealed request (RFC 9180 §5.1; RFC 9458 §4.3 uses the same shape). */
export const REQUEST_INFO_LABEL = "veritee sealed request v2";
/** Exporter context of the response secret (RFC 9180 §5.3; RFC 9458 §4.4). */
export const RESPONSE_EXPORT_LABEL = "veritee sealed response v2";

/** Size of the RFC 9458 §4.3 request header: key_id (1), kem_id (2), kdf_id (2), aead_id (2). */
export const REQUEST_HEADER_SIZE = 7;
/** Size of an X25519 `enc` (RFC 9180 §7.1: Nenc = 32). */
export const X25519_ENC_SIZE = 32;
/** Size of a key-set digest (SHA-256). */
export const KEY_SET_DIGEST_SIZE = 32;

/** Size of a frame header: flags (1), sequence number (4), ciphertext length (4). */
export const FRAME_HEADER_SIZE = 9;
/** Frame flag: the last frame of a response. */
export const FRAME_FINAL = 0x01;
/** The largest plaintext one frame carries (64 KiB); longer bodies are split. Bounds a decoder's buffer. */
export const MAX_FRAME_PLAINTEXT = 1 << 16;
/** The last usable sequence number: frames are numbered 0 … 2^32 − 1 (a u32 on the wire). */
export const MAX_SEQUENCE = 0xffff_ffff;

/** Most header fields a sealed response head carries. */
export const MAX_HEAD_FIELDS = 16;
/** Longest header name in a response head. */
export const MAX_HEAD_NAME = 64;
/** Longest header value in a response head. */
export const MAX_HEAD_VALUE = 1024;
/** Longest method, scheme, authority or path of a sealed request (RFC 9292 control data). */
export const MAX_REQUEST_FIELD = 4096;
