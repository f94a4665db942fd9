import { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import { ds01Decompress } from "./ds01.js";
import type { MofClass, MofDocument, MofProperty, MofValue, Qualifiers } from "./parse.js";

/**
 * Binary MOF ("BMF", the `MOFDATA` resource of drivers that register WMI classes).
 * Container: "FOMB", u32 version 1, u32 compressed size, u32 decompressed size, DS-01 stream.
 * Decompressed: "FOMB", u32 length of the object part, then u32 1, u32 1, u32 object count and
 * the objects; an optional "BMOFQUALFLAVOR11" table (qualifier flavors) follows the object part.
 * Object: u32 size, u32 0, u32 qualifier-block length, u32 data length, u32 kind (0 class,
 * 1 instance), data, then a method block. Data: qualifier block {u32 len, u32 count, items},
 * property block {u32 len, u32 count, items}, then system properties (__CLASS, __SUPERCLASS, ...).
 * Item: u32 size, u32 CIM type (0x2000 = array), u32 0, then either (u32 0xFFFFFFFF, u32 name
 * length) for a property — followed by its qualifier block — or (u32 name length, u32 0xFFFFFFFF)
 * for a system property followed by its value. Qualifier: u32 size, u32 type, u32 0, u32 name
 * length, UTF-16 name, value. Array values: u32 length, u32 1, u32 count, u32 data length, elements.
 */

const F = "bmof";
const NO_NAME = 0xffffffff;
const ARRAY = 0x2000;

const CIM_TYPES: Record<number, string> = {
  2: "sint16",
  3: "sint32",
  4: "real32",
  5: "real64",
  8: "string",
  11: "boolean",
  13: "object",
  16: "sint8",
  17: "uint8",
  18: "uint16",
  19: "uint32",
  20: "sint64",
  21: "uint64",
  101: "datetime",
  102: "ref",
  103: "char16",
};

/** Unwraps the "FOMB" container and decompresses the DS-01 stream. */
export function decompressBmof(bytes: Uint8Array): Uint8Array {
  const v = new ByteView(bytes, F);
  if (v.length < 16 || v.u32(0) !== 0x424d4f46)
    throw new FormatError(F, 'not a binary MOF (no "FOMB" header)');
  if (v.u32(4) !== 1) throw new FormatError(F, `unknown container version ${v.u32(4)}`);
  const compressed = v.u32(8);
  const size = v.u32(12);
  if (16 + compressed > bytes.length)
    throw new FormatError(F, `compressed size ${compressed} exceeds the resource`);
  return ds01Decompress(bytes.subarray(16, 16 + compressed), size);
}

function utf16z(v: ByteView, off: number, byteLen: number): string {
  let s = "";
  for (let i = 0; i + 1 < byteLen; i += 2) {
    const c = v.u16(off + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function scalar(v: ByteView, type: number, off: number, end: number): MofValue {
  switch (type) {
    case 0x0b:
      return end - off < 2 ? true : v.u16(off) !== 0;
    case 0x03:
      return v.i32(off);
    case 0x13:
      return v.u32(off);
    case 0x02:
      return v.i16(off);
    case 0x12:
      return v.u16(off);
    case 0x10:
      return (v.u8(off) << 24) >> 24;
    case 0x11:
      return v.u8(off);
    case 0x08:
      return utf16z(v, off, end - off);
    default:
      return null;
  }
}

function arrayValue(v: ByteView, type: number, off: number, end: number): MofValue[] {
  const count = v.u32(off + 8);
  const out: MofValue[] = [];
  let p = off + 16;
  for (let i = 0; i < count && p < end; i++) {
    if (type === 0x08) {
      const s = utf16z(v, p, end - p);
      out.push(s);
      p += (s.length + 1) * 2;
    } else {
      const width =
        type === 0x0b || type === 0x02 || type === 0x12 ? 2 : type === 0x10 || type === 0x11 ? 1 : 4;
      out.push(scalar(v, type, p, p + width));
      p += width;
    }
  }
  return out;
}

/** A `{u32 length, u32 count, items...}` block; calls `item(offset, size)` for each. */
function block(
  v: ByteView,
  off: number,
  end: number,
  what: string,
  item: (o: number, size: number) => void,
): number {
  const len = v.u32(off);
  const count = v.u32(off + 4);
  if (len < 8 || off + len > end) throw new FormatError(F, `${what} block length ${len} out of bounds`, off);
  let p = off + 8;
  for (let i = 0; i < count; i++) {
    const size = v.u32(p);
    if (size < 16 || p + size > off + len)
      throw new FormatError(F, `${what} item ${i} size ${size} out of bounds`, p);
    item(p, size);
    p += size;
  }
  return off + len;
}

function qualifier(v: ByteView, off: number, size: number, into: Qualifiers): void {
  const type = v.u32(off + 4);
  const nameLen = v.u32(off + 12);
  if (16 + nameLen > size) throw new FormatError(F, "qualifier name runs past its item", off);
  const name = utf16z(v, off + 16, nameLen);
  const valueOff = off + 16 + nameLen;
  const end = off + size;
  const value =
    type & ARRAY ? arrayValue(v, type & 0xff, valueOff, end) : scalar(v, type & 0xff, valueOff, end);
  into.set(name.toLowerCase(), value);
}

/** Reads the qualifier item at `offset` of decompressed binary MOF (exposed for inspection/tests). */
export function qualifierAt(decompressed: Uint8Array, offset: number): { name: string; value: MofValue } {
  const v = new ByteView(decompressed, F);
  const q: Qualifiers = new Map();
  qualifier(v, offset, v.u32(offset), q);
  const [name, value] = [...q.entries()][0]!;
  return { name, value };
}

function classObject(v: ByteView, off: number, size: number): MofClass | "instance" {
  const qualLen = v.u32(off + 8);
  const dataLen = v.u32(off + 12);
  const kind = v.u32(off + 16);
  if (kind === 1) return "instance";
  if (kind !== 0) throw new FormatError(F, `unknown object kind ${kind}`, off);
  const data = off + 20;
  const dataEnd = data + dataLen;
  if (dataEnd > off + size || qualLen > dataLen) throw new FormatError(F, "class data out of bounds", off);
  const cls: MofClass = { name: "", qualifiers: new Map(), properties: [], line: 0 };
  const afterQuals = block(v, data, dataEnd, "qualifier", (o, s) => qualifier(v, o, s, cls.qualifiers));
  const systemProperty = (o: number, s: number) => {
    const type = v.u32(o + 4);
    const nameLen = v.u32(o + 12);
    const name = utf16z(v, o + 20, nameLen);
    const value = scalar(v, type & 0xff, o + 20 + nameLen, o + s);
    if (name === "__CLASS") cls.name = String(value);
    else if (name === "__SUPERCLASS") cls.superclass = String(value);
  };
  let p = block(v, afterQuals, dataEnd, "property", (o, s) => {
    if (v.u32(o + 16) === NO_NAME) return systemProperty(o, s);
    const type = v.u32(o + 4);
    const nameLen = v.u32(o + 16);
    if (20 + nameLen + 8 > s) throw new FormatError(F, "property name runs past its item", o);
    const name = utf16z(v, o + 20, nameLen);
    const q: Qualifiers = new Map();
    block(v, o + 20 + nameLen, o + s, "property qualifier", (qo, qs) => qualifier(v, qo, qs, q));
    const cimtype = q.get("cimtype");
    q.delete("cimtype");
    let typeName = CIM_TYPES[type & 0xff] ?? `cim${type & 0xff}`;
    if (typeof cimtype === "string") typeName = cimtype.startsWith("object:") ? cimtype.slice(7) : cimtype;
    const prop: MofProperty = { name, type: typeName, qualifiers: q, line: 0 };
    if (type & ARRAY) {
      const max = q.get("max");
      prop.arraySize = typeof max === "number" ? max : 0;
    }
    cls.properties.push(prop);
  });
  while (p + 20 <= dataEnd) {
    const s = v.u32(p);
    if (s < 20 || p + s > dataEnd) throw new FormatError(F, "system property out of bounds", p);
    systemProperty(p, s);
    p += s;
  }
  if (!cls.name) throw new FormatError(F, "class without __CLASS", off);
  return cls;
}

/** Parses decompressed binary MOF into the same class model as text MOF. */
export function parseBmof(decompressed: Uint8Array): MofDocument {
  const v = new ByteView(decompressed, F);
  if (v.u32(0) !== 0x424d4f46) throw new FormatError(F, 'decompressed data does not start with "FOMB"');
  const length = v.u32(4);
  if (length > decompressed.length || length < 20)
    throw new FormatError(F, `object part length ${length} out of bounds`);
  if (v.u32(8) !== 1 || v.u32(12) !== 1) throw new FormatError(F, "unknown root header", 8);
  const count = v.u32(16);
  const doc: MofDocument = { classes: [], pragmas: [], instancesSkipped: 0 };
  let p = 20;
  for (let i = 0; i < count; i++) {
    const size = v.u32(p);
    if (size < 20 || p + size > length) throw new FormatError(F, `object ${i} size ${size} out of bounds`, p);
    const obj = classObject(v, p, size);
    if (obj === "instance") doc.instancesSkipped++;
    else doc.classes.push(obj);
    p += size;
  }
  return doc;
}
