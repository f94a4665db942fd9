import { formatGuid } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

export const DEBUG_TYPE_NAMES: Record<number, string> = {
  0: "UNKNOWN",
  1: "COFF",
  2: "CODEVIEW",
  3: "FPO",
  4: "MISC",
  5: "EXCEPTION",
  6: "FIXUP",
  7: "OMAP_TO_SRC",
  8: "OMAP_FROM_SRC",
  9: "BORLAND",
  10: "RESERVED10",
  11: "CLSID",
  12: "VC_FEATURE",
  13: "POGO",
  14: "ILTCG",
  15: "MPX",
  16: "REPRO",
  17: "EMBEDDED_PORTABLE_PDB",
  19: "PDBCHECKSUM",
  20: "EX_DLLCHARACTERISTICS",
};
export const DEBUG_TYPE_CODEVIEW = 2;

/** CodeView record naming the PDB: RSDS (PDB 7.0, GUID) or NB10 (PDB 2.0, 32-bit signature). */
export interface CodeViewInfo {
  format: "RSDS" | "NB10";
  /** RSDS only: lower-case GUID text without braces (formatGuid), as the PDB info stream has it. */
  guid?: string;
  /** NB10 only: the 32-bit signature (a time stamp). */
  signature?: number;
  age: number;
  /** PDB path recorded by the linker (UTF-8 for RSDS). */
  path: string;
}

export interface DebugEntry {
  type: number;
  typeName: string;
  timeDateStamp: number;
  majorVersion: number;
  minorVersion: number;
  sizeOfData: number;
  rva: number;
  fileOffset: number;
  /** Decoded for CODEVIEW entries with a known signature. */
  codeView?: CodeViewInfo;
}

const ENTRY_SIZE = 28;
const MAX_ENTRIES = 1024;

/** Reads a CodeView record at a file offset. Undefined for other signatures (e.g. old NB09). */
export function readCodeView(pe: PeImage, offset: number, size: number): CodeViewInfo | undefined {
  const v = pe.view;
  const end = Math.min(offset + size, v.length);
  if (size < 4) return undefined;
  const sig = v.u32(offset);
  const pathAt = (at: number): string => {
    // The path is NUL-terminated inside SizeOfData; tolerate a missing NUL at the very end.
    v.check(at, 0, "CodeView PDB path");
    const nul = v.bytes.indexOf(0, at);
    const stop = nul >= 0 && nul < end ? nul : end;
    if (stop < at) throw new FormatError("pe", "CodeView record too short for its PDB path", offset);
    return new TextDecoder("utf-8").decode(v.bytes.subarray(at, stop));
  };
  if (sig === 0x53445352) {
    // "RSDS": GUID(16) age(4) path
    if (size < 24) throw new FormatError("pe", `RSDS record of ${size} bytes is too short`, offset);
    return {
      format: "RSDS",
      guid: formatGuid(v.slice(offset + 4, 16, "RSDS GUID")),
      age: v.u32(offset + 20),
      path: pathAt(offset + 24),
    };
  }
  if (sig === 0x3031424e) {
    // "NB10": offset(4) signature(4) age(4) path
    if (size < 16) throw new FormatError("pe", `NB10 record of ${size} bytes is too short`, offset);
    return {
      format: "NB10",
      signature: v.u32(offset + 8),
      age: v.u32(offset + 12),
      path: pathAt(offset + 16),
    };
  }
  return undefined;
}

/** Reads the debug directory (IMAGE_DEBUG_DIRECTORY entries), decoding CodeView records. */
export function readDebugDirectory(pe: PeImage): DebugEntry[] {
  const dir = pe.directory("debug");
  if (!dir) return [];
  const count = Math.floor(dir.size / ENTRY_SIZE);
  if (count > MAX_ENTRIES) throw new FormatError("pe", `implausible debug directory size ${dir.size}`);
  const base = pe.offsetOf(dir.rva, "debug directory");
  const v = pe.view;
  v.check(base, count * ENTRY_SIZE, "debug directory");
  const out: DebugEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = base + i * ENTRY_SIZE;
    const type = v.u32(o + 12);
    const entry: DebugEntry = {
      type,
      typeName: DEBUG_TYPE_NAMES[type] ?? `0x${type.toString(16)}`,
      timeDateStamp: v.u32(o + 4),
      majorVersion: v.u16(o + 8),
      minorVersion: v.u16(o + 10),
      sizeOfData: v.u32(o + 16),
      rva: v.u32(o + 20),
      fileOffset: v.u32(o + 24),
    };
    if (type === DEBUG_TYPE_CODEVIEW && entry.sizeOfData > 0) {
      // Prefer the RVA (what the loader and debuggers use); fall back to the raw file pointer.
      const at = (entry.rva !== 0 ? pe.rvaToOffset(entry.rva) : undefined) ?? entry.fileOffset;
      const cv = readCodeView(pe, at, entry.sizeOfData);
      if (cv) entry.codeView = cv;
    }
    out.push(entry);
  }
  return out;
}

/** The PDB named by the image's first RSDS/NB10 CodeView record, if any. */
export function pdbInfo(
  pe: PeImage,
  entries: DebugEntry[] = readDebugDirectory(pe),
): CodeViewInfo | undefined {
  return entries.find((e) => e.codeView)?.codeView;
}
