import { looksLikePe, type PeImage, parsePe } from "../../formats/pe/index.js";
import { FormatError } from "../../util/errors.js";
import { emptyResult, mergeResults, type SourceResult } from "../model.js";
import type { SourceInput, SourceReader } from "../sources.js";

/** Pulls one kind of event metadata out of a parsed PE (WEVT_TEMPLATE, TraceLogging, MOFDATA, ...). */
export interface PeExtractor {
  id: string;
  extract(pe: PeImage, input: SourceInput): SourceResult;
}

/**
 * The PE reader: parses the image once and runs every extractor over it. One extractor failing
 * (e.g. a corrupt WEVT_TEMPLATE) becomes a note; the others still contribute.
 */
export function peReader(extractors: PeExtractor[]): SourceReader {
  return {
    id: "pe",
    sniff: (bytes) => (looksLikePe(bytes) ? "yes" : "no"),
    read(input) {
      const pe = parsePe(input.bytes);
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
    },
  };
}
