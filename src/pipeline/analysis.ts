/**
 * The main job's analysis step: runs the static analysis over scanned x64 images and stores the
 * code sites in the catalog (`sites` table), where the web UI joins them to events.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { analyzeImage, symbolsFromPdb } from "../analysis/analyze.js";
import { type ModuleSummary, summarizeModule } from "../analysis/link/module.js";
import type { SymbolTable } from "../analysis/program.js";
import { shareProgram } from "../analysis/program.js";
import type { KernelNames } from "../analysis/recognizers/kernel.js";
import { formatSiteJoinSummary, type SiteJoinCounts, siteJoinSummary } from "../catalog/event-sites.js";
import type { SourceResult } from "../catalog/model.js";
import { windowsBuild } from "../catalog/readers/pe.js";
import { wppEventsFromPdb } from "../catalog/readers/wpp.js";
import type { CatalogStore, CodeSite } from "../catalog/store.js";
import { readApiSetSchema } from "../formats/apiset/index.js";
import { type PeImage, parsePe } from "../formats/pe/index.js";
import { findPdb, findPdbForImage, pdbRequestForImage, type ResolvedPdb } from "../symbols/resolve.js";
import { FormatError } from "../util/errors.js";
import { printable } from "../util/printable.js";
import { collectFiles } from "./files.js";
import { defaultCorpus } from "./inputs.js";
import { installationBuild } from "./installation-build.js";
import { kernelNamesIfPresent } from "./kernel-names.js";
import { type LinkSummary, linkBuildsInStore } from "./link-build.js";
import { clearModule, storeApiSetSchema, storeModule } from "./link-store.js";
import { ownCatalog } from "./own-catalog.js";
import { rowsToSites, traceLoggingTies } from "./sites.js";

export { KERNEL_NAME_TABLES, kernelNamesIfPresent, loadKernelNames } from "./kernel-names.js";

/** Images larger than this are not analysed by default (the scan still catalogs their events). */
export const DEFAULT_MAX_ANALYZE_BYTES = 64 * 1024 * 1024;

export type AnalyzeOutcome =
  | {
      path: string;
      status: "analysed";
      sites: number;
      ms: number;
      pdb?: string;
      /** Analysis notes (budgets hit, ...), also stored as notes of the image's `files` row. */
      notes: string[];
      /** TraceLogging blobs of the image and how many a write site ties to a provider. */
      traceLogging: { blobs: number; tied: number };
    }
  | { path: string; status: "skipped"; reason: string }
  | { path: string; status: "failed"; error: string };

export interface AnalyzeFileOptions {
  maxBytes?: number;
  /** Names for EtwTraceKernelEvent constants (`loadKernelNames`). */
  kernelNames?: KernelNames;
  /** The image's matching PDB (`pdbBesideImage`): symbol names, Nt* entries, WPP messages. */
  pdb?: ResolvedPdb;
  /** Keep the module summary build-wide linking needs (default true). */
  link?: boolean;
}

/**
 * The matching PDB lying beside an image (its recorded name or `<image stem>.pdb`, GUID and age
 * checked), else undefined; never looks further (no symbol path, no network) and never throws.
 * `pdbDirs` caches, per directory, whether it holds any .pdb at all, so images in PDB-less
 * directories cost one readdir per directory.
 */
export async function pdbBesideImage(
  path: string,
  pdbDirs: Map<string, boolean> = new Map(),
  /** The image's bytes when already read. */
  bytes?: Uint8Array,
): Promise<ResolvedPdb | undefined> {
  const dir = dirname(path);
  let hasPdb = pdbDirs.get(dir);
  if (hasPdb === undefined) {
    try {
      hasPdb = readdirSync(dir).some((n) => n.toLowerCase().endsWith(".pdb"));
    } catch {
      hasPdb = false;
    }
    pdbDirs.set(dir, hasPdb);
  }
  if (!hasPdb) return undefined;
  try {
    const options = { symbolPath: "" };
    return await (bytes ? findPdb(pdbRequestForImage(path, bytes), options) : findPdbForImage(path, options));
  } catch {
    return undefined; // no CodeView record, no match, unreadable: analyse without symbols
  }
}

