// The api-to-etw CSV follows the reference script's conventions for every row kind (compared with
// ../shared/corpus/peer-outputs/api-to-etw/ntoskrnl.exe.csv): computed ExportedCallDepth, WPP rows
// `WPP_<provider>` / message GUID / `Flags=n`, `???` where unresolved, TraceLogging helper names,
// and a note saying how many sites (no entry point reaches them) the CSV leaves out.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parsePe, readExports } from "../../src/formats/pe/index.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";

function analyze(...args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, "dist", "src", "cli.js"), "analyze", ...args], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

const rowsOf = (csv: string) =>
  csv
    .trimEnd()
    .split("\n")
    .slice(1)
    .map((l) => l.split(","));

test("WPP rows: WPP_<provider>, the message GUID as descriptor symbol, Flags=n as keyword", () => {
  const { stdout } = analyze(
    fixture("wpp_driver.sys"),
    "--pdb",
    fixture("wpp_driver.pdb"),
    "--format",
    "api-to-etw",
    "-q",
  );
  const rows = rowsOf(stdout);
  assert.equal(rows.length, 6);
  for (const c of rows) {
    assert.equal(c[1], "WPP_WppAtlasDriver");
    assert.equal(c[5], "a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90");
    assert.match(c[6]!, /^1[0-5]$/);
    assert.equal(c[12], "Flags=43");
  }
});

test("TraceLogging rows name the SDK helper; unresolved cells are ???", () => {
  const rows = rowsOf(
    analyze(fixture("tracelogging_sites.dll"), "--format", "api-to-etw", "-q").stdout,
  ).filter((c) => c[6] === "-");
  assert.ok(rows.length > 0);
  assert.ok(
    rows.every((c) => c[4] === "_tlgWriteTransfer" || c[4] === "_tlgWriteEx"),
    rows.map((c) => c[4]).join(),
  );
  const ref = rowsOf(
    spawnSync("cat", [corpus("peer-outputs/api-to-etw/ntoskrnl.exe.csv")], { encoding: "utf8" }).stdout,
  );
  const helpers = new Set(ref.filter((c) => c[6] === "-").map((c) => c[4]));
  for (const c of rows) assert.ok(helpers.has(c[4]), `${c[4]} is a helper name the reference writes`);
  // fltMgr.sys without its PDB: WPP provider names are unknown.
  const flt = analyze(corpus("pe/kernel/fltMgr.sys"), "--format", "api-to-etw");
  const wpp = rowsOf(flt.stdout).filter((c) => c[1]!.startsWith("WPP_"));
  assert.ok(wpp.length > 0 && wpp.every((c) => c[1] === "WPP_???"));
  assert.ok(
    rowsOf(flt.stdout).every((c) => c[1] !== ""),
    "no empty ProviderGuid",
  );
  assert.match(flt.stderr, /note: 22 write sites no entry point reaches are not in the api-to-etw CSV/);
});

test("ExportedCallDepth counts the exported functions on the path after the entry (fltMgr.sys)", () => {
  const image = corpus("pe/kernel/fltMgr.sys");
  const pe = parsePe(new Uint8Array(readFileSync(image)));
  const exported = new Set((readExports(pe)?.entries ?? []).map((e) => e.name).filter(Boolean));
  assert.ok(exported.has("FltAttachVolume"));
  const rows = rowsOf(analyze(image, "--format", "api-to-etw", "-q").stdout);
  let deeper = 0;
  for (const c of rows) {
    const path = c
      .slice(16)
      .join(",")
      .replace(/^\[|\]$/g, "")
      .split("->");
    const want = path.slice(1).filter((fn) => exported.has(fn)).length;
    assert.equal(Number(c[15]), want, c.join(","));
    if (want > 0) deeper++;
  }
  assert.ok(deeper > 0, "some paths go through another exported API");
});
