import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseTmfText } from "../src/formats/wpp/index.js";
import { corpus, fixture, repoRoot } from "./helpers/corpus.js";

const cli = join(repoRoot, "dist", "src", "cli.js");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

describe("CLI: symbols and wpp", () => {
  it("symbols prints the matching PDB beside the image, and fails clearly otherwise", () => {
    const ok = run("symbols", "--json", corpus("pdb-pairs/AzPshedPi_x64.sys"));
    assert.equal(ok.status, 0, ok.stderr);
    const j = JSON.parse(ok.stdout) as { path: string; via: string; age: number };
    assert.deepEqual([j.path, j.via, j.age], [corpus("pdb-pairs/AzPshedPi_x64.pdb"), "image-dir", 3]);
    const bad = run(
      "symbols",
      "--no-image-dir",
      "--symbol-path",
      join(tmpdir(), "no-such-dir"),
      corpus("pdb-pairs/winpty.dll"),
    );
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /no matching PDB found for winpty\.pdb/);
    const wrong = run(
      "symbols",
      "--pdb",
      corpus("pdb-pairs/winpty.pdb"),
      corpus("pdb-pairs/AzPshedPi_x64.sys"),
    );
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /does not match the image: GUID/);
  });

  it("wpp on a PE finds its PDB and --tmf writes files that parse back to the same messages", () => {
    const dir = mkdtempSync(join(tmpdir(), "etw-atlas-tmf-"));
    try {
      const r = run("wpp", fixture("wpp_driver.sys"), "--tmf", dir, "--json");
      assert.equal(r.status, 0, r.stderr);
      const rows = JSON.parse(r.stdout) as { events: Array<{ id: number; message: string }> };
      const files = readdirSync(dir);
      assert.deepEqual(files, ["a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90.tmf"]);
      const back = parseTmfText(readFileSync(join(dir, files[0]!), "utf8"));
      assert.deepEqual(
        back.map((m) => [m.messageNumber, m.format]),
        rows.events.map((e) => [e.id, e.message]).sort((a, b) => Number(a[0]) - Number(b[0])),
      );
      // The text listing of the written .tmf has one line per message.
      const listing = execFileSync(process.execPath, [cli, "wpp", join(dir, files[0]!)], {
        encoding: "utf8",
      });
      assert.equal(listing.trim().split("\n").length, back.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
