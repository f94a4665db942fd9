import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { findResources, parsePe, readResources, resourceTypeName } from "../src/formats/pe/index.js";
import { corpus } from "./helpers/corpus.js";

test("PE core: fltMgr.sys headers, sections and WEVT_TEMPLATE resource", () => {
  const pe = parsePe(readFileSync(corpus("pe/kernel/fltMgr.sys")));
  assert.equal(pe.headers.machineName, "x64");
  assert.ok(pe.is64);
  assert.ok(pe.sections.some((s) => s.name === ".text"));
  const types = new Set(readResources(pe).map((l) => resourceTypeName(l.type)));
  assert.ok(types.has("WEVT_TEMPLATE"), [...types].join(","));
  const wevt = findResources(pe, "WEVT_TEMPLATE");
  const data = pe.bytesAt(wevt[0]!.rva, 4);
  assert.equal(new TextDecoder().decode(data), "CRIM");
});
