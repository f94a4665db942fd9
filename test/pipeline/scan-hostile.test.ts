// Shaped inputs, file-system oddities and interruptions a real Windows tree and a hostile peer
// bring (issue 15): each is generated here (large ones in a temp dir, never committed) and must
// end as a recorded per-file result, never an abort, a hang or a lost file.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { programLoads } from "../../src/analysis/program.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { processFile, type TaskMessage } from "../../src/pipeline/process-file.js";
import { readers } from "../../src/pipeline/readers.js";
import { beginWrite, scanPathsParallel } from "../../src/pipeline/scan-parallel.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";
import { buildPe } from "../helpers/pe-builder.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-hostile-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const cli = join(repoRoot, "dist", "src", "cli.js");

/** A fresh directory under the temp dir. */
function dir(name: string): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Small real inputs with events and sites: own fixtures and one corpus image. */
function goodInputs(into: string): string[] {
  const files = [
    fixture("etw_patterns.sys"),
    fixture("tracelogging_sites.dll"),
    fixture("user_etw.dll"),
    fixture("kernel_etw.sys"),
    corpus("pe/user/gdi32_10.0.19041.508.dll"),
  ];
  return files.map((f) => {
    const to = join(into, f.split(/[\\/]/).pop()!);
    copyFileSync(f, to);
    return to;
  });
}

/** Every site of the catalog as comparable text (ids and order aside). */
function siteRows(db: string): string[] {
  const store = CatalogStore.open(db);
  try {
    return store
      .sites()
      .map((s) => JSON.stringify(s))
      .sort();
  } finally {
    store.close();
  }
}

function eventCount(db: string): number {
  const store = CatalogStore.open(db);
  try {
    return store.eventCount();
  } finally {
    store.close();
  }
}

describe("one decode per image", () => {
  for (const [name, path] of [
    ["fixture tracelogging_sites.dll (PDB beside it)", fixture("tracelogging_sites.dll")],
    ["corpus gdi32 19041 (2 TraceLogging providers)", corpus("pe/user/gdi32_10.0.19041.508.dll")],
  ] as const) {
    test(`a scan of ${name} decodes it once for TraceLogging attribution and sites`, async () => {
      const messages: TaskMessage[] = [];
      const before = programLoads.count;
      await processFile({ id: 0, path, scanner: "test", analysis: { signature: "test" } }, readers, (m) =>
        messages.push(m),
      );
      assert.equal(programLoads.count - before, 1, "decodes (loadProgram calls)");
      const prepared = messages.find((m) => m.type === "prepared");
      assert.ok(prepared?.type === "prepared" && prepared.prepared.kind === "read");
      const result = prepared.prepared.result;
      const tlProviders = result.providers.filter((p) => p.kind === "tracelogging");
      assert.ok(tlProviders.length > 1, "a multi-provider TraceLogging image");
      const tlEvents = result.events.filter((e) => e.kind === "tracelogging");
      assert.ok(
        tlEvents.some((e) => e.provider.guid !== ""),
        "events are attributed to providers from the shared decode",
      );
      const done = messages.at(-1);
      assert.ok(done?.type === "done" && done.analysis?.outcome.status === "analysed");
      assert.ok(done.analysis.sites.length > 0);
    });
  }
});

