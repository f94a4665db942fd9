import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { analyzeProgram, symbolsFromPdb } from "../../src/analysis/analyze.js";
import { functionAt, functionName } from "../../src/analysis/functions.js";
import { loadProgram } from "../../src/analysis/program.js";
import type { WriteFinding } from "../../src/analysis/recognizers/types.js";
import { tmfForSite, tmfIndex, wppRecognizer } from "../../src/analysis/recognizers/wpp.js";
import { wppEventsFromPdb } from "../../src/catalog/readers/wpp.js";
import { parsePdb } from "../../src/formats/pdb/index.js";
import { parsePe, SCN_MEM_EXECUTE, SCN_MEM_WRITE } from "../../src/formats/pe/index.js";
import { wppFromPdb } from "../../src/formats/wpp/index.js";
import { parseGuid } from "../../src/util/bytes.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";

interface Site {
  guid: string;
  number: number;
  function: string;
  /** `#typev` name (the TMF message name). */
  name?: string;
}

/** Trace calls as the C source declares them: each TMF annotation's GUID, message number and FUNC=. */
function sourceSites(cFile: string): Site[] {
  const text = readFileSync(join(repoRoot, "fixtures-src", cFile), "utf8");
  const out: Site[] = [];
  // String literal bodies may hold escaped quotes (\" in the format string).
  const lit = String.raw`(?:[^"\\]|\\.)*`;
  const re = new RegExp(
    String.raw`L"TMF:",\s*L"([0-9a-f-]{36}) ${lit}",\s*L"#typev (\S+) (\d+) ${lit}FUNC=(\w+)"`,
    "g",
  );
  for (const m of text.matchAll(re))
    out.push({ guid: m[1]!, name: m[2]!, number: Number(m[3]), function: m[4]! });
  return out;
}

const key = (s: Site): string => `${s.guid}:${s.number}:${s.function}`;

function wppFindings(image: string, pdb?: string) {
  const pe = parsePe(new Uint8Array(readFileSync(image)));
  const pdbFile = pdb ? parsePdb(new Uint8Array(readFileSync(pdb))) : undefined;
  const program = loadProgram(pe, { symbols: pdbFile ? symbolsFromPdb(pdbFile) : undefined });
  return { program, pdbFile, findings: wppRecognizer.find(program.context) };
}

function wppEvent(f: WriteFinding) {
  assert.equal(f.event.kind, "wpp");
  return f.event as Extract<WriteFinding["event"], { kind: "wpp" }>;
}

