import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { inflateRawSync } from "node:zlib";
import { cabChecksum, expandCompressedSymbolFile, extractCabinet, parseCabinet } from "../src/symbols/cab.js";
import {
  compressedName,
  parseFilePointer,
  pdbBaseName,
  storeCandidates,
  storeIndex,
} from "../src/symbols/store-key.js";
import { parseSymbolPath, SymbolPathError, symbolPathFromEnv } from "../src/symbols/symbol-path.js";
import { FormatError } from "../src/util/errors.js";
import { writeCabinet } from "./helpers/cab-writer.js";
import { corpus, fixture } from "./helpers/corpus.js";
import { fuzz } from "./helpers/mutate.js";

describe("symbol path parsing", () => {
  it("reads the documented Microsoft default with a downstream cache", () => {
    const e = parseSymbolPath("srv*C:\\cache*https://msdl.microsoft.com/download/symbols");
    assert.deepEqual(e, [
      {
        kind: "srv",
        stores: [
          { kind: "local", location: "C:\\cache" },
          { kind: "http", location: "https://msdl.microsoft.com/download/symbols" },
        ],
        usesDefaultCache: false,
      },
    ]);
  });
  it("splits several entries, cache*, plain dirs, symsrv* and empty tiers", () => {
    const e = parseSymbolPath(
      " cache*/tmp/c ; /opt/syms;;SRV**http://127.0.0.1:8/s/;symsrv*symsrv.dll*\\\\share\\syms*https://x/y;cache*",
    );
    assert.equal(e.length, 5);
    assert.deepEqual(e[0], { kind: "cache", dir: "/tmp/c" });
    assert.deepEqual(e[1], { kind: "dir", dir: "/opt/syms" });
    assert.deepEqual(e[2], {
      kind: "srv",
      stores: [{ kind: "http", location: "http://127.0.0.1:8/s" }],
      usesDefaultCache: true,
    });
    assert.deepEqual(e[3], {
      kind: "srv",
      stores: [
        { kind: "local", location: "\\\\share\\syms" },
        { kind: "http", location: "https://x/y" },
      ],
      usesDefaultCache: false,
    });
    assert.deepEqual(e[4], { kind: "cache", dir: undefined });
  });
  it("srv* with a server only uses the default cache; typos are errors", () => {
    const [e] = parseSymbolPath("srv*https://msdl.microsoft.com/download/symbols");
    assert.equal(e?.kind === "srv" && e.usesDefaultCache, true);
    assert.throws(() => parseSymbolPath("svr*c:\\x*https://y"), SymbolPathError);
    assert.throws(() => parseSymbolPath("srv*"), /names no symbol store/);
  });
  it("takes _NT_ALT_SYMBOL_PATH before _NT_SYMBOL_PATH", () => {
    assert.equal(symbolPathFromEnv({ _NT_SYMBOL_PATH: "a", _NT_ALT_SYMBOL_PATH: "b" }), "b;a");
    assert.equal(symbolPathFromEnv({}), undefined);
  });
});

describe("symbol store keys", () => {
  it("formats GUID (no dashes, upper case) + hex age", () => {
    assert.equal(
      storeIndex("{3844dbb9-2017-4967-be7a-a4a2c20430fa}", 2),
      "3844DBB920174967BE7AA4A2C20430FA2",
    );
    assert.equal(
      storeIndex("3844dbb9-2017-4967-be7a-a4a2c20430fa", 0x1a),
      "3844DBB920174967BE7AA4A2C20430FA1A",
    );
    assert.throws(() => storeIndex("not-a-guid", 1), FormatError);
  });
  it("lists plain, compressed and file.ptr candidates (one- and two-tier)", () => {
    const key = {
      name: "D:\\build\\out\\ntkrnlmp.pdb",
      guid: "3844dbb9-2017-4967-be7a-a4a2c20430fa",
      age: 1,
    };
    const dir = "ntkrnlmp.pdb/3844DBB920174967BE7AA4A2C20430FA1";
    assert.deepEqual(
      storeCandidates(key).map((c) => c.path),
      [`${dir}/ntkrnlmp.pdb`, `${dir}/ntkrnlmp.pd_`, `${dir}/file.ptr`],
    );
    assert.equal(storeCandidates(key, true)[0]!.path, `nt/${dir}/ntkrnlmp.pdb`);
    assert.equal(pdbBaseName("/a/b/c.pdb"), "c.pdb");
    assert.equal(compressedName("winpty.pdb"), "winpty.pd_");
  });
  it("reads file.ptr redirects and messages", () => {
    assert.deepEqual(parseFilePointer("PATH:\\\\server\\share\\x.pdb\r\n"), {
      path: "\\\\server\\share\\x.pdb",
    });
    assert.deepEqual(parseFilePointer("MSG: withheld"), { message: "withheld" });
    assert.throws(() => parseFilePointer("garbage"), /file.ptr/);
  });
});

