/**
 * Functions whose address the image takes: a `lea r, [rip+fn]` in the code, an 8-byte pointer to
 * it in a data section (vtables, callback tables), or an export. Such a function may be called from
 * places the call graph does not list, so its direct callers are not all its callers.
 */
import type { PeImage } from "../../formats/pe/index.js";
import { type Code, M, Reg } from "../disasm.js";

const IMAGE_SCN_CNT_CODE = 0x20;
const IMAGE_SCN_MEM_EXECUTE = 0x20000000;

export function addressTakenFunctions(
  pe: PeImage,
  code: Code,
  exports: ReadonlyArray<{ rva: number }>,
): Set<number> {
  const out = new Set<number>(exports.map((e) => e.rva));
  for (let i = 0; i < code.count; i++)
    if (code.mnem[i] === M.Lea && code.memBase[i] === Reg.RIP && code.memIndex[i] === 0)
      out.add(code.addr[i]!);
  const exec = pe.sections.filter((s) => s.characteristics & (IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE));
  const inCode = (rva: number): boolean =>
    exec.some((s) => rva >= s.virtualAddress && rva < s.virtualAddress + Math.max(s.virtualSize, s.rawSize));
  const base = Number(pe.imageBase);
  const b = pe.bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  for (const s of pe.sections) {
    if (exec.includes(s)) continue;
    const end = Math.min(b.length, s.rawOffset + Math.min(s.rawSize, s.virtualSize || s.rawSize));
    for (let o = s.rawOffset; o + 8 <= end; o += 8) {
      const rva = dv.getUint32(o + 4, true) * 0x1_0000_0000 + dv.getUint32(o, true) - base;
      if (rva > 0 && rva < 0x8000_0000 && inCode(rva)) out.add(rva);
    }
  }
  return out;
}
