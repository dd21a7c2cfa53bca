/**
 * A strict parser for the XML subset that NVIDIA's reference integrity
 * manifests (SWID tags, ISO/IEC 19770-2) use: one root element, elements
 * with attributes and text, namespace declarations (Namespaces in XML 1.0
 * §3–§6), the five predefined entities and character references. Anything
 * else — a DTD, processing instructions other than the XML declaration,
 * comments, CDATA sections, other entities — is refused, so no entity
 * expansion or external fetch can happen. Bounded in size, depth and count.
 */
import { MalformedError } from "@veritee/core";

/** A resolved name: namespace URI ("" for none) and local part. */
export interface XmlName {
  readonly ns: string;
  readonly local: string;
}

/** One attribute (namespace declarations are not listed; they are resolved). */
export interface XmlAttribute extends XmlName {
  /** The name as written (`ns1:BindingSpec`). */
  readonly qname: string;
  readonly value: string;
}

/** A namespace declaration as written on an element: `xmlns="uri"` (prefix "") or `xmlns:p="uri"`. */
export interface XmlNamespaceDeclaration {
  readonly prefix: string;
  readonly uri: string;
}

/** One element with its attributes, child elements and concatenated text. */
export interface XmlElement extends XmlName {
  /** The name as written (`ns0:Payload`). */
  readonly qname: string;
  /** The namespace declarations on this element, in document order (canonicalization needs them). */
  readonly declarations: readonly XmlNamespaceDeclaration[];
  readonly attributes: readonly XmlAttribute[];
  readonly children: readonly XmlElement[];
  /** The element's direct text content, entities resolved. */
  readonly text: string;
  /** Child elements and text runs in document order (canonicalization needs them). */
  readonly content: readonly (XmlElement | string)[];
}

/** Limits of {@link parseXml}. */
export const XML_LIMITS = Object.freeze({ maxText: 1 << 20, maxDepth: 16, maxElements: 10_000, maxAttributes: 64 });

const WHAT = "XML";
const XML_NS = "http://www.w3.org/XML/1998/namespace";
const NAME = /[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?/y;
const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

class Parser {
  pos = 0;
  elements = 0;
  constructor(readonly text: string) {}

  fail(code: "bad-value" | "unsupported" | "truncated" | "too-deep" | "too-large", detail: string): never {
    throw new MalformedError(code, WHAT, `${detail} at offset ${this.pos}`);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && " \t\r\n".includes(this.text[this.pos]!)) this.pos++;
  }

  name(): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.text);
    if (!m) this.fail("bad-value", "expected a name");
    this.pos += m[0].length;
    return m[0];
  }

  /** Text up to `stop`, with entity and character references resolved. */
  chars(stop: string, inAttribute: boolean): string {
    let out = "";
    for (;;) {
      if (this.pos >= this.text.length) this.fail("truncated", "unterminated text");
      const c = this.text[this.pos]!;
      if (stop.includes(c)) return out;
      if (c === "<") this.fail("bad-value", "'<' in an attribute value");
      if (c === "&") {
        const end = this.text.indexOf(";", this.pos);
        if (end < 0 || end - this.pos > 10) this.fail("bad-value", "bad reference");
        const ref = this.text.slice(this.pos + 1, end);
        let ch: string | undefined;
        if (/^#[0-9]{1,7}$/.test(ref)) ch = codePoint(Number.parseInt(ref.slice(1), 10));
        else if (/^#x[0-9a-fA-F]{1,6}$/.test(ref)) ch = codePoint(Number.parseInt(ref.slice(2), 16));
        else ch = ENTITIES[ref];
        if (ch === undefined) this.fail("unsupported", "an entity other than the predefined ones");
        out += ch;
        this.pos = end + 1;
        continue;
      }
      const code = c.charCodeAt(0);
      // XML 1.0 §2.2 Char: no C0 controls but tab, LF, CR.
      if (code < 0x20 && c !== "\t" && c !== "\n" && c !== "\r") this.fail("bad-value", "a control character");
      // XML 1.0 §3.3.3: attribute values normalise whitespace characters to spaces.
      out += inAttribute && (c === "\t" || c === "\n" || c === "\r") ? " " : c;
      this.pos++;
    }
  }

  element(depth: number, scope: ReadonlyMap<string, string>): XmlElement {
    if (depth > XML_LIMITS.maxDepth) this.fail("too-deep", `nested deeper than ${XML_LIMITS.maxDepth}`);
    if (++this.elements > XML_LIMITS.maxElements) this.fail("too-large", "too many elements");
    if (this.text[this.pos] !== "<") this.fail("bad-value", "expected an element");
    this.pos++;
    const qname = this.name();
    const raw: { name: string; value: string }[] = [];
    for (;;) {
      const before = this.pos;
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === "/" || c === ">") break;
      if (this.pos === before) this.fail("bad-value", "expected whitespace before an attribute");
      const name = this.name();
      this.skipSpace();
      if (this.text[this.pos] !== "=") this.fail("bad-value", "expected '='");
      this.pos++;
      this.skipSpace();
      const quote = this.text[this.pos];
      if (quote !== '"' && quote !== "'") this.fail("bad-value", "expected a quoted value");
      this.pos++;
      const value = this.chars(quote, true);
      this.pos++;
      if (raw.some((a) => a.name === name)) this.fail("bad-value", "an attribute given twice");
      if (raw.length === XML_LIMITS.maxAttributes) this.fail("too-large", "too many attributes");
      raw.push({ name, value });
    }
    const inner = new Map(scope);
    const declarations: XmlNamespaceDeclaration[] = [];
    for (const { name, value } of raw) {
      if (name === "xmlns") {
        inner.set("", value);
        declarations.push(Object.freeze({ prefix: "", uri: value }));
      } else if (name.startsWith("xmlns:")) {
        if (value === "") this.fail("bad-value", "an empty namespace for a prefix");
        if (name === "xmlns:xml" || name === "xmlns:xmlns") this.fail("unsupported", "a reserved prefix declared");
        inner.set(name.slice(6), value);
        declarations.push(Object.freeze({ prefix: name.slice(6), uri: value }));
      }
    }
    const resolve = (q: string, isAttribute: boolean): XmlName => {
      const colon = q.indexOf(":");
      if (colon < 0) return { ns: isAttribute ? "" : (inner.get("") ?? ""), local: q };
      const prefix = q.slice(0, colon);
      const ns = prefix === "xml" ? XML_NS : inner.get(prefix);
      if (ns === undefined) this.fail("bad-value", "an undeclared namespace prefix");
      return { ns, local: q.slice(colon + 1) };
    };
    const attributes: XmlAttribute[] = [];
    for (const { name, value } of raw) {
      if (name === "xmlns" || name.startsWith("xmlns:")) continue;
      const n = resolve(name, true);
      if (attributes.some((a) => a.ns === n.ns && a.local === n.local))
        this.fail("bad-value", "an attribute given twice");
      attributes.push(Object.freeze({ ...n, qname: name, value }));
    }
    const { ns, local } = resolve(qname, false);
    const children: XmlElement[] = [];
    const content: (XmlElement | string)[] = [];
    let text = "";
    if (this.text.startsWith("/>", this.pos)) {
      this.pos += 2;
    } else {
      this.pos++; // ">"
      for (;;) {
        const run = this.chars("<", false);
        text += run;
        if (run !== "") content.push(run);
        if (this.text.startsWith("</", this.pos)) {
          this.pos += 2;
          if (this.name() !== qname) this.fail("bad-value", "a mismatched end tag");
          this.skipSpace();
          if (this.text[this.pos] !== ">") this.fail("bad-value", "expected '>'");
          this.pos++;
          break;
        }
        if (this.text.startsWith("<!", this.pos) || this.text.startsWith("<?", this.pos)) {
          this.fail("unsupported", "a comment, CDATA section, DTD or processing instruction");
        }
        const child = this.element(depth + 1, inner);
        children.push(child);
        content.push(child);
      }
    }
    return Object.freeze({
      ns,
      local,
      qname,
      declarations: Object.freeze(declarations),
      attributes: Object.freeze(attributes),
      children: Object.freeze(children),
      text,
      content: Object.freeze(content),
    });
  }
}

