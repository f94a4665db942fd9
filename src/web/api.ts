/**
 * The explorer's JSON API: pure request → response functions over an open catalog, so they can
 * be tested without HTTP. Every query goes through the catalog's own search module (the same
 * code as `etw-atlas events`, and the same event ↔ code-site join, `src/catalog/event-sites.ts`);
 * this file only shapes the pages' answers.
 */
import { basename } from "node:path";
import { type DiffEntry, diffStores } from "../catalog/diff.js";
import { EventSiteJoin } from "../catalog/event-sites.js";
import { eventFamily } from "../catalog/identity.js";
import type { CatalogProvider } from "../catalog/model.js";
import {
  countEvents,
  type EventQuery,
  type EventRow,
  getEvent,
  listProviders,
  type ProviderRow,
  searchEvents,
} from "../catalog/search.js";
import type { CatalogStore, CodeSite } from "../catalog/store.js";
import { EventModes } from "../pipeline/event-mode.js";
import { linkStoredBuild } from "../pipeline/link-build.js";
import { EventReach, type ReachQuery, reachedFromJson, reachInStore, reachJson } from "../pipeline/reach.js";

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface AtlasSources {
  store: CatalogStore;
  /** Path shown in the page header. */
  dbPath: string;
  /** Older catalog to diff against (`serve --diff-against`). */
  diffStore?: CatalogStore;
  diffPath?: string;
}

/** Thrown for bad query parameters; the server answers 400 with the message. */
export class BadRequest extends Error {}

const MAX_LIMIT = 5000;

function intParam(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) throw new BadRequest(`${name} must be an integer, not ${JSON.stringify(v)}`);
  return Number(v);
}

function strParam(params: URLSearchParams, name: string): string | undefined {
  const v = params.get(name)?.trim();
  return v ? v : undefined;
}

/** The search filters of `etw-atlas events`, read from a query string. */
export function eventQueryFrom(params: URLSearchParams): EventQuery {
  const limit = intParam(params, "limit") ?? 200;
  if (limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`limit must be between 1 and ${MAX_LIMIT}`);
  const offset = intParam(params, "offset") ?? 0;
  if (offset < 0) throw new BadRequest("offset must not be negative");
  return {
    provider: strParam(params, "provider"),
    name: strParam(params, "name"),
    field: strParam(params, "field"),
    keyword: strParam(params, "keyword"),
    kind: strParam(params, "kind"),
    text: strParam(params, "text"),
    id: intParam(params, "id"),
    version: intParam(params, "version"),
    build: strParam(params, "build"),
    limit,
    offset,
  };
}

export type SearchRow = EventRow & { sites: number };

export function search(src: AtlasSources, params: URLSearchParams): ApiResponse {
  const t0 = performance.now();
  const query = eventQueryFrom(params);
  const rows = searchEvents(src.store.db, query);
  const total =
    rows.length < (query.limit ?? 0) && (query.offset ?? 0) === 0
      ? rows.length
      : countEvents(src.store.db, query);
  const counter = new EventSiteJoin(src.store);
  const withSites: SearchRow[] = rows.map((r) => ({ ...r, sites: counter.count(r) }));
  return {
    status: 200,
    body: { query, rows: withSites, total, ms: round(performance.now() - t0) },
  };
}

export function summary(src: AtlasSources, cache: ApiCache): ApiResponse {
  return { status: 200, body: cache.get("summary", () => summaryBody(src)) };
}

function summaryBody(src: AtlasSources): unknown {
  const db = src.store.db;
  const one = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const kinds = db
    .prepare("SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY n DESC")
    .all() as Array<{
    kind: string;
    n: number;
  }>;
  return {
    catalog: basename(src.dbPath),
    events: one("SELECT count(*) AS n FROM events"),
    providers: listProviders(db).length,
    files: one("SELECT count(*) AS n FROM files WHERE status = 'ok'"),
    sites: one("SELECT count(*) AS n FROM sites"),
    kinds: Object.fromEntries(kinds.map((k) => [k.kind, k.n])),
    diff: src.diffStore ? { old: basename(src.diffPath ?? ""), new: basename(src.dbPath) } : null,
  };
}

