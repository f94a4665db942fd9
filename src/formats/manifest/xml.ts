import { XMLParser, XMLValidator } from "fast-xml-parser";
import { FormatError } from "../../util/errors.js";

/** A plain element tree: enough for manifests, with document order kept (templates need it). */
export interface XmlElement {
  /** Local name (namespace prefix removed). */
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

/** Decodes manifest bytes: UTF-8 (BOM or not) or UTF-16 LE/BE (BOM, or `<\0` at the start). */
export function decodeXmlBytes(bytes: Uint8Array): string {
  const b0 = bytes[0];
  const b1 = bytes[1];
  if (b0 === 0xff && b1 === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (b0 === 0xfe && b1 === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  if (b0 === 0x3c && b1 === 0x00) return new TextDecoder("utf-16le").decode(bytes);
  if (b0 === 0x00 && b1 === 0x3c) return new TextDecoder("utf-16be").decode(bytes);
  return new TextDecoder("utf-8").decode(bytes).replace(/^\uFEFF/, "");
}

/**
 * Removes every `<!DOCTYPE ...>` declaration (including an internal subset `[...]`), so no entity
 * it declares can ever be expanded — external (`SYSTEM "file:..."`) or recursive ("billion laughs").
 * References to such entities then stay as literal text. Returns the text and whether one was found.
 */
export function stripDoctype(text: string): { text: string; removed: number } {
  // One pass over the text (linear: 100,000 declarations cost one scan, not one scan each).
  const parts: string[] = [];
  let removed = 0;
  let copied = 0;
  for (;;) {
    const start = text.indexOf("<!DOCTYPE", copied);
    if (start < 0) break;
    let i = start + 9;
    let depth = 0;
    let quote = "";
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (quote) {
        if (c === quote) quote = "";
      } else if (c === '"' || c === "'") quote = c;
      else if (c === "[") depth++;
      else if (c === "]") depth--;
      else if (c === ">" && depth <= 0) break;
    }
    if (i >= text.length) throw new FormatError("manifest-xml", "unterminated DOCTYPE declaration", start);
    parts.push(text.slice(copied, start));
    copied = i + 1;
    removed++;
  }
  if (removed === 0) return { text, removed };
  parts.push(text.slice(copied));
  const out = parts.join("");
  // Removing one declaration must not join the text around it into another.
  const formed = out.indexOf("<!DOCTYPE");
  if (formed >= 0)
    throw new FormatError("manifest-xml", "a DOCTYPE declaration is formed by removing nested ones", formed);
  return { text: out, removed };
}

/** After a closing quote comes another attribute or the end of the tag. */
const AFTER_VALUE = String.raw`(?:\s+[\w:.-]+\s*=|\s*\/?>)`;
const CLOSES_VALUE = new RegExp(AFTER_VALUE, "y");

/**
 * Escapes `"` and `<` inside one-line double-quoted attribute values; the closing quote is the one
 * followed by another attribute or the end of the tag. Linear: a value with no closing quote fails
 * once for its whole line, not once per `="` on it.
 */
export function repairAttributeQuotes(text: string): { text: string; count: number } {
  const closesAt = (q: number) => {
    CLOSES_VALUE.lastIndex = q + 1;
    return CLOSES_VALUE.test(text);
  };
  const parts: string[] = [];
  let count = 0;
  let copied = 0;
  let from = 0;
  for (;;) {
    const open = text.indexOf('="', from);
    if (open < 0) break;
    let i = open + 2;
    let close = -1;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) break; // values are one line
      if (c === 0x22 && closesAt(i)) {
        close = i;
        break;
      }
    }
    if (close < 0) {
      from = i; // every `="` before the end of this line fails the same way
      continue;
    }
    const inner = text.slice(open + 2, close);
    if (inner.includes('"') || inner.includes("<")) {
      count++;
      parts.push(text.slice(copied, open), `="${inner.replace(/"/g, "&quot;").replace(/</g, "&lt;")}"`);
      copied = close + 1;
    }
    from = close + 1;
  }
  if (count === 0) return { text, count };
  parts.push(text.slice(copied));
  return { text: parts.join(""), count };
}

const predefinedEntities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Decodes the five XML predefined entities and numeric character references; leaves others literal. */
export function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (whole, ref: string) => {
    if (ref[0] !== "#") return predefinedEntities[ref]!;
    const code = ref[1] === "x" ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
    return code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  removeNSPrefix: true,
  allowBooleanAttributes: true,
  // Entities are never expanded by the library: DOCTYPEs are stripped before parsing and the
  // predefined entities are decoded by decodeEntities.
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  maxNestedTags: 64,
});

type OrderedNode = Record<string, unknown>;

function toElement(node: OrderedNode): XmlElement | undefined {
  const tag = Object.keys(node).find((k) => k !== ":@");
  if (tag === undefined || tag === "#text" || tag.startsWith("?")) return undefined;
  const rawAttrs = (node[":@"] ?? {}) as Record<string, unknown>;
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawAttrs)) attrs[k] = decodeEntities(v === true ? "" : String(v));
  const kids = node[tag];
  const children: XmlElement[] = [];
  if (Array.isArray(kids)) {
    for (const k of kids) {
      const el = toElement(k as OrderedNode);
      if (el) children.push(el);
    }
  }
  return { name: tag, attrs, children };
}

/**
 * Parses XML text into element trees (document order). Validates well-formedness first so that
 * truncated or garbage input fails with a FormatError instead of yielding half a tree.
 */
export function parseXml(text: string): { roots: XmlElement[]; notes: string[] } {
  const notes: string[] = [];
  const stripped = stripDoctype(text);
  if (stripped.removed) notes.push("DOCTYPE declaration ignored: entities are never expanded");
  let xml = stripped.text;
  let valid = XMLValidator.validate(xml, { allowBooleanAttributes: true });
  if (valid !== true) {
    // Manifests rebuilt from TDH data carry unescaped quotes inside attribute values
    // (message="$(string.Map"No loopback mode")"). Repair those and try once more.
    const repaired = repairAttributeQuotes(xml);
    if (
      repaired.count > 0 &&
      XMLValidator.validate(repaired.text, { allowBooleanAttributes: true }) === true
    ) {
      notes.push(`repaired ${repaired.count} attribute value(s) with unescaped quotes`);
      xml = repaired.text;
      valid = true;
    }
  }
  if (valid !== true) {
    const e = valid.err;
    throw new FormatError("manifest-xml", `not well-formed XML: ${e.msg} (line ${e.line}, column ${e.col})`);
  }
  let ordered: OrderedNode[];
  try {
    ordered = parser.parse(xml) as OrderedNode[];
  } catch (err) {
    throw new FormatError("manifest-xml", `XML parse failed: ${(err as Error).message}`);
  }
  const roots: XmlElement[] = [];
  for (const n of ordered) {
    const el = toElement(n);
    if (el) roots.push(el);
  }
  return { roots, notes };
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** Every descendant (depth-first, document order) with the given local name. */
export function descendants(el: XmlElement, name: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (c.name === name) out.push(c);
    descendants(c, name, out);
  }
  return out;
}
