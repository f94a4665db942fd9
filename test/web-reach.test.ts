// /api/reach and the API page, on a catalog of the 14393 sample build (real schema, small DLLs).
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CatalogStore } from "../src/catalog/store.js";
import { analyzeImagesIntoStore } from "../src/pipeline/analysis.js";
import { reachInStore } from "../src/pipeline/reach.js";
import { readers } from "../src/pipeline/readers.js";
import { scanPaths } from "../src/pipeline/scan.js";
import { type AtlasServer, startServer } from "../src/web/server.js";
import { corpus } from "./helpers/corpus.js";

describe("web: /api/reach", () => {
  let dir: string;
  let srv: AtlasServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "etw-atlas-reach-"));
    const dbPath = join(dir, "c.db");
    const store = CatalogStore.open(dbPath);
    const build = corpus("builds/10.0.14393-sample");
    scanPaths([build], { readers, store });
    await analyzeImagesIntoStore(
      store,
      readdirSync(build).map((f) => join(build, f)),
    );
    store.close();
    srv = await startServer({ dbPath, port: 0 });
  });
  after(async () => {
    await srv?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("answers the same rows as the reach pipeline, with chains, mode and build; bad input is 400", async () => {
    const expected = reachInStore(srv.sources.store, { api: "*" });
    assert.ok(expected.rows.length > 0, "some export of the sample reaches a write site");
    const res = await fetch(`${srv.url}api/reach?api=*&limit=5000`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      rows: Array<Record<string, unknown>>;
      total: number;
      builds: unknown[];
    };
    assert.equal(body.total, expected.rows.length);
    assert.equal(body.rows.length, Math.min(5000, expected.rows.length));
    for (const r of body.rows) {
      assert.equal(r.build, "10.0.14393");
      assert.ok(r.mode === "user" || r.mode === "kernel");
      assert.ok(Array.isArray(r.chain) && (r.chain as unknown[]).length === r.depth);
    }
    const limited = (await (await fetch(`${srv.url}api/reach?api=*&limit=1`)).json()) as {
      rows: unknown[];
      total: number;
    };
    assert.equal(limited.rows.length, 1);
    assert.equal(limited.total, expected.rows.length, "the total says how many the limit left out");
    assert.equal((await fetch(`${srv.url}api/reach`)).status, 400);
    assert.equal((await fetch(`${srv.url}api/reach?event=nonsense`)).status, 400);
    assert.equal((await fetch(`${srv.url}api/reach?api=x&mode=both`)).status, 400);
  });

  test("/api/event carries mode and reachedFrom for events of a linked build", async () => {
    const { rows } = reachInStore(srv.sources.store, { api: "*" });
    const target = rows.find((r) => r.event.kind === "manifest" && r.event.id !== undefined)!;
    assert.ok(target, "a manifest event reached from some API");
    const search = (await (
      await fetch(
        `${srv.url}api/search?provider=${encodeURIComponent(target.event.provider.guid ?? "")}&id=${target.event.id}`,
      )
    ).json()) as { rows: Array<{ rowid: number }> };
    assert.ok(search.rows.length > 0);
    const ev = (await (await fetch(`${srv.url}api/event?rowid=${search.rows[0]!.rowid}`)).json()) as {
      mode?: string;
      writtenIn?: { mode: string };
      reachedFrom?: Array<{ api: { name: string } }>;
      reachedFromTotal?: number;
    };
    assert.equal(ev.writtenIn?.mode, "user");
    assert.equal(ev.mode, "user");
    assert.ok((ev.reachedFromTotal ?? 0) > 0);
    assert.ok(ev.reachedFrom?.some((r) => r.api.name === target.api.name) || (ev.reachedFromTotal ?? 0) > 50);
  });

  test("serves the API page and its script", async () => {
    const page = await fetch(`${srv.url}reach.html`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /reach\.js/);
    const js = await fetch(`${srv.url}reach.js`);
    assert.equal(js.status, 200);
    assert.match(await js.text(), /\/api\/reach/);
  });
});
