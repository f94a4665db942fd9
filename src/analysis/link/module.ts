/**
 * What linking needs of one analysed image, small enough to keep for every module of a build
 * after its decoded code is dropped: functions with names, intra-module call edges, calls
 * through imports (with the imported DLL and name/ordinal), exports, syscall stubs, entry
 * points, the write sites and whether the image runs in kernel or user mode.
 */
import {
  type ExportEntry,
  imageMode,
  importsByIatRva,
  readDelayImports,
  readImports,
} from "../../formats/pe/index.js";
import { type AnalysisReport, type SiteRow, siteRowEventKey } from "../analyze.js";
import { functionAt, functionName } from "../functions.js";
import { syscallNumberAt } from "./syscall.js";

export type Mode = "kernel" | "user";
/** For user mode: a service/server-side module, a DLL any process loads, or a program. */
export type Role = "service" | "in-process" | "process";

/** One imported symbol (`dll!name` or `dll!#ordinal`), delay-load marked. */
export interface ModuleImport {
  dll: string;
  name?: string;
  ordinal?: number;
  delay: boolean;
}

/**
 * A call through an import: the calling function and the index of the symbol in the module's
 * `imports` (a System32 has millions of such calls; the symbol's strings are kept once).
 */
export interface ImportCall {
  /** Calling function rva. */
  caller: number;
  import: number;
}

export interface ModuleSite {
  /** Function containing the write call. */
  function: number;
  rva: number;
  row: SiteRow;
}

export interface ModuleSummary {
  /** Path as scanned. */
  file: string;
  /** File name, lower case (how other modules import it). */
  name: string;
  build?: string;
  mode: Mode;
  role?: Role;
  /** Why the role was chosen (the export or import that shows it). */
  roleWhy?: string;
  /** Function rva → display name (symbol, export or sub_RVA). */
  functionNames: Map<number, string>;
  /** Direct (and pointer-global) calls between functions of the module: caller → callees. */
  calls: Map<number, number[]>;
  importCalls: ImportCall[];
  /** Import thunks (`jmp [rip+__imp_X]`): an export there only passes the call on. */
  thunks: Set<number>;
  /** Imported symbols (one link record each); calls refer to them by index. */
  imports: ModuleImport[];
  exports: ExportEntry[];
  /** Exported syscall stubs: export name → system-call number. */
  syscalls: Map<string, number>;
  entries: Array<{ name: string; rva: number; kind: "syscall" | "export" | "entry" | "dispatch" }>;
  sites: ModuleSite[];
}

const SERVICE_EXPORTS = [
  "ServiceMain",
  "SvcMain",
  "SpLsaModeInitialize",
  "SpUserModeInitialize",
  "LsaApInitializePackage",
];
const RPC_SERVER_IMPORTS = /^(RpcServerRegisterIf\w*|RpcServerUseProtseq\w*|NdrServerCall\w*)$/;

/** Distinct write sites of a report: one per (site rva, event), whichever entry reached it. */
function distinctSites(report: AnalysisReport): ModuleSite[] {
  const out = new Map<string, ModuleSite>();
  for (const row of report.rows) {
    const rva = Number.parseInt(row.site.rva, 16);
    const key = `${rva}|${siteRowEventKey(row)}`;
    if (out.has(key)) continue;
    const fn = functionAt(report.program.functions, rva);
    out.set(key, { function: fn?.rva ?? rva, rva, row: linkSiteRow(row) });
  }
  return [...out.values()];
}

/**
 * What linking and reach use of a site row: where, which write, which provider and event. Field
 * lists, conditions and per-kind extras stay in the catalog's sites table; a whole System32 kept
 * them in every module summary (363 of 627 MB of summaries) and linking spent its time in GC.
 */
function linkSiteRow(row: SiteRow): SiteRow {
  const e = row.event;
  const event: SiteRow["event"] = { kind: e.kind };
  for (const k of ["id", "version", "channel", "level", "opcode", "task"] as const)
    if (typeof e[k] === "number") event[k] = e[k];
  for (const k of ["keyword", "symbol", "name"] as const) if (typeof e[k] === "string") event[k] = e[k];
  const out: SiteRow = {
    entry: null,
    site: row.site,
    writeFunction: row.writeFunction,
    provider: row.provider,
    event,
    depth: null,
    callPath: [],
  };
  if (row.eventKey !== undefined) out.eventKey = row.eventKey;
  return out;
}

