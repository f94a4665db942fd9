import { basename } from "node:path";
import type { Command } from "commander";
import { type ConditionLike, conditionSentence } from "../../analysis/conditions/sentence.js";
import { EventSiteJoin, shallowestPerSite } from "../../catalog/event-sites.js";
import { cell, EVENT_ROW_COLUMNS } from "../../catalog/export.js";
import { countEvents, type EventQuery, type EventRow, getEvent, searchEvents } from "../../catalog/search.js";
import { CatalogStore } from "../../catalog/store.js";
import type { EventModes } from "../../pipeline/event-mode.js";
import type { EventReach } from "../../pipeline/reach.js";
import { DEFAULT_DB } from "../defaults.js";

import { exitQuietlyOnClosedPipe } from "../pipe.js";

/** The text filters pass through to the query as given; numbers arrive as text. */
type TextFilters = Pick<
  EventQuery,
  "provider" | "name" | "field" | "keyword" | "kind" | "text" | "build" | "sort"
>;

interface EventsCliOptions extends TextFilters {
  db: string;
  id?: string;
  format: string;
  limit?: string;
  sites?: boolean;
  api?: string;
  mode?: string;
  desc?: boolean;
}

/** Rows the table shows unless --limit says otherwise (it prints "N of M"). */
const TABLE_LIMIT = 200;
/** How many entry APIs `reachedFrom` lists per event in jsonl (`reachedFromTotal` has the count). */
const REACHED_FROM_LIMIT = 20;

/** A search row with the number of code sites that write its event. */
type RowWithSites = EventRow & { sites: number };

const TSV_COLUMNS: ReadonlyArray<keyof RowWithSites> = EVENT_ROW_COLUMNS;

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
    .option(
      "--text <query>",
      'full text over names, fields, keywords, message: words (substrings), word* (wildcards), "a phrase", a OR b, NOT a / -a',
    )
    .option("--build <build>", "only events of this Windows build (e.g. 10.0.17134)")
    .option(
      "--sort <column>",
      "order by provider | kind | id | version | name | level | task | opcode | keywords | fields | build",
    )
    .option("--desc", "with --sort: descending")
    .option("--id <n>", "event id")
    .option("--format <format>", "table | tsv | jsonl", "table")
    .option(
      "--limit <n>",
      `maximum rows (-1 = all; default: ${TABLE_LIMIT} for the table, all for tsv and jsonl)`,
    )
    .option("--api <glob>", "only events an entry API reaches across the modules of its build (see reach)")
    .option("--mode <mode>", "only events written in kernel or user mode (linked catalogs)")
    .option(
      "--sites",
      "table: also list each event's code sites (binary, function, rva, write API, entry, path)",
    )
    .action(async (opts: EventsCliOptions) => {
      exitQuietlyOnClosedPipe();
      const store = CatalogStore.open(opts.db, { readonly: true });
      try {
        const { provider, name, field, keyword, kind, text, build, sort, desc } = opts;
        const query: EventQuery = {
          provider,
          name,
          field,
          keyword,
          kind,
          text,
          build,
          sort,
          desc,
          id: opts.id === undefined ? undefined : wholeNumber("--id", opts.id),
          limit:
            opts.limit !== undefined
              ? wholeNumber("--limit", opts.limit)
              : opts.format === "table"
                ? TABLE_LIMIT
                : -1,
        };
        if (!["table", "tsv", "jsonl"].includes(opts.format))
          throw new Error(`--format must be table, tsv or jsonl, not ${opts.format}`);
        if (opts.mode !== undefined && opts.mode !== "kernel" && opts.mode !== "user")
          throw new Error(`--mode must be kernel or user, not ${opts.mode}`);
        const join = new EventSiteJoin(store);
        // --api / --mode are answered by linking, after the search: filter every match, then page.
        const linkFilter = opts.api !== undefined || opts.mode !== undefined;
        // Linking (and the analysis modules it loads: ~0.8 s of imports) only when an answer needs it.
        const linking = linkFilter || opts.format === "jsonl";
        const { reach, modes, reachedFromJson } = linking ? await linkingFor(store, join) : {};
        const reachedSites = opts.api !== undefined ? reach!.sitesReachedBy(opts.api, opts.build) : undefined;
        let rows = searchEvents(store.db, linkFilter ? { ...query, limit: -1 } : query);
        let filteredTotal: number | undefined;
        if (linkFilter) {
          rows = rows.filter(
            (r) =>
              (!reachedSites || reach!.isReached(r, reachedSites)) &&
              (!opts.mode || modes!.of(r)?.mode.split("+").includes(opts.mode)),
          );
          filteredTotal = rows.length;
          if (query.limit !== undefined && query.limit >= 0) rows = rows.slice(0, query.limit);
        }
        const out = process.stdout;
        // Rows a limit left out are always said (on stderr for tsv/jsonl, whose stdout is data).
        const cut = (): void => {
          if (query.limit === -1 || rows.length < (query.limit ?? 0)) return;
          const total = filteredTotal ?? countEvents(store.db, query);
          if (total > rows.length)
            process.stderr.write(
              `${rows.length} of ${total} matching events written (--limit ${query.limit}); --limit -1 writes all\n`,
            );
        };
        if (opts.format === "jsonl") {
          // The full record plus the code sites that write it, its mode and (linked builds) the
          // entry APIs reaching it: a bounded list, reachedFromTotal says how many there are.
          for (const r of rows) {
            const line: Record<string, unknown> = { ...getEvent(store.db, r.rowid), sites: join.sites(r) };
            if (reach!.any) {
              const m = modes!.of(r);
              if (m) line.mode = m;
              const rf = reach!.reachedFrom(r, REACHED_FROM_LIMIT);
              line.reachedFrom = rf.rows.map(reachedFromJson!);
              line.reachedFromTotal = rf.total;
            }
            out.write(JSON.stringify(line) + "\n");
          }
          cut();
          return;
        }
        // The records the join needs are read in one query, not one per row.
        const siteCounts = join.countRows(rows);
        const counted: RowWithSites[] = rows.map((r, i) => ({ ...r, sites: siteCounts[i]! }));
        if (opts.format === "tsv") {
          out.write(TSV_COLUMNS.join("\t") + "\n");
          for (const r of counted) out.write(TSV_COLUMNS.map((c) => cell(r[c])).join("\t") + "\n");
          cut();
          return;
        }
        out.write(formatTable(counted));
        const total = filteredTotal ?? countEvents(store.db, query);
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

/** Entry-point reach and kernel/user mode of events, from the linked builds of the catalog. */
async function linkingFor(store: CatalogStore, join: EventSiteJoin) {
  const [{ EventReach, reachedFromJson }, { EventModes }] = await Promise.all([
    import("../../pipeline/reach.js"),
    import("../../pipeline/event-mode.js"),
  ]);
  const reach: EventReach = new EventReach(store, join);
  const modes: EventModes = new EventModes(store);
  return { reach, modes, reachedFromJson };
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
 * call path (entry first), the logged reading and the guard sentence (docs/analysis.md).
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
    "logged",
    "when",
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
        s.conditions?.logged ?? "",
        conditionSentence(s.conditions?.conditions as ConditionLike[] | undefined),
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
