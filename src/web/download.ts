/**
 * Downloads of a whole result — every matching event, code site or diff entry, not the page on
 * screen — as TSV, CSV or JSON Lines, streamed: rows are read in pages and written as the client
 * takes them (backpressure), so a 140,000-row result never sits in memory as one string.
 */
import type { ServerResponse } from "node:http";
import { EventSiteJoin } from "../catalog/event-sites.js";
import { cell, EVENT_ROW_COLUMNS } from "../catalog/export.js";
import { getEvent, QueryError, searchEvents } from "../catalog/search.js";
import {
  type ApiCache,
  type AtlasSources,
  BadRequest,
  diffEntries,
  eventQueryFrom,
  siteRows,
} from "./api.js";
import { drained } from "./drained.js";

export const DOWNLOAD_FORMATS = ["tsv", "csv", "jsonl"] as const;
type Format = (typeof DOWNLOAD_FORMATS)[number];

const CONTENT_TYPE: Record<Format, string> = {
  tsv: "text/tab-separated-values; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  jsonl: "application/x-ndjson; charset=utf-8",
};

/** RFC 4180 field: quoted when it holds a comma, quote or line break. */
function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? "" : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

interface Download {
  name: string;
  columns: readonly string[];
  /** Rows as records (column → value) plus what JSON Lines writes for each (computed only for JSONL). */
  rows: Iterable<{ cells: Record<string, unknown>; json: () => unknown }>;
}

const PAGE = 5000;

function* eventRows(src: AtlasSources, params: URLSearchParams): Download["rows"] {
  const base = eventQueryFrom(
    new URLSearchParams([...params].filter(([k]) => k !== "limit" && k !== "offset")),
  );
  const join = new EventSiteJoin(src.store);
  for (let offset = 0; ; offset += PAGE) {
    const page = searchEvents(src.store.db, { ...base, limit: PAGE, offset });
    for (const r of page) {
      const sites = join.count(r);
      yield {
        cells: { ...r, sites },
        json: () => ({ rowid: r.rowid, ...getEvent(src.store.db, r.rowid), sites }),
      };
    }
    if (page.length < PAGE) return;
  }
}

const SITE_COLUMNS = [
  "file",
  "rva",
  "function",
  "writeFunction",
  "providerGuid",
  "providerName",
  "eventKind",
  "eventId",
  "eventVersion",
  "eventName",
  "entry",
  "depth",
  "build",
  "callPath",
];

const DIFF_COLUMNS = [
  "change",
  "subject",
  "provider",
  "guid",
  "kind",
  "eventId",
  "version",
  "event",
  "item",
  "old",
  "new",
  "detail",
];

function download(src: AtlasSources, cache: ApiCache, params: URLSearchParams): Download {
  const what = params.get("what") ?? "events";
  if (what === "events") return { name: "events", columns: EVENT_ROW_COLUMNS, rows: eventRows(src, params) };
  if (what === "sites") {
    const rows = siteRows(src, params, -1, 0);
    return {
      name: "sites",
      columns: SITE_COLUMNS,
      rows: (function* () {
        for (const s of rows) {
          const cells = { ...s, callPath: (s.callPath ?? []).join(" -> ") } as Record<string, unknown>;
          yield { cells, json: () => s };
        }
      })(),
    };
  }
  if (what === "diff") {
    const { entries } = diffEntries(src, params, cache);
    const change = params.get("change");
    const subject = params.get("subject");
    const text = params.get("text")?.toLowerCase();
    return {
      name: "diff",
      columns: DIFF_COLUMNS,
      rows: entries
        .filter(
          (e) =>
            (!change || e.change === change) &&
            (!subject || e.subject === subject) &&
            (!text || `${e.provider} ${e.guid} ${e.detail}`.toLowerCase().includes(text)),
        )
        .map((e) => ({ cells: e as unknown as Record<string, unknown>, json: () => e })),
    };
  }
  throw new BadRequest(`what must be events, sites or diff, not ${JSON.stringify(what)}`);
}

/** An opened download: its response headers and its body in chunks of about 64 KiB. */
export interface OpenedDownload {
  headers: Record<string, string>;
  chunks: Iterator<string>;
}

/** How large a written chunk grows before it is handed on. */
const CHUNK_CHARS = 1 << 16;

/**
 * Opens `/api/download?what=events|sites|diff&format=tsv|csv|jsonl&<the view's filters>`: runs the
 * query (so its errors can still answer 400/404 as JSON, like the rest of the API) and returns the
 * body as chunks, or the error's status and message. Used on the request thread and in the API workers.
 */
export function openDownload(
  src: AtlasSources,
  cache: ApiCache,
  params: URLSearchParams,
): OpenedDownload | { status: number; error: string } {
  const format = (params.get("format") ?? "tsv") as Format;
  let d: Download;
  type Row = { cells: Record<string, unknown>; json: () => unknown };
  let first: IteratorResult<Row>;
  let it: Iterator<Row>;
  try {
    if (!DOWNLOAD_FORMATS.includes(format))
      throw new BadRequest(`format must be ${DOWNLOAD_FORMATS.join(", ")}, not ${JSON.stringify(format)}`);
    d = download(src, cache, params);
    it = d.rows[Symbol.iterator]();
    first = it.next(); // runs the query, so its errors still get a proper status
  } catch (err) {
    const status =
      err instanceof BadRequest || err instanceof QueryError
        ? 400
        : /^no catalog to diff/.test(String((err as Error).message))
          ? 404
          : 500;
    return { status, error: err instanceof Error ? err.message : String(err) };
  }
  const line = (cells: Record<string, unknown>, json: () => unknown): string =>
    format === "jsonl"
      ? `${JSON.stringify(json())}\n`
      : format === "csv"
        ? `${d.columns.map((c) => csvCell(cells[c])).join(",")}\r\n`
        : `${d.columns.map((c) => cell(cells[c] as string)).join("\t")}\n`;
  function* chunks(): Generator<string> {
    let buf =
      format === "jsonl" ? "" : format === "csv" ? `${d.columns.join(",")}\r\n` : `${d.columns.join("\t")}\n`;
    for (let r = first; !r.done; r = it.next()) {
      buf += line(r.value.cells, r.value.json);
      if (buf.length >= CHUNK_CHARS) {
        yield buf;
        buf = "";
      }
    }
    if (buf) yield buf;
  }
  return {
    headers: {
      "content-type": CONTENT_TYPE[format],
      "content-disposition": `attachment; filename="etw-atlas-${d.name}.${format}"`,
      "cache-control": "no-store",
    },
    chunks: chunks(),
  };
}

/** Answers a download on this thread: chunks are written as the client takes them (backpressure). */
export async function streamDownload(
  src: AtlasSources,
  cache: ApiCache,
  params: URLSearchParams,
  res: ServerResponse,
  headers: Record<string, string>,
  sendError: (status: number, message: string) => void,
): Promise<void> {
  const opened = openDownload(src, cache, params);
  if ("error" in opened) {
    sendError(opened.status, opened.error);
    return;
  }
  res.writeHead(200, { ...headers, ...opened.headers });
  for (let c = opened.chunks.next(); !c.done; c = opened.chunks.next()) {
    if (res.destroyed) {
      opened.chunks.return?.(undefined);
      return;
    }
    if (!res.write(c.value)) await drained(res);
  }
  res.end();
}
