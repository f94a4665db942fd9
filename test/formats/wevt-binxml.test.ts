import assert from "node:assert/strict";
import { test } from "node:test";
import { binXmlToString, parseBinXml, substitutions } from "../../src/formats/wevt/binxml.js";
import { FormatError } from "../../src/util/errors.js";

/** Small BinXML writer for the WEVT dialect (inline names), enough to build UserData shapes. */
class W {
  bytes: number[] = [];
  u8(...v: number[]) {
    this.bytes.push(...v);
    return this;
  }
  u16(v: number) {
    return this.u8(v & 0xff, v >> 8);
  }
  u32(v: number) {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }
  utf16(s: string) {
    for (const c of s) this.u16(c.charCodeAt(0));
    return this;
  }
  name(s: string) {
    return this.u16(0).u16(s.length).utf16(s).u16(0);
  }
  open(s: string, attrs: boolean) {
    this.u8(attrs ? 0x41 : 0x01)
      .u16(0xffff)
      .u32(0)
      .name(s);
    return attrs ? this.u32(0) : this;
  }
  text(s: string) {
    return this.u8(0x05, 0x01).u16(s.length).utf16(s);
  }
  sub(index: number, type: number, optional = false) {
    return this.u8(optional ? 0x0e : 0x0d)
      .u16(index)
      .u8(type);
  }
  build() {
    return Uint8Array.from(this.bytes);
  }
}

test("binxml: UserData shape with nested elements, attribute substitutions and text", () => {
  const w = new W().u8(0x0f, 1, 1, 0);
  w.open("UserData", false).u8(0x02);
  w.open("Op", true).u8(0x06).name("Kind").text("start").u8(0x46).name("Id").sub(0, 8).u8(0x02);
  w.open("Path", false).u8(0x02).sub(1, 1, true).u8(0x04);
  w.open("Empty", false).u8(0x03);
  w.u8(0x07).u16(3).utf16("a<b").u8(0x08).u16(0x41).u8(0x09).name("amp");
  w.u8(0x04).u8(0x04).u8(0x00);
  const root = parseBinXml(w.build());
  assert.ok(root);
  assert.equal(root.name, "UserData");
  assert.deepEqual(
    substitutions(root).map((s) => [s.substitution, s.valueType, s.optional]),
    [
      [0, 8, false],
      [1, 1, true],
    ],
  );
  assert.equal(
    binXmlToString(root),
    '<UserData><Op Kind="start" Id="%1"><Path>%2</Path><Empty/>a&lt;bA&amp;</Op></UserData>',
  );
});

test("binxml: malformed fragments give FormatError with the reason", () => {
  const cases: Array<[string, number[], RegExp]> = [
    ["unknown token", [0x0f, 1, 1, 0, 0x55], /unknown token 0x55/],
    ["end without open", [0x04], /not opened/],
    ["content outside element", [0x0d, 0, 0, 1], /outside any element/],
    ["truncated name", [0x01, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 9, 0, 0x41], /runs past end/],
    ["unclosed element", [...new W().open("A", false).u8(0x02).build(), 0x00], /ends inside <A>/],
    [
      "non-string value",
      [...new W().open("A", false).u8(0x02).build(), 0x05, 0x08, 1, 0, 0, 0],
      /value type 0x8/,
    ],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(
      () => parseBinXml(Uint8Array.from(bytes)),
      (e) => e instanceof FormatError && re.test(e.message),
      what,
    );
  }
  const deep = new W();
  for (let i = 0; i < 100; i++) deep.open("X", false).u8(0x02);
  assert.throws(() => parseBinXml(deep.build()), /nested too deeply/);
});
