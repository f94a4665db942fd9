/**
 * `reach` queries over a catalog: links each selected build from its stored modules and runs the
 * cross-module search with the query's filters applied before the search (entry names, events,
 * providers, mode), so a narrow question stays fast on a large build.
 */
import type { LinkedBuild } from "../analysis/link/linker.js";
import type { ModuleSite } from "../analysis/link/module.js";
import { type ReachRow, reachAcrossModules } from "../analysis/link/paths.js";
import { type EventIdentity, EventSiteJoin } from "../catalog/event-sites.js";
import type { EventRow } from "../catalog/search.js";
import type { CatalogStore } from "../catalog/store.js";
import { linkStoredBuild } from "./link-build.js";
import { linkedBuilds, moduleInfos } from "./link-store.js";

export interface ReachQuery {
  /** Entry API name glob (`*`, `?`; case-insensitive); `module!name` matches the module too. */
  api?: string;
  /** `PROVIDER:ID[:VERSION]`, provider by name or GUID. */
  event?: string;
  /** Provider name or GUID (case-insensitive; glob allowed). */
  provider?: string;
  build?: string;
  mode?: "kernel" | "user";
  maxDepth?: number;
}

export interface BuildReachSummary {
  build: string;
  modules: number;
  rows: number;
  entries: number;
  cutByDepth: number;
  cutDepthNeeded: number;
  maxDepth: number;
  apiSetSource: "schema" | "unique-exporter";
  notes: string[];
}

export function globRegex(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

export function parseEventSpec(spec: string): { provider: string; id: number; version?: number } {
  const m = /^(.+?):(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new Error(`--event must be PROVIDER:ID[:VERSION], not ${spec}`);
  const out: { provider: string; id: number; version?: number } = { provider: m[1]!, id: Number(m[2]) };
  if (m[3] !== undefined) out.version = Number(m[3]);
  return out;
}

function providerMatches(s: ModuleSite, re: RegExp): boolean {
  const p = s.row.provider;
  return [p.name, p.symbol, p.guid].some((x) => x !== undefined && re.test(x));
}

export function reachInStore(
  store: CatalogStore,
  q: ReachQuery,
  /** Linked build by name (e.g. cached by a server); default: link from the stored modules. */
  linkedOf: (build: string) => LinkedBuild = (build) => linkStoredBuild(store, build).linked,
): { rows: ReachRow[]; builds: BuildReachSummary[] } {
  const apiRe = q.api ? globRegex(q.api) : undefined;
  const ev = q.event ? parseEventSpec(q.event) : undefined;
  const evProvider = ev ? globRegex(ev.provider.replace(/^\{|\}$/g, "")) : undefined;
  const providerRe = q.provider ? globRegex(q.provider.replace(/^\{|\}$/g, "")) : undefined;
  const rows: ReachRow[] = [];
  const builds: BuildReachSummary[] = [];
  for (const b of linkedBuilds(store)) {
    if (q.build !== undefined && b.build !== q.build && !b.build.startsWith(`${q.build}.`)) continue;
    const linked = linkedOf(b.build);
    const r = reachAcrossModules(linked, {
      ...(q.maxDepth ? { maxDepth: q.maxDepth } : {}),
      ...(apiRe ? { entryFilter: (a) => apiRe.test(a.name) || apiRe.test(`${a.module}!${a.name}`) } : {}),
      siteFilter: (s, m) => {
        if (q.mode && m.mode !== q.mode) return false;
        if (providerRe && !providerMatches(s, providerRe)) return false;
        if (ev) {
          if (!providerMatches(s, evProvider!) || s.row.event.id !== ev.id) return false;
          if (
            ev.version !== undefined &&
            s.row.event.version !== undefined &&
            s.row.event.version !== ev.version
          )
            return false;
        }
        return true;
      },
    });
    rows.push(...r.rows);
    builds.push({
      build: b.build,
      modules: linked.modules.length,
      rows: r.rows.length,
      entries: r.entries,
      cutByDepth: r.cutByDepth,
      cutDepthNeeded: r.cutDepthNeeded,
      maxDepth: r.maxDepth,
      apiSetSource: linked.apiSetSource,
      notes: linked.notes,
    });
  }
  return { rows, builds };
}

/** The documented JSON Lines shape of one reach row. */
export function reachJson(r: ReachRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    api: r.api,
    event: r.event,
    site: r.site,
    mode: r.mode,
  };
  if (r.role) out.role = r.role;
  out.chain = r.chain;
  out.depth = r.depth;
  out.build = r.build ?? null;
  return out;
}

/**
 * Per-event questions over the linked builds of a catalog: which entry APIs reach an event (its
 * code sites found through the catalog's event ↔ site join, kept to modules of the event's own
 * build), and which events an API reaches. Linked builds are built once per instance.
 */
export class EventReach {
  private readonly join: EventSiteJoin;
  private readonly buildOf = new Map<string, string>();
  private readonly linkedBuilds = new Map<string, LinkedBuild>();

  constructor(
    private readonly store: CatalogStore,
    join?: EventSiteJoin,
  ) {
    this.join = join ?? new EventSiteJoin(store);
    for (const m of moduleInfos(store)) this.buildOf.set(m.file, m.build);
  }

  /** True when the catalog has linked modules at all. */
  get any(): boolean {
    return this.buildOf.size > 0;
  }

  private linked(build: string): LinkedBuild {
    let l = this.linkedBuilds.get(build);
    if (!l) {
      l = linkStoredBuild(this.store, build).linked;
      this.linkedBuilds.set(build, l);
    }
    return l;
  }

  /** Entry APIs reaching the event, shortest first; at most `limit` rows, `total` counts all. */
  reachedFrom(
    ev: EventRow | EventIdentity,
    limit = 20,
  ): { rows: ReachRow[]; total: number; cutByDepth: number } {
    // The join keeps to sites of the event's own build (catalog/identity.ts buildsJoin).
    const byBuild = new Map<string, Set<string>>();
    for (const s of this.join.sites(ev)) {
      const b = this.buildOf.get(s.file);
      if (b === undefined) continue;
      const set = byBuild.get(b) ?? new Set<string>();
      set.add(`${s.file}|${s.rva}`);
      byBuild.set(b, set);
    }
    const rows: ReachRow[] = [];
    let cutByDepth = 0;
    for (const [b, keys] of byBuild) {
      const r = reachAcrossModules(this.linked(b), { siteFilter: (s, m) => keys.has(`${m.file}|${s.rva}`) });
      rows.push(...r.rows);
      cutByDepth += r.cutByDepth;
    }
    rows.sort((a, c) => a.depth - c.depth);
    return { rows: rows.slice(0, limit), total: rows.length, cutByDepth };
  }

  /** `file|rva` of every write site an API (glob) reaches, for filtering events. */
  sitesReachedBy(api: string, build?: string): Set<string> {
    const q: ReachQuery = { api };
    if (build) q.build = build;
    const { rows } = reachInStore(this.store, q, (b) => this.linked(b));
    return new Set(rows.map((r) => `${r.siteFile}|${Number.parseInt(r.site.rva, 16)}`));
  }

  /** Whether one of the event's sites is in `sites` (from `sitesReachedBy`). */
  isReached(ev: EventRow | EventIdentity, sites: Set<string>): boolean {
    return this.join.sites(ev).some((s) => sites.has(`${s.file}|${s.rva}`));
  }
}

/** A reachedFrom entry as events jsonl and the event page show it. */
export function reachedFromJson(r: ReachRow): Record<string, unknown> {
  return { api: r.api, mode: r.mode, depth: r.depth, chain: r.chain, build: r.build ?? null };
}
