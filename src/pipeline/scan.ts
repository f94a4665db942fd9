/**
 * The scanner: walks files and directories, picks a reader per file by content, reads it and
 * stores the result. This module does the file I/O (readers stay pure); rendering progress and
 * the summary is left to the caller through callbacks.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { SourceResult } from "../catalog/model.js";
import type { SourceInput, SourceReader } from "../catalog/sources.js";
import type { CatalogStore, FileInfo } from "../catalog/store.js";
import { type CollectedFiles, collectFilesDetailed, readRegularFile } from "./files.js";
import { peExtractors, readers } from "./readers.js";

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
  /** Reader-set signature stored per file; defaults to `scannerSignature(readers)`. */
  scanner?: string;
}

/**
 * Identifies the set of readers (and PE extractors) a file was read with. A file is "unchanged"
 * only when both its hash and this signature match, so adding a reader re-reads old files.
 */
export function scannerSignature(readerList: SourceReader[]): string {
  const ids = readerList.map((r) =>
    r.id === "pe" && readerList === readers ? `pe[${peExtractors.map((x) => x.id).join(",")}]` : r.id,
  );
  return ids.join(",");
}

/**
 * Hash of the stored copy of `path` when it needs no new work: read by the same readers and, when
 * `analysis` (the analyser's signature) is asked for, an image the analysis has looked at with that
 * signature. An image stored by an older analyser, or with no analysis yet, is done again.
 */
export function knownHash(
  store: CatalogStore,
  path: string,
  scanner: string,
  analysis?: string,
): string | undefined {
  const known = store.getFile(path);
  if (!known?.scanner) return undefined;
  const stored = known.scanner;
  if (stored !== scanner && !stored.startsWith(`${scanner}+analysis:`)) return undefined;
  const wantsAnalysis = analysis !== undefined && known.reader === "pe" && known.status === "ok";
  if (wantsAnalysis && stored !== `${scanner}+analysis:${analysis}`) return undefined;
  return known.sha256;
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
  /** Files of a rescanned directory that are gone from it: removed from the catalog. */
  pruned: string[];
  elapsedMs: number;
}

/** The catalog's own files (database, WAL, shared memory) must not be scanned into itself. */
function withoutCatalogFiles(files: string[], store: CatalogStore): string[] {
  const name = store.db.name;
  if (!name || name === ":memory:") return files;
  const own = new Set(["", "-wal", "-shm", "-journal"].map((suffix) => resolve(name + suffix)));
  return files.filter((f) => !own.has(resolve(f)));
}

/**
 * The files a scan of `paths` reads (without the catalog's own files); directories that could not
 * be listed and non-files named on the command line are recorded as failures of the scan.
 */
export function filesToScan(paths: string[], store: CatalogStore): CollectedFiles {
  const collected = collectFilesDetailed(paths);
  return { ...collected, files: withoutCatalogFiles(collected.files, store) };
}

/**
 * Removes from the catalog the files (and their sites) that were stored under a directory of
 * `paths` but are no longer there; directories that could not be listed keep their files.
 */
