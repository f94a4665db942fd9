// PE benchmark: peSummary (headers, imports, exports, resources, debug, .pdata with unwind chains,
// relocations, load config) over every corpus PE; reports MiB/s and the largest image's time.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parsePe, peSummary } from "../src/formats/pe/index.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const files = [
  ...["pe/kernel", "pe/user"].flatMap((d) => readdirSync(join(corpus, d)).map((f) => join(corpus, d, f))),
  ...readdirSync(join(corpus, "pdb-pairs"))
    .filter((f) => !f.endsWith(".pdb"))
    .map((f) => join(corpus, "pdb-pairs", f)),
];
const inputs = files.map((f) => ({ f, bytes: new Uint8Array(readFileSync(f)) }));
let bytes = 0;
let functions = 0;
let slowest = { f: "", ms: 0 };
const t0 = performance.now();
for (const { f, bytes: b } of inputs) {
  const t = performance.now();
  const s = peSummary(parsePe(b));
  const ms = performance.now() - t;
  if (ms > slowest.ms) slowest = { f, ms };
  bytes += b.length;
  functions += s.functions;
}
const seconds = (performance.now() - t0) / 1000;
console.log(
  `pe summary: ${inputs.length} images, ${(bytes / 1048576).toFixed(1)} MiB, ${functions} .pdata entries in ` +
    `${seconds.toFixed(2)} s (${(bytes / 1048576 / seconds).toFixed(0)} MiB/s); slowest ${slowest.f.split("/").pop()} ` +
    `${slowest.ms.toFixed(0)} ms`,
);
