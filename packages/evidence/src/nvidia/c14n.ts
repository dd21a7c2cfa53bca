/**
 * Canonical XML 1.1 (W3C REC xml-c14n11, 2008), inclusive, without
 * comments, for the XML subset {@link parseXml} accepts — what XML-DSig
 * needs to check NVIDIA's signed reference integrity manifests:
 *
 * - the whole document with one element left out (the enveloped-signature
 *   transform, XML-DSig §6.6.4, applied to the Reference with URI=""), and
 * - a document subset: one element and its descendants (the SignedInfo,
 *   XML-DSig §4.4.3), whose apex renders every namespace in scope (§2.3).
 *
 * Rules applied (c14n11 §2.1–§2.3): no XML declaration; empty elements as
 * start-end tag pairs; namespace declarations rendered where they differ
 * from the output parent's (all in-scope ones on the apex), sorted by
 * prefix, before attributes sorted by namespace URI then local name;
 * text escapes &, <, > and CR; attribute values escape &, <, ", TAB, LF, CR.
 * xml:* attributes of elements outside a subset would be inherited by the
 * apex (c14n11 §2.4); documents that need it are refused as unsupported
 * rather than canonicalized approximately.
 */
import { MalformedError } from "@veritee/core";
import type { XmlElement } from "./xml.js";

const XML_NS = "http://www.w3.org/XML/1998/namespace";

/** What to canonicalize: the whole document, or the subtree at `apex`; `exclude` is left out (with its subtree). */
export interface CanonicalizeOptions {
  readonly apex?: XmlElement;
  readonly exclude?: XmlElement;
}

/**
 * The canonical form (UTF-8 bytes) of `root`'s document or of the subset at `options.apex`.
 *
 * @throws MalformedError `unsupported` when the apex is not in the document, or
 *   when xml:* attributes outside a subset would have to be inherited.
 */
export function canonicalizeXml(root: XmlElement, options: CanonicalizeOptions = {}): Uint8Array {
  const apex = options.apex ?? root;
  const path = pathTo(root, apex);
  if (path === undefined)
    throw new MalformedError("unsupported", "XML", "the element to canonicalize is not in the document");
  const scope = new Map<string, string>();
  for (const ancestor of path.slice(0, -1)) {
    if (ancestor.attributes.some((a) => a.ns === XML_NS)) {
      throw new MalformedError("unsupported", "XML", "xml:* attributes inherited into a canonicalized subset");
    }
    for (const d of ancestor.declarations) scope.set(d.prefix, d.uri);
  }
  const out: string[] = [];
  // The apex renders every namespace in scope (c14n11 §2.3: its output parent has none).
  render(apex, scope, new Map(), options.exclude, out);
  return new TextEncoder().encode(out.join(""));
}

function pathTo(node: XmlElement, target: XmlElement): XmlElement[] | undefined {
  if (node === target) return [node];
  for (const child of node.children) {
    const path = pathTo(child, target);
    if (path) return [node, ...path];
  }
  return undefined;
}

/**
 * @param inherited namespaces in scope from the document (ancestors' declarations)
 * @param rendered  namespaces in scope as the output parent rendered them
 */
function render(
  element: XmlElement,
  inherited: ReadonlyMap<string, string>,
  rendered: ReadonlyMap<string, string>,
  exclude: XmlElement | undefined,
  out: string[],
): void {
  const scope = new Map(inherited);
  for (const d of element.declarations) scope.set(d.prefix, d.uri);
  const declarations: [string, string][] = [];
  for (const [prefix, uri] of scope) {
    const parentValue = rendered.get(prefix) ?? (prefix === "" ? "" : undefined);
    // An empty default namespace is rendered only to undo a non-empty one in the output parent.
    if (parentValue !== uri) declarations.push([prefix, uri]);
  }
  declarations.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const attributes = [...element.attributes].sort((a, b) =>
    a.ns !== b.ns ? (a.ns < b.ns ? -1 : 1) : a.local < b.local ? -1 : a.local > b.local ? 1 : 0,
  );
  out.push(`<${element.qname}`);
  for (const [prefix, uri] of declarations) out.push(` ${prefix === "" ? "xmlns" : `xmlns:${prefix}`}="${attr(uri)}"`);
  for (const a of attributes) out.push(` ${a.qname}="${attr(a.value)}"`);
  out.push(">");
  const next = new Map(rendered);
  for (const [prefix, uri] of declarations) next.set(prefix, uri);
  for (const item of element.content) {
    if (typeof item === "string") out.push(text(item));
    else if (item !== exclude) render(item, scope, next, exclude, out);
  }
  out.push(`</${element.qname}>`);
}

function text(value: string): string {
  return value.replace(/[&<>\r]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&#xD;"));
}

function attr(value: string): string {
  return value.replace(/[&<"\t\n\r]/g, (c) =>
    c === "&"
      ? "&amp;"
      : c === "<"
        ? "&lt;"
        : c === '"'
          ? "&quot;"
          : c === "\t"
            ? "&#x9;"
            : c === "\n"
              ? "&#xA;"
              : "&#xD;",
  );
}
