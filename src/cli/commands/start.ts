import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  DEFAULT_MAX_ANALYZE_BYTES,
  formatAnalysisSummary,
  maxAnalyzeBytes,
} from "../../pipeline/analysis.js";
import {
  committedSample,
  defaultCorpus,
  fetchSample,
  SAMPLE_PACKAGE,
  unpackCorpusArchives,
} from "../../pipeline/inputs.js";
import { DEFAULT_WORKER_HEAP_MIB, openCatalogForWrite } from "../../pipeline/scan-parallel.js";
import { startServer } from "../../web/server.js";
import { DEFAULT_DB } from "../defaults.js";
import { printableLines } from "../pipe.js";
import { formatSummary, runScan, scanLimits } from "./scan.js";
import { parsePort, untilInterrupted } from "./serve.js";

interface StartCliOptions {
  db: string;
  port?: string;
  analyze: boolean;
  serve: boolean;
  maxAnalyzeMib: string;
  cacheDir: string;
  sample?: boolean;
  budget?: string;
  workerHeapMib: string;
}

export const DEFAULT_PORT = 8377;

const log = (line: string) => process.stderr.write(`${printableLines(line)}\n`);

export function register(program: Command): void {
  program
    .command("start")
    .description(
      "The main job: scan (default: ../shared/corpus, else the sample committed in fixtures/), analyse x64 images, serve the explorer",
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
    .option("--budget <seconds>", "time budget per file (default: 120 s + 2 s per MiB)")
    .option("--worker-heap-mib <n>", "heap limit of each worker process", String(DEFAULT_WORKER_HEAP_MIB))
    .option("--cache-dir <dir>", "where fetched/unpacked inputs are kept", ".cache/etw-atlas")
    .option(
      "--sample",
      `scan the conpty binaries of the npm package ${SAMPLE_PACKAGE} instead (fetched with npm pack: needs the network once)`,
    )
    .action(async (paths: string[], opts: StartCliOptions) => {
      const t0 = performance.now();
      const maxBytes = maxAnalyzeBytes(opts.maxAnalyzeMib);
      const inputs = paths.length
        ? paths
        : opts.sample
          ? [fetchSample(resolve(opts.cacheDir), log)]
          : defaultInputs(resolve(opts.cacheDir));
      const store = openCatalogForWrite(opts.db, { onBusy: (m) => process.stderr.write(`${m}\n`) });
      try {
        // Unchanged files (hash, readers and analyser) cost a hash: a re-run serves in seconds.
        const summary = await runScan(inputs, store, {
          jobs: Math.min(8, Math.max(1, availableParallelism())),
          quiet: true,
          analysis: opts.analyze ? maxBytes : undefined,
          ...scanLimits(opts),
        });
        process.stderr.write(formatSummary(summary, opts.db));
        if (summary.analysis?.kernelNames) log(`kernel event names: ${summary.analysis.kernelNames}`);
        if (summary.analysis) process.stderr.write(formatAnalysisSummary(summary.analysis));
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

/** The corpus when present, else the sample committed in the repository: never the network. */
function defaultInputs(cacheDir: string): string[] {
  const corpus = defaultCorpus();
  if (corpus) {
    log(`input: ${corpus} (the shared corpus)`);
    return [corpus, ...unpackCorpusArchives(corpus, cacheDir, log)];
  }
  const sample = committedSample();
  if (!sample)
    throw new Error(
      "no ../shared/corpus and no fixtures/ sample in this installation: name the files to scan (etw-atlas start <paths...>) or use --sample",
    );
  log(`input: no ../shared/corpus here; using the sample committed in ${sample} (no network needed)`);
  return [sample];
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
