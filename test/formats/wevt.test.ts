import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readWevtFromPe, wevtToCatalog } from "../../src/catalog/readers/wevt.js";
import { messageMap, parseMessageTable } from "../../src/formats/messagetable/index.js";
import { findResources, messageTables, type PeImage, parsePe } from "../../src/formats/pe/index.js";
import {
  binXmlToString,
  parseCrim,
  substitutions,
  type WevtManifest,
  type WevtProperty,
} from "../../src/formats/wevt/index.js";
import { FormatError } from "../../src/util/errors.js";
import { corpus } from "../helpers/corpus.js";
import { fuzz } from "../helpers/mutate.js";

function load(rel: string): { pe: PeImage; bytes: Uint8Array } {
  const bytes = new Uint8Array(readFileSync(corpus(rel)));
  return { pe: parsePe(bytes), bytes };
}

function crimOf(pe: PeImage): Uint8Array[] {
  return findResources(pe, "WEVT_TEMPLATE").map((l) => pe.bytesAt(l.rva, l.size));
}

/** Every corpus PE: those with a WEVT_TEMPLATE resource, with the event counts of the corpus README. */
const WITH_WEVT: Record<string, number | undefined> = {
  "pe/kernel/fltMgr.sys": 10,
  "pe/kernel/dxgkrnl_6.1.7601.17514.sys": 14,
  "pe/kernel/win32k_6.1.7601.17514.sys": 53,
  "pe/kernel/win32kbase_10.0.17134.523.sys": 307,
  "pe/kernel/win32kbase_10.0.19041.508.sys": undefined,
  "pe/kernel/ci_6.1.7601.dll": undefined,
  "pe/kernel/pshed_chk.dll": undefined,
  "pe/user/dxcompiler.dll": 16,
  "pe/user/csrsrv_6.1.7601.17514.dll": undefined,
  "pe/user/csrsrv_10.0.22000.778.dll": undefined,
  "pe/user/ipnathlp.dll": 47,
  "pe/user/d3d11_10.0.18363.900.dll": undefined,
};

const corpusPes = ["pe/kernel", "pe/user"].flatMap((d) => readdirSync(corpus(d)).map((f) => join(d, f)));

test("wevt: exactly the expected corpus PEs carry WEVT_TEMPLATE, and all of them read without notes", () => {
  const found: string[] = [];
  for (const rel of corpusPes) {
    const { pe, bytes } = load(rel);
    if (findResources(pe, "WEVT_TEMPLATE").length === 0) continue;
    found.push(rel);
    const r = readWevtFromPe(pe, { path: rel, bytes });
    const blob = crimOf(pe)[0]!;
    const crim = parseCrim(blob);
    const crimMajor = crim.majorVersion;
    // mc appends two zero bytes after the CRIM data.
    assert.equal(blob.length, crim.size + 2, `${rel}: resource = CRIM size + 2`);
    assert.deepEqual([...blob.subarray(crim.size)], [0, 0]);
    // Only CRIM 3.x (Windows 7 mc) may lack provider names (no PRVA table, no name message).
    for (const n of r.notes) assert.match(n, /has no name in the file/, `${rel}: ${n}`);
    if (r.notes.length > 0) assert.equal(crimMajor, 3, `${rel}: unnamed provider in CRIM ${crimMajor}`);
    assert.ok(r.events.length > 0, `${rel}: events`);
    const expected = WITH_WEVT[rel];
    if (expected !== undefined) assert.equal(r.events.length, expected, `${rel}: event count`);
    for (const e of r.events) {
      assert.equal(e.kind, "manifest");
      assert.equal(e.provenance.source, "wevt-template");
      assert.ok(e.name.length > 0, `${rel}: event ${e.id} has a name`);
    }
  }
  assert.deepEqual(found.sort(), Object.keys(WITH_WEVT).sort());
});

