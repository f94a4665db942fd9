/**
 * Event blob → provider for images with several TraceLogging providers, from the write sites (the
 * metadata alone does not say which provider writes which event). Used by the catalog's
 * TraceLogging extractor, so it is bounded: images with more code than `maxCodeBytes` are skipped
 * (`analyze` ties them anyway).
 */

import type { PeImage } from "../formats/pe/index.js";
import { SCN_CNT_CODE, SCN_MEM_EXECUTE } from "../formats/pe/index.js";
import type { TraceLoggingProvider } from "../formats/tracelogging/index.js";
import { FormatError } from "../util/errors.js";
import { isProgramShared, sharedProgram } from "./program.js";
import { providerByEventBlob } from "./recognizers/tracelogging.js";

/** About 0.1 s of analysis per MB of code: 8 MB keeps a catalog scan's worst case near a second. */
export const DEFAULT_MAX_CODE_BYTES = 8 << 20;

export interface SiteProviders {
  /** Event blob rva → its provider, for blobs the sites tie to exactly one provider. */
  byBlob?: Map<number, TraceLoggingProvider>;
  note?: string;
}

export function traceLoggingProvidersFromSites(
  pe: PeImage,
  maxCodeBytes = DEFAULT_MAX_CODE_BYTES,
): SiteProviders {
  if (pe.headers.machineName !== "x64")
    return { note: "provider per event needs an x64 image (sites not analysed)" };
  let code = 0;
  for (const s of pe.sections) if (s.characteristics & (SCN_CNT_CODE | SCN_MEM_EXECUTE)) code += s.rawSize;
  // A scan that analyses the image anyway shares its decode: no budget needed then.
  if (code > maxCodeBytes && !isProgramShared(pe))
    return {
      note: `provider per event not resolved: ${(code / 1048576).toFixed(1)} MB of code is over the scan budget (run analyze)`,
    };
  try {
    return { byBlob: providerByEventBlob(sharedProgram(pe).context) };
  } catch (err) {
    if (err instanceof FormatError) return { note: `provider per event not resolved: ${err.message}` };
    throw err;
  }
}
