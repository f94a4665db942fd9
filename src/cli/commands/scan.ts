import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { CatalogStore } from "../../catalog/store.js";
import {
  type AnalyzeOutcome,
  DEFAULT_MAX_ANALYZE_BYTES,
  defaultAnalysis,
  formatAnalysisSummary,
  maxAnalyzeBytes,
} from "../../pipeline/analysis.js";
import { expandArchives } from "../../pipeline/archives.js";
import type { ScanProgress, ScanSummary } from "../../pipeline/scan.js";
import {
  DEFAULT_WORKER_HEAP_MIB,
  openCatalogForWrite,
  type ParallelScanSummary,
  scanPathsParallel,
} from "../../pipeline/scan-parallel.js";
import { DEFAULT_DB } from "../defaults.js";
import { printable } from "../pipe.js";
import { analysisOutcomeLine, shorten } from "../report.js";

interface ScanCliOptions {
  db: string;
  json?: boolean;
  force?: boolean;
  quiet?: boolean;
  jobs: string;
  analyze: boolean;
  link: boolean;
  maxAnalyzeMib: string;
  budget?: string;
  workerHeapMib: string;
  wimIndex?: string;
  archivePath?: string[];
}

export function register(program: Command): void {
  program
    .command("scan")
    .description("Read ETW metadata from files and directories (recursively) into a SQLite catalog")
    .argument("<paths...>", "files or directories to scan")
    .option("--db <file>", "catalog file to create or update", DEFAULT_DB)
    .option("--json", "print the summary as JSON")
    .option("--force", "re-read (and re-analyse) files even when their content hash is unchanged")
    .option("-q, --quiet", "no per-file lines (failures are still listed)")
    .option(
      "-j, --jobs <n>",
      "worker threads reading and analysing files (0 counts as 1: the main thread never parses file bytes)",
      String(Math.min(8, Math.max(1, availableParallelism()))),
    )
    .option("--no-analyze", "catalog only: do not analyse x64 images for code sites")
    .option("--no-link", "do not link the modules of each Windows build (no `reach` answers)")
    .option(
      "--max-analyze-mib <n>",
      "do not analyse images larger than this",
      String(DEFAULT_MAX_ANALYZE_BYTES / 2 ** 20),
    )
    .option("--budget <seconds>", "time budget per file (default: 120 s + 2 s per MiB)")
    .option("--worker-heap-mib <n>", "heap limit of each worker process", String(DEFAULT_WORKER_HEAP_MIB))
    .option("--wim-index <n>", "image of a WIM/ESD to read (1-based)", "1")
    .option(
      "--archive-path <path...>",
      "paths inside a WIM/ESD image to unpack (default /Windows/System32 when the image has it)",
    )
    .action(async (given: string[], opts: ScanCliOptions) => {
      const jobs = Number(opts.jobs);
      if (!Number.isInteger(jobs) || jobs < 0)
        throw new Error(`--jobs must be a whole number, not ${opts.jobs}`);
      const limits = scanLimits(opts);
      const maxBytes = maxAnalyzeBytes(opts.maxAnalyzeMib);
      // ISO / WIM / ESD / CAB / MSU inputs are unpacked beside the catalog and scanned as folders.
      const expansion = expandArchives(given, {
        cacheDir: join(dirname(resolve(opts.db)), ".etw-atlas-archives"),
        wimIndex: Number(opts.wimIndex ?? 1),
        ...(opts.archivePath ? { archivePaths: opts.archivePath } : {}),
        onNote: (m) => process.stderr.write(`${m}\n`),
      });
      const paths = expansion.paths;
      if (expansion.failed.length) process.exitCode = 2;
      const store = openCatalogForWrite(opts.db, { onBusy: (m) => process.stderr.write(`${m}\n`) });
      try {
        const summary = await runScan(paths, store, {
          jobs,
          force: opts.force,
          quiet: opts.quiet || opts.json,
          analysis: opts.analyze ? maxBytes : undefined,
          link: opts.link,
          ...limits,
        });
        if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
        else {
          process.stdout.write(formatSummary(summary, opts.db));
          if (summary.analysis) process.stdout.write(formatAnalysisSummary(summary.analysis));
          else process.stdout.write("  code sites: not analysed (--no-analyze)\n");
        }
        if (summary.failed.length || expansion.failed.length) process.exitCode = 2;
      } finally {
        store.close();
      }
    });
}

