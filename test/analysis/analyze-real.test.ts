/**
 * Real kernel drivers with compiled manifests: the (provider GUID, descriptor) pairs the analysis
 * resolves must exist in the binary's own WEVT_TEMPLATE, and most manifest events must be found at
 * some write site.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { analyzeImage, ownCatalog } from "../../src/analysis/analyze.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { corpus } from "../helpers/corpus.js";

interface Case {
  file: string;
  /** Lowest acceptable share of WEVT events found at a site (measured, minus a margin). */
  minCoverage: number;
}

// Coverage floors sit a little below what the analysis measures today; events whose descriptor
// no code references at all (dxgkrnl: 7 of 14) cannot be found by any call-site analysis.
const CASES: Case[] = [
  { file: "pe/kernel/win32k_6.1.7601.17514.sys", minCoverage: 0.9 },
  { file: "pe/kernel/dxgkrnl_6.1.7601.17514.sys", minCoverage: 0.45 },
  { file: "pe/kernel/win32kbase_10.0.17134.523.sys", minCoverage: 0.88 },
  { file: "pe/kernel/win32kbase_10.0.19041.508.sys", minCoverage: 0.88 },
  { file: "pe/kernel/ci_6.1.7601.dll", minCoverage: 0.8 },
  { file: "pe/kernel/fltMgr.sys", minCoverage: 0.75 },
];

const descriptorKey = (guid: string, d: Record<string, unknown>) =>
  [guid, d.id, d.version, d.channel, d.level, d.opcode, d.task, d.keyword].join("|");

for (const c of CASES) {
  test(`analyze ${c.file}: resolved descriptors exist in its WEVT_TEMPLATE`, () => {
    const bytes = new Uint8Array(readFileSync(corpus(c.file)));
    const pe = parsePe(bytes);
    const catalog = ownCatalog(pe, c.file, bytes);
    const wevt = catalog.events.filter((e) => e.kind === "manifest");
    assert.ok(wevt.length > 0, "the binary has WEVT_TEMPLATE events");
    const wevtGuids = new Set(wevt.map((e) => e.provider.guid));
    const wevtKeys = new Set(
      wevt.map((e) =>
        descriptorKey(e.provider.guid, {
          id: e.id,
          version: e.version,
          channel: e.channel?.value ?? 0,
          level: e.level?.value ?? 0,
          opcode: e.opcode?.value ?? 0,
          task: e.task?.value ?? 0,
          keyword: e.keywords.mask,
        }),
      ),
    );
    const report = analyzeImage(pe, { catalog });
    const pairs = new Set<string>();
    for (const f of report.findings) {
      if (f.event.kind !== "manifest" || !f.event.descriptor || !f.provider?.guid) continue;
      // Pairs of providers the manifest does not define (e.g. SQM in win32k) cannot be checked.
      if (!wevtGuids.has(f.provider.guid)) continue;
      pairs.add(descriptorKey(f.provider.guid, f.event.descriptor as unknown as Record<string, unknown>));
    }
    const matched = [...pairs].filter((k) => wevtKeys.has(k));
    const precision = matched.length / pairs.size;
    const coverage = matched.length / wevtKeys.size;
    console.log(
      `${c.file}: ${pairs.size} resolved pairs, ${(100 * precision).toFixed(1)}% in WEVT_TEMPLATE; ` +
        `${matched.length}/${wevtKeys.size} manifest events found at a site (${(100 * coverage).toFixed(1)}%)`,
    );
    assert.ok(pairs.size > 0);
    assert.ok(
      precision >= 0.99,
      `only ${(100 * precision).toFixed(1)}% of resolved pairs are in WEVT_TEMPLATE`,
    );
    assert.ok(
      coverage >= c.minCoverage,
      `coverage ${(100 * coverage).toFixed(1)}% < ${100 * c.minCoverage}%`,
    );
    // Joined names come from the same WEVT_TEMPLATE.
    const named = report.rows.filter((r) => r.event.kind === "manifest" && r.event.name);
    assert.ok(named.length > 0, "rows carry event names from WEVT_TEMPLATE");
  });
}

test("analyze negative control: a driver without ETW has no write sites", () => {
  const pe = parsePe(new Uint8Array(readFileSync(corpus("pe/kernel/WinDivert64.sys"))));
  const report = analyzeImage(pe);
  assert.equal(report.findings.length, 0);
  assert.ok(report.entries.length > 0, "entry points are still found");
});
