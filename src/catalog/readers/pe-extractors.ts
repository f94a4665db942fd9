import { mofDataExtractor } from "./mofdata.js";
import type { PeExtractor } from "./pe.js";
import { type TraceLoggingAttribution, traceLoggingExtractor } from "./tracelogging.js";
import { wevtExtractor } from "./wevt.js";

/**
 * The extractors run over every PE file (one line per source kind). Apart from the reader list
 * (index.ts) so that reading one image's own events (`analyze`) does not load the XML, MOF text,
 * PDB and registry readers.
 */
export function catalogPeExtractors(
  options: { traceLoggingAttribution?: TraceLoggingAttribution } = {},
): PeExtractor[] {
  return [traceLoggingExtractor(options.traceLoggingAttribution), wevtExtractor, mofDataExtractor];
}
