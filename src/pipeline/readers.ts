/**
 * The catalog's readers composed with the analysis (own-catalog.ts: the PE extractors with
 * TraceLogging attribution from the write sites). Everything that reads files for the catalog
 * (scan, its workers, analyze) takes its readers from here.
 */
import { catalogReaders } from "../catalog/readers/index.js";
import { peExtractors } from "./own-catalog.js";

export { ownCatalog, peExtractors, traceLoggingWithCode } from "./own-catalog.js";

export const { readers } = catalogReaders({ peExtractors });
