/**
 * Model output on a terminal: text a model generates is untrusted, and a
 * terminal executes control sequences in it — retitling the window, moving
 * the cursor to overwrite what was printed (a fake "✓ verified" line),
 * OSC 8 links that show one address and open another, OSC 52 clipboard
 * writes, and on some terminals worse. So on a TTY, `chat` and `complete`
 * print only text: every control sequence and control character is removed
 * except line feed and tab. Into a pipe or a file the output stays raw (a
 * program reading it gets exactly what the model produced).
 *
 * The grammar is ECMA-48 (5th ed.) §5: ESC Fe (ESC 0x40–0x5F) is the 7-bit
 * form of a C1 control; CSI (ESC [ or U+009B) takes parameter bytes
 * 0x30–0x3F, intermediate bytes 0x20–0x2F and one final byte 0x40–0x7E
 * (§5.4); the control strings OSC, DCS, SOS, PM and APC (ESC ] P X ^ _, or
 * U+009D U+0090 U+0098 U+009E U+009F) run to ST (ESC \ or U+009C), and OSC
 * also to BEL as xterm accepts (§5.6); ESC with intermediates (0x20–0x2F)
 * takes one final byte (nF escapes, ECMA-35 §13.2). The filter is a state
 * machine over code points, so a sequence split across streamed deltas is
 * removed as a whole.
 */

const ESC = 0x1b;
const BEL = 0x07;
const CSI_8BIT = 0x9b;
const ST_8BIT = 0x9c;
/** C1 controls that open a control string (DCS, SOS, OSC, PM, APC). */
const STRING_OPENERS_8BIT = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]);
/** Their 7-bit final bytes after ESC: P, X, ], ^, _. */
const STRING_OPENERS_7BIT = new Set([0x50, 0x58, 0x5d, 0x5e, 0x5f]);

type State = "text" | "escape" | "nf-escape" | "csi" | "string" | "string-escape";

/** Removes terminal control sequences from streamed text; keeps `\n` and `\t`. */
export class TerminalTextFilter {
  #state: State = "text";

  /** The printable part of `chunk`; a sequence left open continues into the next chunk. */
  push(chunk: string): string {
    let out = "";
    for (const char of chunk) {
      const c = char.codePointAt(0)!;
      if (this.#step(c)) out += char;
    }
    return out;
  }

  /** True when `c` is printed. */
  #step(c: number): boolean {
    switch (this.#state) {
      case "text":
        return this.#text(c);
      case "escape":
        if (c === 0x5b) this.#state = "csi";
        else if (STRING_OPENERS_7BIT.has(c)) this.#state = "string";
        else if (c >= 0x20 && c <= 0x2f) this.#state = "nf-escape";
        else if (c >= 0x30 && c <= 0x7e)
          this.#state = "text"; // a two-character escape (Fp, Fe, Fs)
        else {
          // Not an escape sequence after all (ESC ESC, ESC newline…): drop the ESC, read c as text.
          this.#state = "text";
          return this.#text(c);
        }
        return false;
      case "nf-escape":
        if (c >= 0x20 && c <= 0x2f) return false;
        this.#state = "text";
        return c >= 0x30 && c <= 0x7e ? false : this.#text(c);
      case "csi":
        if (c >= 0x20 && c <= 0x3f) return false;
        this.#state = "text";
        return c >= 0x40 && c <= 0x7e ? false : this.#text(c);
      case "string":
        if (c === BEL || c === ST_8BIT) this.#state = "text";
        else if (c === ESC) this.#state = "string-escape";
        return false;
      case "string-escape":
        // ESC \ is ST; any other ESC inside a control string also ends it, and starts a new escape.
        this.#state = c === 0x5c ? "text" : "escape";
        return this.#state === "escape" ? this.#step(c) : false;
    }
  }

  #text(c: number): boolean {
    if (c === ESC) {
      this.#state = "escape";
      return false;
    }
    if (c === CSI_8BIT) {
      this.#state = "csi";
      return false;
    }
    if (STRING_OPENERS_8BIT.has(c)) {
      this.#state = "string";
      return false;
    }
    return !isControl(c);
  }
}

/** C0 (except tab and line feed), DEL and C1 controls. */
function isControl(c: number): boolean {
  if (c === 0x09 || c === 0x0a) return false;
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/** `text` without terminal control sequences (one whole string). */
export function stripTerminalControls(text: string): string {
  return new TerminalTextFilter().push(text);
}

/**
 * The writer for model output: filtered on a terminal (unless `raw`), as is
 * into a pipe or a file.
 */
export function modelOutputWriter(
  stream: { readonly isTTY?: boolean; write(text: string): unknown },
  raw = false,
): (text: string) => void {
  if (raw || stream.isTTY !== true) return (text) => void stream.write(text);
  const filter = new TerminalTextFilter();
  return (text) => {
    const printable = filter.push(text);
    if (printable !== "") stream.write(printable);
  };
}
