/**
 * The analysis pipeline: load → recognizers → entry points → reachability → rows joined to the
 * binary's own event metadata (WEVT_TEMPLATE / TraceLogging through the catalog PE extractors).
 */
import {
  eventFamily,
  eventIdentity,
  kernelHookOf,
  kernelKey,
  manifestKey,
  mofKey,
  wppKey,
} from "../catalog/identity.js";
import { type CatalogEvent, emptyResult, type SourceResult } from "../catalog/model.js";
import type { PdbFile } from "../formats/pdb/index.js";
import type { PeImage } from "../formats/pe/index.js";
import { type Condition, conditionAnalyzer, type Logged } from "./conditions/chain.js";
import { type EntryPoint, findEntryPoints } from "./entrypoints.js";
import { functionAt, functionName } from "./functions.js";
import { limitLog } from "./limits.js";
import { type LoadedProgram, type SymbolTable, sharedProgram } from "./program.js";
import { reachTargets } from "./reach.js";
import { recognizers } from "./recognizers/index.js";
import { type KernelNames, nameKernelEvent } from "./recognizers/kernel.js";
import type { WriteFinding } from "./recognizers/types.js";

/** One output row: an (entry point, write site) pair, or a site no entry reaches (entry null). */
export interface SiteRow {
  entry: string | null;
  site: { rva: string; function: string };
  writeFunction: string;
  provider: { guid?: string; name?: string; symbol?: string; handleSymbol?: string };
  event: {
    kind: string;
    id?: number;
    version?: number;
    channel?: number;
    level?: number;
    opcode?: number;
    task?: number;
    keyword?: string;
    symbol?: string;
    name?: string;
    fields?: string[];
    /** Extra facts per kind (kernel group/hook names, TraceLogging blob rva, WPP GUID). */
    [extra: string]: unknown;
  };
  depth: number | null;
  callPath: string[];
  /**
   * Exported functions on the call path after the entry (API-To-ETW's ExportedCallDepth: how many
   * other public APIs the path goes through); null when no entry reaches the site.
   */
  exportedDepth?: number | null;
  /** The written event's identity (catalog/identity.ts), when the site says enough to know it. */
  eventKey?: string;
  /** Wrapper functions between the site and the API (McTemplate*, logging helpers), outermost first. */
  wrappers?: string[];
  /** Branches that must go one way for the write to happen on this chain (see conditions/). */
  conditions?: Condition[];
  logged?: Logged;
}

export interface AnalyzeOptions {
  symbols?: SymbolTable;
  /** Keep only these entry points (names). */
  entries?: string[];
  /** Longest call path, in functions (default 8). */
  maxDepth?: number;
  /** Per entry, keep only the shallowest row of each (provider, event). */
  shallowest?: boolean;
  /** Include sites no entry point reaches (entry null). Default: true unless `entries` is given. */
  unreached?: boolean;
  progress?: (stage: string, done: number, total: number) => void;
  /** Names for legacy kernel group masks / hook ids (see parseKernelNames). */
  kernelNames?: KernelNames;
  /**
   * Events of providers the image's own metadata does not describe, looked up by GUID elsewhere
   * (e.g. a catalog database); joined like the image's own.
   */
  moreEvents?: (providerGuids: string[]) => CatalogEvent[];
  /** Event metadata to join names/fields from; default: the image's own (WEVT_TEMPLATE, TraceLogging). */
  catalog?: SourceResult;
  /** Guard conditions per row (default true). */
  conditions?: boolean;
}

export interface AnalysisReport {
  rows: SiteRow[];
  findings: WriteFinding[];
  entries: EntryPoint[];
  program: LoadedProgram;
  timings: Record<string, number>;
  notes: string[];
}

/** Converts PDB symbols to the analysis symbol table. */
export function symbolsFromPdb(pdb: PdbFile): SymbolTable {
  const functions: SymbolTable["functions"] = [];
  const data: SymbolTable["data"] = [];
  const seenFn = new Set<number>();
  for (const p of pdb.procedures()) {
    if (p.rva === undefined || seenFn.has(p.rva)) continue;
    seenFn.add(p.rva);
    functions.push({ name: p.name, rva: p.rva });
  }
  for (const p of pdb.publics()) {
    if (p.rva === undefined) continue;
    if (p.isFunction || p.isCode) {
      if (!seenFn.has(p.rva)) {
        seenFn.add(p.rva);
        functions.push({ name: p.name, rva: p.rva });
      }
    } else data.push({ name: p.name, rva: p.rva });
  }
  for (const g of pdb.globalData())
    if (g.rva !== undefined) data.unshift({ name: g.name, rva: g.rva, typeName: g.typeName });
  return { functions, data };
}

