/**
 * Links the modules of one Windows build: each call through an import lands on the exporting
 * module's function (by name or ordinal, delay-load included), through API-set contracts
 * (the build's schema, else the one module of the build that exports the name) and forwarder
 * chains; each exported syscall stub of a user-mode module lands on the same-named export of a
 * kernel image of the build. The result is one graph whose nodes are (module, function).
 */
import { type ApiSetSchema, isApiSetName, resolveApiSet } from "../../formats/apiset/index.js";
import type { ExportEntry } from "../../formats/pe/index.js";
import type { ModuleSummary } from "./module.js";

export type Via = "call" | "import" | "apiset" | "forwarder" | "syscall";

/** How an API-set contract was resolved. */
export type ApiSetRule = "schema" | "unique-exporter";

export interface Hop {
  module: string;
  function: string;
  /** How the chain got here from the previous hop (absent on the first hop). */
  via?: Via;
  syscall?: number;
  apiset?: { contract: string; rule: ApiSetRule };
  delay?: true;
}

/** A node: module index × 2^32 + function rva. */
export type Node = number;
export const node = (m: number, rva: number): Node => m * 0x100000000 + rva;
export const moduleOf = (n: Node): number => Math.floor(n / 0x100000000);
export const rvaOf = (n: Node): number => n % 0x100000000;

/** An edge that leaves its module; `hops` end at the target function. */
export interface CrossEdge {
  to: Node;
  hops: Hop[];
}

/** One imported symbol (or syscall stub) and what it resolved to. */
export interface LinkRecord {
  from: string;
  /** `import`/`apiset` for imports, `syscall` for stubs. */
  kind: "import" | "apiset" | "syscall";
  dll: string;
  symbol: string;
  delay?: true;
  to?: { module: string; function: string };
  /** Forwarders followed on the way. */
  forwarders?: number;
  rule?: ApiSetRule;
  syscall?: number;
  /** Why it did not resolve. */
  unresolved?: string;
}

/**
 * Cross-module edges by source node, kept per module and keyed by rva: a node number does not fit
 * a small integer, and a whole System32's 770k source nodes as boxed Map keys cost most of linking.
 */
export class CrossEdges {
  private readonly byModule: Array<Map<number, CrossEdge[]> | undefined> = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(from: Node): CrossEdge[] | undefined {
    return this.byModule[moduleOf(from)]?.get(rvaOf(from));
  }

  /** Adds an edge unless the source already has one to the same target. */
  add(from: Node, e: CrossEdge): void {
    const m = moduleOf(from);
    let map = this.byModule[m];
    if (!map) this.byModule[m] = map = new Map();
    const rva = rvaOf(from);
    const l = map.get(rva);
    if (!l) {
      map.set(rva, [e]);
      this.count++;
    } else if (!l.some((x) => x.to === e.to)) l.push(e);
  }

  *values(): IterableIterator<CrossEdge[]> {
    for (const map of this.byModule) if (map) yield* map.values();
  }

  *[Symbol.iterator](): IterableIterator<[Node, CrossEdge[]]> {
    for (let m = 0; m < this.byModule.length; m++)
      for (const [rva, edges] of this.byModule[m] ?? []) yield [node(m, rva), edges];
  }
}

export interface LinkedBuild {
  modules: ModuleSummary[];
  /** Cross-module edges by source node. */
  cross: CrossEdges;
  links: LinkRecord[];
  /** Whether API-set contracts were resolved through the build's schema. */
  apiSetSource: "schema" | "unique-exporter";
  notes: string[];
}

const MAX_FORWARDS = 8;

