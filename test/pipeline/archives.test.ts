// Inputs as users have them: an ISO holding sources/install.wim, a WIM, a CAB — each made by the real
// tool (xorriso, wimlib-imagex capture, gcab) from corpus files — scan to the same events as the
// loose files.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CatalogStore } from "../../src/catalog/store.js";
import { archiveKind, expandArchives } from "../../src/pipeline/archives.js";
import { readers } from "../../src/pipeline/readers.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { corpus } from "../helpers/corpus.js";

const FILES = ["pe/kernel/fltMgr.sys", "pe/user/csrsrv_10.0.22000.778.dll", "manifests/dxcetw.man"];

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-archives-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Events of a scan as comparable lines (kind, provider, id, version, name, fields), sorted. */
function scanEvents(paths: string[]): string[] {
  const store = CatalogStore.open(":memory:");
  const s = scanPaths(paths, { readers, store });
  assert.equal(s.failed.length, 0, JSON.stringify(s.failed));
  const out = [...store.events()].map((e) =>
    JSON.stringify([
      e.kind,
      e.provider.guid,
      e.provider.name,
      e.id,
      e.version,
      e.name,
      e.fields,
      e.provenance.build,
    ]),
  );
  store.close();
  return out.sort();
}

describe("ISO, WIM and CAB inputs scan like the loose files", () => {
  const system32 = join(dir, "tree", "Windows", "System32");
  const wim = join(dir, "install.wim");
  const iso = join(dir, "windows.iso");
  const cab = join(dir, "update.cab");
  let loose: string[];

  before(() => {
    mkdirSync(system32, { recursive: true });
    for (const f of FILES) copyFileSync(corpus(f), join(system32, basename(f)));
    // A file outside System32: the default WIM unpacking leaves it out (and says so).
    writeFileSync(join(dir, "tree", "outside.txt"), "not under System32\n");
    loose = scanEvents([system32]);
    execFileSync("wimlib-imagex", ["capture", join(dir, "tree"), wim, "Windows", "--compress=LZX"], {
      stdio: "ignore",
    });
    const isoRoot = join(dir, "iso");
    mkdirSync(join(isoRoot, "sources"), { recursive: true });
    copyFileSync(wim, join(isoRoot, "sources", "install.wim"));
    execFileSync("xorriso", ["-as", "mkisofs", "-quiet", "-J", "-R", "-o", iso, isoRoot], {
      stdio: "ignore",
    });
    execFileSync("gcab", ["-c", "-z", "-n", cab, ...FILES.map((f) => join(system32, basename(f)))]);
  });

  test("archives are recognised by content, not by name", () => {
    const head = (p: string) => new Uint8Array(execFileSync("head", ["-c", String(0x9800), p]));
    assert.equal(archiveKind(head(wim)), "wim");
    assert.equal(archiveKind(head(iso)), "iso");
    assert.equal(archiveKind(head(cab)), "cab");
    assert.equal(archiveKind(head(join(system32, "fltMgr.sys"))), undefined);
  });

  for (const [name, file] of [
    ["WIM", () => wim],
    ["ISO with sources/install.wim", () => iso],
    ["CAB", () => cab],
  ] as const) {
    test(`${name}: the same events as the loose files`, () => {
      const notes: string[] = [];
      const cacheDir = join(dir, `cache-${name.split(" ")[0]}`);
      const x = expandArchives([file()], { cacheDir, onNote: (m) => notes.push(m) });
      assert.equal(x.failed.length, 0, JSON.stringify(x.failed));
      assert.equal(x.paths.length, 1);
      assert.ok(loose.length > 30, `${loose.length} loose events`);
      assert.deepEqual(scanEvents(x.paths), loose);
      if (name !== "CAB") {
        assert.ok(
          notes.some((n) => n.includes("/Windows/System32 only")),
          notes.join("\n"),
        );
        assert.ok(!existsSync(join(x.paths[0]!, "outside.txt")));
      }
      // A second run finds the unpacked folder and does not unpack again.
      const again = expandArchives([file()], { cacheDir });
      assert.deepEqual(again.paths, x.paths);
      assert.ok(again.expanded.every((e) => e.cached));
    });
  }

  test("a damaged archive is a per-input failure naming it; other inputs go on", () => {
    const bad = join(dir, "bad.wim");
    const bytes = new Uint8Array(4096);
    bytes.set([..."MSWIM\0\0\0"].map((c) => c.charCodeAt(0)));
    writeFileSync(bad, bytes);
    const x = expandArchives([bad, system32], { cacheDir: join(dir, "cache-bad") });
    assert.equal(x.failed.length, 1);
    assert.equal(x.failed[0]!.archive, bad);
    assert.match(x.failed[0]!.error, /wimlib-imagex failed/);
    assert.deepEqual(x.paths, [system32]);
    // Nothing half-unpacked is left behind.
    assert.deepEqual(readdirSync(join(dir, "cache-bad")), []);
  });
});
