/**
 * Paths across the modules of a linked build: from every entry API (exports of user-mode DLLs,
 * system calls — kernel functions a syscall stub lands on —, driver dispatch routines) to every
 * write site, one shortest chain per (entry, event). Like the per-image reach: distances to the
 * sites are computed once backwards (unbounded, so entries beyond the depth limit can be counted),
 * then a breadth-first search per entry enters only nodes from which a site is still in range.
 */
import { type SiteRow, siteRowEventKey } from "../analyze.js";
import { type CrossEdge, type Hop, type LinkedBuild, moduleOf, type Node, node, rvaOf } from "./linker.js";
import type { Mode, ModuleSite, ModuleSummary, Role } from "./module.js";
import { suggestedEventName } from "./names.js";

export interface EntryApi {
  module: string;
  name: string;
  kind: "export" | "syscall" | "dispatch";
}

export interface ReachRow {
  build?: string;
  api: EntryApi;
  event: {
    kind: string;
    provider: { name?: string; guid?: string };
    id?: number;
    version?: number;
    name?: string;
    suggestedName?: string;
  };
  site: { module: string; rva: string; function: string };
  writeFunction: string;
  mode: Mode;
  role?: Role;
  chain: Hop[];
  depth: number;
  /** The site's full analysis row (provider symbol, event descriptor, blob rva...). */
  siteRow: SiteRow;
  siteFile: string;
}

export interface ReachOptions {
  /** Longest chain, in functions (default 24). */
  maxDepth?: number;
  /** Keep only entries whose API name passes (the search still counts what it skipped). */
  entryFilter?: (api: EntryApi) => boolean;
  /** Keep only these write sites (applied before the search, so it stays small). */
  siteFilter?: (site: ModuleSite, module: ModuleSummary) => boolean;
}

export interface ReachResult {
  rows: ReachRow[];
  entries: number;
  /** Entries that reach some site, but only through chains longer than maxDepth. */
  cutByDepth: number;
  /** The shortest distance (functions) those cut entries would need, at most. */
  cutDepthNeeded: number;
  maxDepth: number;
}