export function analyzeProgram(program: LoadedProgram, options: AnalyzeOptions = {}): AnalysisReport {
  const timings = { ...program.timings };
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timings[name] = Math.round(now - t);
    t = now;
  };
  const notes: string[] = [];
  const findings = dedupeFindings(recognizers.flatMap((r) => r.find(program.context)));
  // Budgets the recognizers hit (wrapper callers, value combinations, value search steps).
  notes.push(...limitLog(program.context.values).notes());
  if (options.kernelNames)
    for (const f of findings) if (f.event.kind === "kernel") nameKernelEvent(f.event, options.kernelNames);
  lap("recognizers");
  let entries = findEntryPoints(program);
  if (options.entries && options.entries.length > 0) {
    // A Zw* name asks for the Nt* service of the same name (kernel-mode callers use Zw*).
    const wanted = new Set(
      options.entries.flatMap((n) => (/^Zw[A-Z]/.test(n) ? [n, "Nt" + n.slice(2)] : [n])),
    );
    entries = entries.filter((e) => wanted.has(e.name) || wanted.has(e.name.replace(/^.*:/, "")));
    for (const w of options.entries) {
      const alt = /^Zw[A-Z]/.test(w) ? "Nt" + w.slice(2) : w;
      if (!entries.some((e) => e.name === w || e.name === alt || e.name.replace(/^.*:/, "") === w))
        notes.push(`entry point not found: ${w}`);
    }
  }
  const maxDepth = options.maxDepth ?? 8;
  const targets = new Set(findings.map((f) => f.function));
  const reaches = reachTargets(program.graph, entries, targets, maxDepth);
  lap("reach");
  let catalog = options.catalog ?? emptyResult();
  if (options.moreEvents) {
    const known = new Set(catalog.events.map((e) => e.provider.guid));
    const wanted = [
      ...new Set(findings.map((f) => f.provider?.guid).filter((g): g is string => !!g && !known.has(g))),
    ];
    if (wanted.length > 0) {
      const more = options.moreEvents(wanted);
      if (more.length > 0) catalog = { ...catalog, events: [...more, ...catalog.events] };
    }
  }
  const joiner = eventJoiner(catalog);
  const byFunction = new Map<number, WriteFinding[]>();
  for (const f of findings) {
    const l = byFunction.get(f.function);
    if (l) l.push(f);
    else byFunction.set(f.function, [f]);
  }
  // Names by rva, made once: every row's call path names its functions.
  const names = new Map<number, string>();
  const name = (rva: number): string => {
    let n = names.get(rva);
    if (n === undefined) {
      const f = program.functions.byRva.get(rva);
      n = f ? functionName(f) : `sub_${rva.toString(16).toUpperCase()}`;
      names.set(rva, n);
    }
    return n;
  };
  // Functions holding the calls of a wrapper chain after the first one.
  const wrapperNames = (f: WriteFinding): string[] =>
    f.via.slice(1).map((rva) => {
      const fn = functionAt(program.functions, rva);
      return fn ? functionName(fn) : `sub_${rva.toString(16).toUpperCase()}`;
    });
  const guards = options.conditions === false ? undefined : conditionAnalyzer(program);
  const guarded = (row: SiteRow, f: WriteFinding, path: number[]): SiteRow => {
    if (guards) Object.assign(row, guards.forFinding(f, path, row.event));
    return row;
  };
  let rows: SiteRow[] = [];
  const reached = new Set<WriteFinding>();
  for (const r of reaches) {
    for (const f of byFunction.get(r.target) ?? []) {
      reached.add(f);
      rows.push(guarded(toRow(f, r.entry.name, r.path.map(name), joiner, name, wrapperNames), f, r.path));
    }
  }
  const exported = new Set(program.exports.filter((e) => !e.forwarder && e.name).map((e) => e.name!));
  for (const r of rows) r.exportedDepth = r.callPath.slice(1).filter((fn) => exported.has(fn)).length;
  if (options.shallowest) rows = keepShallowest(rows);
  if (options.unreached ?? !options.entries?.length) {
    for (const f of findings)
      if (!reached.has(f))
        rows.push(guarded(toRow(f, null, [name(f.function)], joiner, name, wrapperNames), f, [f.function]));
  }
  lap("rows");
  return { rows, findings, entries, program, timings, notes };
}

export function analyzeImage(pe: PeImage, options: AnalyzeOptions = {}): AnalysisReport {
  const program = sharedProgram(pe, { symbols: options.symbols, progress: options.progress });
  return analyzeProgram(program, options);
}

/** Same API call reported by two recognizers: the more specific kind wins over "manifest". */
function dedupeFindings(all: WriteFinding[]): WriteFinding[] {
  // A specific finding at call R covers manifest findings of the same call (inlined write) and of
  // the API call reached from R through a helper (_tlgWriteTransfer → EtwWriteTransfer).
  const specific = new Set<number>();
  for (const f of all) if (f.event.kind !== "manifest") for (const rva of f.via) specific.add(rva);
  return all.filter((f) => f.event.kind !== "manifest" || !f.via.some((rva) => specific.has(rva)));
}

