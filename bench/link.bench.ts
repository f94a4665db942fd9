// Build-wide linking benchmark: `scan` of a build folder with linking vs without (wall time and
// peak RSS, separate processes), then linking alone for 1/4, 1/2 and all modules (near-linear in
// module count?), and reach: one API (SetWindowsHookEx*) and every entry API of the build.
// Folders: ../shared/corpus/builds/10.0.19041.508 (12 images) and, when ETW_ATLAS_SYSTEM32 names a
// whole System32 folder (e.g. a clone of cuckking/EveryDLLInSys32), that folder too.
// Single-threaded: the analysis and linking use one core of os.cpus().
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { linkModules } from "../src/analysis/link/linker.js";
import { reachAcrossModules } from "../src/analysis/link/paths.js";
import { CatalogStore } from "../src/catalog/store.js";
import { linkedBuilds, loadApiSetSchema, loadModules } from "../src/pipeline/link-store.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const cli = join(repo, "dist", "src", "cli.js");

function scan(dir: string, db: string, link: boolean): { s: number; rssMiB: number } {
  const args = [
    "/usr/bin/time",
    "-f",
    "%e %M",
    process.execPath,
    cli,
    "scan",
    dir,
    "--db",
    db,
    "-q",
    "--jobs",
    "1",
  ];
  if (!link) args.push("--no-link");
  const r = spawnSync(args[0]!, args.slice(1), { encoding: "utf8", maxBuffer: 64 << 20 });
  const last = r.stderr.trim().split("\n").pop() ?? "";
  const [s, kb] = last.split(" ").map(Number);
  if (r.status !== 0 || !Number.isFinite(s)) throw new Error(`scan failed: ${r.stderr.slice(-400)}`);
  return { s: s!, rssMiB: kb! / 1024 };
}

function bench(label: string, dir: string): void {
  const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-link-bench-"));
  try {
    const without = scan(dir, join(tmp, "a.db"), false);
    const withLink = scan(dir, join(tmp, "b.db"), true);
    console.log(
      `${label}: scan without linking ${without.s.toFixed(1)} s, peak RSS ${without.rssMiB.toFixed(0)} MiB; ` +
        `with linking ${withLink.s.toFixed(1)} s, ${withLink.rssMiB.toFixed(0)} MiB (${cpus().length} cores here, 1 used)`,
    );
    const store = CatalogStore.open(join(tmp, "b.db"), { readonly: true });
    for (const { build, modules: count } of linkedBuilds(store)) {
      if (count < 2) continue;
      let t = performance.now();
      const modules = loadModules(store, build);
      const schema = loadApiSetSchema(store, build)?.schema;
      const loadMs = performance.now() - t;
      const steps: string[] = [];
      // Every 4th, every 2nd, every module: each part has the same mix of core and leaf DLLs (a
      // prefix of the file list would hold the upper-case names and few of the DLLs they import).
      for (const step of [4, 2, 1]) {
        const part = modules.filter((_, i) => i % step === 0);
        const calls = part.reduce((a, m) => a + m.importCalls.length, 0);
        t = performance.now();
        const l = linkModules(part, schema);
        const ms = performance.now() - t;
        let added = 0;
        for (const e of l.cross.values()) added += e.length;
        steps.push(
          `${part.length} modules ${ms.toFixed(0)} ms (${calls} import calls, ${((ms / calls) * 1000).toFixed(2)} µs each; ${added} edges)`,
        );
      }
      const linked = linkModules(modules, schema);
      t = performance.now();
      const one = reachAcrossModules(linked, { entryFilter: (a) => /^SetWindowsHookEx/i.test(a.name) });
      const oneMs = performance.now() - t;
      // Every entry API of a whole System32 is hours of reach; a big build gets an evenly spaced
      // sample of entry APIs unless ETW_ATLAS_REACH_SAMPLE=0 (the line says which was run).
      const sample = Number(process.env.ETW_ATLAS_REACH_SAMPLE ?? (count > 50 ? "1000" : "0"));
      let seen = 0;
      let kept = 0;
      let total = 0;
      reachAcrossModules(linked, {
        entryFilter: () => {
          total++;
          return false;
        },
      });
      const every = sample > 0 && total > sample ? total / sample : 1;
      const filter = (): boolean => {
        const take = Math.floor(seen / every) !== Math.floor((seen + 1) / every) || every === 1;
        seen++;
        if (take) kept++;
        return take;
      };
      t = performance.now();
      const all = reachAcrossModules(linked, every > 1 ? { entryFilter: filter } : {});
      const allMs = performance.now() - t;
      const which =
        every > 1
          ? `a sample of ${kept} of ${seen} entry APIs (ETW_ATLAS_REACH_SAMPLE=0 for all)`
          : "every entry API";
      console.log(
        `  build ${build || "(unknown)"}: load summaries ${loadMs.toFixed(0)} ms; link ${steps.join(", ")}; ` +
          `reach SetWindowsHookEx* ${oneMs.toFixed(0)} ms (${one.rows.length} rows); ` +
          `reach ${which} ${(allMs / 1000).toFixed(1)} s (${all.entries} entries, ${all.rows.length} rows, ${all.cutByDepth} cut by depth ${all.maxDepth}); ` +
          `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
      );
    }
    store.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

bench("builds/10.0.19041.508 (12 images)", join(corpus, "builds", "10.0.19041.508"));
const sys32 = process.env.ETW_ATLAS_SYSTEM32;
if (sys32) bench(`ETW_ATLAS_SYSTEM32=${sys32}`, sys32);
else
  console.log(
    "whole System32: skipped (set ETW_ATLAS_SYSTEM32 to a System32 folder, e.g. a clone of cuckking/EveryDLLInSys32)",
  );
