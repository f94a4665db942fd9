// Analyze benchmark: full `analyze` pipeline (decode every code section, functions, call graph,
// registrations, recognizers, entry points, reachability, rows) on onnxruntime.dll (28 MB), next to
// `llvm-objdump-14 -d` on the same file (output discarded), as a ratio from one run each.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { analyzeImage, ownCatalog } from "../src/analysis/analyze.js";
import { parsePe } from "../src/formats/pe/index.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const file = join(corpus, "pe", "user", "onnxruntime.dll");

const t0 = performance.now();
const bytes = new Uint8Array(readFileSync(file));
const pe = parsePe(bytes);
const report = analyzeImage(pe, { catalog: ownCatalog(pe, file, bytes) });
const ours = (performance.now() - t0) / 1000;
console.log(
  `analyze: ${(bytes.length / 1048576).toFixed(1)} MiB, ${report.program.code.count} instructions, ` +
    `${report.program.functions.list.length} functions, ${report.findings.length} write sites, ${report.rows.length} rows ` +
    `in ${ours.toFixed(2)} s; stages ms ${JSON.stringify(report.timings)}; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
);

const t1 = performance.now();
const r = spawnSync("sh", ["-c", `llvm-objdump-14 -d --no-show-raw-insn "${file}" > /dev/null`], {
  stdio: "inherit",
});
const objdump = (performance.now() - t1) / 1000;
if (r.status !== 0) {
  console.log(`llvm-objdump-14 unavailable (exit ${r.status}); no ratio`);
} else {
  console.log(
    `llvm-objdump-14 -d: ${objdump.toFixed(2)} s; analyze / objdump = ${(ours / objdump).toFixed(2)}× (goal ≤ 1.0×)`,
  );
}
