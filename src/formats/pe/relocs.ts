import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

export const RELOC_TYPE_NAMES: Record<number, string> = {
  0: "ABSOLUTE",
  1: "HIGH",
  2: "LOW",
  3: "HIGHLOW",
  4: "HIGHADJ",
  5: "ARM_MOV32",
  7: "THUMB_MOV32",
  10: "DIR64",
};

export interface BaseRelocation {
  /** RVA of the patched location. */
  rva: number;
  type: number;
}

export interface RelocBlock {
  pageRva: number;
  /** Entries in file order, including ABSOLUTE padding entries. */
  entries: BaseRelocation[];
}

/** Reads the base relocation directory as blocks (one per 4 KiB page). */
export function readRelocBlocks(pe: PeImage): RelocBlock[] {
  const blocks: RelocBlock[] = [];
  forEachRelocBlock(pe, (pageRva, at, n) => {
    const v = pe.view;
    const entries: BaseRelocation[] = [];
    for (let i = 0; i < n; i++) {
      const e = v.u16(at + i * 2);
      const type = e >>> 12;
      entries.push({ rva: pageRva + (e & 0xfff), type });
      // HIGHADJ carries its low 16 bits in the next slot.
      if (type === 4) i++;
    }
    blocks.push({ pageRva, entries });
  });
  return blocks;
}

/** Calls `block(pageRva, offset of the first entry, entry slots)` for each checked block. */
function forEachRelocBlock(pe: PeImage, block: (pageRva: number, at: number, n: number) => void): void {
  const dir = pe.directory("basereloc");
  if (!dir) return;
  const v = pe.view;
  const base = pe.offsetOf(dir.rva, "base relocation directory");
  v.check(base, dir.size, "base relocation directory");
  let pos = 0;
  // Each block is at least 8 bytes and pos only grows, so this ends within dir.size / 8 steps.
  while (pos + 8 <= dir.size) {
    const pageRva = v.u32(base + pos);
    const blockSize = v.u32(base + pos + 4);
    if (blockSize === 0 && pageRva === 0) break; // zero padding after the last block
    if (blockSize < 8 || blockSize > dir.size - pos)
      throw new FormatError("pe", `base relocation block size ${blockSize} is invalid`, base + pos + 4);
    block(pageRva, base + pos + 8, Math.floor((blockSize - 8) / 2));
    pos += blockSize;
  }
}

/** All base relocations, flattened, without ABSOLUTE padding. */
export function readRelocations(pe: PeImage): BaseRelocation[] {
  return readRelocBlocks(pe).flatMap((b) => b.entries.filter((e) => e.type !== 0));
}

/**
 * RVAs of the pointer-sized slots the loader patches (HIGHLOW and DIR64). A value stored in the
 * image is a real pointer only if its slot is in this set: how readers tell an address from a
 * constant that happens to look like one. (Read without an object per entry: images carry 10^5.)
 */
export function readBaseRelocations(pe: PeImage): Set<number> {
  const out = new Set<number>();
  const bytes = pe.bytes;
  forEachRelocBlock(pe, (pageRva, at, n) => {
    for (let i = 0; i < n; i++) {
      const e = bytes[at + 2 * i]! | (bytes[at + 2 * i + 1]! << 8);
      const type = e >>> 12;
      if (type === 3 || type === 10) out.add(pageRva + (e & 0xfff));
      else if (type === 4) i++; // HIGHADJ carries its low 16 bits in the next slot
    }
  });
  return out;
}
