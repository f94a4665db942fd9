// Catalogs in hostile states: a read-only directory (WAL needs its -shm), a tampered search index,
// values that fail in SQL. Generated here; nothing large is committed.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { sniffManifest } from "../../src/catalog/readers/manifest.js";
import { parseManifest } from "../../src/catalog/readers/manifest-events.js";
import { countEvents, searchEvents } from "../../src/catalog/search.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { event } from "../catalog/fake.js";
import { repoRoot } from "../helpers/corpus.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-catalog-abuse-"));
chmodSync(tmp, 0o755);
after(() => {
  chmodSync(tmp, 0o755);
  for (const d of readdirSync(tmp)) chmodSync(join(tmp, d), 0o755);
  rmSync(tmp, { recursive: true, force: true });
});
const cli = join(repoRoot, "dist", "src", "cli.js");

function catalog(path: string, n = 50): void {
  const store = CatalogStore.open(path);
  store.putResult({ path: "gen.man", sha256: "gen", size: 1 }, "fake", {
    providers: [],
    notes: [],
    events: Array.from({ length: n }, (_, i) => event({ id: i, name: `Ev${i}`, message: `alpha beta${i}` })),
  });
  store.refreshDerived();
  store.close();
}

describe("catalog abuse", () => {
  test("events/export/serve read a catalog in a read-only directory", async () => {
    const dir = join(tmp, "ro");
    mkdirSync(dir);
    const db = join(dir, "atlas.db");
    catalog(db);
    assert.deepEqual(readdirSync(dir), ["atlas.db"], "closed cleanly: no -wal/-shm left");
    chmodSync(dir, 0o555);
    // root ignores directory permissions: run the CLI as nobody then (what a user on a mounted image is).
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: tmpdir(), ...asNobody });
    const ev = run("events", "--db", db, "--text", "beta7", "--format", "tsv");
    assert.equal(ev.status, 0, ev.stderr);
    assert.match(ev.stdout, /\tEv7\t/);
    const out = join(tmp, "export-out");
    mkdirSync(out, { mode: 0o777 });
    chmodSync(out, 0o777);
    const ex = run("export", "--db", db, "--format", "jsonl", "--out", out);
    assert.equal(ex.status, 0, ex.stderr);
    assert.equal(readFileSync(join(out, "events.jsonl"), "utf8").trim().split("\n").length, 50);
    // serve: answers from the catalog, then leaves nothing behind on SIGTERM.
    const srv = spawn(process.execPath, [cli, "serve", "--db", db, "--port", "0"], {
      cwd: tmpdir(),
      ...asNobody,
    });
    const url = await new Promise<string>((resolve, reject) => {
      let text = "";
      srv.stdout.on("data", (d) => {
        text += d;
        const m = /explorer: (http:\S+)/.exec(text);
        if (m) resolve(m[1]!);
      });
      srv.on("exit", (code) => reject(new Error(`serve exited ${code}`)));
    });
    const summary = (await (await fetch(new URL("/api/summary", url))).json()) as { events: number };
    assert.equal(summary.events, 50);
    const exited = new Promise((resolve) => srv.on("exit", resolve));
    srv.kill("SIGTERM");
    await exited;
    assert.deepEqual(readdirSync(dir), ["atlas.db"]);
    // In-process too (serve opens it this way), and the private copy is gone after close.
    const before = readdirSync(tmpdir()).filter((d) => d.startsWith("etw-atlas-readonly-")).length;
    if (process.getuid?.() !== 0) {
      const store = CatalogStore.open(db, { readonly: true });
      assert.equal(countEvents(store.db, { text: "alpha" }), 50);
      store.close();
    }
    assert.equal(readdirSync(tmpdir()).filter((d) => d.startsWith("etw-atlas-readonly-")).length, before);
  });

  test("a tampered search index gives a clear error, not a hang (posting offsets, postings, columns)", {
    timeout: 60_000,
  }, () => {
    const put = (at: (b: Buffer) => number, v: number) => (b: Buffer) => {
      b.writeUInt32LE(v, at(b));
      return b;
    };
    const tamper: Array<[string, (b: Buffer) => Buffer]> = [
      ["token.offsets", put((b) => b.length - 4, 0xfffffff0)],
      ["token.offsets", put(() => 4, 0xfffffff0)],
      ["token.postings", put(() => 0, 0x7fffffff)],
      ["token.offsets", (b) => b.subarray(0, b.length - 3)],
      ["kind", (b) => b.subarray(0, 8)],
    ];
    for (const [i, [part, change]] of tamper.entries()) {
      const path = join(tmp, `tamper${i}.db`);
      catalog(path, 2000);
      const store = CatalogStore.open(path);
      const row = store.db.prepare("SELECT data FROM search_index WHERE part = ?").get(part) as {
        data: Buffer;
      };
      store.db
        .prepare("UPDATE search_index SET data = ? WHERE part = ?")
        .run(change(Buffer.from(row.data)), part);
      store.close();
      const ro = CatalogStore.open(path, { readonly: true });
      try {
        assert.throws(
          () => searchEvents(ro.db, { text: "beta1", kind: "manifest" }),
          /search index is damaged.*re-scan/,
          `${part} #${i}`,
        );
      } finally {
        ro.close();
      }
      assert.ok(existsSync(path));
    }
  });

  test("a manifest with an internal DTD subset is read (DOCTYPE ignored), not skipped as 'not a manifest'", () => {
    const xml = `<?xml version="1.0"?>
<!DOCTYPE instrumentationManifest [ <!ENTITY e "x>y"> <!ELEMENT a (#PCDATA)> ]>
<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events">
 <instrumentation><events>
  <provider name="Dtd-Provider" guid="{11111111-2222-3333-4444-555555555555}" symbol="P">
   <events><event value="7" version="0" symbol="Seven"/></events>
  </provider>
 </events></instrumentation>
</instrumentationManifest>`;
    assert.equal(sniffManifest(new TextEncoder().encode(xml)), "yes");
    const r = parseManifest(xml, "dtd.man");
    assert.deepEqual(
      r.events.map((e) => [e.provider.name, e.id]),
      [["Dtd-Provider", 7]],
    );
    assert.ok(r.notes.some((n) => /DOCTYPE declaration ignored/.test(n)));
  });
});
