import type { Command } from "commander";
import { diffStores, formatDiffText } from "../../catalog/diff.js";
import { CatalogStore } from "../../catalog/store.js";
import { exitQuietlyOnClosedPipe } from "../pipe.js";

export function register(program: Command): void {
  program
    .command("diff")
    .description("Providers, events and fields added, removed or changed between two catalogs")
    .argument("<old>", "older catalog (.db)")
    .argument("<new>", "newer catalog (.db)")
    .option("--format <format>", "text | jsonl", "text")
    .option("--old-build <build>", "only events of this Windows build in the old catalog")
    .option("--new-build <build>", "only events of this Windows build in the new catalog")
    .option("--provider <name|guid>", "only providers matching this name glob or GUID")
    .action(
      (
        oldPath: string,
        newPath: string,
        opts: { format: string; oldBuild?: string; newBuild?: string; provider?: string },
      ) => {
        exitQuietlyOnClosedPipe();
        if (opts.format !== "text" && opts.format !== "jsonl")
          throw new Error(`--format must be text or jsonl, not ${opts.format}`);
        const a = CatalogStore.open(oldPath, { readonly: true });
        const b = CatalogStore.open(newPath, { readonly: true });
        try {
          const entries = diffStores(
            a,
            b,
            { build: opts.oldBuild, provider: opts.provider },
            { build: opts.newBuild, provider: opts.provider },
          );
          if (opts.format === "jsonl")
            for (const e of entries) process.stdout.write(JSON.stringify(e) + "\n");
          else process.stdout.write(formatDiffText(entries) + "\n");
        } finally {
          a.close();
          b.close();
        }
      },
    );
}
