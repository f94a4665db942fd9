import type { SourceReader } from "../sources.js";
import { manifestReader } from "./manifest.js";
import { mofReader } from "./mof.js";
import { type PeExtractor, peReader } from "./pe.js";
import { catalogPeExtractors } from "./pe-extractors.js";
import { registryReader } from "./registry.js";
import type { TraceLoggingAttribution } from "./tracelogging.js";
import { pdbWppReader, tmfTextReader } from "./wpp.js";

export interface CatalogReaders {
  /** Extractors run over every PE file the scanner meets (one line per source kind). */
  peExtractors: PeExtractor[];
  /** Every reader the scanner knows, tried in order; the first whose sniff says "yes" reads the file. */
  readers: SourceReader[];
}

/**
 * The one list of readers (add one line per reader; PE extractors: pe-extractors.ts). What only code
 * analysis can tell (the provider of each TraceLogging event in a multi-provider image) comes in from
 * the caller: src/pipeline/readers.ts composes the list with the analysis, passing its extractors.
 */
export function catalogReaders(
  options: { traceLoggingAttribution?: TraceLoggingAttribution; peExtractors?: PeExtractor[] } = {},
): CatalogReaders {
  const peExtractors = options.peExtractors ?? catalogPeExtractors(options);
  return {
    peExtractors,
    readers: [peReader(peExtractors), manifestReader, mofReader, pdbWppReader, tmfTextReader, registryReader],
  };
}
