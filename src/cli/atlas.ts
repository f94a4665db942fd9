/**
 * The main job's analysis step: runs the static analysis over scanned x64 images and stores the
 * code sites in the catalog (`sites` table), where the web UI joins them to events.
 */
import { readFileSync, statSync } from "node:fs";
import { analyzeImage, ownCatalog, type SiteRow } from "../analysis/analyze.js";
import type { CatalogStore, CodeSite } from "../catalog/store.js";
import { parsePe } from "../formats/pe/index.js";

/** Images larger than this are not analysed by default (the scan still catalogs their events). */
export const DEFAULT_MAX_ANALYZE_BYTES = 64 * 1024 * 1024;

/** Analysis rows → catalog code sites (one per entry point × write site; unreached sites have no entry). */
export function siteRowsToCodeSites(file: string, rows: SiteRow[]): CodeSite[] {
  return rows.map((r) => {
    const { kind, id, version, name, symbol, ...extra } = r.event;
    const site: CodeSite = {
      file,
      rva: Number.parseInt(r.site.rva, 16),
      function: r.site.function,
      writeFunction: r.writeFunction,
      eventKind: kind,
      callPath: r.callPath,
    };
    if (r.provider.guid) site.providerGuid = r.provider.guid;
    const providerName = r.provider.name ?? r.provider.symbol;
    if (providerName) site.providerName = providerName;
    if (typeof id === "number") site.eventId = id;
    if (typeof version === "number") site.eventVersion = version;
    const eventName = typeof name === "string" ? name : typeof symbol === "string" ? symbol : undefined;
    if (eventName) site.eventName = eventName;
    if (r.entry !== null) site.entry = r.entry;
    if (r.depth !== null) site.depth = r.depth;
    const more: Record<string, unknown> = { ...extra };
    if (symbol !== undefined) more.symbol = symbol;
    if (r.provider.symbol) more.providerSymbol = r.provider.symbol;
    if (r.provider.handleSymbol) more.handleSymbol = r.provider.handleSymbol;
    if (Object.keys(more).length) site.extra = more;
    return site;
  });
}

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
    const report = analyzeImage(pe, { catalog: ownCatalog(pe, path, bytes) });
    const sites = siteRowsToCodeSites(path, report.rows);
    store.db.transaction(() => {
      store.clearSites(path);
      store.addSites(sites);
    })();
    return { path, status: "analysed", sites: sites.length, ms: performance.now() - t0 };
  } catch (err) {
    return { path, status: "failed", error: err instanceof Error ? err.message : String(err) };
  }
}
