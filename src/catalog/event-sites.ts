/**
 * The event ↔ code-site join: which stored analysis sites (`sites` table) write a catalog event.
 * One implementation for the web explorer and `etw-atlas events`.
 *
 * A site stores the identity of the event it writes (`sites.event_key`, catalog/identity.ts) and
 * the Windows build of its binary (`sites.build`). An event's sites are those whose key is one of
 * the event's join keys (`siteJoinKeys`: its identity, the any-version form for sites whose
 * version the analysis could not tell, the kernel hook id of a kernel MOF event type), within the
 * build rule of `buildsJoin`: a site of build X never shows under an event of build Y; an event
 * whose source carries no build (manifest XML, text MOF, WPP from a PDB) joins sites of every build.
 */

import type Database from "better-sqlite3";
import { storedEvents } from "./event-record.js";
import { buildsJoin, type IdentitySource, siteJoinKeys } from "./identity.js";
import type { CatalogEvent } from "./model.js";
import type { EventRow } from "./search.js";
import type { CatalogStore, CodeSite } from "./store.js";

type Statement = Database.Statement;

/** A stored event record (`getEvent`, `store.events()`), or the part of it the join reads. */
export type EventIdentity = IdentitySource & {
  provenance: Pick<CatalogEvent["provenance"], "file" | "build">;
};

/** What the join compares: the event's join keys and its build. */
interface JoinKey {
  keys: string[];
  build: string | null;
}

function isRow(ev: EventRow | EventIdentity): ev is EventRow {
  return "rowid" in ev;
}

/**
 * The identity source of a search row when the row holds all that identity.ts reads for its kind:
 * a manifest event's identity is its provider GUID (or name), id and version. Other kinds need the
 * stored record (class GUID, message GUID, field signature).
 */
function identityOfRow(r: EventRow): IdentitySource | undefined {
  if (r.kind !== "manifest") return undefined;
  return {
    kind: "manifest",
    provider: { name: r.provider, guid: r.guid },
    id: r.id,
    version: r.version,
    name: r.name,
    fields: [],
  };
}

/** Indexed lookups are cheapest for a page of rows; a whole-catalog listing loads the sites once. */
const BULK_AFTER = 256;

/**
 * Joins events to sites. Keep one per request or command, or one per catalog state (the web API):
 * past a few hundred lookups it loads the site keys once, it keeps the count of each event row it
 * was asked for, and it knows when the catalog has no sites at all.
 */
export class EventSiteJoin {
  private readonly anySites: boolean;
  private readonly statements = new Map<string, Statement>();
  private lookups = 0;
  /** event key → build ("" = none) → stored site rows. */
  private bulkCounts?: Map<string, Map<string, number>>;
  private bulkSites?: Map<string, CodeSite[]>;
  /** Site counts of event rows already asked for (a join kept per catalog state answers them again). */
  private readonly countByRow = new Map<number, number>();
  /** Stored order of bulk-loaded sites (a multi-key event merges several lists). */
  private readonly order = new Map<CodeSite, number>();

  /** `whole`: load every site key's count now (a join kept per catalog state answers many pages). */
  constructor(
    private readonly store: CatalogStore,
    whole = false,
  ) {
    this.anySites = store.db.prepare("SELECT 1 FROM sites LIMIT 1").get() !== undefined;
    if (whole && this.anySites) {
      this.bulkCounts = this.loadCounts();
      this.lookups = BULK_AFTER;
    }
  }

  /** How many stored site rows (one per entry point reaching a write) write the event. */
  count(ev: EventRow | EventIdentity): number {
    if (!this.anySites) return 0;
    if (!isRow(ev)) return this.countKey(this.key(ev));
    let n = this.countByRow.get(ev.rowid);
    if (n === undefined) this.countByRow.set(ev.rowid, (n = this.countKey(this.key(ev))));
    return n;
  }

