import { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";

const GSI_SIGNATURE = 0xffffffff;
const GSI_VERSION_V70 = 0xf12f091a;

/**
 * Reads the hash records of a GSI name table (the globals stream is just this; the publics stream
 * has it after a 28-byte header) and returns the symbol-record-stream offsets they point at.
 */
export function readGsiHashRecords(data: Uint8Array, start: number, what: string): number[] {
  const v = new ByteView(data, "pdb");
  const sig = v.u32(start);
  const version = v.u32(start + 4);
  if (sig !== GSI_SIGNATURE || version !== GSI_VERSION_V70)
    throw new FormatError(
      "pdb",
      `${what}: unexpected hash header 0x${sig.toString(16)}/0x${version.toString(16)}`,
      start,
    );
  const recordsSize = v.u32(start + 8);
  const first = start + 16;
  if (recordsSize % 8 !== 0 || recordsSize > data.length - first)
    throw new FormatError(
      "pdb",
      `${what}: hash records size ${recordsSize} is invalid for a ${data.length}-byte stream`,
      start + 8,
    );
  const out: number[] = [];
  for (let o = first; o < first + recordsSize; o += 8) {
    const off = v.i32(o) - 1; // stored +1 so that 0 can mean "none"
    if (off < 0) throw new FormatError("pdb", `${what}: hash record has no symbol offset`, o);
    out.push(off);
  }
  return out;
}

export interface PublicsHeader {
  nameTableSize: number;
  addressMapSize: number;
  thunkCount: number;
  thunkSize: number;
  thunkTableSection: number;
  thunkTableOffset: number;
  sectionCount: number;
}

export function parsePublicsHeader(data: Uint8Array): PublicsHeader {
  const v = new ByteView(data, "pdb");
  if (data.length < 28)
    throw new FormatError("pdb", `publics stream is ${data.length} bytes, need a 28-byte header`);
  return {
    nameTableSize: v.u32(0),
    addressMapSize: v.u32(4),
    thunkCount: v.u32(8),
    thunkSize: v.u32(12),
    thunkTableSection: v.u16(16),
    thunkTableOffset: v.u32(20),
    sectionCount: v.u32(24),
  };
}
