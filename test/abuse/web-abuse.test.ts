// Hostile HTTP peers against `serve`: malformed request targets, costly searches, cross-site
// requests, values that fail in SQL on a stale index, and 200 concurrent clients. Shapes are
// generated here (seeded), on a generated catalog.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MAX_TEXT_WORDS } from "../../src/catalog/search.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { type AtlasServer, startServer } from "../../src/web/server.js";
import { event, f } from "../catalog/fake.js";
import { prng } from "../helpers/mutate.js";

let dir: string;
let srv: AtlasServer;
let stale: AtlasServer;

/** A catalog of `n` events whose messages are random words (many distinct full-text tokens). */
function makeCatalog(path: string, n: number, refresh: boolean): void {
  const rnd = prng(15);
  const word = () =>
    Array.from({ length: 4 + Math.floor(rnd() * 6) }, () =>
      String.fromCharCode(97 + Math.floor(rnd() * 26)),
    ).join("");
  const store = CatalogStore.open(path);
  try {
    store.putResult({ path: "gen.man", sha256: "gen", size: 1 }, "fake", {
      providers: [],
      notes: [],
      events: Array.from({ length: n }, (_, i) =>
        event({
          id: i,
          name: `Event_${word()}`,
          message: Array.from({ length: 8 }, word).join(" "),
          fields: [f(`Field_${word()}`, "win:UInt32")],
        }),
      ),
    });
    if (refresh) store.refreshDerived();
  } finally {
    store.close();
  }
}

/** One raw HTTP/1.1 exchange: the status code, or the socket error's code. */
function rawRequest(port: number, head: string): Promise<number | string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    let data = "";
    sock.on("data", (d) => {
      data += d.toString("latin1");
    });
    sock.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    sock.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0)));
    sock.write(`${head}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  });
}

/** GET with exactly these headers (node:http; fetch() sets Sec-Fetch-Mode itself). */
function get(
  s: AtlasServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { error?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: s.port, path, headers }, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: res.headers["content-type"]?.includes("json") ? JSON.parse(text) : {},
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-web-abuse-"));
  makeCatalog(join(dir, "a.db"), 3000, true);
  makeCatalog(join(dir, "stale.db"), 300, false);
  srv = await startServer({ dbPath: join(dir, "a.db"), port: 0 });
  stale = await startServer({ dbPath: join(dir, "stale.db"), port: 0 });
});

after(async () => {
  await srv?.close();
  await stale?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("serve under hostile requests", () => {
  test("a request target that is not a URL answers 400 and the server lives on", async () => {
    for (const target of ["http://[/", "http://[::1/x", "//[", "http://a:b:c/"])
      assert.equal(await rawRequest(srv.port, `GET ${target} HTTP/1.1`), 400, target);
    assert.equal((await get(srv, "/api/summary")).status, 200);
  });

  test("a search with thousands of words is refused, not run (7,800 words)", async () => {
    const rnd = prng(9);
    // 7,800 words in one request line (under Node's 16 KiB header limit): "+" is a space.
    const words = Array.from({ length: 7800 }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join(
      "+",
    );
    const r = await get(srv, `/api/search?text=${words}`);
    assert.equal(r.status, 400);
    assert.match(r.body.error ?? "", /characters long/);
    const many = Array.from({ length: MAX_TEXT_WORDS + 1 }, (_, i) => `w${i}`).join(" ");
    const r2 = await get(srv, `/api/search?text=${encodeURIComponent(many)}`);
    assert.equal(r2.status, 400);
    assert.match(r2.body.error ?? "", new RegExp(`at most ${MAX_TEXT_WORDS}`));
    // The bound itself is searchable (duplicates count once).
    const ok = Array.from({ length: MAX_TEXT_WORDS * 3 }, (_, i) => `e${i % MAX_TEXT_WORDS}`).join(" ");
    assert.equal((await get(srv, `/api/search?text=${encodeURIComponent(ok)}`)).status, 200);
  });

  test("cross-site requests are refused; the page's own and non-browser requests are served", async () => {
    const cross = await get(srv, "/api/search?text=event", { "sec-fetch-site": "cross-site" });
    assert.equal(cross.status, 403);
    assert.equal((await get(srv, "/api/summary", { "sec-fetch-site": "same-site" })).status, 403);
    assert.equal((await get(srv, "/api/summary", { origin: "http://evil.example" })).status, 403);
    assert.equal(
      (await get(srv, "/app.js", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" })).status,
      403,
    );
    assert.equal((await get(srv, "/api/summary", { "sec-fetch-site": "same-origin" })).status, 200);
    assert.equal((await get(srv, "/api/summary", { origin: srv.url.replace(/\/$/, "") })).status, 200);
    assert.equal((await get(srv, "/api/summary", { "sec-fetch-site": "none" })).status, 200);
    // A link from elsewhere may open the page itself (not the API).
    const nav = { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" };
    assert.equal((await get(srv, "/", nav)).status, 200);
    assert.equal((await get(srv, "/api/summary", nav)).status, 403);
  });

  test("NUL in text and huge offsets answer 400 on a stale index (plain SQL path) and a current one", async () => {
    for (const s of [stale, srv]) {
      for (const q of [
        "text=ab%00cd",
        "text=%00",
        "offset=100000000000000000000000",
        "limit=1e3",
        "id=99999999999999999999",
      ]) {
        const r = await get(s, `/api/search?${q}`);
        assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
      }
      assert.equal((await get(s, "/api/search?text=event&offset=9007199254740991")).status, 200);
    }
  });

  test("200 concurrent clients are all answered, none reset", async () => {
    const paths = [
      "/api/summary",
      "/api/providers",
      "/api/search?text=ab",
      "/api/search?name=Event_*&limit=50",
      "/",
    ];
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        get(srv, paths[i % paths.length]!).then(
          (r) => r.status,
          (err: NodeJS.ErrnoException) => err.code ?? err.message,
        ),
      ),
    );
    assert.deepEqual(
      results.filter((r) => r !== 200),
      [],
    );
  });
});
