import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CatalogStore } from "../../src/catalog/store.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";

const cli = join(repoRoot, "dist", "src", "cli.js");
const expected = JSON.parse(
  readFileSync(join(repoRoot, "fixtures-src", "etw_patterns.expected.json"), "utf8"),
) as {
  rows: Array<{ entry: string }>;
};

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, "analyze", ...args], { encoding: "utf8", cwd: repoRoot });
}

const sys = fixture("etw_patterns.sys");
const pdb = fixture("etw_patterns.pdb");

test("analyze CLI: formats, summary on stderr, -q", () => {
  const tsv = run(sys, "--pdb", pdb, "--format", "tsv", "--kernel-names", corpus("reference"));
  assert.equal(tsv.status, 0, tsv.stderr);
  const lines = tsv.stdout.trimEnd().split("\n");
  assert.equal(lines[0]!.split("\t")[0], "entry");
  assert.equal(lines.length, 1 + expected.rows.length);
  assert.match(tsv.stderr, /write sites, \d+ entry points, \d+ rows/);
  const md = run(sys, "--pdb", pdb, "--format", "md", "-q");
  assert.equal(md.status, 0);
  assert.equal(md.stderr, "");
  assert.ok(md.stdout.startsWith("| entry |"));
  const jsonl = run(sys, "--pdb", pdb, "--format", "jsonl", "-q", "--entry", "NtCloseWidget");
  const rows = jsonl.stdout
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    rows.map((r) => r.callPath),
    [["NtCloseWidget", "PsCloseWidget", "PspLogCloseWidget"]],
  );
  const csv = run(sys, "--pdb", pdb, "--format", "api-to-etw", "-q", "--shallowest");
  assert.equal(csv.stdout.split("\n")[0]!.split(",").length, 17);
});

test("analyze CLI: bad input is a clear error, not a crash", () => {
  const wrongPdb = run(sys, "--pdb", fixture("kernel_etw.pdb"));
  assert.notEqual(wrongPdb.status, 0);
  assert.match(wrongPdb.stderr, /does not match the image/);
  const badFormat = run(sys, "--format", "xml");
  assert.notEqual(badFormat.status, 0);
  assert.match(badFormat.stderr, /unknown format xml/);
  const notPe = run(join(repoRoot, "package.json"));
  assert.notEqual(notPe.status, 0);
  assert.doesNotMatch(notPe.stderr, /at .*\.js:\d+/, "no stack trace");
  const arm = run(corpus("pdb-pairs/AzPshedPi_arm64.sys"));
  assert.notEqual(arm.status, 0);
  assert.match(arm.stderr, /x64/);
});

test("analyze CLI: --db stores the rows as code sites", () => {
  const dir = mkdtempSync(join(tmpdir(), "etw-atlas-analyze-"));
  try {
    const db = join(dir, "c.db");
    const r = run(sys, "--pdb", pdb, "--db", db, "-q", "--format", "jsonl");
    assert.equal(r.status, 0, r.stderr);
    const store = CatalogStore.open(db, { readonly: true });
    try {
      const sites = store.sites({ file: sys });
      assert.equal(sites.length, r.stdout.trimEnd().split("\n").length);
      assert.ok(sites.some((s) => s.entry === "NtOpenWidget" && s.eventName === "AUDIT_OPEN_WIDGET"));
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("analyze CLI: --db names events of providers the image does not describe", () => {
  const dir = mkdtempSync(join(tmpdir(), "etw-atlas-analyze-"));
  try {
    const db = join(dir, "c.db");
    const scan = spawnSync(
      process.execPath,
      [cli, "scan", corpus("manifests/DxcRuntime.man"), "--db", db, "-q"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(scan.status, 0, scan.stderr);
    const dxil = corpus("pe/user/dxil.dll");
    const before = run(dxil, "--format", "jsonl", "-q");
    const after = run(dxil, "--format", "jsonl", "-q", "--db", db);
    const named = (out: string) =>
      out
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l))
        .filter((r) => r.event.name !== undefined && r.provider.name === "Microsoft-Windows-DxcRuntime-API");
    assert.equal(named(before.stdout).length, 0, "dxil.dll has no resource of its own");
    const rows = named(after.stdout);
    assert.ok(rows.length >= 4);
    assert.ok(
      rows.some(
        (r) => r.event.name === "DxcRuntimeInitialization_Stop" && r.event.fields.includes("errorCode"),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
