import type { Command } from "commander";
import type { ReachRow } from "../../analysis/link/paths.js";
import { CatalogStore } from "../../catalog/store.js";
import { type ReachQuery, reachInStore, reachJson } from "../../pipeline/reach.js";
import { DEFAULT_DB } from "../defaults.js";
import { exitQuietlyOnClosedPipe } from "../pipe.js";

interface ReachCliOptions {
  db: string;
  api?: string;
  event?: string;
  provider?: string;
  build?: string;
  mode?: string;
  maxDepth: string;
  format: string;
}

const TSV = [
  "build",
  "api_module",
  "api",
  "api_kind",
  "mode",
  "role",
  "provider",
  "guid",
  "event_kind",
  "id",
  "version",
  "event",
  "suggested_name",
  "site_module",
  "site_rva",
  "site_function",
  "depth",
  "chain",
];

/** `a!F -call-> a!G -import-> b!H -syscall#4233-> k!H` */
export function chainText(r: ReachRow): string {
  return r.chain
    .map((h) => {
      const name = `${h.module}!${h.function}`;
      if (!h.via) return name;
      const label =
        h.via === "syscall" ? `syscall#${h.syscall}` : h.apiset ? `${h.via}(${h.apiset.contract})` : h.via;
      return `-${label}-> ${name}`;
    })
    .join(" ");
}

function tsvRow(r: ReachRow): string[] {
  const e = r.event;
  return [
    r.build ?? "",
    r.api.module,
    r.api.name,
    r.api.kind,
    r.mode,
    r.role ?? "",
    e.provider.name ?? "",
    e.provider.guid ?? "",
    e.kind,
    e.id === undefined ? "" : String(e.id),
    e.version === undefined ? "" : String(e.version),
    e.name ?? "",
    e.suggestedName ?? "",
    r.site.module,
    r.site.rva,
    r.site.function,
    String(r.depth),
    chainText(r),
  ].map((c) => c.replace(/[\t\n]/g, " "));
}

export function register(program: Command): void {
  program
    .command("reach")
    .description(
      "Which events an API reaches across the modules of a build, through which chain (imports, api-sets, forwarders, syscalls)",
    )
    .option("--db <file>", "catalog file (scan a build folder first)", DEFAULT_DB)
    .option("--api <glob>", "entry API name, e.g. 'SetWindowsHookEx*' or 'user32.dll!*Hook*'")
    .option("--event <provider:id[:version]>", "only chains to this event (provider name or GUID)")
    .option("--provider <name|guid>", "only events of this provider (glob)")
    .option("--build <build>", "only this Windows build (e.g. 10.0.19041)")
    .option("--mode <mode>", "kernel | user: where the event is written")
    .option("--max-depth <n>", "longest chain in functions (entries beyond it are counted, not listed)", "24")
    .option("--format <format>", "table | tsv | jsonl", "table")
    .action((opts: ReachCliOptions) => {
      exitQuietlyOnClosedPipe();
      if (!["table", "tsv", "jsonl"].includes(opts.format))
        throw new Error(`--format must be table, tsv or jsonl, not ${opts.format}`);
      if (opts.mode !== undefined && opts.mode !== "kernel" && opts.mode !== "user")
        throw new Error(`--mode must be kernel or user, not ${opts.mode}`);
      const maxDepth = Number(opts.maxDepth);
      if (!Number.isInteger(maxDepth) || maxDepth < 1)
        throw new Error(`--max-depth must be a positive whole number, not ${opts.maxDepth}`);
      const store = CatalogStore.open(opts.db, { readonly: true });
      try {
        const q: ReachQuery = { maxDepth };
        if (opts.api) q.api = opts.api;
        if (opts.event) q.event = opts.event;
        if (opts.provider) q.provider = opts.provider;
        if (opts.build) q.build = opts.build;
        if (opts.mode) q.mode = opts.mode as "kernel" | "user";
        const { rows, builds } = reachInStore(store, q);
        if (builds.length === 0)
          process.stderr.write(
            `${opts.db}: no linked modules${opts.build ? ` of build ${opts.build}` : ""}: scan a build folder (with analysis) first\n`,
          );
        if (opts.format === "jsonl")
          for (const r of rows) process.stdout.write(`${JSON.stringify(reachJson(r))}\n`);
        else if (opts.format === "tsv") {
          process.stdout.write(`${TSV.join("\t")}\n`);
          for (const r of rows) process.stdout.write(`${tsvRow(r).join("\t")}\n`);
        } else
          for (const r of rows) {
            const e = r.event;
            const name = e.name ?? "";
            const suggested = e.suggestedName ? ` (suggested: ${e.suggestedName})` : "";
            process.stdout.write(
              `${r.api.module}!${r.api.name} → ${e.provider.name ?? e.provider.guid ?? "?"} ${e.id ?? ""} ${name}${suggested} [${r.mode}${r.role ? `, ${r.role}` : ""}] depth ${r.depth}\n    ${chainText(r)}\n`,
            );
          }
        for (const b of builds) {
          const cut =
            b.cutByDepth > 0
              ? `; ${b.cutByDepth} entry APIs reach a site only by chains longer than ${b.maxDepth} functions (not listed: --max-depth ${b.cutDepthNeeded} lists them)`
              : "; nothing cut by the depth limit";
          process.stderr.write(
            `build ${b.build || "(unknown)"}: ${b.rows} (api, event) rows, one shortest chain each, from ${b.entries} entry APIs of ${b.modules} modules; api-sets by ${b.apiSetSource}${cut}\n`,
          );
          for (const n of b.notes) process.stderr.write(`  note: ${n}\n`);
        }
      } finally {
        store.close();
      }
    });
}
