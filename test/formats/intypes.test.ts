import assert from "node:assert/strict";
import { test } from "node:test";
import {
  canonicalInType,
  IN_TYPE_NAMES,
  inTypeName,
  inTypeNumber,
  OUT_TYPE_NAMES,
  outTypeName,
  outTypeNumber,
} from "../../src/formats/intypes.js";

test("intypes: every in/out name round-trips to its number", () => {
  for (const [n, name] of IN_TYPE_NAMES) assert.equal(inTypeNumber(name), n, name);
  for (const [n, name] of OUT_TYPE_NAMES) assert.equal(outTypeNumber(name), n, name);
});

test("intypes: the TDH-internal range starts at 300, not after 25", () => {
  assert.equal(inTypeName(300), "tdh:CountedString");
  assert.equal(inTypeName(26), "win:26");
  assert.equal(inTypeName(8), "win:UInt32");
  assert.equal(outTypeName(0), undefined);
  assert.equal(outTypeName(18), "win:HexInt32");
});

test("intypes: PerfView spellings and numeric spellings map to winmeta names", () => {
  assert.equal(canonicalInType("win:CountedUtf16String"), "win:CountedUnicodeString");
  assert.equal(canonicalInType("win:CountedMbcsString"), "win:CountedAnsiString");
  assert.equal(canonicalInType("win:25"), "win:CountedBinary");
  assert.equal(canonicalInType("WIN:uint32"), "win:UInt32");
  assert.equal(inTypeNumber("nonsense"), undefined);
});
