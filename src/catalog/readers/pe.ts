import { looksLikePe, type PeImage, parsePe, readFileVersion } from "../../formats/pe/index.js";
import { FormatError } from "../../util/errors.js";
import { emptyResult, mergeResults, type SourceResult } from "../model.js";
import type { SourceInput, SourceReader } from "../sources.js";

/** Pulls one kind of event metadata out of a parsed PE (WEVT_TEMPLATE, TraceLogging, MOFDATA, ...). */
export interface PeExtractor {
  id: string;
  extract(pe: PeImage, input: SourceInput): SourceResult;
}

/**
 * Runs every extractor over a parsed image. One extractor failing (e.g. a corrupt WEVT_TEMPLATE)
 * becomes a note; the others still contribute.
 */
export function extractAll(pe: PeImage, input: SourceInput, extractors: PeExtractor[]): SourceResult {
  const out = emptyResult();
  for (const x of extractors) {
    try {
      mergeResults(out, x.extract(pe, input));
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      out.notes.push(`${x.id}: ${err.message}`);
    }
  }
  return out;
}

/** What the PE reader stores for an already parsed image: every extractor, records tagged with the build. */
export function readParsedPe(pe: PeImage, input: SourceInput, extractors: PeExtractor[]): SourceResult {
  const out = extractAll(pe, input, extractors);
  const build = windowsBuild(pe, input.path);
  if (build) {
    for (const r of [...out.providers, ...out.events]) r.provenance.build ??= build;
  }
  return out;
}

/** The PE reader: parses the image once and runs every extractor over it (`readParsedPe`). */
export function peReader(extractors: PeExtractor[]): SourceReader {
  return {
    id: "pe",
    sniff: (bytes) => (looksLikePe(bytes) ? "yes" : "no"),
    read: (input) => readParsedPe(parsePe(input.bytes), input, extractors),
  };
}

/** Windows build from binary names such as `win32kbase_10.0.17134.523.sys` (how research collections label them). */
export function buildFromBinaryName(path: string): string | undefined {
  const m = /[_-](\d+\.\d+\.\d{4,5})(?:\.\d+)?\.[a-z]+$/i.exec(path);
  return m?.[1];
}

/**
 * The Windows build an image belongs to: its file name when it says so, else its version resource
 * when that looks like a Windows NT version (5.x, 6.x, 10.0 with a real build number). Other
 * products' versions (OpenConsole 1.23, onnxruntime 1.30) are not Windows builds.
 */
export function windowsBuild(pe: PeImage, path: string): string | undefined {
  const fromName = buildFromBinaryName(path);
  if (fromName) return fromName;
  let v: ReturnType<typeof readFileVersion>;
  try {
    v = readFileVersion(pe);
  } catch (err) {
    if (err instanceof FormatError) return undefined;
    throw err;
  }
  if (!v || ![5, 6, 10].includes(v.major) || v.build < 2195) return undefined;
  return `${v.major}.${v.minor}.${v.build}`;
}