/** Analyses one image into the store, replacing its earlier sites. Never throws for a bad file. */
export function analyzeFileIntoStore(
  store: CatalogStore,
  path: string,
  opts: AnalyzeFileOptions = {},
): AnalyzeOutcome {
  const t0 = performance.now();
  try {
    const max = opts.maxBytes ?? DEFAULT_MAX_ANALYZE_BYTES;
    const size = statSync(path).size;
    if (size > max)
      return {
        path,
        status: "skipped",
        reason: `${(size / 2 ** 20).toFixed(0)} MiB is over the analysis size limit`,
      };
    const bytes = new Uint8Array(readFileSync(path));
    const pe = parsePe(bytes);
    const build = installationBuild(path, windowsBuild(pe, path)) ?? "";
    if (opts.link !== false && pe.sections.some((x) => x.name === ".apiset")) {
      const schema = readApiSetSchema(pe)!;
      storeApiSetSchema(store, path, build, schema);
      return { path, status: "skipped", reason: API_SET_SKIP };
    }
    const skip = analysisSkipReason(pe, 0, max);
    if (skip) return { path, status: "skipped", reason: skip };
    const pdb = usePdb(opts.pdb);
    shareProgram(pe, pdb.use?.symbols); // one decode for ownCatalog's TraceLogging attribution and the sites
    const { outcome, sites, module } = analyzeParsedImage(pe, path, ownCatalog(pe, path, bytes), pdb, {
      ...(opts.kernelNames ? { kernelNames: opts.kernelNames } : {}),
      link: opts.link !== false,
      startedAt: t0,
    });
    store.db.transaction(() => {
      store.clearSites(path);
      store.addSites(sites);
      if (module) storeModule(store, module);
      else clearModule(store, path);
      store.addFileNotes(
        path,
        outcome.notes.map((n) => `analysis: ${n}`),
      );
    })();
    return outcome;
  } catch (err) {
    return { path, status: "failed", error: err instanceof Error ? err.message : String(err) };
  }
}

/** Why an image is not analysed (the catalog still reads it), or undefined when it is. */
export function analysisSkipReason(pe: PeImage, size: number, maxBytes: number): string | undefined {
  if (pe.headers.machineName !== "x64")
    return `${pe.headers.machineName} image (the analysis reads x64 only)`;
  if (size > maxBytes) return `${(size / 2 ** 20).toFixed(0)} MiB is over the analysis size limit`;
  return undefined;
}

/** An API-set schema image: stored for linking, its code is not analysed. */
export const API_SET_SKIP = "API-set schema (stored for linking, no code)";

/**
 * The analysis step both scan paths (in-process and the worker processes) take for one parsed x64
 * image: analyse against the records the image carries (plus its PDB's WPP messages), and return the
 * store rows, the module summary for linking and the outcome the summary prints.
 */
export function analyzeParsedImage(
  pe: PeImage,
  path: string,
  own: SourceResult,
  pdb: { use?: PdbUse; note?: string },
  opts: { kernelNames?: KernelNames; link: boolean; startedAt: number },
): { outcome: AnalyzeOutcome & { status: "analysed" }; sites: CodeSite[]; module?: ModuleSummary } {
  const symbols = pdb.use?.symbols;
  const catalog = withWpp(own, pdb.use); // WPP sites join to the PDB's TMF messages
  const report = analyzeImage(pe, {
    catalog,
    ...(symbols ? { symbols } : {}),
    ...(opts.kernelNames ? { kernelNames: opts.kernelNames } : {}),
  });
  const build = windowsBuild(pe, path);
  const sites = rowsToSites(path, report.rows, build || undefined);
  const outcome: AnalyzeOutcome & { status: "analysed" } = {
    path,
    status: "analysed",
    sites: sites.length,
    ms: performance.now() - opts.startedAt,
    notes: pdb.note ? [pdb.note, ...report.notes] : report.notes,
    traceLogging: traceLoggingTies(catalog.events, report.findings),
  };
  if (pdb.use) outcome.pdb = pdb.use.path;
  return {
    outcome,
    sites,
    // Sites keep the file's own build (they join its own events); the module links in its installation's.
    ...(opts.link ? { module: summarizeModule(path, report, installationBuild(path, build)) } : {}),
  };
}

/** What the analysis takes from an image's matching PDB: symbol names and WPP messages. */
export interface PdbUse {
  path: string;
  symbols: SymbolTable;
  wpp: SourceResult;
}