describe("file-system oddities", () => {
  test("an unreadable sub-directory is a recorded failure; the rest is scanned", async () => {
    const root = dir("acl");
    goodInputs(dir("acl/ok"));
    const locked = dir("acl/locked");
    writeFileSync(join(locked, "hidden.man"), "<x/>");
    chmodSync(locked, 0o000);
    chmodSync(tmp, 0o755);
    chmodSync(root, 0o777);
    try {
      const db = join(root, "..", "acl.db");
      const args = [cli, "scan", root, "--db", db, "--no-analyze", "-q", "--json"];
      // root reads any directory: scan as nobody so the ACL bites as it does for a user.
      const asRoot = process.getuid?.() === 0;
      if (asRoot) {
        writeFileSync(db, "");
        chmodSync(db, 0o666);
        chmodSync(join(root, ".."), 0o777);
      }
      const r = spawnSync(process.execPath, args, {
        encoding: "utf8",
        timeout: 120_000,
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      assert.equal(r.status, 2, r.stderr); // failures listed, not an abort (status 1)
      const summary = JSON.parse(r.stdout) as {
        read: number;
        failed: Array<{ path: string; error: string }>;
      };
      assert.equal(summary.read, 5);
      assert.deepEqual(
        summary.failed.map((f) => f.path),
        [locked],
      );
      assert.match(summary.failed[0]!.error, /cannot list directory: EACCES/);
    } finally {
      chmodSync(locked, 0o755);
    }
  });

  test("a FIFO named on the command line fails clearly (scan -j 0, pe), never hangs", () => {
    const d = dir("fifo");
    const fifo = join(d, "pipe");
    execFileSync("mkfifo", [fifo]);
    const scan = spawnSync(process.execPath, [cli, "scan", fifo, "-j", "0", "--db", join(d, "f.db")], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(scan.signal, null, "scan finished by itself");
    assert.equal(scan.status, 2, scan.stderr);
    assert.match(scan.stdout, /pipe: a FIFO, not a file to read/);
    const pe = spawnSync(process.execPath, [cli, "pe", fifo], { encoding: "utf8", timeout: 60_000 });
    assert.equal(pe.signal, null, "pe finished by itself");
    assert.equal(pe.status, 1);
    assert.match(pe.stderr, /pipe: not a regular file \(a FIFO, socket or device\)/);
    const dev = spawnSync(process.execPath, [cli, "pe", "/dev/zero"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(dev.signal, null, "pe /dev/zero finished by itself");
    assert.match(dev.stderr, /\/dev\/zero: .*not a regular file \(a FIFO, socket or device\)/);
  });

  test("files deleted from a rescanned directory are pruned with their sites", async () => {
    const root = dir("prune");
    const [first, second] = goodInputs(root);
    const store = CatalogStore.open(join(tmp, "prune.db"));
    try {
      await scanPathsParallel([root], { store, jobs: 2, analysis: {} });
      assert.ok(store.getFile(first!));
      assert.ok(store.sites({ file: first! }).length > 0);
      unlinkSync(first!);
      const again = await scanPathsParallel([root], { store, jobs: 2, analysis: {} });
      assert.deepEqual(again.pruned, [first]);
      assert.equal(store.getFile(first!), undefined);
      assert.equal(store.sites({ file: first! }).length, 0);
      assert.ok(store.getFile(second!), "the others stay");
      assert.equal(again.unchanged, 4);
    } finally {
      store.close();
    }
  });
});

describe("budgets per file", () => {
  test("a crafted 60 MB x64 DLL of E8 00 00 00 00 fails alone; the good files and its events are kept", async () => {
    const d = dir("e8");
    goodInputs(d);
    // .text of `call $+5` over and over: a function start every five bytes.
    const pe = buildPe({ sectionSize: 60 << 20 }, () => {});
    const sec = 0x44 + 20 + 240;
    pe.set([0x2e, 0x74, 0x65, 0x78, 0x74], sec);
    new DataView(pe.buffer).setUint32(sec + 36, 0x60000020, true); // code, execute, read
    for (let o = 0x200; o + 5 <= pe.length; o += 5) pe[o] = 0xe8;
    const crafted = join(d, "crafted.dll");
    writeFileSync(crafted, pe);
    const store = CatalogStore.open(join(tmp, "e8.db"));
    try {
      const opts = { store, jobs: 2, analysis: {}, workerHeapMib: 128, timeoutMs: 30_000 };
      const s = await scanPathsParallel([d], opts);
      assert.equal(s.read, 6, "every file's catalog part is stored");
      assert.equal(s.analysis?.analysed, 5);
      assert.deepEqual(
        s.analysis?.failed.map((f) => f.path),
        [crafted],
      );
      assert.match(s.analysis!.failed[0]!.error, /per-file (memory|time) budget/);
      // Recorded: a rescan does not pay it again.
      const again = await scanPathsParallel([d], opts);
      assert.equal(again.unchanged, 6);
      assert.equal(again.analysis?.images, 0);
    } finally {
      store.close();
    }
  });

  test("a huge text MOF of ';' tokens fails alone and is recorded; good files of the batch are kept", async () => {
    const d = dir("mof");
    goodInputs(d);
    copyFileSync(corpus("mof/wmicore.mof"), join(d, "wmicore.mof"));
    const huge = join(d, "huge.mof");
    const body = Buffer.alloc(40 << 20, ";");
    writeFileSync(huge, Buffer.concat([Buffer.from('#pragma namespace("x")\n'), body]));
    const store = CatalogStore.open(join(tmp, "mof.db"));
    try {
      const opts = { store, jobs: 2, workerHeapMib: 128, timeoutMs: 30_000 };
      const s = await scanPathsParallel([d], opts);
      assert.deepEqual(
        s.failed.map((f) => f.path),
        [huge],
      );
      assert.match(s.failed[0]!.error, /per-file (memory|time) budget/);
      assert.equal(s.read, 6);
      assert.ok((store.getFile(join(d, "wmicore.mof"))?.events ?? 0) > 100);
      assert.equal(store.getFile(huge)?.status, "failed", "the failure is stored with the file's hash");
      const again = await scanPathsParallel([d], opts);
      assert.equal(again.unchanged, 7, "a rescan does not parse it again");
    } finally {
      store.close();
    }
  });

  test("manifest pre-passes are linear: an unterminated quote and 100,000 DOCTYPEs finish within the budget", async () => {
    const d = dir("prepass");
    const head = '<?xml version="1.0"?><instrumentationManifest><instrumentation><events>';
    // 1.2 MB on one line with '="' every few bytes and no closing quote (was > 600 s).
    writeFileSync(join(d, "quote.man"), `${head}<provider name="${'a b="'.repeat(240_000)}`);
    writeFileSync(join(d, "doctype.man"), `${"<!DOCTYPE a>".repeat(100_000)}${head}`);
    const store = CatalogStore.open(join(tmp, "prepass.db"));
    try {
      const s = await scanPathsParallel([d], { store, jobs: 2, timeoutMs: 60_000 });
      assert.equal(s.files, 2);
      for (const f of [...s.failed, ...s.skipped.map((x) => ({ ...x, error: x.reason }))])
        assert.doesNotMatch(f.error, /budget/, `${f.path} hit the time budget`);
    } finally {
      store.close();
    }
  });
});

describe("a busy catalog", () => {
  test("a scan waits with a message, then fails clearly when the writer does not let go", async () => {
    const db = join(tmp, "busy.db");
    const store = CatalogStore.open(db);
    // Another process holds the write lock for longer than the scan is willing to wait.
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const D=require(${JSON.stringify(join(repoRoot, "node_modules", "better-sqlite3"))});` +
          `const db=new D(${JSON.stringify(db)});db.exec("BEGIN IMMEDIATE");console.log("locked");setTimeout(()=>{},30000)`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise((r) => holder.stdout!.once("data", r));
      const told: string[] = [];
      try {
        await assert.rejects(
          scanPathsParallel([fixture("user_etw.dll")], {
            store,
            jobs: 1,
            busyTimeoutMs: 3000,
            onBusy: (m) => told.push(m),
          }),
          /catalog .*busy\.db is busy: another process has been writing it for \d+ s; run this again when it has finished/,
        );
        assert.equal(told.length, 1);
        assert.match(told[0]!, /is busy \(another process is writing it\); waiting up to 3 s/);
      } finally {
        store.close();
      }
    } finally {
      holder.kill("SIGKILL");
    }
  });

  test("beginWrite gets the lock once the other writer finishes", async () => {
    const db = join(tmp, "busy2.db");
    const store = CatalogStore.open(db);
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const D=require(${JSON.stringify(join(repoRoot, "node_modules", "better-sqlite3"))});` +
          `const db=new D(${JSON.stringify(db)});db.exec("BEGIN IMMEDIATE");console.log("locked");setTimeout(()=>db.exec("COMMIT"),1500)`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise((r) => holder.stdout!.once("data", r));
    try {
      let told = 0;
      beginWrite(store, { timeoutMs: 60_000, onBusy: () => told++ });
      store.db.exec("COMMIT");
      assert.equal(told, 1);
    } finally {
      store.close();
      holder.kill("SIGKILL");
    }
  });
});

describe("interrupted scans", () => {
  /** Starts a scan; kills it with SIGKILL once it has written `lines` progress lines. */
  function scanKilledAfter(db: string, input: string, lines: number): Promise<void> {
    return new Promise((resolve) => {
      const child: ChildProcess = spawn(process.execPath, [cli, "scan", input, "--db", db, "-j", "2"], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let seen = 0;
      child.stderr!.on("data", (chunk: Buffer) => {
        seen += chunk.toString().split("\n").length - 1;
        if (seen >= lines) child.kill("SIGKILL");
      });
      child.on("exit", () => resolve());
    });
  }

  test("kill -9 at several points of a scan with analysis, then a rerun: exactly the sites of a clean scan", async () => {
    const input = dir("killed-input");
    goodInputs(input);
    copyFileSync(corpus("pe/kernel/fltMgr.sys"), join(input, "fltMgr.sys"));
    copyFileSync(fixture("etw_patterns.pdb"), join(input, "etw_patterns.pdb"));
    const clean = join(tmp, "clean.db");
    const ok = spawnSync(process.execPath, [cli, "scan", input, "--db", clean, "-q"], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    const want = siteRows(clean);
    assert.ok(want.length > 100);
    // Lines: one per stored file and one per analysed image (13 in all).
    for (const lines of [1, 3, 6, 10]) {
      const db = join(tmp, `killed-${lines}.db`);
      await scanKilledAfter(db, input, lines);
      const rerun = spawnSync(process.execPath, [cli, "scan", input, "--db", db, "-q"], { encoding: "utf8" });
      assert.equal(rerun.status, 0, rerun.stderr);
      assert.deepEqual(siteRows(db), want, `killed after ${lines} lines`);
      assert.equal(eventCount(db), eventCount(clean));
    }
  });
});
