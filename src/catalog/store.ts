/**
 * The SQLite catalog. One file that any SQLite tool can open: plain tables with documented
 * columns (docs/catalog-schema.md), readable views (`v_events`, `v_event_fields`, `v_providers`,
 * `v_files`, `v_sites`, `v_event_text`) and a derived search index (search-index.ts).
 *
 * Every event is stored once: its columns (for queries), its fields as `event_fields` rows and what
 * neither holds in one compact `events.detail_json` (event-record.ts puts the record back together,
 * so `events in == events out` for export and diff). Schema 3 kept a second, full JSON copy of
 * each event and a trigram FTS5 table that no query read while the search index was current:
 * together ~60% of the file.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, normalize } from "node:path";
import Database from "better-sqlite3";
import {
  EVENT_RECORD_COLUMNS,
  type EventRecordRow,
  eventDetail,
  eventFromRow,
  fieldRows,
  IDENTITY_COLUMNS,
  withNameFrom,
} from "./event-record.js";
import type { CatalogEvent, CatalogProvider, SourceResult } from "./model.js";
import { updateSearchIndex } from "./search-index.js";

export type Db = Database.Database;

/**
 * Bumped when the schema changes; older catalogs are refused with a clear message. Versions 2 and
 * 3 are not upgraded in place: their events would have to be rewritten from the old JSON copies,
 * which costs as much as the re-scan that the message asks for (and gives a smaller file).
 */
export const SCHEMA_VERSION = 4;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);

-- The paths a scan was given (directories or files, as given; no trailing separator): the explorer
-- shows each file's path relative to the scan root it lies under.
CREATE TABLE IF NOT EXISTS scan_roots (path TEXT PRIMARY KEY, scanned_at TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime TEXT,
  reader TEXT,
  status TEXT NOT NULL CHECK (status IN ('ok','failed','skipped')),
  error TEXT,
  notes TEXT NOT NULL DEFAULT '[]',
  providers INTEGER NOT NULL DEFAULT 0,
  events INTEGER NOT NULL DEFAULT 0,
  scanned_at TEXT NOT NULL,
  scanner TEXT
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);

