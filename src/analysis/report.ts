/**
 * Output formats for analysis rows: jsonl, tsv, md, a plain text table, and `api-to-etw` — the
 * 17 columns of the API-To-ETW Ghidra script's CSV, spelled the way that script writes them.
 */
import type { SiteRow } from "./analyze.js";
import { conditionSentence } from "./conditions/sentence.js";

export const FORMATS = ["table", "tsv", "jsonl", "md", "api-to-etw"] as const;
export type ReportFormat = (typeof FORMATS)[number];

export const API_TO_ETW_HEADER =
  "Function,ProviderGuid,ProviderSymbol,ReghandleSymbol,WriteFunction,EventDescriptorSymbol,Id,Version,Channel,Level,Opcode,Task,Keyword,ContainingFunction,CallDepth,ExportedCallDepth,CallPath";

const COLUMNS = [
  "entry",
  "depth",
  "function",
  "site",
  "writeFunction",
  "provider",
  "guid",
  "kind",
  "id",
  "version",
  "channel",
  "level",
  "opcode",
  "task",
  "keyword",
  "event",
  "callPath",
  "logged",
  "conditions",
] as const;

function flat(r: SiteRow): Record<(typeof COLUMNS)[number], string> {
  const e = r.event;
  const s = (v: unknown): string => (v === undefined || v === null ? "" : String(v));
  return {
    entry: s(r.entry),
    depth: s(r.depth),
    function: r.site.function,
    site: r.site.rva,
    writeFunction: r.writeFunction,
    provider: s(r.provider.name ?? r.provider.symbol ?? r.provider.guid),
    guid: s(r.provider.guid),
    kind: e.kind,
    id: s(e.id),
    version: s(e.version),
    channel: s(e.channel),
    level: s(e.level),
    opcode: s(e.opcode),
    task: s(e.task),
    keyword: s(e.keyword),
    event: s(
      e.symbol ??
        e.name ??
        e.hookName ??
        (e.hookId !== undefined ? `hook 0x${Number(e.hookId).toString(16)}` : undefined),
    ),
    callPath: r.callPath.join("->"),
    logged: s(r.logged),
    conditions: conditionSentence(r.conditions),
  };
}

