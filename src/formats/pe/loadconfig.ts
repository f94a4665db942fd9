import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

/** GuardFlags bits we report. */
export const IMAGE_GUARD_CF_INSTRUMENTED = 0x100;
export const IMAGE_GUARD_CF_FUNCTION_TABLE_PRESENT = 0x400;
/** Bits 28..31 of GuardFlags: bytes of metadata after each 4-byte RVA in the guard CF tables. */
export const IMAGE_GUARD_CF_FUNCTION_TABLE_SIZE_MASK = 0xf0000000;

/** The fields of IMAGE_LOAD_CONFIG_DIRECTORY{32,64} the project uses; VAs kept as bigint. */
export interface LoadConfig {
  /** The structure's own Size field (how many bytes of it the linker wrote). */
  size: number;
  timeDateStamp: number;
  securityCookie?: bigint;
  seHandlerTable?: bigint;
  seHandlerCount?: number;
  guardCFCheckFunctionPointer?: bigint;
  guardCFDispatchFunctionPointer?: bigint;
  guardCFFunctionTable?: bigint;
  guardCFFunctionCount?: number;
  guardFlags?: number;
  guardAddressTakenIatEntryTable?: bigint;
  guardAddressTakenIatEntryCount?: number;
  guardLongJumpTargetTable?: bigint;
  guardLongJumpTargetCount?: number;
}

/** One guard CF function table entry: the function RVA plus its optional flag byte(s). */
export interface GuardFunction {
  rva: number;
  flags: number;
}

/** Field offsets in the 64-bit / 32-bit layouts. */
const LAYOUT = {
  64: {
    cookie: 88,
    seh: 96,
    sehCount: 104,
    check: 112,
    dispatch: 120,
    table: 128,
    count: 136,
    flags: 144,
    iat: 160,
    iatCount: 168,
    ljmp: 176,
    ljmpCount: 184,
  },
  32: {
    cookie: 60,
    seh: 64,
    sehCount: 68,
    check: 72,
    dispatch: 76,
    table: 80,
    count: 84,
    flags: 88,
    iat: 104,
    iatCount: 108,
    ljmp: 112,
    ljmpCount: 116,
  },
} as const;

/** Guard tables have one entry per function; no image has more than a few million. */
const MAX_GUARD_ENTRIES = 4_000_000;

/** Reads the load configuration directory; fields beyond the structure's Size are absent. */
export function readLoadConfig(pe: PeImage): LoadConfig | undefined {
  const dir = pe.directory("loadconfig");
  if (!dir) return undefined;
  const v = pe.view;
  const off = pe.offsetOf(dir.rva, "load config directory");
  const size = v.u32(off);
  if (size < 8) throw new FormatError("pe", `load config Size ${size} is too small`, off);
  // The Size field is authoritative; never read past the file either.
  const limit = Math.min(size, v.length - off);
  const wide = pe.is64;
  const L = wide ? LAYOUT[64] : LAYOUT[32];
  const has = (field: number, width: number) => field + width <= limit;
  const ptr = (field: number): bigint | undefined =>
    has(field, wide ? 8 : 4) ? (wide ? v.u64(off + field) : BigInt(v.u32(off + field))) : undefined;
  const count = (field: number): number | undefined => {
    const x = ptr(field);
    if (x === undefined) return undefined;
    if (x > BigInt(MAX_GUARD_ENTRIES))
      throw new FormatError("pe", `implausible load config count ${x}`, off + field);
    return Number(x);
  };
  const cfg: LoadConfig = { size, timeDateStamp: v.u32(off + 4) };
  const set = <K extends keyof LoadConfig>(k: K, x: LoadConfig[K] | undefined) => {
    if (x !== undefined) cfg[k] = x;
  };
  set("securityCookie", ptr(L.cookie));
  set("seHandlerTable", ptr(L.seh));
  set("seHandlerCount", count(L.sehCount));
  set("guardCFCheckFunctionPointer", ptr(L.check));
  set("guardCFDispatchFunctionPointer", ptr(L.dispatch));
  set("guardCFFunctionTable", ptr(L.table));
  set("guardCFFunctionCount", count(L.count));
  set("guardFlags", has(L.flags, 4) ? v.u32(off + L.flags) : undefined);
  set("guardAddressTakenIatEntryTable", ptr(L.iat));
  set("guardAddressTakenIatEntryCount", count(L.iatCount));
  set("guardLongJumpTargetTable", ptr(L.ljmp));
  set("guardLongJumpTargetCount", count(L.ljmpCount));
  return cfg;
}

/** Where each guard table lives in the load config: its VA and entry count, and its name in errors. */
const GUARD_TABLES = {
  cf: { va: "guardCFFunctionTable", count: "guardCFFunctionCount", what: "guard CF function table" },
  iat: {
    va: "guardAddressTakenIatEntryTable",
    count: "guardAddressTakenIatEntryCount",
    what: "guard IAT table",
  },
} as const;

/** Reads a guard table (function or address-taken IAT targets); empty when the image has none. */
function readGuardTable(pe: PeImage, cfg: LoadConfig | undefined, table: keyof typeof GUARD_TABLES) {
  if (!cfg) return [];
  const fields = GUARD_TABLES[table];
  const { what } = fields;
  const va = cfg[fields.va];
  const n = cfg[fields.count];
  if (!va || !n) return [];
  const rva = pe.vaToRva(va);
  if (rva === undefined) throw new FormatError("pe", `${what} VA 0x${va.toString(16)} is outside the image`);
  const stride = 4 + (((cfg.guardFlags ?? 0) & IMAGE_GUARD_CF_FUNCTION_TABLE_SIZE_MASK) >>> 28);
  const bytes = pe.bytesAt(rva, n * stride, what);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: GuardFunction[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = { rva: dv.getUint32(i * stride, true), flags: stride > 4 ? bytes[i * stride + 4]! : 0 };
  }
  return out;
}

/** The guard CF function table (valid indirect-call targets = function starts), if present. */
export function guardCFFunctions(
  pe: PeImage,
  cfg: LoadConfig | undefined = readLoadConfig(pe),
): GuardFunction[] {
  return readGuardTable(pe, cfg, "cf");
}

/** The guard address-taken IAT entry table (IAT slots whose import is used as a pointer). */
export function guardAddressTakenIatEntries(
  pe: PeImage,
  cfg: LoadConfig | undefined = readLoadConfig(pe),
): GuardFunction[] {
  return readGuardTable(pe, cfg, "iat");
}