export function pruneVanished(store: CatalogStore, paths: string[], collected: CollectedFiles): string[] {
  const present = new Set(collected.files);
  const blocked = collected.problems.map((p) => p.path);
  const under = (path: string, dir: string) => path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  const gone: string[] = [];
  for (const root of paths) {
    let isDir = false;
    try {
      isDir = statSync(root).isDirectory();
    } catch {
      continue;
    }
    if (!isDir) continue;
    const prefix = root.endsWith(sep) ? root : root + sep;
    const rows = store.db
      .prepare("SELECT path FROM files WHERE substr(path, 1, ?) = ?")
      .all(prefix.length, prefix) as Array<{ path: string }>;
    for (const { path } of rows)
      if (!present.has(path) && !blocked.some((b) => under(path, b) || path === b)) gone.push(path);
  }
  if (gone.length)
    store.db.transaction(() => {
      for (const path of gone) {
        store.clearSites(path);
        store.removeFile(path);
      }
    })();
  return gone;
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

/**
 * What reading one file produced, before anything is stored. Plain data, so a worker thread can
 * compute it and post it back.
 */
export type PreparedFile =
  | { kind: "unchanged" }
  | { kind: "skip"; info?: FileInfo; reason: string }
  | { kind: "failed"; info?: FileInfo; reader?: string; error: string }
  | { kind: "read"; info: FileInfo; reader: string; result: SourceResult };

export interface PrepareOptions {
  readers: SourceReader[];
  force?: boolean;
  maxFileSize?: number;
  scanner?: string;
}

/** A file read, hashed and matched to a reader, not parsed yet. */
export interface SniffedFile {
  kind: "sniffed";
  info: FileInfo;
  bytes: Uint8Array;
  reader: SourceReader;
}

/**
 * Reads (never blocking on a FIFO or device), hashes and sniffs one file (no store access):
 * the first half of `prepareFile`. Never throws.
 */
export function sniffFile(
  path: string,
  knownSha256: string | undefined,
  opts: PrepareOptions,
): Exclude<PreparedFile, { kind: "read" }> | SniffedFile {
  let info: FileInfo;
  let bytes: Uint8Array;
  try {
    const max = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
    const file = readRegularFile(path, max);
    if (file.skip !== undefined) return { kind: "skip", reason: file.skip };
    bytes = file.bytes;
    info = {
      path,
      sha256: sha256(bytes),
      size: bytes.length,
      mtime: file.mtime.toISOString(),
      scanner: opts.scanner,
    };
  } catch (err) {
    return { kind: "failed", error: `cannot read: ${(err as Error).message}` };
  }
  if (!opts.force && knownSha256 === info.sha256) return { kind: "unchanged" };
  if (bytes.length === 0) return { kind: "skip", info, reason: "empty file" };
  let picked: ReturnType<typeof pickReader>;
  try {
    picked = pickReader(opts.readers, bytes, path);
  } catch (err) {
    return { kind: "failed", info, error: `sniff failed: ${(err as Error).message}` };
  }
  if ("skip" in picked) return { kind: "skip", info, reason: picked.skip };
  return { kind: "sniffed", info, bytes, reader: picked.reader };
}

/** Runs a parse step of a sniffed file; an exception becomes the file's failure. */
export function readSniffed(
  sniffed: SniffedFile,
  read: (input: SourceInput) => SourceResult = (input) => sniffed.reader.read(input),
): PreparedFile {
  const { info, bytes, reader } = sniffed;
  try {
    const input: SourceInput = { path: info.path, bytes, companion: companionFinder(info.path) };
    return { kind: "read", info, reader: reader.id, result: read(input) };
  } catch (err) {
    return {
      kind: "failed",
      info,
      reader: reader.id,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

/** Reads, hashes, sniffs and parses one file (no store access). Never throws. */
export function prepareFile(
  path: string,
  knownSha256: string | undefined,
  opts: PrepareOptions,
): PreparedFile {
  const sniffed = sniffFile(path, knownSha256, opts);
  return sniffed.kind === "sniffed" ? readSniffed(sniffed) : sniffed;
}

/** Stores a prepared file (replacing what the catalog had for its path) and says what happened. */
export function commitFile(store: CatalogStore, prepared: PreparedFile): FileOutcome {
  switch (prepared.kind) {
    case "unchanged":
      return { status: "unchanged" };
    case "skip":
      if (prepared.info) store.putStatus(prepared.info, "skipped", { notes: [prepared.reason] });
      return { status: "skipped", reason: prepared.reason };
    case "failed":
      if (prepared.info)
        store.putStatus(prepared.info, "failed", { reader: prepared.reader, error: prepared.error });
      return { status: "failed", reader: prepared.reader, error: prepared.error };
    case "read":
      try {
        const counts = store.putResult(prepared.info, prepared.reader, prepared.result);
        return { status: "read", reader: prepared.reader, ...counts, notes: prepared.result.notes };
      } catch (err) {
        const error = `cannot store: ${err instanceof Error ? err.message : String(err)}`;
        store.putStatus(prepared.info, "failed", { reader: prepared.reader, error });
        return { status: "failed", reader: prepared.reader, error };
      }
  }
}

/** Reads one file into the store. Never throws for a bad file: the outcome says what happened. */
export function scanFile(path: string, opts: ScanOptions): FileOutcome {
  const scanner = opts.scanner ?? scannerSignature(opts.readers);
  return commitFile(
    opts.store,
    prepareFile(path, knownHash(opts.store, path, scanner), { ...opts, scanner }),
  );
}

export function newSummary(files: number): ScanSummary {
  return {
    files,
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
    pruned: [],
    elapsedMs: 0,
  };
}

export function recordOutcome(summary: ScanSummary, path: string, outcome: FileOutcome): void {
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
}

/** Event counts by kind/source come from the store so they also cover unchanged files. */
export function finishSummary(
  summary: ScanSummary,
  files: string[],
  store: CatalogStore,
  started: number,
): ScanSummary {
  // Names from other files and the search index depend on the whole catalog: refresh once per scan.
  store.refreshDerived();
  const chunk = 500;
  for (let i = 0; i < files.length; i += chunk) {
    const part = files.slice(i, i + chunk);
    const rows = store.db
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

/** Scans every file under `paths`; per-file failures are recorded and the scan carries on. */
export function scanPaths(paths: string[], opts: ScanOptions): ScanSummary {
  const started = performance.now();
  const collected = filesToScan(paths, opts.store);
  const { files } = collected;
  const summary = newSummary(files.length);
  for (const p of collected.problems) summary.failed.push(p);
  const scanOne = (path: string, index: number) => {
    const outcome = scanFile(path, opts);
    recordOutcome(summary, path, outcome);
    opts.onFile?.({ index, total: files.length, path, outcome });
  };
  // Files are committed in batches: one commit per file rewrites the same index pages thousands
  // of times. Each file still runs in its own savepoint, so a failing file never undoes others.
  const batch = opts.store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) scanOne(files[i]!, i);
  });
  for (let i = 0; i < files.length; i += FILES_PER_COMMIT)
    batch(i, Math.min(files.length, i + FILES_PER_COMMIT));
  summary.pruned = pruneVanished(opts.store, paths, collected);
  opts.store.recordScanRoots(paths);
  return finishSummary(summary, files, opts.store, started);
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}
