import type { SourceReader } from "../sources.js";
import { manifestReader } from "./manifest.js";
import { mofReader } from "./mof.js";
import { mofDataExtractor } from "./mofdata.js";
import { type PeExtractor, peReader } from "./pe.js";
import { registryReader } from "./registry.js";
import { type TraceLoggingAttribution, traceLoggingExtractor } from "./tracelogging.js";
import { wevtExtractor } from "./wevt.js";
import { pdbWppReader, tmfTextReader } from "./wpp.js";

export interface CatalogReaders {
  /** Extractors run over every PE file the scanner meets (one line per source kind). */
  peExtractors: PeExtractor[];
  /** Every reader the scanner knows, tried in order; the first whose sniff says "yes" reads the file. */
  readers: SourceReader[];
}

/**
 * The one list of readers (add one line per reader or PE extractor). What only code analysis can
 * tell (the provider of each TraceLogging event in a multi-provider image) comes in from the caller:
 * src/pipeline/readers.ts composes the list with the analysis.
 */
export function catalogReaders(
  options: { traceLoggingAttribution?: TraceLoggingAttribution } = {},
): CatalogReaders {
  const peExtractors = [
    traceLoggingExtractor(options.traceLoggingAttribution),
    wevtExtractor,
    mofDataExtractor,
  ];
  return {
    peExtractors,
    readers: [peReader(peExtractors), manifestReader, mofReader, pdbWppReader, tmfTextReader, registryReader],
  };
}