  /** `count` of each row, the records of rows not counted yet read in one query. */
  countRows(rows: EventRow[]): number[] {
    if (!this.anySites) return rows.map(() => 0);
    const missing = rows
      .filter((r) => !this.countByRow.has(r.rowid) && !identityOfRow(r))
      .map((r) => r.rowid);
    if (missing.length > 1) {
      const records = storedEvents(this.store.db, missing, true);
      for (const r of rows) {
        const record = records.get(r.rowid);
        if (record && !this.countByRow.has(r.rowid))
          this.countByRow.set(r.rowid, this.countKey({ keys: siteJoinKeys(record), build: r.build }));
      }
    }
    return rows.map((r) => this.count(r));
  }

  private countKey(key: JoinKey): number {
    if (++this.lookups > BULK_AFTER) {
      this.bulkCounts ??= this.loadCounts();
      let n = 0;
      for (const k of key.keys)
        for (const [build, c] of this.bulkCounts.get(k) ?? []) if (buildsJoin(key.build, build)) n += c;
      return n;
    }
    let n = 0;
    for (const k of key.keys) {
      const row = (
        key.build
          ? this.sql("SELECT count(*) AS n FROM sites WHERE event_key = ? AND build = ?").get(k, key.build)
          : this.sql("SELECT count(*) AS n FROM sites WHERE event_key = ?").get(k)
      ) as { n: number };
      n += row.n;
    }
    return n;
  }

  /** The code sites that write the event, in the order they were stored. */
  sites(ev: EventRow | EventIdentity): CodeSite[] {
    if (!this.anySites) return [];
    const key = this.key(ev);
    let found: CodeSite[];
    if (++this.lookups > BULK_AFTER) {
      const bulk = (this.bulkSites ??= this.loadSites());
      found = key.keys.flatMap((k) => bulk.get(k) ?? []);
      if (key.keys.length > 1) found.sort((a, b) => this.order.get(a)! - this.order.get(b)!);
    } else found = this.store.sites({ eventKeys: key.keys });
    return found.filter((s) => buildsJoin(key.build, s.build));
  }

  private key(ev: EventRow | EventIdentity): JoinKey {
    const fromRow = isRow(ev) ? identityOfRow(ev) : undefined;
    if (fromRow) return { keys: siteJoinKeys(fromRow), build: (ev as EventRow).build };
    if (isRow(ev)) {
      const record = storedEvents(this.store.db, [ev.rowid], true).get(ev.rowid);
      if (!record) return { keys: [], build: ev.build };
      return { keys: siteJoinKeys(record), build: ev.build };
    }
    return { keys: siteJoinKeys(ev), build: ev.provenance.build ?? null };
  }

  private loadCounts(): Map<string, Map<string, number>> {
    const rows = this.sql(
      "SELECT event_key AS k, coalesce(build, '') AS b, count(*) AS n FROM sites WHERE event_key IS NOT NULL GROUP BY 1, 2",
    ).all() as Array<{ k: string; b: string; n: number }>;
    const map = new Map<string, Map<string, number>>();
    for (const r of rows) {
      let byBuild = map.get(r.k);
      if (!byBuild) map.set(r.k, (byBuild = new Map()));
      byBuild.set(r.b, r.n);
    }
    return map;
  }

  /** Sites per event key, in stored order. */
  private loadSites(): Map<string, CodeSite[]> {
    const map = new Map<string, CodeSite[]>();
    for (const s of this.store.sites()) {
      if (s.eventKey === undefined) continue;
      this.order.set(s, this.order.size);
      const list = map.get(s.eventKey);
      if (list) list.push(s);
      else map.set(s.eventKey, [s]);
    }
    return map;
  }

  private sql(text: string): Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.store.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }
}

/** The code sites that write one event (a one-off `EventSiteJoin`). */
export function sitesForEvent(store: CatalogStore, ev: EventRow | EventIdentity): CodeSite[] {
  return new EventSiteJoin(store).sites(ev);
}

