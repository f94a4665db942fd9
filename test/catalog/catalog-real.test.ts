// The catalog engine on real data: manifests from the corpus, read by the registered readers.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { diffStores } from "../../src/catalog/diff.js";
import { exportTsv } from "../../src/catalog/export.js";
import { getEvent, searchEvents } from "../../src/catalog/search.js";
import { CatalogStore, flattenFields } from "../../src/catalog/store.js";
import { readers } from "../../src/pipeline/readers.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { scanPathsParallel } from "../../src/pipeline/scan-parallel.js";
import { unpackTarXz } from "../../src/util/tar-xz.js";
import { corpus } from "../helpers/corpus.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-catalog-real-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Extracts named members of the 2,417-manifest archive into a fresh directory. */
function extract(name: string, members: string[]): string {
  return unpackTarXz(corpus("manifests/tdh-reconstructed-all.tar.xz"), join(tmp, name), members);
}

// Independent oracle over the raw XML (regular expressions, not our parser): the events whose
// template mentions a field, or whose keywords attribute names a keyword.
function templatesWithField(xml: string, field: string): Set<string> {
  const out = new Set<string>();
  for (const m of xml.matchAll(/<template\s+tid="([^"]+)"\s*>([\s\S]*?)<\/template>/g))
    if (new RegExp(`\\bname="${field}"`, "i").test(m[2]!)) out.add(m[1]!);
  return out;
}
function countEvents(xml: string, pred: (attrs: string) => boolean): number {
  return [...xml.matchAll(/<event\s([^>]*?)\/?>/g)].filter((m) => /\bvalue="/.test(m[1]!) && pred(m[1]!))
    .length;
}
function oracleFieldCount(xmls: string[], field: string): number {
  let n = 0;
  for (const xml of xmls) {
    const tids = templatesWithField(xml, field);
    n += countEvents(xml, (a) => tids.has(/\btemplate="([^"]+)"/.exec(a)?.[1] ?? ""));
  }
  return n;
}

describe("export TSV matches Windows10EtwEvents for providers in both", () => {
  const peer = (provider: string) =>
    readFileSync(corpus(`peer-outputs/windows10etwevents/26H1/manifest/${provider}.tsv`), "utf8")
      .split("\n")
      .filter(Boolean);
  let out: string;
  let builds: string[];
  before(() => {
    const store = CatalogStore.open(":memory:");
    const s = scanPaths([corpus("manifests/tdh-reconstructed")], { readers, store });
    assert.equal(s.failed.length, 0, JSON.stringify(s.failed));
    out = join(tmp, "w10");
    exportTsv(store.events(), out);
    builds = [...new Set([...store.events()].map((e) => e.provenance.build ?? ""))];
    store.close();
  });

  // The reconstructed manifests come from older builds than the peer's 26H1: rows the two share
  // by (event id, version) must be identical, column for column; newer events only in 26H1 are ignored.
  for (const [build, provider] of [
    ["10.0.18990", "Microsoft-Windows-Subsys-SMSS"],
    ["10.0.18990", "Microsoft-Windows-Subsys-Csr"],
    ["10.0.17134", "Microsoft-Windows-FilterManager"],
    ["10.0.17134", "Microsoft-Windows-SharedAccess_NAT"],
    ["10.0.17134", "Microsoft-Windows-Kernel-EventTracing"],
  ] as const) {
    test(`${provider} (${build})`, () => {
      assert.ok(builds.includes(build), `build ${build} not among ${builds.join(", ")}`);
      const ours = readFileSync(join(out, build, "manifest", `${provider}.tsv`), "utf8").split("\n");
      assert.equal(ours.at(-1), "", "file ends with a newline");
      ours.pop();
      const theirs = peer(provider);
      assert.equal(ours[0], theirs[0], "header line");
      const key = (line: string) => line.split("\t").slice(1, 3).join("/");
      const theirsByKey = new Map(theirs.slice(1).map((l) => [key(l), l]));
      let shared = 0;
      for (const line of ours.slice(1)) {
        assert.equal(line.split("\t").length, 10, line);
        const other = theirsByKey.get(key(line));
        if (other === undefined) continue;
        shared++;
        assert.equal(line, other);
      }
      assert.ok(shared >= Math.min(4, ours.length - 1), `only ${shared} shared rows`);
      // Ids increase (then versions), as in Windows10EtwEvents.
      const ids = ours.slice(1).map((l) => l.split("\t").slice(1, 3).map(Number) as [number, number]);
      for (let i = 1; i < ids.length; i++)
        assert.ok(
          ids[i - 1]![0] < ids[i]![0] || (ids[i - 1]![0] === ids[i]![0] && ids[i - 1]![1] < ids[i]![1]),
        );
    });
  }
});

describe("MOF export matches Windows10EtwEvents Windows_Kernel_Trace.tsv", () => {
  test("shared (category, event type, version) rows are identical", () => {
    const store = CatalogStore.open(":memory:");
    const s = scanPaths([corpus("mof/wmicore.mof")], { readers, store });
    assert.deepEqual(s.failed, []);
    const out = join(tmp, "mof");
    exportTsv(store.events(), out);
    store.close();
    const ours = readFileSync(join(out, "mof", "Windows_Kernel_Trace.tsv"), "utf8")
      .trim()
      .split("\n");
    const theirs = readFileSync(
      corpus("peer-outputs/windows10etwevents/26H1/mof/Windows_Kernel_Trace.tsv"),
      "utf8",
    )
      .trim()
      .split("\n");
    assert.equal(ours[0], theirs[0], "header line");
    const key = (l: string) => l.split("\t").slice(1, 4).join("/");
    const theirsByKey = new Map(theirs.slice(1).map((l) => [key(l), l]));
    let shared = 0;
    let caseOnly = 0;
    for (const line of ours.slice(1)) {
      assert.equal(line.split("\t").length, 7, line);
      const other = theirsByKey.get(key(line));
      if (other === undefined) continue;
      shared++;
      if (line === other) continue;
      // The WDK's wmicore.mof spells a few property names with another letter case than the
      // 26H1 registration (StackWalk "Key" vs "key"); nothing else may differ.
      assert.equal(line.toLowerCase(), other.toLowerCase());
      caseOnly++;
    }
    assert.ok(shared > 400, `only ${shared} shared rows`);
    assert.ok(caseOnly < shared / 50, `${caseOnly} case-only differences`);
  });
});

describe("scan of a directory with damaged real files", () => {
  test("a truncated manifest is reported as failed; the other files are still read", () => {
    const dir = join(tmp, "damaged");
    mkdirSync(dir, { recursive: true });
    const good = readFileSync(
      corpus("manifests/tdh-reconstructed/Win10-18990_Microsoft-Windows-Subsys-SMSS.xml"),
    );
    const other = readFileSync(
      corpus("manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-FilterManager.xml"),
    );
    writeFileSync(join(dir, "a-truncated.xml"), other.subarray(0, other.length >> 1));
    writeFileSync(join(dir, "b-good.xml"), good);
    writeFileSync(join(dir, "c-empty.xml"), "");
    const store = CatalogStore.open(":memory:");
    const s = scanPaths([dir], { readers, store });
    assert.equal(s.failed.length, 1);
    assert.equal(basename(s.failed[0]!.path), "a-truncated.xml");
    assert.match(s.failed[0]!.error, /manifest-xml/);
    assert.equal(s.read, 1);
    assert.equal(
      s.events,
      countEvents(good.toString("utf8"), () => true),
    );
    assert.deepEqual(s.skippedByReason, { "empty file": 1 });
    assert.equal(store.getFile(join(dir, "a-truncated.xml"))?.status, "failed");
    store.close();
  });
});

describe("parallel scan", () => {
  test("worker threads build the same catalog as the sequential scan", async () => {
    const inputs = [corpus("manifests/tdh-reconstructed"), corpus("mof"), corpus("pe/kernel/fltMgr.sys")];
    const seq = CatalogStore.open(":memory:");
    const a = scanPaths(inputs, { readers, store: seq });
    const par = CatalogStore.open(join(tmp, "parallel.db"));
    const b = await scanPathsParallel(inputs, { store: par, jobs: 2 });
    assert.ok(a.events > 1000);
    assert.deepEqual({ ...b, elapsedMs: 0 }, { ...a, elapsedMs: 0 });
    assert.deepEqual([...par.events()], [...seq.events()]);
    // and a re-scan through the workers skips everything by hash
    const c = await scanPathsParallel(inputs, { store: par, jobs: 2 });
    assert.equal(c.unchanged, a.files);
    seq.close();
    par.close();
  });
});

describe("diff between two Windows builds of Microsoft-Windows-Kernel-Process", () => {
  test("17134 → 18990: version bumps with the added fields", () => {
    const member = (b: string) => `Manifests-Win10-${b}/Microsoft-Windows-Kernel-Process.xml`;
    const dir = extract("kp", [member("17134"), member("18990")]);
    const open = (b: string) => {
      const store = CatalogStore.open(":memory:");
      const s = scanPaths([join(dir, member(b))], { readers, store });
      assert.equal(s.read, 1);
      return store;
    };
    const a = open("17134");
    const b = open("18990");
    const d = diffStores(a, b);
    // Oracle from the catalogs themselves: each (id, version) only in the new build, with the
    // field names that the highest older version of that id lacks.
    const oldEv = [...a.events()];
    const newEv = [...b.events()];
    const expected = newEv
      .filter((e) => !oldEv.some((o) => o.id === e.id && o.version === e.version))
      .map((e) => {
        const prev = oldEv
          .filter((o) => o.id === e.id && o.version < e.version)
          .sort((x, y) => y.version - x.version)[0];
        return { e, prev };
      })
      .filter((x) => x.prev !== undefined);
    assert.ok(expected.length > 0, "the two builds differ");
    const bumps = d.filter((x) => x.subject === "version" && x.change === "added");
    assert.deepEqual(
      bumps.map((x) => `${x.eventId}/${x.version}`).sort(),
      expected.map((x) => `${x.e.id}/${x.e.version}`).sort(),
    );
    for (const { e, prev } of expected) {
      const before = new Set(flattenFields(prev!.fields).map((f) => f.path));
      const added = flattenFields(e.fields)
        .map((f) => f.path)
        .filter((p) => !before.has(p));
      const reported = d
        .filter(
          (x) =>
            x.subject === "field" && x.change === "added" && x.eventId === e.id && x.version === e.version,
        )
        .map((x) => x.item);
      assert.deepEqual(reported, added);
    }
    // ProcessStart gained ProcessSequenceNumber in this window (the seed article's example field family).
    assert.ok(
      d.some((x) => x.subject === "field" && x.eventId === 1 && x.item === "ProcessSequenceNumber"),
      "ProcessStart field ProcessSequenceNumber added",
    );
    assert.deepEqual(diffStores(b, b), []);
    // both builds in one catalog, compared with --old-build/--new-build
    const both = CatalogStore.open(":memory:");
    scanPaths([dir], { readers, store: both });
    assert.deepEqual(diffStores(both, both, { build: "10.0.17134" }, { build: "10.0.18990" }), d);
    assert.deepEqual(
      diffStores(
        both,
        both,
        { build: "10.0.17134", provider: "nomatch*" },
        { build: "10.0.18990", provider: "nomatch*" },
      ),
      [],
    );
    both.close();
    a.close();
    b.close();
  });
});

describe("seed queries on a real catalog", () => {
  const members = [
    "Manifests-Win10-18990/Microsoft-Windows-Kernel-Process.xml",
    "Manifests-Win10-18990/Microsoft-Windows-Kernel-General.xml",
    "Manifests-Win10-18990/Microsoft-Windows-Threat-Intelligence.xml",
    "Manifests-Win10-18990/Microsoft-Windows-Security-Mitigations.xml",
    "Manifests-Win10-18990/Microsoft-Windows-Win32k.xml",
    "Manifests-Win10-18990/Microsoft-Windows-PowerShell.xml",
    "Manifests-Win10-18990/Microsoft-Windows-RPC.xml",
    "Manifests-Win10-17134/Microsoft-Windows-SEC.xml",
    "Manifests-Win10-17134/Microsoft-Windows-AppLocker.xml",
    "Manifests-Win10-17134/Microsoft.Diagnostics.Tracing.TraceEvent.xml",
    "Manifests-Win10-17134/Microsoft.Diagnostics.FastSerialization.xml",
  ];
  let store: CatalogStore;
  let xmls: string[];
  before(() => {
    const dir = extract("seed", members);
    store = CatalogStore.open(join(tmp, "seed.db"));
    const s = scanPaths([dir], { readers, store });
    assert.deepEqual(s.failed, []);
    // the two .NET documentation files are not manifests: skipped with a reason, not failures
    assert.deepEqual(s.skipped.map((x) => basename(x.path)).sort(), [
      "Microsoft.Diagnostics.FastSerialization.xml",
      "Microsoft.Diagnostics.Tracing.TraceEvent.xml",
    ]);
    xmls = members
      .filter((m) => !m.includes("Microsoft.Diagnostics"))
      .map((m) => readFileSync(join(dir, m), "utf8"));
    assert.equal(
      store.eventCount(),
      xmls.reduce((n, x) => n + countEvents(x, () => true), 0),
    );
  });
  after(() => store.close());

  const fieldQuery = (field: string, matches: RegExp) => {
    const rows = searchEvents(store.db, { field, limit: -1 });
    for (const r of rows) {
      const ev = getEvent(store.db, r.rowid)!;
      assert.ok(flattenFields(ev.fields).some((f) => matches.test(f.field.name)));
    }
    return rows;
  };

  test("events with a ProcessStartKey field", () => {
    const rows = fieldQuery("ProcessStartKey", /^ProcessStartKey$/i);
    assert.equal(rows.length, oracleFieldCount(xmls, "ProcessStartKey"));
    assert.ok(rows.some((r) => r.provider === "Microsoft-Windows-Security-Mitigations"));
    // Threat-Intelligence names them TargetProcessStartKey, CallingProcessStartKey, ...: a glob finds those too
    const any = fieldQuery("*ProcessStartKey", /ProcessStartKey$/i);
    assert.equal(any.length, oracleFieldCount(xmls, '[^"]*ProcessStartKey'));
    assert.ok(any.some((r) => r.provider === "Microsoft-Windows-Threat-Intelligence"));
    assert.ok(any.length > rows.length);
  });

  test("events whose fields mention TargetProcessId", () => {
    const rows = fieldQuery("TargetProcessId", /^TargetProcessId$/i);
    assert.equal(rows.length, oracleFieldCount(xmls, "TargetProcessId"));
    assert.ok(rows.length > 0);
  });

  test("event names starting task_", () => {
    const rows = searchEvents(store.db, { name: "task_*", limit: -1 });
    assert.ok(rows.length > 0);
    for (const r of rows) assert.ok(r.name.toLowerCase().startsWith("task_"), r.name);
    // '_' is literal: "taskX..." names would not match
    const all = searchEvents(store.db, { limit: -1 });
    assert.equal(rows.length, all.filter((r) => r.name.toLowerCase().startsWith("task_")).length);
  });

  test("events enabled by keyword KERNEL_GENERAL_SECURITY_ACCESSCHECK", () => {
    const rows = searchEvents(store.db, { keyword: "KERNEL_GENERAL_SECURITY_ACCESSCHECK", limit: -1 });
    const expected = xmls.reduce(
      (n, x) => n + countEvents(x, (a) => /\bkeywords="[^"]*\bKERNEL_GENERAL_SECURITY_ACCESSCHECK\b/.test(a)),
      0,
    );
    assert.equal(rows.length, expected);
    assert.ok(rows.length > 0);
    // the same events through the mask of that keyword
    const mask = getEvent(store.db, rows[0]!.rowid)!.keywords.mask;
    const byMask = searchEvents(store.db, {
      keyword: mask,
      provider: "Microsoft-Windows-Kernel-General",
      limit: -1,
    });
    assert.ok(byMask.length >= rows.length);
  });

  test("named-pipe events by full text", () => {
    const rows = searchEvents(store.db, { text: "named pipe", limit: -1 });
    assert.ok(rows.length > 0);
    for (const r of rows) {
      const ev = getEvent(store.db, r.rowid)!;
      const hay = [
        ev.provider.name,
        ev.name,
        ev.symbol,
        ev.task?.name,
        ev.opcode?.name,
        ev.message,
        ...ev.keywords.names,
        ...flattenFields(ev.fields).map((f) => f.path),
      ]
        .join(" ")
        .toLowerCase();
      assert.ok(hay.includes("named") && hay.includes("pipe"), ev.name);
    }
    const symbols = xmls.reduce((n, x) => n + countEvents(x, (a) => /\bsymbol="[^"]*NamedPipe/i.test(a)), 0);
    assert.ok(rows.length >= symbols, `${rows.length} < ${symbols} NamedPipe symbols`);
  });
});
