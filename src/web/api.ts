/**
 * The explorer's JSON API: pure request → response functions over an open catalog, so they can
 * be tested without HTTP. Every query goes through the catalog's own search module (the same
 * code as `etw-atlas events`, and the same event ↔ code-site join, `src/catalog/event-sites.ts`);
 * this file only shapes the pages' answers.
 */
import { basename, join } from "node:path";
import { siteSentence } from "../analysis/conditions/sentence.js";
import { type DiffEntry, diffStores } from "../catalog/diff.js";
import { EventSiteJoin } from "../catalog/event-sites.js";
import { eventFamily } from "../catalog/identity.js";
import {
  type KernelGroup,
  type KernelGroupTables,
  kernelGroupOf,
  loadKernelGroupTables,
} from "../catalog/kernel-groups.js";
import type { CatalogProvider } from "../catalog/model.js";
import {
  countEvents,
  type EventQuery,
  type EventRow,
  getEvent,
  InvalidQuery,
  listProviders,
  type ProviderRow,
  searchEvents,
} from "../catalog/search.js";
import { currentSearchIndex } from "../catalog/search-index.js";
import { highlightTerms, parseTextQuery } from "../catalog/search-text.js";
import type { CodeSite } from "../catalog/store.js";
import { EventModes } from "../pipeline/event-mode.js";
import { defaultCorpus } from "../pipeline/inputs.js";
import { linkStoredBuild } from "../pipeline/link-build.js";
import { EventReach, type ReachQuery, reachedFromJson, reachInStore, reachJson } from "../pipeline/reach.js";
import { fileMode } from "./file-mode.js";
import { type AtlasSources, RECENT_ANSWERS } from "./sources.js";

export { type AtlasSources, closeSources, openSources, RECENT_ANSWERS } from "./sources.js";

export interface ApiResponse {
  status: number;
  body: unknown;
  /** `body` already serialized (answers kept in ApiCache): the server sends it as is. */
  text?: string;
}

/**
 * Computes now what the first page load asks for: whole-catalog answers (summary, providers list),
 * the unfiltered first search page with the site counts of its events, the mode of each image and
 * every part of the search index (`wholeCatalog` false: not the summary and providers list, which
 * one API worker computes for all, pool.ts), so the first query of each kind does not pay for it. A damaged index part is left for the
 * queries that read it to report (400/500 with the reason).
 */
export function warmUp(src: AtlasSources, cache: ApiCache, wholeCatalog = true): void {
  if (wholeCatalog) {
    handleApi(src, cache, "/api/summary", new URLSearchParams());
    handleApi(src, cache, "/api/providers", new URLSearchParams());
  }
  handleApi(src, cache, "/api/search", new URLSearchParams());
  // The kernel/user badge of each scanned image (file-mode.ts reads each image once).
  for (const path of src.store.db
    .prepare("SELECT path FROM files WHERE status = 'ok' AND reader = 'pe'")
    .pluck()
    .all() as string[])
    fileMode(path);
  try {
    currentSearchIndex(src.store.db)?.load();
  } catch {
    // reported per query
  }
}

/** Thrown for bad query parameters; the server answers 400 with the message. */
export class BadRequest extends Error {}

/** How many "same event elsewhere" rows an event page lists (the total is always given). */
const MAX_RELATED = 200;
/** Thrown for something that is not there; the server answers 404 with the message. */
class NotFound extends Error {}

const MAX_LIMIT = 5000;