interface Joiner {
  manifest(guid: string, id: number, version: number): CatalogEvent | undefined;
  providerName(guid: string): string | undefined;
  tracelogging(blobRva: number): CatalogEvent | undefined;
  wpp(messageGuid: string, messageNumber: number): CatalogEvent | undefined;
  /** Kernel (MOF) event of a hook id: class from the group byte, event type from the low byte. */
  kernel(hookId: number): CatalogEvent | undefined;
  /** MOF event by identity (class GUID, event type, version); version unknown: only if the class has one. */
  mofEvent(classGuid: string, eventType: number, version: number | undefined): CatalogEvent | undefined;
}

function eventJoiner(catalog: SourceResult): Joiner {
  // Keyed by event identity (catalog/identity.ts); TraceLogging by blob address inside this image.
  const byIdentity = new Map<string, CatalogEvent>();
  const providers = new Map<string, string>();
  const tl = new Map<number, CatalogEvent>();
  const kernel = new Map<string, CatalogEvent>();
  // MOF versions per (class GUID, event type): a site of unknown version joins only a single one.
  const mofVersions = new Map<string, number[]>();
  for (const e of catalog.events) {
    if (e.provider.guid && e.provider.name) providers.set(e.provider.guid, e.provider.name);
    if (e.kind === "manifest" || e.kind === "wpp") byIdentity.set(eventIdentity(e), e);
    if (e.kind === "tracelogging" && e.tracelogging?.blobRva !== undefined) tl.set(e.tracelogging.blobRva, e);
    if (e.kind === "mof" && e.mof?.classGuid) {
      byIdentity.set(eventIdentity(e), e);
      const family = eventFamily(e);
      mofVersions.set(family, [...(mofVersions.get(family) ?? []), e.version]);
    }
    const hook = kernelHookOf(e);
    if (hook !== undefined) {
      // The newest version of a class's event type describes what today's kernel writes.
      const prev = kernel.get(kernelKey(hook));
      if (!prev || e.version > prev.version) kernel.set(kernelKey(hook), e);
    }
  }
  for (const p of catalog.providers)
    if (p.provider.guid && p.provider.name) providers.set(p.provider.guid, p.provider.name);
  return {
    manifest: (g, id, v) => byIdentity.get(manifestKey(g, id, v)),
    providerName: (g) => providers.get(g),
    tracelogging: (rva) => tl.get(rva),
    wpp: (g, n) => byIdentity.get(wppKey(g, n)),
    kernel: (hookId) => kernel.get(kernelKey(hookId)),
    mofEvent: (g, type, version) => {
      if (version !== undefined) return byIdentity.get(mofKey(g, type, version));
      const versions = [...new Set(mofVersions.get(mofKey(g, type, "*")) ?? [])];
      return versions.length === 1 ? byIdentity.get(mofKey(g, type, versions[0]!)) : undefined;
    },
  };
}

