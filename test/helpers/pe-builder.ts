/**
 * Builds tiny synthetic PE images in memory for unit tests of paths the real corpus lacks
 * (PE32, ordinal imports, NB10, VA-based delay imports) and for hostile structures (loops,
 * shared tables). One section at RVA 0x1000 (file offset 0x200) holds everything; tests write
 * into it by RVA.
 */
import { DIRECTORY_NAMES } from "../../src/formats/pe/index.js";

export const SECTION_RVA = 0x1000;
const SECTION_FILE = 0x200;

export interface PeBuildOptions {
  pe32plus?: boolean;
  machine?: number;
  imageBase?: bigint;
  /** Bytes of section data (rounded up to 0x200). */
  sectionSize?: number;
  subsystem?: number;
  directories?: Partial<Record<(typeof DIRECTORY_NAMES)[number], { rva: number; size: number }>>;
}

/** Writes into the section by RVA. */
export class SectionWriter {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly imageBase: bigint,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private at(rva: number): number {
    const o = rva - SECTION_RVA + SECTION_FILE;
    if (rva < SECTION_RVA || o >= this.bytes.length)
      throw new Error(`builder: RVA 0x${rva.toString(16)} outside`);
    return o;
  }
  u8(rva: number, v: number): void {
    this.dv.setUint8(this.at(rva), v);
  }
  u16(rva: number, v: number): void {
    this.dv.setUint16(this.at(rva), v, true);
  }
  u32(rva: number, v: number): void {
    this.dv.setUint32(this.at(rva), v >>> 0, true);
  }
  u64(rva: number, v: bigint): void {
    this.dv.setBigUint64(this.at(rva), v, true);
  }
  /** Consecutive u32s from `rva` on (a run of struct fields or table entries). */
  u32s(rva: number, values: readonly number[]): void {
    for (const [i, v] of values.entries()) this.u32(rva + 4 * i, v);
  }
  /** NUL-terminated ASCII string. */
  str(rva: number, s: string): void {
    const o = this.at(rva);
    for (let i = 0; i < s.length; i++) this.bytes[o + i] = s.charCodeAt(i);
    this.bytes[o + s.length] = 0;
  }
  /** VA of an RVA as a 32-bit value (for PE32 pointers). */
  va32(rva: number): number {
    return Number(this.imageBase) + rva;
  }
}

export function buildPe(o: PeBuildOptions, fill: (w: SectionWriter) => void): Uint8Array {
  const plus = o.pe32plus ?? true;
  const imageBase = o.imageBase ?? (plus ? 0x140000000n : 0x400000n);
  const rawSize = Math.ceil((o.sectionSize ?? 0x1000) / 0x200) * 0x200;
  const out = new Uint8Array(SECTION_FILE + rawSize);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0x5a4d, true);
  dv.setUint32(0x3c, 0x40, true);
  dv.setUint32(0x40, 0x4550, true);
  const coff = 0x44;
  const optSize = plus ? 240 : 224;
  dv.setUint16(coff, o.machine ?? (plus ? 0x8664 : 0x14c), true);
  dv.setUint16(coff + 2, 1, true);
  dv.setUint16(coff + 16, optSize, true);
  dv.setUint16(coff + 18, 0x2022, true);
  const opt = coff + 20;
  dv.setUint16(opt, plus ? 0x20b : 0x10b, true);
  if (plus) dv.setBigUint64(opt + 24, imageBase, true);
  else dv.setUint32(opt + 28, Number(imageBase), true);
  dv.setUint32(opt + 32, 0x1000, true);
  dv.setUint32(opt + 36, 0x200, true);
  dv.setUint32(opt + 56, SECTION_RVA + Math.ceil(rawSize / 0x1000) * 0x1000, true);
  dv.setUint32(opt + 60, SECTION_FILE, true);
  dv.setUint16(opt + 68, o.subsystem ?? 3, true);
  const nDir = plus ? opt + 108 : opt + 92;
  dv.setUint32(nDir, 16, true);
  for (const [name, d] of Object.entries(o.directories ?? {})) {
    const i = DIRECTORY_NAMES.indexOf(name as (typeof DIRECTORY_NAMES)[number]);
    dv.setUint32(nDir + 4 + i * 8, d.rva, true);
    dv.setUint32(nDir + 8 + i * 8, d.size, true);
  }
  const sec = opt + optSize;
  out.set([0x2e, 0x64, 0x61, 0x74, 0x61], sec); // ".data"
  dv.setUint32(sec + 8, rawSize, true);
  dv.setUint32(sec + 12, SECTION_RVA, true);
  dv.setUint32(sec + 16, rawSize, true);
  dv.setUint32(sec + 20, SECTION_FILE, true);
  dv.setUint32(sec + 36, 0xc0000040, true);
  fill(new SectionWriter(out, imageBase));
  return out;
}

