// `analyze` once its options are checked (analyze.ts loads this module). Only what analysing one
// image needs is imported statically (with what reuses those modules: kernel names, rows to
// sites); the PDB and symbol-path resolver, the catalog database (better-sqlite3) and the MOF and
// XML readers are imported when their option asks for them (start-up CPU is most of a small
// image's cost).
import { analyzeImage, symbolsFromPdb } from "../../analysis/analyze.js";
import { apiToEtwLeftOut, formatRowPieces, type ReportFormat } from "../../analysis/report.js";
import { mergeResults, type SourceResult } from "../../catalog/model.js";
import { windowsBuild } from "../../catalog/readers/pe.js";
import { parsePe } from "../../formats/pe/index.js";
import { loadKernelNames } from "../../pipeline/kernel-names.js";
import { ownCatalog } from "../../pipeline/own-catalog.js";
import { rowsToSites } from "../../pipeline/sites.js";
import { appendAll } from "../../util/arrays.js";
import { describeError } from "../../util/errors.js";
import { readInput } from "../input.js";

export interface AnalyzeCliOptions {
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
async function addMof(catalog: SourceResult, file: string): Promise<void> {
  const { readers } = await import("../../pipeline/readers.js");
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

/** Analyses `file` (its bytes already read) and writes the report to stdout. */
export async function runAnalyze(
  file: string,
  bytes: Uint8Array,
  opts: AnalyzeCliOptions,
  maxDepth: number,
): Promise<void> {
  const pe = named(file, () => parsePe(bytes));
  // An explicit PDB or a symbol path goes through the resolver, which checks GUID and age.
  const found =
    opts.pdb || opts.symbols
      ? await (await import("../../symbols/resolve.js")).findPdbForImage(file, {
          pdb: opts.pdb,
          symbolPath: opts.symbols,
        })
      : undefined;
  // PDB streams are read lazily: their errors name the PDB.
  const symbols = found ? named(found.path, () => symbolsFromPdb(found.pdb)) : undefined;
  const catalog = ownCatalog(pe, file, bytes);
  if (found) {
    // WPP sites join to the PDB's TMF messages.
    const { wppEventsFromPdb } = await import("../../catalog/readers/wpp.js");
    const wpp = named(found.path, () => wppEventsFromPdb(found.pdb, found.path));
    appendAll(catalog.providers, wpp.providers);
    appendAll(catalog.events, wpp.events);
  }
  for (const f of opts.mof ?? []) await addMof(catalog, f);
  const kernelNames = opts.kernelNames ? loadKernelNames(opts.kernelNames) : undefined;
  // A catalog database both names providers the image does not describe and receives the sites.
  const store = opts.db ? (await import("../../catalog/store.js")).CatalogStore.open(opts.db) : undefined;
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
      kernelNames,
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
  for (const piece of formatRowPieces(report.rows, opts.format as ReportFormat)) process.stdout.write(piece);
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
}
