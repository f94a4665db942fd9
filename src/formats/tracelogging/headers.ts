import type { PeImage } from "../pe/image.js";

/** Bytes of a valid `_TraceLoggingMetadata_t`: "ETW0", Size 16, then (after version and flags) the magic. */
const SIGNATURE = [0x45, 0x54, 0x57, 0x30, 0x10, 0x00];
const MAGIC = [0x86, 0x0e, 0x04, 0x88, 0x2b, 0x05, 0x8a, 0xbb];

export interface HeaderHit {
  section: string;
  sectionRva: number;
  /** The section's walkable bytes (raw data, capped at the virtual size). */
  bytes: Uint8Array;
  /** Header offset inside `bytes`. */
  offset: number;
  version: number;
  ptr64: boolean;
}

/**
 * Every valid ETW0 header (signature, size 16, magic 0xBB8A052B88040E86) in the image's sections.
 * The string "ETW0" also occurs in code and data that merely mention it; the size and magic reject
 * those. Headers are 8-byte aligned by the SDK; we accept any alignment and let the caller note it.
 */
export function findHeaders(pe: PeImage): HeaderHit[] {
  const hits: HeaderHit[] = [];
  for (const s of pe.sections) {
    const raw = pe.sectionBytes(s);
    const bytes = s.virtualSize > 0 && s.virtualSize < raw.length ? raw.subarray(0, s.virtualSize) : raw;
    for (let i = bytes.indexOf(0x45); i >= 0 && i + 16 <= bytes.length; i = bytes.indexOf(0x45, i + 1)) {
      if (!matches(bytes, i, SIGNATURE) || !matches(bytes, i + 8, MAGIC)) continue;
      hits.push({
        section: s.name,
        sectionRva: s.virtualAddress,
        bytes,
        offset: i,
        version: bytes[i + 6]!,
        ptr64: (bytes[i + 7]! & 1) === 1,
      });
    }
  }
  return hits;
}

function matches(b: Uint8Array, at: number, pattern: number[]): boolean {
  for (let k = 0; k < pattern.length; k++) if (b[at + k] !== pattern[k]) return false;
  return true;
}
