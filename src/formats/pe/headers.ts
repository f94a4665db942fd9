import type { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";

export const MACHINE_NAMES: Record<number, string> = {
  332: "x86",
  34404: "x64",
  43620: "arm64",
  452: "arm",
  448: "arm",
  42561: "arm64ec",
  512: "ia64",
};

export const DIRECTORY_NAMES = [
  "export",
  "import",
  "resource",
  "exception",
  "security",
  "basereloc",
  "debug",
  "architecture",
  "globalptr",
  "tls",
  "loadconfig",
  "boundimport",
  "iat",
  "delayimport",
  "clr",
  "reserved",
] as const;

export interface DataDirectory {
  rva: number;
  size: number;
}

export interface Section {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
  characteristics: number;
}

/** One 40-byte IMAGE_SECTION_HEADER at `o`, its name as stored (8 bytes, NUL-padded; PDBs keep copies). */
export function readSectionHeader(v: ByteView, o: number): Section {
  const rawName = v.slice(o, 8);
  const nul = rawName.indexOf(0);
  return {
    name: new TextDecoder("latin1").decode(rawName.subarray(0, nul < 0 ? 8 : nul)),
    virtualSize: v.u32(o + 8),
    virtualAddress: v.u32(o + 12),
    rawSize: v.u32(o + 16),
    rawOffset: v.u32(o + 20),
    characteristics: v.u32(o + 36),
  };
}

export const SCN_CNT_CODE = 0x20;
export const SCN_MEM_EXECUTE = 0x20000000;
export const SCN_MEM_READ = 0x40000000;
export const SCN_MEM_WRITE = 0x80000000;

export interface PeHeaders {
  machine: number;
  machineName: string;
  /** True for PE32+ (64-bit optional header). */
  pe32plus: boolean;
  timeDateStamp: number;
  characteristics: number;
  imageBase: bigint;
  entryPointRva: number;
  sectionAlignment: number;
  fileAlignment: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  subsystem: number;
  dllCharacteristics: number;
  checksum: number;
  majorOsVersion: number;
  minorOsVersion: number;
  directories: DataDirectory[];
  sections: Section[];
}

const MAX_SECTIONS = 96;

/**
 * File offset of the COFF string table (after the symbol table), if the image has one. MinGW
 * images keep it for long section names such as ".debug_info" (stored as "/19").
 */
function coffStringTable(v: ByteView, coff: number): number | undefined {
  const symbols = v.u32(coff + 8);
  const count = v.u32(coff + 12);
  if (symbols === 0) return undefined;
  const table = symbols + count * 18;
  return table + 4 <= v.length ? table : undefined;
}

/** Resolves "/N" section names through the string table; keeps the short name when that fails. */
function longSectionName(v: ByteView, shortName: string, stringTable: number | undefined): string {
  const m = /^\/(\d{1,7})$/.exec(shortName);
  if (!m || stringTable === undefined) return shortName;
  const at = stringTable + Number(m[1]);
  if (at >= v.length) return shortName;
  try {
    return v.cstr(at, 256);
  } catch (err) {
    if (err instanceof FormatError) return shortName;
    throw err;
  }
}

/** Parses DOS, COFF and optional headers plus the section table. */
export function parseHeaders(v: ByteView): PeHeaders {
  if (v.length < 64) throw new FormatError("pe", `file too small for a DOS header (${v.length} bytes)`);
  if (v.u16(0) !== 0x5a4d) throw new FormatError("pe", "missing MZ signature", 0);
  const peOff = v.u32(0x3c);
  if (peOff + 24 > v.length)
    throw new FormatError("pe", `PE header offset 0x${peOff.toString(16)} is past end of file`, 0x3c);
  if (v.u32(peOff) !== 0x4550) throw new FormatError("pe", "missing PE\\0\\0 signature", peOff);
  const coff = peOff + 4;
  const machine = v.u16(coff);
  const numberOfSections = v.u16(coff + 2);
  const timeDateStamp = v.u32(coff + 4);
  const sizeOfOptionalHeader = v.u16(coff + 16);
  const characteristics = v.u16(coff + 18);
  if (numberOfSections > MAX_SECTIONS)
    throw new FormatError("pe", `implausible section count ${numberOfSections}`, coff + 2);
  const opt = coff + 20;
  const magic = v.u16(opt);
  if (magic !== 0x10b && magic !== 0x20b)
    throw new FormatError("pe", `unknown optional header magic 0x${magic.toString(16)}`, opt);
  const pe32plus = magic === 0x20b;
  const imageBase = pe32plus ? v.u64(opt + 24) : BigInt(v.u32(opt + 28));
  const nDirOff = pe32plus ? opt + 108 : opt + 92;
  const dirBase = nDirOff + 4;
  const numberOfRvaAndSizes = Math.min(v.u32(nDirOff), 16);
  const directories: DataDirectory[] = [];
  for (let i = 0; i < 16; i++) {
    if (i < numberOfRvaAndSizes && dirBase + i * 8 + 8 <= opt + sizeOfOptionalHeader) {
      directories.push({ rva: v.u32(dirBase + i * 8), size: v.u32(dirBase + i * 8 + 4) });
    } else directories.push({ rva: 0, size: 0 });
  }
  const secTable = opt + sizeOfOptionalHeader;
  v.check(secTable, numberOfSections * 40, "section table");
  const sections: Section[] = [];
  const stringTable = coffStringTable(v, coff);
  for (let i = 0; i < numberOfSections; i++) {
    const header = readSectionHeader(v, secTable + i * 40);
    sections.push({ ...header, name: longSectionName(v, header.name, stringTable) });
  }
  return {
    machine,
    machineName: MACHINE_NAMES[machine] ?? `0x${machine.toString(16)}`,
    pe32plus,
    timeDateStamp,
    characteristics,
    imageBase,
    entryPointRva: v.u32(opt + 16),
    sectionAlignment: v.u32(opt + 32),
    fileAlignment: v.u32(opt + 36),
    majorOsVersion: v.u16(opt + 40),
    minorOsVersion: v.u16(opt + 42),
    sizeOfImage: v.u32(opt + 56),
    sizeOfHeaders: v.u32(opt + 60),
    checksum: v.u32(opt + 64),
    subsystem: v.u16(opt + 68),
    dllCharacteristics: v.u16(opt + 70),
    directories,
    sections,
  };
}
