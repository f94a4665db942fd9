/**
 * Whole-build recall patterns (issue 16): registration wrappers / published handles, classic MOF
 * writes, APIs resolved at run time, table-indexed descriptors — on the hand-checked fixture
 * recall_patterns.dll and on the real 1607 System32 sample (builds/10.0.14393-sample).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { analyzeImage, type SiteRow, symbolsFromPdb } from "../../src/analysis/analyze.js";
import { type ImageRecall, recallOfReport } from "../../src/analysis/recall.js";
import type { SourceResult } from "../../src/catalog/model.js";
import { mofReader } from "../../src/catalog/readers/mof.js";
import { parsePdb } from "../../src/formats/pdb/index.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { ownCatalog } from "../../src/pipeline/readers.js";
import { parseGuid } from "../../src/util/bytes.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";

const expected = JSON.parse(
  readFileSync(join(repoRoot, "fixtures-src", "recall_patterns.expected.json"), "utf8"),
) as {
  providers: Record<string, string>;
  sites: Array<{
    function: string;
    /** The PDB's name of the function when the export's differs (a decorated name set by asm label). */
    pdbFunction?: string;
    writeFunction: string;
    provider: string;
    id?: number;
    version?: number;
    oneOf?: number[];
  }>;
  classic: Array<{
    function: string;
    writeFunction: string;
    provider: string;
    classGuid: string;
    eventType: number;
    level: number;
    version: number;
    name: string;
  }>;
  writable: number;
  found: number;
  foundAsCandidate: number;
  misses: Record<string, number[]>;
};

function fixtureReport(withPdb: boolean) {
  const bytes = new Uint8Array(readFileSync(fixture("recall_patterns.dll")));
  const pe = parsePe(bytes);
  const own = ownCatalog(pe, "recall_patterns.dll", bytes);
  const mof = mofReader.read({
    path: "recall_patterns.mof",
    bytes: new Uint8Array(readFileSync(join(repoRoot, "fixtures-src", "recall_patterns.mof"))),
  });
  const catalog: SourceResult = {
    providers: [...own.providers, ...mof.providers],
    events: [...own.events, ...mof.events],
    notes: [],
  };
  const symbols = withPdb
    ? symbolsFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("recall_patterns.pdb")))))
    : undefined;
  const report = analyzeImage(pe, { catalog, ...(symbols ? { symbols } : {}) });
  return { report, own };
}

/**
 * Rows of the fixture reported at the exported function itself (depth 1; the PDB may name the
 * function apart from its export, a decorated name set by an asm label).
 */
const ownRows = (rows: SiteRow[]) => rows.filter((r) => r.depth === 1);

