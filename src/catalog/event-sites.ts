/**
 * The event ↔ code-site join: which stored analysis sites (`sites` table) write a catalog event.
 * One implementation for the web explorer and `etw-atlas events`.
 *
 * - Manifest-style events (manifest, MOF, WPP) join by provider GUID, id and version, across
 *   files: a manifest's events meet the sites of the binary that writes them. A site whose
 *   version the analysis could not tell matches every version.
 * - TraceLogging events (all id 0) join inside their own binary, by event metadata blob RVA, or by
 *   name (and GUID when both sides have one).
 */

import type Database from "better-sqlite3";
import type { CatalogEvent } from "./model.js";
import type { EventRow } from "./search.js";
import type { CatalogStore, CodeSite } from "./store.js";

type Statement = Database.Statement;

/** A stored event record (`getEvent`, `store.events()`), or the part of it the join reads. */
export type EventIdentity = Pick<CatalogEvent, "kind" | "provider" | "id" | "version" | "name"> & {
  provenance: Pick<CatalogEvent["provenance"], "file">;
  tracelogging?: Pick<NonNullable<CatalogEvent["tracelogging"]>, "blobRva">;
};

/** What the join compares, from a record or a search row. */
interface EventKey {
  kind: string;
  guid: string;
  id: number;
  version: number;
  name: string;
  file: string;
  /** TraceLogging: the event blob's RVA as the sites spell it ("0x1a2b"). */
  blobHex?: string;
}

/** The TraceLogging site columns the join reads. */
interface TlSiteKey {
  name: string | null;
  guid: string | null;
  blob: string | null;
}

function tlSiteMatches(s: TlSiteKey, ev: EventKey): boolean {
  return (
    (ev.blobHex !== undefined && s.blob === ev.blobHex) ||
    (s.name === ev.name && (!s.guid || !ev.guid || s.guid === ev.guid))
  );
}

function blobHex(rva: number | null | undefined): string | undefined {
  return rva === null || rva === undefined ? undefined : `0x${rva.toString(16)}`;
}

function isRow(ev: EventRow | EventIdentity): ev is EventRow {
  return "rowid" in ev;
}

/** Indexed lookups are cheapest for a page of rows; a whole-catalog listing loads the sites once. */
const BULK_AFTER = 256;

/** Key of a (GUID, id, version) triple; version `*` = a site whose version is unknown. */
function descriptorKey(guid: string, id: number, version: number | "*"): string {
  return `${guid}|${id}|${version}`;
}

/**
 * Joins events to sites. Keep one per request or command: it caches each binary's TraceLogging
 * sites (a binary can have thousands) and knows when the catalog has no sites at all.
 */
export class EventSiteJoin {
  private readonly anySites: boolean;
  private readonly tlKeys = new Map<string, TlSiteKey[]>();
  private readonly tlSites = new Map<string, CodeSite[]>();
  private readonly statements = new Map<string, Statement>();
  /** Manifest-style lookups so far; past `BULK_AFTER`, every such site is loaded once instead. */
  private lookups = 0;
  private bulkCounts?: Map<string, number>;
  private bulkSites?: Map<string, CodeSite[]>;

  constructor(private readonly store: CatalogStore) {
    this.anySites = store.db.prepare("SELECT 1 FROM sites LIMIT 1").get() !== undefined;
  }