CREATE TABLE IF NOT EXISTS providers (
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  guid TEXT NOT NULL,
  symbol TEXT,
  group_guid TEXT,
  guid_from_name INTEGER,
  source TEXT NOT NULL,
  build TEXT,
  message_file TEXT,
  resource_file TEXT,
  metadata_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS providers_guid ON providers(guid);
CREATE INDEX IF NOT EXISTS providers_name ON providers(name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS providers_file ON providers(file_id);

-- AUTOINCREMENT: row ids are never reused, so events added after a refresh lie above every
-- search-index segment (search-index.ts).
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  provider_id INTEGER REFERENCES providers(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  provider_name TEXT NOT NULL,
  provider_guid TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  symbol TEXT,
  channel_value INTEGER, channel_name TEXT,
  level_value INTEGER, level_name TEXT,
  opcode_value INTEGER, opcode_name TEXT,
  task_value INTEGER, task_name TEXT,
  keyword_mask TEXT NOT NULL,
  keyword_mask_int INTEGER NOT NULL,
  keyword_names TEXT NOT NULL,
  message TEXT,
  field_count INTEGER NOT NULL,
  source TEXT NOT NULL,
  build TEXT,
  file_offset INTEGER,
  detail_json TEXT
);
CREATE INDEX IF NOT EXISTS events_order ON events(provider_name COLLATE NOCASE, event_id, version);
CREATE INDEX IF NOT EXISTS events_guid ON events(provider_guid);
CREATE INDEX IF NOT EXISTS events_name ON events(name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind);
CREATE INDEX IF NOT EXISTS events_file ON events(file_id);
CREATE INDEX IF NOT EXISTS events_provider_id ON events(provider_id);

CREATE TABLE IF NOT EXISTS event_fields (
  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  depth INTEGER NOT NULL,
  in_type TEXT NOT NULL,
  out_type TEXT,
  map TEXT,
  count, -- no type: a number stays a number, a field name stays text
  length,
  extra_json TEXT,
  PRIMARY KEY (event_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_fields_name ON event_fields(name COLLATE NOCASE);

CREATE TABLE IF NOT EXISTS event_keywords (
  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  PRIMARY KEY (event_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_keywords_name ON event_keywords(name COLLATE NOCASE);

-- The text the full-text language (search-text.ts) reads, one row per event: the search index
-- tokenises it and the plain-SQL evaluation (and phrases) match it.
CREATE VIEW IF NOT EXISTS v_event_text AS
SELECT e.id AS rowid, e.provider_name || ' ' || e.provider_guid AS provider,
  concat_ws(' ', nullif(e.name, ''), nullif(e.symbol, ''), nullif(e.task_name, ''), nullif(e.opcode_name, ''),
    nullif(json_extract(e.detail_json, '$.mof.eventTypeName'), '')) AS name,
  coalesce((SELECT group_concat(path, ' ' ORDER BY position) FROM event_fields WHERE event_id = e.id), '') AS fields,
  e.keyword_names AS keywords, coalesce(e.message, '') AS message
FROM events e;

-- Derived search index (search-index.ts) in segments over ranges of event row ids, brought up to
-- date by refreshDerived() after each scan; it is used only while meta.search_index_generation =
-- meta.data_generation, which these triggers bump.
CREATE TABLE IF NOT EXISTS search_segments (
  id INTEGER PRIMARY KEY,
  first_event INTEGER NOT NULL,
  last_event INTEGER NOT NULL,
  events INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS search_index (
  segment INTEGER NOT NULL,
  part TEXT NOT NULL,
  data BLOB NOT NULL,
  UNIQUE (segment, part)
);
CREATE TABLE IF NOT EXISTS search_dict (
  segment INTEGER NOT NULL,
  dict TEXT NOT NULL,
  id INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (segment, dict, id)
) WITHOUT ROWID;
-- What changed since the last refreshDerived(), so that it costs in proportion to the change: the
-- GUIDs whose provider rows came or went (names are re-derived for those only) and the row ids of
-- removed events (the search-index segments holding them are rebuilt).
CREATE TABLE IF NOT EXISTS changed_guids (guid TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS removed_events (event_id INTEGER PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS providers_changed_insert AFTER INSERT ON providers BEGIN
  INSERT OR IGNORE INTO changed_guids(guid) VALUES (new.guid);
END;
CREATE TRIGGER IF NOT EXISTS providers_changed_delete AFTER DELETE ON providers BEGIN
  INSERT OR IGNORE INTO changed_guids(guid) VALUES (old.guid);
END;
CREATE TRIGGER IF NOT EXISTS events_removed AFTER DELETE ON events BEGIN
  INSERT OR IGNORE INTO removed_events(event_id) VALUES (old.id);
END;
CREATE TRIGGER IF NOT EXISTS files_generation_insert AFTER INSERT ON files BEGIN
  UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_generation';
END;
CREATE TRIGGER IF NOT EXISTS files_generation_delete AFTER DELETE ON files BEGIN
  UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_generation';
END;

CREATE TABLE IF NOT EXISTS sites (
  id INTEGER PRIMARY KEY,
  file TEXT NOT NULL,
  rva INTEGER NOT NULL,
  function TEXT,
  write_function TEXT,
  provider_guid TEXT,
  provider_name TEXT,
  event_kind TEXT,
  event_id INTEGER,
  event_version INTEGER,
  event_name TEXT,
  entry TEXT,
  depth INTEGER,
  call_path_json TEXT NOT NULL DEFAULT '[]',
  extra_json TEXT,
  event_key TEXT,
  build TEXT,
  conditions_json TEXT -- NULL: not analysed for guard conditions
);
CREATE INDEX IF NOT EXISTS sites_event ON sites(provider_guid, event_id, event_version);
CREATE INDEX IF NOT EXISTS sites_file ON sites(file);
CREATE INDEX IF NOT EXISTS sites_entry ON sites(entry);
CREATE INDEX IF NOT EXISTS sites_key ON sites(event_key, build);

CREATE VIEW IF NOT EXISTS v_events AS
SELECT e.id AS rowid_, e.kind, e.provider_name AS provider, e.provider_guid AS guid, e.event_id AS id,
  e.version, e.name, e.level_name AS level, e.opcode_name AS opcode, e.task_name AS task,
  e.keyword_names AS keywords, e.keyword_mask, e.channel_name AS channel, e.field_count,
  (SELECT group_concat(f.in_type || ' ' || f.name, ', ') FROM
     (SELECT in_type, name FROM event_fields WHERE event_id = e.id AND depth = 0 ORDER BY position) f)
    AS fields,
  e.message, e.source, e.build, fl.path AS file
FROM events e JOIN files fl ON fl.id = e.file_id;

CREATE VIEW IF NOT EXISTS v_event_fields AS
SELECT e.provider_name AS provider, e.provider_guid AS guid, e.kind, e.event_id AS id, e.version,
  e.name AS event, f.position, f.path AS field, f.depth, f.in_type, f.out_type, f.map, f.count, f.length,
  e.id AS event_rowid
FROM event_fields f JOIN events e ON e.id = f.event_id;

CREATE VIEW IF NOT EXISTS v_providers AS
SELECT p.kind, p.name, p.guid, p.symbol, p.source, p.build, fl.path AS file,
  (SELECT count(*) FROM events e WHERE e.provider_id = p.id) AS events, p.id AS provider_rowid
FROM providers p JOIN files fl ON fl.id = p.file_id;

CREATE VIEW IF NOT EXISTS v_files AS
SELECT path, status, reader, providers, events, error, size, sha256, mtime, scanned_at, scanner FROM files;

CREATE VIEW IF NOT EXISTS v_sites AS
SELECT s.file, printf('0x%x', s.rva) AS rva, s.function, s.write_function, s.provider_name,
  s.provider_guid, s.event_kind, s.event_id, s.event_version, s.event_name, s.entry, s.depth,
  s.call_path_json AS call_path, s.event_key, s.build
FROM sites s;
`;

export interface FileInfo {
  path: string;
  sha256: string;
  size: number;
  /** ISO time of last modification. */
  mtime?: string;
  /** Which readers read it (see scan.ts `scannerSignature`): a re-scan with other readers re-reads. */
  scanner?: string;
}

export interface StoredFile extends FileInfo {
  id: number;
  reader: string | null;
  status: "ok" | "failed" | "skipped";
  error: string | null;
  notes: string[];
  providers: number;
  events: number;
}

/** One analysis result: a code site that writes an event (see docs/catalog-schema.md, table `sites`). */
export interface CodeSite {
  /** Binary the site is in (path as scanned). */
  file: string;
  /** RVA of the write call instruction. */
  rva: number;
  /** Function containing the call (symbol or `sub_<rva>`). */
  function?: string;
  /** The ETW API called (EtwWrite, EventWriteTransfer, a TraceLogging write helper, ...). */
  writeFunction?: string;
  providerGuid?: string;
  providerName?: string;
  eventKind?: string;
  eventId?: number;
  eventVersion?: number;
  eventName?: string;
  /** Entry point (export, syscall, IOCTL handler, ...) from which the site is reached. */
  entry?: string;
  /** Number of calls between the entry and the site. */
  depth?: number;
  /** Functions from entry to site, entry first. */
  callPath?: string[];
  /** Identity of the written event (catalog/identity.ts); the event ↔ site join compares it. */
  eventKey?: string;
  /** Windows build of the binary, when it has one (the join never crosses builds). */
  build?: string;
  extra?: Record<string, unknown>;
  /** Guard conditions of the write on this chain (analysis `conditions`/`logged`, docs/analysis.md). */
  conditions?: SiteConditions;
}

/**
 * A site as the values of the `sites` columns, in `addSiteColumns`' order. Made in the scan's worker
 * processes: a row of strings and numbers crosses the process boundary and is stored without the
 * main process serialising each site's call path, extras and conditions.
 */
export type SiteColumns = Array<string | number | null>;

export function siteColumns(s: CodeSite): SiteColumns {
  return [
    s.file,
    s.rva,
    s.function ?? null,
    s.writeFunction ?? null,
    s.providerGuid ?? null,
    s.providerName ?? null,
    s.eventKind ?? null,
    s.eventId ?? null,
    s.eventVersion ?? null,
    s.eventName ?? null,
    s.entry ?? null,
    s.depth ?? null,
    JSON.stringify(s.callPath ?? []),
    s.extra ? JSON.stringify(s.extra) : null,
    s.eventKey ?? null,
    s.build ?? null,
    s.conditions ? JSON.stringify(s.conditions) : null,
  ];
}

/** `logged` reading and the classified guard conditions of a site, as the analysis writes them. */
export interface SiteConditions {
  logged: string;
  conditions: Array<Record<string, unknown>>;
}

/** Names are stored as the source spells them ("win:Informational"); exporters shorten them. */
function orNull(name: string | undefined): string | null {
  return name === undefined ? null : name;
}

/** Signed 64-bit integer for the keyword mask, so SQLite can AND it (`keyword_mask_int & ?`). */
export function maskToInt64(mask: string): bigint {
  let v: bigint;
  try {
    v = BigInt(mask);
  } catch {
    v = 0n;
  }
  return BigInt.asIntN(64, v);
}

export { flattenFields } from "./event-record.js";

/**
 * Opens a catalog read-only. A WAL-mode database needs its `-shm` (and `-wal`) files even to be
 * read, and SQLite cannot create them in a read-only directory (a mounted image, a shared folder):
 * then the catalog and any `-wal` are copied to a private temporary directory and read there
 * (same answers, disk instead of memory; the copy is removed on close).
 */
function openReadonly(path: string): { db: Db; cleanup?: () => void } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return { db };
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code ?? "";
    if (path === ":memory:" || !/^SQLITE_(READONLY|CANTOPEN|IOERR)/.test(code)) throw err;
  }
  const dir = mkdtempSync(join(tmpdir(), "etw-atlas-readonly-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const copy = join(dir, basename(path));
    copyFileSync(path, copy);
    if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
    const db = new Database(copy, { readonly: true, fileMustExist: true });
    return { db, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

export class CatalogStore {
  readonly db: Db;

  private readonly statements = new Map<string, Database.Statement>();
  /** Removes the private copy of a catalog read from a read-only directory (see openReadonly). */
  private cleanup?: () => void;

  private constructor(db: Db) {
    this.db = db;
  }

  /** Prepared statements are cached: preparing per row costs more than the insert itself. */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Opens (creating if needed) a catalog file; `":memory:"` works for tests. */
  static open(path: string, options: { readonly?: boolean } = {}): CatalogStore {
    if (options.readonly && path !== ":memory:" && !existsSync(path))
      throw new Error(`no such catalog: ${path}`);
    let cleanup: (() => void) | undefined;
    let db: Db;
    if (options.readonly) ({ db, cleanup } = openReadonly(path));
    else db = new Database(path);
    db.defaultSafeIntegers(false);
    if (!options.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("cache_size = -65536"); // 64 MiB: index inserts of a large scan stay in memory
      // Checkpoint every 40 MiB of WAL, not 4: a scan's commits rewrite the same index pages.
      db.pragma("wal_autocheckpoint = 10000");
    }
    db.pragma("foreign_keys = ON");
    const store = new CatalogStore(db);
    store.cleanup = cleanup;
    try {
      store.migrate(options.readonly ?? false);
    } catch (err) {
      store.close();
      throw err;
    }
    return store;
  }

  private migrate(readonly: boolean): void {
    const hasMeta = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'")
      .get() as unknown;
    if (hasMeta) {
      const row = this.db.prepare("SELECT value FROM meta WHERE key='schema_version'").get() as
        | { value: string }
        | undefined;
      const version = row ? Number(row.value) : SCHEMA_VERSION;
      if (version !== SCHEMA_VERSION)
        throw new Error(
          `catalog schema version ${version} is not supported (this etw-atlas writes ${SCHEMA_VERSION}); re-scan into a new file`,
        );
    } else if (readonly) {
      throw new Error("not an etw-atlas catalog (no meta table)");
    }
    if (readonly) return;
    this.db.exec(SCHEMA);
    this.db.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES ('data_generation', '1')").run();
    this.db
      .prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)")
      .run(String(SCHEMA_VERSION));
  }

  close(): void {
    // Keeps the planner's statistics current (cheap; only analyses what changed a lot).
    try {
      if (!this.db.readonly) this.db.pragma("optimize");
    } catch (err) {
      // Another process is writing: statistics can wait for the next close.
      if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
    }
    this.db.close();
    this.cleanup?.();
  }

  /**
   * Brings derived data up to date after files were added or removed (scanPaths and
   * scanPathsParallel call it when they finish): unnamed providers take the name of a same-GUID
   * provider elsewhere in the catalog (`fillProviderNames`), then the search index is rebuilt.
   * A no-op when nothing changed since the last refresh, and on a read-only catalog.
   */
  refreshDerived(): { providerNames: number; indexedEvents: number } {
    if (this.db.readonly) return { providerNames: 0, indexedEvents: 0 };
    const meta = (key: string) =>
      (this.stmt("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
    const generation = String(meta("data_generation") ?? "1");
    if (meta("search_index_generation") === generation) return { providerNames: 0, indexedEvents: 0 };
    const renamed = this.fillProviderNames();
    return {
      providerNames: renamed.length,
      indexedEvents: updateSearchIndex(this.db, generation, renamed),
    };
  }

  /**
   * Providers without a name in their file (Win7 WEVT_TEMPLATE resources carry only the GUID) take
   * the name that same-GUID providers read from other files have (the most common one; ties: the
   * alphabetically first). Their provider row and events get it, and the stored
   * records say `provider.nameFrom: "catalog"` ("registry" when only a SOFTWARE hive names it). Names filled earlier are re-derived, so removing
   * the named source clears them again. Only GUIDs whose provider rows came or went since the last
   * call are looked at (`changed_guids`). Returns the ids of the provider rows that changed.
   */
  fillProviderNames(): number[] {
    const run = this.db.transaction(() => {
      const rows = this.db
        .prepare(
          `SELECT id, guid, name, source, json_extract(metadata_json, '$.provider.nameFrom') AS nameFrom
           FROM providers WHERE guid <> '' AND guid IN (SELECT guid FROM changed_guids)`,
        )
        .all() as Array<{ id: number; guid: string; name: string; source: string; nameFrom: string | null }>;
      // Per GUID: how many files name it each way, and which names a registry hive gave.
      const names = new Map<string, Map<string, number>>();
      const fromRegistry = new Set<string>();
      for (const r of rows) {
        if (r.name === "" || r.nameFrom !== null) continue;
        let byName = names.get(r.guid);
        if (!byName) names.set(r.guid, (byName = new Map()));
        byName.set(r.name, (byName.get(r.name) ?? 0) + 1);
        if (r.source === "registry-hive") fromRegistry.add(`${r.guid}\0${r.name}`);
      }
      const best = (guid: string) => {
        let pick = "";
        let most = 0;
        for (const [name, n] of names.get(guid) ?? [])
          if (n > most || (n === most && name < pick)) [pick, most] = [name, n];
        return pick;
      };
      // "registry" only when no binary or manifest of the catalog spells the name that way.
      const origin = (guid: string, name: string) =>
        fromRegistry.has(`${guid}\0${name}`) && names.get(guid)?.get(name) === 1 ? "registry" : "catalog";
      const setProvider = this.db.prepare(`UPDATE providers SET name = ?, metadata_json = CASE WHEN ? = ''
          THEN json_remove(json_set(metadata_json, '$.provider.name', ''), '$.provider.nameFrom')
          ELSE json_set(metadata_json, '$.provider.name', ?, '$.provider.nameFrom', ?) END WHERE id = ?`);
      // The name is a column of events; only nameFrom lives in detail_json (NULL when it holds nothing).
      // The name is a column of events; only nameFrom lives in detail_json.
      const eventDetails = this.db.prepare("SELECT id, detail_json FROM events WHERE provider_id = ?");
      const setEvent = this.db.prepare("UPDATE events SET provider_name = ?, detail_json = ? WHERE id = ?");
      const changed: number[] = [];
      for (const r of rows) {
        if (r.name !== "" && r.nameFrom === null) continue;
        const name = best(r.guid);
        if (name === r.name) continue;
        const from = origin(r.guid, name);
        setProvider.run(name, name, name, from, r.id);
        for (const e of eventDetails.all(r.id) as Array<{ id: number; detail_json: string | null }>)
          setEvent.run(name, withNameFrom(e.detail_json, name === "" ? undefined : from), e.id);
        changed.push(r.id);
      }
      this.db.exec("DELETE FROM changed_guids");
      return changed;
    });
    return run();
  }

  getFile(path: string): StoredFile | undefined {
    const row = this.stmt("SELECT * FROM files WHERE path = ?").get(path) as
      | (Omit<StoredFile, "notes"> & { notes: string })
      | undefined;
    return row ? { ...row, notes: JSON.parse(row.notes) as string[] } : undefined;
  }

  /** Replaces everything stored for `file.path` by one reader's result (one transaction). */
  putResult(file: FileInfo, reader: string, result: SourceResult): { providers: number; events: number } {
    const run = this.db.transaction(() => {
      const fileId = this.insertFile(file, {
        reader,
        status: "ok",
        notes: result.notes,
        providers: 0,
        events: result.events.length,
      });
      const providerIds = new Map<string, number>();
      for (const p of result.providers)
        providerIds.set(providerKey(p.kind, p.provider), this.insertProvider(fileId, p));
      for (const ev of result.events) {
        const key = providerKey(ev.kind, ev.provider);
        let pid = providerIds.get(key);
        if (pid === undefined) {
          // Sources may emit events whose provider has no separate metadata record.
          pid = this.insertProvider(fileId, {
            kind: ev.kind,
            provider: ev.provider,
            provenance: ev.provenance,
          });
          providerIds.set(key, pid);
        }
        this.insertEvent(fileId, file.path, pid, ev);
      }
      this.stmt("UPDATE files SET providers = ? WHERE id = ?").run(providerIds.size, fileId);
      return { providers: providerIds.size, events: result.events.length };
    });
    return run();
  }

  /** Records a file that could not be read (status failed) or that no reader takes (skipped). */
  putStatus(
    file: FileInfo,
    status: "failed" | "skipped",
    detail: { reader?: string; error?: string; notes?: string[] },
  ): void {
    this.db.transaction(() =>
      this.insertFile(file, {
        reader: detail.reader ?? null,
        status,
        error: detail.error ?? null,
        notes: detail.notes ?? [],
        providers: 0,
        events: 0,
      }),
    )();
  }

  /** Sets a stored file's `analysis: ` notes (the analysis of a binary, after its read). */
  addFileNotes(path: string, notes: string[]): void {
    const file = this.getFile(path);
    if (!file) return;
    this.stmt("UPDATE files SET notes = ? WHERE path = ?").run(
      JSON.stringify([...file.notes.filter((n) => !n.startsWith("analysis: ")), ...notes]),
      path,
    );
  }

  /** Remembers the paths a scan was given (see `scan_roots`). */
  recordScanRoots(paths: string[]): void {
    const at = new Date().toISOString();
    const insert = this.stmt("INSERT OR REPLACE INTO scan_roots(path, scanned_at) VALUES (?, ?)");
    for (const given of paths) {
      const p = normalize(given); // as the scanner's join() spells the files under it
      insert.run(p.length > 1 ? p.replace(/[\\/]+$/, "") || p : p, at);
    }
  }

  /** The scan roots recorded so far (none in catalogs written before they were recorded). */
  scanRoots(): string[] {
    const has = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'scan_roots'")
      .get() as unknown;
    if (!has) return [];
    return (
      this.db.prepare("SELECT path FROM scan_roots ORDER BY path").all() as Array<{ path: string }>
    ).map((r) => r.path);
  }

  /** Removes a file and everything read from it. */
  removeFile(path: string): void {
    this.stmt("DELETE FROM files WHERE path = ?").run(path);
  }

  private insertFile(
    file: FileInfo,
    d: {
      reader: string | null;
      status: string;
      error?: string | null;
      notes: string[];
      providers: number;
      events: number;
    },
  ): number {
    this.stmt("DELETE FROM files WHERE path = ?").run(file.path);
    const info = this.stmt(
      `INSERT INTO files(path, sha256, size, mtime, reader, status, error, notes, providers, events, scanned_at, scanner)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
    ).run(
      file.path,
      file.sha256,
      file.size,
      file.mtime ?? null,
      d.reader,
      d.status,
      d.error ?? null,
      JSON.stringify(d.notes),
      d.providers,
      d.events,
      new Date().toISOString(),
      file.scanner ?? null,
    );
    return Number(info.lastInsertRowid);
  }

  private insertProvider(fileId: number, p: CatalogProvider): number {
    const { kind, provider, provenance, ...metadata } = p;
    const info = this.stmt(
      `INSERT INTO providers(file_id, kind, name, guid, symbol, group_guid, guid_from_name, source, build,
           message_file, resource_file, metadata_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
    ).run(
      fileId,
      kind,
      provider.name,
      provider.guid,
      provider.symbol ?? null,
      provider.groupGuid ?? null,
      provider.guidFromName === undefined ? null : provider.guidFromName ? 1 : 0,
      provenance.source,
      provenance.build ?? null,
      p.messageFile ?? null,
      p.resourceFile ?? null,
      JSON.stringify({ provider, provenance, ...metadata }),
    );
    return Number(info.lastInsertRowid);
  }

  private insertEvent(fileId: number, filePath: string, providerId: number, ev: CatalogEvent): void {
    const rows = fieldRows(ev.fields);
    const info = this.stmt(
      `INSERT INTO events(file_id, provider_id, kind, provider_name, provider_guid, event_id, version, name, symbol,
          channel_value, channel_name, level_value, level_name, opcode_value, opcode_name, task_value, task_name,
          keyword_mask, keyword_mask_int, keyword_names, message, field_count, source, build,
          file_offset, detail_json)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    ).run(
      fileId,
      providerId,
      ev.kind,
      ev.provider.name,
      ev.provider.guid,
      ev.id,
      ev.version,
      ev.name,
      ev.symbol ?? null,
      ev.channel?.value ?? null,
      orNull(ev.channel?.name),
      ev.level?.value ?? null,
      orNull(ev.level?.name),
      ev.opcode?.value ?? null,
      orNull(ev.opcode?.name),
      ev.task?.value ?? null,
      orNull(ev.task?.name),
      ev.keywords.mask,
      maskToInt64(ev.keywords.mask),
      ev.keywords.names.join(" "),
      ev.message ?? null,
      ev.fields.length,
      ev.provenance.source,
      ev.provenance.build ?? null,
      ev.provenance.offset ?? null,
      eventDetail(ev, filePath),
    );
    const eventRowId = Number(info.lastInsertRowid);
    const fieldStmt = this.stmt(
      `INSERT INTO event_fields(event_id, position, name, path, depth, in_type, out_type, map, count, length, extra_json)
         VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
    );
    rows.forEach((f, i) => {
      fieldStmt.run(
        eventRowId,
        i,
        f.field.name,
        f.path,
        f.depth,
        f.field.inType,
        f.field.outType ?? null,
        f.field.map ?? null,
        f.field.count ?? null,
        f.field.length ?? null,
        f.extraJson,
      );
    });
    const kwStmt = this.stmt("INSERT OR IGNORE INTO event_keywords(event_id, name) VALUES (?, ?)");
    for (const k of ev.keywords.names) kwStmt.run(eventRowId, k);
  }

  /**
   * Every stored event, in insertion order (file, then source order); `where` may use `e.` columns.
   * `identityOnly`: records good for their identity (fields read only where identity needs them).
   */
  *events(where = "", params: unknown[] = [], identityOnly = false): IterableIterator<CatalogEvent> {
    const columns = identityOnly ? IDENTITY_COLUMNS : EVENT_RECORD_COLUMNS;
    const stmt = this.db.prepare(
      `SELECT ${columns} FROM events e JOIN files fl ON fl.id = e.file_id ${where} ORDER BY e.id`,
    );
    for (const row of stmt.iterate(...params) as IterableIterator<EventRecordRow>) yield eventFromRow(row);
  }

  /** Every stored provider record (its metadata: tasks, keywords, maps, ...), in insertion order. */
  *providers(where = "", params: unknown[] = []): IterableIterator<CatalogProvider> {
    const stmt = this.db.prepare(`SELECT kind, metadata_json FROM providers ${where} ORDER BY id`);
    for (const row of stmt.iterate(...params) as IterableIterator<{ kind: string; metadata_json: string }>)
      yield { kind: row.kind, ...JSON.parse(row.metadata_json) } as CatalogProvider;
  }

  eventCount(): number {
    return (this.stmt("SELECT count(*) AS n FROM events").get() as { n: number }).n;
  }

  /** Stores code sites found by the analysis (one transaction); returns how many were added. */
  addSites(sites: CodeSite[]): number {
    return this.addSiteColumns(sites.map(siteColumns));
  }

  /** Stores sites already in column form (`siteColumns`, made where the analysis ran). */
  addSiteColumns(rows: SiteColumns[]): number {
    const stmt = this.stmt(
      `INSERT INTO sites(file, rva, function, write_function, provider_guid, provider_name, event_kind, event_id,
         event_version, event_name, entry, depth, call_path_json, extra_json, event_key, build, conditions_json)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.db.transaction(() => {
      for (const r of rows) stmt.run(r);
    })();
    return rows.length;
  }

  /** Drops the sites of one binary (before re-analysing it). */
  clearSites(file: string): void {
    this.stmt("DELETE FROM sites WHERE file = ?").run(file);
  }

  sites(
    filter: { file?: string; providerGuid?: string; eventId?: number; eventKeys?: string[] } = {},
  ): CodeSite[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.eventKeys !== undefined) {
      if (filter.eventKeys.length === 0) return [];
      where.push(`event_key IN (${filter.eventKeys.map(() => "?").join(",")})`);
      params.push(...filter.eventKeys);
    }
    if (filter.file !== undefined) where.push("file = ?") && params.push(filter.file);
    if (filter.providerGuid !== undefined)
      where.push("provider_guid = ?") && params.push(filter.providerGuid);
    if (filter.eventId !== undefined) where.push("event_id = ?") && params.push(filter.eventId);
    const rows = this.stmt(
      `SELECT * FROM sites ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id`,
    ).all(...params) as Array<Record<string, unknown>>;
    return rows.map(rowToSite);
  }
}

function rowToSite(r: Record<string, unknown>): CodeSite {
  const s: CodeSite = { file: r.file as string, rva: r.rva as number };
  const opt = <K extends keyof CodeSite>(k: K, v: unknown) => {
    if (v !== null && v !== undefined) s[k] = v as CodeSite[K];
  };
  opt("function", r.function);
  opt("writeFunction", r.write_function);
  opt("providerGuid", r.provider_guid);
  opt("providerName", r.provider_name);
  opt("eventKind", r.event_kind);
  opt("eventId", r.event_id);
  opt("eventVersion", r.event_version);
  opt("eventName", r.event_name);
  opt("entry", r.entry);
  opt("depth", r.depth);
  opt("eventKey", r.event_key);
  opt("build", r.build);
  s.callPath = JSON.parse(r.call_path_json as string) as string[];
  if (r.extra_json) s.extra = JSON.parse(r.extra_json as string) as Record<string, unknown>;
  if (r.conditions_json) s.conditions = JSON.parse(r.conditions_json as string) as SiteConditions;
  return s;
}

function providerKey(kind: string, p: { name: string; guid: string }): string {
  return `${kind}\u0000${p.guid}\u0000${p.name}`;
}