for (const withPdb of [true, false]) {
  test(`recall_patterns fixture (${withPdb ? "PDB" : "exports only"}): every expected row, nothing extra`, () => {
    const { report, own } = fixtureReport(withPdb);
    const rows = ownRows(report.rows);
    const describe = (r: SiteRow) =>
      `${r.site.function} ${r.writeFunction} ${r.provider.guid} ${r.event.kind} ${r.event.id}/${r.event.version}`;
    // 1 + 3: manifest writes, incl. the handle published by cmpxchg, the context member, the
    // dynamically resolved EventWrite, constant table indices through a helper; 7: descriptors
    // and GUIDs the code fills at run time (global slots, constructed objects, per-level copies).
    const manifest = rows.filter((r) => r.event.kind === "manifest");
    for (const want of expected.sites) {
      // provider "none": the analysis must not name one (objects that only share an offset).
      const got = manifest.filter(
        (r) =>
          r.site.function === (withPdb ? (want.pdbFunction ?? want.function) : want.function) &&
          r.provider.guid === (want.provider === "none" ? undefined : expected.providers[want.provider]),
      );
      if (want.oneOf) {
        // One row per table the site reads (a site may pick from two: WritePageEvent's fields).
        const tables = got.filter((r) => r.event.table !== undefined);
        const same = tables.filter(
          (r) =>
            JSON.stringify((r.event.candidates as Array<{ id: number }>).map((c) => c.id)) ===
            JSON.stringify(want.oneOf),
        );
        assert.equal(same.length, 1, `${want.function}: one site for the table ${want.oneOf}`);
        assert.ok(tables.length === got.length, `${want.function}: no guess of one entry beside its tables`);
        const ev = same[0]!.event;
        assert.equal(ev.id, undefined, "no guess of one entry");
        // A table indexed at run time, or a virtual getter each class overrides (StartStep).
        assert.match(
          String(ev.table),
          new RegExp(
            `^one of ${want.oneOf.length} descriptors (in table 0x|returned by the getters in vtable slot 0x)`,
          ),
        );
        continue;
      }
      assert.ok(
        got.some(
          (r) =>
            r.event.id === want.id &&
            r.event.version === want.version &&
            r.writeFunction === want.writeFunction,
        ),
        `${want.function}: ${want.id}/${want.version} with provider ${want.provider}; got ${got.map(describe).join("; ")}`,
      );
    }
    assert.equal(manifest.length, expected.sites.length, manifest.map(describe).join("\n"));
    // 2: classic writes with class GUID, type, level, version, control GUID, MOF join.
    const classic = rows.filter((r) => r.event.kind === "mof");
    assert.equal(classic.length, expected.classic.length, classic.map(describe).join("\n"));
    for (const want of expected.classic) {
      const r = classic.find((x) => x.site.function === want.function);
      assert.ok(r, want.function);
      assert.equal(r.writeFunction, want.writeFunction);
      assert.equal(r.provider.guid, expected.providers[want.provider]);
      assert.equal(r.event.classGuid, want.classGuid);
      assert.equal(r.event.eventType, want.eventType);
      assert.equal(r.event.level, want.level);
      assert.equal(r.event.version, want.version);
      assert.equal(r.event.name, want.name);
    }
    // 8: a virtual method (reached only through its vtable) writes the handle its class's
    // constructor registered; the same offset in another class's method names nothing. With the
    // PDB only: this fixture has no .pdata, so without symbols the methods are no function starts.
    if (withPdb) {
      const at = (id: number) =>
        report.findings.filter((f) => f.event.kind === "manifest" && f.event.descriptor?.id === id);
      const method = at(410);
      assert.equal(method.length, 1);
      assert.equal(report.program.context.symbolAt(method[0]!.function), "CodecMethodProcess");
      assert.equal(method[0]!.provider?.guid, expected.providers.V);
      const plain = at(411);
      assert.equal(plain.length, 1);
      assert.equal(report.program.context.symbolAt(plain[0]!.function), "PlainProcess");
      assert.equal(plain[0]!.provider?.guid, undefined);
    }
    // 3: the global GetProcAddress filled.
    assert.deepEqual(
      report.program.dynamicImports.map((d) => [d.name, d.resolver]),
      [["EventWrite", "GetProcAddress"]],
    );
    // The recall figure and its misses by cause.
    const recall = recallOfReport(report, own.events);
    assert.equal(recall.writable, expected.writable);
    assert.equal(recall.found, expected.found);
    assert.equal(
      recall.foundAsCandidate,
      expected.foundAsCandidate,
      "found only as one of N table candidates",
    );
    const causes: Record<string, number[]> = {};
    for (const m of recall.misses) (causes[m.cause] ??= []).push(m.event.id);
    assert.deepEqual(causes, expected.misses);
    // Null-handle sites are counted apart: WriteNullHandle and WriteNullContext (HandleNever's is an unwritten global).
    assert.equal(recall.descriptorSitesNullHandle, 2);
    assert.equal(recall.descriptorSitesUnwrittenHandle, 1);
    // WriteImported reads its handle through a data import: another module's, counted apart.
    assert.equal(recall.descriptorSitesImportedHandle, 1);
    const imported = report.findings.filter((f) => f.provider?.importedHandle);
    assert.deepEqual(
      imported.map((f) => [
        f.event.kind === "manifest" ? f.event.descriptor?.id : -1,
        f.provider?.importedHandle,
      ]),
      [[400, "NlsAnsiCodePage"]],
    );
  });
}

// ---- the real 1607 sample ----

const SAMPLE = "builds/10.0.14393-sample";

interface Measured {
  file: string;
  report: ReturnType<typeof analyzeImage>;
  recall: ImageRecall;
  bytes: Uint8Array;
}