  /** How many code sites write the event (indexed lookups; cheap for a page of rows). */
  count(ev: EventRow | EventIdentity): number {
    if (!this.anySites) return 0;
    if (ev.kind === "tracelogging") {
      const file = isRow(ev) ? ev.file : ev.provenance.file;
      const list = this.cached(this.tlKeys, file, () =>
        this.sql(
          `SELECT event_name AS name, provider_guid AS guid, json_extract(extra_json, '$.eventBlobRva') AS blob
           FROM sites WHERE file = ? AND event_kind = 'tracelogging'`,
        ).all(file),
      ) as TlSiteKey[];
      if (list.length === 0) return 0;
      const key = this.key(ev);
      return list.filter((s) => tlSiteMatches(s, key)).length;
    }
    const key = this.key(ev);
    if (!key.guid) return 0;
    if (++this.lookups > BULK_AFTER) {
      this.bulkCounts ??= this.loadCounts();
      const n = (k: number | "*") => this.bulkCounts!.get(descriptorKey(key.guid, key.id, k)) ?? 0;
      return n(key.version) + n("*");
    }
    const row = this.sql(
      "SELECT count(*) AS n FROM sites WHERE provider_guid = ? AND event_id = ? AND (event_version IS NULL OR event_version = ?)",
    ).get(key.guid, key.id, key.version) as { n: number };
    return row.n;
  }

  /** The code sites that write the event, in the order they were stored. */
  sites(ev: EventRow | EventIdentity): CodeSite[] {
    if (!this.anySites) return [];
    const key = this.key(ev);
    if (key.kind === "tracelogging") {
      const list = this.cached(this.tlSites, key.file, () =>
        this.store.sites({ file: key.file }).filter((s) => s.eventKind === "tracelogging"),
      );
      return list.filter((s) =>
        tlSiteMatches(
          {
            name: s.eventName ?? null,
            guid: s.providerGuid ?? null,
            blob: typeof s.extra?.eventBlobRva === "string" ? s.extra.eventBlobRva : null,
          },
          key,
        ),
      );
    }
    if (!key.guid) return [];
    const candidates =
      ++this.lookups > BULK_AFTER
        ? ((this.bulkSites ??= this.loadSites()).get(descriptorKey(key.guid, key.id, "*")) ?? [])
        : this.store.sites({ providerGuid: key.guid, eventId: key.id });
    return candidates.filter((s) => s.eventVersion === undefined || s.eventVersion === key.version);
  }

  private key(ev: EventRow | EventIdentity): EventKey {
    if (isRow(ev)) {
      const key: EventKey = {
        kind: ev.kind,
        guid: ev.guid,
        id: ev.id,
        version: ev.version,
        name: ev.name,
        file: ev.file,
      };
      if (ev.kind === "tracelogging") {
        const r = this.sql(
          "SELECT json_extract(record_json, '$.tracelogging.blobRva') AS b FROM events WHERE id = ?",
        ).get(ev.rowid) as { b: number | null } | undefined;
        const hex = blobHex(r?.b);
        if (hex !== undefined) key.blobHex = hex;
      }
      return key;
    }
    const key: EventKey = {
      kind: ev.kind,
      guid: ev.provider.guid,
      id: ev.id,
      version: ev.version,
      name: ev.name,
      file: ev.provenance.file,
    };
    const hex = blobHex(ev.tracelogging?.blobRva);
    if (hex !== undefined) key.blobHex = hex;
    return key;
  }

  /** Site counts per (GUID, id, version or `*`). */
  private loadCounts(): Map<string, number> {
    const rows = this.sql(
      `SELECT provider_guid AS g, event_id AS id, event_version AS v, count(*) AS n FROM sites
       WHERE provider_guid IS NOT NULL AND event_id IS NOT NULL GROUP BY 1, 2, 3`,
    ).all() as Array<{ g: string; id: number; v: number | null; n: number }>;
    return new Map(rows.map((r) => [descriptorKey(r.g, r.id, r.v ?? "*"), r.n]));
  }

  /** Sites per (GUID, id), any version, in stored order. */
  private loadSites(): Map<string, CodeSite[]> {
    const map = new Map<string, CodeSite[]>();
    for (const s of this.store.sites()) {
      if (!s.providerGuid || s.eventId === undefined) continue;
      const k = descriptorKey(s.providerGuid, s.eventId, "*");
      const list = map.get(k);
      if (list) list.push(s);
      else map.set(k, [s]);
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

  private cached<T>(map: Map<string, T>, file: string, load: () => T): T {
    let v = map.get(file);
    if (v === undefined) {
      v = load();
      map.set(file, v);
    }
    return v;
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
