// A hostile symbol server: file.ptr redirects to local, UNC and other-host paths, and a small
// .pd_ whose CFFOLDERs all share one MSZIP run. Generated here.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { extractCabinet } from "../../src/symbols/cab.js";
import { findPdb, resolvePointer } from "../../src/symbols/resolve.js";
import { writeCabinet } from "../helpers/cab-writer.js";

/** One MSZIP run of `size` zero bytes, named by `folders` CFFOLDERs that each hold a file of all of it. */
function sharedRunCabinet(size: number, folders: number): Uint8Array {
  const one = writeCabinet([{ name: "x.pdb", data: new Uint8Array(size) }]);
  const dv = new DataView(one.buffer, one.byteOffset, one.byteLength);
  const dataOffset = dv.getUint32(36, true);
  const blocks = dv.getUint16(40, true);
  const data = one.subarray(dataOffset);
  const filesOffset = 36 + 8 * folders;
  const names = Array.from({ length: folders }, (_, i) => new TextEncoder().encode(`f${i}.pdb`));
  const table = names.reduce((n, b) => n + 16 + b.length + 1, 0);
  const start = filesOffset + table;
  const out = new Uint8Array(start + data.length);
  const o = new DataView(out.buffer);
  out.set(one.subarray(0, 36));
  o.setUint32(8, out.length, true);
  o.setUint32(16, filesOffset, true);
  o.setUint16(26, folders, true);
  o.setUint16(28, folders, true);
  let pos = filesOffset;
  for (let i = 0; i < folders; i++) {
    o.setUint32(36 + 8 * i, start, true);
    o.setUint16(40 + 8 * i, blocks, true);
    o.setUint16(42 + 8 * i, 1, true);
    o.setUint32(pos, size, true);
    o.setUint16(pos + 8, i, true);
    o.setUint16(pos + 14, 0x20, true);
    out.set(names[i]!, pos + 16);
    pos += 16 + names[i]!.length + 1;
  }
  out.set(data, start);
  return out;
}

describe("CAB decoding is bounded across folders", () => {
  test("6 folders sharing one 1 MiB MSZIP run do not decode 6 MiB under a 3 MiB limit", () => {
    const cab = sharedRunCabinet(1 << 20, 6);
    assert.ok(cab.length < 20_000, `${cab.length} bytes`);
    assert.throws(() => extractCabinet(cab, 3 << 20), /decoding limit/);
    // Within the limit the same cabinet extracts (the bound is total, not per folder).
    assert.equal(extractCabinet(cab, 6 << 20).length, 6);
  });
});

describe("file.ptr may only point within its store", () => {
  const http = { kind: "http", location: "http://127.0.0.1:1/symbols" } as const;
  const ptr = "http://127.0.0.1:1/symbols/x.pdb/ABC1/file.ptr";
  test("a server may name its own URLs, never local, UNC or other hosts", () => {
    assert.deepEqual(resolvePointer("../../other/x.pdb", ptr, http), {
      target: "http://127.0.0.1:1/symbols/other/x.pdb",
    });
    assert.deepEqual(resolvePointer("http://127.0.0.1:1/elsewhere/x.pdb", ptr, http), {
      target: "http://127.0.0.1:1/elsewhere/x.pdb",
    });
    for (const bad of [
      "/etc/passwd",
      "\\\\evil\\share\\x.pdb",
      "//evil/share/x.pdb",
      "C:\\Windows\\x.pdb",
      "c:/x.pdb",
      "http://evil.example/x.pdb",
      "https://127.0.0.1:1/x.pdb",
      "file:///etc/passwd",
    ])
      assert.ok("refused" in resolvePointer(bad, ptr, http), bad);
  });

  test("a local store may name files inside it only", () => {
    const local = { kind: "local", location: "/stores/a" } as const;
    const at = "/stores/a/x.pdb/ABC1/file.ptr";
    assert.deepEqual(resolvePointer("../../y.pdb/DEF1/y.pdb", at, local), {
      target: "/stores/a/y.pdb/DEF1/y.pdb",
    });
    for (const bad of [
      "/etc/passwd",
      "../../../b/x.pdb",
      "\\\\server\\share\\x.pdb",
      "http://127.0.0.1/x.pdb",
    ])
      assert.ok("refused" in resolvePointer(bad, at, local), bad);
  });

  let root: string;
  let server: Server;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), "etw-atlas-symbols-abuse-"));
    server = createServer((req, res) => {
      res.writeHead(req.url?.endsWith("file.ptr") ? 200 : 404).end(`PATH:${join(root, "local.pdb")}\r\n`);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  });
  after(async () => {
    await new Promise((ok) => server.close(ok));
    rmSync(root, { recursive: true, force: true });
  });

  test("a server's PATH:/local/file is not opened, not matched, not cached", async () => {
    const key = { name: "x.pdb", guid: "11111111-2222-3333-4444-555555555555", age: 1 };
    // The local file exists: before the fix it was read and reported as the server's answer.
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "local.pdb"), "not read");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cache = join(root, "cache");
    const lines: string[] = [];
    await assert.rejects(
      findPdb(key, { symbolPath: `srv*${cache}*${url}`, log: (l) => lines.push(l) }),
      /no matching PDB/,
    );
    assert.ok(
      lines.some((l) => /file\.ptr names .*local\.pdb: refused \(a local or UNC path/.test(l)),
      lines.join("\n"),
    );
    assert.ok(!lines.some((l) => l.startsWith(join(root, "local.pdb"))), lines.join("\n"));
  });
});
