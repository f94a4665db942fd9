import type { PdbFile } from "../formats/pdb/index.js";
import type { CodeViewInfo } from "../formats/pe/debug.js";
import { pdbInfo } from "../formats/pe/debug.js";
import type { PeImage } from "../formats/pe/image.js";
import { normalizeGuid } from "../util/bytes.js";

/** The identity a PDB offers for matching: info-stream GUID and DBI age. */
export interface PdbIdentity {
  guid: string;
  /** DBI age — the one the image's RSDS age must equal (the info-stream age may be higher). */
  age: number;
}

export interface PdbMatchResult {
  matches: boolean;
  /** Why it does not match (undefined when it does). */
  reason?: string;
  image?: { guid?: string; age: number; path: string };
  pdb: PdbIdentity;
}

export function pdbIdentity(pdb: Pick<PdbFile, "info" | "dbi">): PdbIdentity {
  return { guid: normalizeGuid(pdb.info.guid), age: pdb.dbi.age };
}

/**
 * The PE↔PDB match rule: RSDS GUID == PDB info-stream GUID and RSDS age == DBI age
 * (Microsoft's tools prefer the DBI age; the info-stream age is bumped by incremental updates).
 */
export function matchCodeView(cv: CodeViewInfo | undefined, pdb: PdbIdentity): PdbMatchResult {
  if (!cv) return { matches: false, reason: "image has no CodeView debug record", pdb };
  const image = { ...(cv.guid !== undefined ? { guid: cv.guid } : {}), age: cv.age, path: cv.path };
  if (cv.format !== "RSDS" || cv.guid === undefined)
    return { matches: false, reason: `image has a ${cv.format} record, not RSDS`, image, pdb };
  if (normalizeGuid(cv.guid) !== pdb.guid)
    return { matches: false, reason: `GUID differs: image ${cv.guid}, PDB ${pdb.guid}`, image, pdb };
  if (cv.age !== pdb.age)
    return { matches: false, reason: `age differs: image ${cv.age}, PDB (DBI) ${pdb.age}`, image, pdb };
  return { matches: true, image, pdb };
}

/** Does this PDB belong to this image? */
export function matchPdb(pe: PeImage, pdb: Pick<PdbFile, "info" | "dbi">): PdbMatchResult {
  return matchCodeView(pdbInfo(pe), pdbIdentity(pdb));
}