test("wevt: CRIM versions and provider element lists as observed", () => {
  const v3 = parseCrim(crimOf(load("pe/kernel/win32k_6.1.7601.17514.sys").pe)[0]!);
  assert.deepEqual([v3.majorVersion, v3.minorVersion], [3, 1]);
  // CRIM 3.1: exactly NumOffsets (type, offset) pairs, no PRVA, no zero-filled slots.
  assert.deepEqual(
    v3.providers[0]!.elements.map((e) => `${e.type}:${e.magic}`),
    ["5:CHAN", "6:MAPS", "7:TTBL", "2:OPCO", "0:LEVL", "1:TASK", "3:KEYW", "4:EVNT"],
  );
  const v5 = parseCrim(crimOf(load("pe/kernel/fltMgr.sys").pe)[0]!);
  assert.deepEqual([v5.majorVersion, v5.minorVersion], [5, 1]);
  assert.deepEqual(
    v5.providers[0]!.elements.map((e) => `${e.type}:${e.magic}`),
    ["5:CHAN", "7:TTBL", "13:PRVA", "2:OPCO", "0:LEVL", "1:TASK", "3:KEYW", "4:EVNT"],
  );
  assert.equal(v5.providers[0]!.name, "Microsoft-Windows-FilterManager");
  // The first table starts right after the element list (no reserved slots).
  const p = v5.providers[0]!;
  assert.equal(Math.min(...p.elements.map((e) => e.offset)), p.offset + 16 + 8 * p.elements.length);
});

function allProps(ps: WevtProperty[]): WevtProperty[] {
  return ps.flatMap((p) => [p, ...allProps(p.members ?? [])]);
}

test("wevt: template BinXML agrees with the property entries (names, order, types)", () => {
  let templates = 0;
  for (const rel of Object.keys(WITH_WEVT)) {
    const m: WevtManifest = parseCrim(crimOf(load(rel).pe)[0]!);
    for (const p of m.providers)
      for (const t of p.templates) {
        templates++;
        const xml = t.xml;
        assert.ok(xml, `${rel} template 0x${t.offset.toString(16)}: BinXML body`);
        assert.equal(xml.name, t.flags === 2 ? "UserData" : "EventData");
        const subs = substitutions(xml);
        assert.deepEqual(
          subs.map((s) => s.substitution),
          t.properties.map((_, i) => i),
          `${rel}: substitutions in order`,
        );
        // mc writes <Data Name="prop">%n</Data> (structs: <ComplexData>) per top-level property.
        const names = xml.children.map((c) => ("name" in c ? c.attributes[0]?.value : undefined));
        assert.deepEqual(
          names.map((v) => (v && v.length === 1 && "text" in v[0]! ? v[0].text : "?")),
          t.properties.map((p) => p.name),
        );
        t.properties.forEach((prop, i) => {
          // Substitution value type = the in-type for plain properties (BinXml types mirror TDH's).
          if (!prop.members)
            assert.equal(subs[i]!.valueType & 0x7f, prop.inType, `${rel}: ${prop.name} type`);
        });
        assert.match(binXmlToString(xml), /^<(EventData|UserData)/);
      }
  }
  assert.equal(templates, 501, "templates checked");
});

test("wevt: structs, counts, lengths and maps resolve to names", () => {
  const m = parseCrim(crimOf(load("pe/user/d3d11_10.0.18363.900.dll").pe)[0]!);
  const props = m.providers.flatMap((p) => p.templates.flatMap((t) => allProps(t.properties)));
  const structs = props.filter((p) => p.members);
  assert.ok(structs.length > 0);
  for (const s of structs) assert.ok(s.members!.length > 0 && s.inType === undefined);
  const counted = props.filter((p) => typeof p.count === "string");
  assert.ok(counted.length > 0, "variable counts refer to properties by name");
  for (const c of counted) assert.ok(props.some((p) => p.name === c.count));
  const mapped = props.filter((p) => p.mapOffset !== undefined);
  assert.ok(mapped.length > 0);
  for (const p of mapped) assert.ok(p.map, `map of ${p.name} resolved`);
  // Bitmaps exist and are read with the Flags word (VMAP 0 / BMAP 1) before the item count.
  const w = parseCrim(crimOf(load("pe/kernel/win32kbase_10.0.17134.523.sys").pe)[0]!);
  const tif = w.providers[0]!.maps.find((x) => x.name === "ThreadInfoFlags");
  assert.equal(tif?.kind, "bitmap");
  assert.deepEqual(
    tif!.entries.slice(0, 3).map((e) => e.value),
    [1, 2, 4],
  );
});

test("wevt: messages come from RT_MESSAGETABLE (events, provider name, levels)", () => {
  const { pe, bytes } = load("pe/kernel/fltMgr.sys");
  const r = readWevtFromPe(pe, { path: "fltMgr.sys", bytes });
  const ev1 = r.events.find((e) => e.id === 1)!;
  assert.equal(ev1.message, "File System Filter '%5' (Version %2.%3, %6) unloaded successfully.");
  assert.equal(ev1.level?.message, "Information");
  assert.equal(ev1.channel?.name, "System");
  const msgs = messageMap(messageTables(pe).map((t) => parseMessageTable(t.data, t.leaf.codePage)));
  assert.equal(msgs.get(0x90000001), r.providers[0]!.provider.name, "PRVA name equals the provider message");
});

