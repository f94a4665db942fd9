import type { PeImage } from "../../formats/pe/index.js";
import type { SourceResult } from "../model.js";
import type { SourceInput, SourceReader } from "../sources.js";
import { manifestReader } from "./manifest.js";
import { mofReader } from "./mof.js";
import { mofDataExtractor } from "./mofdata.js";
import { extractAll, type PeExtractor, peReader } from "./pe.js";
import { registryReader } from "./registry.js";
import { traceLoggingExtractor } from "./tracelogging.js";
import { wevtExtractor } from "./wevt.js";
import { pdbWppReader, tmfTextReader } from "./wpp.js";

/** Extractors run over every PE file the scanner meets (one line per source kind). */
export const peExtractors: PeExtractor[] = [traceLoggingExtractor, wevtExtractor, mofDataExtractor];

/** Every PE extractor's records of an already parsed image (what the analysis joins to). */
export function ownRecords(pe: PeImage, input: SourceInput): SourceResult {
  return extractAll(pe, input, peExtractors);
}

/**
 * Every reader the scanner knows, tried in order; the first whose sniff says "yes" reads the file.
 * Add one line per reader.
 */
export const readers: SourceReader[] = [
  peReader(peExtractors),
  manifestReader,
  mofReader,
  pdbWppReader,
  tmfTextReader,
  registryReader,
];
