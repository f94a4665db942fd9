/**
 * Loads one x64 image for analysis: imports, exports, .pdata, optional PDB symbols, decoded code,
 * functions and the call graph, wrapped as the AnalysisContext recognizers work on.
 */
import {
  type ExportEntry,
  functionEntries,
  importLabel,
  importsByIatRva,
  type PeImage,
  readExceptionTable,
  readExports,
} from "../formats/pe/index.js";
import { appendAll } from "../util/arrays.js";
import { FormatError } from "../util/errors.js";
import { buildCallGraph, type CallGraph, type CallSite } from "./callgraph.js";
import { type Code, codeSectionRanges, decodeImage, indexAt, splitRanges } from "./disasm.js";
import {
  addImportCalls,
  type DynamicImport,
  findDynamicImports,
  registerCallsThrough,
} from "./dynamic-imports.js";
import { buildFunctions, type FunctionTable, type RuntimeFunctionRange } from "./functions.js";
import { findRegistrations, providerRegistry } from "./recognizers/registration.js";
import type { AnalysisContext } from "./recognizers/types.js";
import { ValueResolver } from "./values.js";

/** Symbols from a PDB (or any other source), already converted to RVAs. */
export interface SymbolTable {
  /** Code symbols (procedures, function publics). */
  functions: Array<{ name: string; rva: number }>;
  /** Data symbols (globals, data publics) with their type names where known. */
  data: Array<{ name: string; rva: number; typeName?: string }>;
}

export interface LoadedProgram {
  pe: PeImage;
  code: Code;
  functions: FunctionTable;
  graph: CallGraph;
  exports: ExportEntry[];
  /** IAT slot rva → import label. */
  imports: Map<number, string>;
  /** Globals that receive an API's address at run time (GetProcAddress & co.), called like imports. */
  dynamicImports: DynamicImport[];
  symbols?: SymbolTable;
  context: AnalysisContext;
  timings: Record<string, number>;
}

export interface LoadOptions {
  symbols?: SymbolTable;
  progress?: (stage: string, done: number, total: number) => void;
}

/**
 * The decode of each image, kept while the image lives: the catalog's TraceLogging attribution and
 * the site analysis load the same image (decoded once instead of twice). `shared` marks a decode a
 * scan asked for with `shareProgram`: later callers that pass no symbols reuse it with its symbols.
 */
interface Decoded {
  symbols?: SymbolTable;
  program?: LoadedProgram;
  shared: boolean;
}
const decoded = new WeakMap<PeImage, Decoded>();

/** How many times an image was decoded (loadProgram calls): a test proves a scan decodes once. */
export const programLoads = { count: 0 };

/**
 * Asks that every `sharedProgram(pe)` of this image reuse one decode (loaded with `symbols`):
 * the scan's TraceLogging attribution and the site analysis then cost one decode, not two.
 */
export function shareProgram(pe: PeImage, symbols?: SymbolTable): void {
  decoded.set(pe, { ...(symbols ? { symbols } : {}), shared: true });
}

/** Whether `shareProgram` was called for this image (its decode is paid for anyway). */
export function isProgramShared(pe: PeImage): boolean {
  return decoded.get(pe)?.shared === true;
}

/** `loadProgram`, reusing the decode `shareProgram` asked for when the symbols agree. */
export function sharedProgram(pe: PeImage, options: LoadOptions = {}): LoadedProgram {
  const d = decoded.get(pe);
  if (d?.shared && (!options.symbols || options.symbols === d.symbols))
    return loadProgram(pe, { ...options, ...(d.symbols ? { symbols: d.symbols } : {}) });
  return loadProgram(pe, options);
}

export function loadProgram(pe: PeImage, options: LoadOptions = {}): LoadedProgram {
  const d = decoded.get(pe);
  if (d?.program && d.symbols === options.symbols) return d.program;
  const program = loadProgramOnce(pe, options);
  decoded.set(pe, {
    ...(options.symbols ? { symbols: options.symbols } : {}),
    program,
    shared: d?.shared === true && d.symbols === options.symbols,
  });
  return program;
}

