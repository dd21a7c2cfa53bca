/**
 * The one PEM decoder (RFC 7468) every verifier path uses, so a certificate,
 * CRL or chain is read with the same strictness wherever it comes from.
 *
 * The accepted form is RFC 7468 §3's strict textual encoding, relaxed only
 * where real producers differ:
 * - each block is `-----BEGIN <label>-----`, base64 lines, `-----END <label>-----`,
 *   with the caller's label exactly, in both lines (§2: the labels MUST match);
 * - base64 lines are 1 to 76 characters (64 is §2's width; 76 is the MIME
 *   width some tools, Intel's among them, emit), ending in LF, CRLF or CR;
 *   spaces and tabs may end or start a line (§3's lax form), but none may
 *   sit inside one;
 * - the base64 of a block is canonical padded base64 (RFC 4648 §3.5);
 * - only whitespace (space, tab, CR, LF) may sit before, between and after
 *   blocks: explanatory text (§5.2) is refused, as is any other byte;
 * - one NUL at the very end only when the caller names that leniency
 *   (`allowTrailingNul`: Intel's QE hands the chain over as a C string).
 * Everything else is a `MalformedError` naming `what`.
 */
import { base64Decode, base64Encode } from "./base64.js";
import { MalformedError } from "./errors.js";

/** How to read a PEM text. */
export interface PemDecodeOptions {
  /** The label every block must carry, e.g. "CERTIFICATE" or "X509 CRL" (RFC 7468 §4). */
  readonly label: string;
  /** Names the input in errors. */
  readonly what: string;
  /** The most blocks accepted (default 1). */
  readonly maxBlocks?: number;
  /** The most decoded bytes one block may hold. */
  readonly maxBytes: number;
  /** Accept one NUL byte after everything else (a C string's terminator). Default false. */
  readonly allowTrailingNul?: boolean;
}

/** The widest base64 line accepted (RFC 2045 §6.8's 76; RFC 7468 §2 writes 64). */
export const MAX_PEM_LINE = 76;

const LINE = /^[A-Za-z0-9+/=]{1,76}$/;

function isText(input: string): boolean {
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)) return false;
  }
  return true;
}

/** Bytes as text, refusing anything but printable ASCII and whitespace (PEM is ASCII, RFC 7468 §2). */
function asText(input: string | Uint8Array, what: string, allowTrailingNul: boolean): string {
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else {
    text = "";
    for (let i = 0; i < input.length; i++) text += String.fromCharCode(input[i]!);
  }
  if (allowTrailingNul && text.endsWith("\0")) text = text.slice(0, -1);
  if (!isText(text)) throw new MalformedError("bad-value", what, "non-printable character in PEM text");
  return text;
}

/**
 * Splits lines at LF, CRLF or CR (RFC 7468 §3 `eol`), and drops spaces and
 * tabs at either end of a line (§3's lax form allows them there).
 */
function lines(text: string): string[] {
  return text.split(/\r\n|\r|\n/).map((l) => l.replace(/^[ \t]+|[ \t]+$/g, ""));
}

/**
 * Decode every block of a PEM text, in order, to DER.
 *
 * @throws MalformedError naming `what`: no block, a wrong or mismatched
 *   label, text outside the blocks, a bad line, non-canonical base64, an
 *   empty block, or more than `maxBlocks` blocks.
 * @example
 * const [leaf, issuer] = decodePem(text, { label: "CERTIFICATE", what: "chain", maxBlocks: 4, maxBytes: 65536 });
 */
export function decodePem(input: string | Uint8Array, options: PemDecodeOptions): Uint8Array[] {
  const { label, what, maxBytes } = options;
  const maxBlocks = options.maxBlocks ?? 1;
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const all = lines(asText(input, what, options.allowTrailingNul ?? false));
  const out: Uint8Array[] = [];
  let i = 0;
  for (;;) {
    // Whitespace-only lines separate blocks; nothing else may.
    while (i < all.length && all[i] === "") i++;
    if (i === all.length) break;
    const where = `${what}[${out.length}]`;
    const first = all[i]!;
    if (first !== begin) {
      if (first.startsWith("-----BEGIN ")) throw new MalformedError("bad-magic", where, `not a ${label} block`);
      throw new MalformedError("bad-value", where, "text outside a PEM block");
    }
    if (out.length === maxBlocks) throw new MalformedError("too-large", what, `more than ${maxBlocks} PEM blocks`);
    i++;
    let b64 = "";
    for (;;) {
      if (i === all.length) throw new MalformedError("truncated", where, `no ${end}`);
      const line = all[i++]!;
      if (line === end) break;
      if (line.startsWith("-----")) throw new MalformedError("bad-magic", where, "END label does not match BEGIN");
      if (!LINE.test(line)) throw new MalformedError("bad-value", where, "not a base64 line");
      b64 += line;
    }
    const der = base64Decode(b64, where, maxBytes);
    if (der.length === 0) throw new MalformedError("bad-length", where, "empty PEM block");
    out.push(der);
  }
  if (out.length === 0) throw new MalformedError("bad-length", what, `no ${label} block`);
  return out;
}

/**
 * Decode a PEM text that must hold exactly one block.
 *
 * @example
 * const der = decodePemBlock(text, { label: "X509 CRL", what: "CRL", maxBytes: 1 << 24 });
 */
export function decodePemBlock(input: string | Uint8Array, options: Omit<PemDecodeOptions, "maxBlocks">): Uint8Array {
  return decodePem(input, { ...options, maxBlocks: 1 })[0]!;
}

/**
 * PEM text of one block: 64-character lines (RFC 7468 §2), ending with a
 * newline.
 *
 * @example
 * encodePem("CERTIFICATE", der); // "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"
 */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = base64Encode(der);
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += 64) out.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${out.join("\n")}\n-----END ${label}-----\n`;
}

/** Whether `input` starts like a PEM text (after optional whitespace), to tell PEM from DER. */
export function looksLikePem(input: string | Uint8Array): boolean {
  const prefix = "-----BEGIN ";
  let i = 0;
  const at = (k: number): number => (typeof input === "string" ? input.charCodeAt(k) : (input[k] ?? Number.NaN));
  const length = input.length;
  while (i < length && (at(i) === 0x20 || at(i) === 0x09 || at(i) === 0x0a || at(i) === 0x0d)) i++;
  for (let k = 0; k < prefix.length; k++) if (at(i + k) !== prefix.charCodeAt(k)) return false;
  return true;
}