/** A PE32 (x86) image exercising 4-byte thunks, ordinals, NB10, VA-based delay imports, 32-bit load config. */
export function syntheticPe32(): Uint8Array {
  return buildPe(
    {
      pe32plus: false,
      directories: {
        import: { rva: 0x1000, size: 60 },
        debug: { rva: 0x1500, size: 28 },
        loadconfig: { rva: 0x1600, size: 0x5c },
        delayimport: { rva: 0x1800, size: 64 },
        export: { rva: 0x1c00, size: 0x100 },
        basereloc: { rva: 0x1d00, size: 12 },
      },
    },
    (w) => {
      // KERNEL32.dll: CreateFileW by name (hint 7), #16 by ordinal.
      w.u32(0x1000, 0x1100);
      w.u32(0x100c, 0x1300);
      w.u32(0x1010, 0x1200);
      w.str(0x1300, "KERNEL32.dll");
      for (const t of [0x1100, 0x1200]) {
        w.u32(t, 0x1400);
        w.u32(t + 4, 0x80000010);
      }
      w.u16(0x1400, 7);
      w.str(0x1402, "CreateFileW");
      // ntoskrnl.exe with no lookup table: the IAT holds the thunks.
      w.u32(0x100c + 20, 0x1320);
      w.u32(0x1010 + 20, 0x1240);
      w.str(0x1320, "ntoskrnl.exe");
      w.u32(0x1240, 0x1420);
      w.str(0x1422, "KeBugCheck");
      // NB10 CodeView record.
      w.u32s(0x1500 + 12, [2, 22, 0x1540]); // Type CODEVIEW, SizeOfData, AddressOfRawData
      w.str(0x1540, "NB10");
      w.u32(0x1548, 0x12345678);
      w.u32(0x154c, 3);
      w.str(0x1550, "x.pdb");
      // Load config (32-bit): cookie, guard CF table with one metadata byte per entry.
      w.u32(0x1600, 0x5c);
      w.u32(0x1600 + 60, w.va32(0x1f00));
      w.u32(0x1600 + 80, w.va32(0x1700));
      w.u32(0x1600 + 84, 2);
      w.u32(0x1600 + 88, 0x10000500);
      w.u32(0x1700, 0x1010);
      w.u8(0x1704, 1);
      w.u32(0x1705, 0x1020);
      // Delay import, old VC6 form (Attributes 0): fields are VAs.
      w.u32s(
        0x1804,
        [0x1900, 0x1980, 0x1a00, 0x1a80].map((rva) => w.va32(rva)),
      );
      w.str(0x1900, "WS2_32.dll");
      w.u32(0x1a80, 0x1b00);
      w.str(0x1b02, "send");
      // Exports: ordinal base 5; #5 Alpha, #6 empty, #7 Beta forwarded.
      // Name, Base, NumberOfFunctions, NumberOfNames, AddressOfFunctions/Names/NameOrdinals.
      w.u32s(0x1c00 + 12, [0x1cb0, 5, 3, 2, 0x1c40, 0x1c50, 0x1c60]);
      w.u32(0x1c40, 0x1010);
      w.u32(0x1c48, 0x1c80);
      w.u32(0x1c50, 0x1cc0);
      w.u32(0x1c54, 0x1cd0);
      w.u16(0x1c60, 0);
      w.u16(0x1c62, 2);
      w.str(0x1c80, "NTOSKRNL.KeBugCheck");
      w.str(0x1cc0, "Alpha");
      w.str(0x1cd0, "Beta");
      w.str(0x1cb0, "x.sys");
      // One relocation block: HIGHLOW at 0x1010 plus an ABSOLUTE pad.
      w.u32(0x1d00, 0x1000);
      w.u32(0x1d04, 12);
      w.u16(0x1d08, 0x3010);
    },
  );
}
