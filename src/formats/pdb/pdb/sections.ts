import { ByteView } from "../../../util/bytes.js";

/** An IMAGE_SECTION_HEADER copied into the PDB (DBI optional debug header → section headers stream). */
export interface PdbSectionHeader {
  name: string;
  virtualSize: number;
  virtualAddress: number;
  rawSize: number;
  rawOffset: number;
  characteristics: number;
}

const latin1 = new TextDecoder("latin1");

/** Parses a stream of 40-byte IMAGE_SECTION_HEADERs (a trailing partial entry is ignored). */
export function parseSectionHeaders(data: Uint8Array): PdbSectionHeader[] {
  const v = new ByteView(data, "pdb");
  const out: PdbSectionHeader[] = [];
  for (let o = 0; o + 40 <= data.length; o += 40) {
    const raw = data.subarray(o, o + 8);
    const z = raw.indexOf(0);
    out.push({
      name: latin1.decode(z < 0 ? raw : raw.subarray(0, z)),
      virtualSize: v.u32(o + 8),
      virtualAddress: v.u32(o + 12),
      rawSize: v.u32(o + 16),
      rawOffset: v.u32(o + 20),
      characteristics: v.u32(o + 36),
    });
  }
  return out;
}

/**
 * seg:off → RVA: segment is 1-based into the section headers. Returns undefined for segment 0
 * (absolute / no address) or segments the PDB has no header for.
 */
export function segmentOffsetToRva(
  headers: readonly PdbSectionHeader[],
  segment: number,
  offset: number,
): number | undefined {
  if (segment === 0) return undefined;
  const s = headers[segment - 1];
  if (!s) return undefined;
  return (s.virtualAddress + offset) >>> 0;
}
