// PDB benchmark: parse every corpus PDB pair and fixture PDB and read everything a consumer would
// (publics, globals, procedures, annotations, typed global data). Reports MiB/s and symbols/s.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parsePdb } from "../src/formats/pdb/index.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const files = [
  ...readdirSync(join(corpus, "pdb-pairs"))
    .filter((f) => f.endsWith(".pdb"))
    .map((f) => join(corpus, "pdb-pairs", f)),
  join(repo, "fixtures", "user_etw.pdb"),
  join(repo, "fixtures", "kernel_etw.pdb"),
];
const inputs = files.map((f) => ({ f, bytes: readFileSync(f) }));
const rounds = 5;
let bytes = 0;
let symbols = 0;
const t0 = performance.now();
for (let r = 0; r < rounds; r++) {
  for (const { bytes: b } of inputs) {
    const pdb = parsePdb(b);
    symbols +=
      pdb.publics().length +
      pdb.globals().length +
      pdb.procedures().length +
      pdb.annotations().length +
      pdb.globalData().length;
    bytes += b.length;
  }
}
const s = (performance.now() - t0) / 1000;
console.log(
  `pdb: ${inputs.length} files × ${rounds} rounds, ${(bytes / 1048576).toFixed(0)} MiB in ${s.toFixed(2)} s ` +
    `(${(bytes / 1048576 / s).toFixed(0)} MiB/s, ${(symbols / s).toFixed(0)} symbols/s), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
);
