import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

/**
 * Exception directory (.pdata). Layout depends on the machine:
 * - x64: RUNTIME_FUNCTION = { BeginAddress, EndAddress, UnwindInfoAddress } (12 bytes).
 * - arm64 / arm: { BeginAddress, UnwindData } (8 bytes); UnwindData low 2 bits = 0 means an RVA
 *   of .xdata, otherwise the word is "packed" unwind data that also encodes the function length.
 * - x86 images have no exception directory (SEH is table-free / SafeSEH lives in load config).
 */
export type PdataKind = "x64" | "arm64" | "arm" | "none";

export interface RuntimeFunction {
  begin: number;
  /** End RVA (exclusive). For arm64 derived from the length in packed data or .xdata. */
  end: number;
  /** RVA of the unwind info (x64 UNWIND_INFO, arm64 .xdata); 0 for arm64 packed entries. */
  unwindRva: number;
}

export interface ExceptionTable {
  kind: PdataKind;
  entrySize: number;
  entries: RuntimeFunction[];
}

/** UNWIND_INFO flags (x64). */
export const UNW_FLAG_EHANDLER = 1;
export const UNW_FLAG_UHANDLER = 2;
export const UNW_FLAG_CHAININFO = 4;

export interface UnwindInfo {
  version: number;
  flags: number;
  prologSize: number;
  codeCount: number;
  frameRegister: number;
  frameOffset: number;
  /** Exception/termination handler RVA when flags has EHANDLER or UHANDLER. */
  handlerRva?: number;
  /** The parent RUNTIME_FUNCTION when flags has CHAININFO. */
  chained?: RuntimeFunction;
}

/** No real chain is this deep (MSVC chains one or two levels); stops hostile cycles. */
const MAX_CHAIN_DEPTH = 32;
const MAX_ENTRIES = 4_000_000;

export function pdataKind(pe: PeImage): PdataKind {
  switch (pe.headers.machineName) {
    case "x64":
    case "arm64ec": // ARM64EC/X64 images use x64 RUNTIME_FUNCTION records in .pdata
      return "x64";
    case "arm64":
      return "arm64";
    case "arm":
      return "arm";
    default:
      return "none";
  }
}

/** arm64 packed unwind data (Flag 1 or 2) stores FunctionLength/4 in bits 2..12. */
function arm64End(pe: PeImage, begin: number, unwind: number): number {
  const flag = unwind & 3;
  if (flag === 1 || flag === 2) return begin + ((unwind >>> 2) & 0x7ff) * 4;
  if (flag === 0) {
    // .xdata header word: bits 0..17 = FunctionLength/4.
    const off = pe.rvaToOffset(unwind);
    if (off !== undefined && off + 4 <= pe.bytes.length) return begin + (pe.view.u32(off) & 0x3ffff) * 4;
  }
  return begin;
}

/** arm (Thumb-2) packed unwind data: bits 2..12 = FunctionLength/2. */
function armEnd(pe: PeImage, begin: number, unwind: number): number {
  if ((unwind & 3) !== 0) return (begin & ~1) + ((unwind >>> 2) & 0x7ff) * 2;
  const off = pe.rvaToOffset(unwind);
  if (off !== undefined && off + 4 <= pe.bytes.length) return (begin & ~1) + (pe.view.u32(off) & 0x3ffff) * 2;
  return begin;
}

/** Reads every entry of the exception directory. */
export function readExceptionTable(pe: PeImage): ExceptionTable {
  const kind = pdataKind(pe);
  const dir = pe.directory("exception");
  const entrySize = kind === "x64" ? 12 : kind === "none" ? 0 : 8;
  if (!dir || kind === "none") return { kind, entrySize, entries: [] };
  const count = Math.floor(dir.size / entrySize);
  if (count > MAX_ENTRIES) throw new FormatError("pe", `implausible .pdata entry count ${count}`);
  const raw = pe.bytesAt(dir.rva, count * entrySize, "exception directory");
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const entries: RuntimeFunction[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * entrySize;
    const begin = dv.getUint32(o, true);
    if (kind === "x64") {
      entries[i] = { begin, end: dv.getUint32(o + 4, true), unwindRva: dv.getUint32(o + 8, true) };
    } else {
      const unwind = dv.getUint32(o + 4, true);
      const end = kind === "arm64" ? arm64End(pe, begin, unwind) : armEnd(pe, begin, unwind);
      entries[i] = { begin, end, unwindRva: (unwind & 3) === 0 ? unwind : 0 };
    }
  }
  return { kind, entrySize, entries };
}

/** Parses an x64 UNWIND_INFO record. */
export function readUnwindInfo(pe: PeImage, rva: number): UnwindInfo {
  const off = pe.offsetOf(rva, "unwind info");
  const v = pe.view;
  const b0 = v.u8(off);
  const version = b0 & 7;
  const flags = b0 >>> 3;
  if (version !== 1 && version !== 2)
    throw new FormatError("pe", `unwind info at RVA 0x${rva.toString(16)} has version ${version}`, off);
  const codeCount = v.u8(off + 2);
  const b3 = v.u8(off + 3);
  const info: UnwindInfo = {
    version,
    flags,
    prologSize: v.u8(off + 1),
    codeCount,
    frameRegister: b3 & 15,
    frameOffset: b3 >>> 4,
  };
  // Unwind codes are 2 bytes each, padded to an even count; the trailer follows them.
  const tail = off + 4 + ((codeCount + 1) & ~1) * 2;
  if (flags & UNW_FLAG_CHAININFO) {
    info.chained = { begin: v.u32(tail), end: v.u32(tail + 4), unwindRva: v.u32(tail + 8) };
  } else if (flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) {
    info.handlerRva = v.u32(tail);
  }
  return info;
}