function loadProgramOnce(pe: PeImage, options: LoadOptions): LoadedProgram {
  if (pe.headers.machineName !== "x64")
    throw new FormatError("pe", `analysis needs an x64 image; this one is ${pe.headers.machineName}`);
  programLoads.count++;
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timings[name] = Math.round(now - t);
    t = now;
  };
  const progress = options.progress;
  const imports = new Map<number, string>();
  for (const [slot, sym] of importsByIatRva(pe)) imports.set(slot, importLabel(sym));
  const exportTable = readExports(pe);
  const exports = exportTable?.entries ?? [];
  const runtimeFunctions: RuntimeFunctionRange[] = [];
  const table = readExceptionTable(pe);
  if (table.kind === "x64") {
    for (const e of functionEntries(pe, table)) {
      const r: RuntimeFunctionRange = { begin: e.begin, end: e.end };
      if (e.chained) r.parent = e.primaryBegin;
      runtimeFunctions.push(r);
    }
  }
  const names = new Map<number, string>();
  const starts = new Set<number>();
  for (const r of runtimeFunctions) if (r.parent === undefined) starts.add(r.begin);
  for (const e of exports) {
    if (e.forwarder || !e.name) continue;
    const sec = pe.sectionOfRva(e.rva);
    if (sec && sec.characteristics & 0x20000000) {
      names.set(e.rva, e.name);
      starts.add(e.rva);
    }
  }
  for (const f of options.symbols?.functions ?? []) {
    names.set(f.rva, f.name);
    starts.add(f.rva);
  }
  if (pe.headers.entryPointRva) starts.add(pe.headers.entryPointRva);
  lap("directories");
  const code = decodeImage(pe, splitRanges(codeSectionRanges(pe), starts), {
    progress: progress ? (d, n) => progress("decode", d, n) : undefined,
  });
  lap("decode");
  const functions = buildFunctions(code, { runtimeFunctions, names, starts, imports });
  lap("functions");
  let graph = buildCallGraph({ pe, code, functions, imports });
  lap("callgraph");
  let values = new ValueResolver(pe, code, functions, graph);
  // APIs resolved at run time into globals are called like imports: rebuild the graph with them.
  const dynamicImports = findDynamicImports({ pe, code, functions, graph, values });
  const callImports = new Map(imports);
  if (dynamicImports.length > 0) {
    for (const d of dynamicImports) if (!callImports.has(d.slot)) callImports.set(d.slot, d.name);
    graph = buildCallGraph({ pe, code, functions, imports: callImports });
    values = new ValueResolver(pe, code, functions, graph);
    const extra = registerCallsThrough({ pe, code, functions, graph, values }, dynamicImports);
    if (extra.length > 0) {
      graph = addImportCalls(graph, extra);
      values = new ValueResolver(pe, code, functions, graph);
    }
    lap("dynamic imports");
  }

  const symbolByRva = new Map<number, string>();
  for (const d of options.symbols?.data ?? []) if (!symbolByRva.has(d.rva)) symbolByRva.set(d.rva, d.name);
  for (const [rva, n] of names) if (!symbolByRva.has(rva)) symbolByRva.set(rva, n);
  for (const e of exports)
    if (e.name && !e.forwarder && !symbolByRva.has(e.rva)) symbolByRva.set(e.rva, e.name);
  const rvaByName = new Map<string, number>();
  for (const [rva, n] of symbolByRva) if (!rvaByName.has(n)) rvaByName.set(n, rva);

  const callsTo = (name: string): CallSite[] => {
    const out = [...(graph.importCallers.get(name) ?? [])];
    const rva = rvaByName.get(name);
    if (rva !== undefined && indexAt(code, rva) >= 0) appendAll(out, graph.callers.get(rva) ?? []);
    return out;
  };
  const base = {
    pe,
    code,
    functions,
    graph,
    values,
    symbolAt: (rva: number) => symbolByRva.get(rva),
    rvaOf: (name: string) => rvaByName.get(name),
    importAt: (iatRva: number) => callImports.get(iatRva),
    callsTo,
  };
  const providers = providerRegistry(findRegistrations(base));
  lap("registrations");
  const context: AnalysisContext = { ...base, providers };
  const out: LoadedProgram = {
    pe,
    code,
    functions,
    graph,
    exports,
    imports,
    dynamicImports,
    context,
    timings,
  };
  if (options.symbols) out.symbols = options.symbols;
  return out;
}