test("wevt: a .mui companion's message table is used before the image's own", () => {
  const { pe, bytes } = load("pe/kernel/fltMgr.sys");
  // A stand-in MUI: the same image with one letter of message 1 changed ("unloaded" -> "Unloaded").
  const mui = new Uint8Array(bytes);
  const needle = Buffer.from("unloaded successfully", "utf16le");
  const at = Buffer.from(mui).indexOf(needle);
  assert.ok(at > 0);
  mui[at] = "U".charCodeAt(0);
  const asked: string[] = [];
  const r = readWevtFromPe(pe, {
    path: "drivers/fltMgr.sys",
    bytes,
    companion: (name) => {
      asked.push(name);
      return name === "fltMgr.sys.mui" ? mui : undefined;
    },
  });
  assert.deepEqual(asked, ["fltMgr.sys.mui"]);
  assert.match(r.events.find((e) => e.id === 1)!.message!, /Unloaded successfully/);
  assert.equal(r.providers[0]!.messageFile, "drivers/fltMgr.sys.mui");
  assert.equal(r.providers[0]!.resourceFile, "drivers/fltMgr.sys");
});

test("wevt: bad blobs give FormatError naming the problem", () => {
  const blob = crimOf(load("pe/kernel/fltMgr.sys").pe)[0]!;
  assert.throws(() => parseCrim(new Uint8Array(8)), FormatError);
  assert.throws(() => parseCrim(blob.subarray(0, 100)), /wevt: /);
  const bad = new Uint8Array(blob);
  bad.set([0x58, 0x58, 0x58, 0x58], 0x24); // "WEVT" magic of the only provider
  assert.throws(() => parseCrim(bad), /expected WEVT block/);
});

test("wevt: seeded mutations of WEVT blobs give FormatError or a result, quickly", () => {
  const inputs = [
    "pe/kernel/fltMgr.sys",
    "pe/kernel/win32k_6.1.7601.17514.sys",
    "pe/user/d3d11_10.0.18363.900.dll",
  ].map((rel) => {
    const bytes = crimOf(load(rel).pe)[0]!;
    return { name: rel, bytes, hot: [{ start: 0, end: Math.min(bytes.length, 4096) }] };
  });
  const failures = fuzz({
    inputs,
    count: 1500,
    seed: 0x3e71,
    targets: {
      crim: (b) => parseCrim(b),
      catalog: (b) => wevtToCatalog(parseCrim(b), new Map(), { file: "x", source: "wevt-template" }),
    },
    isExpected: (e) => e instanceof FormatError,
  });
  assert.deepEqual(failures, []);
});

test("wevt: hostile sharing (one struct range used twice, overlapping tables) is refused, not multiplied", () => {
  const { pe } = load("pe/kernel/win32kbase_10.0.17134.523.sys");
  const blob = new Uint8Array(crimOf(pe)[0]!);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const m = parseCrim(blob);
  // A plain property rewritten to reuse the struct's member range.
  const t = m.providers[0]!.templates.find((x) => x.properties.filter((p) => p.members).length > 0)!;
  const propAt = dv.getUint32(t.offset + 16, true);
  const s = t.properties.find((p) => p.members)!;
  const other = t.properties.find((p) => !p.members)!;
  const sEntry = propAt + s.index * 20;
  const oEntry = propAt + other.index * 20;
  blob.copyWithin(oEntry, sEntry, sEntry + 16); // same flags, start index and member count
  assert.throws(() => parseCrim(blob), /member twice/);

  // Every event claiming a keyword list that spans the whole blob: each fits, all together can't.
  const fresh = new Uint8Array(crimOf(pe)[0]!);
  const fdv = new DataView(fresh.buffer, fresh.byteOffset, fresh.byteLength);
  for (const e of m.providers[0]!.events) {
    fdv.setUint32(e.offset + 36, Math.floor(fresh.length / 4) - 1, true);
    fdv.setUint32(e.offset + 40, 0, true);
  }
  // The budget check fires before any of the overlapping lists is walked (the message says so).
  assert.throws(() => parseCrim(fresh), /overlap more than a valid blob can/);
});
