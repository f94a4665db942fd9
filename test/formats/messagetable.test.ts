import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  MESSAGE_ANSI,
  MESSAGE_UNICODE,
  MESSAGE_UTF8,
  messageMap,
  parseMessageTable,
} from "../../src/formats/messagetable/index.js";
import { messageTables, parsePe } from "../../src/formats/pe/index.js";
import { concatBytes } from "../../src/util/bytes.js";
import { FormatError } from "../../src/util/errors.js";
import { corpus, fixture } from "../helpers/corpus.js";
import { fuzz } from "../helpers/mutate.js";

// fixtures/messagetable/*.bin are built by windmc from fixtures-src/messagetable/messages.mc.
test("messagetable: ANSI entries decode with the code page (windmc -A, cp1252)", () => {
  const t = parseMessageTable(new Uint8Array(readFileSync(fixture("messagetable/ansi-1252.bin"))), 1252);
  assert.deepEqual(
    t.map((e) => [e.id, e.encoding, e.text]),
    [
      [1, MESSAGE_ANSI, "Plain ASCII message %1."],
      [2, MESSAGE_ANSI, "Café £ ANSI text."],
      [0x10, MESSAGE_ANSI, "Second block."],
    ],
  );
});

test("messagetable: UTF-16 entries (windmc -U) give the same texts", () => {
  const t = parseMessageTable(new Uint8Array(readFileSync(fixture("messagetable/unicode.bin"))));
  assert.deepEqual(
    t.map((e) => [e.id, e.encoding, e.text]),
    [
      [1, MESSAGE_UNICODE, "Plain ASCII message %1."],
      [2, MESSAGE_UNICODE, "Café £ ANSI text."],
      [0x10, MESSAGE_UNICODE, "Second block."],
    ],
  );
});

/** One block with one entry per text: [flags, encoded text]. */
function build(entries: Array<[number, Uint8Array]>, lowId: number): Uint8Array {
  const body = entries.map(([flags, text]) => {
    const len = (4 + text.length + 1 + 3) & ~3;
    const e = new Uint8Array(len);
    new DataView(e.buffer).setUint16(0, len, true);
    new DataView(e.buffer).setUint16(2, flags, true);
    e.set(text, 4);
    return e;
  });
  // Block count 1, then the block {LowId, HighId, OffsetToEntries = 16}.
  const header = new Uint8Array(16);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, 1, true);
  dv.setUint32(4, lowId, true);
  dv.setUint32(8, lowId + entries.length - 1, true);
  dv.setUint32(12, 16, true);
  return concatBytes([header, ...body]);
}

test("messagetable: UTF-8 entries (Flags 2) and mixed encodings in one block", () => {
  const bytes = build(
    [
      [MESSAGE_UTF8, new TextEncoder().encode("Grüße → UTF-8\r\n")],
      [MESSAGE_ANSI, Uint8Array.from([0x41, 0xe9, 0x0d, 0x0a])],
    ],
    0x90000001,
  );
  const t = parseMessageTable(bytes);
  assert.deepEqual(
    t.map((e) => [e.id, e.encoding, e.text]),
    [
      [0x90000001, MESSAGE_UTF8, "Grüße → UTF-8"],
      [0x90000002, MESSAGE_ANSI, "Aé"],
    ],
  );
});

test("messagetable: ntdll's 2,800-entry table reads completely", () => {
  const pe = parsePe(new Uint8Array(readFileSync(corpus("pe/user/ntdll_10.0.22000.778.dll"))));
  const tables = messageTables(pe).map((t) => parseMessageTable(t.data, t.leaf.codePage));
  const m = messageMap(tables);
  assert.ok(m.size > 2500, `entries: ${m.size}`);
  // STATUS_ACCESS_VIOLATION's text is a well-known NTSTATUS message.
  assert.match(m.get(0xc0000005) ?? "", /memory/i);
});

test("messagetable: bad tables give FormatError; mutations stay bounded", () => {
  assert.throws(() => parseMessageTable(new Uint8Array(2)), FormatError);
  const zeroLength = build([[MESSAGE_UNICODE, new Uint8Array(4)]], 1);
  new DataView(zeroLength.buffer).setUint16(16, 0, true);
  assert.throws(() => parseMessageTable(zeroLength), /entry length 0/);
  const huge = build([[MESSAGE_UNICODE, new Uint8Array(4)]], 1);
  new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
  assert.throws(() => parseMessageTable(huge), /cannot fit/);
  const base = new Uint8Array(readFileSync(fixture("messagetable/unicode.bin")));
  const failures = fuzz({
    inputs: [{ name: "unicode.bin", bytes: base }],
    count: 1000,
    seed: 77,
    targets: { parse: (b) => parseMessageTable(b) },
    isExpected: (e) => e instanceof FormatError,
  });
  assert.deepEqual(failures, []);
});

test("messagetable: overlapping blocks cannot multiply the work", () => {
  // 2,000 blocks that all point at the same 100-entry run: rejected instead of read 2,000 times.
  const entries = Array.from(
    { length: 100 },
    () => [MESSAGE_UNICODE, new Uint8Array(8)] as [number, Uint8Array],
  );
  const one = build(entries, 1);
  const blocks = 2000;
  const out = new Uint8Array(4 + blocks * 12 + one.length - 16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, blocks, true);
  for (let b = 0; b < blocks; b++) {
    dv.setUint32(4 + b * 12, 1, true);
    dv.setUint32(8 + b * 12, 100, true);
    dv.setUint32(12 + b * 12, 4 + blocks * 12, true);
  }
  out.set(one.subarray(16), 4 + blocks * 12);
  assert.throws(() => parseMessageTable(out), /blocks overlap/);
});