/**
 * Reads what the analysis needs from a matching PDB, in one place. The match only read the PDB's
 * header streams; the symbol and type streams are read here, so a damaged one is met here: then the
 * image is analysed without this PDB and the note names it (never a lost image or a dead worker).
 */
export function usePdb(pdb: ResolvedPdb | undefined): { use?: PdbUse; note?: string } {
  if (!pdb) return {};
  try {
    return {
      use: { path: pdb.path, symbols: symbolsFromPdb(pdb.pdb), wpp: wppEventsFromPdb(pdb.pdb, pdb.path) },
    };
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    return { note: `${printable(pdb.path)}: ${err.message} (analysed without this PDB)` };
  }
}

/** The image's own metadata plus the WPP messages of its PDB (WPP sites join to those). */
export function withWpp(own: SourceResult, pdb: PdbUse | undefined): SourceResult {
  if (!pdb) return own;
  const wpp = pdb.wpp;
  const out: SourceResult = { providers: [...own.providers], events: [...own.events], notes: own.notes };
  for (const p of wpp.providers) out.providers.push(p); // a loop: push(...) overflows the stack on huge lists
  for (const e of wpp.events) out.events.push(e);
  return out;
}

/**
 * Names for EtwTraceKernelEvent constants from the shared corpus reference tables
 * (../shared/corpus/reference beside the working directory or the repository), when present.
 */
export function corpusKernelNames(): { names: KernelNames; dir: string } | undefined {
  const corpus = defaultCorpus();
  if (!corpus) return undefined;
  const dir = join(corpus, "reference");
  const names = kernelNamesIfPresent(dir);
  return names ? { names, dir } : undefined;
}

/** What `scan` and `start` ask the analysis for: the size limit and the corpus kernel-name tables. */
export function defaultAnalysis(maxBytes: number): { maxBytes: number; kernelNamesDir?: string } {
  const kernel = corpusKernelNames();
  return kernel ? { maxBytes, kernelNamesDir: kernel.dir } : { maxBytes };
}

export interface AnalysisSummary {
  images: number;
  analysed: number;
  sites: number;
  /** Analysed with the matching PDB found beside the image. */
  withPdb: number;
  skipped: number;
  skippedByReason: Record<string, number>;
  failed: Array<{ path: string; error: string }>;
  /** Where the kernel event names came from, if anywhere. */
  kernelNames?: string;
  /** Builds linked after the analysis. */
  linked?: LinkSummary[];
  elapsedMs: number;
  /** Analysis notes per image (budgets hit, ...). */
  notes: Array<{ path: string; note: string }>;
  /** Per image with TraceLogging blobs: how many of them write sites tie to a provider. */
  traceLogging: Array<{ path: string; blobs: number; tied: number }>;
  /** Every stored site of the catalog against its events, per kind (`siteJoinSummary`). */
  join?: Record<string, SiteJoinCounts>;
}

/** The analysis summary of a scan from the outcomes of the images it looked at. */
export function summarizeAnalysis(outcomes: AnalyzeOutcome[], elapsedMs: number): AnalysisSummary {
  const summary: AnalysisSummary = {
    images: outcomes.length,
    analysed: 0,
    sites: 0,
    withPdb: 0,
    skipped: 0,
    skippedByReason: {},
    failed: [],
    elapsedMs,
    notes: [],
    traceLogging: [],
  };
  for (const o of outcomes) {
    if (o.status === "analysed") {
      summary.analysed++;
      summary.sites += o.sites;
      if (o.pdb) summary.withPdb++;
      for (const note of o.notes) summary.notes.push({ path: o.path, note });
      if (o.traceLogging.blobs > 0) summary.traceLogging.push({ path: o.path, ...o.traceLogging });
    } else if (o.status === "skipped") {
      summary.skipped++;
      const reason = o.reason.replace(/^\d+ MiB is/, "size is");
      summary.skippedByReason[reason] = (summary.skippedByReason[reason] ?? 0) + 1;
    } else summary.failed.push({ path: o.path, error: o.error });
  }
  return summary;
}

let codeSignature: string | undefined;

/**
 * Identifies the analyser: a hash of the compiled code that decides a site (analysis, formats,
 * catalog readers, symbols, this layer) and the size limit. An image stored with another signature
 * is analysed again on the next scan; with the same one it never is.
 */
