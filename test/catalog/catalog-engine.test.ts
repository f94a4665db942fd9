import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { diffEvents, formatDiffText } from "../../src/catalog/diff.js";
import { exportJsonl, exportStoreTsv, exportTsv, w10FileName } from "../../src/catalog/export.js";
import { formatManifestRowW10 } from "../../src/catalog/format-w10.js";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { countEvents, getEvent, listProviders, searchEvents } from "../../src/catalog/search.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { event, f, fakeFile, fakeReader } from "./fake.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-engine-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const events: CatalogEvent[] = [
  event({
    id: 1,
    name: "ProcessStart",
    task: { value: 1, name: "ProcessStart" },
    opcode: { value: 1, name: "win:Start" },
    level: { value: 4, name: "win:Informational" },
    keywords: { mask: "0x10", names: ["WINEVENT_KEYWORD_PROCESS"] },
    fields: [
      f("ProcessID", "win:UInt32"),
      f("ProcessStartKey", "win:UInt64"),
      f("ImageName", "win:UnicodeString"),
    ],
    message: "Process %1 started.\twith tab",
  }),
  event({
    id: 2,
    name: "task_02",
    level: { value: 2, name: "win:Error" },
    keywords: { mask: "0x8000000000000000", names: ["HIGH_BIT"] },
    fields: [
      f("Info", "win:Struct", {
        fields: [f("TargetProcessId", "win:UInt32"), f("Flags", "win:HexInt32", { outType: "win:HexInt32" })],
      }),
      f("Count", "win:UInt16"),
      f("Items", "win:UInt32", { count: "Count" }),
    ],
  }),
  event({
    kind: "tracelogging",
    provider: { name: "Pipe-Logger", guid: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" },
    id: 0,
    name: "NamedPipeCreated",
    fields: [f("PipeName", "win:UnicodeString")],
    provenance: { file: "x.dll", source: "tracelogging", offset: 1234 },
    tracelogging: { eventTags: 5 },
  }),
];

describe("store", () => {
  test("events in == events out; field, keyword, glob and text queries find them", () => {
    const store = CatalogStore.open(":memory:");
    const r = store.putResult({ path: "a.man", sha256: "00", size: 1 }, "fake", {
      providers: [],
      events,
      notes: ["a note"],
    });
    assert.deepEqual(r, { providers: 2, events: 3 });
    assert.deepEqual([...store.events()], events);
    const db = store.db;
    assert.deepEqual(
      searchEvents(db, { field: "processstartkey" }).map((x) => x.name),
      ["ProcessStart"],
    );
    // nested struct member counts as a field
    assert.deepEqual(
      searchEvents(db, { field: "TargetProcessId" }).map((x) => x.name),
      ["task_02"],
    );
    assert.deepEqual(
      searchEvents(db, { name: "task_*" }).map((x) => x.name),
      ["task_02"],
    );
    // '_' in a glob is literal, not "any character"
    assert.equal(searchEvents(db, { name: "task?02" }).length, 1);
    assert.equal(searchEvents(db, { name: "taskX*" }).length, 0);
    assert.deepEqual(
      searchEvents(db, { keyword: "winevent_keyword_process" }).map((x) => x.id),
      [1],
    );
    assert.deepEqual(
      searchEvents(db, { keyword: "0x8000000000000000" }).map((x) => x.id),
      [2],
    );
    assert.deepEqual(
      searchEvents(db, { text: "named pipe" }).map((x) => x.name),
      ["NamedPipeCreated"],
    );
    assert.deepEqual(
      searchEvents(db, { text: "started" }).map((x) => x.name),
      ["ProcessStart"],
    );
    assert.deepEqual(
      searchEvents(db, { kind: "tracelogging" }).map((x) => x.provider),
      ["Pipe-Logger"],
    );
    assert.equal(searchEvents(db, { provider: "{11111111-2222-3333-4444-555555555555}" }).length, 2);
    assert.equal(countEvents(db, { provider: "test-*" }), 2);
    const row = searchEvents(db, { id: 1 })[0]!;
    assert.equal(row.fields, "win:UInt32 ProcessID, win:UInt64 ProcessStartKey, win:UnicodeString ImageName");
    assert.deepEqual(getEvent(db, row.rowid), events[0]);
    const v = db.prepare("SELECT * FROM v_events WHERE id = 2").get() as Record<string, unknown>;
    assert.equal(v.fields, "win:Struct Info, win:UInt16 Count, win:UInt32 Items");
    const paths = db.prepare("SELECT field FROM v_event_fields WHERE id = 2 ORDER BY position").all();
    assert.deepEqual(
      paths.map((p) => (p as { field: string }).field),
      ["Info", "Info.TargetProcessId", "Info.Flags", "Count", "Items"],
    );
    assert.deepEqual(
      listProviders(db).map((p) => [p.name, p.events]),
      [
        ["Pipe-Logger", 1],
        ["Test-Provider", 2],
      ],
    );
    store.close();
  });

  test("replacing a file removes its old events, fields and text", () => {
    const store = CatalogStore.open(":memory:");
    const file = { path: "a.man", sha256: "00", size: 1 };
    store.putResult(file, "fake", { providers: [], events, notes: [] });
    store.putResult({ ...file, sha256: "01" }, "fake", { providers: [], events: [events[0]!], notes: [] });
    assert.equal(store.eventCount(), 1);
    const n = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
    assert.equal(n("SELECT count(*) AS n FROM event_fields"), 3);
    assert.equal(n("SELECT count(*) AS n FROM v_event_text"), 1);
    assert.equal(n("SELECT count(*) AS n FROM providers"), 1);
    assert.equal(searchEvents(store.db, { text: "pipe" }).length, 0);
    store.close();
  });

  test("code sites round trip (analysis API)", () => {
    const store = CatalogStore.open(":memory:");
    const site = {
      file: "ntoskrnl.exe",
      rva: 0x1234,
      function: "PspInsertProcess",
      writeFunction: "EtwWrite",
      providerGuid: "22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716",
      eventKind: "manifest",
      eventId: 1,
      eventVersion: 3,
      entry: "NtCreateUserProcess",
      depth: 3,
      callPath: ["NtCreateUserProcess", "PspCreateProcess", "PspInsertProcess"],
    };
    assert.equal(store.addSites([site]), 1);
    assert.deepEqual(store.sites({ eventId: 1 }), [site]);
    const v = store.db.prepare("SELECT rva, entry FROM v_sites").get();
    assert.deepEqual(v, { rva: "0x1234", entry: "NtCreateUserProcess" });
    store.clearSites("ntoskrnl.exe");
    assert.equal(store.sites().length, 0);
    store.close();
  });
});

describe("scan", () => {
  test("re-scan skips unchanged files by hash; a corrupt file is reported and the scan carries on", () => {
    const dir = join(tmp, "scan");
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "one.bin"), fakeFile({ providers: [], events: [events[0]!], notes: [] }));
    writeFileSync(
      join(dir, "sub", "two.bin"),
      fakeFile({ providers: [], events: events.slice(1), notes: ["n"] }),
    );
    writeFileSync(join(dir, "sub", "broken.bin"), "FAKECAT\n{ this is not json");
    writeFileSync(join(dir, "sub", "other.txt"), "NOTCAT hello");
    writeFileSync(join(dir, "unknown.dat"), "random bytes");
    const db = join(dir, "scan.db"); // inside the scanned tree: the catalog must not scan itself
    const store = CatalogStore.open(db);
    const s1 = scanPaths([dir], { readers: [fakeReader], store });
    assert.equal(s1.files, 5);
    assert.equal(s1.read, 2);
    assert.equal(s1.events, 3);
    assert.deepEqual(s1.eventsByKind, { manifest: 2, tracelogging: 1 });
    assert.equal(s1.failed.length, 1);
    assert.match(s1.failed[0]!.path, /broken\.bin$/);
    assert.match(s1.failed[0]!.error, /fake: bad JSON/);
    assert.deepEqual(s1.skippedByReason, {
      "fake: not a catalog file": 1,
      "no reader recognises this content": 1,
    });
    assert.deepEqual(s1.notes, [{ path: join(dir, "sub", "two.bin"), note: "n" }]);
    const status = store.getFile(join(dir, "sub", "broken.bin"));
    assert.equal(status?.status, "failed");

    const s2 = scanPaths([dir], { readers: [fakeReader], store });
    assert.equal(s2.unchanged, 5);
    assert.equal(s2.read, 0);
    assert.equal(s2.failed.length, 0);
    assert.deepEqual(s2.eventsByKind, { manifest: 2, tracelogging: 1 });
    assert.equal(store.eventCount(), 3);

    // a changed file is re-read and replaces its old events
    writeFileSync(join(dir, "one.bin"), fakeFile({ providers: [], events: [], notes: [] }));
    const s3 = scanPaths([dir], { readers: [fakeReader], store });
    assert.equal(s3.read, 1);
    assert.equal(s3.unchanged, 4);
    assert.equal(store.eventCount(), 2);

    // another reader set (e.g. after an upgrade adds a reader) re-reads files with unchanged content
    const other = { ...fakeReader, id: "fake2" };
    const s4 = scanPaths([dir], { readers: [other], store });
    assert.equal(s4.unchanged, 0);
    assert.equal(s4.read, 1 + 1);
    assert.equal(store.getFile(join(dir, "one.bin"))?.reader, "fake2");
    store.close();
  });
});

