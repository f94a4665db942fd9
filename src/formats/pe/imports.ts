import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

/** One imported function: by name (with its hint) or by ordinal, and the IAT slot the loader fills. */
export interface ImportedSymbol {
  /** DLL name as written in the image (case preserved). */
  dll: string;
  /** Imported name; undefined when imported by ordinal. */
  name?: string;
  /** Ordinal, when imported by ordinal. */
  ordinal?: number;
  /** Export-name-table hint, when imported by name. */
  hint?: number;
  /** RVA of the IAT slot: code calls through `[imageBase + iatRva]`. */
  iatRva: number;
  /** True for a delay-load import. */
  delay: boolean;
}

export interface ImportedDll {
  dll: string;
  /** RVA of the import lookup (name) table; equals iatRva when the image has none. */
  lookupRva: number;
  /** RVA of the first IAT slot. */
  iatRva: number;
  symbols: ImportedSymbol[];
}

export interface DelayImportedDll extends ImportedDll {
  /** Raw Attributes field; bit 0 set = fields are RVAs (all modern images), clear = VAs (VC6). */
  attributes: number;
  moduleHandleRva: number;
  boundIatRva: number;
  unloadIatRva: number;
  timeDateStamp: number;
}

/** Caps that keep hostile images from looping for long: real images stay far below these. */
const MAX_DLLS = 4096;
const MAX_THUNKS_PER_DLL = 65536;
/** Descriptors may share one lookup table; cap the total so that sharing cannot multiply work. */
const MAX_TOTAL_IMPORTS = 200000;

/** Name of an import for display and JSON: the name, or "#ordinal". */
export function importLabel(s: ImportedSymbol): string {
  return s.name ?? `#${s.ordinal}`;
}

/**
 * Reads a thunk table (import lookup table) starting at `tableRva` and returns one symbol per
 * entry; slot i of the IAT is `iatRva + i * thunkSize`.
 */
function readThunks(
  pe: PeImage,
  dll: string,
  tableRva: number,
  iatRva: number,
  delay: boolean,
  budget: number,
) {
  const thunkSize = pe.is64 ? 8 : 4;
  const symbols: ImportedSymbol[] = [];
  for (let i = 0; ; i++) {
    if (i >= MAX_THUNKS_PER_DLL)
      throw new FormatError(
        "pe",
        `import table of ${dll} has no terminator within ${MAX_THUNKS_PER_DLL} entries`,
      );
    if (i >= budget)
      throw new FormatError("pe", `more than ${MAX_TOTAL_IMPORTS} imported functions in total`);
    const at = tableRva + i * thunkSize;
    const off = pe.offsetOf(at, `import lookup table of ${dll}`);
    let byOrdinal: boolean;
    let value: number;
    if (pe.is64) {
      const t = pe.view.u64(off);
      if (t === 0n) break;
      byOrdinal = (t & 0x8000000000000000n) !== 0n;
      value = Number(t & (byOrdinal ? 0xffffn : 0x7fffffffn));
    } else {
      const t = pe.view.u32(off);
      if (t === 0) break;
      byOrdinal = (t & 0x80000000) !== 0;
      value = byOrdinal ? t & 0xffff : t & 0x7fffffff;
    }
    const slot = iatRva + i * thunkSize;
    if (byOrdinal) {
      symbols.push({ dll, ordinal: value, iatRva: slot, delay });
    } else {
      const hintOff = pe.offsetOf(value, `import name of ${dll}`);
      const hint = pe.view.u16(hintOff);
      const name = pe.view.cstr(hintOff + 2, 4096);
      symbols.push({ dll, name, hint, iatRva: slot, delay });
    }
  }
  return symbols;
}

/** The import directory: one entry per DLL, in file order. */
export function readImports(pe: PeImage): ImportedDll[] {
  const dir = pe.directory("import");
  if (!dir) return [];
  const out: ImportedDll[] = [];
  let total = 0;
  // The loader ignores the directory size and stops at an all-zero descriptor; so do we.
  for (let i = 0; ; i++) {
    if (i >= MAX_DLLS)
      throw new FormatError("pe", `import directory has no terminator within ${MAX_DLLS} entries`);
    const off = pe.offsetOf(dir.rva + i * 20, "import directory");
    const v = pe.view;
    const lookup = v.u32(off);
    const nameRva = v.u32(off + 12);
    const iat = v.u32(off + 16);
    if (lookup === 0 && nameRva === 0 && iat === 0) break;
    if (nameRva === 0) throw new FormatError("pe", `import descriptor ${i} has no DLL name`, off);
    const dll = pe.cstrAt(nameRva, 512);
    // Old linkers leave the lookup table out; the (unbound) IAT then holds the same thunks.
    const table = lookup !== 0 ? lookup : iat;
    const symbols = readThunks(pe, dll, table, iat, false, MAX_TOTAL_IMPORTS - total);
    total += symbols.length;
    out.push({ dll, lookupRva: table, iatRva: iat, symbols });
  }
  return out;
}

