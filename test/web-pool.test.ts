// The API workers (src/web/pool.ts) answer exactly what the request thread answers (workers: 0),
// for searches, pages, errors and streamed downloads of a real catalog; identical requests sent
// together all get the one answer; downloads abandoned mid-stream leave the workers answering.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AtlasServer, startServer } from "../src/web/server.js";
import { buildTestCatalogs } from "./helpers/web-catalog.js";

let dir: string;
let threaded: AtlasServer;
let pooled: AtlasServer;

function get(srv: AtlasServer, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port: srv.port, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers["content-type"]),
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    })
      .on("error", reject)
      .end();
  });
}

/** The answer without its timing (`ms` differs between any two requests). */
const timeless = (body: string) => body.replace(/,"ms":[-0-9.e+]+/g, "");

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-web-pool-"));
  const cat = buildTestCatalogs(dir);
  threaded = await startServer({ dbPath: cat.dbPath, diffAgainst: cat.oldDbPath, port: 0, workers: 0 });
  pooled = await startServer({ dbPath: cat.dbPath, diffAgainst: cat.oldDbPath, port: 0, workers: 2 });
});

after(async () => {
  await threaded?.close();
  await pooled?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("API workers", () => {
  const paths = [
    "/api/summary",
    "/api/providers",
    "/api/search",
    "/api/search?field=ProcessID&limit=5",
    "/api/search?text=process&sort=name&desc=1",
    "/api/search?provider=Microsoft-Windows-FilterManager",
    "/api/sites?limit=20",
    "/api/diff",
    "/api/search?limit=0", // 400
    "/api/search?sort=nope", // 400
    "/api/nope", // 404
    "/api/event?rowid=999999999", // 404
    "/api/download?what=events&format=tsv&field=ProcessID",
    "/api/download?what=sites&format=jsonl",
    "/api/download?what=events&format=nope", // 400 before the first byte
  ];

  test("answer as the request thread does", async () => {
    let rows = 0;
    for (const path of paths) {
      const [a, b] = [await get(threaded, path), await get(pooled, path)];
      assert.equal(b.status, a.status, path);
      assert.equal(b.type, a.type, path);
      assert.equal(timeless(b.body), timeless(a.body), path);
      if (path.startsWith("/api/download") && a.status === 200) rows += a.body.split("\n").length;
    }
    assert.ok(rows > 100, `${rows} download lines compared`);
  });

  test("identical requests sent together get one answer, timed per request", async () => {
    const path = "/api/search?text=thread&limit=50";
    const answers = await Promise.all(Array.from({ length: 12 }, () => get(pooled, path)));
    const expected = timeless((await get(threaded, path)).body);
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(timeless(a.body), expected);
      assert.equal(typeof (JSON.parse(a.body) as { ms: unknown }).ms, "number");
    }
  });

  test("downloads abandoned after their first bytes leave the workers answering", async () => {
    for (let i = 0; i < 4; i++)
      await new Promise<void>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: pooled.port, path: "/api/download?what=events&format=jsonl" },
          (res) => {
            res.once("data", () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on("error", (err: NodeJS.ErrnoException) =>
          err.code === "ECONNRESET" ? resolve() : reject(err),
        );
        req.end();
      });
    const r = await get(pooled, "/api/search?name=Process*");
    assert.equal(r.status, 200);
  });
});