describe("export", () => {
  test("TSV per provider + combined events.tsv + jsonl", () => {
    const out = join(tmp, "export");
    const s = exportTsv(events, out);
    assert.equal(s.events, 3);
    const lines = readFileSync(join(out, "manifest", "Test-Provider.tsv"), "utf8").split("\n");
    assert.equal(
      lines[0],
      "provider\tevent_id\tversion\tevent(fields)\topcode\tkeywords\ttask\tlevel\tevtlog_channel\tevtlog_message",
    );
    assert.equal(
      lines[1],
      "Test-Provider\t1\t0\tProcessStart(UInt32 ProcessID, UInt64 ProcessStartKey, UnicodeString ImageName)\tStart\tWINEVENT_KEYWORD_PROCESS\tProcessStart\tInformational\t\tProcess %1 started. with tab",
    );
    assert.equal(lines[2]!.split("\t")[3], "task_02(Struct Info, UInt16 Count, UInt32 Items)");
    const combined = readFileSync(join(out, "events.tsv"), "utf8").trim().split("\n");
    assert.equal(combined.length, 4);
    assert.ok(
      readFileSync(join(out, "tracelogging", "Pipe-Logger.tsv"), "utf8").includes("NamedPipeCreated("),
    );
    // the streaming export from a catalog writes the same files
    const store = CatalogStore.open(":memory:");
    store.putResult({ path: "a", sha256: "0", size: 1 }, "fake", { providers: [], events, notes: [] });
    const out2 = join(tmp, "export2");
    assert.deepEqual(exportStoreTsv(store, out2), { files: s.files, events: 3, dir: out2 });
    store.close();
    for (const rel of ["events.tsv", "manifest/Test-Provider.tsv", "tracelogging/Pipe-Logger.tsv"])
      assert.equal(readFileSync(join(out2, rel), "utf8"), readFileSync(join(out, rel), "utf8"), rel);
    exportJsonl(events, join(tmp, "e.jsonl"));
    const back = readFileSync(join(tmp, "e.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as CatalogEvent);
    assert.deepEqual(back, events);
    assert.deepEqual(formatManifestRowW10(events[1]!).slice(4, 8), ["", "HIGH_BIT", "", "Error"]);
    assert.equal(w10FileName("Active Directory: Kerberos Client"), "Active_Directory-_Kerberos_Client.tsv");
    assert.equal(w10FileName("File Kernel Trace; Operation Set 1"), "File_Kernel_Trace;_Operation_Set_1.tsv");
  });
});

describe("diff", () => {
  test("added field, version bump, keyword change, removed event, added provider", () => {
    const old = events.slice(0, 2);
    const bumped: CatalogEvent = {
      ...events[0]!,
      version: 1,
      name: "ProcessStart_V1",
      fields: [...events[0]!.fields, f("Flags", "win:UInt32")],
    };
    const changed: CatalogEvent = {
      ...events[0]!,
      keywords: { mask: "0x30", names: ["WINEVENT_KEYWORD_PROCESS", "X"] },
    };
    const nu = [changed, bumped, events[2]!];
    const d = diffEvents(old, nu);
    const find = (pred: (e: (typeof d)[number]) => boolean) => d.filter(pred);
    assert.equal(
      find((e) => e.subject === "provider" && e.change === "added" && e.provider === "Pipe-Logger").length,
      1,
    );
    const bump = find((e) => e.subject === "version" && e.change === "added");
    assert.equal(bump.length, 1);
    assert.equal(bump[0]!.old, "0");
    assert.equal(bump[0]!.new, "1");
    assert.deepEqual(
      find((e) => e.subject === "field" && e.change === "added").map((e) => [e.version, e.item]),
      [[1, "Flags"]],
    );
    assert.deepEqual(
      find((e) => e.subject === "attribute").map((e) => e.item),
      ["keywords", "keyword_mask"],
    );
    assert.deepEqual(
      find((e) => e.subject === "event" && e.change === "removed").map((e) => e.eventId),
      [2],
    );
    const text = formatDiffText(d);
    assert.match(text, /event 1 v1 ProcessStart_V1 new version \(was v0\): \+Flags/);
    assert.match(text, /versions: \+1 -0/);
    assert.equal(diffEvents(old, old).length, 0);
  });
});
