// Parser-only benchmark: the 2,417 manifests of tdh-reconstructed-all.tar.xz (no store) and wmicore.mof.
// Reports MB/s, events/s and peak RSS, so parser regressions show apart from SQLite costs.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { manifestReader } from "../src/catalog/readers/manifest.js";
import { mofReader } from "../src/catalog/readers/mof.js";
import { collectFiles } from "../src/pipeline/files.js";
import { unpackTarXz } from "../src/util/tar-xz.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-bench-manifest-"));
try {
  unpackTarXz(join(corpus, "manifests", "tdh-reconstructed-all.tar.xz"), dir);
  const files = collectFiles([dir])
    .filter((f) => f.endsWith(".xml"))
    .map((f) => ({ path: f, bytes: readFileSync(f) }));
  const mb = files.reduce((n, f) => n + f.bytes.length, 0) / 1e6;
  const t0 = performance.now();
  let events = 0;
  let parsed = 0;
  for (const f of files) {
    if (manifestReader.sniff(f.bytes, f.path) !== "yes") continue;
    events += manifestReader.read(f).events.length;
    parsed++;
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `manifests: ${parsed} files, ${mb.toFixed(1)} MB, ${events} events in ${s.toFixed(2)} s (${(mb / s).toFixed(1)} MB/s, ${(events / s).toFixed(0)} events/s)`,
  );
  const mofPath = join(corpus, "mof", "wmicore.mof");
  const mof = { path: mofPath, bytes: readFileSync(mofPath) };
  const t1 = performance.now();
  const r = mofReader.read(mof);
  console.log(
    `wmicore.mof: ${(mof.bytes.length / 1e6).toFixed(2)} MB, ${r.events.length} events in ${((performance.now() - t1) / 1000).toFixed(2)} s`,
  );
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
