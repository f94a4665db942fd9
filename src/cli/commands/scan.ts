import { availableParallelism } from "node:os";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { readers } from "../../catalog/readers/index.js";
import { CatalogStore } from "../../catalog/store.js";
import {
  type AnalysisSummary,
  analyzeImagesIntoStore,
  DEFAULT_MAX_ANALYZE_BYTES,
  formatAnalysisSummary,
  maxAnalyzeBytes,
} from "../../pipeline/analysis.js";
import { type ScanProgress, type ScanSummary, scanPaths, scanPathsParallel } from "../../pipeline/scan.js";
import { analysisOutcomeLine, shorten } from "../report.js";

export const DEFAULT_DB = "etw-atlas.db";

interface ScanCliOptions {
  db: string;
  json?: boolean;
  force?: boolean;
  quiet?: boolean;
  jobs: string;
  analyze: boolean;
  maxAnalyzeMib: string;
}

/** The files a scan re-read (their old code sites are stale) and the PE images among them. */
interface ReadFiles {
  changed: string[];
  pe: string[];
}

export function register(program: Command): void {
  program
    .command("scan")
    .description("Read ETW metadata from files and directories (recursively) into a SQLite catalog")
    .argument("<paths...>", "files or directories to scan")
    .option("--db <file>", "catalog file to create or update", DEFAULT_DB)
    .option("--json", "print the summary as JSON")
    .option("--force", "re-read files even when their content hash is unchanged")
    .option("-q, --quiet", "no per-file lines (failures are still listed)")
    .option(
      "-j, --jobs <n>",
      "parse in N worker threads (0 = in the main thread)",
      String(availableParallelism() > 1 ? 2 : 0),
    )
    .option("--no-analyze", "catalog only: do not analyse x64 images for code sites")
    .option(
      "--max-analyze-mib <n>",
      "do not analyse images larger than this",
      String(DEFAULT_MAX_ANALYZE_BYTES / 2 ** 20),
    )
    .action(async (paths: string[], opts: ScanCliOptions) => {
      const jobs = Number(opts.jobs);
      if (!Number.isInteger(jobs) || jobs < 0)
        throw new Error(`--jobs must be a whole number, not ${opts.jobs}`);
      const maxBytes = maxAnalyzeBytes(opts.maxAnalyzeMib);
      const store = CatalogStore.open(opts.db);
      try {
        const readFiles: ReadFiles = { changed: [], pe: [] };
        const summary = await runScan(paths, store, opts, jobs, readFiles);
        // Sites describe the bytes they were found in: a re-read file loses its old ones; an
        // unchanged file keeps them.
        store.db.transaction(() => {
          for (const path of readFiles.changed) store.clearSites(path);
        })();
        const analysis = opts.analyze ? await analyzeStep(store, readFiles.pe, maxBytes, opts) : undefined;
        if (opts.json) process.stdout.write(JSON.stringify({ ...summary, analysis }, null, 2) + "\n");
        else {
          process.stdout.write(formatSummary(summary, opts.db));
          if (analysis) process.stdout.write(formatAnalysisSummary(analysis));
          else process.stdout.write("  code sites: not analysed (--no-analyze)\n");
        }
        if (summary.failed.length) process.exitCode = 2;
      } finally {
        store.close();
      }
    });
}

async function runScan(
  paths: string[],
  store: CatalogStore,
  opts: ScanCliOptions,
  jobs: number,
  readFiles: ReadFiles,
): Promise<ScanSummary> {
  const tty = process.stderr.isTTY && !opts.json;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: "scan [{bar}] {value}/{total} {file}", hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  const onFile = (p: ScanProgress) => {
    if (p.outcome.status !== "unchanged") readFiles.changed.push(p.path);
    if (p.outcome.status === "read" && p.outcome.reader === "pe") readFiles.pe.push(p.path);
    if (bar) {
      if (!started) {
        bar.start(p.total, 0, { file: "" });
        started = true;
      }
      bar.update(p.index + 1, { file: shorten(p.path) });
      return; // failures are listed in the summary
    }
    if (opts.json) return;
    const o = p.outcome;
    if (o.status === "failed") process.stderr.write(`FAILED ${p.path}: ${o.error}\n`);
    else if (!opts.quiet) {
      const what =
        o.status === "read"
          ? `${o.reader}: ${o.providers} providers, ${o.events} events`
          : o.status === "skipped"
            ? `skipped (${o.reason})`
            : "unchanged";
      process.stderr.write(`[${p.index + 1}/${p.total}] ${p.path}: ${what}\n`);
    }
  };
  try {
    return jobs > 0
      ? await scanPathsParallel(paths, { store, onFile, force: opts.force, jobs })
      : scanPaths(paths, { readers, store, onFile, force: opts.force });
  } finally {
    if (started) bar?.stop();
  }
}

/** Analyses the re-read PE images (x64 only) into the catalog; progress on stderr like the scan's. */
async function analyzeStep(
  store: CatalogStore,
  images: string[],
  maxBytes: number,
  opts: ScanCliOptions,
): Promise<AnalysisSummary> {
  const tty = process.stderr.isTTY && !opts.json;
  const { summary } = await analyzeImagesIntoStore(store, images, {
    maxBytes,
    onImage: (i, total, path) => {
      if (tty) process.stderr.write(`\r\x1b[Kanalyse ${i + 1}/${total} ${shorten(path)}`);
    },
    onOutcome: (o) => {
      if (tty || opts.json || opts.quiet) return;
      process.stderr.write(`${analysisOutcomeLine(o)}\n`);
    },
  });
  if (tty) process.stderr.write("\r\x1b[K");
  return summary;
}

function table(map: Record<string, number>): string {
  const entries = Object.entries(map).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(", ") : "none";
}

export function formatSummary(s: ScanSummary, db: string): string {
  const lines = [
    `Scanned ${s.files} files in ${(s.elapsedMs / 1000).toFixed(1)} s → ${db}`,
    `  read: ${s.read} (${table(s.filesByReader)}); unchanged: ${s.unchanged}; skipped: ${s.skipped.length}; failed: ${s.failed.length}`,
    `  new: ${s.providers} providers, ${s.events} events`,
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
  return lines.join("\n") + "\n";
}
