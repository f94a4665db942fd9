// `scan` stores code sites and `events` shows, per event, where it is written — checked against
// `analyze` run on the same real binaries (fltMgr.sys: manifest events joined by provider GUID,
// id and version across files; IPMIDRV.sys: TraceLogging events joined by blob RVA).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { EventSiteJoin, sitesForEvent } from "../../src/catalog/event-sites.js";
import { searchEvents } from "../../src/catalog/search.js";
import { CatalogStore, type CodeSite } from "../../src/catalog/store.js";
import { corpus, repoRoot } from "../helpers/corpus.js";

const cli = join(repoRoot, "dist", "src", "cli.js");
const FILTER_MANAGER = "f3c5e28e-63f6-49c7-a204-e48a1bc4b09d";
const fltMgr = corpus("pe/kernel/fltMgr.sys");
const fltManifest = corpus("manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-FilterManager.xml");
const ipmidrv = corpus("pe/kernel/IPMIDRV.sys");

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-scan-sites-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(...args: string[]): string {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: "utf8",
    cwd: repoRoot,
    maxBuffer: 256 << 20,
  });
  assert.equal(r.status, 0, `etw-atlas ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

function jsonl<T>(text: string): T[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

interface AnalyzeRow {
  site: { rva: string };
  provider: { guid?: string };
  event: { kind: string; id?: number; version?: number; eventBlobRva?: string };
}

interface EventWithSites {
  kind: string;
  id: number;
  version: number;
  name: string;
  provider: { guid: string };
  provenance: { file: string };
  tracelogging?: { blobRva?: number };
  sites: CodeSite[];
}

function siteCount(db: string): number {
  const store = CatalogStore.open(db, { readonly: true });
  try {
    return store.sites().length;
  } finally {
    store.close();
  }
}

test("scan fltMgr.sys + its manifest: events --sites shows exactly the descriptors analyze resolves", () => {
  const db = join(dir, "flt.db");
  const summary = run("scan", fltMgr, fltManifest, "--db", db, "-q");
  const analysedLine = /Analysed 1 x64 images in [\d.]+ s: (\d+) code sites/.exec(summary);
  assert.ok(analysedLine, `summary has the analysis line:\n${summary}`);

  const rows = jsonl<AnalyzeRow>(run("analyze", fltMgr, "--format", "jsonl"));
  assert.equal(Number(analysedLine[1]), rows.length, "one stored site per analyze row");
  assert.equal(siteCount(db), rows.length);
  const resolved = rows.filter(
    (r) =>
      r.event.kind === "manifest" && r.provider.guid === FILTER_MANAGER && typeof r.event.id === "number",
  );
  assert.ok(resolved.length > 0, "analyze resolves FilterManager descriptors in fltMgr.sys");
  const expected = new Set(resolved.map((r) => `${r.event.id}/${r.event.version}`));

  const events = jsonl<EventWithSites>(
    run(
      "events",
      "--db",
      db,
      "--provider",
      "Microsoft-Windows-FilterManager",
      "--format",
      "jsonl",
      "--limit",
      "-1",
    ),
  );
  const files = new Set(events.map((e) => e.provenance.file));
  assert.equal(files.size, 2, "the binary's WEVT_TEMPLATE and the reconstructed manifest");
  // The manifest was rebuilt on 10.0.17134; fltMgr.sys is 10.0.19041: its sites are never shown
  // as sites of another build's events.
  const other = events.filter((e) => e.provenance.file === fltManifest);
  assert.ok(
    other.length > 0 && other.every((e) => e.sites.length === 0),
    "no 19041 site under a 17134 event",
  );
  for (const file of [fltMgr]) {
    const mine = events.filter((e) => e.provenance.file === file);
    const withSites = new Set(mine.filter((e) => e.sites.length > 0).map((e) => `${e.id}/${e.version}`));
    assert.deepEqual([...withSites].sort(), [...expected].sort(), `events of ${file} with sites`);
    // Each event's sites are analyze's rows for that descriptor (RVAs, one site per row).
    for (const e of mine) {
      const want = resolved
        .filter((r) => r.event.id === e.id && r.event.version === e.version)
        .map((r) => Number.parseInt(r.site.rva, 16))
        .sort((a, b) => a - b);
      const got = e.sites.map((s) => s.rva).sort((a, b) => a - b);
      assert.deepEqual(got, want, `sites of event ${e.id} v${e.version}`);
      assert.ok(e.sites.every((s) => s.file === fltMgr && s.writeFunction));
    }
  }

  // tsv: the sites column counts the same sites.
  const tsv = run("events", "--db", db, "--provider", "Microsoft-Windows-FilterManager", "--format", "tsv");
  const [header, ...lines] = tsv.trimEnd().split("\n");
  const cols = header!.split("\t");
  const at = (name: string) => cols.indexOf(name);
  assert.ok(at("sites") >= 0);
  const tsvCounts = lines
    .map((l) => l.split("\t"))
    .map((c) => `${c[at("file")]}|${c[at("id")]}|${c[at("version")]}|${c[at("sites")]}`)
    .sort();
  const jsonCounts = events.map((e) => `${e.provenance.file}|${e.id}|${e.version}|${e.sites.length}`).sort();
  assert.deepEqual(tsvCounts, jsonCounts);

  // table --sites: one line per distinct write site and event, with the shallowest entry point.
  const table = run("events", "--db", db, "--provider", "Microsoft-Windows-FilterManager", "--sites");
  const siteSection = table.split("\ncode sites of ")[1];
  assert.ok(siteSection, `--sites prints a site table:\n${table}`);
  assert.match(siteSection, /^\d+ of these events:\nprovider +id +v +name +binary +function +rva +write API/);
  const distinct = new Set(
    events.flatMap((e) => e.sites.map((s) => `${e.provenance.file}|${e.id}|${e.version}|${s.rva}`)),
  );
  const siteLines = siteSection.trimEnd().split("\n").slice(2);
  assert.equal(siteLines.length, distinct.size);
  for (const r of resolved)
    assert.ok(
      siteLines.some((l) => l.includes(` ${r.site.rva} `) && l.includes("fltMgr.sys")),
      `site ${r.site.rva} listed`,
    );
  const shallow = resolved.filter((r) => r.site.rva === "0x4f00a");
  if (shallow.length) assert.ok(siteLines.some((l) => /0x4f00a +EtwWrite +\d+ +FltAttachVolume +3 /.test(l)));
});

test("EventSiteJoin: a long listing (bulk-loaded sites) answers as row-by-row lookups do", () => {
  const store = CatalogStore.open(join(dir, "flt.db"), { readonly: true });
  try {
    const rows = searchEvents(store.db, { limit: -1 });
    const warm = new EventSiteJoin(store);
    // Past a few hundred manifest-style lookups the join loads all such sites once.
    const manifestRow = rows.find((r) => r.kind === "manifest" && r.guid)!;
    for (let i = 0; i < 300; i++) warm.count(manifestRow);
    for (let i = 0; i < 300; i++) warm.sites(manifestRow);
    assert.ok(rows.some((r) => r.kind === "tracelogging"));
    let withSites = 0;
    for (const r of rows) {
      const one = new EventSiteJoin(store);
      assert.equal(warm.count(r), one.count(r), `count of ${r.kind} ${r.id}`);
      assert.deepEqual(warm.sites(r), one.sites(r));
      if (one.count(r) > 0) withSites++;
    }
    assert.ok(withSites > 10);
  } finally {
    store.close();
  }
});

test("a re-scan of unchanged files keeps their sites; --force replaces them (no duplicates)", () => {
  const db = join(dir, "flt.db"); // from the test above
  const before = siteCount(db);
  assert.ok(before > 0);
  const again = JSON.parse(run("scan", fltMgr, fltManifest, "--db", db, "--json")) as {
    unchanged: number;
    analysis: { images: number; sites: number };
  };
  assert.equal(again.unchanged, 2);
  assert.equal(again.analysis.images, 0, "nothing re-read, nothing re-analysed");
  assert.equal(siteCount(db), before);
  const forced = JSON.parse(run("scan", fltMgr, "--db", db, "--json", "--force")) as {
    read: number;
    analysis: { analysed: number; sites: number };
  };
  assert.equal(forced.read, 1);
  assert.equal(forced.analysis.analysed, 1);
  assert.equal(forced.analysis.sites, before);
  assert.equal(siteCount(db), before, "the re-read image's sites replaced, not added");
  // Re-read without analysis: its old sites describe bytes no longer read, so they go.
  run("scan", fltMgr, "--db", db, "--force", "--no-analyze", "-q");
  assert.equal(siteCount(db), 0);
});

test("--no-analyze stores no sites and events report 0 sites", () => {
  const db = join(dir, "plain.db");
  const out = run("scan", fltMgr, "--db", db, "--no-analyze", "-q");
  assert.match(out, /code sites: not analysed/);
  assert.equal(siteCount(db), 0);
  const events = jsonl<EventWithSites>(run("events", "--db", db, "--format", "jsonl", "--limit", "-1"));
  assert.ok(events.length > 0);
  assert.ok(events.every((e) => Array.isArray(e.sites) && e.sites.length === 0));
});

test("TraceLogging (IPMIDRV.sys): events join their own binary's sites by blob RVA", () => {
  const db = join(dir, "ipmi.db");
  run("scan", ipmidrv, "--db", db, "-q");
  const rows = jsonl<AnalyzeRow>(run("analyze", ipmidrv, "--format", "jsonl"));
  const tlRows = rows.filter((r) => r.event.kind === "tracelogging" && r.event.eventBlobRva);
  assert.ok(tlRows.length > 100, `analyze finds TraceLogging sites (${tlRows.length})`);
  const events = jsonl<EventWithSites>(
    run("events", "--db", db, "--kind", "tracelogging", "--format", "jsonl", "--limit", "-1"),
  );
  assert.ok(events.length > 0);
  const blobs = new Set(events.map((e) => `0x${e.tracelogging?.blobRva?.toString(16)}`));
  const expected = new Set(tlRows.map((r) => r.event.eventBlobRva!).filter((b) => blobs.has(b)));
  assert.ok(expected.size > 0, "analyze's blobs are the catalog's events");
  const withSites = new Set(
    events.filter((e) => e.sites.length > 0).map((e) => `0x${e.tracelogging?.blobRva?.toString(16)}`),
  );
  assert.deepEqual([...withSites].sort(), [...expected].sort());
  for (const e of events) {
    const blob = `0x${e.tracelogging?.blobRva?.toString(16)}`;
    const want = tlRows.filter((r) => r.event.eventBlobRva === blob).length;
    assert.ok(e.sites.length >= want, `event ${e.name} (${blob}) has all ${want} sites of its blob`);
    assert.ok(e.sites.every((s) => s.file === ipmidrv && s.eventKind === "tracelogging"));
  }
  // The library call the web uses gives the same answer for a stored record.
  const store = CatalogStore.open(db, { readonly: true });
  try {
    const first = events.find((e) => e.sites.length > 0)!;
    const record = [...store.events("WHERE kind = 'tracelogging'")].find(
      (ev) => ev.tracelogging?.blobRva === first.tracelogging?.blobRva,
    );
    assert.ok(record);
    assert.deepEqual(sitesForEvent(store, record), first.sites);
  } finally {
    store.close();
  }
});
