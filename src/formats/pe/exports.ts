import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

export interface ExportEntry {
  ordinal: number;
  /** First name bound to this ordinal, if any (an export may be ordinal-only). */
  name?: string;
  /** Every name bound to this ordinal (usually zero or one). */
  names: string[];
  /** RVA of the code/data; for a forwarder, the RVA of the forwarder string. */
  rva: number;
  /** "OTHERDLL.Function" or "OTHERDLL.#12" when the export forwards elsewhere. */
  forwarder?: string;
}

export interface ExportTable {
  /** DLL name recorded in the export directory. */
  dllName: string;
  ordinalBase: number;
  timeDateStamp: number;
  /** One entry per non-empty Export Address Table slot, in ordinal order. */
  entries: ExportEntry[];
}

/** Ordinals are 16-bit; anything beyond this is corrupt. */
const MAX_EXPORTS = 65536;

/** Reads the export directory; undefined when the image has none. */
export function readExports(pe: PeImage): ExportTable | undefined {
  const dir = pe.directory("export");
  if (!dir) return undefined;
  const v = pe.view;
  const off = pe.offsetOf(dir.rva, "export directory");
  v.check(off, 40, "export directory");
  const timeDateStamp = v.u32(off + 4);
  const nameRva = v.u32(off + 12);
  const ordinalBase = v.u32(off + 16);
  const nFunctions = v.u32(off + 20);
  const nNames = v.u32(off + 24);
  const functionsRva = v.u32(off + 28);
  const namesRva = v.u32(off + 32);
  const ordinalsRva = v.u32(off + 36);
  if (nFunctions > MAX_EXPORTS)
    throw new FormatError("pe", `implausible export count ${nFunctions}`, off + 20);
  if (nNames > MAX_EXPORTS) throw new FormatError("pe", `implausible export name count ${nNames}`, off + 24);
  const dllName = nameRva !== 0 ? pe.cstrAt(nameRva, 512) : "";

  const eat =
    nFunctions > 0 ? pe.bytesAt(functionsRva, nFunctions * 4, "export address table") : new Uint8Array();
  const eatView = new DataView(eat.buffer, eat.byteOffset, eat.byteLength);
  const names: string[][] = Array.from({ length: nFunctions }, () => []);
  if (nNames > 0) {
    const nameTable = pe.bytesAt(namesRva, nNames * 4, "export name table");
    const ordTable = pe.bytesAt(ordinalsRva, nNames * 2, "export ordinal table");
    const nv = new DataView(nameTable.buffer, nameTable.byteOffset, nameTable.byteLength);
    const ov = new DataView(ordTable.buffer, ordTable.byteOffset, ordTable.byteLength);
    for (let i = 0; i < nNames; i++) {
      const index = ov.getUint16(i * 2, true);
      if (index >= nFunctions)
        throw new FormatError("pe", `export name ${i} refers to function index ${index} of ${nFunctions}`);
      names[index]!.push(pe.cstrAt(nv.getUint32(i * 4, true), 4096));
    }
  }

  const entries: ExportEntry[] = [];
  for (let i = 0; i < nFunctions; i++) {
    const rva = eatView.getUint32(i * 4, true);
    if (rva === 0) continue; // unused ordinal slot
    const entry: ExportEntry = { ordinal: ordinalBase + i, names: names[i]!, rva };
    if (entry.names.length > 0) entry.name = entry.names[0];
    // An address inside the export directory itself is a forwarder string, not code.
    if (rva >= dir.rva && rva < dir.rva + dir.size) entry.forwarder = pe.cstrAt(rva, 1024);
    entries.push(entry);
  }
  return { dllName, ordinalBase, timeDateStamp, entries };
}
