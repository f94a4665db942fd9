// Paths in the explorer are relative to the root the user scanned (issue 11): the catalog records
// the scan roots (`scan_roots`), /api/summary gives them as `roots`, and the page's one path
// function (src/web/static/js/paths.js, no DOM, imported here from dist) shows a corpus file as
// `builds/10.0.19041.508/gdi32.dll` — not relative to the directory all scanned files share, which
// for `start` (corpus + manifests unpacked into .cache) is a far-up common parent.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CatalogStore } from "../src/catalog/store.js";
import { readers } from "../src/pipeline/readers.js";
import { scanPaths } from "../src/pipeline/scan.js";
import { startServer } from "../src/web/server.js";
import { corpus, repoRoot } from "./helpers/corpus.js";

type PathsModule = {
  relativePath(path: string, roots: string[], common?: string): string;
  relativeTo(summary: { roots?: string[]; root?: string }): (path: string) => string;
};
const paths = (await import(new URL("../src/web/static/js/paths.js", import.meta.url).href)) as PathsModule;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-paths-"));
  // A corpus-like tree and, elsewhere, a directory of manifests (as `start` unpacks them into .cache).
  const build = join(dir, "corpus", "builds", "10.0.19041.508");
  mkdirSync(build, { recursive: true });
  copyFileSync(corpus("builds/10.0.19041.508/gdi32.dll"), join(build, "gdi32.dll"));
  mkdirSync(join(dir, "corpus", "manifests"), { recursive: true });
  copyFileSync(corpus("manifests/DxcRuntime.man"), join(dir, "corpus", "manifests", "DxcRuntime.man"));
  mkdirSync(join(dir, "cache", "manifests", "Manifests-Win10-17134"), { recursive: true });
  copyFileSync(
    corpus("manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-FilterManager.xml"),
    join(dir, "cache", "manifests", "Manifests-Win10-17134", "Microsoft-Windows-FilterManager.xml"),
  );
  copyFileSync(corpus("mof/wmicore.mof"), join(dir, "wmicore.mof"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("relativePath (the page's path function)", () => {
  test("relative to the broadest scan root the path lies under", () => {
    const roots = ["/w/shared/corpus", "/w/shared/corpus/builds", "/w/repo/.cache/etw-atlas/corpus/all"];
    assert.equal(
      paths.relativePath("/w/shared/corpus/builds/10.0.19041.508/win32u.dll", roots, "/w/"),
      "builds/10.0.19041.508/win32u.dll",
    );
    assert.equal(
      paths.relativePath("/w/repo/.cache/etw-atlas/corpus/all/Manifests-Win10-17134/X.xml", roots, "/w/"),
      "Manifests-Win10-17134/X.xml",
    );
    // A root is a directory boundary, not a string prefix.
    assert.equal(paths.relativePath("/w/shared/corpus2/a.dll", roots, "/w/"), "shared/corpus2/a.dll");
  });

  test("a file given to the scan shows as its name; relative and trailing-slash roots; no roots", () => {
    assert.equal(paths.relativePath("/x/pe/fltMgr.sys", ["/x/pe/fltMgr.sys"]), "fltMgr.sys");
    assert.equal(paths.relativePath("fixtures/sample/a.man", ["fixtures"]), "sample/a.man");
    assert.equal(paths.relativePath("/r/a/b.dll", ["/"]), "r/a/b.dll");
    assert.equal(paths.relativePath("C:\\scan\\sys\\a.dll", ["C:\\scan"]), "sys\\a.dll");
    assert.equal(paths.relativePath("/c/d/e.dll", [], "/c/"), "d/e.dll", "old catalogs: common directory");
    assert.equal(paths.relativePath("/c/d/e.dll", []), "/c/d/e.dll");
  });
});

describe("scan roots recorded by the scan and served by /api/summary", () => {
  // `start` scans the corpus and the unpacked manifests in one run (scanPathsParallel).
  test("the built CLI's scan records its roots; the providers' files show relative to them", async () => {
    const db = join(dir, "cli.db");
    const corpusDir = join(dir, "corpus");
    const run = spawnSync(
      process.execPath,
      [
        join(repoRoot, "dist", "src", "cli.js"),
        "scan",
        "--no-analyze",
        "--db",
        db,
        `${corpusDir}/`,
        join(dir, "cache", "manifests"),
        join(dir, "wmicore.mof"),
      ],
      { encoding: "utf8" },
    );
    assert.equal(run.status, 0, run.stderr);
    const srv = await startServer({ dbPath: db, port: 0 });
    try {
      const summary = (await (await fetch(new URL("/api/summary", srv.url))).json()) as {
        roots: string[];
        root: string;
      };
      assert.deepEqual(
        summary.roots,
        [corpusDir, join(dir, "cache", "manifests"), join(dir, "wmicore.mof")].sort(),
      );
      assert.equal(summary.root, `${dir}/`, "the common directory of every file is far up");
      const rel = paths.relativeTo(summary);
      const providers = (await (await fetch(new URL("/api/providers", srv.url))).json()) as {
        rows: Array<{ name: string; files: string[] }>;
      };
      const shown = new Set(providers.rows.flatMap((p) => p.files.map(rel)));
      for (const want of [
        "builds/10.0.19041.508/gdi32.dll",
        "manifests/DxcRuntime.man",
        "Manifests-Win10-17134/Microsoft-Windows-FilterManager.xml",
        "wmicore.mof",
      ])
        assert.ok(shown.has(want), `${want} in ${[...shown].join(", ")}`);
      // Before: relative to the common directory, i.e. "corpus/builds/…", "cache/manifests/…".
      assert.ok(![...shown].some((p) => p.startsWith("corpus/") || p.startsWith("cache/")));
    } finally {
      await srv.close();
    }
  });

  test("scanPaths records roots as the scanner spells its files; a re-scan keeps one row per root", () => {
    const store = CatalogStore.open(join(dir, "seq.db"));
    try {
      const given = `${join(dir, "corpus")}/./builds//`;
      scanPaths([given], { readers, store });
      scanPaths([given], { readers, store });
      assert.deepEqual(store.scanRoots(), [join(dir, "corpus", "builds")]);
      const files = store.db.prepare("SELECT path FROM files").all() as Array<{ path: string }>;
      assert.deepEqual(
        files.map((f) => paths.relativePath(f.path, store.scanRoots())),
        ["10.0.19041.508/gdi32.dll"],
      );
    } finally {
      store.close();
    }
  });
});
