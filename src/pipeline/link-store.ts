/**
 * Build-wide linking data in the catalog: one row per analysed module (its mode, role and the
 * summary linking needs, gzip'd JSON), the API-set schemas found, and the link records of the
 * last linking of each build. Own tables beside the catalog schema (docs/catalog-schema.md),
 * created on first write; a catalog without them simply has nothing linked yet.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import type { LinkRecord } from "../analysis/link/linker.js";
import {
  type ImportCall,
  importedSymbolKey,
  type ModuleImport,
  type ModuleSummary,
} from "../analysis/link/module.js";
import type { CatalogStore } from "../catalog/store.js";
import type { ApiSetSchema } from "../formats/apiset/index.js";

const TABLES = `
CREATE TABLE IF NOT EXISTS modules (
  file TEXT PRIMARY KEY,
  build TEXT NOT NULL,
  name TEXT NOT NULL,
  mode TEXT NOT NULL,
  role TEXT,
  role_why TEXT,
  functions INTEGER NOT NULL,
  sites INTEGER NOT NULL,
  syscalls INTEGER NOT NULL,
  summary BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS modules_build ON modules(build);
CREATE TABLE IF NOT EXISTS apiset_schemas (
  file TEXT PRIMARY KEY,
  build TEXT NOT NULL,
  version INTEGER NOT NULL,
  contracts INTEGER NOT NULL,
  schema BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS links (
  build TEXT NOT NULL,
  from_module TEXT NOT NULL,
  kind TEXT NOT NULL,
  dll TEXT NOT NULL,
  symbol TEXT NOT NULL,
  delay INTEGER NOT NULL,
  to_module TEXT,
  to_function TEXT,
  forwarders INTEGER,
  rule TEXT,
  syscall INTEGER,
  unresolved TEXT
);
CREATE INDEX IF NOT EXISTS links_build ON links(build, from_module);
`;

function hasTable(store: CatalogStore, name: string): boolean {
  return (
    store.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined
  );
}

export function ensureLinkTables(store: CatalogStore): void {
  if (!store.db.readonly) store.db.exec(TABLES);
}

/**
 * ModuleSummary as JSON-able data: Maps and Sets as arrays, sub_RVA names not stored, and each
 * import call as [caller, index into `imports`] (the DLL and symbol strings once per import, not
 * once per call: a System32's calls were 174 MB of repeated names).
 */
function pack(m: ModuleSummary): unknown {
  const named: Array<[number, string]> = [];
  const rvas: number[] = [];
  for (const [rva, n] of m.functionNames) {
    rvas.push(rva);
    if (n !== `sub_${rva.toString(16).toUpperCase()}`) named.push([rva, n]);
  }
  return {
    ...m,
    functionNames: undefined,
    rvas,
    named,
    calls: [...m.calls],
    importCalls: undefined,
    importCallRefs: m.importCalls.map((c) => [c.caller, c.import]),
    thunks: [...m.thunks],
    syscalls: [...m.syscalls],
  };
}

type StoredCall = { caller: number; dll: string; name?: string; ordinal?: number; delay: boolean };

/**
 * Import calls of a stored summary as indexes into its imports. Two older forms still load:
 * [caller, index] over `imports` + `importsExtra`, and one object per call with its names.
 */
function importCallsOf(data: Record<string, unknown>): {
  imports: ModuleImport[];
  importCalls: ImportCall[];
} {
  const stored = [
    ...(data.imports as ModuleImport[]),
    ...((data.importsExtra as ModuleImport[] | undefined) ?? []),
  ];
  const imports: ModuleImport[] = [];
  const index = new Map<string, number>();
  const indexOf = (s: ModuleImport): number => {
    const key = importedSymbolKey(s);
    let i = index.get(key);
    if (i === undefined) {
      i = imports.length;
      imports.push(s);
      index.set(key, i);
    }
    return i;
  };
  const remap = stored.map(indexOf);
  const importCalls = data.importCallRefs
    ? (data.importCallRefs as Array<[number, number]>).map(([caller, i]) => ({ caller, import: remap[i]! }))
    : ((data.importCalls as StoredCall[] | undefined) ?? []).map((c) => {
        const s: ModuleImport = { dll: c.dll, delay: c.delay };
        if (c.name !== undefined) s.name = c.name;
        if (c.ordinal !== undefined) s.ordinal = c.ordinal;
        return { caller: c.caller, import: indexOf(s) };
      });
  return { imports, importCalls };
}

function unpack(data: Record<string, unknown>): ModuleSummary {
  const functionNames = new Map<number, string>();
  for (const rva of data.rvas as number[]) functionNames.set(rva, `sub_${rva.toString(16).toUpperCase()}`);
  for (const [rva, n] of data.named as Array<[number, string]>) functionNames.set(rva, n);
  const out = {
    ...data,
    ...importCallsOf(data),
    functionNames,
    calls: new Map(data.calls as Array<[number, number[]]>),
    thunks: new Set(data.thunks as number[]),
    syscalls: new Map(data.syscalls as Array<[string, number]>),
  } as Record<string, unknown>;
  delete out.rvas;
  delete out.named;
  delete out.importCallRefs;
  delete out.importsExtra;
  return out as unknown as ModuleSummary;
}

/**
 * A module summary as stored: its columns and the packed, gzip'd summary. Made where the image was
 * analysed (a scan worker), so the scan's writer only stores bytes and the message carrying it is one
 * buffer instead of a summary's Maps and arrays.
 */
