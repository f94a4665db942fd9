// src/cli/code-cache.ts: a bundle runs the same with its code cache, without it, with a cache of
// other bytes of the same length (which V8 alone would accept) and with a corrupt cache.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { codeCacheFile } from "../../src/cli/code-cache.js";
import { repoRoot } from "../helpers/corpus.js";

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-code-cache-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const bundle = join(dir, "b.cjs");
const loader = pathToFileURL(join(repoRoot, "dist", "src", "cli", "code-cache.js")).href;

/** In a fresh process: the bundle's answer, what its `__import` got, whether V8 took the cache. */
function runBundle(write = false): string {
  const r = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { loadBundle, codeCacheAccepted } from ${JSON.stringify(loader)};
       const accepted = codeCacheAccepted(${JSON.stringify(bundle)});
       const m = loadBundle(${JSON.stringify(bundle)});
       console.log(m.answer(), (await m.load()).x, accepted);`,
    ],
    { encoding: "utf8", env: { ...process.env, ETW_ATLAS_WRITE_CODE_CACHE: write ? "1" : "" } },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test("code cache: used for the bytes it was made from, never for others", () => {
  writeFileSync(join(dir, "m.mjs"), "export const x = 7;\n");
  writeFileSync(bundle, `exports.answer = () => 40 + 2; exports.load = () => __import("./m.mjs");\n`);
  assert.equal(runBundle(), "42 7 false"); // no cache yet
  assert.equal(runBundle(true), "42 7 false"); // writes it at exit
  assert.ok(existsSync(codeCacheFile(bundle)));
  assert.equal(runBundle(), "42 7 true");
  // Same length, other code: V8 compares only the length; the cache's hash does not match.
  writeFileSync(bundle, `exports.answer = () => 40 + 3; exports.load = () => __import("./m.mjs");\n`);
  assert.equal(runBundle(), "43 7 false");
  // A cache for these bytes whose V8 data is damaged (V8 would crash on it): not used.
  runBundle(true);
  assert.equal(runBundle(), "43 7 true");
  const data = readFileSync(codeCacheFile(bundle));
  data.fill(0x5a, 96, 128);
  writeFileSync(codeCacheFile(bundle), data);
  assert.equal(runBundle(), "43 7 false");
});
