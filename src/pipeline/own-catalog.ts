/**
 * The PE extractors composed with the analysis: in a multi-provider TraceLogging image only the
 * write sites say which provider each event belongs to. Apart from the reader list (readers.ts) so
 * that `analyze` of one image loads only what reads the image's own events.
 */
import { traceLoggingProvidersFromSites } from "../analysis/tracelogging-providers.js";
import type { SourceResult } from "../catalog/model.js";
import { extractAll } from "../catalog/readers/pe.js";
import { catalogPeExtractors } from "../catalog/readers/pe-extractors.js";
import { type TraceLoggingAttribution, traceLoggingExtractor } from "../catalog/readers/tracelogging.js";
import type { PeImage } from "../formats/pe/index.js";

const traceLoggingAttribution: TraceLoggingAttribution = (pe) => traceLoggingProvidersFromSites(pe);

export const peExtractors = catalogPeExtractors({ traceLoggingAttribution });

/** The TraceLogging extractor with code attribution, alone (what `peExtractors` runs). */
export const traceLoggingWithCode =
  peExtractors.find((x) => x.id === "tracelogging") ?? traceLoggingExtractor(traceLoggingAttribution);

/** Every PE extractor's records of an already parsed image: what the analysis joins its sites to. */
export function ownCatalog(pe: PeImage, path: string, bytes: Uint8Array): SourceResult {
  return extractAll(pe, { path, bytes }, peExtractors);
}
