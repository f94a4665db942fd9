import { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";
import { MACHINE_NAMES } from "../../pe/headers.js";

export interface SectionContribution {
  section: number;
  offset: number;
  size: number;
  characteristics: number;
  /** 0-based module index. */
  module: number;
  dataCrc: number;
  relocCrc: number;
}

export interface ModuleInfo {
  /** 0-based index in DBI order (S_PROCREF's `module` is this + 1). */
  index: number;
  name: string;
  objectName: string;
  flags: number;
  /** MSF stream holding the module's symbols, or undefined when absent (0xFFFF). */
  symbolStream: number | undefined;
  symbolBytes: number;
  c11Bytes: number;
  c13Bytes: number;
  sourceFileCount: number;
  contribution: SectionContribution;
}

export interface SectionMapEntry {
  flags: number;
  overlay: number;
  group: number;
  frame: number;
  sectionName: number;
  className: number;
  offset: number;
  length: number;
}

/** Indices into the optional debug header (each a stream number, 0xFFFF = absent). */
export const DebugStream = {
  Fpo: 0,
  Exception: 1,
  Fixup: 2,
  OmapToSrc: 3,
  OmapFromSrc: 4,
  SectionHeaders: 5,
  TokenRidMap: 6,
  Xdata: 7,
  Pdata: 8,
  NewFpo: 9,
  OriginalSectionHeaders: 10,
} as const;

export interface DbiStream {
  versionHeader: number;
  /** The age the image's RSDS record must equal. */
  age: number;
  globalsStream: number | undefined;
  publicsStream: number | undefined;
  symbolRecordStream: number | undefined;
  buildNumber: number;
  /** Bit 0 incrementally linked, bit 1 private symbols stripped, bit 2 conflicting types. */
  flags: number;
  machineCode: number;
  /** "x64", "x86", "arm64", ... or "0x...." for unknown machines. */
  machine: string;
  modules: ModuleInfo[];
  sectionContributions: SectionContribution[];
  sectionMap: SectionMapEntry[];
  /** Optional debug header stream numbers (undefined = absent), indexed by DebugStream. */
  debugStreams: (number | undefined)[];
}

export function machineName(code: number): string {
  return MACHINE_NAMES[code] ?? `0x${code.toString(16).padStart(4, "0")}`;
}

const utf8 = new TextDecoder("utf-8");
const streamOrNone = (n: number) => (n === 0xffff ? undefined : n);

const SC_VER60 = 0xeffe0000 + 19970605;
const SC_V2 = 0xeffe0000 + 20140516;

function parseContribution(v: ByteView, o: number): SectionContribution {
  return {
    section: v.u16(o),
    offset: v.i32(o + 4),
    size: v.i32(o + 8),
    characteristics: v.u32(o + 12),
    module: v.u16(o + 16),
    dataCrc: v.u32(o + 20),
    relocCrc: v.u32(o + 24),
  };
}

/**
 * Reads the DBI stream (stream 3): the 64-byte header, then the substreams in file order
 * ModInfo, SectionContribution, SectionMap, FileInfo, TypeServerMap, EC, OptionalDbgHeader.
 * Substream sizes are validated against the stream length before anything is read.
 */
export function parseDbiStream(data: Uint8Array): DbiStream {
  const v = new ByteView(data, "pdb");
  if (data.length < 64)
    throw new FormatError("pdb", `DBI stream is ${data.length} bytes, need a 64-byte header`);
  if (v.i32(0) !== -1)
    throw new FormatError("pdb", `DBI stream has version signature ${v.i32(0)}, expected -1`, 0);
  const sizes = {
    modInfo: v.i32(24),
    sectionContrib: v.i32(28),
    sectionMap: v.i32(32),
    sourceInfo: v.i32(36),
    typeServerMap: v.i32(40),
    optionalDbgHeader: v.i32(48),
    ec: v.i32(52),
  };
  let total = 64;
  for (const [name, n] of Object.entries(sizes)) {
    if (n < 0) throw new FormatError("pdb", `DBI ${name} substream size ${n} is negative`);
    total += n;
  }
  if (total > data.length)
    throw new FormatError("pdb", `DBI substreams need ${total} bytes but the stream has ${data.length}`);
  const machineCode = v.u16(58);
  const dbi: DbiStream = {
    versionHeader: v.u32(4),
    age: v.u32(8),
    globalsStream: streamOrNone(v.u16(12)),
    buildNumber: v.u16(14),
    publicsStream: streamOrNone(v.u16(16)),
    symbolRecordStream: streamOrNone(v.u16(20)),
    flags: v.u16(56),
    machineCode,
    machine: machineName(machineCode),
    modules: [],
    sectionContributions: [],
    sectionMap: [],
    debugStreams: [],
  };

  // Module infos: fixed 64 bytes + module name + object name, padded to 4.
  let o = 64;
  const modEnd = o + sizes.modInfo;
  while (o + 64 <= modEnd) {
    // cstrEnd throws when a name has no NUL before the end of the substream.
    const nameEnd = v.cstrEnd(o + 64, modEnd - o - 64);
    const objEnd = v.cstrEnd(nameEnd + 1, modEnd - nameEnd - 1);
    dbi.modules.push({
      index: dbi.modules.length,
      contribution: parseContribution(v, o + 4),
      flags: v.u16(o + 32),
      symbolStream: streamOrNone(v.u16(o + 34)),
      symbolBytes: v.u32(o + 36),
      c11Bytes: v.u32(o + 40),
      c13Bytes: v.u32(o + 44),
      sourceFileCount: v.u16(o + 48),
      name: utf8.decode(data.subarray(o + 64, nameEnd)),
      objectName: utf8.decode(data.subarray(nameEnd + 1, objEnd)),
    });
    o = (objEnd + 1 + 3) & ~3;
  }

  // Section contributions.
  o = modEnd;
  const scEnd = o + sizes.sectionContrib;
  if (sizes.sectionContrib >= 4) {
    const version = v.u32(o);
    const entrySize = version === SC_V2 ? 32 : version === SC_VER60 ? 28 : 0;
    if (entrySize === 0)
      throw new FormatError("pdb", `unknown DBI section contribution version 0x${version.toString(16)}`, o);
    for (let p = o + 4; p + entrySize <= scEnd; p += entrySize)
      dbi.sectionContributions.push(parseContribution(v, p));
  }

  // Section map.
  o = scEnd;
  const smEnd = o + sizes.sectionMap;
  if (sizes.sectionMap >= 4) {
    const count = v.u16(o);
    for (let i = 0, p = o + 4; i < count && p + 20 <= smEnd; i++, p += 20) {
      dbi.sectionMap.push({
        flags: v.u16(p),
        overlay: v.u16(p + 2),
        group: v.u16(p + 4),
        frame: v.u16(p + 6),
        sectionName: v.u16(p + 8),
        className: v.u16(p + 10),
        offset: v.u32(p + 12),
        length: v.u32(p + 16),
      });
    }
  }

  // Optional debug header sits after FileInfo, TypeServerMap and EC.
  o = smEnd + sizes.sourceInfo + sizes.typeServerMap + sizes.ec;
  for (let p = o; p + 2 <= o + sizes.optionalDbgHeader; p += 2) dbi.debugStreams.push(streamOrNone(v.u16(p)));
  return dbi;
}
