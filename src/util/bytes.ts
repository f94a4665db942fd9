import { FormatError } from "./errors.js";

const utf16 = new TextDecoder("utf-16le");
const utf8 = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");

/**
 * Bounds-checked little-endian reads over a Uint8Array. Every out-of-range read throws a
 * FormatError naming the format, so hostile inputs never produce garbage or RangeErrors.
 */
export class ByteView {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly format: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.bytes.length;
  }
  check(offset: number, size: number, what = "read"): void {
    if (!Number.isInteger(offset) || offset < 0 || size < 0 || offset + size > this.bytes.length) {
      throw new FormatError(
        this.format,
        `${what} of ${size} bytes runs past end of data (${this.bytes.length} bytes)`,
        offset,
      );
    }
  }
  u8(o: number): number {
    this.check(o, 1);
    return this.bytes[o]!;
  }
  u16(o: number): number {
    this.check(o, 2);
    return this.dv.getUint16(o, true);
  }
  i16(o: number): number {
    this.check(o, 2);
    return this.dv.getInt16(o, true);
  }
  u32(o: number): number {
    this.check(o, 4);
    return this.dv.getUint32(o, true);
  }
  i32(o: number): number {
    this.check(o, 4);
    return this.dv.getInt32(o, true);
  }
  u64(o: number): bigint {
    this.check(o, 8);
    return this.dv.getBigUint64(o, true);
  }
  /** A 64-bit value as a JS number; throws if it cannot be represented exactly. */
  u64n(o: number): number {
    const v = this.u64(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new FormatError(this.format, `64-bit value too large (${v})`, o);
    return Number(v);
  }
  slice(o: number, size: number, what = "slice"): Uint8Array {
    this.check(o, size, what);
    return this.bytes.subarray(o, o + size);
  }
  guid(o: number): string {
    return formatGuid(this.slice(o, 16, "GUID"));
  }
  /** NUL-terminated 8-bit string (latin1), bounded by `max` bytes. */
  cstr(o: number, max = 65536): string {
    const end = this.cstrEnd(o, max);
    return latin1.decode(this.bytes.subarray(o, end));
  }
  /** NUL-terminated UTF-8 string, bounded by `max` bytes. */
  utf8z(o: number, max = 65536): string {
    const end = this.cstrEnd(o, max);
    return utf8.decode(this.bytes.subarray(o, end));
  }
  /** Index of the terminating NUL of the 8-bit string at o. */
  cstrEnd(o: number, max = 65536): number {
    this.check(o, 0);
    const lim = Math.min(this.bytes.length, o + max);
    const i = this.bytes.indexOf(0, o);
    if (i < 0 || i >= lim) throw new FormatError(this.format, "unterminated string", o);
    return i;
  }
  /** UTF-16LE string of `chars` code units. */
  utf16(o: number, chars: number): string {
    return utf16.decode(this.slice(o, chars * 2, "UTF-16 string"));
  }
  /** NUL-terminated UTF-16LE string; returns the text and the offset just past the terminator. */
  utf16z(o: number, maxChars = 32768): { text: string; end: number } {
    let i = o;
    const lim = Math.min(this.bytes.length - 1, o + maxChars * 2);
    while (i < lim) {
      if (this.bytes[i] === 0 && this.bytes[i + 1] === 0)
        return { text: utf16.decode(this.bytes.subarray(o, i)), end: i + 2 };
      i += 2;
    }
    throw new FormatError(this.format, "unterminated UTF-16 string", o);
  }
}

/** Formats 16 bytes in Windows GUID layout (Data1..3 little-endian) as lower-case text without braces. */
export function formatGuid(b: Uint8Array): string {
  if (b.length < 16) throw new FormatError("guid", "GUID needs 16 bytes");
  const h = (i: number) => b[i]!.toString(16).padStart(2, "0");
  return (
    h(3) +
    h(2) +
    h(1) +
    h(0) +
    "-" +
    h(5) +
    h(4) +
    "-" +
    h(7) +
    h(6) +
    "-" +
    h(8) +
    h(9) +
    "-" +
    h(10) +
    h(11) +
    h(12) +
    h(13) +
    h(14) +
    h(15)
  );
}

/** Parses "{xxxxxxxx-...}" or bare GUID text into its 16-byte Windows layout. */
export function parseGuid(text: string): Uint8Array {
  const t = text.trim().replace(/^\{|\}$/g, "");
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(t)) {
    throw new FormatError("guid", `not a GUID: ${text}`);
  }
  const hex = t.replace(/-/g, "");
  const raw = Uint8Array.from({ length: 16 }, (_, i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  const out = new Uint8Array(16);
  out.set([raw[3]!, raw[2]!, raw[1]!, raw[0]!, raw[5]!, raw[4]!, raw[7]!, raw[6]!], 0);
  out.set(raw.subarray(8), 8);
  return out;
}

/** Normalises GUID text to lower case without braces. */
export function normalizeGuid(text: string): string {
  return text
    .trim()
    .replace(/^\{|\}$/g, "")
    .toLowerCase();
}

/** The parts one after another, in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The low `len` bytes (at most 8) of a value, little-endian, as an instruction stores them. */
export function leBytes(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = BigInt.asUintN(64, v);
  for (let b = 0; b < len && b < 8; b++) {
    out[b] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

export function hex(n: number | bigint, width = 0): string {
  return "0x" + n.toString(16).padStart(width, "0");
}
