import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { eventTraceEvents } from "../../src/catalog/readers/mof-events.js";
import { decompressBmof, parseBmof, qualifierAt } from "../../src/formats/mof/binary.js";
import { ds01Decompress } from "../../src/formats/mof/ds01.js";
import { mofData, parsePe } from "../../src/formats/pe/index.js";
import { readers } from "../../src/pipeline/readers.js";
import { concatBytes } from "../../src/util/bytes.js";
import { FormatError } from "../../src/util/errors.js";
import { corpus } from "../helpers/corpus.js";

/** LSB-first bit writer, the DS-01 bit order. */
class BitWriter {
  private bytes: number[] = [0x44, 0x53, 0x00, 0x01]; // "DS", version 1
  private acc = 0;
  private n = 0;
  put(value: number, bits: number): this {
    for (let i = 0; i < bits; i++) {
      this.acc |= ((value >> i) & 1) << this.n;
      if (++this.n === 8) {
        this.bytes.push(this.acc);
        this.acc = 0;
        this.n = 0;
      }
    }
    return this;
  }
  literal(byte: number): this {
    return this.put(byte & 0x80 ? 1 : 2, 2).put(byte & 0x7f, 7);
  }
  /** Match with a 6-bit offset; length = 2^n + v + 1. */
  shortMatch(offset: number, n: number, v: number): this {
    return this.put(0, 2).put(offset, 6).put(0, n).put(1, 1).put(v, n);
  }
  end(): Uint8Array {
    this.put(3, 2).put(1, 1).put(0xfff, 12); // sync marker, then < 16 bits remain
    if (this.n) this.bytes.push(this.acc);
    return Uint8Array.from(this.bytes);
  }
}

function literalOnly(data: Uint8Array): Uint8Array {
  const w = new BitWriter();
  for (const b of data) w.literal(b);
  return w.end();
}

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const utf16 = (s: string) => {
  const b = new Uint8Array((s.length + 1) * 2);
  for (let i = 0; i < s.length; i++) new DataView(b.buffer).setUint16(i * 2, s.charCodeAt(i), true);
  return b;
};
const cat = (...parts: Uint8Array[]) => concatBytes(parts);
const sized = (...parts: Uint8Array[]) => {
  const body = cat(...parts);
  return cat(u32(body.length + 4), body);
};

type QValue = string | number | boolean | string[] | number[];
function qualifier(name: string, value: QValue): Uint8Array {
  const n = utf16(name);
  let type: number;
  let v: Uint8Array;
  if (Array.isArray(value)) {
    const strings = typeof value[0] === "string";
    const elems = cat(...value.map((x) => (strings ? utf16(String(x)) : u32(Number(x)))));
    type = 0x2000 | (strings ? 0x08 : 0x03);
    v = cat(u32(16 + elems.length), u32(1), u32(value.length), u32(elems.length), elems);
  } else if (typeof value === "string") [type, v] = [0x08, utf16(value)];
  else if (typeof value === "boolean") [type, v] = [0x0b, u32(value ? 0xffff : 0)];
  else [type, v] = [0x03, u32(value)];
  return sized(u32(type), u32(0), u32(n.length), n, v);
}
const qblock = (qs: Uint8Array[]) => {
  const body = cat(...qs);
  return cat(u32(body.length + 8), u32(qs.length), body);
};
function property(name: string, cimType: number, cimName: string, qs: Array<[string, QValue]>): Uint8Array {
  const n = utf16(name);
  const quals = qblock([...qs.map(([k, v]) => qualifier(k, v)), qualifier("CIMTYPE", cimName)]);
  return sized(u32(cimType), u32(0), u32(0xffffffff), u32(n.length), n, quals);
}
function systemProperty(name: string, value: string): Uint8Array {
  const n = utf16(name);
  return sized(u32(0x08), u32(0), u32(n.length), u32(0xffffffff), n, utf16(value));
}
function classObject(
  name: string,
  superclass: string,
  qs: Array<[string, QValue]>,
  props: Uint8Array[],
): Uint8Array {
  const quals = qblock(qs.map(([k, v]) => qualifier(k, v)));
  const propBody = cat(...props);
  const propBlock = cat(u32(propBody.length + 8), u32(props.length), propBody);
  const data = cat(
    quals,
    propBlock,
    systemProperty("__CLASS", name),
    systemProperty("__SUPERCLASS", superclass),
  );
  const methods = cat(u32(8), u32(0));
  return sized(u32(0), u32(quals.length), u32(data.length), u32(0), data, methods);
}
function bmofResource(objects: Uint8Array[]): Uint8Array {
  const root = cat(u32(1), u32(1), u32(objects.length), ...objects);
  const plain = cat(u32(0x424d4f46), u32(root.length + 8), root);
  const packed = literalOnly(plain);
  return cat(u32(0x424d4f46), u32(1), u32(packed.length), u32(plain.length), packed);
}