export type ProviderListRow = ProviderRow & { sites: number };

/** All providers (cached per catalog state: grouping the whole events table is the slow part). */
export function providers(src: AtlasSources, params: URLSearchParams, cache: ApiCache): ApiResponse {
  const t0 = performance.now();
  const all = cache.get("providers", () => {
    const siteCounts = new Map<string, number>();
    for (const r of src.store.db
      .prepare(
        "SELECT provider_guid AS g, count(*) AS n FROM sites WHERE provider_guid IS NOT NULL GROUP BY provider_guid",
      )
      .all() as Array<{ g: string; n: number }>)
      siteCounts.set(r.g, r.n);
    return listProviders(src.store.db).map(
      (p): ProviderListRow => ({ ...p, sites: siteCounts.get(p.guid) ?? 0 }),
    );
  });
  const kind = strParam(params, "kind");
  const name = strParam(params, "name")?.toLowerCase();
  const rows = all.filter(
    (p) =>
      (!kind || p.kind === kind) &&
      (!name || p.name.toLowerCase().includes(name) || p.guid.includes(name.replace(/[{}]/g, ""))),
  );
  return { status: 200, body: { rows, total: rows.length, ms: round(performance.now() - t0) } };
}

/** One provider: identity, metadata records (one per file), and every event. */
export function provider(src: AtlasSources, params: URLSearchParams): ApiResponse {
  const t0 = performance.now();
  const kind = strParam(params, "kind");
  const guid = strParam(params, "guid")?.replace(/[{}]/g, "").toLowerCase();
  const name = strParam(params, "name");
  // A provider with neither name nor GUID (some TraceLogging metadata): `unnamed=1` with a kind.
  const unnamed = !guid && !name && params.get("unnamed") === "1";
  if (!guid && !name && !(unnamed && kind))
    throw new BadRequest("provider needs guid, name, or kind with unnamed=1");
  const where: string[] = [];
  const args: unknown[] = [];
  if (kind) where.push("p.kind = ?") && args.push(kind);
  if (guid) where.push("p.guid = ?") && args.push(guid);
  else if (name) where.push("p.name = ? COLLATE NOCASE") && args.push(name);
  else where.push("p.name = '' AND p.guid = ''");
  const records = src.store.db
    .prepare(
      `SELECT p.metadata_json AS m, f.path AS file FROM providers p JOIN files f ON f.id = p.file_id
       WHERE ${where.join(" AND ")} ORDER BY f.path`,
    )
    .all(...args) as Array<{ m: string; file: string }>;
  const query: EventQuery = { provider: guid ?? name, kind, limit: -1 };
  const rows = unnamed
    ? searchEvents(src.store.db, query).filter((r) => r.provider === "" && r.guid === "")
    : searchEvents(src.store.db, query);
  if (records.length === 0 && rows.length === 0)
    return notFound(`no provider ${guid ?? name ?? "(unnamed)"}`);
  const counter = new EventSiteJoin(src.store);
  const events: SearchRow[] = rows.map((r) => ({ ...r, sites: counter.count(r) }));
  const metadata = records.map((r) => ({
    file: r.file,
    ...(JSON.parse(r.m) as Omit<CatalogProvider, "kind">),
  }));
  const first = metadata[0]?.provider ?? { name: rows[0]!.provider, guid: rows[0]!.guid };
  return {
    status: 200,
    body: {
      kind: kind ?? rows[0]?.kind ?? null,
      name: first.name,
      guid: first.guid,
      files: [...new Set([...records.map((r) => r.file), ...rows.map((r) => r.file)])],
      metadata,
      events,
      ms: round(performance.now() - t0),
    },
  };
}