/**
 * The primary (outermost) function entry of an x64 RUNTIME_FUNCTION: MSVC splits functions
 * into a primary entry plus chained fragments (shrink-wrapped or hot/cold parts) whose
 * UNWIND_INFO carries UNW_FLAG_CHAININFO and the parent entry. An UnwindInfoAddress with its
 * low bit set is the other form of chaining: it is the RVA of the parent RUNTIME_FUNCTION.
 */
export function primaryFunction(pe: PeImage, rf: RuntimeFunction): RuntimeFunction {
  const v = pe.view;
  let cur = rf;
  // Hot path (every .pdata entry): read only the bytes needed, no per-entry allocations. A chain
  // longer than MAX_CHAIN_DEPTH is a loop (real chains are one or two levels deep).
  for (let depth = 0; depth <= MAX_CHAIN_DEPTH; depth++) {
    if (cur.unwindRva & 1) {
      const off = pe.offsetOf(cur.unwindRva & ~1, "indirect RUNTIME_FUNCTION");
      cur = { begin: v.u32(off), end: v.u32(off + 4), unwindRva: v.u32(off + 8) };
      continue;
    }
    const off = pe.offsetOf(cur.unwindRva, "unwind info");
    const b0 = v.u8(off);
    const version = b0 & 7;
    if (version !== 1 && version !== 2)
      throw new FormatError(
        "pe",
        `unwind info at RVA 0x${cur.unwindRva.toString(16)} has version ${version}`,
        off,
      );
    if (((b0 >>> 3) & UNW_FLAG_CHAININFO) === 0) return cur;
    const tail = off + 4 + ((v.u8(off + 2) + 1) & ~1) * 2;
    cur = { begin: v.u32(tail), end: v.u32(tail + 4), unwindRva: v.u32(tail + 8) };
  }
  throw new FormatError(
    "pe",
    `unwind chain loop (deeper than ${MAX_CHAIN_DEPTH}) at function 0x${rf.begin.toString(16)}`,
  );
}

/** A .pdata entry with the primary function it belongs to (itself unless chained). */
export interface FunctionEntry extends RuntimeFunction {
  primaryBegin: number;
  chained: boolean;
}

/**
 * Every .pdata entry with its primary function resolved (x64 follows unwind chains; arm/arm64
 * entries are their own primary). Throws FormatError on an unreadable or looping chain.
 */
export function functionEntries(
  pe: PeImage,
  table: ExceptionTable = readExceptionTable(pe),
): FunctionEntry[] {
  const x64 = table.kind === "x64";
  return table.entries.map((rf) => {
    const primaryBegin = x64 ? primaryFunction(pe, rf).begin : rf.begin;
    return {
      begin: rf.begin,
      end: rf.end,
      unwindRva: rf.unwindRva,
      primaryBegin,
      chained: primaryBegin !== rf.begin,
    };
  });
}

/** Sorted, de-duplicated start RVAs of primary functions (chained fragments removed). */
export function functionStarts(pe: PeImage, table: ExceptionTable = readExceptionTable(pe)): number[] {
  const x64 = table.kind === "x64";
  const starts = new Uint32Array(table.entries.length);
  table.entries.forEach((rf, i) => {
    starts[i] = x64 ? primaryFunction(pe, rf).begin : rf.begin;
  });
  starts.sort();
  const out: number[] = [];
  for (let i = 0; i < starts.length; i++) if (i === 0 || starts[i] !== starts[i - 1]) out.push(starts[i]!);
  return out;
}

/** FuncInfo magic numbers of MSVC's x64 C++ exception handling (__CxxFrameHandler3 and its GS form). */
const FUNC_INFO_MAGIC = new Set([0x19930520, 0x19930521, 0x19930522]);
/** Unwind map entries read per FuncInfo at most (a state count no real function comes near). */
const MAX_UNWIND_STATES = 100_000;

/**
 * Unwind funclets of MSVC C++ exception handling: the action RVAs of every FuncInfo unwind map a
 * function's handler data names (UNWIND_INFO handler, then the FuncInfo RVA; recognised by its
 * magic). Such a funclet is entered by the runtime with RDX = the parent's establisher frame, so
 * `lea rcx,[rdx+d]` in it names a slot of that frame, not a field of an object.
 */
export function unwindFunclets(pe: PeImage, table: ExceptionTable = readExceptionTable(pe)): Set<number> {
  const out = new Set<number>();
  if (table.kind !== "x64") return out;
  const seen = new Set<number>();
  for (const rf of table.entries) {
    try {
      const info = readUnwindInfo(pe, rf.unwindRva);
      if (info.handlerRva === undefined || info.chained) continue;
      const off = pe.offsetOf(rf.unwindRva, "unwind info");
      const tail = off + 4 + ((info.codeCount + 1) & ~1) * 2;
      const funcInfo = pe.view.u32(tail + 4);
      if (seen.has(funcInfo)) continue;
      seen.add(funcInfo);
      const fi = pe.offsetOf(funcInfo, "FuncInfo");
      if (!FUNC_INFO_MAGIC.has(pe.view.u32(fi))) continue;
      const states = pe.view.u32(fi + 4);
      const map = pe.view.u32(fi + 8);
      if (states === 0 || states > MAX_UNWIND_STATES || map === 0) continue;
      const m = pe.offsetOf(map, "unwind map");
      for (let s = 0; s < states; s++) {
        const action = pe.view.u32(m + s * 8 + 4);
        if (action !== 0) out.add(action);
      }
    } catch {
      // An unreadable record names no funclet.
    }
  }
  return out;
}
