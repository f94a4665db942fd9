import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { formatMofRowW10, W10_MOF_COLUMNS } from "../../src/catalog/format-w10.js";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { mofReader, parseMof } from "../../src/catalog/readers/mof.js";
import { parseMofText } from "../../src/formats/mof/index.js";
import { FormatError } from "../../src/util/errors.js";
import { corpus } from "../helpers/corpus.js";

const enc = new TextEncoder();
const wmicorePath = corpus("mof/wmicore.mof");
const wmicore = readFileSync(wmicorePath, "utf8");
const result = parseMof(wmicore, wmicorePath);
const kernel = result.events.filter((e) => e.provider.name === "Windows Kernel Trace");

/** The body of `class Name:Super { ... };` cut from the MOF text (independent of the parser). */
function classText(name: string): { head: string; body: string } {
  const start = wmicore.search(new RegExp(`\\nclass\\s+${name}\\s*:`));
  assert.ok(start > 0, `class ${name} not in text`);
  const headStart = wmicore.lastIndexOf("\n[", start);
  const end = wmicore.indexOf("\n};", start);
  return { head: wmicore.slice(headStart, start), body: wmicore.slice(start, end) };
}

test("mof: wmicore.mof sniffs as MOF and yields the kernel EventTrace provider", () => {
  assert.equal(mofReader.sniff(readFileSync(wmicorePath), wmicorePath), "yes");
  const kp = result.providers.find((p) => p.provider.symbol === "MSNT_SystemTrace");
  assert.ok(kp);
  assert.equal(kp.provider.name, "Windows Kernel Trace");
  assert.equal(kp.provider.guid, "9e814aad-3204-11d2-9a82-006008a86939");
  // Every class derived from EventTrace with a Guid is a provider (counted on the text).
  const providerClasses = [...wmicore.matchAll(/\nclass\s+(\w+)\s*:\s*EventTrace\s*\n/g)].map((m) => m[1]);
  assert.deepEqual(
    result.providers.map((p) => p.provider.symbol),
    providerClasses,
  );
  assert.deepEqual(result.notes, []);
});

test("mof: kernel classes have event types and typed fields", () => {
  const categories = new Set(kernel.map((e) => e.mof?.category));
  for (const c of [
    "Process",
    "Thread",
    "Image",
    "FileIo",
    "DiskIo",
    "Registry",
    "TcpIp",
    "UdpIp",
    "PageFault",
    "PerfInfo",
  ]) {
    assert.ok(categories.has(c), `missing ${c}`);
    const evs = kernel.filter((e) => e.mof?.category === c);
    assert.ok(
      evs.some((e) => e.fields.length > 0 && e.fields.every((f) => f.inType.startsWith("win:"))),
      c,
    );
  }
  for (const e of result.events) {
    assert.equal(e.kind, "mof");
    assert.equal(e.opcode?.value, e.id);
    assert.match(e.mof?.classGuid ?? "", /^[0-9a-f-]{36}$/);
  }
});

test("mof: Process_V2_TypeGroup1 expands to one event per EventType with WmiDataId order", () => {
  const { head, body } = classText("Process_V2_TypeGroup1");
  const types = /EventType\{([^}]*)\}/
    .exec(head)![1]!
    .split(",")
    .map((s) => Number(s.trim()));
  const typeNames = [.../EventTypeName\{([^}]*)\}/.exec(head)![1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  const props = [...body.matchAll(/WmiDataId\((\d+)\)[\s\S]*?\]\s*(\w+)\s+(\w+);/g)].map((m) => m[3]);
  const evs = kernel.filter((e) => e.mof?.className === "Process_V2_TypeGroup1");
  assert.deepEqual(
    evs.map((e) => e.id),
    types,
  );
  assert.deepEqual(
    evs.map((e) => e.mof?.eventTypeName),
    typeNames,
  );
  for (const e of evs) {
    assert.equal(e.version, 2);
    assert.equal(e.mof?.classGuid, "3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c");
    assert.deepEqual(
      e.fields.map((f) => f.name),
      props,
    );
  }
  const start = evs[0]!;
  assert.equal(start.name, "Process_Start_V2");
  const f = Object.fromEntries(start.fields.map((x) => [x.name, x]));
  assert.equal(f.UniqueProcessKey?.inType, "win:Pointer"); // uint32 + pointer
  assert.equal(f.ProcessId?.inType, "win:UInt32");
  assert.equal(f.ProcessId?.outType, "win:HexInt32"); // format("x")
  assert.equal(f.UserSID?.inType, "win:SID"); // object + extension("Sid")
  assert.equal(f.ImageFileName?.inType, "win:AnsiString"); // NullTerminated, no format
  assert.equal(f.CommandLine?.inType, "win:UnicodeString"); // format("w")
  assert.equal(f.CommandLine?.extra?.stringTermination, "NullTerminated");
});

