/**
 * The scan as `scan` and `start` run it: every file is read, parsed and (x64 images) analysed in a
 * worker thread with a bounded heap and a per-file time budget; the main thread only lists
 * directories and writes SQLite. A file's catalog records and its code sites are stored in one
 * transaction, so an interrupted scan never leaves a file whose sites are missing; a budget hit or
 * a crash becomes that file's recorded failure (a rescan does not pay it again).
 */

import { type ChildProcess, fork } from "node:child_process";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { siteJoinSummary } from "../catalog/event-sites.js";
import { CatalogStore } from "../catalog/store.js";
import {
  type AnalysisSummary,
  type AnalyzeOutcome,
  analyzerSignature,
  summarizeAnalysis,
} from "./analysis.js";
import { readRegularFile } from "./files.js";
import { linkBuildsInStore } from "./link-build.js";
import { clearModule, storeApiSetSchema, storeModule } from "./link-store.js";
import {
  type AnalysisRequest,
  analysedScanner,
  type FileAnalysis,
  type FileTask,
  type TaskMessage,
} from "./process-file.js";
import { readers } from "./readers.js";
import {
  commitFile,
  DEFAULT_MAX_FILE_SIZE,
  FILES_PER_COMMIT,
  filesToScan,
  finishSummary,
  knownHash,
  newSummary,
  type PreparedFile,
  pruneVanished,
  recordOutcome,
  type ScanOptions,
  type ScanSummary,
  scannerSignature,
  sha256,
} from "./scan.js";

/** Heap of one scan worker process (MiB): a file whose parse or analysis needs more fails alone. */
export const DEFAULT_WORKER_HEAP_MIB = 1536;

/** Young-generation semi-space of each worker process (MiB). */
export const WORKER_SEMI_SPACE_MIB = 64;

/** Files stored per transaction once this many are ready in order, or ... */
const COMMIT_BATCH_FILES = 16;
/** ... once this long has passed since the last commit (a crash loses at most this much work). */
const COMMIT_INTERVAL_MS = 1000;

/** Results held for in-order storing: at most this many files per worker, and this many input bytes. */
export const HELD_FILES_PER_JOB = 32;
export const HELD_INPUT_BYTES = 256 * 2 ** 20;

/** Per-file time budget: a base plus a share per MiB of the file. */
export const DEFAULT_BUDGET_BASE_MS = 120_000;
export const DEFAULT_BUDGET_MS_PER_MIB = 2_000;

/** How long a write waits for another process holding the catalog's write lock. */
export const DEFAULT_BUSY_TIMEOUT_MS = 120_000;

export interface ParallelScanOptions extends Omit<ScanOptions, "readers"> {
  /** Worker threads (at least one: the main thread never parses file bytes). */
  jobs: number;
  /** Fixed per-file time budget in ms (default: 120 s + 2 s per MiB). */
  timeoutMs?: number;
  /** Heap limit of each worker process in MiB (`--max-old-space-size`). */
  workerHeapMib?: number;
  /** Analyse x64 images for code sites (stored with the file, in the same transaction). */
  analysis?: Omit<AnalysisRequest, "signature"> & { signature?: string };
  /** Called after each image the analysis looked at. */
  onAnalysis?: (o: AnalyzeOutcome) => void;
  /** Give up waiting for a busy catalog after this long (default 120 s). */
  busyTimeoutMs?: number;
  /** Told once when the catalog is busy and the scan waits for it. */
  onBusy?: (message: string) => void;
}

export interface ParallelScanSummary extends ScanSummary {
  /** What the analysis did (when asked for). */
  analysis?: AnalysisSummary;
}

/**
 * Opens a write transaction, waiting while another process holds the catalog's write lock
 * (telling `onBusy` once) and failing with a clear message after `timeoutMs`.
 */
export function beginWrite(
  store: CatalogStore,
  opts: { timeoutMs?: number; onBusy?: (message: string) => void } = {},
): void {
  waitWhileBusy(store.db.name, opts, () => {
    store.db.pragma("busy_timeout = 500"); // short waits inside SQLite; this loop reports and bounds them
    store.db.exec("BEGIN IMMEDIATE");
  });
}

/** Opens a catalog for writing, waiting like `beginWrite` while another process writes it. */
export function openCatalogForWrite(
  path: string,
  opts: { timeoutMs?: number; onBusy?: (message: string) => void } = {},
): CatalogStore {
  return waitWhileBusy(path, opts, () => CatalogStore.open(path));
}

