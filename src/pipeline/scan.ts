/**
 * The scanner: walks files and directories, picks a reader per file by content, reads it and
 * stores the result. This module does the file I/O (readers stay pure); rendering progress and
 * the summary is left to the caller through callbacks.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import type { SourceResult } from "../catalog/model.js";
import { peExtractors, readers } from "../catalog/readers/index.js";
import type { SourceInput, SourceReader } from "../catalog/sources.js";
import type { CatalogStore, FileInfo } from "../catalog/store.js";
import { collectFiles } from "./files.js";

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

/** Hash of the stored copy of `path`, if it was read by the same readers. */
function knownHash(store: CatalogStore, path: string, scanner: string): string | undefined {
  const known = store.getFile(path);
  return known && known.scanner === scanner ? known.sha256 : undefined;
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

/** The catalog's own files (database, WAL, shared memory) must not be scanned into itself. */
function withoutCatalogFiles(files: string[], store: CatalogStore): string[] {
  const name = store.db.name;
  if (!name || name === ":memory:") return files;
  const own = new Set(["", "-wal", "-shm", "-journal"].map((suffix) => resolve(name + suffix)));
  return files.filter((f) => !own.has(resolve(f)));
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

/** Reads, hashes, sniffs and parses one file (no store access). Never throws. */
export function prepareFile(
  path: string,
  knownSha256: string | undefined,
  opts: PrepareOptions,
): PreparedFile {
  let info: FileInfo;
  let bytes: Uint8Array;
  try {
    const st = statSync(path);
    const max = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
    if (st.size > max) return { kind: "skip", reason: `larger than ${max} bytes` };
    bytes = readFileSync(path);
    info = {
      path,
      sha256: sha256(bytes),
      size: st.size,
      mtime: st.mtime.toISOString(),
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
  const reader = picked.reader;
  try {
    const input: SourceInput = { path, bytes, companion: companionFinder(path) };
    return { kind: "read", info, reader: reader.id, result: reader.read(input) };
  } catch (err) {
    return {
      kind: "failed",
      info,
      reader: reader.id,
      error: err instanceof Error ? err.message : String(err),
    };
  }
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

function newSummary(files: number): ScanSummary {
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
    elapsedMs: 0,
  };
}

function recordOutcome(summary: ScanSummary, path: string, outcome: FileOutcome): void {
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
function finishSummary(
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
  const files = withoutCatalogFiles(collectFiles(paths), opts.store);
  const summary = newSummary(files.length);
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
  return finishSummary(summary, files, opts.store, started);
}

export interface ParallelScanOptions extends Omit<ScanOptions, "readers"> {
  /** Worker threads parsing files (the main thread stores). */
  jobs: number;
  /** A file whose parse takes longer fails with "timed out" (its worker is replaced). Default 300 s. */
  timeoutMs?: number;
}

interface WorkerReply {
  id: number;
  prepared: PreparedFile;
}

/**
 * The same scan with parsing in worker threads (each uses the registered readers). Results are
 * stored in input order, so the catalog is identical to a sequential scan's.
 */
export async function scanPathsParallel(paths: string[], opts: ParallelScanOptions): Promise<ScanSummary> {
  const started = performance.now();
  const files = withoutCatalogFiles(collectFiles(paths), opts.store);
  const summary = newSummary(files.length);
  const { store } = opts;
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const scanner = opts.scanner ?? scannerSignature(readers);
  const workerUrl = new URL("./scan-worker.js", import.meta.url);
  const results = new Map<number, PreparedFile>();
  let nextToSend = 0;
  let nextToCommit = 0;
  let inBatch = 0;
  const window = Math.max(2, opts.jobs * 4); // bounds parsed-but-unstored results held in memory

  return await new Promise<ScanSummary>((resolveScan, rejectScan) => {
    const slots: Array<{ worker: Worker; task?: number; timer?: NodeJS.Timeout }> = [];
    let finished = false;

    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      for (const s of slots) {
        if (s.timer) clearTimeout(s.timer);
        void s.worker.terminate();
      }
      if (store.db.inTransaction) store.db.exec(err ? "ROLLBACK" : "COMMIT");
      if (err) rejectScan(err);
      else resolveScan(finishSummary(summary, files, store, started));
    };

    const commitReady = () => {
      try {
        while (results.has(nextToCommit)) {
          const prepared = results.get(nextToCommit)!;
          results.delete(nextToCommit);
          if (!store.db.inTransaction) store.db.exec("BEGIN");
          const path = files[nextToCommit]!;
          const outcome = commitFile(store, prepared);
          recordOutcome(summary, path, outcome);
          opts.onFile?.({ index: nextToCommit, total: files.length, path, outcome });
          nextToCommit++;
          if (++inBatch >= FILES_PER_COMMIT) {
            store.db.exec("COMMIT");
            inBatch = 0;
          }
        }
      } catch (err) {
        finish(err);
        return;
      }
      if (nextToCommit === files.length) finish();
    };

    const feed = (slot: (typeof slots)[number]) => {
      if (finished || nextToSend >= files.length || nextToSend - nextToCommit >= window) return;
      const id = nextToSend++;
      slot.task = id;
      slot.worker.postMessage({
        id,
        path: files[id],
        knownSha256: knownHash(store, files[id]!, scanner),
        scanner,
        force: opts.force,
        maxFileSize: opts.maxFileSize,
      });
      slot.timer = setTimeout(() => {
        // A reader that never returns: fail the file and replace the worker.
        results.set(id, { kind: "failed", error: `timed out after ${timeoutMs} ms` });
        replace(slot);
        commitReady();
        feedAll();
      }, timeoutMs);
    };
    const feedAll = () => {
      for (const s of slots) if (s.task === undefined) feed(s);
    };

    const spawn = (): (typeof slots)[number] => {
      const slot: (typeof slots)[number] = { worker: new Worker(workerUrl) };
      slot.worker.on("message", (m: WorkerReply) => {
        if (slot.timer) clearTimeout(slot.timer);
        slot.task = undefined;
        results.set(m.id, m.prepared);
        commitReady();
        feedAll();
      });
      slot.worker.on("error", (err) => {
        // A crash (not a parse error: those come back as "failed") fails the file in flight.
        // A worker that dies with no file in flight could not even start: give up, don't respawn forever.
        if (slot.task === undefined) {
          finish(new Error(`scan worker failed to start: ${err.message}`));
          return;
        }
        results.set(slot.task, { kind: "failed", error: `worker crashed: ${err.message}` });
        replace(slot);
        commitReady();
        feedAll();
      });
      return slot;
    };
    const replace = (slot: (typeof slots)[number]) => {
      if (slot.timer) clearTimeout(slot.timer);
      void slot.worker.terminate();
      const fresh = spawn();
      slots[slots.indexOf(slot)] = fresh;
    };

    if (files.length === 0) {
      finish();
      return;
    }
    for (let i = 0; i < Math.max(1, opts.jobs); i++) slots.push(spawn());
    feedAll();
  });
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}