export interface ModuleRecord {
  file: string;
  build: string;
  name: string;
  mode: string;
  role: string | null;
  roleWhy: string | null;
  functions: number;
  sites: number;
  syscalls: number;
  summary: Uint8Array;
}

export function moduleRecord(m: ModuleSummary): ModuleRecord {
  return {
    file: m.file,
    build: m.build ?? "",
    name: m.name,
    mode: m.mode,
    role: m.role ?? null,
    roleWhy: m.roleWhy ?? null,
    functions: m.functionNames.size,
    sites: m.sites.length,
    syscalls: m.syscalls.size,
    // Level 1: on 252 System32 summaries 3.4x less CPU than the default 6 for 17% more bytes.
    summary: gzipSync(JSON.stringify(pack(m)), { level: 1 }),
  };
}

/** Stores (replaces) one module's summary. */
export function storeModule(store: CatalogStore, m: ModuleSummary | ModuleRecord): void {
  const r = "summary" in m ? m : moduleRecord(m);
  ensureLinkTables(store);
  store.db
    .prepare(
      `INSERT OR REPLACE INTO modules(file, build, name, mode, role, role_why, functions, sites, syscalls, summary)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      r.file,
      r.build,
      r.name,
      r.mode,
      r.role,
      r.roleWhy,
      r.functions,
      r.sites,
      r.syscalls,
      // A Buffer arrives from a worker as a plain Uint8Array; SQLite binds Buffers as blobs.
      Buffer.isBuffer(r.summary)
        ? r.summary
        : Buffer.from(r.summary.buffer, r.summary.byteOffset, r.summary.byteLength),
    );
}

export function storeApiSetSchema(
  store: CatalogStore,
  file: string,
  build: string,
  schema: ApiSetSchema,
): void {
  ensureLinkTables(store);
  store.db
    .prepare(
      "INSERT OR REPLACE INTO apiset_schemas(file, build, version, contracts, schema) VALUES (?, ?, ?, ?, ?)",
    )
    .run(file, build, schema.version, schema.entries.length, gzipSync(JSON.stringify(schema)));
}

export interface StoredModuleInfo {
  file: string;
  build: string;
  name: string;
  mode: "kernel" | "user";
  role?: string;
  roleWhy?: string;
  functions: number;
  sites: number;
  syscalls: number;
}

/** Module rows without their summaries (mode and role per file). */
export function moduleInfos(store: CatalogStore, build?: string): StoredModuleInfo[] {
  if (!hasTable(store, "modules")) return [];
  const rows = store.db
    .prepare(
      `SELECT file, build, name, mode, role, role_why AS roleWhy, functions, sites, syscalls FROM modules
       ${build === undefined ? "" : "WHERE build = ?"} ORDER BY build, name`,
    )
    .all(...(build === undefined ? [] : [build])) as Array<
    StoredModuleInfo & { role: string | null; roleWhy: string | null }
  >;
  return rows.map((r) => {
    const out: StoredModuleInfo = { ...r };
    if (r.role === null) delete out.role;
    if (r.roleWhy === null) delete out.roleWhy;
    return out;
  });
}

/** Builds that have modules, with their module counts. */
export function linkedBuilds(store: CatalogStore): Array<{ build: string; modules: number }> {
  if (!hasTable(store, "modules")) return [];
  return store.db
    .prepare("SELECT build, count(*) AS modules FROM modules GROUP BY build ORDER BY build")
    .all() as Array<{
    build: string;
    modules: number;
  }>;
}

export function loadModules(store: CatalogStore, build: string): ModuleSummary[] {
  if (!hasTable(store, "modules")) return [];
  const rows = store.db
    .prepare("SELECT summary FROM modules WHERE build = ? ORDER BY file")
    .all(build) as Array<{
    summary: Buffer;
  }>;
  return rows.map((r) => unpack(JSON.parse(gunzipSync(r.summary).toString("utf8"))));
}

export function loadApiSetSchema(
  store: CatalogStore,
  build: string,
): { file: string; schema: ApiSetSchema } | undefined {
  if (!hasTable(store, "apiset_schemas")) return undefined;
  const r = store.db
    .prepare("SELECT file, schema FROM apiset_schemas WHERE build = ? ORDER BY file LIMIT 1")
    .get(build) as { file: string; schema: Buffer } | undefined;
  return r ? { file: r.file, schema: JSON.parse(gunzipSync(r.schema).toString("utf8")) } : undefined;
}

/** Replaces the link records of a build. */
export function storeLinks(store: CatalogStore, build: string, links: LinkRecord[]): void {
  ensureLinkTables(store);
  const ins = store.db.prepare(
    `INSERT INTO links(build, from_module, kind, dll, symbol, delay, to_module, to_function, forwarders, rule, syscall, unresolved)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  store.db.transaction(() => {
    store.db.prepare("DELETE FROM links WHERE build = ?").run(build);
    for (const l of links)
      ins.run(
        build,
        l.from,
        l.kind,
        l.dll,
        l.symbol,
        l.delay ? 1 : 0,
        l.to?.module ?? null,
        l.to?.function ?? null,
        l.forwarders ?? null,
        l.rule ?? null,
        l.syscall ?? null,
        l.unresolved ?? null,
      );
  })();
}

/** Drops a file's module row (its file is gone or no longer analysed). */
export function clearModule(store: CatalogStore, file: string): void {
  if (hasTable(store, "modules")) store.db.prepare("DELETE FROM modules WHERE file = ?").run(file);
}
