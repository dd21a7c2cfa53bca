/**
 * The strict JSON reader for human-written JSON (policies; RFC 8259), where
 * RFC 8785 canonical form (json.ts) cannot be asked for. `JSON.parse`
 * silently keeps the last of two members with the same name (RFC 8259 §4
 * leaves it open), so a reviewer reading the first `"codeBundle"` of a
 * policy could approve a value the client never uses. This reader refuses
 * duplicate member names, bounds the size and nesting, and refuses a
 * byte-order mark (RFC 8259 §8.1). Everything else follows the RFC 8259
 * grammar exactly.
 */
import { MalformedError } from "./errors.js";

/** Bounds and name of one {@link parseStrictJson} call. */
export interface StrictJsonOptions {
  /** Names the text in errors, e.g. "policy JSON". */
  readonly what: string;
  /** Longest text accepted, in UTF-16 code units. */
  readonly maxText: number;
  /** Deepest nesting accepted. */
  readonly maxDepth: number;
}

class Reader {
  pos = 0;
  constructor(
    readonly text: string,
    readonly what: string,
    readonly maxDepth: number,
  ) {}

  fail(detail: string): never {
    throw new MalformedError("bad-value", this.what, `${detail} at offset ${this.pos}`);
  }

  skipWhitespace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      // RFC 8259 §2: ws = space, horizontal tab, line feed, carriage return.
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  value(depth: number): unknown {
    if (depth > this.maxDepth) throw new MalformedError("too-deep", this.what, `nested deeper than ${this.maxDepth}`);
    this.skipWhitespace();
    const c = this.text[this.pos];
    switch (c) {
      case "{":
        return this.object(depth);
      case "[":
        return this.array(depth);
      case '"':
        return this.string();
      case "t":
        return this.literal("true", true);
      case "f":
        return this.literal("false", false);
      case "n":
        return this.literal("null", null);
      case undefined:
        throw new MalformedError("truncated", this.what, "the text ends where a value should start");
      default:
        if (c === "-" || (c >= "0" && c <= "9")) return this.number();
        return this.fail("unexpected character");
    }
  }

  literal<T>(word: string, value: T): T {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return value;
    }
    return this.fail("invalid literal");
  }

  number(): number {
    // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    const match = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(
      this.text.slice(this.pos, this.pos + 400),
    );
    if (match === null) return this.fail("invalid number");
    const n = Number(match[0]);
    if (!Number.isFinite(n)) return this.fail("number out of range");
    this.pos += match[0].length;
    return n;
  }

  string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = "";
    let start = this.pos;
    for (;;) {
      if (this.pos >= t.length) throw new MalformedError("truncated", this.what, "unterminated string");
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) return this.fail("unescaped control character in a string");
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += t.slice(start, this.pos);
      const e = t[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hex = t.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) return this.fail("invalid \\u escape");
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        case undefined:
          throw new MalformedError("truncated", this.what, "unterminated string");
        default:
          this.pos -= 2;
          return this.fail("invalid escape");
      }
      start = this.pos;
    }
  }

  array(depth: number): unknown[] {
    this.pos++; // [
    const out: unknown[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === "]") return out;
      if (c !== ",") {
        this.pos--;
        if (c === undefined) throw new MalformedError("truncated", this.what, "unterminated array");
        return this.fail("expected , or ]");
      }
    }
  }

  object(depth: number): Record<string, unknown> {
    this.pos++; // {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.skipWhitespace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') {
        if (this.pos >= this.text.length) throw new MalformedError("truncated", this.what, "unterminated object");
        return this.fail("expected a member name");
      }
      const name = this.string();
      if (seen.has(name)) return this.fail("duplicate member name");
      seen.add(name);
      this.skipWhitespace();
      if (this.text[this.pos] !== ":") {
        if (this.pos >= this.text.length) throw new MalformedError("truncated", this.what, "unterminated object");
        return this.fail("expected :");
      }
      this.pos++;
      // defineProperty, not assignment: a member named "__proto__" must stay a member.
      Object.defineProperty(out, name, {
        value: this.value(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === "}") return out;
      if (c !== ",") {
        this.pos--;
        if (c === undefined) throw new MalformedError("truncated", this.what, "unterminated object");
        return this.fail("expected , or }");
      }
    }
  }
}

/**
 * Parse JSON text strictly: RFC 8259 grammar, no duplicate member names, no
 * byte-order mark, at most `maxText` code units and `maxDepth` levels.
 * Bytes must be UTF-8.
 *
 * @throws MalformedError (`bad-value`, `truncated`, `too-large`, `too-deep`,
 *   `trailing-data`) naming `what` and the offset; never another error.
 * @example
 * parseStrictJson('{"a":1,"a":2}', { what: "policy JSON", maxText: 1 << 20, maxDepth: 32 }); // throws: duplicate member name
 */
export function parseStrictJson(input: string | Uint8Array, options: StrictJsonOptions): unknown {
  const { what, maxText, maxDepth } = options;
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else {
    if (input.length > maxText * 3) throw new MalformedError("too-large", what, "the text is too large");
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(input);
    } catch (cause) {
      throw new MalformedError("bad-value", what, "not UTF-8", { cause });
    }
  }
  if (text.length > maxText) throw new MalformedError("too-large", what, `longer than ${maxText}`);
  if (text.charCodeAt(0) === 0xfeff) throw new MalformedError("bad-value", what, "starts with a byte-order mark");
  const reader = new Reader(text, what, maxDepth);
  const value = reader.value(0);
  reader.skipWhitespace();
  if (reader.pos !== text.length)
    throw new MalformedError("trailing-data", what, `text after the value at offset ${reader.pos}`);
  return value;
}
