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

test("PE core: pointerRvaAt agrees with vaToRva(u64At) on every 8-byte slot of real images", () => {
  for (const name of ["pe/kernel/fltMgr.sys", "builds/10.0.19041.508/kernel32.dll"]) {
    const pe = parsePe(readFileSync(corpus(name)));
    let pointers = 0;
    for (const s of pe.sections) {
      for (let at = s.virtualAddress; at + 8 <= s.virtualAddress + s.rawSize; at += 8) {
        let want: number | undefined;
        try {
          want = pe.vaToRva(pe.u64At(at));
        } catch {
          want = undefined;
        }
        assert.equal(pe.pointerRvaAt(at), want, `${name} slot 0x${at.toString(16)}`);
        if (want !== undefined) pointers++;
      }
    }
    // Relocated pointers exist in both (vtables, function tables, strings' addresses).
    assert.ok(pointers > 50, `${name}: ${pointers} pointers`);
  }
  // An RVA with no file bytes, and one past the image.
  const pe = parsePe(readFileSync(corpus("pe/kernel/fltMgr.sys")));
  assert.equal(pe.pointerRvaAt(pe.headers.sizeOfImage + 16), undefined);
});
