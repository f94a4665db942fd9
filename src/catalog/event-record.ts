/**
 * How one CatalogEvent is kept in the catalog without a second copy: what the `events` and
 * `event_fields` columns hold is not repeated; everything else (MOF/WPP/TraceLogging specifics,
 * messages of named values, provider extras) goes to one compact `events.detail_json`, NULL when
 * there is nothing else. `eventFromRow` puts the record back together (deep-equal to what was
 * stored; key order follows the model), so export and diff still get `events in == events out`.
 */
import type Database from "better-sqlite3";
import type { CatalogEvent, Field, Named } from "./model.js";

/** One `event_fields` row: a field of the flattened tree (pre-order) and what its columns lack. */
export interface FieldRow extends FlatField {
  /** Properties beyond the columns (tags, extra, an empty `fields` list), or null. */
  extraJson: string | null;
}

const FIELD_COLUMNS = new Set(["name", "inType", "outType", "map", "count", "length"]);
const NAMED_KEYS = ["channel", "level", "opcode", "task"] as const;

function rest<T extends object>(o: T, drop: Iterable<string>): Record<string, unknown> | undefined {
  const out = { ...o } as Record<string, unknown>;
  for (const k of drop) delete out[k];
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return Object.keys(out).length ? out : undefined;
}

export interface FlatField {
  field: Field;
  /** Dotted path of nested struct members ("Header.Size"). */
  path: string;
  depth: number;
}

/** The field tree in pre-order, with each field's path and depth. */
export function flattenFields(fields: Field[], prefix = "", depth = 0, out: FlatField[] = []): FlatField[] {
  for (const f of fields) {
    const path = prefix ? `${prefix}.${f.name}` : f.name;
    out.push({ field: f, path, depth });
    if (f.fields?.length) flattenFields(f.fields, path, depth + 1, out);
  }
  return out;
}

export function fieldRows(fields: Field[]): FieldRow[] {
  return flattenFields(fields).map((flat) => {
    // Members are rows of their own; an empty member list (rare) stays in extra_json.
    const f = flat.field;
    const extra = rest(f, [...FIELD_COLUMNS, ...(f.fields?.length ? ["fields"] : [])]);
    return { ...flat, extraJson: extra ? JSON.stringify(extra) : null };
  });
}

/** Keyword names go in one space-separated column; names that would not survive the split stay in the detail. */
function keywordsFitColumn(names: string[]): boolean {
  return names.every((n) => n !== "" && !/\s/.test(n));
}

/** The part of `ev` its columns do not hold, as JSON (null when nothing is left). */
export function eventDetail(ev: CatalogEvent, filePath: string): string | null {
  const d: Record<string, unknown> = {};
  const provider = rest(ev.provider, ["name", "guid"]);
  if (provider) d.provider = provider;
  for (const k of NAMED_KEYS) {
    const named = ev[k];
    const r = named ? rest(named, ["value", "name"]) : undefined;
    if (r) d[k] = r;
  }
  const keywords = rest(ev.keywords, ["mask", ...(keywordsFitColumn(ev.keywords.names) ? ["names"] : [])]);
  if (keywords) d.keywords = keywords;
  const provenance = rest(ev.provenance, [
    "source",
    "build",
    "offset",
    ...(ev.provenance.file === filePath ? ["file"] : []),
  ]);
  if (provenance) d.provenance = provenance;
  const others = rest(ev, [
    "kind",
    "provider",
    "id",
    "version",
    ...NAMED_KEYS,
    "keywords",
    "name",
    "symbol",
    "message",
    "fields",
    "provenance",
  ]);
  if (others) Object.assign(d, others);
  return Object.keys(d).length ? JSON.stringify(d) : null;
}

const COLUMNS = `e.kind, e.provider_name, e.provider_guid, e.event_id, e.version,
  e.channel_value, e.channel_name, e.level_value, e.level_name, e.opcode_value, e.opcode_name,
  e.task_value, e.task_name, e.keyword_mask, e.keyword_names, e.name, e.symbol, e.message,
  e.source, e.build, e.file_offset, e.detail_json, fl.path AS file_path`;
const FIELDS_JSON = `(SELECT json_group_array(json_array(depth, name, in_type, out_type, map, count, length,
  json(extra_json)) ORDER BY position) FROM event_fields WHERE event_id = e.id)`;

/** Columns `eventFromRow` reads, for `SELECT ${EVENT_RECORD_COLUMNS} FROM events e JOIN files fl ...`. */
export const EVENT_RECORD_COLUMNS = `${COLUMNS}, ${FIELDS_JSON} AS fields_json`;

/**
 * The same, but fields only for TraceLogging events: the identity of an event (identity.ts) reads
 * its fields only for those (the field signature), and the fields are most of a record's cost.
 */
export const IDENTITY_COLUMNS = `${COLUMNS}, CASE WHEN e.kind = 'tracelogging' THEN ${FIELDS_JSON} ELSE '[]' END AS fields_json`;

