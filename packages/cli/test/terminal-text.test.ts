/**
 * Model output on a terminal: control sequences and control characters are
 * removed (ECMA-48 CSI, OSC, DCS/SOS/PM/APC strings, nF and two-character
 * escapes, 8-bit C1 forms, C0 and DEL), line feeds and tabs kept; split
 * across streamed deltas too. Into a pipe the output is raw.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { modelOutputWriter, stripTerminalControls, TerminalTextFilter } from "../src/terminal-text.js";

/** Whether `s` holds something a terminal would act on: C0 but \t \n, DEL, C1. */
const CONTROL = {
  test: (s: string): boolean =>
    [...s].some((ch) => {
      const c = ch.codePointAt(0)!;
      return (c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f);
    }),
};

const attacks: [string, string][] = [
  ["\u001b]0;pwned title\u0007Hello", "Hello"], // OSC 0: window title, BEL-terminated
  ["\u001b]8;;https://evil.example/\u001b\\click\u001b]8;;\u001b\\ here", "click here"], // OSC 8 hyperlink
  ["\u001b]52;c;aGVsbG8=\u0007copied", "copied"], // OSC 52 clipboard write
  ["ok\u001b[2K\u001b[1A\u001b[31m✓ verified\u001b[0m", "ok✓ verified"], // erase line, cursor up, colours
  ["a\u001b[?1049hb", "ab"], // private-mode CSI (alternate screen)
  ["\u009b31mred\u009b0m", "red"], // 8-bit CSI
  ["\u009d0;title\u009cT", "T"], // 8-bit OSC and ST
  ["\u001bPq#0;2;0;0;0\u001b\\img", "img"], // DCS (sixel)
  ["\u001b_apc\u001b\\\u001b^pm\u001b\\\u001bXsos\u001b\\x", "x"], // APC, PM, SOS
  ["\u001b(0lqk\u001b(B", "lqk"], // nF: designate the line-drawing set
  ["\u001bc\u001b7\u001b8reset", "reset"], // RIS, DECSC, DECRC
  ["line\rover", "lineover"], // carriage return would overwrite the line
  ["bell\u0007 back\bspace\u007f", "bell backspace"],
  ["keep\ttabs\nand lines\n", "keep\ttabs\nand lines\n"],
  ["unicode ✓ é 漢字 🙂", "unicode ✓ é 漢字 🙂"],
  ["\u001b\u001b[31mx", "x"],
  ["\u001b\nnext", "\nnext"],
];

describe("terminal text filter", () => {
  test("known attack sequences are removed, text kept", () => {
    for (const [input, expected] of attacks) {
      assert.equal(stripTerminalControls(input), expected, JSON.stringify(input));
    }
  });

  test("a sequence split across deltas is removed as a whole", () => {
    for (const [input, expected] of attacks) {
      for (let cut = 0; cut <= input.length; cut++) {
        const filter = new TerminalTextFilter();
        const out = filter.push(input.slice(0, cut)) + filter.push(input.slice(cut));
        assert.equal(out, expected, `${JSON.stringify(input)} cut at ${cut}`);
      }
    }
  });

  test("property: no control character ever survives, in any chunking", () => {
    const dangerous = fc.constantFrom("\u001b", "\u009b", "\u009d", "\u0090", "\u009c", "\u0007", "\r", "[", "]", "\\");
    const text = fc.array(fc.oneof(fc.string({ unit: "binary" }), dangerous), { maxLength: 30 });
    fc.assert(
      fc.property(text, fc.array(fc.nat(40), { maxLength: 6 }), (parts, cuts) => {
        const input = parts.join("");
        const filter = new TerminalTextFilter();
        let out = "";
        let at = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          out += filter.push(input.slice(at, Math.max(at, cut)));
          at = Math.max(at, cut);
        }
        out += filter.push(input.slice(at));
        assert.ok(!CONTROL.test(out), JSON.stringify(out));
      }),
      { numRuns: 2000 },
    );
  });

  test("property: text without controls passes unchanged", () => {
    const plain = fc.string({ unit: "grapheme" }).filter((s) => !CONTROL.test(s));
    fc.assert(fc.property(plain, (s) => stripTerminalControls(s) === s));
  });

  test("the writer filters on a TTY only, unless --raw-output", () => {
    const sink = (isTTY: boolean) => {
      const written: string[] = [];
      return { isTTY, written, write: (t: string) => written.push(t) };
    };
    const tty = sink(true);
    const write = modelOutputWriter(tty);
    write("\u001b]0;x");
    write("\u0007hi\u001b[");
    write("31m!");
    assert.equal(tty.written.join(""), "hi!");
    const pipe = sink(false);
    modelOutputWriter(pipe)("\u001b[31mraw");
    assert.deepEqual(pipe.written, ["\u001b[31mraw"]);
    const raw = sink(true);
    modelOutputWriter(raw, true)("\u001b[31mraw");
    assert.deepEqual(raw.written, ["\u001b[31mraw"]);
  });
});
