import { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";

/**
 * Windows registry hive files ("regf", e.g. System32\config\SOFTWARE): a 4 KiB base block, then
 * hive bins holding cells. Cell offsets are relative to the first bin (file offset 4096). Only
 * reading: keys (nk), subkey lists (lf/lh/li/ri), value lists and values (vk), big data (db).
 * docs/formats/registry.md has the layout and the bounds this reader keeps.
 */

const FORMAT = "regf";
const BINS_START = 4096;
/** Values larger than this are split into "db" segments (hive minor version > 3). */
const BIG_DATA_SEGMENT = 16344;
/** Nesting of ri lists and key paths deeper than any real hive; hostile loops stop here. */
const MAX_LIST_DEPTH = 8;

export const REG_SZ = 1;
export const REG_EXPAND_SZ = 2;
export const REG_BINARY = 3;
export const REG_DWORD = 4;
export const REG_MULTI_SZ = 7;
export const REG_QWORD = 11;

export interface RegValue {
  /** "" for the key's default value. */
  name: string;
  type: number;
  data: Uint8Array;
}

export interface RegKey {
  name: string;
  /** Cell offset of the key node (stable identity inside one hive). */
  offset: number;
  subkeyCount: number;
  valueCount: number;
}

export interface HiveHeader {
  majorVersion: number;
  minorVersion: number;
  rootOffset: number;
  binsSize: number;
  /** The name the hive was saved under (often a path such as \??\C:\Windows\System32\config\SOFTWARE). */
  fileName: string;
}

export function looksLikeHive(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x72 && bytes[1] === 0x65 && bytes[2] === 0x67 && bytes[3] === 0x66
  );
}

/** A read-only view of a hive. Every cell read is bounds-checked against the hive bins. */
export class Hive {
  readonly header: HiveHeader;
  private readonly v: ByteView;
  private readonly end: number;

  constructor(bytes: Uint8Array) {
    if (!looksLikeHive(bytes)) throw new FormatError(FORMAT, "no 'regf' signature", 0);
    this.v = new ByteView(bytes, FORMAT);
    const name = this.v.utf16(48, 32);
    this.header = {
      majorVersion: this.v.u32(20),
      minorVersion: this.v.u32(24),
      rootOffset: this.v.u32(36),
      binsSize: this.v.u32(40),
      fileName: name.replace(/\0.*$/s, ""),
    };
    if (this.header.majorVersion !== 1)
      throw new FormatError(FORMAT, `unsupported major version ${this.header.majorVersion}`, 20);
    // Trust the bins size only as far as the file goes (truncated hives still read up to the cut).
    this.end = Math.min(bytes.length, BINS_START + this.header.binsSize);
    if (bytes.length < BINS_START + 32) throw new FormatError(FORMAT, "no hive bins after the base block", 0);
  }

  root(): RegKey {
    return this.key(this.header.rootOffset);
  }

  /** The data of the cell at `offset` (relative to the first bin), without its size field. */
  private cell(offset: number, what: string): { at: number; size: number } {
    const at = BINS_START + offset;
    if (offset < 0 || at + 4 > this.end)
      throw new FormatError(FORMAT, `${what} cell offset 0x${offset.toString(16)} outside the hive bins`, at);
    const raw = this.v.i32(at);
    // Allocated cells have a negative size; a free cell where a structure is expected is corrupt.
    const size = raw < 0 ? -raw : raw;
    if (size < 8 || at + size > this.end)
      throw new FormatError(FORMAT, `${what} cell has bad size ${raw}`, at);
    return { at: at + 4, size: size - 4 };
  }

  private signature(at: number): string {
    return String.fromCharCode(this.v.u8(at), this.v.u8(at + 1));
  }

  key(offset: number): RegKey {
    const { at, size } = this.cell(offset, "key");
    if (this.signature(at) !== "nk") throw new FormatError(FORMAT, `expected a key node (nk)`, at);
    if (size < 76) throw new FormatError(FORMAT, "key node shorter than its fixed part", at);
    const flags = this.v.u16(at + 2);
    const nameLength = this.v.u16(at + 72);
    const nameBytes = this.v.slice(at + 76, nameLength, "key name");
    // Flag 0x20: the name is stored as 8-bit characters, else UTF-16LE.
    const name = flags & 0x20 ? latin1(nameBytes) : utf16le(nameBytes);
    return { name, offset, subkeyCount: this.v.u32(at + 20), valueCount: this.v.u32(at + 36) };
  }

  /** The subkeys of a key, in stored order. */
  subkeys(key: RegKey): RegKey[] {
    if (key.subkeyCount === 0) return [];
    const { at } = this.cell(key.offset, "key");
    const list = this.v.u32(at + 28);
    const out: RegKey[] = [];
    this.readList(list, out, 0, new Set());
    return out;
  }

