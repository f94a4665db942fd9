// Runs every compiled test file with Node's built-in test runner.
// Node 20's --test does not expand globs, so we find the files ourselves.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    // Only tests whose TypeScript source still exists: tsc never removes outputs of deleted sources.
    else if (name.endsWith(".test.js") && existsSync(p.replace(/^dist[\\/]/, "").replace(/\.js$/, ".ts")))
      out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = find("dist/test").sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error("no test files found under dist/test (did the build run?)");
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
