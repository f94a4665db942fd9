/**
 * The main job's analysis step: runs the static analysis over scanned x64 images and stores the
 * code sites in the catalog (`sites` table), where the web UI joins them to events.
 */
import { readFileSync, statSync } from "node:fs";
import { analyzeSites } from "../analysis/sites.js";
import type { CatalogStore } from "../catalog/store.js";
import { parsePe } from "../formats/pe/index.js";

/** Images larger than this are not analysed by default (the scan still catalogs their events). */
export const DEFAULT_MAX_ANALYZE_BYTES = 64 * 1024 * 1024;

export type AnalyzeOutcome =
  | { path: string; status: "analysed"; sites: number; ms: number }
  | { path: string; status: "skipped"; reason: string }
  | { path: string; status: "failed"; error: string };

/** Analyses one image into the store, replacing its earlier sites. Never throws for a bad file. */
export function analyzeFileIntoStore(
  store: CatalogStore,
  path: string,
  opts: { maxBytes?: number } = {},
): AnalyzeOutcome {
  const t0 = performance.now();
  try {
    const max = opts.maxBytes ?? DEFAULT_MAX_ANALYZE_BYTES;
    const size = statSync(path).size;
    if (size > max)
      return {
        path,
        status: "skipped",
        reason: `${(size / 2 ** 20).toFixed(0)} MiB is over the analysis size limit`,
      };
    const bytes = new Uint8Array(readFileSync(path));
    const pe = parsePe(bytes);
    if (pe.headers.machineName !== "x64")
      return {
        path,
        status: "skipped",
        reason: `${pe.headers.machineName} image (the analysis reads x64 only)`,
      };
    const sites = analyzeSites(pe, path, bytes);
    store.db.transaction(() => {
      store.clearSites(path);
      store.addSites(sites);
    })();
    return { path, status: "analysed", sites: sites.length, ms: performance.now() - t0 };
  } catch (err) {
    return { path, status: "failed", error: err instanceof Error ? err.message : String(err) };
  }
}
