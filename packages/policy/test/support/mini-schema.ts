/**
 * Just enough JSON Schema (draft 2020-12) to check docs/policy.schema.json
 * against documents in tests, without a dependency: the keywords that schema
 * uses. An unknown keyword is an error, so the schema cannot drift to
 * keywords these tests would silently ignore.
 */
type Schema = { readonly [keyword: string]: unknown };

const ANNOTATIONS = new Set(["$schema", "$id", "title", "description", "$defs"]);
const KNOWN = new Set([
  ...ANNOTATIONS,
  "type",
  "const",
  "enum",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "minProperties",
  "maxProperties",
  "items",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "oneOf",
  "$ref",
]);

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** Validate `value` against `schema` (resolving `#/$defs/...` in `root`); returns the first error or null. */
export function schemaError(root: Schema, value: unknown, schema: Schema = root, path = "$"): string | null {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`unsupported keyword ${k} at ${path}`);
  if (typeof schema.$ref === "string") {
    const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name === undefined ? undefined : (root.$defs as Record<string, Schema>)[name];
    if (target === undefined) throw new Error(`unresolvable $ref ${schema.$ref}`);
    const e = schemaError(root, value, target, path);
    if (e) return e;
  }
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const ok = schema.type === t || (schema.type === "number" && t === "integer");
    if (!ok) return `${path}: expected ${schema.type}, got ${t}`;
  }
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) return `${path}: not the constant`;
  if (schema.enum && !(schema.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `${path}: not in enum`;
  }
  if (Array.isArray(schema.oneOf)) {
    const matches = (schema.oneOf as Schema[]).filter((s) => schemaError(root, value, s, path) === null).length;
    if (matches !== 1) return `${path}: matches ${matches} of oneOf`;
  }
  if (t === "string") {
    const s = value as string;
    if (typeof schema.minLength === "number" && [...s].length < schema.minLength) return `${path}: too short`;
    if (typeof schema.maxLength === "number" && [...s].length > schema.maxLength) return `${path}: too long`;
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(s)) return `${path}: pattern`;
  }
  if (t === "integer" || t === "number") {
    const n = value as number;
    if (typeof schema.minimum === "number" && n < schema.minimum) return `${path}: below minimum`;
    if (typeof schema.maximum === "number" && n > schema.maximum) return `${path}: above maximum`;
  }
  if (t === "array") {
    const a = value as unknown[];
    if (typeof schema.minItems === "number" && a.length < schema.minItems) return `${path}: too few items`;
    if (typeof schema.maxItems === "number" && a.length > schema.maxItems) return `${path}: too many items`;
    if (schema.uniqueItems === true && new Set(a.map((v) => JSON.stringify(v))).size !== a.length) {
      return `${path}: items not unique`;
    }
    if (schema.items !== undefined) {
      for (let i = 0; i < a.length; i++) {
        const e = schemaError(root, a[i], schema.items as Schema, `${path}[${i}]`);
        if (e) return e;
      }
    }
  }
  if (t === "object") {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (typeof schema.minProperties === "number" && keys.length < schema.minProperties)
      return `${path}: too few members`;
    if (typeof schema.maxProperties === "number" && keys.length > schema.maxProperties)
      return `${path}: too many members`;
    for (const r of (schema.required as string[] | undefined) ?? []) {
      if (!Object.hasOwn(o, r)) return `${path}.${r}: required`;
    }
    const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const k of keys) {
      if (schema.propertyNames !== undefined) {
        const e = schemaError(root, k, schema.propertyNames as Schema, `${path}[name ${JSON.stringify(k)}]`);
        if (e) return e;
      }
      const sub = Object.hasOwn(props, k) ? props[k] : schema.additionalProperties;
      if (sub === false) return `${path}.${k}: additional member`;
      if (sub !== undefined && sub !== true) {
        const e = schemaError(root, o[k], sub as Schema, `${path}.${k}`);
        if (e) return e;
      }
    }
  }
  return null;
}

/** Every member name the schema's `properties` mention, as dotted paths (following `$ref` and `items`). */
export function schemaPaths(root: Schema, schema: Schema = root, prefix = ""): string[] {
  const out: string[] = [];
  if (typeof schema.$ref === "string") {
    const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)![1]!;
    out.push(...schemaPaths(root, (root.$defs as Record<string, Schema>)[name]!, prefix));
  }
  for (const [k, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
    const p = prefix === "" ? k : `${prefix}.${k}`;
    out.push(p, ...schemaPaths(root, sub, p));
  }
  if (schema.items !== undefined) out.push(...schemaPaths(root, schema.items as Schema, `${prefix}[]`));
  return out;
}
