// A one-off `etw-atlas events` lookup as a user runs it (issue 14: "events CLI one-off query
// < 0.15 s wall"): whole-process wall and CPU time, medians of ETW_ATLAS_BENCH_ROUNDS (default 20)
// interleaved rounds of
//   - bare `node -e 0` (the floor: Node's own start),
//   - the package's bin (dist/bin/etw-atlas.js, bundled by scripts/bundle-cli.mjs),
//   - tsc's unbundled CLI (dist/src/cli.js),
//   - grep on the exported events.tsv (what the lookup competes with).
// The catalog is ETW_ATLAS_BENCH_DB, or one scanned here from the corpus's 2,417 manifests.
// CPU time (user + system of the child) is read from /proc (Linux); elsewhere it shows as NaN.
//
// Measured 2026-12-05 on the full corpus catalog (141,708 events, 88,094 sites) on the shared
// 2-core machine at load average 5-7 (other jobs running), medians of 20:
//   node -e 0                                   128 ms wall, 100 ms CPU
//   bin: events --provider P --id 1             184 ms wall, 150 ms CPU (x7.4 grep)
//   bin: events --field ProcessStartKey         192 ms wall, 160 ms CPU
//   dist/src/cli.js (unbundled, same query)     239 ms wall, 210 ms CPU
//   grep on events.tsv                           25 ms wall
// Before issue 14's branch the same query took 274 ms wall, 270 ms CPU (node -e 0: 127 ms).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CatalogStore } from "../src/catalog/store.js";
import { readers } from "../src/pipeline/readers.js";
import { scanPaths } from "../src/pipeline/scan.js";
import { unpackTarXz } from "../src/util/tar-xz.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const ROUNDS = Number(process.env.ETW_ATLAS_BENCH_ROUNDS ?? 20);
const bin = join(repo, "dist", "bin", "etw-atlas.js");
const unbundled = join(repo, "dist", "src", "cli.js");

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-bench-cli-"));
try {
  let db = process.env.ETW_ATLAS_BENCH_DB;
  if (!db) {
    db = join(dir, "manifests.db");
    const t = performance.now();
    const manifests = unpackTarXz(join(corpus, "manifests", "tdh-reconstructed-all.tar.xz"), join(dir, "m"));
    const store = CatalogStore.open(db);
    scanPaths([manifests], { readers, store });
    store.close();
    console.log(
      `catalog: the corpus's manifests scanned in ${((performance.now() - t) / 1000).toFixed(0)} s`,
    );
  }
  const exported = join(dir, "export");
  const ex = spawnSync(process.execPath, [bin, "export", "--db", db, "--format", "tsv", "--out", exported], {
    encoding: "utf8",
  });
  if (ex.status !== 0) throw new Error(`export failed: ${ex.stderr}`);
  console.log(`catalog ${db}: ${ex.stdout.trim()}`);

  const lookup = ["events", "--db", db, "--provider", "Microsoft-Windows-Kernel-Process", "--id", "1"];
  const runs: Array<{ label: string; argv: string[] }> = [
    { label: "node -e 0", argv: [process.execPath, "-e", "0"] },
    { label: "bin: events --provider P --id 1", argv: [process.execPath, bin, ...lookup] },
    {
      label: "bin: events --field ProcessStartKey",
      argv: [process.execPath, bin, "events", "--db", db, "--field", "ProcessStartKey"],
    },
    { label: "dist/src/cli.js: events --provider P --id 1", argv: [process.execPath, unbundled, ...lookup] },
    {
      label: "grep on events.tsv (provider P, id 1)",
      argv: [
        "grep",
        "-E",
        "^[^\t]*\tMicrosoft-Windows-Kernel-Process\t[^\t]*\t1\t",
        join(exported, "events.tsv"),
      ],
    },
  ];
  // Every run once, to check it works and to have the files in the page cache.
  for (const r of runs) {
    const out = spawnSync(r.argv[0]!, r.argv.slice(1), { encoding: "utf8" });
    if (out.status !== 0) throw new Error(`${r.label} failed: ${out.stderr}`);
  }
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const wall = runs.map(() => [] as number[]);
  const cpu = runs.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++)
    runs.forEach((r, i) => {
      const t = performance.now();
      // The shell's own /proc stat, read after the command: cutime + cstime = the command's CPU.
      const sh = spawnSync("sh", ["-c", `${r.argv.map(quote).join(" ")} >/dev/null; cat /proc/$$/stat`], {
        encoding: "utf8",
      });
      wall[i]!.push(performance.now() - t);
      const fields = sh.stdout.slice(sh.stdout.lastIndexOf(")") + 2).split(" ");
      cpu[i]!.push(((Number(fields[13]) + Number(fields[14])) * 1000) / 100); // clock ticks at 100 Hz
    });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const floor = median(wall[0]!);
  const grep = median(wall[runs.length - 1]!);
  console.log(`${ROUNDS} interleaved rounds; wall median (min), CPU median; x = wall / node -e 0, / grep`);
  runs.forEach((r, i) => {
    const w = median(wall[i]!);
    console.log(
      `  ${r.label.padEnd(46)} ${w.toFixed(0).padStart(5)} ms (${Math.min(...wall[i]!).toFixed(0)})  CPU ${median(cpu[i]!).toFixed(0).padStart(4)} ms  x${(w / floor).toFixed(2)}  x${(w / grep).toFixed(1)}`,
    );
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
