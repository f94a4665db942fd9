import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { exportJsonl, exportStoreTsv } from "../../catalog/export.js";
import { CatalogStore } from "../../catalog/store.js";
import { DEFAULT_DB } from "../defaults.js";
import { exitQuietlyOnClosedPipe } from "../pipe.js";

export function register(program: Command): void {
  program
    .command("export")
    .description(
      "Write the catalog as Windows10EtwEvents-style TSV (one file per provider + events.tsv) or JSON Lines",
    )
    .option("--db <file>", "catalog file", DEFAULT_DB)
    .option("--format <format>", "tsv | jsonl", "tsv")
    .requiredOption("--out <dir>", "output directory")
    .option("--build <build>", "only events of this Windows build (e.g. 10.0.17134)")
    .action((opts: { db: string; format: string; out: string; build?: string }) => {
      exitQuietlyOnClosedPipe();
      if (opts.format !== "tsv" && opts.format !== "jsonl")
        throw new Error(`--format must be tsv or jsonl, not ${opts.format}`);
      const store = CatalogStore.open(opts.db, { readonly: true });
      try {
        mkdirSync(opts.out, { recursive: true });
        const s =
          opts.format === "tsv"
            ? exportStoreTsv(store, opts.out, opts.build)
            : exportJsonl(
                opts.build === undefined
                  ? store.events()
                  : store.events("WHERE coalesce(build, '') = ?", [opts.build]),
                join(opts.out, "events.jsonl"),
              );
        process.stdout.write(`${s.events} events → ${s.files} file(s) in ${opts.out}\n`);
      } finally {
        store.close();
      }
    });
}