/** `--budget` and `--worker-heap-mib` as scan options; a clear error for anything but positive numbers. */
export function scanLimits(opts: { budget?: string; workerHeapMib: string }): {
  timeoutMs?: number;
  workerHeapMib: number;
} {
  const heap = Number(opts.workerHeapMib);
  if (!Number.isFinite(heap) || heap < 64)
    throw new Error(`--worker-heap-mib must be a number of at least 64, not ${opts.workerHeapMib}`);
  if (opts.budget === undefined) return { workerHeapMib: heap };
  const s = Number(opts.budget);
  if (!Number.isFinite(s) || s <= 0)
    throw new Error(`--budget must be a positive number of seconds, not ${opts.budget}`);
  return { timeoutMs: s * 1000, workerHeapMib: heap };
}

export interface RunScanOptions {
  jobs: number;
  force?: boolean;
  /** No per-file lines (failures are still listed in the summary). */
  quiet?: boolean;
  /** Analyse x64 images up to this many bytes; undefined: catalog only. */
  analysis?: number;
  /** Keep module summaries and link each Windows build after the analysis (default true). */
  link?: boolean;
  timeoutMs?: number;
  workerHeapMib?: number;
}

/**
 * The scan `scan` and `start` run, with progress on stderr: a bar on a terminal, else one line
 * per file (unless quiet) and per analysed image.
 */
export async function runScan(
  paths: string[],
  store: CatalogStore,
  opts: RunScanOptions,
): Promise<ParallelScanSummary> {
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: "scan [{bar}] {value}/{total} {file}", hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  const onFile = (p: ScanProgress) => {
    if (bar) {
      if (!started) {
        bar.start(p.total, 0, { file: "" });
        started = true;
      }
      bar.update(p.index + 1, { file: shorten(p.path) });
      return; // failures are listed in the summary
    }
    const o = p.outcome;
    if (o.status === "failed") process.stderr.write(`${printable(`FAILED ${p.path}: ${o.error}`)}\n`);
    else if (!opts.quiet) {
      const what =
        o.status === "read"
          ? `${o.reader}: ${o.providers} providers, ${o.events} events`
          : o.status === "skipped"
            ? `skipped (${o.reason})`
            : "unchanged";
      process.stderr.write(`${printable(`[${p.index + 1}/${p.total}] ${p.path}: ${what}`)}\n`);
    }
  };
  const onAnalysis = (o: AnalyzeOutcome) => {
    if (!tty && !opts.quiet) process.stderr.write(`${analysisOutcomeLine(o)}\n`);
  };
  const onBusy = (message: string) => {
    if (started) bar?.stop();
    started = false;
    process.stderr.write(`${message}\n`);
  };
  try {
    return await scanPathsParallel(paths, {
      store,
      onFile,
      onAnalysis,
      onBusy,
      force: opts.force,
      jobs: Math.max(1, opts.jobs),
      ...(opts.analysis !== undefined
        ? { analysis: { ...defaultAnalysis(opts.analysis), ...(opts.link === false ? { link: false } : {}) } }
        : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.workerHeapMib !== undefined ? { workerHeapMib: opts.workerHeapMib } : {}),
    });
  } finally {
    if (started) bar?.stop();
  }
}

function table(map: Record<string, number>): string {
  const entries = Object.entries(map).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(", ") : "none";
}

export function formatSummary(s: ScanSummary, db: string): string {
  const lines = [
    `Scanned ${s.files} files in ${(s.elapsedMs / 1000).toFixed(1)} s → ${db}`,
    `  read: ${s.read} (${table(s.filesByReader)}); unchanged: ${s.unchanged}; skipped: ${s.skipped.length}; failed: ${s.failed.length}`,
    `  new: ${s.providers} providers, ${s.events} events${s.pruned.length ? `; pruned ${s.pruned.length} files gone from their directory` : ""}`,
    `  events by kind: ${table(s.eventsByKind)}`,
    `  events by source: ${table(s.eventsBySource)}`,
  ];
  if (s.skipped.length) {
    lines.push("  skipped, by reason:");
    for (const [reason, n] of Object.entries(s.skippedByReason).sort((a, b) => b[1] - a[1]))
      lines.push(`    ${n} × ${reason}`);
  }
  if (s.notes.length) {
    lines.push(`  notes: ${s.notes.length}`);
    for (const n of s.notes.slice(0, 20)) lines.push(`    ${n.path}: ${n.note}`);
    if (s.notes.length > 20)
      lines.push(`    … ${s.notes.length - 20} more (see the files table, column notes)`);
  }
  if (s.failed.length) {
    lines.push("  failures:");
    for (const f of s.failed) lines.push(`    ${f.path}${f.reader ? ` [${f.reader}]` : ""}: ${f.error}`);
  }
  return lines.map(printable).join("\n") + "\n";
}
