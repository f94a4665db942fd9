import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { analyzeImage, type SiteRow, symbolsFromPdb } from "../../src/analysis/analyze.js";
import { parseKernelNames } from "../../src/analysis/recognizers/kernel.js";
import { API_TO_ETW_HEADER, formatRows } from "../../src/analysis/report.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { parsePdb } from "../../src/formats/pdb/index.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { readers } from "../../src/pipeline/readers.js";
import { rowsToSites } from "../../src/pipeline/sites.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";

interface ExpectedProvider {
  guid: string;
  symbol: string;
  handleSymbol?: string;
}
interface ExpectedRow {
  entry: string;
  callPath: string[];
  wrappers?: string[];
  writeFunction: string;
  provider: string | null;
  event: Record<string, unknown>;
}
const expected = JSON.parse(
  readFileSync(join(repoRoot, "fixtures-src", "etw_patterns.expected.json"), "utf8"),
) as {
  providers: Record<string, ExpectedProvider>;
  rows: ExpectedRow[];
};

const kernelNames = () =>
  parseKernelNames(
    readFileSync(corpus("reference/perfinfo-group-masks.tsv"), "utf8"),
    readFileSync(corpus("reference/perfinfo-log-types.tsv"), "utf8"),
    readFileSync(corpus("reference/event-trace-groups.tsv"), "utf8"),
  );

function analyzeFixture(withPdb: boolean) {
  const pe = parsePe(new Uint8Array(readFileSync(fixture("etw_patterns.sys"))));
  const symbols = withPdb
    ? symbolsFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("etw_patterns.pdb")))))
    : undefined;
  return analyzeImage(pe, { symbols, kernelNames: kernelNames() });
}

/** The comparable part of a row: entry, path, API, provider and event facts. */
function rowKey(
  entry: string | null,
  callPath: string[],
  writeFunction: string,
  event: Record<string, unknown>,
) {
  const keys = Object.keys(event).sort();
  return JSON.stringify([entry, callPath, writeFunction, keys.map((k) => [k, event[k]])]);
}

test("etw_patterns fixture with PDB: every expected row found, no extra rows", () => {
  const report = analyzeFixture(true);
  const actual = report.rows.map((r) => rowKey(r.entry, r.callPath, r.writeFunction, r.event));
  const wanted = expected.rows.map((r) => rowKey(r.entry, r.callPath, r.writeFunction, r.event));
  for (const w of wanted) assert.ok(actual.includes(w), `missing row ${w}\nactual:\n${actual.join("\n")}`);
  for (const a of actual) assert.ok(wanted.includes(a), `extra row ${a}`);
  assert.equal(report.rows.length, expected.rows.length);
});

test("etw_patterns fixture: providers resolved from globals, a wrapper's context and a local handle", () => {
  const report = analyzeFixture(true);
  for (const w of expected.rows) {
    const row = report.rows.find(
      (r) =>
        r.entry === w.entry && r.callPath.join() === w.callPath.join() && r.writeFunction === w.writeFunction,
    ) as SiteRow;
    assert.ok(row, `row for ${w.entry} ${w.callPath.join("->")}`);
    if (w.provider === null) {
      assert.equal(row.provider.guid, undefined);
      continue;
    }
    const p = expected.providers[w.provider]!;
    assert.equal(row.provider.guid, p.guid, `${w.entry}: provider GUID`);
    assert.equal(row.provider.symbol, p.symbol, `${w.entry}: GUID symbol`);
    assert.equal(row.provider.handleSymbol, p.handleSymbol, `${w.entry}: handle symbol`);
    assert.equal(row.depth, w.callPath.length);
    assert.deepEqual(row.wrappers ?? [], w.wrappers ?? [], `${w.entry}: wrappers`);
  }
});

test("etw_patterns fixture without PDB: same events and depths, entries from exports", () => {
  const report = analyzeFixture(false);
  // Without symbols: no names for internals or EtwTraceKernelEvent (not exported), descriptors
  // and GUIDs still resolve.
  const manifest = expected.rows.filter((r) => r.event.kind === "manifest");
  const strip = (e: Record<string, unknown>) =>
    Object.keys(e)
      .filter((k) => k !== "symbol")
      .sort()
      .map((k) => [k, e[k]]);
  const actual = report.rows.map((r) =>
    JSON.stringify([r.entry?.replace(/:.*/, ""), r.depth, strip(r.event)]),
  );
  for (const w of manifest) {
    const key = JSON.stringify([w.entry.replace(/:.*/, ""), w.callPath.length, strip(w.event)]);
    assert.ok(actual.includes(key), `missing ${key}\nactual:\n${actual.join("\n")}`);
  }
  assert.equal(report.rows.length, manifest.length);
});

