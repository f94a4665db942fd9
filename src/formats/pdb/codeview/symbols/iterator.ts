import { ByteView } from "../../../../util/bytes.js";
import { FormatError } from "../../../../util/errors.js";

/** One raw CodeView symbol record: `u16 reclen; u16 kind; payload`. */
export interface RawSymbol {
  /** Offset of the record (its length field) in the buffer it came from. */
  offset: number;
  kind: number;
  /** Payload after the kind field. */
  data: Uint8Array;
}

/**
 * Walks symbol records in `bytes[start, end)`. A record length < 2 or one that overruns the
 * range is a FormatError — the walk always advances, so it cannot loop.
 */
export function* iterateSymbols(bytes: Uint8Array, start = 0, end = bytes.length): Generator<RawSymbol> {
  const v = new ByteView(bytes, "pdb");
  if (end > bytes.length)
    throw new FormatError("pdb", `symbol range end ${end} is past the ${bytes.length}-byte stream`);
  let o = start;
  while (o + 4 <= end) {
    const len = v.u16(o);
    if (len < 2) throw new FormatError("pdb", `symbol record length ${len} is too small`, o);
    const next = o + 2 + len;
    if (next > end) throw new FormatError("pdb", `symbol record of ${len} bytes runs past its stream`, o);
    yield { offset: o, kind: v.u16(o + 2), data: bytes.subarray(o + 4, next) };
    o = next;
  }
}

/** Reads the single record at `offset` (for hash-table and reference lookups). */
export function symbolAt(bytes: Uint8Array, offset: number): RawSymbol {
  const v = new ByteView(bytes, "pdb");
  const len = v.u16(offset);
  if (len < 2) throw new FormatError("pdb", `symbol record length ${len} is too small`, offset);
  v.check(offset, 2 + len, "symbol record");
  return { offset, kind: v.u16(offset + 2), data: bytes.subarray(offset + 4, offset + 2 + len) };
}