export function entryApis(b: LinkedBuild): Array<{ at: Node; api: EntryApi }> {
  const out: Array<{ at: Node; api: EntryApi }> = [];
  const seen = new Set<string>();
  const add = (at: Node, api: EntryApi): void => {
    const k = `${at}|${api.name}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ at, api });
  };
  b.modules.forEach((m, i) => {
    for (const e of m.entries) {
      if (m.mode === "user" && e.kind === "export")
        add(node(i, e.rva), { module: m.name, name: e.name, kind: "export" });
      if (e.kind === "dispatch" || (m.mode === "kernel" && e.kind === "syscall"))
        add(node(i, e.rva), { module: m.name, name: e.name, kind: e.kind });
    }
  });
  // Kernel functions a syscall stub lands on are system calls of the build.
  for (const edges of b.cross.values())
    for (const e of edges) {
      const last = e.hops[e.hops.length - 1]!;
      if (last.via === "syscall") add(e.to, { module: last.module, name: last.function, kind: "syscall" });
    }
  return out;
}

interface Graph {
  succ(n: Node): Array<{ to: Node; edge?: CrossEdge }>;
  pred(n: Node): Node[];
}

const graphs = new WeakMap<LinkedBuild, Graph>();

/** The build's graph, built once per linked build (queries per event reuse it). */
function graphOf(b: LinkedBuild): Graph {
  let g = graphs.get(b);
  if (!g) {
    g = buildGraph(b);
    graphs.set(b, g);
  }
  return g;
}

function buildGraph(b: LinkedBuild): Graph {
  const rev = b.modules.map(() => new Map<number, number[]>());
  b.modules.forEach((m, i) => {
    for (const [caller, callees] of m.calls)
      for (const c of callees) {
        const l = rev[i]!.get(c);
        if (l) l.push(caller);
        else rev[i]!.set(c, [caller]);
      }
  });
  const crossRev = new Map<Node, Node[]>();
  for (const [from, edges] of b.cross)
    for (const e of edges) {
      const l = crossRev.get(e.to);
      if (l) l.push(from);
      else crossRev.set(e.to, [from]);
    }
  return {
    succ(n) {
      const m = moduleOf(n);
      const out: Array<{ to: Node; edge?: CrossEdge }> = [];
      for (const c of b.modules[m]!.calls.get(rvaOf(n)) ?? []) out.push({ to: node(m, c) });
      for (const e of b.cross.get(n) ?? []) out.push({ to: e.to, edge: e });
      return out;
    },
    pred(n) {
      const m = moduleOf(n);
      const out = (rev[m]!.get(rvaOf(n)) ?? []).map((r) => node(m, r));
      for (const p of crossRev.get(n) ?? []) out.push(p);
      return out;
    },
  };
}

function eventKey(s: ModuleSite): string {
  return siteRowEventKey(s.row);
}

export function reachAcrossModules(b: LinkedBuild, options: ReachOptions = {}): ReachResult {
  const maxDepth = options.maxDepth ?? 24;
  const g = graphOf(b);
  const sitesAt = new Map<Node, ModuleSite[]>();
  b.modules.forEach((m, i) => {
    for (const s of m.sites) {
      if (options.siteFilter && !options.siteFilter(s, m)) continue;
      const n = node(i, s.function);
      const l = sitesAt.get(n);
      if (l) l.push(s);
      else sitesAt.set(n, [s]);
    }
  });
  // Backward distances (in calls) to the nearest site, unbounded.
  const dist = new Map<Node, number>();
  let frontier: Node[] = [];
  for (const n of sitesAt.keys()) {
    dist.set(n, 0);
    frontier.push(n);
  }
  for (let d = 1; frontier.length > 0; d++) {
    const next: Node[] = [];
    for (const n of frontier)
      for (const p of g.pred(n))
        if (!dist.has(p)) {
          dist.set(p, d);
          next.push(p);
        }
    frontier = next;
  }
  const all = entryApis(b);
  const entries = options.entryFilter ? all.filter((e) => options.entryFilter!(e.api)) : all;
  const rows: ReachRow[] = [];
  let cutByDepth = 0;
  let cutDepthNeeded = 0;
  for (const { at, api } of entries) {
    const d0 = dist.get(at);
    if (d0 === undefined) continue;
    if (d0 + 1 > maxDepth) {
      cutByDepth++;
      cutDepthNeeded = Math.max(cutDepthNeeded, d0 + 1);
      continue;
    }
    const parent = new Map<Node, { from: Node; edge?: CrossEdge }>([[at, { from: -1 }]]);
    const seenEvents = new Set<string>();
    let level = [at];
    for (let depth = 1; depth <= maxDepth && level.length > 0; depth++) {
      const next: Node[] = [];
      for (const n of level) {
        for (const s of sitesAt.get(n) ?? []) {
          const k = eventKey(s);
          if (seenEvents.has(k)) continue;
          seenEvents.add(k);
          rows.push(toRow(b, api, s, n, chainTo(b, parent, n), depth));
        }
        if (depth === maxDepth) continue;
        for (const { to, edge } of g.succ(n)) {
          if (parent.has(to)) continue;
          const left = dist.get(to);
          if (left === undefined || depth + 1 + left > maxDepth) continue;
          parent.set(to, edge ? { from: n, edge } : { from: n });
          next.push(to);
        }
      }
      level = next;
    }
  }
  return { rows, entries: entries.length, cutByDepth, cutDepthNeeded, maxDepth };
}

function chainTo(b: LinkedBuild, parent: Map<Node, { from: Node; edge?: CrossEdge }>, n: Node): Hop[] {
  const rev: Hop[] = [];
  for (let cur = n; cur !== -1; ) {
    const p = parent.get(cur)!;
    const m = b.modules[moduleOf(cur)]!;
    const fn = m.functionNames.get(rvaOf(cur)) ?? `sub_${rvaOf(cur).toString(16).toUpperCase()}`;
    if (p.edge) {
      // Forwarders pass through exports that are not functions of the chain: keep them as hops.
      for (let j = p.edge.hops.length - 1; j >= 0; j--) rev.push(p.edge.hops[j]!);
    } else
      rev.push(
        p.from === -1 ? { module: m.name, function: fn } : { module: m.name, function: fn, via: "call" },
      );
    cur = p.from;
  }
  return rev.reverse();
}

function toRow(
  b: LinkedBuild,
  api: EntryApi,
  s: ModuleSite,
  at: Node,
  chain: Hop[],
  depth: number,
): ReachRow {
  const m = b.modules[moduleOf(at)]!;
  const r = s.row;
  const e = r.event;
  const event: ReachRow["event"] = { kind: e.kind, provider: {} };
  if (r.provider.name ?? r.provider.symbol) event.provider.name = r.provider.name ?? r.provider.symbol;
  if (r.provider.guid) event.provider.guid = r.provider.guid;
  if (typeof e.id === "number") event.id = e.id;
  if (typeof e.version === "number") event.version = e.version;
  const name = e.name ?? e.symbol;
  if (typeof name === "string") event.name = name;
  const suggested = suggestedEventName(event.name, chain);
  if (suggested) event.suggestedName = suggested;
  const row: ReachRow = {
    api,
    event,
    site: { module: m.name, rva: r.site.rva, function: r.site.function },
    writeFunction: r.writeFunction,
    mode: m.mode,
    chain,
    depth,
    siteRow: r,
    siteFile: m.file,
  };
  if (m.build) row.build = m.build;
  if (m.role) row.role = m.role;
  return row;
}
