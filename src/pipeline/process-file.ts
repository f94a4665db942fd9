import { shareProgram } from "../analysis/program.js";
import type { KernelNames } from "../analysis/recognizers/kernel.js";
import { readParsedPe, windowsBuild } from "../catalog/readers/pe.js";
import type { SourceReader } from "../catalog/sources.js";
import { type FileInfo, type SiteColumns, siteColumns } from "../catalog/store.js";
import { readApiSetSchema } from "../formats/apiset/index.js";
import { parsePe } from "../formats/pe/index.js";
import {
  type AnalyzeOutcome,
  API_SET_SKIP,
  analysisSkipReason,
  analyzeParsedImage,
  DEFAULT_MAX_ANALYZE_BYTES,
  kernelNamesIfPresent,
  pdbBesideImage,
  usePdb,
} from "./analysis.js";
import { installationBuild } from "./installation-build.js";
import { type ModuleRecord, moduleRecord } from "./link-store.js";
import { peExtractors } from "./readers.js";
import { type PreparedFile, readSniffed, sniffFile } from "./scan.js";

export interface AnalysisRequest {
  /** Images larger than this are not analysed (their events are still cataloged). */
  maxBytes?: number;
  /** Directory holding the kernel constant tables (`loadKernelNames`), if any. */
  kernelNamesDir?: string;
  /** Appended to the file's scanner signature once the analysis has looked at it. */
  signature: string;
  /** Keep the module summary build-wide linking needs (default true). */
  link?: boolean;
}

export interface FileTask {
  id: number;
  path: string;
  knownSha256?: string;
  scanner: string;
  force?: boolean;
  maxFileSize?: number;
  analysis?: AnalysisRequest;
}

export interface FileAnalysis {
  outcome: AnalyzeOutcome;
  /** The image's sites in column form (`siteColumns`): serialised here, in parallel with the other workers. */
  sites: SiteColumns[];
  /** For build-wide linking: the module's summary as stored, or the build's API-set schema. */
  module?: ModuleRecord;
  apiSet?: { build: string; schema: NonNullable<ReturnType<typeof readApiSetSchema>> };
}

/** Messages of one task, in order: hashed (once the bytes are read), then done. */
export type TaskMessage =
  | { id: number; type: "hashed"; info: FileInfo }
  /** The catalog records, sent before a long analysis so a crash in it keeps them. */
  | { id: number; type: "prepared"; prepared: PreparedFile }
  | { id: number; type: "done"; prepared?: PreparedFile; analysis?: FileAnalysis };

/** Scanner signature of a file the analysis has looked at. */
export function analysedScanner(scanner: string, signature: string): string {
  return `${scanner}+analysis:${signature}`;
}

const pdbDirs = new Map<string, boolean>();
const kernelTables = new Map<string, KernelNames | undefined>();

function kernelNamesFrom(dir: string | undefined): KernelNames | undefined {
  if (!dir) return undefined;
  if (!kernelTables.has(dir)) kernelTables.set(dir, kernelNamesIfPresent(dir));
  return kernelTables.get(dir);
}

/** Runs one task, posting its messages through `post`. Never throws for a bad file. */
export async function processFile(
  task: FileTask,
  readerList: SourceReader[],
  post: (m: TaskMessage) => void,
): Promise<void> {
  const { id, path } = task;
  const sniffed = sniffFile(path, task.knownSha256, {
    readers: readerList,
    force: task.force,
    scanner: task.scanner,
    maxFileSize: task.maxFileSize,
  });
  if (sniffed.kind !== "sniffed") {
    post({ id, type: "done", prepared: sniffed });
    return;
  }
  post({ id, type: "hashed", info: sniffed.info });
  const request = task.analysis;
  if (!request || sniffed.reader.id !== "pe") {
    post({ id, type: "done", prepared: readSniffed(sniffed) });
    return;
  }
  sniffed.info.scanner = analysedScanner(task.scanner, request.signature);
  const maxBytes = request.maxBytes ?? DEFAULT_MAX_ANALYZE_BYTES;
  let image: ReturnType<typeof parsePe>;
  try {
    image = parsePe(sniffed.bytes);
  } catch {
    post({ id, type: "done", prepared: readSniffed(sniffed) }); // the reader says why
    return;
  }
  const size = sniffed.bytes.length;
  const build = installationBuild(path, windowsBuild(image, path)) ?? "";
  const link = request.link !== false;
  if (link && image.sections.some((x) => x.name === ".apiset")) {
    const prepared = readSniffed(sniffed, (input) => readParsedPe(image, input, peExtractors));
    const schema = readApiSetSchema(image);
    const analysis: FileAnalysis = {
      outcome: { path, status: "skipped", reason: API_SET_SKIP },
      sites: [],
      ...(schema ? { apiSet: { build, schema } } : {}),
    };
    post({ id, type: "done", prepared, ...(prepared.kind === "read" ? { analysis } : {}) });
    return;
  }
  const skip = analysisSkipReason(image, size, maxBytes);
  const t0 = performance.now();
  // A matching PDB beside the image gives symbol names, Nt* entry points and WPP messages.
  const pdb = usePdb(skip ? undefined : await pdbBesideImage(path, pdbDirs, sniffed.bytes));
  // One decode for the TraceLogging extractor's provider attribution and the site analysis.
  if (!skip) shareProgram(image, pdb.use?.symbols);
  const prepared = readSniffed(sniffed, (input) => readParsedPe(image, input, peExtractors));
  if (skip || prepared.kind !== "read") {
    const analysis: FileAnalysis | undefined =
      prepared.kind === "read" && skip
        ? { outcome: { path, status: "skipped", reason: skip }, sites: [] }
        : undefined;
    post({ id, type: "done", prepared, ...(analysis ? { analysis } : {}) });
    return;
  }
  post({ id, type: "prepared", prepared });
  let analysis: FileAnalysis;
  try {
    const kernelNames = kernelNamesFrom(request.kernelNamesDir);
    const { module, ...rest } = analyzeParsedImage(image, path, prepared.result, pdb, {
      ...(kernelNames ? { kernelNames } : {}),
      link,
      startedAt: t0,
    });
    // Packed here, in parallel with the other workers, and sent as one buffer.
    analysis = {
      outcome: rest.outcome,
      sites: rest.sites.map(siteColumns),
      ...(module ? { module: moduleRecord(module) } : {}),
    };
  } catch (err) {
    analysis = {
      outcome: { path, status: "failed", error: err instanceof Error ? err.message : String(err) },
      sites: [],
    };
  }
  post({ id, type: "done", analysis });
}
