/**
 * The scanner: walks files and directories, picks a reader per file by content, reads it and
 * stores the result. This module does the file I/O (readers stay pure); rendering progress and
 * the summary is left to the caller through callbacks.
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { SourceInput, SourceReader } from "./sources.js";
import type { CatalogStore, FileInfo } from "./store.js";

/** Files larger than this are skipped (with a reason) instead of being read into memory. */
export const DEFAULT_MAX_FILE_SIZE = 512 * 1024 * 1024;

/** Files per SQLite commit during a scan. */
export const FILES_PER_COMMIT = 64;

export type FileOutcome =
  | { status: "read"; reader: string; providers: number; events: number; notes: string[] }
  | { status: "unchanged" }
  | { status: "skipped"; reason: string }
  | { status: "failed"; reader?: string; error: string };

export interface ScanProgress {
  index: number;
  total: number;
  path: string;
  outcome: FileOutcome;
}

export interface ScanOptions {
  readers: SourceReader[];
  store: CatalogStore;
  onFile?: (p: ScanProgress) => void;
  maxFileSize?: number;
  /** Re-read files even when their hash is unchanged. */
  force?: boolean;
}

export interface ScanSummary {
  files: number;
  read: number;
  unchanged: number;
  providers: number;
  events: number;
  /** Files read, by reader id. */
  filesByReader: Record<string, number>;
  eventsByKind: Record<string, number>;
  eventsBySource: Record<string, number>;
  failed: Array<{ path: string; reader?: string; error: string }>;
  skipped: Array<{ path: string; reason: string }>;
  /** Skip reasons with their counts (the long list is in `skipped`). */
  skippedByReason: Record<string, number>;
  notes: Array<{ path: string; note: string }>;
  elapsedMs: number;
}

/** Every regular file under the given paths (directories recursively), sorted, each once. */
export function collectFiles(paths: string[]): string[] {
  const out = new Set<string>();
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return; // avoids cycles; scan real locations explicitly
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) walk(join(p, name));
    } else if (st.isFile()) out.add(p);
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new Error(`no such file or directory: ${p}`);
    // A path named explicitly may be a symlink: follow it once.
    const st = statSync(p);
    if (st.isDirectory()) for (const name of readdirSync(p).sort()) walk(join(p, name));
    else out.add(p);
  }
  return [...out];
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Companion lookup: a file with that name in the same directory (case-insensitive fallback). */
export function companionFinder(path: string): (name: string) => Uint8Array | undefined {
  const dir = dirname(path);
  return (name: string) => {
    const direct = join(dir, basename(name));
    if (existsSync(direct) && statSync(direct).isFile()) return readFileSync(direct);
    const wanted = basename(name).toLowerCase();
    const hit = readdirSync(dir).find((n) => n.toLowerCase() === wanted);
    return hit ? readFileSync(join(dir, hit)) : undefined;
  };
}

/** First reader whose sniff says yes, or the reason the file is skipped. */
export function pickReader(
  readers: SourceReader[],
  bytes: Uint8Array,
  path: string,
): { reader: SourceReader } | { skip: string } {
  let skip: string | undefined;
  for (const r of readers) {
    const s = r.sniff(bytes, path);
    if (s === "yes") return { reader: r };
    if (s !== "no" && skip === undefined) skip = `${r.id}: ${s.skip}`;
  }
  return { skip: skip ?? "no reader recognises this content" };
}

/** Reads one file into the store. Never throws for a bad file: the outcome says what happened. */
export function scanFile(path: string, opts: ScanOptions): FileOutcome {
  const { store, readers } = opts;
  let info: FileInfo;
  let bytes: Uint8Array;
  try {
    const st = statSync(path);
    if (st.size > (opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE)) {
      const reason = `larger than ${opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE} bytes`;
      return { status: "skipped", reason };
    }
    bytes = readFileSync(path);
    info = { path, sha256: sha256(bytes), size: st.size, mtime: st.mtime.toISOString() };
  } catch (err) {
    return { status: "failed", error: `cannot read: ${(err as Error).message}` };
  }
  const known = store.getFile(path);
  if (!opts.force && known && known.sha256 === info.sha256) return { status: "unchanged" };
  if (bytes.length === 0) {
    store.putStatus(info, "skipped", { notes: ["empty file"] });
    return { status: "skipped", reason: "empty file" };
  }
  let picked: ReturnType<typeof pickReader>;
  try {
    picked = pickReader(readers, bytes, path);
  } catch (err) {
    const error = `sniff failed: ${(err as Error).message}`;
    store.putStatus(info, "failed", { error });
    return { status: "failed", error };
  }
  if ("skip" in picked) {
    store.putStatus(info, "skipped", { notes: [picked.skip] });
    return { status: "skipped", reason: picked.skip };
  }
  const reader = picked.reader;
  try {
    const input: SourceInput = { path, bytes, companion: companionFinder(path) };
    const result = reader.read(input);
    const counts = store.putResult(info, reader.id, result);
    return { status: "read", reader: reader.id, ...counts, notes: result.notes };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    store.putStatus(info, "failed", { reader: reader.id, error });
    return { status: "failed", reader: reader.id, error };
  }
}

/** Scans every file under `paths`; per-file failures are recorded and the scan carries on. */
export function scanPaths(paths: string[], opts: ScanOptions): ScanSummary {
  const started = performance.now();
  const files = collectFiles(paths);
  const summary: ScanSummary = {
    files: files.length,
    read: 0,
    unchanged: 0,
    providers: 0,
    events: 0,
    filesByReader: {},
    eventsByKind: {},
    eventsBySource: {},
    failed: [],
    skipped: [],
    skippedByReason: {},
    notes: [],
    elapsedMs: 0,
  };
  const scanOne = (path: string, index: number) => {
    const outcome = scanFile(path, opts);
    switch (outcome.status) {
      case "read":
        summary.read++;
        summary.providers += outcome.providers;
        summary.events += outcome.events;
        bump(summary.filesByReader, outcome.reader);
        for (const note of outcome.notes) summary.notes.push({ path, note });
        break;
      case "unchanged":
        summary.unchanged++;
        break;
      case "skipped":
        summary.skipped.push({ path, reason: outcome.reason });
        bump(summary.skippedByReason, outcome.reason);
        break;
      case "failed":
        summary.failed.push({ path, reader: outcome.reader, error: outcome.error });
        break;
    }
    opts.onFile?.({ index, total: files.length, path, outcome });
  };
  // Files are committed in batches: one commit per file rewrites the same index pages thousands
  // of times. Each file still runs in its own savepoint, so a failing file never undoes others.
  const batch = opts.store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) scanOne(files[i]!, i);
  });
  for (let i = 0; i < files.length; i += FILES_PER_COMMIT)
    batch(i, Math.min(files.length, i + FILES_PER_COMMIT));
  // Event counts by kind/source come from the store so they also cover unchanged files.
  const chunk = 500;
  for (let i = 0; i < files.length; i += chunk) {
    const part = files.slice(i, i + chunk);
    const rows = opts.store.db
      .prepare(
        `SELECT e.kind, e.source, count(*) AS n FROM events e JOIN files f ON f.id = e.file_id
         WHERE f.path IN (${part.map(() => "?").join(",")}) GROUP BY e.kind, e.source`,
      )
      .all(...part) as Array<{ kind: string; source: string; n: number }>;
    for (const r of rows) {
      bump(summary.eventsByKind, r.kind, r.n);
      bump(summary.eventsBySource, r.source, r.n);
    }
  }
  summary.elapsedMs = performance.now() - started;
  return summary;
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}
