import type { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";

/** CodeView numeric leaf: a u16 below 0x8000 is the value itself, otherwise a typed value follows. */
export interface NumericLeaf {
  value: bigint;
  /** Offset just past the numeric leaf. */
  end: number;
}

export function readNumeric(v: ByteView, o: number): NumericLeaf {
  const leaf = v.u16(o);
  if (leaf < 0x8000) return { value: BigInt(leaf), end: o + 2 };
  const p = o + 2;
  switch (leaf) {
    case 0x8000: // LF_CHAR
      return { value: BigInt((v.u8(p) << 24) >> 24), end: p + 1 };
    case 0x8001: // LF_SHORT
      return { value: BigInt(v.i16(p)), end: p + 2 };
    case 0x8002: // LF_USHORT
      return { value: BigInt(v.u16(p)), end: p + 2 };
    case 0x8003: // LF_LONG
      return { value: BigInt(v.i32(p)), end: p + 4 };
    case 0x8004: // LF_ULONG
      return { value: BigInt(v.u32(p)), end: p + 4 };
    case 0x8009: // LF_QUADWORD
      return { value: BigInt.asIntN(64, v.u64(p)), end: p + 8 };
    case 0x800a: // LF_UQUADWORD
      return { value: v.u64(p), end: p + 8 };
    default:
      throw new FormatError("pdb", `unsupported CodeView numeric leaf 0x${leaf.toString(16)}`, o);
  }
}

/** NUL-terminated UTF-8 name inside a record; an unterminated name runs to the record end. */
export function readName(v: ByteView, o: number, end: number): { text: string; end: number } {
  if (o >= end) return { text: "", end };
  const i = v.bytes.indexOf(0, o);
  const stop = i < 0 || i > end ? end : i;
  return { text: utf8.decode(v.bytes.subarray(o, stop)), end: Math.min(stop + 1, end) };
}
const utf8 = new TextDecoder("utf-8");