for (const [name, image, writeFunction] of [
  ["wpp_driver", "wpp_driver.sys", "pfnWppTraceMessage"],
  ["wpp_user", "wpp_user.dll", "TraceMessage"],
] as const) {
  const expected = sourceSites(`${name}.c`);

  test(`${image} + PDB: every WPP call site of the C source, with GUID, number, function; TMF join`, () => {
    assert.ok(expected.length >= 3, "source annotations parsed");
    const { program, pdbFile, findings } = wppFindings(
      fixture(image),
      fixture(image.replace(/\.\w+$/, ".pdb")),
    );
    const got = findings.map((f) => {
      const e = wppEvent(f);
      const fn = functionAt(program.functions, f.rva);
      assert.equal(e.messageFlags, 0x2b, "WPP_TRACE_OPTIONS");
      assert.equal(f.writeFunction, writeFunction);
      return {
        guid: e.messageGuid ?? "?",
        number: e.messageNumber ?? -1,
        function: fn ? functionName(fn) : "?",
      };
    });
    assert.deepEqual(got.map(key).sort(), expected.map(key).sort());
    // Joined to the PDB's TMF messages: the message's FUNC= is the site's function.
    const index = tmfIndex(wppFromPdb(pdbFile!).messages);
    for (const [i, f] of findings.entries()) {
      const tmf = tmfForSite(index, wppEvent(f));
      assert.ok(tmf, `TMF message for ${key(got[i]!)}`);
      assert.equal(tmf.function, got[i]!.function);
    }
  });

  test(`${image} analyze + PDB TMF catalog: rows carry the message name, format and control GUID`, () => {
    const { program, pdbFile } = wppFindings(fixture(image), fixture(image.replace(/\.\w+$/, ".pdb")));
    const catalog = wppEventsFromPdb(pdbFile!, image.replace(/\.\w+$/, ".pdb"));
    const rows = analyzeProgram(program, { catalog }).rows.filter((r) => r.event.kind === "wpp");
    const controls = new Map(wppFromPdb(pdbFile!).controls.map((c) => [c.name, c.guid]));
    assert.equal(new Set(rows.map((r) => r.site.rva)).size, expected.length);
    for (const r of rows) {
      const want = expected.find((s) => s.guid === r.event.messageGuid && s.number === r.event.messageNumber);
      assert.ok(want, `row ${r.site.rva} matches a source trace call`);
      assert.equal(r.event.name, want.name);
      assert.equal(typeof r.event.message, "string");
      assert.ok(
        r.provider.guid && [...controls.values()].includes(r.provider.guid),
        "provider = a TMC control GUID",
      );
    }
  });

  test(`${image} without PDB: the same (GUID, number) pairs`, () => {
    const { findings } = wppFindings(fixture(image));
    const got = findings.map((f) => `${wppEvent(f).messageGuid}:${wppEvent(f).messageNumber}`).sort();
    assert.deepEqual(got, expected.map((s) => `${s.guid}:${s.number}`).sort());
  });
}

/** True when the 16 bytes of `guid` occur in a read-only, non-code section of the image. */
function guidInReadOnlyData(pe: ReturnType<typeof parsePe>, guid: string): boolean {
  const needle = Buffer.from(parseGuid(guid));
  for (const s of pe.sections) {
    if (s.characteristics & (SCN_MEM_WRITE | SCN_MEM_EXECUTE)) continue;
    const data = Buffer.from(pe.bytes.subarray(s.rawOffset, s.rawOffset + s.rawSize));
    if (data.indexOf(needle) >= 0) return true;
  }
  return false;
}

for (const rel of [
  "pe/kernel/IPMIDRV.sys",
  "pe/kernel/fltMgr.sys",
  "pe/kernel/win32kns_10.0.19041.508.sys",
  "pe/user/ipnathlp.dll",
  "pe/user/win32spl_10.0.19041.508.dll",
]) {
  test(`WPP sites on ${rel}: found, GUIDs in read-only data, small message numbers`, () => {
    const { program, findings } = wppFindings(corpus(rel));
    const full = findings.filter((f) => {
      const e = wppEvent(f);
      return e.messageGuid !== undefined && e.messageNumber !== undefined;
    });
    const guids = new Set(full.map((f) => wppEvent(f).messageGuid!));
    const apis = new Set(findings.map((f) => f.writeFunction));
    const share = full.length / findings.length;
    console.log(
      `${rel}: ${findings.length} WPP sites (${[...apis].join(", ")}), ${full.length} with GUID+number (${(100 * share).toFixed(1)}%), ${guids.size} message GUIDs`,
    );
    assert.ok(findings.length >= 10, "WPP sites found");
    assert.ok(share >= 0.9, `${(100 * share).toFixed(1)}% fully resolved`);
    for (const g of guids) assert.ok(guidInReadOnlyData(program.pe, g), `GUID ${g} bytes in read-only data`);
    for (const f of full) {
      const n = wppEvent(f).messageNumber!;
      // tracewpp numbers messages from 10 upward per message GUID.
      assert.ok(n >= 10 && n < 1024, `message number ${n}`);
    }
  });
}

test("smss (no TraceMessage-family import): no WPP sites invented", () => {
  const { findings } = wppFindings(corpus("pe/user/smss_10.0.22000.778.exe"));
  assert.equal(findings.length, 0);
});