/**
 * One line per distinct write site (binary + RVA) with its shallowest entry point: a site the
 * analysis reached from several entry points is stored once per entry.
 */
export interface WriteSiteSummary {
  site: CodeSite;
  /** How many entry points reach this call (0 when none does). */
  entries: number;
}

export function shallowestPerSite(sites: CodeSite[]): WriteSiteSummary[] {
  const bySite = new Map<string, { best: CodeSite; entries: Set<string> }>();
  const rank = (s: CodeSite) => (s.entry === undefined ? Number.POSITIVE_INFINITY : (s.depth ?? 0));
  for (const s of sites) {
    const k = `${s.file}\u0000${s.rva}`;
    const cur = bySite.get(k);
    if (!cur) bySite.set(k, { best: s, entries: new Set(s.entry === undefined ? [] : [s.entry]) });
    else {
      if (s.entry !== undefined) cur.entries.add(s.entry);
      if (rank(s) < rank(cur.best)) cur.best = s;
    }
  }
  return [...bySite.values()]
    .map((v) => ({ site: v.best, entries: v.entries.size }))
    .sort((a, b) =>
      a.site.file < b.site.file ? -1 : a.site.file > b.site.file ? 1 : a.site.rva - b.site.rva,
    );
}

/** How the stored write sites of one kind meet the catalog (`siteJoinSummary`). */
export interface SiteJoinCounts {
  /** Distinct write sites (binary + RVA + event) stored; a site reached from several entries counts once. */
  stored: number;
  /** Sites whose event is in the catalog (same identity, within the build rule). */
  joined: number;
  /** Sites whose event identity the analysis knows but no catalog event of that build has. */
  notInCatalog: number;
  /** Sites whose event the analysis could not identify (descriptor or blob unresolved). */
  unidentified: number;
}

/**
 * Per site kind: write sites stored, joined to a catalog event, naming an event the catalog lacks,
 * or not identified — the same join (`siteJoinKeys` + `buildsJoin`) as `events --sites`.
 */
export function siteJoinSummary(store: CatalogStore): Record<string, SiteJoinCounts> {
  // Join key → builds of the events having it ("" = an event without a build: joins every site).
  const builds = new Map<string, Set<string>>();
  for (const ev of store.events("", [], true)) {
    const build = ev.provenance.build ?? "";
    for (const k of siteJoinKeys(ev)) {
      let set = builds.get(k);
      if (!set) builds.set(k, (set = new Set()));
      set.add(build);
    }
  }
  const out: Record<string, SiteJoinCounts> = {};
  const rows = store.db
    .prepare(
      `SELECT DISTINCT coalesce(event_kind, '') AS kind, file, rva, event_key AS k, build AS b FROM sites`,
    )
    .iterate() as IterableIterator<{ kind: string; k: string | null; b: string | null }>;
  for (const r of rows) {
    const c = (out[r.kind] ??= { stored: 0, joined: 0, notInCatalog: 0, unidentified: 0 });
    c.stored++;
    if (r.k === null) {
      c.unidentified++;
      continue;
    }
    const set = builds.get(r.k);
    if (set && (set.has("") || (r.b !== null && set.has(r.b)))) c.joined++;
    else c.notInCatalog++;
  }
  return out;
}

/** `siteJoinSummary` as text lines. */
export function formatSiteJoinSummary(counts: Record<string, SiteJoinCounts>): string[] {
  const pct = (n: number, of: number) => (of === 0 ? "0%" : `${((100 * n) / of).toFixed(1)}%`);
  return Object.entries(counts)
    .sort((a, b) => b[1].stored - a[1].stored)
    .map(
      ([kind, c]) =>
        `    ${kind || "(unknown)"}: ${c.stored} write sites; ${c.joined} (${pct(c.joined, c.stored)}) joined to a catalog event, ` +
        `${c.notInCatalog} name an event the catalog lacks, ${c.unidentified} not identified`,
    );
}