function toRow(
  f: WriteFinding,
  entry: string | null,
  callPath: string[],
  joiner: Joiner,
  name: (rva: number) => string,
  wrapperNames: (f: WriteFinding) => string[],
): SiteRow {
  const provider: SiteRow["provider"] = {};
  if (f.provider?.guid) provider.guid = f.provider.guid;
  const pname = f.provider?.name ?? (f.provider?.guid ? joiner.providerName(f.provider.guid) : undefined);
  if (pname) provider.name = pname;
  if (f.provider?.symbol) provider.symbol = f.provider.symbol;
  if (f.provider?.handleSymbol) provider.handleSymbol = f.provider.handleSymbol;
  const ev = f.event;
  const event: SiteRow["event"] = { kind: ev.kind };
  let eventKey: string | undefined;
  if (ev.kind === "manifest") {
    if (ev.descriptor && provider.guid)
      eventKey = manifestKey(provider.guid, ev.descriptor.id, ev.descriptor.version);
    if (ev.descriptor) Object.assign(event, ev.descriptor);
    if (ev.symbol) event.symbol = ev.symbol;
    if (ev.stackBuilt) event.stackBuilt = true;
    if (ev.levelAtRunTime) event.levelAtRunTime = true;
    // Descriptor picked from a table at run time: every entry, none guessed as the one.
    if (ev.candidates && (ev.tableRva !== undefined || ev.virtualSlot !== undefined)) {
      event.table =
        ev.tableRva !== undefined
          ? `one of ${ev.candidates.length} descriptors in table 0x${ev.tableRva.toString(16)}`
          : `one of ${ev.candidates.length} descriptors returned by the getters in vtable slot 0x${ev.virtualSlot!.toString(16)}`;
      event.candidates = ev.candidates.map((d) => {
        const c = provider.guid ? joiner.manifest(provider.guid, d.id, d.version) : undefined;
        return c ? { ...d, name: c.name } : { ...d };
      });
    }
    if (ev.descriptor && provider.guid) {
      const c = joiner.manifest(provider.guid, ev.descriptor.id, ev.descriptor.version);
      if (c) {
        event.name = c.name;
        if (!event.symbol && c.symbol) event.symbol = c.symbol;
        event.fields = c.fields.map((x) => x.name);
      }
    }
  } else if (ev.kind === "tracelogging") {
    if (ev.name) event.name = ev.name;
    if (ev.eventBlobRva !== undefined) {
      event.eventBlobRva = "0x" + ev.eventBlobRva.toString(16);
      const c = joiner.tracelogging(ev.eventBlobRva);
      if (c) {
        eventKey = eventIdentity(c);
        event.name = c.name;
        event.fields = c.fields.map((x) => x.name);
        if (c.channel) event.channel = c.channel.value;
        if (c.level) event.level = c.level.value;
        if (c.opcode) event.opcode = c.opcode.value;
        event.keyword = c.keywords.mask;
        if (!provider.name) provider.name = c.provider.name;
        if (!provider.guid && c.provider.guid) provider.guid = c.provider.guid;
      }
    }
  } else {
    for (const [k, v] of Object.entries(ev)) if (k !== "kind" && v !== undefined) event[k] = v;
    // Legacy kernel event: the MOF class/event type of its hook id, when a MOF is in the catalog.
    if (ev.kind === "kernel" && ev.hookId !== undefined) {
      eventKey = kernelKey(ev.hookId);
      const c = joiner.kernel(ev.hookId);
      if (c?.mof) {
        event.name = c.name;
        event.fields = c.fields.map((x) => x.name);
        event.mofClass = c.mof.className;
        event.classGuid = c.mof.classGuid;
        event.opcode = c.id;
      }
    }
    if (ev.kind === "mof" && ev.eventType !== undefined) event.id = ev.eventType;
    // Classic write: the MOF class event of its (class GUID, event type, version).
    if (ev.kind === "mof" && ev.classGuid !== undefined && ev.eventType !== undefined) {
      const c = joiner.mofEvent(ev.classGuid, ev.eventType, ev.version);
      eventKey = c ? eventIdentity(c) : mofKey(ev.classGuid, ev.eventType, ev.version ?? "*");
      if (c?.mof) {
        event.name = c.name;
        event.fields = c.fields.map((x) => x.name);
        event.mofClass = c.mof.className;
        if (!provider.name && c.provider.name) provider.name = c.provider.name;
      }
    }
    // WPP: the PDB's TMF message (name, format, arguments) and its control GUID as the provider.
    if (ev.kind === "wpp" && ev.messageGuid !== undefined && ev.messageNumber !== undefined) {
      eventKey = wppKey(ev.messageGuid, ev.messageNumber);
      const c = joiner.wpp(ev.messageGuid, ev.messageNumber);
      if (c) {
        event.name = c.name;
        if (c.message) event.message = c.message;
        event.fields = c.fields.map((x) => x.name);
        if (!provider.guid && c.provider.guid) provider.guid = c.provider.guid;
        if (!provider.name && c.provider.name) provider.name = c.provider.name;
      }
    }
  }
  const row: SiteRow = {
    entry,
    site: { rva: "0x" + f.rva.toString(16), function: name(f.function) },
    writeFunction: f.writeFunction,
    provider,
    event,
    depth: entry === null ? null : callPath.length,
    callPath,
  };
  if (eventKey !== undefined) row.eventKey = eventKey;
  const wrappers = wrapperNames(f);
  if (wrappers.length > 0) row.wrappers = wrappers;
  return row;
}

/** The written event: its identity when known, else everything the site says about it. */
export function siteRowEventKey(r: SiteRow): string {
  if (r.eventKey !== undefined) return r.eventKey;
  const e = r.event;
  return [r.provider.guid ?? "", e.kind, e.id, e.version, e.task, e.opcode, e.keyword, e.symbol, e.name].join(
    "|",
  );
}

function keepShallowest(rows: SiteRow[]): SiteRow[] {
  const best = new Map<string, number>();
  for (const r of rows) {
    const k = `${r.entry}\0${siteRowEventKey(r)}`;
    const d = r.depth ?? Number.MAX_SAFE_INTEGER;
    if (!best.has(k) || d < best.get(k)!) best.set(k, d);
  }
  return rows.filter(
    (r) => (r.depth ?? Number.MAX_SAFE_INTEGER) === best.get(`${r.entry}\0${siteRowEventKey(r)}`),
  );
}
