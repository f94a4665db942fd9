import { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";
import { TypeTable } from "../codeview/types/table.js";

export interface TpiHeader {
  version: number;
  headerSize: number;
  typeIndexBegin: number;
  typeIndexEnd: number;
  recordBytes: number;
  hashStream: number | undefined;
}

/** Reads a TPI/IPI stream header (56 bytes) and indexes its records. */
export function parseTpiStream(data: Uint8Array): { header: TpiHeader; types: TypeTable } {
  const v = new ByteView(data, "pdb");
  if (data.length < 56)
    throw new FormatError("pdb", `TPI stream is ${data.length} bytes, need a 56-byte header`);
  const hashStream = v.u16(20);
  const header: TpiHeader = {
    version: v.u32(0),
    headerSize: v.u32(4),
    typeIndexBegin: v.u32(8),
    typeIndexEnd: v.u32(12),
    recordBytes: v.u32(16),
    hashStream: hashStream === 0xffff ? undefined : hashStream,
  };
  if (header.headerSize < 56 || header.headerSize > data.length)
    throw new FormatError("pdb", `TPI header size ${header.headerSize} is invalid`, 4);
  if (header.recordBytes > data.length - header.headerSize)
    throw new FormatError("pdb", `TPI records (${header.recordBytes} bytes) run past the stream`, 16);
  if (header.typeIndexEnd < header.typeIndexBegin)
    throw new FormatError(
      "pdb",
      `TPI type index range ${header.typeIndexBegin}..${header.typeIndexEnd} is reversed`,
      8,
    );
  const records = data.subarray(header.headerSize, header.headerSize + header.recordBytes);
  const types = new TypeTable(records, header.typeIndexBegin);
  return { header, types };
}