export function linkModules(modules: ModuleSummary[], schema?: ApiSetSchema): LinkedBuild {
  const notes: string[] = [];
  const byName = new Map<string, number>();
  modules.forEach((m, i) => {
    const prev = byName.get(m.name);
    if (prev === undefined) byName.set(m.name, i);
    else
      notes.push(
        `two modules named ${m.name} in one build: ${modules[prev]!.file} is linked, ${m.file} is not`,
      );
  });
  const exportsOf = modules.map((m) => {
    const byExportName = new Map<string, ExportEntry>();
    const byOrdinal = new Map<number, ExportEntry>();
    for (const e of m.exports) {
      for (const n of e.names) byExportName.set(n, e);
      byOrdinal.set(e.ordinal, e);
    }
    return { byExportName, byOrdinal };
  });
  // Modules exporting a name as code: a forwarder or an import thunk (kernel32 → kernelbase) is
  // not a second exporter.
  const exporters = new Map<string, number[]>();
  modules.forEach((m, i) => {
    for (const e of m.exports)
      for (const n of e.forwarder || m.thunks.has(e.rva) ? [] : e.names) {
        const l = exporters.get(n);
        if (l) {
          if (l[l.length - 1] !== i) l.push(i);
        } else exporters.set(n, [i]);
      }
  });

  type Resolved = { to: Node; hops: Hop[]; forwarders: number; rule?: ApiSetRule } | { unresolved: string };
  /** Module index of a DLL name as an importer in module `from` spells it. */
  const moduleFor = (
    dll: string,
    from: number,
    symbol: string | undefined,
  ): { m: number; apiset?: { contract: string; rule: ApiSetRule } } | { unresolved: string } => {
    const lower = dll.toLowerCase();
    const withExt = /\.[a-z0-9]+$/.test(lower) ? lower : `${lower}.dll`;
    if (isApiSetName(withExt)) {
      const contract = withExt.replace(/\.dll$/, "");
      if (schema) {
        const host = resolveApiSet(schema, withExt, modules[from]!.name);
        if (!host) return { unresolved: `api-set ${contract} has no host in the build's schema` };
        const m = byName.get(host);
        if (m === undefined) return { unresolved: `api-set host ${host} is not in the build` };
        return { m, apiset: { contract, rule: "schema" } };
      }
      const candidates = symbol !== undefined ? (exporters.get(symbol) ?? []) : [];
      if (candidates.length !== 1)
        return {
          unresolved:
            candidates.length === 0
              ? `api-set ${contract}: no module of the build exports ${symbol ?? "an ordinal"} (no schema)`
              : `api-set ${contract}: ${candidates.length} modules export ${symbol} (no schema)`,
        };
      return { m: candidates[0]!, apiset: { contract, rule: "unique-exporter" } };
    }
    const m = byName.get(withExt);
    return m === undefined ? { unresolved: `${withExt} is not in the build` } : { m };
  };

  const resolve = (
    from: number,
    dll: string,
    name: string | undefined,
    ordinal: number | undefined,
  ): Resolved => {
    const hops: Hop[] = [];
    let forwarders = 0;
    let rule: ApiSetRule | undefined;
    let curDll = dll;
    let curName = name;
    let curOrdinal = ordinal;
    let importer = from;
    for (;;) {
      const target = moduleFor(curDll, importer, curName);
      if ("unresolved" in target) return { unresolved: target.unresolved };
      const mod = modules[target.m]!;
      const ex = exportsOf[target.m]!;
      const entry = curName !== undefined ? ex.byExportName.get(curName) : ex.byOrdinal.get(curOrdinal!);
      const label = curName ?? `#${curOrdinal}`;
      if (!entry) return { unresolved: `${mod.name} does not export ${label}` };
      const hop: Hop = {
        module: mod.name,
        function: entry.name ?? label,
        via: hops.length === 0 ? "import" : "forwarder",
      };
      if (target.apiset) {
        hop.apiset = target.apiset;
        if (hops.length === 0) hop.via = "apiset";
        rule ??= target.apiset.rule;
      }
      hops.push(hop);
      if (!entry.forwarder) {
        if (!mod.functionNames.has(entry.rva)) return { unresolved: `${mod.name}!${label} is not code` };
        hop.function = mod.functionNames.get(entry.rva)!;
        const out: Resolved = { to: node(target.m, entry.rva), hops, forwarders };
        if (rule) out.rule = rule;
        return out;
      }
      if (++forwarders > MAX_FORWARDS)
        return { unresolved: `forwarder chain longer than ${MAX_FORWARDS} at ${mod.name}!${label}` };
      const dot = entry.forwarder.lastIndexOf(".");
      if (dot <= 0) return { unresolved: `bad forwarder ${entry.forwarder}` };
      curDll = entry.forwarder.slice(0, dot);
      const sym = entry.forwarder.slice(dot + 1);
      if (sym.startsWith("#")) {
        curName = undefined;
        curOrdinal = Number(sym.slice(1));
      } else {
        curName = sym;
        curOrdinal = undefined;
      }
      importer = target.m;
    }
  };

  const cross = new CrossEdges();
  const links: LinkRecord[] = [];
  modules.forEach((m, i) => {
    // One resolution per imported symbol, and one edge object (per delay-load flag) that every
    // call through it shares: a System32 has millions of import calls, and allocating per call
    // made linking spend most of its time in the garbage collector.
    const edges: Array<CrossEdge | undefined> = m.imports.map((s) => {
      const r = resolve(i, s.dll, s.name, s.ordinal);
      const rec: LinkRecord = {
        from: m.name,
        kind: isApiSetName(s.dll) ? "apiset" : "import",
        dll: s.dll,
        symbol: s.name ?? `#${s.ordinal}`,
      };
      if (s.delay) rec.delay = true;
      links.push(rec);
      if ("unresolved" in r) {
        rec.unresolved = r.unresolved;
        return undefined;
      }
      const last = r.hops[r.hops.length - 1]!;
      rec.to = { module: last.module, function: last.function };
      if (r.forwarders) rec.forwarders = r.forwarders;
      if (r.rule) rec.rule = r.rule;
      const hops = s.delay ? r.hops.map((h, j) => (j === 0 ? { ...h, delay: true as const } : h)) : r.hops;
      return { to: r.to, hops };
    });
    for (const c of m.importCalls) {
      const e = edges[c.import];
      if (e) cross.add(node(i, c.caller), e);
    }
  });
  // System calls: a user-mode stub lands on the kernel export of the same name.
  const kernelExports = new Map<string, Array<{ m: number; rva: number }>>();
  modules.forEach((m, i) => {
    if (m.mode !== "kernel") return;
    for (const e of m.exports)
      if (!e.forwarder && m.functionNames.has(e.rva))
        for (const n of e.names)
          if (/^Nt[A-Z]/.test(n))
            kernelExports.set(n, [...(kernelExports.get(n) ?? []), { m: i, rva: e.rva }]);
  });
  modules.forEach((m, i) => {
    const stubRva = new Map<string, number>();
    for (const e of m.exports) for (const n of e.names) stubRva.set(n, e.rva);
    for (const [name, n] of m.syscalls) {
      // ntdll exports each service twice (NtX and ZwX at one address): link the Nt* name.
      const ntName = /^Zw[A-Z]/.test(name) ? `Nt${name.slice(2)}` : name;
      if (ntName !== name && m.syscalls.has(ntName)) continue;
      const rec: LinkRecord = { from: m.name, kind: "syscall", dll: m.name, symbol: name, syscall: n };
      const targets = kernelExports.get(ntName) ?? [];
      if (targets.length === 0) rec.unresolved = "no kernel image of the build exports it";
      for (const t of targets) {
        const k = modules[t.m]!;
        cross.add(node(i, stubRva.get(name)!), {
          to: node(t.m, t.rva),
          hops: [{ module: k.name, function: k.functionNames.get(t.rva)!, via: "syscall", syscall: n }],
        });
        rec.to ??= { module: k.name, function: ntName };
      }
      links.push(rec);
    }
  });
  return { modules, cross, links, apiSetSource: schema ? "schema" : "unique-exporter", notes };
}
