import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parsePdb } from "../src/formats/pdb/index.js";
import { corpus, fixture, repoRoot } from "./helpers/corpus.js";
import { pdbutil } from "./helpers/pdbutil.js";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(repoRoot, "dist", "src", "cli.js"), "pdb", ...args], {
    encoding: "utf8",
  });

test("pdb CLI --json: identity and counts equal llvm-pdbutil; --image checks the match", () => {
  const pdbPath = corpus("pdb-pairs/AzPshedPi_x64.pdb");
  const r = cli(pdbPath, "--json", "--image", corpus("pdb-pairs/AzPshedPi_x64.sys"));
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const o = pdbutil(pdbPath);
  assert.equal(j.guid, o.guid);
  assert.equal(j.age, o.age);
  assert.equal(j.dbiAge, o.dbiAge);
  assert.equal(j.machine, "x64");
  assert.equal(j.modules, o.modules.length);
  assert.equal(j.publics, o.publics.length);
  assert.equal(j.globals, o.globals.length);
  assert.equal(j.annotations, o.symbols.filter((s) => s.kind === "S_ANNOTATION").length);
  assert.equal(j.match.matches, true);
});

test("pdb CLI --publics prints rva<TAB>name for every public", () => {
  const r = cli(fixture("user_etw.pdb"), "--publics");
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  const pubs = parsePdb(readFileSync(fixture("user_etw.pdb"))).publics();
  assert.equal(lines.length, pubs.length);
  assert.ok(
    lines.includes(
      `0x${pubs
        .find((p) => p.name === "FixtureStart")!
        .rva!.toString(16)
        .padStart(8, "0")}\tFixtureStart`,
    ),
  );
  for (const l of lines) assert.match(l, /^(0x[0-9a-f]{8}|-)\t\S/);
});

test("pdb CLI: a mismatched image exits 2, a non-PDB exits 1 with the file and the reason", () => {
  const mismatch = cli(fixture("user_etw.pdb"), "--image", fixture("kernel_etw.sys"));
  assert.equal(mismatch.status, 2);
  assert.match(mismatch.stdout, /does NOT match: GUID differs/);
  const bad = cli(fixture("user_etw.dll"));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /user_etw\.dll: pdb: not an MSF 7\.00 file/);
});
