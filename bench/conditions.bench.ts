// Guard-condition cost: `analyzeProgram` on a loaded image with conditions off and on (the image is
// decoded once; recognizers, reachability and rows run in both), best of 3 each, on the corpus
// images with the most manifest write sites plus onnxruntime.dll (TraceLogging, 28 MB), in CPU
// seconds of this process (the machine is shared with other work: wall time is noisy). One core:
// an image's analysis is single-threaded (scan runs images in parallel on its workers).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { analyzeProgram } from "../src/analysis/analyze.js";
import { loadProgram } from "../src/analysis/program.js";
import { parsePe } from "../src/formats/pe/index.js";
import { ownCatalog } from "../src/pipeline/readers.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const files = [
  "pe/kernel/win32kbase_10.0.19041.508.sys",
  "pe/kernel/win32k_6.1.7601.17514.sys",
  "pe/user/d3d11_10.0.18363.900.dll",
  "pe/user/onnxruntime.dll",
];

/** Best of 3 runs, in ms of this process's CPU time (the machine is shared: wall time is noisy). */
const best = (f: () => void): number => {
  let out = Number.POSITIVE_INFINITY;
  for (let k = 0; k < 3; k++) {
    const u = process.cpuUsage();
    f();
    const d = process.cpuUsage(u);
    out = Math.min(out, (d.user + d.system) / 1000);
  }
  return out;
};

let offTotal = 0;
let onTotal = 0;
for (const rel of files) {
  const file = join(corpus, rel);
  const bytes = new Uint8Array(readFileSync(file));
  const pe = parsePe(bytes);
  const u = process.cpuUsage();
  const program = loadProgram(pe);
  const du = process.cpuUsage(u);
  const load = (du.user + du.system) / 1000;
  // After the load: reading the image's own catalog reuses the decoded program (it would otherwise
  // decode it first and leave `load` measuring a cache hit).
  const catalog = ownCatalog(pe, file, bytes);
  let rows = 0;
  let guarded = 0;
  const off = best(() => {
    rows = analyzeProgram(program, { catalog, conditions: false }).rows.length;
  });
  const on = best(() => {
    guarded = analyzeProgram(program, { catalog }).rows.filter((r) => (r.conditions?.length ?? 0) > 0).length;
  });
  offTotal += load + off;
  onTotal += load + on;
  console.log(
    `${rel}: CPU s: load ${(load / 1000).toFixed(2)}; analysis without conditions ${(off / 1000).toFixed(2)} s, with ` +
      `${(on / 1000).toFixed(2)} s (+${(((on - off) / (load + off)) * 100).toFixed(1)}% of load + analysis); ` +
      `${rows} rows, ${guarded} with conditions`,
  );
}
console.log(
  `total load + analysis (CPU): ${(offTotal / 1000).toFixed(2)} s without conditions, ${(onTotal / 1000).toFixed(2)} s with ` +
    `(+${(((onTotal - offTotal) / offTotal) * 100).toFixed(1)}%); 1 core (one image's analysis is single-threaded)`,
);
