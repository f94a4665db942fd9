// The event ↔ code-site join for every kind (catalog/identity.ts + event-sites.ts): WPP events meet
// their trace calls by message GUID + number, kernel MOF event types meet EtwTraceKernelEvent calls by
// hook id, manifest events by GUID + id + version, all within one Windows build. Built fixtures and
// the corpus MOF; fltMgr/IPMIDRV (manifest, TraceLogging) are in scan-sites.test.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { EventSiteJoin, sitesForEvent } from "../../src/catalog/event-sites.js";
import {
  buildsJoin,
  eventFamily,
  eventIdentity,
  kernelHookOf,
  kernelKey,
  manifestKey,
  siteJoinKeys,
  wppKey,
} from "../../src/catalog/identity.js";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { CatalogStore, type CodeSite } from "../../src/catalog/store.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";
import { event, f } from "./fake.js";

const cli = join(repoRoot, "dist", "src", "cli.js");
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-join-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]): string {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: "utf8",
    cwd: repoRoot,
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, `etw-atlas ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const jsonl = <T>(text: string): T[] =>
  text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);

interface Listed extends CatalogEvent {
  sites: CodeSite[];
}

interface AnalyzeRow {
  site: { rva: string };
  event: { kind: string; messageGuid?: string; messageNumber?: number; hookId?: number };
}

test("identity: one key per kind, version-less family, kernel hook of a MOF event type", () => {
  const m = event({ id: 7, name: "A", version: 2 });
  assert.equal(eventIdentity(m), manifestKey("11111111-2222-3333-4444-555555555555", 7, 2));
  assert.equal(eventFamily(m), manifestKey("11111111-2222-3333-4444-555555555555", 7, "*"));
  assert.deepEqual(siteJoinKeys(m), [eventIdentity(m), eventFamily(m)]);
  const w = event({
    kind: "wpp",
    id: 12,
    name: "x_c1",
    wpp: { messageGuid: "A1B2C3D4-0000-0000-0000-000000000001" },
  });
  assert.equal(eventIdentity(w), wppKey("a1b2c3d4-0000-0000-0000-000000000001", 12));
  const mof = event({
    kind: "mof",
    id: 1,
    version: 2,
    name: "Process_Start_V2",
    mof: {
      className: "Process_V2_TypeGroup1",
      category: "Process",
      classGuid: "3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c",
    },
  });
  assert.equal(kernelHookOf(mof), 0x0301);
  assert.ok(siteJoinKeys(mof).includes(kernelKey(0x0301)));
  // TraceLogging: the field signature is part of the identity; a code-derived provider is not.
  const tl = (fields = [f("A", "win:UInt32")], providerFrom?: "code") =>
    event({
      kind: "tracelogging",
      id: 0,
      name: "Ev",
      provider: { name: "P", guid: "" },
      fields,
      ...(providerFrom ? { tracelogging: { providerFrom } } : {}),
    });
  assert.notEqual(eventIdentity(tl()), eventIdentity(tl([f("A", "win:UInt64")])));
  assert.equal(
    eventIdentity(tl(undefined, "code")),
    eventIdentity({ ...tl(), provider: { name: "", guid: "" } }),
    "a provider only the code ties is not part of the identity",
  );
  assert.ok(buildsJoin(undefined, "10.0.19041") && buildsJoin("10.0.19041", "10.0.19041"));
  assert.ok(!buildsJoin("10.0.17134", "10.0.19041") && !buildsJoin("6.1.7600", undefined));
});

test("WPP: scan wpp_driver.sys + .pdb, then every WPP event lists its trace calls (events --kind wpp --sites)", () => {
  const db = join(dir, "wpp.db");
  run("scan", fixture("wpp_driver.sys"), fixture("wpp_driver.pdb"), "--db", db, "-q");
  const rows = jsonl<AnalyzeRow>(
    run("analyze", fixture("wpp_driver.sys"), "--pdb", fixture("wpp_driver.pdb"), "--format", "jsonl"),
  ).filter((r) => r.event.kind === "wpp");
  assert.ok(rows.length >= 6);
  const events = jsonl<Listed>(
    run("events", "--db", db, "--kind", "wpp", "--format", "jsonl", "--limit", "-1"),
  );
  assert.equal(events.length, 6);
  for (const e of events) {
    const want = rows
      .filter((r) => r.event.messageGuid === e.wpp?.messageGuid && r.event.messageNumber === e.id)
      .map((r) => Number.parseInt(r.site.rva, 16));
    assert.ok(want.length > 0, `analyze finds message ${e.id}`);
    assert.deepEqual(
      [...new Set(e.sites.map((s) => s.rva))].sort(),
      [...new Set(want)].sort(),
      `sites of ${e.name}`,
    );
    assert.ok(
      e.sites.every((s) => s.eventId === e.id && s.eventKind === "wpp"),
      "event_id holds the message number",
    );
  }
  const table = run("events", "--db", db, "--kind", "wpp", "--sites");
  assert.match(table, /code sites of 6 of these events/);
  assert.equal((table.match(/pfnWppTraceMessage/g) ?? []).length, 6);
});

test("kernel: an EtwTraceKernelEvent call joins the MOF event type of its hook id (etw_patterns.sys + wmicore.mof)", () => {
  const db = join(dir, "kernel.db");
  run(
    "scan",
    fixture("etw_patterns.sys"),
    fixture("etw_patterns.pdb"),
    corpus("mof/wmicore.mof"),
    "--db",
    db,
    "-q",
  );
  const rows = jsonl<AnalyzeRow>(
    run("analyze", fixture("etw_patterns.sys"), "--pdb", fixture("etw_patterns.pdb"), "--format", "jsonl"),
  ).filter((r) => r.event.kind === "kernel");
  assert.ok(rows.length >= 2);
  const events = jsonl<Listed>(
    run("events", "--db", db, "--kind", "mof", "--format", "jsonl", "--limit", "-1"),
  );
  const withSites = events.filter((e) => e.sites.length > 0);
  assert.ok(withSites.length > 0, "kernel MOF events have sites");
  for (const e of events) {
    const hook = kernelHookOf(e);
    const want = rows
      .filter((r) => hook !== undefined && r.event.hookId === hook)
      .map((r) => Number.parseInt(r.site.rva, 16));
    assert.deepEqual(
      [...new Set(e.sites.map((s) => s.rva))].sort(),
      [...new Set(want)].sort(),
      `sites of ${e.name}`,
    );
  }
  // Process_Start (hook 0x0301) in every version of its class; MM_STATS (0x027c) has no MOF event type.
  assert.ok(withSites.every((e) => e.mof?.category === "Process" && e.id === 1));
  assert.ok(withSites.some((e) => e.name.startsWith("Process_Start")));
  const store = CatalogStore.open(db, { readonly: true });
  try {
    const kernelSites = store.sites().filter((s) => s.eventKind === "kernel");
    assert.ok(
      kernelSites.every((s) => s.eventKey === kernelKey(s.eventId!)),
      "sites carry hook id and key",
    );
  } finally {
    store.close();
  }
});

test("build scope: a site of one build never shows under an event of another; build-less events join all", () => {
  const store = CatalogStore.open(":memory:");
  try {
    const ev = (file: string, build?: string) =>
      event({
        id: 5,
        version: 1,
        name: "E",
        provenance: { file, source: "manifest-xml", ...(build ? { build } : {}) },
      });
    const put = (e: CatalogEvent) =>
      store.putResult({ path: e.provenance.file, sha256: e.provenance.file, size: 1 }, "fake", {
        providers: [],
        events: [e],
        notes: [],
      });
    const old = ev("a_6.1.7600.man", "6.1.7600");
    const rs4 = ev("b_10.0.17134.man", "10.0.17134");
    const now = ev("c_10.0.19041.man", "10.0.19041");
    const any = ev("d.man");
    for (const e of [old, rs4, now, any]) put(e);
    const site = (build: string | undefined, rva: number): CodeSite => ({
      file: `drv_${build}.sys`,
      rva,
      eventKind: "manifest",
      eventKey: eventIdentity(now),
      ...(build ? { build } : {}),
    });
    store.addSites([site("10.0.19041", 0x10), site("10.0.19041", 0x20), site(undefined, 0x30)]);
    const join = new EventSiteJoin(store);
    const rvas = (e: CatalogEvent) => sitesForEvent(store, e).map((s) => s.rva);
    assert.deepEqual(rvas(old), []);
    assert.deepEqual(rvas(rs4), []);
    assert.deepEqual(rvas(now), [0x10, 0x20]);
    assert.deepEqual(rvas(any), [0x10, 0x20, 0x30], "build-less event: sites of every build");
    assert.equal(join.count(now), 2);
    assert.equal(join.count(old), 0);
    // The bulk path (whole-catalog listings) follows the same rule.
    for (let i = 0; i < 300; i++) join.count(old);
    assert.equal(join.count(now), 2);
    assert.equal(join.count(any), 3);
    assert.deepEqual(join.sites(rs4), []);
  } finally {
    store.close();
  }
});

test("events --sites prints each line once when the same event comes from several files", () => {
  const copies = join(dir, "copies");
  mkdirSync(join(copies, "a"), { recursive: true });
  mkdirSync(join(copies, "b"), { recursive: true });
  copyFileSync(fixture("wpp_driver.pdb"), join(copies, "a", "wpp_driver.pdb"));
  copyFileSync(fixture("wpp_driver.pdb"), join(copies, "b", "wpp_driver.pdb"));
  const db = join(dir, "copies.db");
  run("scan", fixture("wpp_driver.sys"), copies, "--db", db, "-q");
  const table = run("events", "--db", db, "--kind", "wpp", "--sites");
  const lines = table.split("\ncode sites of ")[1]!.trimEnd().split("\n").slice(2);
  assert.equal(lines.length, 6, table);
  assert.equal(new Set(lines).size, lines.length);
});