const measured = new Map<string, Measured>();
function measure(file: string): Measured {
  let m = measured.get(file);
  if (!m) {
    const bytes = new Uint8Array(readFileSync(corpus(file)));
    const pe = parsePe(bytes);
    const catalog = ownCatalog(pe, file, bytes);
    const report = analyzeImage(pe, { catalog });
    m = { file, report, recall: recallOfReport(report, catalog.events), bytes };
    measured.set(file, m);
  }
  return m;
}

const inImage = (bytes: Uint8Array, guid: string) =>
  Buffer.from(bytes).indexOf(Buffer.from(parseGuid(guid))) >= 0;

/**
 * Writable events found per file (measured; the test fails when any drops). Before this work:
 * 38 of 85 (qwave 0 of 22). fhsvc's 24 misses are events of four providers it does not register
 * (their GUIDs are not in its code or data) whose descriptors equal its own providers' ones.
 */
const SAMPLE_FLOORS: Array<{ file: string; kind: string; writable: number; found: number }> = [
  { file: "qwave.dll", kind: "service DLL", writable: 22, found: 22 },
  { file: "fhsvc.dll", kind: "service DLL", writable: 40, found: 16 },
  { file: "sdiagschd.dll", kind: "COM/UI DLL", writable: 15, found: 14 },
  { file: "userenv.dll", kind: "COM/UI DLL", writable: 8, found: 8 },
  { file: "vsstrace.dll", kind: "other DLL", writable: 0, found: 0 },
  { file: "dxva2.dll", kind: "other DLL", writable: 0, found: 0 },
];

test("14393 sample: writable manifest events found per image and kind (must not regress)", () => {
  let writable = 0;
  let found = 0;
  let descriptorSites = 0;
  let withProvider = 0;
  for (const f of SAMPLE_FLOORS) {
    const { recall } = measure(`${SAMPLE}/${f.file}`);
    console.log(
      `${f.file} (${recall.kind}): ${recall.found}/${recall.writable} writable events found; misses ${JSON.stringify(
        Object.fromEntries(
          recall.misses.map((m) => [m.cause, recall.misses.filter((x) => x.cause === m.cause).length]),
        ),
      )}`,
    );
    assert.equal(recall.kind, f.kind, f.file);
    assert.equal(recall.writable, f.writable, `${f.file} writable`);
    assert.ok(recall.found >= f.found, `${f.file}: ${recall.found} found, floor ${f.found}`);
    writable += recall.writable;
    found += recall.found;
    descriptorSites += recall.descriptorSites;
    withProvider += recall.descriptorSitesWithProvider;
  }
  console.log(
    `sample: ${found}/${writable}; descriptor sites with provider ${withProvider}/${descriptorSites}`,
  );
  assert.equal(writable, 85);
  assert.ok(found >= 60, `${found} of 85 (38 before)`);
  assert.ok(withProvider >= 0.98 * descriptorSites, `${withProvider}/${descriptorSites} with provider`);
  // fhsvc: every miss is an event of a provider the image cannot register.
  const fhsvc = measure(`${SAMPLE}/fhsvc.dll`);
  const rsrc = fhsvc.report.program.pe.sections.find((s) => s.name === ".rsrc")!;
  const buf = Buffer.from(fhsvc.bytes);
  for (const m of fhsvc.recall.misses) {
    assert.equal(m.cause, "provider not in image");
    const needle = Buffer.from(parseGuid(m.event.provider.guid!));
    for (let off = buf.indexOf(needle); off >= 0; off = buf.indexOf(needle, off + 1))
      assert.ok(off >= rsrc.rawOffset && off < rsrc.rawOffset + rsrc.rawSize, "GUID only in .rsrc");
  }
});

test("qwave.dll: the handle registered into a local and published with lock cmpxchg names the provider", () => {
  const { report } = measure(`${SAMPLE}/qwave.dll`);
  const manifest = report.findings.filter((f) => f.event.kind === "manifest");
  assert.ok(manifest.length >= 22);
  for (const f of manifest) assert.ok(f.provider?.guid, `site 0x${f.rva.toString(16)} has a provider`);
  const regs = report.program.context.providers.list.filter((p) => p.handleRva !== undefined);
  assert.ok(regs.length >= 1);
});

