import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  findPdb,
  findPdbForImage,
  type PdbRequest,
  pdbRequestForImage,
  SymbolResolveError,
} from "../src/symbols/resolve.js";
import { storeCandidates } from "../src/symbols/store-key.js";
import { writeCabinet } from "./helpers/cab-writer.js";
import { corpus, fixture } from "./helpers/corpus.js";

/** Images whose PDB the server offers, and how. */
const images = {
  plain: corpus("pdb-pairs/winpty.dll"),
  compressed: corpus("pdb-pairs/AzPshedPi_x64.sys"), // our MSZIP writer
  gcab: fixture("wpp_user.dll"), // fixtures/symbols/wpp_user.pd_ written by gcab
  pointer: corpus("pdb-pairs/conpty_console_list.node"),
  wrong: corpus("pdb-pairs/windows_process_tree.node"),
  message: corpus("pdb-pairs/AzPshedPi_arm64.sys"),
};
const pdbBeside = (image: string) => image.replace(/\.[^.]+$/, ".pdb");
const request = (image: string): PdbRequest => {
  const { imageDir: _d, ...r } = pdbRequestForImage(image, new Uint8Array(readFileSync(image)));
  return r;
};
const storeDir = (image: string) => dirname(storeCandidates(request(image))[0]!.path);

let root: string;
let server: Server;
let base: string;
const requests: string[] = [];

function put(rel: string, data: Uint8Array | string): void {
  const p = join(root, "www", ...rel.split("/"));
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, data);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "etw-atlas-symsrv-"));
  server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? "/");
    requests.push(url);
    if (url.startsWith("/broken/")) {
      res.writeHead(500).end("boom");
      return;
    }
    const p = join(root, "www", ...url.split("/").filter((s) => s && s !== ".."));
    if (!existsSync(p)) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(p);
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const pdbName = (image: string) => request(image).name;
  put(`symbols/${storeDir(images.plain)}/${pdbName(images.plain)}`, readFileSync(pdbBeside(images.plain)));
  const azName = pdbName(images.compressed);
  put(
    `symbols/${storeDir(images.compressed)}/${azName.slice(0, -1)}_`,
    writeCabinet([{ name: azName, data: new Uint8Array(readFileSync(pdbBeside(images.compressed))) }]),
  );
  put(`symbols/${storeDir(images.gcab)}/wpp_user.pd_`, readFileSync(fixture("symbols/wpp_user.pd_")));
  // file.ptr redirect to another place on the same server.
  put(`elsewhere/conpty.pdb`, readFileSync(pdbBeside(images.pointer)));
  put(`symbols/${storeDir(images.pointer)}/file.ptr`, `PATH:${base}/elsewhere/conpty.pdb\r\n`);
  // A server answering with another build's PDB under this key.
  put(`symbols/${storeDir(images.wrong)}/${pdbName(images.wrong)}`, readFileSync(pdbBeside(images.plain)));
  put(`symbols/${storeDir(images.message)}/file.ptr`, "MSG: This file has been withheld");
});