test("mof: network, arrays and size references", () => {
  const send = kernel.find((e) => e.mof?.className === "TcpIp_TypeGroup1" && e.version === 2);
  assert.ok(send);
  const f = Object.fromEntries(send.fields.map((x) => [x.name, x]));
  assert.deepEqual([f.daddr?.inType, f.daddr?.outType], ["win:UInt32", "win:IPv4"]);
  assert.deepEqual([f.dport?.inType, f.dport?.outType], ["win:UInt16", "win:Port"]);
  const cpu = kernel.find((e) => e.name === "SystemConfig_CPU_V2");
  const computerName = cpu?.fields.find((x) => x.name === "ComputerName");
  const decl = /char16\s+ComputerName\[(\d+)\]/.exec(wmicore)!;
  assert.deepEqual([computerName?.inType, computerName?.length], ["win:UnicodeString", Number(decl[1])]);
  const sized = result.events
    .flatMap((e) => e.fields)
    .find((x) => x.extra?.mofType === "uint64" && typeof x.count === "string");
  assert.ok(sized, "a WmiSizeIs array keeps its count reference");
});

test("mof: Process events agree with the Windows10EtwEvents kernel TSV for the same class versions", () => {
  const tsv = readFileSync(
    corpus("peer-outputs/windows10etwevents/26H1/mof/Windows_Kernel_Trace.tsv"),
    "utf8",
  );
  const lines = tsv.split("\n").filter(Boolean);
  assert.deepEqual(lines[0]!.split("\t"), [...W10_MOF_COLUMNS]);
  const peer = lines.slice(1).map((l) => l.split("\t"));
  const key = (guid: string, id: string, version: string) => `${guid.toLowerCase()}/${id}/${version}`;
  const mine = new Map<string, string[]>();
  for (const e of kernel) {
    const row = formatMofRowW10(e);
    mine.set(key(row[1]!, row[2]!, row[3]!), row);
  }
  const processGuid = "{3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c}";
  const processVersions = new Set(kernel.filter((e) => e.mof?.category === "Process").map((e) => e.version));
  const processRows = peer.filter(
    (c) => c[1]!.toLowerCase() === processGuid && processVersions.has(Number(c[3])),
  );
  assert.ok(processRows.length >= 20, `${processRows.length} Process rows`);
  for (const c of processRows) {
    const m = mine.get(key(c[1]!, c[2]!, c[3]!));
    assert.ok(m, `no Process event ${c[2]} v${c[3]}`);
    assert.deepEqual([m[0], m[1]!.toLowerCase(), ...m.slice(2)], [c[0], c[1]!.toLowerCase(), ...c.slice(2)]);
  }
  // Across the whole kernel provider almost every row is identical (the 26H1 MOF renamed a few fields).
  let shared = 0;
  let identical = 0;
  for (const c of peer) {
    const m = mine.get(key(c[1]!, c[2]!, c[3]!));
    if (!m) continue;
    shared++;
    if (m.slice(2).join("\t") === c.slice(2).join("\t")) identical++;
  }
  assert.ok(shared >= 400 && identical / shared > 0.97, `${identical}/${shared}`);
});