  private readList(offset: number, out: RegKey[], depth: number, seen: Set<number>): void {
    if (depth > MAX_LIST_DEPTH)
      throw new FormatError(FORMAT, "subkey lists nested too deep", BINS_START + offset);
    if (seen.has(offset)) throw new FormatError(FORMAT, "subkey list refers to itself", BINS_START + offset);
    seen.add(offset);
    const { at, size } = this.cell(offset, "subkey list");
    const sig = this.signature(at);
    const count = this.v.u16(at + 2);
    // lf/lh: (offset, hint) pairs; li/ri: bare offsets (ri points to further lists).
    const stride = sig === "lf" || sig === "lh" ? 8 : sig === "li" || sig === "ri" ? 4 : 0;
    if (stride === 0) throw new FormatError(FORMAT, `unknown subkey list '${sig}'`, at);
    if (4 + count * stride > size)
      throw new FormatError(FORMAT, `subkey list of ${count} entries overruns its cell`, at);
    for (let i = 0; i < count; i++) {
      const child = this.v.u32(at + 4 + i * stride);
      if (sig === "ri") this.readList(child, out, depth + 1, seen);
      else out.push(this.key(child));
    }
  }

  /** The values of a key, in stored order. */
  values(key: RegKey): RegValue[] {
    if (key.valueCount === 0) return [];
    const { at } = this.cell(key.offset, "key");
    const listCell = this.cell(this.v.u32(at + 40), "value list");
    if (key.valueCount * 4 > listCell.size)
      throw new FormatError(FORMAT, `value list of ${key.valueCount} entries overruns its cell`, listCell.at);
    const out: RegValue[] = [];
    for (let i = 0; i < key.valueCount; i++) out.push(this.value(this.v.u32(listCell.at + i * 4)));
    return out;
  }

  private value(offset: number): RegValue {
    const { at, size } = this.cell(offset, "value");
    if (this.signature(at) !== "vk") throw new FormatError(FORMAT, "expected a value (vk)", at);
    if (size < 20) throw new FormatError(FORMAT, "value shorter than its fixed part", at);
    const nameLength = this.v.u16(at + 2);
    const rawSize = this.v.u32(at + 4);
    const dataOffset = this.v.u32(at + 8);
    const type = this.v.u32(at + 12);
    const flags = this.v.u16(at + 16);
    const nameBytes = this.v.slice(at + 20, nameLength, "value name");
    const name = flags & 1 ? latin1(nameBytes) : utf16le(nameBytes);
    // High bit: up to 4 bytes of data kept in the offset field itself.
    if (rawSize & 0x80000000) {
      const n = Math.min(rawSize & 0x7fffffff, 4);
      return { name, type, data: this.v.slice(at + 8, n, "resident value data").slice() };
    }
    return { name, type, data: this.data(dataOffset, rawSize) };
  }

  private data(offset: number, size: number): Uint8Array {
    if (size === 0) return new Uint8Array(0);
    const cell = this.cell(offset, "value data");
    if (size > BIG_DATA_SEGMENT && this.header.minorVersion > 3 && this.signature(cell.at) === "db") {
      const segments = this.v.u16(cell.at + 2);
      const list = this.cell(this.v.u32(cell.at + 4), "big data segment list");
      if (segments * 4 > list.size)
        throw new FormatError(FORMAT, "big data segment list overruns its cell", list.at);
      const out = new Uint8Array(size);
      let filled = 0;
      for (let i = 0; i < segments && filled < size; i++) {
        const seg = this.cell(this.v.u32(list.at + i * 4), "big data segment");
        const n = Math.min(seg.size, BIG_DATA_SEGMENT, size - filled);
        out.set(this.v.slice(seg.at, n), filled);
        filled += n;
      }
      if (filled < size) throw new FormatError(FORMAT, `big data holds ${filled} of ${size} bytes`, cell.at);
      return out;
    }
    if (size > cell.size)
      throw new FormatError(FORMAT, `value data of ${size} bytes overruns its cell`, cell.at);
    return this.v.slice(cell.at, size, "value data").slice();
  }

  /** The key at a backslash-separated path below `from` (default: the root); names compare case-insensitively. */
  find(path: string, from: RegKey = this.root()): RegKey | undefined {
    let key: RegKey | undefined = from;
    for (const part of path.split("\\").filter(Boolean)) {
      const want = part.toLowerCase();
      key = this.subkeys(key).find((k) => k.name.toLowerCase() === want);
      if (!key) return undefined;
    }
    return key;
  }
}

function latin1(b: Uint8Array): string {
  return new TextDecoder("latin1").decode(b);
}
function utf16le(b: Uint8Array): string {
  return new TextDecoder("utf-16le").decode(b);
}

/** A value's data as text (REG_SZ/REG_EXPAND_SZ: UTF-16LE up to the first NUL), else undefined. */
export function valueText(v: RegValue | undefined): string | undefined {
  if (!v || (v.type !== REG_SZ && v.type !== REG_EXPAND_SZ)) return undefined;
  return utf16le(v.data.subarray(0, v.data.length & ~1)).replace(/\0.*$/s, "");
}

/** A REG_DWORD value as a number, else undefined. */
export function valueDword(v: RegValue | undefined): number | undefined {
  if (!v || v.type !== REG_DWORD || v.data.length < 4) return undefined;
  return new DataView(v.data.buffer, v.data.byteOffset, 4).getUint32(0, true);
}