function codePoint(n: number): string | undefined {
  // XML 1.0 §2.2 Char.
  const ok =
    n === 0x9 ||
    n === 0xa ||
    n === 0xd ||
    (n >= 0x20 && n <= 0xd7ff) ||
    (n >= 0xe000 && n <= 0xfffd) ||
    (n >= 0x10000 && n <= 0x10ffff);
  return ok ? String.fromCodePoint(n) : undefined;
}

/**
 * Parse an XML document of the supported subset (see the module comment).
 * An XML declaration (`<?xml ...?>`) at the very start is allowed and skipped.
 *
 * @throws MalformedError (`bad-value`, `unsupported`, `truncated`, `too-deep`, `too-large`), nothing else.
 * @example
 * const root = parseXml(readFileSync("driver.swidtag", "utf8"));
 * root.local; // "SoftwareIdentity"
 */
export function parseXml(input: string): XmlElement {
  if (typeof input !== "string") throw new MalformedError("bad-value", WHAT, "not a string");
  if (input.length > XML_LIMITS.maxText)
    throw new MalformedError("too-large", WHAT, `over ${XML_LIMITS.maxText} characters`);
  // XML 1.0 §2.11: CR LF and lone CR are read as LF (character references to CR survive).
  const text = input.replace(/\r\n?/g, "\n");
  const p = new Parser(text);
  if (text.startsWith("\ufeff")) p.pos = 1;
  if (text.startsWith("<?xml", p.pos)) {
    const end = text.indexOf("?>", p.pos);
    if (end < 0) p.fail("truncated", "unterminated XML declaration");
    p.pos = end + 2;
  }
  p.skipSpace();
  if (text.startsWith("<!", p.pos) || text.startsWith("<?", p.pos)) {
    p.fail("unsupported", "a comment, DTD or processing instruction");
  }
  const root = p.element(0, new Map());
  p.skipSpace();
  if (p.pos !== text.length) p.fail("bad-value", "content after the root element");
  return root;
}

/** The first child of `parent` with this namespace and local name, if any. */
export function xmlChild(parent: XmlElement, ns: string, local: string): XmlElement | undefined {
  return parent.children.find((c) => c.ns === ns && c.local === local);
}

/** The value of the attribute with this namespace ("" for none) and local name, if any. */
export function xmlAttribute(element: XmlElement, ns: string, local: string): string | undefined {
  return element.attributes.find((a) => a.ns === ns && a.local === local)?.value;
}
