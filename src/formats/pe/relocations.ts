import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

/** IMAGE_REL_BASED_* types that patch a whole pointer. */
const REL_HIGHLOW = 3;
const REL_DIR64 = 10;

/** Upper bound on relocation blocks, so a corrupt directory cannot make us loop for long. */
const MAX_BLOCKS = 1 << 20;

/**
 * RVAs of the pointer-sized slots the loader patches (base relocation directory, types HIGHLOW and
 * DIR64). A pointer stored in the image is only a real pointer if its slot is in this set; this is
 * how readers tell an address from a constant that happens to look like one.
 */
export function readBaseRelocations(pe: PeImage): Set<number> {
  const out = new Set<number>();
  const dir = pe.directory("basereloc");
  if (!dir) return out;
  let rva = dir.rva;
  const end = dir.rva + dir.size;
  for (let n = 0; rva + 8 <= end; n++) {
    if (n >= MAX_BLOCKS) throw new FormatError("pe", "base relocation directory has too many blocks", rva);
    const pageRva = pe.u32At(rva);
    const blockSize = pe.u32At(rva + 4);
    if (blockSize < 8 || rva + blockSize > end)
      throw new FormatError("pe", `base relocation block size ${blockSize} is invalid`, pe.rvaToOffset(rva));
    const entries = pe.bytesAt(rva + 8, blockSize - 8, "base relocation block");
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const e = entries[i]! | (entries[i + 1]! << 8);
      const type = e >> 12;
      if (type === REL_DIR64 || type === REL_HIGHLOW) out.add(pageRva + (e & 0xfff));
    }
    rva += blockSize;
  }
  return out;
}