export function analyzerSignature(maxBytes = DEFAULT_MAX_ANALYZE_BYTES): string {
  if (!codeSignature) {
    const src = resolve(dirname(fileURLToPath(import.meta.url)), "..");
    const hash = createHash("sha256");
    for (const dir of ["analysis", "formats", "catalog", "symbols", "pipeline"])
      for (const file of collectFiles([join(src, dir)]))
        if (file.endsWith(".js")) hash.update(file.slice(src.length)).update(readFileSync(file));
    codeSignature = hash.digest("hex").slice(0, 16);
  }
  return `${codeSignature}/${maxBytes}`;
}

/**
 * Analyses PE images into the store one after another in this process (tests and library use
 * on trusted inputs; `scan` and `start` analyse in worker processes), with the matching PDB beside
 * each image and the corpus kernel-name tables, then links each Windows build.
 */
export async function analyzeImagesIntoStore(
  store: CatalogStore,
  files: string[],
  opts: { maxBytes?: number; kernelNames?: KernelNames; link?: boolean } = {},
): Promise<{ outcomes: AnalyzeOutcome[]; summary: AnalysisSummary }> {
  const t0 = performance.now();
  const fromCorpus = opts.kernelNames ? undefined : corpusKernelNames();
  const kernelNames = opts.kernelNames ?? fromCorpus?.names;
  const pdbDirs = new Map<string, boolean>();
  const outcomes: AnalyzeOutcome[] = [];
  for (const path of files) {
    const pdb = await pdbBesideImage(path, pdbDirs);
    outcomes.push(
      analyzeFileIntoStore(store, path, {
        ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
        ...(kernelNames ? { kernelNames } : {}),
        ...(pdb ? { pdb } : {}),
        ...(opts.link === false ? { link: false } : {}),
      }),
    );
  }
  const summary = summarizeAnalysis(outcomes, 0);
  if (fromCorpus) summary.kernelNames = fromCorpus.dir;
  if (opts.link !== false && files.length > 0) summary.linked = linkBuildsInStore(store);
  if (summary.analysed > 0) summary.join = siteJoinSummary(store);
  summary.elapsedMs = performance.now() - t0;
  return { outcomes, summary };
}

/** The analysis summary as text lines (each ends with a newline). */
export function formatAnalysisSummary(s: AnalysisSummary, opts: { listFailures?: boolean } = {}): string {
  const lines = [
    `Analysed ${s.analysed} x64 images in ${(s.elapsedMs / 1000).toFixed(1)} s: ${s.sites} code sites; ` +
      `skipped ${s.skipped}; failed ${s.failed.length}; ${s.withPdb} with the matching PDB beside them`,
  ];
  for (const [reason, n] of Object.entries(s.skippedByReason)) lines.push(`  skipped ${n} × ${reason}`);
  for (const l of s.linked ?? [])
    lines.push(
      `  linked build ${l.build || "(unknown)"}: ${l.modules} modules, ${l.links} imports/syscall stubs, ` +
        `${l.unresolved} unresolved; api-sets by ${l.apiSetSource === "schema" ? `the build's schema (${l.schemaFile})` : "the one module exporting the name (no apisetschema.dll in the build)"}; ${(l.ms / 1000).toFixed(1)} s`,
    );
  if (opts.listFailures !== false)
    for (const f of s.failed) lines.push(`  analysis failed: ${f.path}: ${f.error}`);
  if (s.join) lines.push("  code sites of the catalog, per kind:", ...formatSiteJoinSummary(s.join));
  if (s.traceLogging.length > 0) {
    lines.push("  TraceLogging event blobs tied to their provider by a write site, per image:");
    for (const t of s.traceLogging)
      lines.push(`    ${t.path}: ${t.tied} of ${t.blobs} (${((100 * t.tied) / t.blobs).toFixed(1)}%)`);
  }
  if (s.notes.length > 0) {
    lines.push(`  analysis notes: ${s.notes.length}`);
    for (const n of s.notes) lines.push(`    ${n.path}: ${n.note}`);
  }
  return lines.map(printable).join("\n") + "\n";
}

/** `--max-analyze-mib` as bytes; a clear error for anything but a positive number. */
export function maxAnalyzeBytes(mib: string): number {
  const n = Number(mib);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--max-analyze-mib must be a positive number, not ${mib}`);
  return n * 2 ** 20;
}
