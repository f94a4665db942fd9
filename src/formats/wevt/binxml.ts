import { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";

/**
 * The BinXML fragment inside a TEMP record (WEVT dialect of MS-EVEN6 BinXml): element and
 * attribute names are inline (`u16 hash, u16 chars, UTF-16, u16 0`), values are substitutions
 * (`%1`..) that refer to the template's properties. We keep the shape only: element tree,
 * attribute names, literal text and where each substitution goes.
 */
export type BinXmlNode = BinXmlElement | BinXmlText | BinXmlSubstitution;

export interface BinXmlText {
  text: string;
}

export interface BinXmlSubstitution {
  /** 0-based substitution (property) index. */
  substitution: number;
  /** BinXml value type the substitution is declared with. */
  valueType: number;
  optional: boolean;
}

export interface BinXmlAttribute {
  name: string;
  value: BinXmlNode[];
}

export interface BinXmlElement {
  name: string;
  attributes: BinXmlAttribute[];
  children: BinXmlNode[];
}

const MAX_DEPTH = 64;
const VALUE_STRING = 0x01;

/** Parses one BinXML fragment (`bytes` is exactly the fragment); returns its root element. */
export function parseBinXml(bytes: Uint8Array, baseOffset = 0): BinXmlElement | undefined {
  const v = new ByteView(bytes, "wevt binxml");
  const fail = (what: string, at: number): never => {
    throw new FormatError("wevt", `template BinXML: ${what}`, baseOffset + at);
  };
  let root: BinXmlElement | undefined;
  const stack: BinXmlElement[] = [];
  let attr: BinXmlAttribute | undefined;
  let p = 0;

  const readName = (): string => {
    const chars = v.u16(p + 2);
    const name = v.utf16(p + 4, chars);
    p += 4 + chars * 2 + 2;
    return name;
  };
  const readCountedText = (): string => {
    const chars = v.u16(p);
    const text = v.utf16(p + 2, chars);
    p += 2 + chars * 2;
    return text;
  };
  const add = (node: BinXmlNode, at: number): void => {
    if (attr) attr.value.push(node);
    else if (stack.length > 0) stack[stack.length - 1]!.children.push(node);
    else fail("content outside any element", at);
  };

  while (p < bytes.length) {
    const at = p;
    const token = v.u8(p++);
    switch (token) {
      case 0x00: // end of fragment
        if (stack.length > 0) fail(`fragment ends inside <${stack[stack.length - 1]!.name}>`, at);
        return root;
      case 0x0f: // fragment header: major, minor, flags
        p += 3;
        break;
      case 0x01:
      case 0x41: {
        p += 2 + 4; // dependency id, data size
        const el: BinXmlElement = { name: readName(), attributes: [], children: [] };
        if (token === 0x41) p += 4; // attribute list size
        if (stack.length >= MAX_DEPTH) fail("elements nested too deeply", at);
        if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
        else if (root) fail("second root element", at);
        else root = el;
        stack.push(el);
        attr = undefined;
        break;
      }
      case 0x02: // close start tag
        if (stack.length === 0) fail("close of a start tag that was not opened", at);
        attr = undefined;
        break;
      case 0x03: // close empty element
      case 0x04: // end element
        if (stack.length === 0) fail("end of an element that was not opened", at);
        stack.pop();
        attr = undefined;
        break;
      case 0x06:
      case 0x46: {
        const el = stack[stack.length - 1] ?? fail("attribute outside an element", at);
        attr = { name: readName(), value: [] };
        el.attributes.push(attr);
        break;
      }
      case 0x05:
      case 0x45: {
        const type = v.u8(p++);
        if (type !== VALUE_STRING) fail(`value type 0x${type.toString(16)} not supported in templates`, at);
        add({ text: readCountedText() }, at);
        break;
      }
      case 0x07:
      case 0x47:
        add({ text: readCountedText() }, at);
        break;
      case 0x08:
      case 0x48:
        add({ text: String.fromCharCode(v.u16(p)) }, at);
        p += 2;
        break;
      case 0x09:
      case 0x49:
        add({ text: `&${readName()};` }, at);
        break;
      case 0x0a: // processing instruction target / data: not part of the event shape
        readName();
        break;
      case 0x0b:
        readCountedText();
        break;
      case 0x0d:
      case 0x0e: {
        const index = v.u16(p);
        const valueType = v.u8(p + 2);
        p += 3;
        add({ substitution: index, valueType, optional: token === 0x0e }, at);
        break;
      }
      default:
        fail(`unknown token 0x${token.toString(16)}`, at);
    }
  }
  if (stack.length > 0) fail(`fragment ends inside <${stack[stack.length - 1]!.name}>`, p);
  return root;
}

/** Substitution indices in document order (attribute values and element content). */
export function substitutions(el: BinXmlElement): BinXmlSubstitution[] {
  const out: BinXmlSubstitution[] = [];
  const walk = (nodes: BinXmlNode[]): void => {
    for (const n of nodes) {
      if ("substitution" in n) out.push(n);
      else if ("name" in n) {
        for (const a of n.attributes) walk(a.value);
        walk(n.children);
      }
    }
  };
  walk([el]);
  return out;
}

const escapeXml = (s: string): string =>
  s
    .replace(/&(?![A-Za-z#][\w.-]*;)/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/"/g, "&quot;");

/** Renders the element as XML text with substitutions written `%N` (1-based, as in manifests). */
export function binXmlToString(el: BinXmlElement): string {
  const nodes = (ns: BinXmlNode[]): string =>
    ns
      .map((n) =>
        "substitution" in n ? `%${n.substitution + 1}` : "text" in n ? escapeXml(n.text) : binXmlToString(n),
      )
      .join("");
  const attrs = el.attributes.map((a) => ` ${a.name}="${nodes(a.value)}"`).join("");
  return el.children.length === 0
    ? `<${el.name}${attrs}/>`
    : `<${el.name}${attrs}>${nodes(el.children)}</${el.name}>`;
}