test("csrsrv (corpus): every descriptor-resolved manifest site has its provider", () => {
  for (const file of ["pe/user/csrsrv_6.1.7601.17514.dll", "pe/user/csrsrv_10.0.22000.778.dll"]) {
    const { recall } = measure(file);
    assert.ok(recall.descriptorSites >= 4, file);
    assert.equal(recall.descriptorSitesWithProvider, recall.descriptorSites, file);
  }
});

// userenv registers its classic providers in a loop over a table of them (`lea rdi,[T]; … mov r8,[rdi];
// … add rdi, 8`): the control GUID is not resolved there, so its sites carry only the class GUID.
test("vsstrace / userenv: classic EtwLogTraceEvent sites with class GUID (vsstrace: tied to its control GUID)", () => {
  for (const [file, min, tied] of [
    ["vsstrace.dll", 1, true],
    ["userenv.dll", 4, false],
  ] as const) {
    const { report, bytes } = measure(`${SAMPLE}/${file}`);
    const classic = report.findings.filter((f) => f.event.kind === "mof");
    console.log(
      `${file}: ${classic.length} classic sites: ${classic.map((f) => (f.event.kind === "mof" ? `${f.event.classGuid}/${f.event.eventType}→${f.provider?.guid}` : "")).join(", ")}`,
    );
    assert.ok(classic.length >= min, `${file}: ${classic.length} classic sites`);
    for (const f of classic) {
      assert.equal(f.writeFunction, "EtwLogTraceEvent");
      if (f.event.kind !== "mof") continue;
      assert.ok(f.event.classGuid && inImage(bytes, f.event.classGuid), "class GUID bytes in the image");
      if (f.provider?.guid) assert.ok(inImage(bytes, f.provider.guid), "control GUID bytes in the image");
    }
    if (tied)
      assert.ok(
        classic.every((f) => f.provider?.guid),
        `${file}: classic sites have their control GUID`,
      );
  }
});

test("dxva2.dll: TraceEvent resolved with GetProcAddress is called through its global; class GUIDs resolved", () => {
  const { report, bytes } = measure(`${SAMPLE}/dxva2.dll`);
  const names = report.program.dynamicImports.map((d) => d.name);
  for (const n of ["TraceEvent", "RegisterTraceGuidsW", "GetTraceLoggerHandle"])
    assert.ok(names.includes(n), n);
  assert.ok(!report.program.imports.has(report.program.dynamicImports[0]!.slot), "slots are not IAT slots");
  const classic = report.findings.filter((f) => f.event.kind === "mof");
  assert.ok(classic.length >= 20, `${classic.length} TraceEvent sites`);
  for (const f of classic) {
    assert.equal(f.writeFunction, "TraceEvent");
    if (f.event.kind === "mof" && f.event.classGuid) assert.ok(inImage(bytes, f.event.classGuid));
  }
  assert.ok(classic.filter((f) => f.event.kind === "mof" && f.event.classGuid).length >= 20);
});

test("win32kns: MmGetSystemRoutineAddress names (RtlInitUnicodeString on the stack) become dynamic imports", () => {
  const { report } = measure("pe/kernel/win32kns_10.0.19041.508.sys");
  const names = report.program.dynamicImports.map((d) => `${d.resolver}:${d.name}`);
  assert.ok(names.includes("MmGetSystemRoutineAddress:WmiTraceMessage"), names.join(", "));
  assert.ok(report.findings.some((f) => f.writeFunction === "WmiTraceMessage"));
});

// d3d11 10.0.18363: a call fills a stack event context with the descriptor's address (+8) before
// the write reads `[ctx+8]` (object-fields.ts): event 1 "Name" gets sites with its descriptor
// (before: none). Their handle is read as `[[ctx+10h]]`, which stays unresolved here.
test("d3d11 (corpus): the descriptor of an event context filled by a call", () => {
  const { report, recall } = measure("pe/user/d3d11_10.0.18363.900.dll");
  const name = report.findings.filter((f) => f.event.kind === "manifest" && f.event.descriptor?.id === 1);
  assert.ok(name.length >= 1, "sites of event 1");
  for (const f of name) assert.equal(f.event.kind === "manifest" && f.event.descriptorRva, 0x1f0ec0);
  assert.ok(recall.found >= 59, `${recall.found} of ${recall.writable}`);
});