/** CSV cell as API-To-ETW writes names: quoted when the value is a display name (TraceLogging). */
function csv(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** What the reference script writes where it could not resolve a value. */
const UNRESOLVED = "???";

/**
 * The TraceLogging helper a write goes through, as the reference names it: the SDK's
 * `_tlgWriteTransfer` / `_tlgWriteEx` end in the ETW API of the same suffix.
 */
function traceLoggingHelper(api: string): string {
  if (api.endsWith("WriteTransfer")) return "_tlgWriteTransfer";
  if (api.endsWith("WriteEx")) return "_tlgWriteEx";
  return api;
}

/** Rows the api-to-etw CSV leaves out: sites no entry point reaches (the reference starts at entries). */
export function apiToEtwLeftOut(rows: SiteRow[]): number {
  return new Set(rows.filter((r) => r.entry === null).map((r) => r.site.rva)).size;
}

function apiToEtwLine(r: SiteRow): string {
  const e = r.event;
  const n = (v: unknown): string => (v === undefined || v === null ? "" : String(v));
  let guid = n(r.provider.guid);
  let providerSymbol = r.provider.symbol ?? "";
  let handleSymbol = r.provider.handleSymbol ?? "";
  let descriptorSymbol = n(e.symbol);
  let id = n(e.id);
  let version = n(e.version);
  let task = n(e.task);
  if (e.kind === "tracelogging") {
    // TraceLogging rows: provider and event names quoted, no id/version/task.
    providerSymbol = r.provider.name ? `"${r.provider.name}"` : "";
    handleSymbol = "";
    descriptorSymbol = e.name ? `"${String(e.name)}"` : "";
    id = "-";
    version = "-";
    task = "-";
  } else if (e.kind === "kernel") {
    guid = "Windows Kernel Trace";
    // API-To-ETW: ProviderSymbol = PERF_* group mask name, ReghandleSymbol = trace group name.
    providerSymbol = n(e.groupMaskName);
    handleSymbol = n(e.groupName);
    descriptorSymbol = n(e.hookName);
  } else if (e.kind === "wpp") {
    // WPP (as the reference script writes it): `WPP_<provider>` as the provider, the message GUID
    // as the descriptor symbol, the message number as the id, `Flags=n` (MessageFlags) as keyword.
    guid = `WPP_${r.provider.name ?? r.provider.guid ?? "???"}`;
    descriptorSymbol = n(e.messageGuid) || UNRESOLVED;
    id = n(e.messageNumber) || UNRESOLVED;
  } else if (!e.symbol && e.id === undefined) {
    descriptorSymbol = UNRESOLVED;
  }
  if (!guid) guid = UNRESOLVED;
  let keyword = n(e.keyword);
  if (e.kind === "wpp")
    keyword = e.messageFlags === undefined ? UNRESOLVED : `Flags=${Number(e.messageFlags)}`;
  const cells = [
    r.entry ?? "",
    guid,
    providerSymbol.startsWith('"') ? providerSymbol : csv(providerSymbol),
    csv(handleSymbol),
    e.kind === "tracelogging" ? traceLoggingHelper(r.writeFunction) : r.writeFunction,
    descriptorSymbol.startsWith('"') ? descriptorSymbol : csv(descriptorSymbol),
    id,
    version,
    n(e.channel),
    n(e.level),
    n(e.opcode),
    task,
    keyword,
    r.site.function,
    n(r.depth),
    n(r.exportedDepth),
    `[${r.callPath.join("->")}]`,
  ];
  return cells.join(",");
}

function padTable(rows: string[][]): string {
  // The last column (the condition sentence) is never cut.
  const lastCol = rows[0]!.length - 1;
  const widths = rows[0]!.map((_, c) =>
    c === lastCol ? Number.MAX_SAFE_INTEGER : Math.min(48, Math.max(...rows.map((r) => r[c]!.length))),
  );
  return rows
    .map((r) =>
      r
        .map((cell, c) =>
          cell.length > widths[c]!
            ? cell.slice(0, widths[c]! - 1) + "…"
            : c === lastCol
              ? cell
              : cell.padEnd(widths[c]!),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** JSON text of guard objects, made once each: rows of one site share their guards (conditions/chain.ts). */
const guardJson = new WeakMap<object, string>();
function guardText(c: object): string {
  let s = guardJson.get(c);
  if (s === undefined) guardJson.set(c, (s = JSON.stringify(c)));
  return s;
}

/**
 * One jsonl line: exactly `JSON.stringify(r)` and a newline, written key by key (the order and the
 * keys left out — undefined values — as JSON.stringify has them) so the guards' text is reused.
 */
export function jsonlLine(r: SiteRow): string {
  if (!r.conditions) return JSON.stringify(r) + "\n";
  let out = "{";
  const row = r as unknown as Record<string, unknown>;
  // for…in: own keys in JSON.stringify's order (rows are plain objects).
  for (const k in row) {
    const v = row[k];
    const s = k === "conditions" && Array.isArray(v) ? `[${v.map(guardText).join(",")}]` : JSON.stringify(v);
    if (s === undefined) continue;
    out += `${out.length > 1 ? "," : ""}${JSON.stringify(k)}:${s}`;
  }
  return out + "}\n";
}

/** Lines of jsonl output gathered per piece written (a large report is never one string). */
const JSONL_PIECE = 1 << 20;

/** `formatRows` in pieces, to write one after the other: jsonl about a megabyte at a time. */
export function* formatRowPieces(rows: SiteRow[], format: ReportFormat): Generator<string> {
  if (format !== "jsonl") {
    yield formatRows(rows, format);
    return;
  }
  let piece = "";
  for (const r of rows) {
    piece += jsonlLine(r);
    if (piece.length >= JSONL_PIECE) {
      yield piece;
      piece = "";
    }
  }
  if (piece.length > 0) yield piece;
}

/** Renders rows in one of the formats; the text ends with a newline unless empty. */
export function formatRows(rows: SiteRow[], format: ReportFormat): string {
  switch (format) {
    case "jsonl":
      return rows.map(jsonlLine).join("");
    case "api-to-etw":
      // Identical lines (two call sites of one event in one function) are written once.
      return (
        [API_TO_ETW_HEADER, ...new Set(rows.filter((r) => r.entry !== null).map(apiToEtwLine))].join("\n") +
        "\n"
      );
    case "tsv":
      return (
        [
          COLUMNS.join("\t"),
          ...rows.map((r) => COLUMNS.map((c) => flat(r)[c].replace(/[\t\n]/g, " ")).join("\t")),
        ].join("\n") + "\n"
      );
    case "md": {
      const head = `| ${COLUMNS.join(" | ")} |\n|${COLUMNS.map(() => "---").join("|")}|\n`;
      return (
        head +
        rows.map((r) => `| ${COLUMNS.map((c) => flat(r)[c].replace(/\|/g, "\\|")).join(" | ")} |\n`).join("")
      );
    }
    case "table": {
      const cols = [
        "entry",
        "depth",
        "function",
        "writeFunction",
        "provider",
        "id",
        "event",
        "keyword",
        "logged",
        "conditions",
      ] as const;
      if (rows.length === 0) return "";
      return padTable([cols.slice(), ...rows.map((r) => cols.map((c) => flat(r)[c]))]) + "\n";
    }
  }
}
