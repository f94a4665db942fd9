import type { Command } from "commander";
import { analyzeImage, symbolsFromPdb } from "../../analysis/analyze.js";
import { apiToEtwLeftOut, FORMATS, formatRowPieces, type ReportFormat } from "../../analysis/report.js";
import { mergeResults, type SourceResult } from "../../catalog/model.js";
import { windowsBuild } from "../../catalog/readers/pe.js";
import { wppEventsFromPdb } from "../../catalog/readers/wpp.js";
import { CatalogStore } from "../../catalog/store.js";
import { parsePe } from "../../formats/pe/index.js";
import { loadKernelNames } from "../../pipeline/analysis.js";
import { ownCatalog, readers } from "../../pipeline/readers.js";
import { rowsToSites } from "../../pipeline/sites.js";
import { findPdbForImage } from "../../symbols/resolve.js";
import { appendAll } from "../../util/arrays.js";
import { describeError } from "../../util/errors.js";
import { readInput } from "../input.js";
import { exitQuietlyOnClosedPipe } from "../pipe.js";

interface AnalyzeCliOptions {
  pdb?: string;
  entry?: string[];
  maxDepth: string;
  format: string;
  shallowest?: boolean;
  unreached: boolean;
  conditions: boolean;
  quiet?: boolean;
  kernelNames?: string;
  db?: string;
  symbols?: string;
  mof?: string[];
}

/** Adds the events of a MOF file (read with the catalog's readers) to a catalog. */
function addMof(catalog: SourceResult, file: string): void {
  const bytes = readInput(file);
  const reader = readers.find((r) => r.sniff(bytes, file) !== "no");
  if (!reader) throw new Error(`${file}: not a file the catalog can read`);
  mergeResults(catalog, reader.read({ path: file, bytes }));
}

/** Runs `f`; an error it throws is rethrown with `file` in front (unless it names the file already). */
function named<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (message.includes(file)) throw err;
    throw new Error(describeError(file, err));
  }
}

export function register(program: Command): void {
  program
    .command("analyze")
    .description("Find ETW write sites in an x64 binary and the entry points that reach them")
    .argument("<pe>", "x64 PE file (driver, DLL, EXE)")
    .option("--pdb <file>", "matching PDB: symbol names, Nt* entry points, descriptor/handle symbols")
    .option(
      "--symbols <path>",
      "find the matching PDB on a symbol path (_NT_SYMBOL_PATH syntax: dirs, stores)",
    )
    .option("--entry <name...>", "only these entry points")
    .option("--max-depth <n>", "longest call path in functions", "8")
    .option("--format <format>", FORMATS.join(" | "), "table")
    .option("--shallowest", "per entry point, keep only the shallowest site of each event")
    .option("--no-unreached", "omit sites that no entry point reaches")
    .option("--no-conditions", "skip the guard conditions of each site (conditions / logged)")
    .option(
      "--kernel-names <dir>",
      "directory with perfinfo-group-masks.tsv, perfinfo-log-types.tsv, event-trace-groups.tsv (names for EtwTraceKernelEvent constants)",
    )
    .option(
      "--mof <file...>",
      "MOF files (e.g. wmicore.mof) naming EtwTraceKernelEvent hook ids by class and event type",
    )
    .option(
      "--db <file>",
      "catalog database: names events of providers the image does not describe, and stores the rows as code sites (replacing this file's)",
    )
    .option("-q, --quiet", "no progress on stderr")
    .action(async (file: string, opts: AnalyzeCliOptions) => {
      exitQuietlyOnClosedPipe();
      if (!(FORMATS as readonly string[]).includes(opts.format))
        throw new Error(`unknown format ${opts.format}; use one of ${FORMATS.join(", ")}`);
      const maxDepth = Number.parseInt(opts.maxDepth, 10);
      if (!Number.isInteger(maxDepth) || maxDepth < 1)
        throw new Error(`--max-depth must be a positive integer`);
      const bytes = readInput(file);
      const pe = named(file, () => parsePe(bytes));
      // An explicit PDB or a symbol path goes through the resolver, which checks GUID and age.
      const found =
        opts.pdb || opts.symbols
          ? await findPdbForImage(file, { pdb: opts.pdb, symbolPath: opts.symbols })
          : undefined;
      // PDB streams are read lazily: their errors name the PDB.
      const symbols = found ? named(found.path, () => symbolsFromPdb(found.pdb)) : undefined;
      const catalog = ownCatalog(pe, file, bytes);
      if (found) {
        // WPP sites join to the PDB's TMF messages.
        const wpp = named(found.path, () => wppEventsFromPdb(found.pdb, found.path));
        appendAll(catalog.providers, wpp.providers);
        appendAll(catalog.events, wpp.events);
      }
      for (const f of opts.mof ?? []) addMof(catalog, f);
      // A catalog database both names providers the image does not describe and receives the sites.
      const store = opts.db ? CatalogStore.open(opts.db) : undefined;
      const showProgress = !opts.quiet && process.stderr.isTTY;
      let lastPct = -1;
      const report = named(file, () =>
        analyzeImage(pe, {
          symbols,
          entries: opts.entry,
          maxDepth,
          shallowest: opts.shallowest,
          // With --entry the question is about those entries: unreached sites only with the default.
          unreached: opts.unreached && !opts.entry,
          conditions: opts.conditions,
          catalog,
          kernelNames: opts.kernelNames ? loadKernelNames(opts.kernelNames) : undefined,
          moreEvents: store
            ? (guids) => guids.flatMap((g) => [...store.events("WHERE provider_guid = ?", [g])])
            : undefined,
          progress: showProgress
            ? (stage, done, total) => {
                const pct = Math.floor((100 * done) / Math.max(1, total));
                if (pct !== lastPct) {
                  lastPct = pct;
                  process.stderr.write(`\r${stage} ${pct}%`);
                }
              }
            : undefined,
        }),
      );
      if (showProgress) process.stderr.write("\r\x1b[K");
      for (const n of report.notes) process.stderr.write(`note: ${n}\n`);
      for (const piece of formatRowPieces(report.rows, opts.format as ReportFormat))
        process.stdout.write(piece);
      if (opts.format === "api-to-etw") {
        const leftOut = apiToEtwLeftOut(report.rows);
        if (leftOut > 0)
          process.stderr.write(
            `note: ${leftOut} write sites no entry point reaches are not in the api-to-etw CSV (--format jsonl lists them with entry null)\n`,
          );
      }
      if (store) {
        try {
          store.clearSites(file);
          store.addSites(rowsToSites(file, report.rows, windowsBuild(pe, file)));
        } finally {
          store.close();
        }
      }
      if (!opts.quiet) {
        const t = Object.entries(report.timings)
          .map(([k, v]) => `${k} ${v}ms`)
          .join(", ");
        process.stderr.write(
          `${report.findings.length} write sites, ${report.entries.length} entry points, ${report.rows.length} rows (${t})\n`,
        );
      }
    });
}
