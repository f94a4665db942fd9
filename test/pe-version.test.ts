import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { peReader } from "../src/catalog/readers/pe.js";
import {
  findResources,
  parsePe,
  RT_VERSION,
  readFileVersion,
  resourceData,
} from "../src/formats/pe/index.js";
import { peExtractors } from "../src/pipeline/readers.js";
import { corpus } from "./helpers/corpus.js";
import { corpusPeFiles } from "./helpers/pe-corpus.js";

/** The StringFileInfo "FileVersion" text of the same resource: an independent copy of the version. */
function fileVersionString(bytes: Uint8Array): string | undefined {
  const text = new TextDecoder("utf-16le").decode(bytes.subarray(0, bytes.length & ~1));
  const m = /FileVersion\0+([0-9][0-9., ]*)/.exec(text);
  return m?.[1]?.replace(/,\s*/g, ".").trim();
}

test("version resource: fixed FileVersion equals the StringFileInfo FileVersion text on every corpus PE", () => {
  let compared = 0;
  for (const path of corpusPeFiles()) {
    const pe = parsePe(readFileSync(path));
    const leaf = findResources(pe, RT_VERSION)[0];
    const v = readFileVersion(pe);
    if (!leaf) {
      assert.equal(v, undefined, path);
      continue;
    }
    const text = fileVersionString(resourceData(pe, leaf));
    // Only full four-part strings are comparable: third-party authors write anything there
    // (WinDivert64.sys says "2.2" while its fixed info says 2.0.0.0).
    if (!text || !v || text.split(".").length < 4) continue;
    // The fixed revision is 16 bits; strings may hold more (onnxruntime: "1.30.0.20260909" vs 909).
    assert.equal(text.split(".").slice(0, 3).map(Number).join("."), `${v.major}.${v.minor}.${v.build}`, path);
    compared++;
  }
  assert.ok(compared >= 20, `compared ${compared} images`);
});

test("catalog rows carry the Windows build: from the name, else the version resource, never a product version", () => {
  const reader = peReader(peExtractors);
  const read = (rel: string) => reader.read({ path: rel, bytes: readFileSync(corpus(rel)) });
  const flt = read("pe/kernel/fltMgr.sys");
  assert.ok(flt.events.length > 0);
  assert.ok(flt.events.every((e) => e.provenance.build === "10.0.19041"));
  const named = read("pe/kernel/win32kbase_10.0.17134.523.sys");
  assert.ok(named.events.every((e) => e.provenance.build === "10.0.17134"));
  const onnx = read("pe/user/OpenConsole.exe");
  assert.ok(onnx.events.length > 0);
  assert.ok(onnx.events.every((e) => e.provenance.build === undefined));
});
