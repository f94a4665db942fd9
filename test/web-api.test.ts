// The explorer's server and JSON API on real catalogs (no browser): search filters, provider and
// event pages with code sites from the analysis of fltMgr.sys, diff, static files, hardening.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { after, before, describe, test } from "node:test";
import { CatalogStore } from "../src/catalog/store.js";
import { ApiCache, type AtlasSources, handleApi, RECENT_ANSWERS, search } from "../src/web/api.js";
import { type AtlasServer, startServer } from "../src/web/server.js";
import { corpus, repoRoot } from "./helpers/corpus.js";
import { buildTestCatalogs, KERNEL_PROCESS_10, type TestCatalogs } from "./helpers/web-catalog.js";

const FILTER_MANAGER = "f3c5e28e-63f6-49c7-a204-e48a1bc4b09d";
const KERNEL_PROCESS = "22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716";

let dir: string;
let cat: TestCatalogs;
let srv: AtlasServer;

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked field by field
async function get(path: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(new URL(path, srv.url));
  const text = await res.text();
  const json = res.headers.get("content-type")?.startsWith("application/json");
  return { status: res.status, body: json ? JSON.parse(text) : text, headers: res.headers };
}

/** Raw request with a chosen method and Host header (fetch does not let us forge Host). */
function raw(method: string, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: srv.port, method, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Independent oracle: events of a manifest whose template has a data item with this name (regex over the XML). */
function manifestEventsWithField(xml: string, field: string): Set<string> {
  const templates = new Set<string>();
  for (const m of xml.matchAll(/<template\s+tid="([^"]+)"[^>]*>([\s\S]*?)<\/template>/g))
    if (new RegExp(`<data\\s[^>]*name="${field}"`).test(m[2]!)) templates.add(m[1]!);
  const events = new Set<string>();
  for (const m of xml.matchAll(/<event\s[^>]*>/g)) {
    const t = /template="([^"]+)"/.exec(m[0]);
    const id = /value="(\d+)"/.exec(m[0]);
    const v = /version="(\d+)"/.exec(m[0]);
    if (t && id && templates.has(t[1]!)) events.add(`${id[1]}/${v ? v[1] : "0"}`);
  }
  return events;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-web-api-"));
  cat = buildTestCatalogs(dir);
  srv = await startServer({ dbPath: cat.dbPath, diffAgainst: cat.oldDbPath, port: 0 });
});