test("ds01: literals, matches with overlap, sync marker", () => {
  const data = Uint8Array.from({ length: 700 }, (_, i) => (i * 37 + (i >> 3)) & 0xff);
  assert.deepEqual(ds01Decompress(literalOnly(data), data.length), data);
  // "abc" then a match at offset 3, length 2^2+2+1 = 7 (copies overlap its own output).
  const w = new BitWriter().literal(0x61).literal(0x62).literal(0x63).shortMatch(3, 2, 2).end();
  assert.equal(new TextDecoder().decode(ds01Decompress(w, 10)), "abcabcabca");
  assert.throws(() => ds01Decompress(w, 11), FormatError); // stream ends before 11 bytes
  assert.throws(() => ds01Decompress(new BitWriter().shortMatch(5, 0, 0).end(), 2), /offset/);
  assert.throws(() => ds01Decompress(Uint8Array.from([0x4d, 0x5a, 0, 1]), 4), /DS/);
});

test("bmof: the MOFDATA resources of 3ware.sys and IPMIDRV.sys decompress and parse", () => {
  for (const [file, className] of [
    ["3ware.sys", "TestData"],
    ["IPMIDRV.sys", "Microsoft_IPMI"],
  ] as const) {
    const pe = parsePe(readFileSync(corpus(`pe/kernel/${file}`)));
    const resources = mofData(pe);
    assert.equal(resources.length, 1, file);
    const res = resources[0]!;
    const declared = new DataView(res.buffer, res.byteOffset).getUint32(12, true);
    const plain = decompressBmof(res);
    assert.equal(plain.length, declared);
    // Independent check on the decompressed bytes: the UTF-16 text after "__CLASS" names the class.
    const text = new TextDecoder("utf-16le").decode(plain.subarray(0, plain.length & ~1));
    assert.ok(text.includes(`__CLASS\0${className}\0`), `${file}: ${className} not in the text`);
    assert.ok(
      text.includes("BMOFQUALFLAVOR11") || new TextDecoder().decode(plain).includes("BMOFQUALFLAVOR11"),
    );
    const doc = parseBmof(plain);
    const cls = doc.classes.find((c) => c.name === className && c.properties.length > 0);
    assert.ok(cls, file);
    const propNames = cls.properties.map((p) => p.name);
    for (const p of propNames) assert.ok(text.includes(`\0${p}\0`), `${file}: property ${p}`);
    assert.ok(propNames.includes("InstanceName") && propNames.includes("Active"));
    assert.equal(cls.properties.find((p) => p.name === "Active")?.type, "boolean");
    assert.match(String(cls.qualifiers.get("guid")), /^[0-9a-fA-F-]{36}$/);
    // Through the PE reader: a note, no events (these are WMI data blocks, not EventTrace classes).
    const r = readers[0]!.read({ path: file, bytes: readFileSync(corpus(`pe/kernel/${file}`)) });
    assert.equal(r.events.filter((e) => e.kind === "mof").length, 0);
    assert.ok(
      r.notes.some((n) => n.startsWith("MOFDATA:") && n.includes(className)),
      file,
    );
  }
  // String-array qualifier (Values{...} on a method parameter): find the item by its UTF-16 name.
  const ipmi = decompressBmof(mofData(parsePe(readFileSync(corpus("pe/kernel/IPMIDRV.sys"))))[0]!);
  const nameAt = Buffer.from(ipmi).indexOf(Buffer.from("Values\0", "utf16le"));
  assert.ok(nameAt > 16);
  const q = qualifierAt(ipmi, nameAt - 16);
  assert.equal(q.name, "values");
  const list = q.value as string[];
  assert.equal(list[0], "Command Completed Normally");
  // Element count agrees with the NUL-separated strings inside the item.
  const itemEnd = nameAt - 16 + new DataView(ipmi.buffer, ipmi.byteOffset).getUint32(nameAt - 16, true);
  const itemText = new TextDecoder("utf-16le").decode(ipmi.subarray(nameAt + 14 + 16, itemEnd));
  assert.equal(list.length, itemText.split("\0").filter(Boolean).length);
});