function waitWhileBusy<T>(
  name: string,
  opts: { timeoutMs?: number; onBusy?: (message: string) => void },
  attempt: () => T,
): T {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      return attempt();
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
      const waited = Date.now() - started;
      if (waited >= timeoutMs)
        throw new Error(
          `catalog ${name} is busy: another process has been writing it for ${(waited / 1000).toFixed(0)} s; ` +
            "run this again when it has finished, or use another --db",
        );
      if (!told) {
        opts.onBusy?.(
          `catalog ${name} is busy (another process is writing it); waiting up to ${(timeoutMs / 1000).toFixed(0)} s …`,
        );
        told = true;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

interface Done {
  prepared: PreparedFile;
  analysis?: FileAnalysis;
}

interface Slot {
  worker: ChildProcess;
  /** The end of the worker's stderr (V8 says "heap out of memory" there). */
  stderr: string;
  task?: number;
  timer?: NodeJS.Timeout;
  /** What the worker said so far about its task (used when it dies before finishing). */
  hashed?: Extract<TaskMessage, { type: "hashed" }>["info"];
  prepared?: PreparedFile;
  retired?: boolean;
}

/**
 * Scans every file under `paths` in worker threads. Results are stored in input order, so the
 * catalog is identical to a sequential scan's; files under a rescanned directory that are gone are
 * pruned.
 */
export async function scanPathsParallel(
  paths: string[],
  opts: ParallelScanOptions,
): Promise<ParallelScanSummary> {
  const started = performance.now();
  const { store } = opts;
  const collected = filesToScan(paths, store);
  const { files } = collected;
  const summary: ParallelScanSummary = newSummary(files.length);
  for (const p of collected.problems) summary.failed.push(p);
  const scanner = opts.scanner ?? scannerSignature(readers);
  const request: AnalysisRequest | undefined = opts.analysis
    ? { ...opts.analysis, signature: opts.analysis.signature ?? analyzerSignature(opts.analysis.maxBytes) }
    : undefined;
  const outcomes: AnalyzeOutcome[] = [];
  const busy = { timeoutMs: opts.busyTimeoutMs, onBusy: opts.onBusy };
  const workerPath = fileURLToPath(new URL("./scan-worker.js", import.meta.url));
  const heapMib = opts.workerHeapMib ?? DEFAULT_WORKER_HEAP_MIB;
  const results = new Map<number, Done>();
  let nextToSend = 0;
  let nextToCommit = 0;
  // Results are stored in input order, so a slow file holds back the results after it: a wide
  // window keeps the other workers busy meanwhile (a narrow one left a core idle behind every large
  // image), bounded by count and by the input bytes of the files in flight or waiting.
  const window = Math.max(2, opts.jobs * HELD_FILES_PER_JOB);
  const heldBytes = { total: 0, of: new Map<number, number>() };

  const storeOne = (index: number, done: Done) => {
    const path = files[index]!;
    const { prepared, analysis } = done;
    const outcome = commitFile(store, prepared);
    // Sites describe the bytes they were found in: a re-read file loses its old ones.
    if (prepared.kind !== "unchanged") store.clearSites(path);
    if (prepared.kind !== "unchanged" && request?.link !== false) clearModule(store, path);
    if (analysis && outcome.status === "read") {
      store.addSiteColumns(analysis.sites);
      if (analysis.module) storeModule(store, analysis.module);
      if (analysis.apiSet) storeApiSetSchema(store, path, analysis.apiSet.build, analysis.apiSet.schema);
      // Budgets the analysis hit (and other notes) stay with the image's file row.
      if (analysis.outcome.status === "analysed" && analysis.outcome.notes.length)
        store.addFileNotes(
          path,
          analysis.outcome.notes.map((n) => `analysis: ${n}`),
        );
      outcomes.push(analysis.outcome);
      opts.onAnalysis?.(analysis.outcome);
    }
    recordOutcome(summary, path, outcome);
    opts.onFile?.({ index, total: files.length, path, outcome });
  };

  await new Promise<void>((resolveScan, rejectScan) => {
    const slots: Slot[] = [];
    let finished = false;

    let lastCommit = performance.now();
    let flushTimer: ReturnType<typeof setTimeout> | undefined;

    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      if (flushTimer) clearTimeout(flushTimer);
      if (store.db.inTransaction) store.db.exec("ROLLBACK");
      // Settle once every worker process is gone: none outlives the scan (and their CPU is counted).
      void Promise.all(slots.map(retire)).then(() => (err ? rejectScan(err) : resolveScan()));
    };

    // Writes every result that is next in order, a burst at a time in one transaction. Results
    // wait for a batch (COMMIT_BATCH_FILES, or COMMIT_INTERVAL_MS since the last commit): a commit
    // per file rewrote the same index pages 2,527 times on a System32 scan.
    const commitReady = (force = false) => {
      if (finished) return;
      let ready = 0;
      while (ready < COMMIT_BATCH_FILES && results.has(nextToCommit + ready)) ready++;
      const batch =
        force ||
        ready >= COMMIT_BATCH_FILES ||
        nextToCommit + ready === files.length ||
        performance.now() - lastCommit >= COMMIT_INTERVAL_MS;
      if (!batch) {
        if (ready > 0 && !flushTimer)
          flushTimer = setTimeout(() => {
            flushTimer = undefined;
            commitReady(true);
          }, COMMIT_INTERVAL_MS);
        return;
      }
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = undefined;
      lastCommit = performance.now();
      try {
        while (results.has(nextToCommit)) {
          beginWrite(store, busy);
          try {
            for (let n = 0; n < FILES_PER_COMMIT && results.has(nextToCommit); n++) {
              const done = results.get(nextToCommit)!;
              results.delete(nextToCommit);
              heldBytes.total -= heldBytes.of.get(nextToCommit) ?? 0;
              heldBytes.of.delete(nextToCommit);
              storeOne(nextToCommit, done);
              nextToCommit++;
            }
            store.db.exec("COMMIT");
          } catch (err) {
            if (store.db.inTransaction) store.db.exec("ROLLBACK");
            throw err;
          }
        }
      } catch (err) {
        finish(err);
        return;
      }
      if (nextToCommit === files.length) finish();
    };

    const budgetFor = (size: number): number => {
      if (opts.timeoutMs !== undefined) return opts.timeoutMs;
      return DEFAULT_BUDGET_BASE_MS + DEFAULT_BUDGET_MS_PER_MIB * (size / 2 ** 20);
    };

    // The worker died or ran out of time: the file fails alone, with what is known of it.
    const failTask = (slot: Slot, error: string) => {
      const id = slot.task!;
      let done: Done;
      if (slot.prepared) {
        done = {
          prepared: slot.prepared,
          analysis: { outcome: { path: files[id]!, status: "failed", error }, sites: [] },
        };
      } else if (slot.hashed) {
        const info = { ...slot.hashed };
        if (request && info.scanner) info.scanner = analysedScanner(scanner, request.signature);
        done = { prepared: { kind: "failed", info, error } };
      } else done = { prepared: { kind: "failed", error } };
      results.set(id, done);
      replace(slot);
      commitReady();
      feedAll();
    };

    const dispatch = (slot: Slot, id: number, knownSha256: string | undefined) => {
      const path = files[id]!;
      slot.task = id;
      slot.hashed = undefined;
      slot.prepared = undefined;
      const task: FileTask = {
        id,
        path,
        ...(knownSha256 ? { knownSha256 } : {}),
        scanner,
        ...(opts.force ? { force: true } : {}),
        ...(opts.maxFileSize !== undefined ? { maxFileSize: opts.maxFileSize } : {}),
        ...(request ? { analysis: request } : {}),
      };
      slot.worker.send(task);
      const size = sizeOf(path);
      heldBytes.total += size;
      heldBytes.of.set(id, size);
      const budget = budgetFor(size);
      slot.timer = setTimeout(
        () =>
          failTask(
            slot,
            `over the per-file time budget of ${(budget / 1000).toFixed(0)} s (--force retries)`,
          ),
        budget,
      );
    };
    // Worker processes start when a file needs one: a re-run on an unchanged catalog starts none.
    const freeSlot = (): Slot | undefined => {
      const idle = slots.find((s) => s.task === undefined && !s.retired);
      if (idle) return idle;
      if (slots.length >= Math.max(1, opts.jobs)) return undefined;
      const slot = spawn();
      slots.push(slot);
      return slot;
    };
    // Sends files to idle workers; a file whose stored hash still matches is settled here (a hash
    // is not a parse: the main process still never parses file bytes).
    const feedAll = () => {
      for (;;) {
        if (finished) return;
        const full = () =>
          nextToSend - nextToCommit >= window ||
          (heldBytes.total >= HELD_INPUT_BYTES && nextToSend > nextToCommit);
        if (full()) {
          commitReady(true);
          if (finished || full()) return;
        }
        if (nextToSend >= files.length) {
          commitReady();
          return;
        }
        const id = nextToSend;
        const known = knownHash(store, files[id]!, scanner, request?.signature);
        if (known && !opts.force && unchangedOnDisk(files[id]!, known, opts.maxFileSize)) {
          nextToSend++;
          results.set(id, { prepared: { kind: "unchanged" } });
          continue;
        }
        const slot = freeSlot();
        if (!slot) return;
        nextToSend++;
        dispatch(slot, id, known);
      }
    };

    const spawn = (): Slot => {
      const slot: Slot = {
        worker: fork(workerPath, [], {
          // A larger young generation: the analysis allocates many short-lived objects, and with
          // V8's default 16 MiB semi-space a 252-image System32 sample spent 18% of its samples
          // in GC (12% at 64 MiB).
          execArgv: [`--max-old-space-size=${heapMib}`, `--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`],
          serialization: "advanced",
          stdio: ["ignore", "ignore", "pipe", "ipc"],
        }),
        stderr: "",
      };
      slot.worker.stderr?.on("data", (chunk: Buffer) => {
        slot.stderr = (slot.stderr + chunk.toString()).slice(-4096);
      });
      slot.worker.on("message", (m: TaskMessage) => {
        if (slot.retired || m.id !== slot.task) return;
        if (m.type === "hashed") slot.hashed = m.info;
        else if (m.type === "prepared") slot.prepared = m.prepared;
        else {
          if (slot.timer) clearTimeout(slot.timer);
          slot.task = undefined;
          const prepared = m.prepared ?? slot.prepared;
          if (!prepared) {
            finish(new Error(`scan worker sent no result for ${files[m.id]}`));
            return;
          }
          results.set(m.id, { prepared, ...(m.analysis ? { analysis: m.analysis } : {}) });
          // The worker gets its next file before the (synchronous) SQLite write, not after it.
          feedAll();
          commitReady();
        }
      });
      const died = (why: string) => {
        if (slot.retired) return;
        // A worker that dies with no file in flight could not even start: give up, don't respawn forever.
        if (slot.task === undefined) {
          finish(
            new Error(`scan worker failed to start: ${why}${slot.stderr ? `: ${slot.stderr.trim()}` : ""}`),
          );
          return;
        }
        failTask(slot, why);
      };
      slot.worker.on("error", (err: Error) => died(`worker failed: ${err.message}`));
      slot.worker.on("exit", (code, signal) => {
        // Give the stderr pipe a moment to deliver V8's last words before judging them.
        setImmediate(() =>
          died(
            /out of memory/i.test(slot.stderr)
              ? `over the per-file memory budget (worker heap ${heapMib} MiB)`
              : `worker process ended (${signal ?? `exit code ${code}`})`,
          ),
        );
      });
      return slot;
    };
    const retire = (slot: Slot): Promise<void> => {
      slot.retired = true;
      if (slot.timer) clearTimeout(slot.timer);
      const w = slot.worker;
      const gone =
        w.exitCode !== null || w.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((r) => w.once("exit", () => r()));
      w.kill("SIGKILL");
      return gone;
    };
    const replace = (slot: Slot) => {
      void retire(slot);
      slots[slots.indexOf(slot)] = spawn();
    };

    if (files.length === 0) {
      finish();
      return;
    }
    feedAll();
  });

  beginWrite(store, busy);
  try {
    summary.pruned = pruneVanished(store, paths, collected);
    store.recordScanRoots(paths);
    finishSummary(summary, files, store, started); // refreshes derived data inside this transaction
    store.db.exec("COMMIT");
  } catch (err) {
    if (store.db.inTransaction) store.db.exec("ROLLBACK");
    throw err;
  }
  if (request) {
    summary.analysis = summarizeAnalysis(outcomes, performance.now() - started);
    // Build-wide linking reads every module of a build: redo it when a module came or went.
    if (request.link !== false && (outcomes.length > 0 || summary.pruned.length > 0))
      summary.analysis.linked = linkBuildsInStore(store);
    if (request.kernelNamesDir) summary.analysis.kernelNames = request.kernelNamesDir;
    if (summary.analysis.analysed > 0) summary.analysis.join = siteJoinSummary(store);
  }
  summary.elapsedMs = performance.now() - started;
  return summary;
}

/** Whether the file's bytes still have the stored hash (read non-blocking, never parsed). */
function unchangedOnDisk(path: string, known: string, maxFileSize = DEFAULT_MAX_FILE_SIZE): boolean {
  try {
    const r = readRegularFile(path, maxFileSize);
    return r.bytes !== undefined && sha256(r.bytes) === known;
  } catch {
    return false; // the worker reports why
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