/** One event: the full record, its file, other versions of it, and its code sites. */
export function event(src: AtlasSources, params: URLSearchParams, cache?: ApiCache): ApiResponse {
  const rowid = intParam(params, "rowid");
  if (rowid === undefined) throw new BadRequest("event needs rowid");
  const ev = getEvent(src.store.db, rowid);
  if (!ev) return notFound(`no event with rowid ${rowid}`);
  const file = (
    src.store.db
      .prepare("SELECT f.path FROM events e JOIN files f ON f.id = e.file_id WHERE e.id = ?")
      .get(rowid) as {
      path: string;
    }
  ).path;
  const join = new EventSiteJoin(src.store);
  const sites = join.sites(ev);
  // Same event in other files or versions (e.g. the same manifest from several Windows builds):
  // the same identity but for the version (catalog/identity.ts).
  const family = eventFamily(ev);
  const related = searchEvents(src.store.db, {
    kind: ev.kind,
    ...(ev.kind === "tracelogging"
      ? { name: ev.name.replace(/[*?]/g, "?") }
      : { provider: ev.provider.guid || ev.provider.name, id: ev.id }),
    limit: -1,
  })
    .filter((r) => r.rowid !== rowid && eventFamily(getEvent(src.store.db, r.rowid)!) === family)
    .slice(0, 200);
  const relatedRows: SearchRow[] = related.map((r) => ({ ...r, sites: join.count(r) }));
  const body: Record<string, unknown> = { rowid, file, event: ev, sites, related: relatedRows };
  // Linked catalogs: where the event is written and the entry APIs that reach it (bounded list).
  const reach = cache?.get("eventReach", () => new EventReach(src.store));
  if (reach?.any) {
    const mode = cache!.get("eventModes", () => new EventModes(src.store)).of(ev);
    if (mode) body.mode = mode;
    const rf = reach.reachedFrom(ev, 50);
    body.reachedFrom = rf.rows.map(reachedFromJson);
    body.reachedFromTotal = rf.total;
  }
  return { status: 200, body };
}