/** Identity of an imported symbol: DLL as spelled (case-folded), name or ordinal, delay-load. */
export function importedSymbolKey(s: {
  dll: string;
  name?: string;
  ordinal?: number;
  delay: boolean;
}): string {
  return `${s.dll.toLowerCase()}\0${s.name ?? ""}\0${s.ordinal ?? ""}\0${s.delay ? 1 : 0}`;
}

export function summarizeModule(file: string, report: AnalysisReport, build?: string): ModuleSummary {
  const p = report.program;
  const pe = p.pe;
  const name = file.replace(/^.*[\\/]/, "").toLowerCase();
  const imports = readImports(pe);
  const delay = readDelayImports(pe);
  const mode: Mode = imageMode(imports, name);
  const functionNames = new Map<number, string>();
  for (const [rva, f] of p.functions.byRva) functionNames.set(rva, functionName(f));
  const calls = new Map<number, number[]>();
  const importCalls: ImportCall[] = [];
  const bySlot = importsByIatRva(pe, imports, delay);
  const importList: ModuleImport[] = [];
  const importIndex = new Map<string, number>();
  const indexOf = (sym: { dll: string; name?: string; ordinal?: number; delay: boolean }): number => {
    const key = importedSymbolKey(sym);
    let i = importIndex.get(key);
    if (i === undefined) {
      i = importList.length;
      const r: ModuleImport = { dll: sym.dll, delay: sym.delay };
      if (sym.name !== undefined) r.name = sym.name;
      if (sym.ordinal !== undefined) r.ordinal = sym.ordinal;
      importList.push(r);
      importIndex.set(key, i);
    }
    return i;
  };
  for (const d of [...imports, ...delay]) for (const s of d.symbols) indexOf(s);
  for (const s of p.graph.sites) {
    if (s.callee.kind === "function") {
      const l = calls.get(s.caller);
      if (l) l.push(s.callee.rva);
      else calls.set(s.caller, [s.callee.rva]);
    } else {
      const sym = bySlot.get(s.callee.iatRva);
      if (sym) importCalls.push({ caller: s.caller, import: indexOf(sym) });
    }
  }
  // An import thunk (`jmp [rip+__imp_X]`) that is itself exported calls the import.
  const thunks = new Set<number>();
  for (const [rva, f] of p.functions.byRva) {
    if (f.thunkImport === undefined) continue;
    thunks.add(rva);
    const sym = bySlot.get(p.code.addr[f.first]!);
    if (sym) importCalls.push({ caller: rva, import: indexOf(sym) });
  }
  const syscalls = new Map<string, number>();
  if (mode === "user")
    for (const e of p.exports) {
      if (e.forwarder || !e.name) continue;
      const n = syscallNumberAt(pe, e.rva);
      if (n !== undefined) for (const alias of e.names) syscalls.set(alias, n);
    }
  const out: ModuleSummary = {
    file,
    name,
    mode,
    functionNames,
    calls,
    importCalls,
    thunks,
    imports: importList,
    exports: p.exports,
    syscalls,
    entries: report.entries.map((e) => ({ name: e.name, rva: e.rva, kind: e.kind })),
    sites: distinctSites(report),
  };
  if (build) out.build = build;
  if (mode === "user")
    Object.assign(
      out,
      userRole(
        name,
        p.exports,
        [...imports, ...delay].flatMap((d) => d.symbols),
      ),
    );
  return out;
}

/** Service/server-side (exports a service or security-package entry, hosts an RPC server), else in-process DLL or program. */
function userRole(
  name: string,
  exports: ExportEntry[],
  imported: Array<{ name?: string }>,
): { role: Role; roleWhy?: string } {
  for (const e of exports)
    for (const n of e.names)
      if (SERVICE_EXPORTS.includes(n)) return { role: "service", roleWhy: `exports ${n}` };
  for (const s of imported)
    if (s.name && RPC_SERVER_IMPORTS.test(s.name)) return { role: "service", roleWhy: `imports ${s.name}` };
  return name.endsWith(".exe") ? { role: "process" } : { role: "in-process" };
}