test("bmof: EventTrace classes in binary MOF become mof events", () => {
  const res = bmofResource([
    classObject(
      "MyDriverTrace",
      "EventTrace",
      [
        ["Guid", "{01234567-89ab-cdef-0123-456789abcdef}"],
        ["Description", "My Driver"],
      ],
      [],
    ),
    classObject(
      "MyEvent",
      "MyDriverTrace",
      [
        ["Guid", "{11111111-2222-3333-4444-555555555555}"],
        ["EventVersion", 2],
        ["DisplayName", "Io"],
      ],
      [],
    ),
    classObject(
      "MyEvent_Types",
      "MyEvent",
      [
        ["EventType", [10, 11]],
        ["EventTypeName", ["Read", "Write"]],
        ["Description", "I/O"],
      ],
      [
        property("Size", 0x13, "uint32", [["WmiDataId", 2]]),
        property("Irp", 0x15, "uint64", [
          ["WmiDataId", 1],
          ["pointer", true],
        ]),
        property("Name", 0x08, "string", [
          ["WmiDataId", 3],
          ["format", "w"],
          ["StringTermination", "NullTerminated"],
        ]),
      ],
    ),
  ]);
  const doc = parseBmof(decompressBmof(res));
  assert.deepEqual(
    doc.classes.map((c) => [c.name, c.superclass]),
    [
      ["MyDriverTrace", "EventTrace"],
      ["MyEvent", "MyDriverTrace"],
      ["MyEvent_Types", "MyEvent"],
    ],
  );
  const r = eventTraceEvents(doc, "x.sys", { source: "mof-binary" });
  assert.equal(r.providers[0]?.provider.name, "My Driver");
  assert.deepEqual(
    r.events.map((e) => [e.name, e.id, e.version, e.provenance.source]),
    [
      ["Io_Read_V2", 10, 2, "mof-binary"],
      ["Io_Write_V2", 11, 2, "mof-binary"],
    ],
  );
  assert.deepEqual(
    r.events[0]?.fields.map((f) => [f.name, f.inType]),
    [
      ["Irp", "win:Pointer"],
      ["Size", "win:UInt32"],
      ["Name", "win:UnicodeString"],
    ],
  );
});

test("bmof: corrupt resources give FormatErrors, never crashes or hangs", () => {
  const res = mofData(parsePe(readFileSync(corpus("pe/kernel/3ware.sys"))))[0]!;
  assert.throws(() => decompressBmof(res.subarray(0, 40)), FormatError);
  assert.throws(() => decompressBmof(Uint8Array.from([0x46, 0x4f, 0x4d, 0x42, 2, 0, 0, 0])), FormatError);
  const plain = decompressBmof(res);
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 300; i++) {
    const m = Uint8Array.from(i % 2 ? res : plain);
    for (let k = 0; k < 3; k++) m[16 + Math.floor(rand() * (m.length - 16))] = Math.floor(rand() * 256);
    try {
      if (i % 2) decompressBmof(m);
      else parseBmof(m);
    } catch (err) {
      assert.ok(err instanceof FormatError, `mutation ${i}: ${(err as Error).message}`);
    }
  }
});
