import { FormatError } from "../../util/errors.js";
import { pdbInfo, readDebugDirectory } from "./debug.js";
import { readExports } from "./exports.js";
import { SCN_MEM_EXECUTE, SCN_MEM_READ, SCN_MEM_WRITE } from "./headers.js";
import type { PeImage } from "./image.js";
import { type ImportedDll, importLabel, isKernelMode, readDelayImports, readImports } from "./imports.js";
import { guardCFFunctions, readLoadConfig } from "./loadconfig.js";
import { functionStarts, readExceptionTable } from "./pdata.js";
import { readRelocations } from "./relocs.js";
import { readResources, resourceTypeName } from "./resources.js";
import { readTls } from "./tls.js";

export const SUBSYSTEM_NAMES: Record<number, string> = {
  1: "native",
  2: "windows-gui",
  3: "windows-console",
  5: "os2-console",
  7: "posix-console",
  9: "windows-ce",
  10: "efi-application",
  11: "efi-boot-driver",
  12: "efi-runtime-driver",
  13: "efi-rom",
  14: "xbox",
  16: "windows-boot-application",
};

export interface PeSectionSummary {
  name: string;
  rva: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
  /** "r", "w", "x" letters from the characteristics. */
  access: string;
  characteristics: number;
}

/** What `etw-atlas pe --json` prints: one object describing the image. */
export interface PeSummary {
  machine: string;
  format: "PE32" | "PE32+";
  imageBase: string;
  entryPoint: number;
  subsystem: string;
  timeDateStamp: number;
  kernelMode: boolean;
  sections: PeSectionSummary[];
  /** DLL → imported names ("#N" for by-ordinal imports). */
  imports: Record<string, string[]>;
  delayImports: Record<string, string[]>;
  exports: number;
  forwarders: number;
  /** Resource type names in tree order (e.g. "WEVT_TEMPLATE", "RT_MESSAGETABLE"). */
  resources: string[];
  pdb: { guid?: string; signature?: number; age: number; path: string; format: "RSDS" | "NB10" } | null;
  debugTypes: string[];
  /** Number of .pdata entries. */
  functions: number;
  /** Primary functions after following x64 unwind chains. */
  primaryFunctions: number;
  pdataKind: string;
  relocations: number;
  guardCFFunctions: number;
  /** RVAs of TLS callbacks (code run before the entry point). */
  tlsCallbacks: number[];
  /** Only with `keepGoing`: directories that could not be read, as "part: message". */
  warnings?: string[];
}

function access(characteristics: number): string {
  return (
    (characteristics & SCN_MEM_READ ? "r" : "-") +
    (characteristics & SCN_MEM_WRITE ? "w" : "-") +
    (characteristics & SCN_MEM_EXECUTE ? "x" : "-")
  );
}

function byDll(dlls: ImportedDll[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of dlls) {
    const list = (out[d.dll] ??= []);
    for (const s of d.symbols) list.push(importLabel(s));
  }
  return out;
}

/**
 * Reads every directory of the image into a summary. By default the first unreadable directory
 * throws its FormatError; with `keepGoing` each failing part becomes a warning and a neutral value.
 */
export function peSummary(pe: PeImage, opts: { keepGoing?: boolean } = {}): PeSummary {
  const warnings: string[] = [];
  const part = <T>(name: string, read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (err) {
      if (!opts.keepGoing || !(err instanceof FormatError)) throw err;
      warnings.push(`${name}: ${err.message}`);
      return fallback;
    }
  };
  const h = pe.headers;
  const imports = part("imports", () => readImports(pe), []);
  const delay = part("delay imports", () => readDelayImports(pe), []);
  const exportTable = part("exports", () => readExports(pe), undefined);
  const resources = part("resources", () => readResources(pe), []);
  const debug = part("debug directory", () => readDebugDirectory(pe), []);
  const cv = pdbInfo(pe, debug);
  const pdata = part("exception directory", () => readExceptionTable(pe), {
    kind: "none" as const,
    entrySize: 0,
    entries: [],
  });
  const primary = part("unwind info", () => functionStarts(pe, pdata).length, 0);
  const relocations = part("base relocations", () => readRelocations(pe).length, 0);
  const tlsCallbacks = part("TLS directory", () => readTls(pe)?.callbacks ?? [], []);
  const guard = part("load config", () => guardCFFunctions(pe, readLoadConfig(pe)).length, 0);
  const summary: PeSummary = {
    machine: h.machineName,
    format: h.pe32plus ? "PE32+" : "PE32",
    imageBase: `0x${h.imageBase.toString(16)}`,
    entryPoint: h.entryPointRva,
    subsystem: SUBSYSTEM_NAMES[h.subsystem] ?? String(h.subsystem),
    timeDateStamp: h.timeDateStamp,
    kernelMode: isKernelMode(imports),
    sections: h.sections.map((s) => ({
      name: s.name,
      rva: s.virtualAddress,
      virtualSize: s.virtualSize,
      rawOffset: s.rawOffset,
      rawSize: s.rawSize,
      access: access(s.characteristics),
      characteristics: s.characteristics,
    })),
    imports: byDll(imports),
    delayImports: byDll(delay),
    exports: exportTable?.entries.length ?? 0,
    forwarders: exportTable?.entries.filter((e) => e.forwarder !== undefined).length ?? 0,
    resources: [...new Set(resources.map((l) => resourceTypeName(l.type)))],
    pdb: cv
      ? {
          format: cv.format,
          ...(cv.guid !== undefined ? { guid: cv.guid } : {}),
          ...(cv.signature !== undefined ? { signature: cv.signature } : {}),
          age: cv.age,
          path: cv.path,
        }
      : null,
    debugTypes: debug.map((e) => e.typeName),
    functions: pdata.entries.length,
    primaryFunctions: primary,
    pdataKind: pdata.kind,
    relocations,
    guardCFFunctions: guard,
    tlsCallbacks,
  };
  if (warnings.length > 0) summary.warnings = warnings;
  return summary;
}