test("mof: syntax — pragmas, comments, qualifiers, flavors, arrays, methods, instances", () => {
  const text = `// header
#pragma namespace("\\\\\\\\.\\\\root\\\\wmi")
#pragma classflags("forceupdate")
/* block
   comment */
qualifier Dummy : boolean = false;
[abstract] class EventTrace { };
[Dynamic, Description("My " "Provider") : amended ToSubclass, Guid("{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}")]
class MyProvider : EventTrace { [ValueMap{"1","2"}, Values{"a","b"}] uint32 Flags; };
[Dynamic, Guid("{11111111-2222-3333-4444-555555555555}"), EventVersion(1), DisplayName("Thing")]
class Thing_V1 : MyProvider { };
[Dynamic, EventType(7), EventTypeName("Seven"), Description("One type")]
class Thing_Seven : Thing_V1 {
  [WmiDataId(2), ValueMap{"0", "1"}, Values{"Off", "On"}] uint8 State;
  [WmiDataId(1), pointer] uint64 Object;
  [WmiDataId(3), WmiSizeIs("State")] uint16 Items[];
  [WmiDataId(4)] uint8 Fixed[16];
  [WmiDataId(5), extension("Guid")] object Id;
  uint32 NotInPayload;
  void Method([in] uint32 x, [out] string y);
};
instance of Thing_Seven as $t { State = 1; Nested = { 1, 2 }; };
`;
  const doc = parseMofText(text);
  assert.equal(doc.pragmas.length, 2);
  assert.equal(doc.instancesSkipped, 1);
  assert.equal(doc.classes.length, 4);
  const r = parseMof(text, "t.mof");
  assert.equal(r.providers[0]?.provider.name, "My Provider");
  assert.equal(r.providers[0]?.provider.guid, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  assert.equal(r.events.length, 1);
  const e: CatalogEvent = r.events[0]!;
  assert.deepEqual([e.id, e.version, e.name, e.message], [7, 1, "Thing_Seven_V1", "One type"]);
  assert.deepEqual(
    e.fields.map((f) => [f.name, f.inType, f.count ?? "", f.map ?? ""]),
    [
      ["Object", "win:Pointer", "", ""],
      ["State", "win:UInt8", "", "0=Off; 1=On"],
      ["Items", "win:UInt16", "State", ""],
      ["Fixed", "win:UInt8", 16, ""],
      ["Id", "win:GUID", "", ""],
    ],
  );
});

test("mof: bad input is a FormatError naming the line; sniff rejects non-MOF", () => {
  assert.throws(
    () => parseMofText("class A {\n uint32 x;\n"),
    (e: unknown) => e instanceof FormatError,
  );
  assert.throws(() => parseMofText('[Guid("x"'), FormatError);
  assert.throws(() => parseMofText("class A { uint32 x; };\n@"), /line 2/);
  assert.throws(() => parseMofText('class A { string s = "abc'), /unterminated string/);
  assert.throws(() => parseMofText("/* open"), /unterminated/);
  assert.throws(
    () => parseMofText(`[Q(${"{".repeat(100_000)}${"}".repeat(100_000)})] class A {};`),
    /nested too deeply/,
  );
  assert.throws(() => parseMofText(`instance of X ${"{".repeat(100_000)}`), FormatError);
  assert.equal(mofReader.sniff(enc.encode("[Version]\nSignature=$Windows NT$\n"), "a.inf"), "no");
  assert.equal(mofReader.sniff(enc.encode('<?xml version="1.0"?><a/>'), "a.xml"), "no");
  assert.equal(mofReader.sniff(new Uint8Array([0x4d, 0x5a, 0x90, 0, 3, 0]), "a.sys"), "no");
  assert.equal(mofReader.sniff(enc.encode("// c\n[abstract]\nclass X { };"), "x.mof"), "yes");
  assert.equal(mofReader.sniff(enc.encode('#pragma namespace("\\\\.\\root")\nclass X { };'), "x.mof"), "yes");
  const header = "#pragma once\n#include <a.h>\nclass Widget : Base {\n  int x;\n};\n";
  assert.equal(mofReader.sniff(enc.encode(header), "w.h"), "no");
  assert.equal(mofReader.sniff(enc.encode("[[nodiscard]] class X { };"), "x.hpp"), "no");
});