after(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("web API on real catalogs", () => {
  test("binds to loopback on an ephemeral port", () => {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.notEqual(srv.port, 0);
  });

  test("summary counts match the catalog", async () => {
    const { body } = await get("/api/summary");
    const store = CatalogStore.open(cat.dbPath, { readonly: true });
    try {
      assert.equal(body.events, store.eventCount());
      assert.equal(body.sites, store.sites().length);
      assert.ok(body.sites > 0, "fltMgr.sys analysis stored sites");
      assert.deepEqual(body.diff, { old: "old.db", new: "new.db" });
    } finally {
      store.close();
    }
  });

  test("field search finds exactly the Kernel-Process events whose template has the field", async () => {
    const xml = readFileSync(join(dir, "manifests", KERNEL_PROCESS_10), "utf8");
    for (const field of ["ParentProcessID", "ImageName"]) {
      const expected = manifestEventsWithField(xml, field);
      assert.ok(expected.size > 0, `oracle finds ${field}`);
      const { status, body } = await get(`/api/search?field=${field}&provider=${KERNEL_PROCESS}`);
      assert.equal(status, 200);
      assert.equal(body.total, expected.size);
      assert.deepEqual(
        new Set(body.rows.map((r: { id: number; version: number }) => `${r.id}/${r.version}`)),
        expected,
      );
      for (const r of body.rows) assert.match(r.fields, new RegExp(`\\b${field}\\b`));
    }
  });

  test("field search is case-insensitive and globs work, like `etw-atlas events`", async () => {
    const exact = await get("/api/search?field=parentprocessid");
    const glob = await get("/api/search?field=Parent*ID");
    assert.ok(exact.body.total > 0);
    assert.ok(glob.body.total >= exact.body.total);
  });

  test("keyword, name glob, kind and full-text filters", async () => {
    const kw = await get("/api/search?keyword=WINEVENT_KEYWORD_PROCESS");
    assert.ok(kw.body.total > 0);
    for (const r of kw.body.rows) assert.match(r.keywords, /WINEVENT_KEYWORD_PROCESS/);
    const tl = await get("/api/search?kind=tracelogging&limit=5");
    assert.ok(tl.body.total > 0);
    for (const r of tl.body.rows) assert.equal(r.kind, "tracelogging");
    const named = await get("/api/search?name=Process*&provider=Microsoft-Windows-Kernel-Process");
    for (const r of named.body.rows) assert.match(r.name, /^process/i);
    const text = await get("/api/search?text=ParentProcessID");
    assert.ok(text.body.total >= (await get("/api/search?field=ParentProcessID")).body.total);
  });

  test("paging: offset continues where limit stopped", async () => {
    const all = await get("/api/search?limit=40");
    const a = await get("/api/search?limit=20");
    const b = await get("/api/search?limit=20&offset=20");
    assert.deepEqual(
      [...a.body.rows, ...b.body.rows].map((r: { rowid: number }) => r.rowid),
      all.body.rows.map((r: { rowid: number }) => r.rowid),
    );
    assert.equal(a.body.total, all.body.total);
  });

  test("bad parameters are 400 with a message; unknown things are 404", async () => {
    const bad = await get("/api/search?limit=abc");
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /limit must be an integer/);
    assert.equal((await get("/api/search?limit=0")).status, 400);
    assert.equal((await get("/api/event")).status, 400);
    assert.equal((await get("/api/event?rowid=99999999")).status, 404);
    assert.equal((await get("/api/nope")).status, 404);
    assert.equal((await get("/api/provider?guid=00000000-0000-0000-0000-000000000000")).status, 404);
    assert.equal((await get("/etc/passwd")).status, 404);
    assert.equal((await get("/../package.json")).status, 404);
  });

  test("providers list carries kind, GUID, event and site counts, source files", async () => {
    const { body } = await get("/api/providers");
    const fm = body.rows.filter((p: { guid: string }) => p.guid === FILTER_MANAGER);
    assert.ok(fm.length >= 1);
    assert.ok(fm.some((p: { sites: number }) => p.sites > 0));
    assert.ok(fm.some((p: { files: string[] }) => p.files.some((f) => f.endsWith("fltMgr.sys"))));
    const kp = body.rows.find((p: { guid: string }) => p.guid === KERNEL_PROCESS);
    assert.equal(kp.kind, "manifest");
    assert.equal(kp.name, "Microsoft-Windows-Kernel-Process");
    const filtered = await get("/api/providers?name=kernel-proc");
    assert.deepEqual(
      filtered.body.rows.map((p: { guid: string }) => p.guid),
      [KERNEL_PROCESS],
    );
  });

  test("provider page lists every event of the provider with its metadata", async () => {
    const { body } = await get(`/api/provider?kind=manifest&guid=${KERNEL_PROCESS}`);
    const xml = readFileSync(join(dir, "manifests", KERNEL_PROCESS_10), "utf8");
    assert.equal(body.events.length, [...xml.matchAll(/<event\s/g)].length);
    assert.equal(body.name, "Microsoft-Windows-Kernel-Process");
    assert.ok(body.metadata[0].keywords.some((k: { name: string }) => k.name === "WINEVENT_KEYWORD_PROCESS"));
  });

  test("providers without name and GUID have a page too (unnamed=1 with a kind)", async () => {
    assert.equal((await get("/api/provider?unnamed=1")).status, 400);
    const { body } = await get("/api/providers?kind=tracelogging");
    const unnamed = body.rows.filter((p: { name: string; guid: string }) => !p.name && !p.guid);
    const page = await get("/api/provider?kind=tracelogging&unnamed=1");
    if (unnamed.length === 0) assert.equal(page.status, 404);
    else {
      assert.equal(page.status, 200);
      const total = unnamed.reduce((n: number, p: { events: number }) => n + p.events, 0);
      assert.equal(page.body.events.length, total);
      for (const e of page.body.events)
        assert.deepEqual([e.provider, e.guid, e.kind], ["", "", "tracelogging"]);
    }
  });

  test("event page: fields with types, and the code sites fltMgr.sys has for it", async () => {
    const { body: prov } = await get(`/api/provider?guid=${FILTER_MANAGER}`);
    const withSites = prov.events.filter((e: { sites: number }) => e.sites > 0);
    assert.ok(withSites.length > 0, "some FilterManager event has code sites");
    let reachedSomewhere = false;
    for (const row of withSites) {
      const { body } = await get(`/api/event?rowid=${row.rowid}`);
      assert.equal(body.sites.length, row.sites, "count in the list = sites on the page");
      assert.equal(body.event.provider.guid, FILTER_MANAGER);
      for (const s of body.sites) {
        assert.equal(s.providerGuid, FILTER_MANAGER);
        assert.equal(s.eventId, body.event.id);
        assert.ok(s.file.endsWith("fltMgr.sys"));
        assert.ok(Array.isArray(s.callPath) && s.callPath.length > 0);
        assert.equal(s.callPath.at(-1), s.function, "call path ends in the function holding the write");
        if (s.entry !== undefined) {
          reachedSomewhere = true;
          assert.equal(s.callPath.length, s.depth);
        }
      }
    }
    assert.ok(reachedSomewhere, "at least one site is reached from an entry point");
  });

  test("Kernel-Process event page shows typed fields and other versions", async () => {
    const { body: found } = await get(`/api/search?field=ParentProcessID&provider=${KERNEL_PROCESS}&limit=1`);
    const { body } = await get(`/api/event?rowid=${found.rows[0].rowid}`);
    const parent = body.event.fields.find((f: { name: string }) => f.name === "ParentProcessID");
    assert.equal(parent.inType, "win:UInt32");
    assert.ok(body.file.endsWith("Microsoft-Windows-Kernel-Process.xml"));
    // The related list is complete here, and its total is always given (no silent cut).
    assert.equal(typeof body.relatedTotal, "number");
    assert.equal(body.related.length, Math.min(body.relatedTotal, 200));
  });

  test("code sites view filters by entry point", async () => {
    const all = await get("/api/sites?file=fltMgr");
    assert.ok(all.body.total > 0);
    const entry = all.body.rows.find((s: { entry?: string }) => s.entry)?.entry as string;
    const some = await get(`/api/sites?entry=${encodeURIComponent(entry)}`);
    assert.ok(some.body.total > 0 && some.body.total <= all.body.total);
    for (const s of some.body.rows) assert.ok(s.entry.includes(entry));
  });

  test("code sites view filters by build: the summary lists the sites' builds, each row is of that build", async () => {
    const summary = (await get("/api/summary")).body;
    const siteBuilds = summary.siteBuilds as Array<{ build: string; sites: number }>;
    // fltMgr.sys is 10.0.19041, csrsrv.dll 6.1.7601 (from each PE's version resource).
    assert.deepEqual(
      siteBuilds.map((b) => b.build),
      ["10.0.19041", "6.1.7601"],
    );
    const all = (await get("/api/sites?limit=1")).body.total as number;
    let sum = 0;
    for (const { build, sites } of siteBuilds) {
      const page = (await get(`/api/sites?build=${build}&limit=5000`)).body;
      assert.equal(page.total, sites, build);
      assert.ok(page.total > 0 && page.total < all, `${build}: a part of the ${all} sites`);
      assert.equal(page.rows.length, page.total);
      for (const s of page.rows) assert.equal(s.build, build);
      const file = build === "6.1.7601" ? "csrsrv" : "fltMgr";
      assert.ok(
        page.rows.every((s: { file: string }) => s.file.includes(file)),
        `${build}: ${file}`,
      );
      sum += page.total;
    }
    assert.equal(sum, all, "every site has a build here");
    assert.equal((await get("/api/sites?build=6.1.7600")).body.total, 0);
    // Combined with another filter, and in the download.
    assert.equal((await get("/api/sites?build=6.1.7601&file=fltMgr")).body.total, 0);
    const tsv = ((await get("/api/download?what=sites&format=tsv&build=6.1.7601")).body as string)
      .trimEnd()
      .split("\n");
    const header = tsv[0]!.split("\t");
    const col = header.indexOf("build");
    assert.ok(col >= 0, "the sites download has a build column");
    assert.equal(tsv.length - 1, siteBuilds.find((b) => b.build === "6.1.7601")!.sites);
    for (const line of tsv.slice(1)) assert.equal(line.split("\t")[col], "6.1.7601");
  });

  test("diff view: Windows 7 → 10 Kernel-Process adds events and fields", async () => {
    const { body } = await get("/api/diff");
    assert.ok(body.total > 0);
    const added = await get("/api/diff?change=added&subject=event");
    assert.ok(added.body.rows.length > 0);
    for (const e of added.body.rows) {
      assert.equal(e.change, "added");
      assert.equal(e.subject, "event");
    }
    // FilterManager and OpenConsole are only in the new catalog.
    const providers = await get("/api/diff?subject=provider&change=added");
    assert.ok(providers.body.rows.some((e: { guid: string }) => e.guid === FILTER_MANAGER));
  });

  test("static page and assets are served with a strict CSP, no external origins", async () => {
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.body, /<script type="module" src="js\/app\.js"/);
    assert.doesNotMatch(page.body, /https?:\/\//);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    // Every module of the page (one per view) is served, type-checked source, never writing markup.
    const modules = readdirSync(join(repoRoot, "src", "web", "static", "js"), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".js"));
    assert.ok(modules.length >= 8, `${modules.length} modules`);
    for (const m of modules) {
      const js = await get(`/js/${m.split(sep).join("/")}`);
      assert.equal(js.status, 200, m);
      assert.match(js.headers.get("content-type") ?? "", /javascript/);
      assert.match(js.body, /^\/\/ @ts-check/, `${m} is type-checked`);
      assert.doesNotMatch(js.body, /https?:\/\/(?!localhost|www\.w3\.org\/2000\/svg)/);
      assert.doesNotMatch(js.body, /\.innerHTML\s*=|insertAdjacentHTML|document\.write/);
    }
  });

  test("downloads stream every row of the result in TSV, CSV and JSONL; bad requests answer JSON errors", async () => {
    const all = await get("/api/search?limit=1");
    const n = all.body.total as number;
    assert.ok(n > 200, `${n} events: more than one page`);
    const tsv = await get("/api/download?what=events&format=tsv");
    assert.equal(tsv.status, 200);
    assert.match(
      tsv.headers.get("content-disposition") ?? "",
      /attachment; filename="etw-atlas-events\.tsv"/,
    );
    const lines = (tsv.body as string).trimEnd().split("\n");
    assert.equal(lines.length, n + 1);
    assert.equal(
      lines[0],
      "kind\tprovider\tguid\tid\tversion\tname\tlevel\topcode\ttask\tkeywords\tkeywordMask\tchannel\tfields\tmessage\tbuild\tfile\tsites",
    );
    assert.ok(lines.slice(1).every((l) => l.split("\t").length === 17));
    // CSV: RFC 4180 quoting, so a parser that honours quotes finds 17 cells on every record.
    const csv = (await get("/api/download?what=events&format=csv&kind=manifest")).body as string;
    const records = csv.match(/(?:"(?:[^"]|"")*"|[^,\r\n]*)(?:,(?:"(?:[^"]|"")*"|[^,\r\n]*))*\r\n/g) ?? [];
    assert.equal(records.length, (await get("/api/search?kind=manifest&limit=1")).body.total + 1);
    const jsonl = ((await get("/api/download?what=events&format=jsonl&kind=mof")).body as string)
      .trimEnd()
      .split("\n");
    assert.equal(jsonl.length, (await get("/api/search?kind=mof&limit=1")).body.total);
    assert.equal(JSON.parse(jsonl[0]!).kind, "mof");
    const sites = ((await get("/api/download?what=sites&format=tsv")).body as string).trimEnd().split("\n");
    assert.equal(sites.length, (await get("/api/sites?limit=1")).body.total + 1);
    for (const bad of [
      "/api/download?format=xml",
      "/api/download?what=nope",
      "/api/download?text=a%20NEAR%20b",
    ]) {
      const r = await get(bad);
      assert.equal(r.status, 400, bad);
      assert.ok(r.body.error, bad);
    }
  });

  test("search syntax errors, sort keys and past-the-end offsets", async () => {
    const near = await get("/api/search?text=a%20NEAR%20b");
    assert.equal(near.status, 400);
    assert.match(near.body.error, /NEAR.*not supported.*supported: words/);
    assert.equal((await get(`/api/search?text=${"x".repeat(1001)}`)).status, 400);
    assert.equal((await get("/api/search?kind=manifest&sort=bogus")).status, 400);
    const sorted = await get("/api/search?kind=manifest&sort=name&desc=1&limit=50");
    const names = sorted.body.rows.map((r: { name: string }) => r.name.toLowerCase());
    assert.deepEqual(names, [...names].sort().reverse());
    const past = await get("/api/search?kind=manifest&offset=1000000");
    assert.equal(past.status, 200);
    assert.deepEqual(past.body.rows, []);
    assert.ok(past.body.total > 0, "the total still says how many there are");
    assert.deepEqual((await get('/api/search?text="process start"')).body.highlight, ["process start"]);
  });

  test("builds: the summary lists them, a provider page per build, a diff of two builds in one catalog", async () => {
    const summary = (await get("/api/summary")).body;
    const builds = summary.builds.map((b: { build: string }) => b.build);
    assert.ok(builds.includes("10.0.17134"));
    const fm = (await get(`/api/provider?guid=${FILTER_MANAGER}`)).body;
    assert.ok(fm.builds.length >= 1);
    const one = (await get(`/api/provider?guid=${FILTER_MANAGER}&build=${fm.builds[0]}`)).body;
    assert.ok(one.events.every((e: { build: string | null }) => (e.build ?? "") === fm.builds[0]));
    assert.ok(one.metadata.every((m: { build: string }) => m.build === fm.builds[0]));
    const d = await get("/api/diff?oldBuild=10.0.17134&newBuild=&subject=provider");
    assert.equal(d.status, 200);
    assert.equal(d.body.old, "build 10.0.17134");
    assert.equal((await get("/api/diff?oldBuild=10.0.17134")).status, 400);
  });

  test("MOF: class tree with class GUIDs and kernel groups", async () => {
    const kt = (await get("/api/provider?kind=mof&name=Windows%20Kernel%20Trace")).body;
    const process = kt.classes.find((c: { category: string }) => c.category === "Process");
    assert.equal(process.classGuid, "3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c");
    assert.equal(process.group.traceGroup.value, "0x0300");
    assert.ok(
      process.classes.some((k: { events: Array<{ name: string }> }) =>
        k.events.some((e) => e.name === "Process_Start"),
      ),
    );
    const events = kt.classes.reduce(
      (n: number, c: { classes: Array<{ events: unknown[] }> }) =>
        n + c.classes.reduce((m, k) => m + k.events.length, 0),
      0,
    );
    assert.equal(events, kt.events.length, "every event is in the tree once");
  });

  test("read-only: non-GET methods are refused; foreign Host headers are refused", async () => {
    assert.equal(await raw("POST", "/api/search", `127.0.0.1:${srv.port}`), 405);
    assert.equal(await raw("DELETE", "/", `localhost:${srv.port}`), 405);
    assert.equal(await raw("GET", "/api/summary", "evil.example.com"), 421);
    assert.equal(await raw("GET", "/api/summary", `localhost:${srv.port}`), 200);
    assert.throws(() => srv.sources.store.db.prepare("DELETE FROM events").run(), /readonly/i);
  });

  test("a busy port gives a clear error", async () => {
    await assert.rejects(startServer({ dbPath: cat.dbPath, port: srv.port }), /in use/);
  });

  test("search answers are kept per catalog state (site counts included) and dropped when it changes", () => {
    const path = join(dir, "cached.db");
    copyFileSync(cat.dbPath, path);
    const store = CatalogStore.open(path, { readonly: true });
    const src: AtlasSources = { store, dbPath: path };
    const cache = new ApiCache(src);
    // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked field by field
    const ask = (q: string, c: ApiCache | undefined = cache): any =>
      c
        ? handleApi(src, c, "/api/search", new URLSearchParams(q)).body
        : search(src, new URLSearchParams(q)).body;
    const first = ask("");
    assert.equal(ask("limit=200&offset=0").rows, first.rows, "the explorer's first page is the same answer");
    assert.deepEqual(first.rows, ask("", undefined).rows, "cached site counts equal a fresh join's");
    assert.ok(
      first.rows.some((r: { sites: number }) => r.sites > 0),
      "some rows have code sites",
    );
    // The least recently used answer goes once RECENT_ANSWERS others were asked for.
    for (let i = 1; i <= RECENT_ANSWERS; i++) ask(`limit=1&offset=${i}`);
    assert.notEqual(ask("").rows, first.rows);
    // Another connection changes the catalog: answers follow.
    const before = ask("").total;
    const rw = CatalogStore.open(path);
    const file = rw.db.prepare("SELECT path FROM files WHERE events > 0 LIMIT 1").pluck().get() as string;
    const removed = rw.db.prepare("SELECT events FROM files WHERE path = ?").pluck().get(file) as number;
    rw.removeFile(file);
    rw.refreshDerived();
    rw.close();
    assert.equal(ask("").total, before - removed);
    store.close();
  });

  test("a file that is not a catalog is refused", async () => {
    const notDb = corpus("manifests/DxcRuntime.man");
    await assert.rejects(startServer({ dbPath: notDb, port: 0 }));
  });
});
