import { basename } from "node:path";
import type { Command } from "commander";
import { EventSiteJoin, shallowestPerSite } from "../../catalog/event-sites.js";
import { cell } from "../../catalog/export.js";
import { countEvents, type EventQuery, type EventRow, getEvent, searchEvents } from "../../catalog/search.js";
import { CatalogStore } from "../../catalog/store.js";
import { DEFAULT_DB } from "../defaults.js";
import { exitQuietlyOnClosedPipe } from "../pipe.js";

/** The text filters pass through to the query as given; numbers arrive as text. */
type TextFilters = Pick<EventQuery, "provider" | "name" | "field" | "keyword" | "kind" | "text">;

interface EventsCliOptions extends TextFilters {
  db: string;
  id?: string;
  format: string;
  limit: string;
  sites?: boolean;
}

/** A search row with the number of code sites that write its event. */
type RowWithSites = EventRow & { sites: number };

const TSV_COLUMNS: Array<keyof RowWithSites> = [
  "kind",
  "provider",
  "guid",
  "id",
  "version",
  "name",
  "level",
  "opcode",
  "task",
  "keywords",
  "keywordMask",
  "channel",
  "fields",
  "message",
  "build",
  "file",
  "sites",
];

export function register(program: Command): void {
  program
    .command("events")
    .description("Search the catalog (filters combine with AND; * and ? are wildcards)")
    .option("--db <file>", "catalog file", DEFAULT_DB)
    .option("--provider <name|guid>", "provider name (glob) or GUID")
    .option("--name <glob>", "event name, e.g. 'task_*'")
    .option("--field <name>", "events with a field of this name (glob allowed; struct members count)")
    .option("--keyword <name|0xmask>", "events enabled by this keyword name or any bit of this mask")
    .option("--kind <kind>", "manifest | mof | tracelogging | wpp")
    .option("--text <words>", "full text: every word must appear in names, fields, keywords or message")
    .option("--id <n>", "event id")
    .option("--format <format>", "table | tsv | jsonl", "table")
    .option("--limit <n>", "maximum rows (-1 = all)", "200")
    .option(
      "--sites",
      "table: also list each event's code sites (binary, function, rva, write API, entry, path)",
    )
    .action((opts: EventsCliOptions) => {
      exitQuietlyOnClosedPipe();
      const store = CatalogStore.open(opts.db, { readonly: true });
      try {
        const { provider, name, field, keyword, kind, text } = opts;
        const query: EventQuery = {
          provider,
          name,
          field,
          keyword,
          kind,
          text,
          id: opts.id === undefined ? undefined : wholeNumber("--id", opts.id),
          limit: wholeNumber("--limit", opts.limit),
        };
        if (!["table", "tsv", "jsonl"].includes(opts.format))
          throw new Error(`--format must be table, tsv or jsonl, not ${opts.format}`);
        const rows = searchEvents(store.db, query);
        const join = new EventSiteJoin(store);
        const out = process.stdout;
        if (opts.format === "jsonl") {
          // The full record plus the code sites that write it.
          for (const r of rows)
            out.write(JSON.stringify({ ...getEvent(store.db, r.rowid), sites: join.sites(r) }) + "\n");
          return;
        }
        const counted: RowWithSites[] = rows.map((r) => ({ ...r, sites: join.count(r) }));
        if (opts.format === "tsv") {
          out.write(TSV_COLUMNS.join("\t") + "\n");
          for (const r of counted) out.write(TSV_COLUMNS.map((c) => cell(r[c])).join("\t") + "\n");
          return;
        }
        out.write(formatTable(counted));
        const total = countEvents(store.db, query);
        out.write(`${rows.length} of ${total} matching events\n`);
        if (opts.sites) {
          const withSites = counted.filter((r) => r.sites > 0);
          out.write(`\ncode sites of ${withSites.length} of these events:\n`);
          if (withSites.length) out.write(formatSitesTable(withSites, join));
        }
      } finally {
        store.close();
      }
    });
}

function wholeNumber(option: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n)) throw new Error(`${option} must be a whole number, not ${JSON.stringify(text)}`);
  return n;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function formatTable(rows: RowWithSites[]): string {
  const cols: Array<[string, (r: RowWithSites) => string, number]> = [
    ["provider", providerLabel, 36],
    ["id", (r) => String(r.id), 6],
    ["v", (r) => String(r.version), 3],
    ["name", (r) => r.name, 36],
    ["sites", (r) => String(r.sites), 5],
    ["level", (r) => (r.level ?? "").replace(/^win:/, ""), 13],
    ["keywords", (r) => r.keywords, 30],
    ["fields", (r) => r.fields.replace(/\bwin:/g, ""), 60],
    ["build", (r) => r.build ?? "", 12],
  ];
  return alignedTable(
    cols.map(([h]) => h),
    rows.map((r) => cols.map(([, get, max]) => clip(cell(get(r)), max))),
  );
}

function providerLabel(r: EventRow): string {
  return r.provider || (r.guid ? `{${r.guid}}` : "(no provider)");
}

/**
 * One line per distinct write site of each event: the binary, the function holding the write
 * call, its RVA, the ETW API, how many entry points reach it, and the shallowest of them with its
 * call path (entry first).
 */
export function formatSitesTable(rows: EventRow[], join: EventSiteJoin): string {
  const header = [
    "provider",
    "id",
    "v",
    "name",
    "binary",
    "function",
    "rva",
    "write API",
    "entries",
    "entry",
    "depth",
    "call path",
  ];
  const cells: string[][] = [];
  // The same event read from several files (a manifest and the binary's WEVT_TEMPLATE, copies of
  // a binary) would repeat the same lines: each distinct line is printed once.
  const seen = new Set<string>();
  for (const r of rows)
    for (const { site: s, entries } of shallowestPerSite(join.sites(r))) {
      const line = [
        clip(providerLabel(r), 36),
        String(r.id),
        String(r.version),
        clip(r.name, 36),
        basename(s.file.replace(/\\/g, "/")),
        clip(s.function ?? "", 40),
        `0x${s.rva.toString(16)}`,
        s.writeFunction ?? "",
        String(entries),
        s.entry ?? "(none)",
        s.depth === undefined ? "" : String(s.depth),
        clip((s.callPath ?? []).join(" > "), 100),
      ];
      const key = line.join("\t");
      if (seen.has(key)) continue;
      seen.add(key);
      cells.push(line);
    }
  return alignedTable(header, cells);
}

function alignedTable(header: string[], cells: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), ...cells.map(line)].join("\n") + "\n";
}