function intParam(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null || v === "") return undefined;
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new BadRequest(`${name} must be an integer below 2^53, not ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v);
}

/** Longest accepted text parameter: enough for any name or GUID, small enough that a match stays cheap. */
const MAX_PARAM_CHARS = 1000;

function strParam(params: URLSearchParams, name: string): string | undefined {
  const v = params.get(name)?.trim();
  if (v && v.length > MAX_PARAM_CHARS)
    throw new BadRequest(`${name} is ${v.length} characters long (at most ${MAX_PARAM_CHARS})`);
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
    sort: strParam(params, "sort"),
    desc: params.get("desc") === "1" || undefined,
    limit,
    offset,
  };
}

export type SearchRow = EventRow & { sites: number; mode?: "kernel" | "user" };

/** Sources read from text files (or a hive), never from a PE image: their files have no mode to look up. */
const TEXT_SOURCES = new Set(["manifest-xml", "mof-text", "wpp-tmf", "registry-hive"]);

/** Rows with their site counts (read in one go) and, for events read from a binary, kernel/user mode. */
function withSitesAndMode(rows: EventRow[], join: EventSiteJoin): SearchRow[] {
  const sites = join.countRows(rows);
  return rows.map((r, i) => {
    // Not opening each manifest of a page just to find it is not a PE: the first pages of new
    // queries spent most of their time there.
    const mode = TEXT_SOURCES.has(r.source) ? undefined : fileMode(r.file);
    return { ...r, sites: sites[i]!, ...(mode ? { mode } : {}) };
  });
}

/**
 * Search answers are kept per catalog state (ApiCache): the same query (the explorer's first page
 * above all) is answered from memory; `ms` is always this request's time.
 */
export function search(src: AtlasSources, params: URLSearchParams, cache?: ApiCache): ApiResponse {
  const t0 = performance.now();
  const query = eventQueryFrom(params);
  const compute = () => {
    const rows = searchEvents(src.store.db, query);
    const total =
      rows.length < (query.limit ?? 0) && (query.offset ?? 0) === 0
        ? rows.length
        : countEvents(src.store.db, query);
    const counter = cache ? siteJoin(src, cache) : new EventSiteJoin(src.store);
    const withSites = withSitesAndMode(rows, counter);
    const highlight = query.text ? highlightTerms(parseTextQuery(query.text)) : [];
    return { query, rows: withSites, total, highlight };
  };
  if (!cache) return { status: 200, body: { ...compute(), ms: round(performance.now() - t0) } };
  // Serialized once per kept answer: re-serializing a 200-row page cost more than finding it.
  const kept = cache.recent(`search\u0000${JSON.stringify(query)}`, () => ({ body: compute(), text: "" }));
  kept.text ||= JSON.stringify(kept.body);
  const ms = round(performance.now() - t0);
  return { status: 200, body: { ...kept.body, ms }, text: `${kept.text.slice(0, -1)},"ms":${ms}}` };
}

/** One event ↔ site join per catalog state: its site counts per event row are kept with it. */
function siteJoin(src: AtlasSources, cache: ApiCache): EventSiteJoin {
  return cache.get("siteJoin", () => new EventSiteJoin(src.store, true));
}

export function summary(src: AtlasSources, cache: ApiCache): ApiResponse {
  const body = cache.get("summary", () => summaryBody(src));
  return { status: 200, body, text: cache.get("summary.json", () => JSON.stringify(body)) };
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
  const perBuild = db
    .prepare(
      "SELECT coalesce(build, '') AS build, kind, count(*) AS n FROM events GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .all() as Array<{ build: string; kind: string; n: number }>;
  const builds = new Map<string, Record<string, number>>();
  for (const r of perBuild) builds.set(r.build, { ...builds.get(r.build), [r.kind]: r.n });
  // Builds of the analysed binaries: the code-sites view's build selector.
  const siteBuilds = db
    .prepare(
      "SELECT build, count(*) AS sites FROM sites WHERE build IS NOT NULL GROUP BY build ORDER BY build",
    )
    .all() as Array<{ build: string; sites: number }>;
  // Directory shared by every scanned file: the page falls back to it for paths under no scan root.
  const span = db.prepare("SELECT min(path) AS lo, max(path) AS hi FROM files").get() as {
    lo: string | null;
    hi: string | null;
  };
  let root = "";
  if (span.lo && span.hi) {
    let i = 0;
    while (i < span.lo.length && span.lo[i] === span.hi[i]) i++;
    root = span.lo.slice(0, Math.max(span.lo.lastIndexOf("/", i - 1), span.lo.lastIndexOf("\\", i - 1)) + 1);
  }
  return {
    catalog: basename(src.dbPath),
    root,
    roots: src.store.scanRoots(),
    builds: [...builds].map(([build, kinds]) => ({ build, kinds })),
    siteBuilds,
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

/**
 * One provider: identity, metadata records (one per file), and every event — of one build with
 * `build=` (the builds it occurs in are listed either way). An unnamed provider (no name, no GUID:
 * some TraceLogging metadata) is one per binary: `unnamed=1&kind=&file=`.
 */
export function provider(src: AtlasSources, params: URLSearchParams): ApiResponse {
  const t0 = performance.now();
  const kind = strParam(params, "kind");
  const guid = strParam(params, "guid")?.replace(/[{}]/g, "").toLowerCase();
  const name = strParam(params, "name");
  const build = strParam(params, "build");
  const file = strParam(params, "file");
  const unnamed = !guid && !name && params.get("unnamed") === "1";
  if (!guid && !name && !(unnamed && kind))
    throw new BadRequest("provider needs guid, name, or kind with unnamed=1");
  const where: string[] = [];
  const args: unknown[] = [];
  if (kind) where.push("p.kind = ?") && args.push(kind);
  if (guid) where.push("p.guid = ?") && args.push(guid);
  else if (name) where.push("p.name = ? COLLATE NOCASE") && args.push(name);
  else where.push("p.name = '' AND p.guid = ''");
  if (unnamed && file) where.push("f.path = ?") && args.push(file);
  const allRecords = src.store.db
    .prepare(
      `SELECT p.metadata_json AS m, f.path AS file, coalesce(p.build, '') AS build FROM providers p
       JOIN files f ON f.id = p.file_id WHERE ${where.join(" AND ")} ORDER BY p.build, f.path`,
    )
    .all(...args) as Array<{ m: string; file: string; build: string }>;
  const query: EventQuery = { provider: guid ?? name, kind, limit: -1 };
  const allRows = unnamed
    ? searchEvents(src.store.db, query).filter(
        (r) => r.provider === "" && r.guid === "" && (!file || r.file === file),
      )
    : searchEvents(src.store.db, query);
  if (allRecords.length === 0 && allRows.length === 0)
    return notFound(`no provider ${guid ?? name ?? "(unnamed)"}`);
  const builds = [
    ...new Set([...allRecords.map((r) => r.build), ...allRows.map((r) => r.build ?? "")]),
  ].sort();
  const inBuild = <T extends { build: string | null }>(r: T) =>
    build === undefined || (r.build ?? "") === build;
  const records = allRecords.filter(inBuild);
  const rows = allRows.filter(inBuild);
  const counter = new EventSiteJoin(src.store);
  const events = withSitesAndMode(rows, counter);
  const metadata = records.map((r) => ({
    file: r.file,
    build: r.build,
    ...(JSON.parse(r.m) as Omit<CatalogProvider, "kind">),
  }));
  const first = metadata[0]?.provider ??
    allRecords.map((r) => JSON.parse(r.m).provider)[0] ?? {
      name: allRows[0]!.provider,
      guid: allRows[0]!.guid,
    };
  return {
    status: 200,
    body: {
      kind: kind ?? allRows[0]?.kind ?? null,
      name: first.name,
      guid: first.guid,
      build: build ?? null,
      builds,
      files: [...new Set([...records.map((r) => r.file), ...rows.map((r) => r.file)])],
      metadata,
      events,
      ...(kind === "mof" || rows[0]?.kind === "mof" ? { classes: mofClasses(src, rows) } : {}),
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
  // Each site with its mode badge and guard sentence ("written only when X fails; needs keyword 0x40 at level 4").
  const sites = join.sites(ev).map((s) => {
    const mode = fileMode(s.file);
    return { ...s, ...(mode ? { mode } : {}), ...(s.conditions ? { when: siteSentence(s.conditions) } : {}) };
  });
  const mode = fileMode(file);
  // Same event in other files or versions (e.g. the same manifest from several Windows builds):
  // the same identity but for the version (catalog/identity.ts; MOF: same class and event type).
  const family = eventFamily(ev);
  const relatedAll = searchEvents(src.store.db, {
    kind: ev.kind,
    ...(ev.kind === "tracelogging"
      ? { name: ev.name.replace(/[*?]/g, "?") }
      : { provider: ev.provider.guid || ev.provider.name, id: ev.id }),
    limit: -1,
  }).filter((r) => r.rowid !== rowid && eventFamily(getEvent(src.store.db, r.rowid)!) === family);
  // The page lists the first MAX_RELATED; relatedTotal says how many there are (no silent cut).
  const related = relatedAll.slice(0, MAX_RELATED);
  const relatedRows = withSitesAndMode(related, join);
  const body: Record<string, unknown> = {
    rowid,
    file,
    ...(mode ? { mode } : {}),
    event: ev,
    sites,
    related: relatedRows,
    relatedTotal: relatedAll.length,
  };
  // Linked catalogs: where the event is written (from its sites' modules: kernel/user, service or
  // in-process) and the entry APIs that reach it (bounded list, with the total).
  const reach = cache?.get("eventReach", () => new EventReach(src.store));
  if (reach?.any) {
    const writtenIn = cache!.get("eventModes", () => new EventModes(src.store)).of(ev);
    if (writtenIn) {
      body.writtenIn = writtenIn;
      body.mode = writtenIn.mode;
    }
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
  const offset = intParam(params, "offset") ?? 0;
  if (offset < 0) throw new BadRequest("offset must not be negative");
  const { sql, args } = siteFilter(params);
  const db = src.store.db;
  const total = (db.prepare(`SELECT count(*) AS n FROM sites ${sql}`).get(...args) as { n: number }).n;
  const rows = [...siteRows(src, params, limit, offset)];
  return { status: 200, body: { rows, total, offset, ms: round(performance.now() - t0) } };
}

const SITE_SORT: Record<string, string> = {
  file: "file",
  entry: "entry",
  depth: "depth",
  function: "function",
  rva: "rva",
  writeFunction: "write_function",
  providerName: "provider_name",
  eventName: "event_name",
  build: "build",
};

function siteFilter(params: URLSearchParams): { sql: string; args: unknown[] } {
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
  // The Windows build of the binary (exact, like the search's build filter).
  const build = strParam(params, "build");
  if (build) where.push("build = ?") && args.push(build);
  return { sql: where.length ? `WHERE ${where.join(" AND ")}` : "", args };
}

/** Site rows of the filter in page order (`limit` -1 = all), streamed from SQLite. */
export function* siteRows(
  src: AtlasSources,
  params: URLSearchParams,
  limit: number,
  offset: number,
): Generator<CodeSite> {
  const { sql, args } = siteFilter(params);
  const sort = strParam(params, "sort");
  if (sort && !SITE_SORT[sort])
    throw new BadRequest(
      `sort must be one of ${Object.keys(SITE_SORT).join(", ")}, not ${JSON.stringify(sort)}`,
    );
  const order = sort
    ? `${SITE_SORT[sort]} ${params.get("desc") === "1" ? "DESC" : "ASC"}, file, entry, depth, rva`
    : "file, entry IS NULL, entry, depth, rva";
  const stmt = src.store.db.prepare(
    `SELECT file, rva, function, write_function AS writeFunction, provider_guid AS providerGuid,
       provider_name AS providerName, event_kind AS eventKind, event_id AS eventId,
       event_version AS eventVersion, event_name AS eventName, entry, depth, build, call_path_json
     FROM sites ${sql} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`,
  );
  for (const r of stmt.iterate(...args) as IterableIterator<Record<string, unknown>>) {
    const { call_path_json, ...rest } = r;
    const site: Record<string, unknown> = { callPath: JSON.parse(call_path_json as string) };
    for (const [k, v] of Object.entries(rest)) if (v !== null) site[k] = v;
    const mode = fileMode(site.file as string);
    if (mode) site.mode = mode;
    yield site as unknown as CodeSite;
  }
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

/**
 * Diff against the older catalog (`--diff-against`), or of two builds inside this catalog
 * (`oldBuild=&newBuild=`); computed once per pair (it reads both sides in full).
 */
export function diff(src: AtlasSources, params: URLSearchParams, cache: ApiCache): ApiResponse {
  const t0 = performance.now();
  const all = diffEntries(src, params, cache);
  const change = strParam(params, "change");
  const subject = strParam(params, "subject");
  const text = strParam(params, "text")?.toLowerCase();
  const rows = all.entries.filter(
    (e: DiffEntry) =>
      (!change || e.change === change) &&
      (!subject || e.subject === subject) &&
      (!text || `${e.provider} ${e.guid} ${e.detail}`.toLowerCase().includes(text)),
  );
  const limit = intParam(params, "limit") ?? 2000;
  if (limit < 1 || limit > 20000) throw new BadRequest("limit must be between 1 and 20000");
  const offset = intParam(params, "offset") ?? 0;
  if (offset < 0) throw new BadRequest("offset must not be negative");
  const counts: Record<string, number> = {};
  for (const e of all.entries)
    counts[`${e.subject} ${e.change}`] = (counts[`${e.subject} ${e.change}`] ?? 0) + 1;
  return {
    status: 200,
    body: {
      old: all.old,
      new: all.new,
      counts,
      total: rows.length,
      offset,
      rows: rows.slice(offset, offset + limit),
      ms: round(performance.now() - t0),
    },
  };
}

/** The diff entries of a request's two sides (cached per pair), with their labels. */
export function diffEntries(
  src: AtlasSources,
  params: URLSearchParams,
  cache: ApiCache,
): { old: string; new: string; entries: DiffEntry[] } {
  const oldBuild = params.get("oldBuild");
  const newBuild = params.get("newBuild");
  if (oldBuild !== null || newBuild !== null) {
    if (oldBuild === null || newBuild === null)
      throw new BadRequest("a diff of two builds needs both oldBuild and newBuild");
    const entries = cache.get(`diff\u0000${oldBuild}\u0000${newBuild}`, () =>
      diffStores(src.store, src.store, { build: oldBuild }, { build: newBuild }),
    );
    return { old: `build ${oldBuild || "(none)"}`, new: `build ${newBuild || "(none)"}`, entries };
  }
  if (!src.diffStore)
    throw new NotFound(
      "no catalog to diff against: choose two builds of this catalog, or start with --diff-against <old.db>",
    );
  const entries = cache.get("diff", () => diffStores(src.diffStore!, src.store));
  return { old: basename(src.diffPath ?? ""), new: basename(src.dbPath), entries };
}

/**
 * Answers cached per catalog state: everything is dropped when the catalog changes (SQLite's
 * `data_version`, which moves when another connection commits, e.g. a scan into the served file).
 */
export class ApiCache {
  private readonly values = new Map<string, unknown>();
  /** Least recently used first (a Map keeps insertion order; a hit re-inserts). */
  private readonly answers = new Map<string, unknown>();
  private version = -1;

  constructor(private readonly src: AtlasSources) {}

  private current(): void {
    const v = this.src.store.db.pragma("data_version", { simple: true }) as number;
    if (v !== this.version) {
      this.values.clear();
      this.answers.clear();
      this.version = v;
    }
  }

  /** A whole-catalog value, kept for as long as the catalog is unchanged. */
  get<T>(key: string, compute: () => T): T {
    this.current();
    if (!this.values.has(key)) this.values.set(key, compute());
    return this.values.get(key) as T;
  }

  /** One of the RECENT_ANSWERS most recently used answers (per-request values such as searches). */
  recent<T>(key: string, compute: () => T): T {
    this.current();
    if (this.answers.has(key)) {
      const hit = this.answers.get(key) as T;
      this.answers.delete(key);
      this.answers.set(key, hit);
      return hit;
    }
    const value = compute();
    this.answers.set(key, value);
    if (this.answers.size > RECENT_ANSWERS) this.answers.delete(this.answers.keys().next().value!);
    return value;
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
        return search(src, params, cache);
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
    // InvalidQuery covers the text language's refusals (QueryError) too.
    if (err instanceof BadRequest || err instanceof InvalidQuery)
      return { status: 400, body: { error: err.message } };
    if (err instanceof NotFound) return notFound(err.message);
    throw err;
  }
}

export interface MofClassNode {
  category: string;
  classGuid: string;
  group?: KernelGroup;
  classes: Array<{ className: string; events: Array<{ rowid: number; id: number; name: string }> }>;
}

/** MOF class tree of a provider's events: category (class GUID) → class → event type. */
function mofClasses(src: AtlasSources, rows: EventRow[]): MofClassNode[] {
  const info = src.store.db.prepare(
    "SELECT json_extract(detail_json, '$.mof') AS mof FROM events WHERE id = ?",
  );
  const tables = kernelTables();
  const byCategory = new Map<string, MofClassNode>();
  for (const r of rows) {
    const raw = (info.get(r.rowid) as { mof: string | null } | undefined)?.mof;
    const mof = raw ? (JSON.parse(raw) as { className?: string; category?: string; classGuid?: string }) : {};
    const category = mof.category ?? "(no category)";
    const classGuid = mof.classGuid ?? "";
    const key = `${category}\u0000${classGuid}`;
    let node = byCategory.get(key);
    if (!node) {
      const group = kernelGroupOf(category, tables);
      node = { category, classGuid, ...(group ? { group } : {}), classes: [] };
      byCategory.set(key, node);
    }
    const className = mof.className ?? r.name;
    let cls = node.classes.find((c) => c.className === className);
    if (!cls) node.classes.push((cls = { className, events: [] }));
    cls.events.push({ rowid: r.rowid, id: r.id, name: r.name });
  }
  return [...byCategory.values()];
}

let kernelTablesCache: KernelGroupTables | undefined;

/** Reference tables of the corpus (`defaultCorpus`), read once; empty without it. */
function kernelTables(): KernelGroupTables {
  const corpus = defaultCorpus();
  kernelTablesCache ??= corpus
    ? loadKernelGroupTables(join(corpus, "reference"))
    : { traceGroupNames: new Map(), groupMasks: new Map() };
  return kernelTablesCache;
}
