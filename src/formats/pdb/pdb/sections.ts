import { ByteView } from "../../../util/bytes.js";
import { readSectionHeader, type Section } from "../../pe/headers.js";

/** An IMAGE_SECTION_HEADER copied into the PDB (DBI optional debug header → section headers stream). */
export type PdbSectionHeader = Section;

/** Parses a stream of 40-byte IMAGE_SECTION_HEADERs (a trailing partial entry is ignored). */
export function parseSectionHeaders(data: Uint8Array): PdbSectionHeader[] {
  const v = new ByteView(data, "pdb");
  const out: PdbSectionHeader[] = [];
  for (let o = 0; o + 40 <= data.length; o += 40) {
    out.push(readSectionHeader(v, o));
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