describe("cabinet (MSZIP) decoding", () => {
  const pdb = new Uint8Array(readFileSync(corpus("pdb-pairs/winpty.pdb")));

  it("round-trips a multi-block MSZIP cabinet (window carried across 32 KB blocks)", () => {
    const cab = writeCabinet([
      { name: "winpty.pdb", data: pdb },
      { name: "small.txt", data: new TextEncoder().encode("hello cab") },
    ]);
    const parsed = parseCabinet(cab);
    assert.equal(parsed.folders[0]!.compression, 1);
    assert.equal(parsed.folders[0]!.blockCount, Math.ceil((pdb.length + 9) / 0x8000));
    const files = extractCabinet(cab);
    assert.deepEqual(
      files.map((f) => f.name),
      ["winpty.pdb", "small.txt"],
    );
    assert.ok(Buffer.from(files[0]!.data).equals(Buffer.from(pdb)));
    assert.equal(new TextDecoder().decode(files[1]!.data), "hello cab");
    assert.ok(Buffer.from(expandCompressedSymbolFile(cab, "SMALL.TXT")).equals(Buffer.from("hello cab")));
  });

  it("decodes a cabinet written by another implementation (gcab 1.5, MSZIP, checksummed)", () => {
    const cab = new Uint8Array(readFileSync(fixture("symbols/wpp_user.pd_")));
    const parsed = parseCabinet(cab);
    assert.deepEqual(
      parsed.files.map((f) => f.name),
      ["wpp_user.pdb"],
    );
    assert.equal(parsed.folders[0]!.compression, 1);
    const original = readFileSync(fixture("wpp_user.pdb"));
    assert.ok(parsed.folders[0]!.blockCount >= Math.ceil(original.length / 0x8000));
    // gcab writes CFDATA checksums: the first block's is non-zero and was verified while decoding.
    assert.notEqual(
      new DataView(cab.buffer, cab.byteOffset).getUint32(parsed.folders[0]!.dataOffset, true),
      0,
    );
    assert.ok(Buffer.from(expandCompressedSymbolFile(cab, "wpp_user.pdb")).equals(original));
  });

  it("needs the previous block as dictionary: block 2 alone does not inflate to the same bytes", () => {
    const cab = writeCabinet([{ name: "winpty.pdb", data: pdb }]);
    const parsed = parseCabinet(cab);
    const second =
      parsed.folders[0]!.dataOffset +
      8 +
      new DataView(cab.buffer).getUint16(parsed.folders[0]!.dataOffset + 4, true);
    const len = new DataView(cab.buffer).getUint16(second + 4, true);
    const body = cab.subarray(second + 8 + 2, second + 8 + len);
    let alone: Uint8Array | undefined;
    try {
      alone = inflateRawSync(body);
    } catch {
      alone = undefined;
    }
    assert.ok(!alone || !Buffer.from(alone).equals(Buffer.from(pdb.subarray(0x8000, 0x10000))));
  });

  it("reads stored (uncompressed) folders", () => {
    const cab = writeCabinet([{ name: "a.bin", data: pdb.subarray(0, 70000) }], { compression: "none" });
    assert.ok(Buffer.from(expandCompressedSymbolFile(cab)).equals(Buffer.from(pdb.subarray(0, 70000))));
  });

  it("checksum: tail bytes fold high-to-low", () => {
    assert.equal(cabChecksum(Uint8Array.of(1, 2, 3, 4), 0), 0x04030201);
    assert.equal(cabChecksum(Uint8Array.of(1, 2, 3), 0), 0x010203);
    assert.equal(cabChecksum(Uint8Array.of(9), 5), 9 ^ 5);
  });

  it("names what is wrong in damaged cabinets", () => {
    const cab = writeCabinet([{ name: "winpty.pdb", data: pdb.subarray(0, 100000) }]);
    assert.throws(() => parseCabinet(cab.subarray(0, 40)), /truncated/);
    const bad = cab.slice();
    bad[bad.length - 10]! ^= 0xff;
    assert.throws(() => extractCabinet(bad), /checksum mismatch/);
    const lzx = cab.slice();
    lzx[42] = 3;
    assert.throws(() => extractCabinet(lzx), /LZX/);
    assert.throws(() => parseCabinet(new Uint8Array(64)), /MSCF/);
  });

  it("survives thousands of mutated cabinets with FormatErrors only", () => {
    const cab = writeCabinet([{ name: "x.pdb", data: pdb.subarray(0, 40000) }]);
    const failures = fuzz({
      inputs: [{ name: "x.pd_", bytes: cab, hot: [{ start: 0, end: 120 }] }],
      count: 2000,
      seed: 7,
      targets: { extract: (b) => extractCabinet(b, 1 << 20) },
      isExpected: (e) => e instanceof FormatError,
    });
    assert.deepEqual(failures, []);
  });
});
