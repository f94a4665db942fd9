// Files of one Windows installation link as one build (pipeline/installation-build.ts): a file
// without a Windows version of its own (our fixtures) next to a real ntdll.dll links in ntdll's
// build; one level down (System32\drivers) too; a build in the file's name wins; no anchor, no change.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CatalogStore } from "../../src/catalog/store.js";
import { parsePe, readFileVersion } from "../../src/formats/pe/index.js";
import { installationBuild } from "../../src/pipeline/installation-build.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-install-build-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const ntdll = corpus("builds/10.0.19041.508/ntdll.dll");
// The anchor's build as its version resource says (independently of windowsBuild's reading).
const v = readFileVersion(parsePe(new Uint8Array(readFileSync(ntdll))))!;
const anchorBuild = `${v.major}.${v.minor}.${v.build}`;

function install(name: string): string {
  const root = join(tmp, name);
  mkdirSync(join(root, "drivers"), { recursive: true });
  copyFileSync(ntdll, join(root, "ntdll.dll"));
  copyFileSync(fixture("user_etw.dll"), join(root, "user_etw.dll"));
  copyFileSync(fixture("kernel_etw.sys"), join(root, "drivers", "kernel_etw.sys"));
  copyFileSync(fixture("user_etw.dll"), join(root, "user_etw_10.0.17134.1.dll"));
  return root;
}

test("installationBuild: the anchor's build for files beside it and one folder down; a named build wins", () => {
  assert.equal(anchorBuild, "10.0.19041");
  const root = install("unit");
  assert.equal(installationBuild(join(root, "user_etw.dll"), undefined), anchorBuild);
  assert.equal(installationBuild(join(root, "user_etw.dll"), "6.3.9600"), anchorBuild);
  assert.equal(installationBuild(join(root, "drivers", "kernel_etw.sys"), undefined), anchorBuild);
  assert.equal(installationBuild(join(root, "user_etw_10.0.17134.1.dll"), "10.0.17134"), "10.0.17134");
  const lone = join(tmp, "lone");
  mkdirSync(lone);
  copyFileSync(fixture("user_etw.dll"), join(lone, "user_etw.dll"));
  assert.equal(installationBuild(join(lone, "user_etw.dll"), undefined), undefined);
});

test("scan: modules link in the installation's build; sites keep the file's own build", () => {
  const root = install("scan");
  const db = join(tmp, "scan.db");
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, "dist", "src", "cli.js"), "scan", root, "--db", db, "-q"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const store = CatalogStore.open(db, { readonly: true });
  try {
    const modules = store.db.prepare("SELECT name, build FROM modules ORDER BY name").all() as Array<{
      name: string;
      build: string;
    }>;
    const byName = new Map(modules.map((m) => [m.name, m.build]));
    assert.equal(byName.get("ntdll.dll"), anchorBuild);
    assert.equal(byName.get("user_etw.dll"), anchorBuild);
    assert.equal(byName.get("kernel_etw.sys"), anchorBuild);
    assert.equal(byName.get("user_etw_10.0.17134.1.dll"), "10.0.17134");
    const own = store.sites().filter((s) => s.file === join(root, "user_etw.dll"));
    assert.ok(own.length > 0);
    assert.ok(
      own.every((s) => s.build === undefined || s.build === null),
      JSON.stringify(own[0]),
    );
  } finally {
    store.close();
  }
});