/** Code sites, filterable by entry point, binary, provider or writer (all substring matches). */
export function sites(src: AtlasSources, params: URLSearchParams): ApiResponse {
  const t0 = performance.now();
  const limit = intParam(params, "limit") ?? 1000;
  if (limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`limit must be between 1 and ${MAX_LIMIT}`);
  const where: string[] = [];
  const args: unknown[] = [];
  const like = (col: string, p: string) => {
    const v = strParam(params, p);
    if (v) where.push(`${col} LIKE ? ESCAPE '\\'`) && args.push(`%${v.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  };
  like("entry", "entry");
  like("file", "file");
  like("coalesce(provider_name, '') || ' ' || coalesce(provider_guid, '')", "provider");
  like("coalesce(event_name, '') || ' ' || coalesce(event_id, '')", "event");
  like("coalesce(function, '') || ' ' || coalesce(write_function, '')", "function");
  const sql = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const db = src.store.db;
  const total = (db.prepare(`SELECT count(*) AS n FROM sites ${sql}`).get(...args) as { n: number }).n;
  const rows = (
    db
      .prepare(
        `SELECT file, rva, function, write_function AS writeFunction, provider_guid AS providerGuid,
           provider_name AS providerName, event_kind AS eventKind, event_id AS eventId,
           event_version AS eventVersion, event_name AS eventName, entry, depth, call_path_json
         FROM sites ${sql} ORDER BY file, entry IS NULL, entry, depth, rva LIMIT ?`,
      )
      .all(...args, limit) as Array<Record<string, unknown>>
  ).map((r) => {
    const { call_path_json, ...rest } = r;
    const site: Record<string, unknown> = { callPath: JSON.parse(call_path_json as string) };
    for (const [k, v] of Object.entries(rest)) if (v !== null) site[k] = v;
    return site as unknown as CodeSite;
  });
  return { status: 200, body: { rows, total, ms: round(performance.now() - t0) } };
}

/**
 * Cross-module reach (`etw-atlas reach`): rows of (entry API, event) with their chains. Linked
 * builds are cached per catalog version; rows past `limit` are counted in `total`, not dropped silently.
 */
export function reach(src: AtlasSources, params: URLSearchParams, cache: ApiCache): ApiResponse {
  const t0 = performance.now();
  const limit = intParam(params, "limit") ?? 500;
  if (limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`limit must be between 1 and ${MAX_LIMIT}`);
  const q: ReachQuery = {};
  for (const k of ["api", "event", "provider", "build"] as const) {
    const v = strParam(params, k);
    if (v) q[k] = v;
  }
  const mode = strParam(params, "mode");
  if (mode !== undefined && mode !== "kernel" && mode !== "user")
    throw new BadRequest("mode must be kernel or user");
  if (mode) q.mode = mode;
  const maxDepth = intParam(params, "maxDepth");
  if (maxDepth !== undefined) q.maxDepth = maxDepth;
  if (!q.api && !q.event && !q.provider) throw new BadRequest("reach needs api, event or provider");
  let result: ReturnType<typeof reachInStore>;
  try {
    result = reachInStore(src.store, q, (b) =>
      cache.get(`link:${b}`, () => linkStoredBuild(src.store, b).linked),
    );
  } catch (err) {
    if (err instanceof Error && /--event must be/.test(err.message)) throw new BadRequest(err.message);
    throw err;
  }
  const rows = result.rows.sort((a, b) => a.depth - b.depth);
  return {
    status: 200,
    body: {
      rows: rows.slice(0, limit).map(reachJson),
      total: rows.length,
      builds: result.builds,
      ms: round(performance.now() - t0),
    },
  };
}

/** Diff against the older catalog; computed once (it reads both catalogs in full). */
export function diff(src: AtlasSources, params: URLSearchParams, cache: ApiCache): ApiResponse {
  if (!src.diffStore) return notFound("no catalog to diff against: start with --diff-against <old.db>");
  const t0 = performance.now();
  const all = cache.get("diff", () => diffStores(src.diffStore!, src.store));
  const change = strParam(params, "change");
  const subject = strParam(params, "subject");
  const text = strParam(params, "text")?.toLowerCase();
  const rows = all.filter(
    (e: DiffEntry) =>
      (!change || e.change === change) &&
      (!subject || e.subject === subject) &&
      (!text || `${e.provider} ${e.guid} ${e.detail}`.toLowerCase().includes(text)),
  );
  const limit = intParam(params, "limit") ?? 2000;
  const counts: Record<string, number> = {};
  for (const e of all) counts[`${e.subject} ${e.change}`] = (counts[`${e.subject} ${e.change}`] ?? 0) + 1;
  return {
    status: 200,
    body: {
      old: basename(src.diffPath ?? ""),
      new: basename(src.dbPath),
      counts,
      total: rows.length,
      rows: rows.slice(0, Math.max(1, Math.min(limit, 20000))),
      ms: round(performance.now() - t0),
    },
  };
}

/** Memoises whole-catalog results; cleared when another connection changes the catalog file. */
export class ApiCache {
  private readonly values = new Map<string, unknown>();
  private version = -1;

  constructor(private readonly src: AtlasSources) {}

  get<T>(key: string, compute: () => T): T {
    const v = this.src.store.db.pragma("data_version", { simple: true }) as number;
    if (v !== this.version) {
      this.values.clear();
      this.version = v;
    }
    if (!this.values.has(key)) this.values.set(key, compute());
    return this.values.get(key) as T;
  }
}

function notFound(message: string): ApiResponse {
  return { status: 404, body: { error: message } };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Routes `/api/<name>` to its handler; unknown names are 404. */
export function handleApi(
  src: AtlasSources,
  cache: ApiCache,
  path: string,
  params: URLSearchParams,
): ApiResponse {
  try {
    switch (path) {
      case "/api/summary":
        return summary(src, cache);
      case "/api/providers":
        return providers(src, params, cache);
      case "/api/provider":
        return provider(src, params);
      case "/api/event":
        return event(src, params, cache);
      case "/api/search":
        return search(src, params);
      case "/api/sites":
        return sites(src, params);
      case "/api/diff":
        return diff(src, params, cache);
      case "/api/reach":
        return reach(src, params, cache);
      default:
        return notFound(`unknown API ${path}`);
    }
  } catch (err) {
    if (err instanceof BadRequest) return { status: 400, body: { error: err.message } };
    throw err;
  }
}
