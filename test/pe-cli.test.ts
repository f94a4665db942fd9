import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { parsePe, peSummary, readExceptionTable } from "../src/formats/pe/index.js";
import { corpus, repoRoot } from "./helpers/corpus.js";
import { corpusPeFiles } from "./helpers/pe-corpus.js";

test("pe summary succeeds on every corpus PE; kernel mode follows imports, not subsystem", () => {
  for (const file of corpusPeFiles()) {
    const pe = parsePe(readFileSync(file));
    const s = peSummary(pe);
    JSON.parse(JSON.stringify(s));
    const expectKernel = file.includes("/pe/kernel/") || basename(file).startsWith("AzPshedPi");
    assert.equal(s.kernelMode, expectKernel, `${file}: kernelMode`);
    assert.equal(s.functions, readExceptionTable(pe).entries.length);
    assert.equal(s.sections.length, pe.sections.length);
    assert.equal(s.warnings, undefined);
  }
  const smss = peSummary(parsePe(readFileSync(corpus("pe/user/smss_10.0.22000.778.exe"))));
  assert.equal(smss.subsystem, "native");
  assert.equal(smss.kernelMode, false);
  const flt = peSummary(parsePe(readFileSync(corpus("pe/kernel/fltMgr.sys"))));
  assert.ok(flt.resources.includes("WEVT_TEMPLATE"));
  assert.ok(flt.imports["ntoskrnl.exe"]!.includes("EtwRegister"));
  assert.equal(flt.pdb?.path, "fltMgr.pdb");
});

test("pe CLI: built `etw-atlas pe --json` output and a clear error for a truncated file", () => {
  const cli = join(repoRoot, "dist", "src", "cli.js");
  const file = corpus("pe/kernel/IPMIDRV.sys");
  const r = spawnSync(process.execPath, [cli, "pe", file, "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const key of [
    "machine",
    "kernelMode",
    "sections",
    "imports",
    "exports",
    "resources",
    "pdb",
    "functions",
  ])
    assert.ok(key in j, `JSON has ${key}`);
  assert.equal(j.machine, "x64");
  assert.equal(j.kernelMode, true);
  const imports = j.imports as Record<string, string[]>;
  assert.ok(imports["ntoskrnl.exe"]!.includes("EtwRegister"));
  assert.ok((j.resources as string[]).includes("MOFDATA"));
  assert.equal(j.functions, readExceptionTable(parsePe(readFileSync(file))).entries.length);
  assert.match(
    (j.pdb as { guid: string }).guid,
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  );

  const human = spawnSync(process.execPath, [cli, "pe", file], { encoding: "utf8" });
  assert.equal(human.status, 0, human.stderr);
  assert.match(human.stdout, /kernel mode/);
  assert.match(human.stdout, /ntoskrnl\.exe \(\d+\)/);

  const dir = mkdtempSync(join(tmpdir(), "etw-atlas-pe-"));
  try {
    const cut = join(dir, "cut.sys");
    writeFileSync(cut, readFileSync(file).subarray(0, 600));
    const bad = spawnSync(process.execPath, [cli, "pe", cut, "--json"], { encoding: "utf8" });
    assert.notEqual(bad.status, 0);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /cut\.sys: pe: .*(past end|not backed)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
