import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { readers } from "../../catalog/readers/index.js";
import { CatalogStore } from "../../catalog/store.js";
import {
  analyzeImagesIntoStore,
  DEFAULT_MAX_ANALYZE_BYTES,
  formatAnalysisSummary,
  maxAnalyzeBytes,
} from "../../pipeline/analysis.js";
import { fetchSample, findCorpus, SAMPLE_PACKAGE, unpackCorpusArchives } from "../../pipeline/inputs.js";
import { type ScanProgress, scanPaths } from "../../pipeline/scan.js";
import { startServer } from "../../web/server.js";
import { shorten } from "../report.js";
import { DEFAULT_DB, formatSummary } from "./scan.js";
import { parsePort, untilInterrupted } from "./serve.js";

interface StartCliOptions {
  db: string;
  port?: string;
  analyze: boolean;
  serve: boolean;
  maxAnalyzeMib: string;
  cacheDir: string;
  sample?: boolean;
}

export const DEFAULT_PORT = 8377;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const log = (line: string) => process.stderr.write(`${line}\n`);

export function register(program: Command): void {
  program
    .command("start")
    .description(
      "The main job: scan (default: ../shared/corpus, else a sample fetched from npm), analyse x64 images, serve the explorer",
    )
    .argument("[paths...]", "files or directories to scan instead of the default input")
    .option("--db <file>", "catalog file to create or update", DEFAULT_DB)
    .option(
      "--port <n>",
      `TCP port on 127.0.0.1 (default ${DEFAULT_PORT}, or any free port when that one is taken)`,
    )
    .option("--no-analyze", "catalog only: skip the code-site analysis")
    .option("--no-serve", "build the catalog and exit")
    .option(
      "--max-analyze-mib <n>",
      "do not analyse images larger than this",
      String(DEFAULT_MAX_ANALYZE_BYTES / 2 ** 20),
    )
    .option("--cache-dir <dir>", "where fetched/unpacked inputs are kept", ".cache/etw-atlas")
    .option("--sample", `use the npm sample (${SAMPLE_PACKAGE}) even when the corpus is present`)
    .action(async (paths: string[], opts: StartCliOptions) => {
      const t0 = performance.now();
      const maxBytes = maxAnalyzeBytes(opts.maxAnalyzeMib);
      const inputs = paths.length
        ? paths
        : opts.sample
          ? [fetchSample(resolve(opts.cacheDir), log)]
          : defaultInputs(resolve(opts.cacheDir));
      const store = CatalogStore.open(opts.db);
      let peFiles: string[];
      try {
        peFiles = scanStep(store, inputs, opts.db);
        if (opts.analyze) await analyzeStep(store, peFiles, maxBytes);
      } finally {
        store.close();
      }
      log(`atlas ready in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${opts.db}`);
      if (!opts.serve) return;
      const server = await listen(opts);
      process.stdout.write(`etw-atlas explorer: ${server.url}  (catalog ${opts.db}; Ctrl+C to stop)\n`);
      await untilInterrupted();
      await server.close();
    });
}

function defaultInputs(cacheDir: string): string[] {
  const corpus = findCorpus(process.cwd(), repoRoot);
  if (corpus) {
    log(`input: ${corpus} (the shared corpus)`);
    return [corpus, ...unpackCorpusArchives(corpus, cacheDir, log)];
  }
  log("input: no ../shared/corpus here; using the redistributable sample from npm");
  return [fetchSample(cacheDir, log)];
}

/** Scans with a compact progress line on stderr; returns the PE images among the scanned files. */
function scanStep(store: CatalogStore, inputs: string[], db: string): string[] {
  const pe: string[] = [];
  let lastLine = 0;
  const tty = process.stderr.isTTY;
  const onFile = (p: ScanProgress) => {
    const o = p.outcome;
    const reader =
      o.status === "read" ? o.reader : o.status === "unchanged" ? store.getFile(p.path)?.reader : undefined;
    if (reader === "pe") pe.push(p.path);
    if (o.status === "failed") log(`FAILED ${p.path}: ${o.error}`);
    const now = performance.now();
    if (p.index + 1 === p.total || now - lastLine > (tty ? 100 : 2000)) {
      lastLine = now;
      const line = `scan ${p.index + 1}/${p.total} ${shorten(p.path, 70)}`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    }
  };
  const summary = scanPaths(inputs, { readers, store, onFile });
  if (tty) process.stderr.write("\r\x1b[K");
  process.stderr.write(formatSummary(summary, db));
  return pe;
}

async function analyzeStep(store: CatalogStore, files: string[], maxBytes: number): Promise<void> {
  const tty = process.stderr.isTTY;
  const { summary } = await analyzeImagesIntoStore(store, files, {
    maxBytes,
    onImage: (i, total, path) => {
      if (tty) process.stderr.write(`\r\x1b[Kanalyse ${i + 1}/${total} ${shorten(path, 70)}`);
    },
    onOutcome: (o) => {
      if (o.status === "failed") log(`\nanalysis FAILED ${o.path}: ${o.error}`);
      else if (o.status === "analysed" && o.ms > 3000)
        log(`${tty ? "\n" : ""}  ${shorten(o.path, 70)}: ${o.sites} sites in ${(o.ms / 1000).toFixed(1)} s`);
    },
  });
  if (tty) process.stderr.write("\r\x1b[K");
  if (summary.kernelNames) log(`kernel event names: ${summary.kernelNames}`);
  process.stderr.write(formatAnalysisSummary(summary, { listFailures: false })); // printed as they happened
}

async function listen(opts: StartCliOptions) {
  const base = { dbPath: opts.db };
  if (opts.port !== undefined) return startServer({ ...base, port: parsePort(opts.port) });
  try {
    return await startServer({ ...base, port: DEFAULT_PORT });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    log(`port ${DEFAULT_PORT} is taken; using a free port`);
    return startServer({ ...base, port: 0 });
  }
}