test("etw_patterns fixture: api-to-etw format has the 17 reference columns", () => {
  const report = analyzeFixture(true);
  const text = formatRows(report.rows, "api-to-etw");
  const lines = text.trimEnd().split("\n");
  const refHeader = readFileSync(corpus("peer-outputs/api-to-etw/ntoskrnl.exe.csv"), "utf8").split(
    /\r?\n/,
  )[0];
  assert.equal(lines[0], refHeader);
  assert.equal(API_TO_ETW_HEADER, refHeader);
  assert.equal(lines.length, 1 + expected.rows.length);
  for (const l of lines.slice(1)) assert.equal(l.split(",").length, 17, l);
  assert.ok(
    lines.includes(
      "NtQueryWidgetStats,Windows Kernel Trace,MEMINFO,MEMORY,EtwTraceKernelEvent,MM_STATS,,,,,,,,MmLogQueryCombineStats,2,0,[NtQueryWidgetStats->MmLogQueryCombineStats]",
    ),
  );
  const jsonl = formatRows(report.rows, "jsonl").trimEnd().split("\n");
  assert.equal(jsonl.length, report.rows.length);
  for (const l of jsonl) assert.ok(JSON.parse(l).callPath.length >= 1);
});

test("analyze: --entry filter and max depth bound the walk", () => {
  const pe = parsePe(new Uint8Array(readFileSync(fixture("etw_patterns.sys"))));
  const symbols = symbolsFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("etw_patterns.pdb")))));
  const one = analyzeImage(pe, { symbols, entries: ["NtCloseWidget"], unreached: false });
  assert.deepEqual(
    one.rows.map((r) => r.callPath.join("->")),
    ["NtCloseWidget->PsCloseWidget->PspLogCloseWidget"],
  );
  const shallow = analyzeImage(pe, { symbols, entries: ["ZwCloseWidget"], maxDepth: 2, unreached: true });
  // Depth 3 is out of reach: the site is reported with no entry.
  assert.deepEqual(
    shallow.rows.filter((r) => r.site.function === "PspLogCloseWidget").map((r) => [r.entry, r.depth]),
    [[null, null]],
  );
  assert.ok(shallow.rows.every((r) => r.entry === null));
});

test("analyze rows stored as catalog code sites round-trip", () => {
  const report = analyzeFixture(true);
  const dir = mkdtempSync(join(tmpdir(), "etw-atlas-sites-"));
  const store = CatalogStore.open(join(dir, "c.db"));
  try {
    store.addSites(rowsToSites("etw_patterns.sys", report.rows));
    const sites = store.sites({ providerGuid: expected.providers.Audit!.guid, eventId: 5 });
    assert.deepEqual(sites.map((s) => s.entry).sort(), [
      "IRP_MJ_DEVICE_CONTROL:DispatchDeviceControl",
      "NtOpenWidget",
    ]);
    for (const s of sites) {
      assert.equal(s.function, "PsOpenWidget");
      assert.equal(s.eventName, "AUDIT_OPEN_WIDGET");
      assert.equal(s.depth, 2);
    }
    assert.equal(store.sites({ file: "etw_patterns.sys" }).length, expected.rows.length);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("etw_patterns fixture: kernel hook ids join to the MOF class and event type", () => {
  const pe = parsePe(new Uint8Array(readFileSync(fixture("etw_patterns.sys"))));
  const symbols = symbolsFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("etw_patterns.pdb")))));
  const mof = readFileSync(corpus("mof/wmicore.mof"));
  const reader = readers.find((r) => r.sniff(new Uint8Array(mof), "wmicore.mof") !== "no")!;
  const catalog = reader.read({ path: "wmicore.mof", bytes: new Uint8Array(mof) });
  const report = analyzeImage(pe, { symbols, kernelNames: kernelNames(), catalog });
  const create = report.rows.find((r) => r.event.hookName === "PROCESS_CREATE")!;
  // PROCESS_CREATE = EVENT_TRACE_GROUP_PROCESS | 1 → the Process class (ProcessGuid), event type 1 (Start).
  assert.equal(create.event.classGuid, "3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c");
  assert.match(String(create.event.mofClass), /^Process_V\d+_TypeGroup1$/);
  assert.match(String(create.event.name), /^Process_Start/);
  assert.ok((create.event.fields as string[]).includes("ProcessId"));
  // MM_STATS (PageFault class, type 0x7C) has no MOF event: no name is made up.
  const stats = report.rows.find((r) => r.event.hookName === "MM_STATS")!;
  assert.equal(stats.event.name, undefined);
});
