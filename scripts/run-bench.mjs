// Runs every compiled benchmark (dist/bench/*.bench.js) one after another; each prints its own figures.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dir = "dist/bench";
const filter = process.argv.slice(2);
const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith(".bench.js"))
      .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
      .sort()
  : [];
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, ["--expose-gc", join(dir, f)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
if (files.length === 0) console.log("no benchmarks found");
process.exit(failed ? 1 : 0);
