/**
 * Analysis rows as catalog code sites (`CatalogStore.addSites`), so `events` can show, per event,
 * where it is written and from which entry point.
 */

import { type AnalyzeOptions, analyzeImage, type SiteRow } from "../analysis/analyze.js";
import type { WriteFinding } from "../analysis/recognizers/types.js";
import type { CatalogEvent } from "../catalog/model.js";
import { windowsBuild } from "../catalog/readers/pe.js";
import type { CodeSite } from "../catalog/store.js";
import type { PeImage } from "../formats/pe/index.js";
import { ownCatalog } from "./own-catalog.js";

/**
 * Sites carry their event's identity (`eventKey`, catalog/identity.ts) and their binary's Windows
 * build (`build`, as the PE reader derives it for the binary's own events): the catalog joins on both.
 * `eventId` is the number each kind names its events by: manifest event id, WPP message number,
 * kernel hook id.
 */
export function rowsToSites(file: string, rows: SiteRow[], build?: string): CodeSite[] {
  return rows.map((r) => {
    const e = r.event;
    const site: CodeSite = {
      file,
      rva: Number.parseInt(r.site.rva, 16),
      function: r.site.function,
      writeFunction: r.writeFunction,
      eventKind: e.kind,
      callPath: r.callPath,
    };
    if (r.provider.guid) site.providerGuid = r.provider.guid;
    const providerName = r.provider.name ?? r.provider.symbol;
    if (providerName) site.providerName = providerName;
    if (r.eventKey !== undefined) site.eventKey = r.eventKey;
    if (build !== undefined) site.build = build;
    if (typeof e.id === "number") site.eventId = e.id;
    else if (typeof e.messageNumber === "number") site.eventId = e.messageNumber;
    else if (typeof e.hookId === "number") site.eventId = e.hookId;
    if (typeof e.version === "number") site.eventVersion = e.version;
    const name = e.name ?? e.symbol ?? e.hookName;
    if (typeof name === "string") site.eventName = name;
    if (r.entry !== null) site.entry = r.entry;
    // Depth counts functions on the path (entry included), as API-To-ETW's CallDepth does.
    if (r.depth !== null) site.depth = r.depth;
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e))
      if (!["kind", "id", "version", "name", "fields"].includes(k)) extra[k] = v;
    if (r.provider.handleSymbol) extra.handleSymbol = r.provider.handleSymbol;
    if (Object.keys(extra).length > 0) site.extra = extra;
    if (r.conditions && r.logged)
      site.conditions = {
        logged: r.logged,
        conditions: r.conditions as unknown as Array<Record<string, unknown>>,
      };
    return site;
  });
}

/** What `scan` keeps of one image's analysis. */
export interface ImageSites {
  sites: CodeSite[];
  /** Analysis notes: budgets hit (limits.ts), entry points not found, ... */
  notes: string[];
  /** TraceLogging event blobs of the image, and how many of them a write site ties to a provider. */
  traceLogging: { blobs: number; tied: number };
}

/** Analyses one image and returns its sites (for `scan`). */
export function analyzeSites(
  pe: PeImage,
  file: string,
  bytes: Uint8Array,
  options: AnalyzeOptions = {},
): ImageSites {
  const catalog = options.catalog ?? ownCatalog(pe, file, bytes);
  const report = analyzeImage(pe, { ...options, catalog });
  return {
    sites: rowsToSites(file, report.rows, windowsBuild(pe, file)),
    notes: report.notes,
    traceLogging: traceLoggingTies(catalog.events, report.findings),
  };
}

/** Share of the image's TraceLogging blobs whose write sites name their provider (from the code). */
export function traceLoggingTies(
  events: CatalogEvent[],
  findings: WriteFinding[],
): { blobs: number; tied: number } {
  const blobs = new Set<number>();
  for (const e of events)
    if (e.kind === "tracelogging" && e.tracelogging?.blobRva !== undefined) blobs.add(e.tracelogging.blobRva);
  const tied = new Set<number>();
  for (const f of findings)
    if (f.event.kind === "tracelogging" && f.event.eventBlobRva !== undefined && f.provider)
      if (blobs.has(f.event.eventBlobRva)) tied.add(f.event.eventBlobRva);
  return { blobs: blobs.size, tied: tied.size };
}