/** The delay-load import directory (ImgDelayDescr records), one entry per DLL. */
export function readDelayImports(pe: PeImage): DelayImportedDll[] {
  const dir = pe.directory("delayimport");
  if (!dir) return [];
  const out: DelayImportedDll[] = [];
  let total = 0;
  for (let i = 0; ; i++) {
    if (i >= MAX_DLLS)
      throw new FormatError("pe", `delay import directory has no terminator within ${MAX_DLLS} entries`);
    const off = pe.offsetOf(dir.rva + i * 32, "delay import directory");
    const v = pe.view;
    const attributes = v.u32(off);
    const raw = [1, 2, 3, 4, 5, 6].map((k) => v.u32(off + 4 * k));
    const timeDateStamp = v.u32(off + 28);
    if (attributes === 0 && raw.every((x) => x === 0) && timeDateStamp === 0) break;
    // Attributes bit 0 clear: pre-VC7 descriptors hold 32-bit VAs instead of RVAs.
    const toRva = (x: number): number => {
      if (x === 0 || (attributes & 1) !== 0) return x;
      const r = pe.vaToRva(BigInt(x));
      if (r === undefined)
        throw new FormatError(
          "pe",
          `delay import descriptor ${i}: VA 0x${x.toString(16)} outside image`,
          off,
        );
      return r;
    };
    const [nameRva, moduleHandleRva, iatRva, intRva, boundIatRva, unloadIatRva] = raw.map(toRva) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    if (nameRva === 0) throw new FormatError("pe", `delay import descriptor ${i} has no DLL name`, off);
    if (intRva === 0) throw new FormatError("pe", `delay import descriptor ${i} has no name table`, off);
    const dll = pe.cstrAt(nameRva, 512);
    const symbols = readThunks(pe, dll, intRva, iatRva, true, MAX_TOTAL_IMPORTS - total);
    total += symbols.length;
    out.push({
      dll,
      attributes,
      moduleHandleRva,
      lookupRva: intRva,
      iatRva,
      boundIatRva,
      unloadIatRva,
      timeDateStamp,
      symbols,
    });
  }
  return out;
}

/**
 * Every import (regular and delay-load) keyed by the RVA of its IAT slot, so that an indirect
 * `call [rip+disp]` / `jmp [rip+disp]` target can be named: `map.get(targetVa - imageBase)`.
 */
export function importsByIatRva(
  pe: PeImage,
  imports: ImportedDll[] = readImports(pe),
  delayImports: DelayImportedDll[] = readDelayImports(pe),
): Map<number, ImportedSymbol> {
  const map = new Map<number, ImportedSymbol>();
  for (const d of [...imports, ...delayImports]) for (const s of d.symbols) map.set(s.iatRva, s);
  return map;
}

/** DLLs whose presence in the import table means the image runs in kernel mode. */
const KERNEL_DLLS = new Set(["ntoskrnl.exe", "hal.dll", "ntkrnlpa.exe", "ntkrnlmp.exe", "ntkrpamp.exe"]);

/**
 * Kernel-mode detection by imports: an image importing from the kernel (ntoskrnl.exe, hal.dll)
 * or from another driver (*.sys: NDIS.SYS, FLTMGR.SYS, WDFLDR.SYS, ...) runs in kernel mode; the
 * user-mode loader never maps .sys modules. The "native" subsystem alone is not enough (smss.exe
 * is native user mode and imports only ntdll.dll).
 */
export function isKernelMode(imports: ImportedDll[]): boolean {
  return imports.some((d) => {
    const name = d.dll.toLowerCase();
    return KERNEL_DLLS.has(name) || name.endsWith(".sys");
  });
}

/**
 * The one rule for where an image runs (linking, the explorer's badges, events' mode): kernel when
 * `isKernelMode` says so or the image is the kernel itself (a stripped ntoskrnl.exe may import
 * nothing that names the kernel), else user.
 */
export function imageMode(imports: ImportedDll[], fileName: string): "kernel" | "user" {
  const name = fileName.replace(/^.*[\\/]/, "").toLowerCase();
  return isKernelMode(imports) || name === "ntoskrnl.exe" ? "kernel" : "user";
}