export interface EventRecordRow {
  kind: string;
  provider_name: string;
  provider_guid: string;
  event_id: number;
  version: number;
  channel_value: number | null;
  channel_name: string | null;
  level_value: number | null;
  level_name: string | null;
  opcode_value: number | null;
  opcode_name: string | null;
  task_value: number | null;
  task_name: string | null;
  keyword_mask: string;
  keyword_names: string;
  name: string;
  symbol: string | null;
  message: string | null;
  source: string;
  build: string | null;
  file_offset: number | null;
  detail_json: string | null;
  file_path: string;
  fields_json: string;
}

type FieldTuple = [number, string, string, string | null, string | null, unknown, unknown, unknown];

function fieldsFrom(json: string): Field[] {
  const top: Field[] = [];
  const last: Field[] = []; // the latest field at each depth: the parent of the next deeper one
  for (const [depth, name, inType, outType, map, count, length, extra] of JSON.parse(json) as FieldTuple[]) {
    const f: Field = { name, inType };
    if (outType !== null) f.outType = outType;
    if (map !== null) f.map = map;
    if (count !== null) f.count = count as number | string;
    if (length !== null) f.length = length as number | string;
    if (extra !== null) Object.assign(f, extra);
    if (depth === 0) top.push(f);
    else {
      const parent = last[depth - 1]!;
      (parent.fields ??= []).push(f);
    }
    last[depth] = f;
  }
  return top;
}

function named(value: number | null, name: string | null, extra: unknown): Named | undefined {
  if (value === null) return undefined;
  const n: Named = { value };
  if (name !== null) n.name = name;
  if (extra) Object.assign(n, extra);
  return n;
}

/** The stored record of one event row (see EVENT_RECORD_COLUMNS). */
export function eventFromRow(r: EventRecordRow): CatalogEvent {
  const d = (r.detail_json ? JSON.parse(r.detail_json) : {}) as Record<string, unknown> & {
    provider?: object;
    keywords?: { names?: string[] };
    provenance?: { file?: string };
  };
  const ev: Record<string, unknown> = {
    kind: r.kind,
    provider: { name: r.provider_name, guid: r.provider_guid, ...d.provider },
    id: r.event_id,
    version: r.version,
  };
  const values = {
    channel: named(r.channel_value, r.channel_name, d.channel),
    level: named(r.level_value, r.level_name, d.level),
    opcode: named(r.opcode_value, r.opcode_name, d.opcode),
    task: named(r.task_value, r.task_name, d.task),
  };
  for (const k of NAMED_KEYS) if (values[k]) ev[k] = values[k];
  ev.keywords = {
    mask: r.keyword_mask,
    names: r.keyword_names === "" ? [] : r.keyword_names.split(" "),
    ...d.keywords,
  };
  ev.name = r.name;
  if (r.symbol !== null) ev.symbol = r.symbol;
  if (r.message !== null) ev.message = r.message;
  ev.fields = fieldsFrom(r.fields_json);
  const provenance: Record<string, unknown> = { file: r.file_path, ...d.provenance, source: r.source };
  if (r.build !== null) provenance.build = r.build;
  if (r.file_offset !== null) provenance.offset = r.file_offset;
  ev.provenance = provenance;
  for (const [k, v] of Object.entries(d))
    if (!["provider", "keywords", "provenance", ...NAMED_KEYS].includes(k)) ev[k] = v;
  return ev as unknown as CatalogEvent;
}

/** `detail_json` with the provider's `nameFrom` set (or removed when undefined). */
export function withNameFrom(detailJson: string | null, nameFrom: string | undefined): string | null {
  const d = (detailJson ? JSON.parse(detailJson) : {}) as { provider?: Record<string, unknown> };
  const provider = { ...d.provider, nameFrom };
  if (nameFrom === undefined) delete provider.nameFrom;
  if (Object.keys(provider).length) d.provider = provider;
  else delete d.provider;
  return Object.keys(d).length ? JSON.stringify(d) : null;
}

/** The stored record of one event row, or undefined when there is no such row. */
export function storedEvent(db: Database.Database, rowid: number): CatalogEvent | undefined {
  return storedEvents(db, [rowid]).get(rowid);
}

/**
 * The stored records of these event rows (one query), by row id; missing rows are absent. With
 * `identityOnly`, records of non-TraceLogging events come without their fields: enough for
 * identity.ts (the event ↔ site join), not for display or export.
 */
export function storedEvents(
  db: Database.Database,
  rowids: number[],
  identityOnly = false,
): Map<number, CatalogEvent> {
  const rows = db
    .prepare(
      `SELECT e.id AS rowid_, ${identityOnly ? IDENTITY_COLUMNS : EVENT_RECORD_COLUMNS}
       FROM events e JOIN files fl ON fl.id = e.file_id WHERE e.id IN (SELECT value FROM json_each(?))`,
    )
    .all(JSON.stringify(rowids)) as Array<EventRecordRow & { rowid_: number }>;
  return new Map(rows.map((r) => [r.rowid_, eventFromRow(r)]));
}
