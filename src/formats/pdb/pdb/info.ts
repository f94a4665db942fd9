import { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";

/** Fixed stream numbers in an MSF PDB. */
export const StreamIndex = { OldDirectory: 0, Info: 1, Tpi: 2, Dbi: 3, Ipi: 4 } as const;

/** Known feature codes appended after the named stream map. */
export const PdbFeature = {
  VC110: 20091201,
  VC140: 20140508,
  NoTypeMerge: 0x4d544f4e,
  MinimalDebugInfo: 0x494e494d,
} as const;

export interface PdbInfo {
  /** 20000404 (VC70) in every modern PDB. */
  version: number;
  /** time_t written by the linker. */
  signature: number;
  /** PDB-info age; the image matches on the DBI age instead (see dbi.age). */
  age: number;
  /** Lower-case GUID without braces, e.g. "31985172-45d8-44ed-b92b-943840f8c3d8". */
  guid: string;
  /** Named streams (e.g. "/names", "/LinkInfo") → stream index. */
  namedStreams: Record<string, number>;
  /** Feature codes after the map (see PdbFeature), e.g. [20140508] for VC140. */
  features: number[];
}

/** Reads a serialized bit vector (`u32 wordCount; u32 words[]`) and returns the set bit indices. */
function readBitVector(v: ByteView, o: number, what: string): { bits: number[]; end: number } {
  const words = v.u32(o);
  if (words > (v.length - o - 4) / 4)
    throw new FormatError("pdb", `${what}: bit vector of ${words} words runs past the stream`, o);
  const bits: number[] = [];
  for (let w = 0; w < words; w++) {
    let word = v.u32(o + 4 + w * 4);
    for (let b = 0; word !== 0; b++, word >>>= 1) if (word & 1) bits.push(w * 32 + b);
  }
  return { bits, end: o + 4 + words * 4 };
}

/**
 * Reads the PDB info stream (stream 1): header (version, signature, age, GUID), the named
 * stream map (string buffer + serialized hash table) and trailing feature codes.
 */
export function parseInfoStream(data: Uint8Array): PdbInfo {
  const v = new ByteView(data, "pdb");
  if (data.length < 28)
    throw new FormatError("pdb", `PDB info stream is ${data.length} bytes, need at least 28`);
  const version = v.u32(0);
  const signature = v.u32(4);
  const age = v.u32(8);
  const guid = v.guid(12);
  const namedStreams: Record<string, number> = {};
  const features: number[] = [];
  if (data.length >= 32) {
    const bufSize = v.u32(28);
    const buf = v.slice(32, bufSize, "named stream string buffer");
    const bufView = new ByteView(buf, "pdb");
    let o = 32 + bufSize;
    const size = v.u32(o);
    const capacity = v.u32(o + 4);
    if (size > capacity)
      throw new FormatError("pdb", `named stream map size ${size} exceeds capacity ${capacity}`, o);
    const present = readBitVector(v, o + 8, "named stream map present bits");
    const deleted = readBitVector(v, present.end, "named stream map deleted bits");
    o = deleted.end;
    if (present.bits.length !== size)
      throw new FormatError(
        "pdb",
        `named stream map has ${present.bits.length} present buckets but size ${size}`,
        o,
      );
    for (let i = 0; i < size; i++) {
      const key = v.u32(o);
      const stream = v.u32(o + 4);
      o += 8;
      namedStreams[bufView.utf8z(key)] = stream;
    }
    // The map ends with niMac (the name table's next index, unused here); then feature codes
    // run to the end of the stream (older PDBs have none).
    o += 4;
    while (o + 4 <= data.length) {
      features.push(v.u32(o));
      o += 4;
    }
  }
  return { version, signature, age, guid, namedStreams, features };
}
