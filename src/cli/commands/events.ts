import type { Command } from "commander";
import { cell } from "../../catalog/export.js";
import { countEvents, type EventQuery, type EventRow, getEvent, searchEvents } from "../../catalog/search.js";
import { CatalogStore } from "../../catalog/store.js";
import { exitQuietlyOnClosedPipe } from "../pipe.js";
import { DEFAULT_DB } from "./scan.js";

/** The text filters pass through to the query as given; numbers arrive as text. */
type TextFilters = Pick<EventQuery, "provider" | "name" | "field" | "keyword" | "kind" | "text">;

interface EventsCliOptions extends TextFilters {
  db: string;
  id?: string;
  format: string;
  limit: string;
}

const TSV_COLUMNS: Array<keyof EventRow> = [
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
        const rows = searchEvents(store.db, query);
        const out = process.stdout;
        if (opts.format === "jsonl") {
          for (const r of rows) out.write(JSON.stringify(getEvent(store.db, r.rowid)) + "\n");
        } else if (opts.format === "tsv") {
          out.write(TSV_COLUMNS.join("\t") + "\n");
          for (const r of rows) out.write(TSV_COLUMNS.map((c) => cell(r[c])).join("\t") + "\n");
        } else if (opts.format === "table") {
          out.write(formatTable(rows));
          const total = countEvents(store.db, query);
          out.write(`${rows.length} of ${total} matching events\n`);
        } else throw new Error(`--format must be table, tsv or jsonl, not ${opts.format}`);
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

export function formatTable(rows: EventRow[]): string {
  const cols: Array<[string, (r: EventRow) => string, number]> = [
    ["provider", (r) => r.provider || (r.guid ? `{${r.guid}}` : "(no provider)"), 36],
    ["id", (r) => String(r.id), 6],
    ["v", (r) => String(r.version), 3],
    ["name", (r) => r.name, 36],
    ["level", (r) => (r.level ?? "").replace(/^win:/, ""), 13],
    ["keywords", (r) => r.keywords, 30],
    ["fields", (r) => r.fields.replace(/\bwin:/g, ""), 60],
    ["build", (r) => r.build ?? "", 12],
  ];
  const cells = rows.map((r) => cols.map(([, get, max]) => clip(cell(get(r)), max)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(cols.map(([h]) => h)), ...cells.map(line)].join("\n") + "\n";
}