after(() => {
  server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("symbol server (local HTTP server on 127.0.0.1)", () => {
  const bytesOf = (p: string) => new Uint8Array(readFileSync(p));

  for (const kind of ["plain", "compressed", "gcab", "pointer"] as const) {
    it(`downloads a ${kind} PDB, verifies it and caches it in store layout`, async () => {
      const cache = join(root, `cache-${kind}`);
      const image = images[kind];
      const got = await findPdbForImage(image, {
        symbolPath: `srv*${cache}*${base}/symbols`,
        skipImageDir: true,
      });
      assert.equal(got.via, "server");
      const req = request(image);
      const cached = join(cache, ...storeCandidates(req)[0]!.path.split("/"));
      assert.equal(got.path, cached);
      assert.ok(Buffer.from(bytesOf(cached)).equals(Buffer.from(bytesOf(pdbBeside(image)))));
      assert.ok(Buffer.from(got.bytes).equals(Buffer.from(bytesOf(pdbBeside(image)))));
      assert.equal(got.pdb.dbi.age, req.age);

      // Second lookup: served from the cache, the server is not asked again.
      const before = requests.length;
      const again = await findPdbForImage(image, {
        symbolPath: `srv*${cache}*${base}/symbols`,
        skipImageDir: true,
      });
      assert.deepEqual([again.via, again.path, requests.length], ["store", cached, before]);
    });
  }

  it("rejects a server PDB with the wrong GUID with a clear error and caches nothing", async () => {
    const cache = join(root, "cache-wrong");
    await assert.rejects(
      findPdbForImage(images.wrong, { symbolPath: `srv*${cache}*${base}/symbols`, skipImageDir: true }),
      (err: unknown) => {
        assert.ok(err instanceof SymbolResolveError);
        assert.match(err.message, /no matching PDB found for windows_process_tree\.pdb/);
        assert.match(err.message, /wrong PDB \(GUID [0-9a-f-]{36}, wanted [0-9a-f-]{36}\)/);
        assert.match(err.message, /does not match .*; not cached/);
        return true;
      },
    );
    assert.equal(existsSync(cache), false);
  });

  it("reports a file.ptr MSG and server errors, then tries the next entry", async () => {
    const cache = join(root, "cache-msg");
    const path = `srv*${cache}*${base}/broken;srv*${cache}*${base}/symbols`;
    await assert.rejects(
      findPdbForImage(images.message, { symbolPath: path, skipImageDir: true }),
      (err: unknown) => {
        assert.ok(err instanceof SymbolResolveError);
        assert.match(err.message, /HTTP 500/);
        assert.match(err.message, /file\.ptr says "This file has been withheld"/);
        return true;
      },
    );
    // The next entry still finds what it has.
    const ok = await findPdbForImage(images.plain, { symbolPath: path, skipImageDir: true });
    assert.equal(ok.via, "server");
  });

  it("gives up on an unreachable server after one refused connection", async () => {
    const dead = createServer();
    await new Promise<void>((ok) => dead.listen(0, "127.0.0.1", ok));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((ok) => dead.close(() => ok()));
    await assert.rejects(
      findPdbForImage(images.plain, {
        symbolPath: `srv*${join(root, "c-dead")}*http://127.0.0.1:${port}/s`,
        skipImageDir: true,
      }),
      (err: unknown) => {
        assert.match(String(err), /cannot reach server \(ECONNREFUSED\)/);
        assert.match(String(err), /skipped \(unreachable\)/);
        return true;
      },
    );
  });

  it("srv*<server> alone caches into the default downstream store", async () => {
    const cache = join(root, "default-cache");
    const got = await findPdbForImage(images.plain, {
      symbolPath: `srv*${base}/symbols`,
      defaultCache: cache,
      skipImageDir: true,
    });
    assert.ok(got.path.startsWith(cache));
    assert.ok(existsSync(got.path));
  });
});

describe("local lookups", () => {
  it("finds the PDB next to the image first", async () => {
    const got = await findPdbForImage(images.plain, { symbolPath: "" });
    assert.deepEqual([got.via, got.path], ["image-dir", pdbBeside(images.plain)]);
  });

  it("--pdb: accepts the matching PDB and rejects another one", async () => {
    const ok = await findPdbForImage(images.compressed, { pdb: pdbBeside(images.compressed) });
    assert.equal(ok.via, "explicit");
    await assert.rejects(
      findPdbForImage(images.compressed, { pdb: pdbBeside(images.plain) }),
      /does not match the image: GUID/,
    );
  });

  it("plain directories (flat and <ext>/), cache* and a local store with file.ptr", async () => {
    const flat = join(root, "flat");
    mkdirSync(join(flat, "sys"), { recursive: true });
    writeFileSync(join(flat, "sys", "AzPshedPi.pdb"), readFileSync(pdbBeside(images.compressed)));
    const req = request(images.compressed);
    // The PDB name inside the image decides the file name looked for.
    assert.equal(req.name, "AzPshedPi.pdb");
    const a = await findPdb({ ...req, imageExt: "sys" }, { symbolPath: `${join(root, "nothing")};${flat}` });
    assert.deepEqual([a.via, a.path], ["directory", join(flat, "sys", "AzPshedPi.pdb")]);

    const store = join(root, "local-store");
    // A file.ptr may point elsewhere in its own store (never outside it: see test/abuse/symbols-abuse).
    const real = join(store, "shares", "winpty-real.pdb");
    mkdirSync(dirname(real), { recursive: true });
    writeFileSync(real, readFileSync(pdbBeside(images.plain)));
    const ptrDir = join(store, ...storeDir(images.plain).split("/"));
    mkdirSync(ptrDir, { recursive: true });
    writeFileSync(join(ptrDir, "file.ptr"), `PATH:${real}`);
    const cache = join(root, "cache-star");
    const b = await findPdb(request(images.plain), { symbolPath: `cache*${cache};${store}` });
    assert.equal(b.via, "store");
    assert.ok(existsSync(join(cache, ...storeCandidates(request(images.plain))[0]!.path.split("/"))));
  });

  it("says what it tried when nothing matches", async () => {
    await assert.rejects(
      findPdb(request(images.plain), { symbolPath: join(root, "empty") }),
      (err: unknown) => {
        assert.ok(err instanceof SymbolResolveError);
        assert.match(err.message, /winpty\.pdb [0-9a-f-]{36} age \d+/);
        assert.match(err.message, /empty.*winpty\.pdb: not found/);
        return true;
      },
    );
    await assert.rejects(findPdb(request(images.plain), { env: {} }), /no symbol path given/);
  });
});
