import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { peReader } from "../src/catalog/readers/pe.js";
import { parsePe } from "../src/formats/pe/index.js";
import { readBaseRelocations } from "../src/formats/pe/relocs.js";
import {
  eventAtRva,
  findHeaders,
  guidFromProviderName,
  providerByStructRva,
  readTraceLogging,
  type TlgField,
  type TraceLoggingInfo,
  tlgInName,
  tlgOutName,
} from "../src/formats/tracelogging/index.js";
import { peExtractors, traceLoggingWithCode as traceLoggingExtractor } from "../src/pipeline/readers.js";
import { formatGuid } from "../src/util/bytes.js";
import { corpus, fixture } from "./helpers/corpus.js";

const load = (rel: string) => readFileSync(corpus(rel));
const info = (rel: string): TraceLoggingInfo => readTraceLogging(parsePe(load(rel)));

/**
 * Independent check of the walker: follow the blob chain using only each blob's type byte and
 * size field (no field grammar), and count what a naive scanner finds between header and End.
 */
function naiveChain(
  bytes: Uint8Array,
  fileOffset: number,
): { events: number; providers: number; offsets: number[] } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = fileOffset + 16;
  const out = { events: 0, providers: 0, offsets: [] as number[] };
  for (;;) {
    const t = bytes[o]!;
    if (t === 0) o++;
    else if (t === 1) return out;
    else if (t === 3 || t === 6) {
      out.events++;
      out.offsets.push(o);
      o += 12 + dv.getUint16(o + 12, true);
    } else if (t === 5) {
      out.events++;
      out.offsets.push(o);
      o += 13 + dv.getUint16(o + 13, true);
    } else if (t === 4) {
      out.providers++;
      o += 17 + dv.getUint16(o + 17, true);
    } else if (t === 2) {
      out.providers++;
      o += 1 + dv.getUint16(o + 1, true);
    } else throw new Error(`naive chain: type ${t} at 0x${o.toString(16)}`);
  }
}

/** Every "ETW0" string in the file, valid header or not. */
function countSignature(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(0x45); i >= 0; i = bytes.indexOf(0x45, i + 1))
    if (bytes[i + 1] === 0x54 && bytes[i + 2] === 0x57 && bytes[i + 3] === 0x30) n++;
  return n;
}

describe("tracelogging: d3d11 (Windows 10 18363) against the peer dump", () => {
  const bytes = load("pe/user/d3d11_10.0.18363.900.dll");
  const pe = parsePe(bytes);
  const tl = readTraceLogging(pe);
  const peer = JSON.parse(readFileSync(corpus("peer-outputs/tracelogging-18363/d3d11.json"), "utf8")) as {
    ProviderList: Array<{ ProviderGUID: string; ProviderName: string; ProviderGroupGUID?: string }>;
    EventList: Array<{
      Channel: number;
      Level: number;
      Opcode: number;
      Keyword: number;
      Extension: number[];
      EventName: string;
      Fields: Array<{
        FieldName: string;
        InType: string;
        OutType: string;
        ValueCount: number;
        TypeInfo: string;
      }>;
    }>;
  };

  it("finds the one valid header and rejects the other ETW0 string", () => {
    assert.equal(countSignature(bytes), 2);
    assert.equal(findHeaders(pe).length, 1);
    assert.deepEqual(tl.errors, []);
    assert.ok(tl.headers[0]!.complete);
  });

  it("providers match (name, GUID, group GUID)", () => {
    assert.deepEqual(
      tl.providers.map((p) => ({
        ProviderGUID: p.guid,
        ProviderName: p.name,
        ProviderGroupGUID: p.groupGuid,
      })),
      peer.ProviderList,
    );
  });

  it("events match in order: name, channel, level, opcode, keyword, tags, field names and types", () => {
    assert.equal(tl.events.length, peer.EventList.length);
    // The peer tool's known defects don't arise in this file, shown here so the comparison is exact:
    // custom-schema arrays (it reads ValueCount for custom fields too): no custom field in d3d11;
    // "first ETW0 only": d3d11 has a single valid header (checked above);
    // Latin-1 names: every name here is ASCII; "no type 6": this dump's version does list Event4
    // blobs (all 15 blobs are type 6). One real difference: the peer has no notion of variable
    // arrays (in-type flag 0x40), so CreateDevice.featureLevel_in prints as a plain INT32.
    const fieldsOf = (fs: TlgField[]): TlgField[] => fs.flatMap((f) => [f, ...fieldsOf(f.fields ?? [])]);
    const all = tl.events.flatMap((e) => fieldsOf(e.fields));
    assert.ok(all.every((f) => !f.custom));
    assert.ok(tl.events.every((e) => e.blobType === 6));
    assert.ok(
      [...tl.events.map((e) => e.name), ...all.map((f) => f.name)].every((n) => /^[\x20-\x7e]+$/.test(n)),
    );
    assert.deepEqual(
      all.filter((f) => f.array === "variable").map((f) => f.name),
      ["featureLevel_in"],
    );
    tl.events.forEach((e, i) => {
      const p = peer.EventList[i]!;
      assert.equal(e.name, p.EventName);
      assert.deepEqual(
        [e.channel, e.level, e.opcode, e.keyword, [e.tags]],
        [p.Channel, p.Level, p.Opcode, BigInt(p.Keyword), p.Extension],
        e.name,
      );
      assert.deepEqual(
        e.fields.map((f) => ({
          FieldName: f.name,
          InType: tlgInName(f.inType),
          OutType: f.outType ? tlgOutName(f.outType) : "",
          ValueCount: f.array === "fixed" ? f.count : 0,
        })),
        p.Fields.map((f) => ({
          FieldName: f.FieldName,
          InType: f.InType,
          OutType: f.OutType,
          ValueCount: f.ValueCount,
        })),
        e.name,
      );
    });
  });

  it("the provider's _TlgProvider_t is in .data, relocated, and its handle slot is zero on disk", () => {
    const p = tl.providers[0]!;
    assert.equal(p.structs.length, 1);
    const s = p.structs[0]!;
    assert.ok(s.relocated);
    assert.equal(s.section, ".data");
    assert.equal(pe.u64At(s.rva + 8), pe.imageBase + BigInt(p.metadataRva));
    assert.equal(pe.u32At(s.rva), 0); // LevelPlus1: disabled until the enable callback runs
    assert.equal(pe.u64At(s.handleRva), 0n);
    assert.equal(providerByStructRva(tl, s.rva + 0x20), p);
  });
});

/** Binaries with TraceLogging in the corpus, with the provider names each must contain. */
const TL_BINARIES: Record<string, string[]> = {
  "pe/user/OpenConsole.exe": ["Microsoft.Windows.Console.Host", "Microsoft.Windows.Console.Launcher"],
  "pe/user/onnxruntime.dll": ["Microsoft.ML.ONNXRuntime"],
  "pe/kernel/IPMIDRV.sys": ["IpmiLoggingProvider"],
  "pe/kernel/fltMgr.sys": ["Microsoft.Windows.FileSystem.FltMgr"],
  "pe/kernel/ksecdd.sys": ["Microsoft.Windows.Security.KsecSspi"],
  "pe/kernel/win32kbase_10.0.17134.523.sys": ["Win32kTraceLogging"],
  "pe/kernel/win32kbase_10.0.19041.508.sys": ["Win32kTraceLogging"],
  "pe/user/gdi32_10.0.19041.508.dll": ["TelemetryAssert"],
  "pe/user/smss_10.0.22000.778.exe": ["Microsoft.Windows.Kernel.Smss.Telemetry"],
  "pe/user/ntdll_10.0.22000.778.dll": ["Microsoft.Windows.Kernel.LibLoader"],
  "pe/user/ipnathlp.dll": ["Microsoft.Windows.Networking.SharedAccess"],
  "pe/user/win32spl_10.0.19041.508.dll": ["Microsoft.Windows.Print.Win32spl"],
};

describe("tracelogging: every TraceLogging binary in the corpus", () => {
  for (const [rel, names] of Object.entries(TL_BINARIES)) {
    it(rel, () => {
      const bytes = load(rel);
      const pe = parsePe(bytes);
      const tl = readTraceLogging(pe);
      assert.deepEqual(tl.errors, []);
      assert.ok(tl.headers.length >= 1 && tl.headers.every((h) => h.complete && h.layout === "tlg"));
      assert.ok(tl.providers.length > 0 && tl.events.length > 0);
      for (const n of names)
        assert.ok(
          tl.providers.some((p) => p.name === n),
          `provider ${n}`,
        );
      // Independent count: the size-only chain walk finds the same blobs at the same places.
      let naiveEvents: number[] = [];
      let naiveProviders = 0;
      for (const h of tl.headers) {
        const chain = naiveChain(bytes, pe.rvaToOffset(h.rva)!);
        naiveEvents = naiveEvents.concat(chain.offsets.map((o) => pe.offsetToRva(o)!));
        naiveProviders += chain.providers;
      }
      assert.deepEqual(
        tl.events.map((e) => e.blobRva),
        naiveEvents,
      );
      assert.equal(tl.providers.length, naiveProviders);
      // Every event name is distinct text and every field list parsed exactly to its blob end.
      assert.ok(tl.events.every((e) => e.name.length > 0));
      // Each C/C++ provider has exactly one relocated _TlgProvider_t in writable data.
      const relocs = readBaseRelocations(pe);
      for (const p of tl.providers) {
        assert.equal(p.structs.length, 1, p.name);
        assert.ok(relocs.has(p.structRva! + 8), p.name);
        assert.equal(p.handleRva, p.structRva! + 0x20);
      }
      // eventAtRva resolves any byte inside a blob (code references blob+1 or blob+12).
      for (const e of tl.events) {
        assert.equal(eventAtRva(tl, e.blobRva + 1), e);
        assert.equal(eventAtRva(tl, e.blobRva + e.blobSize - 1), e);
      }
      // The catalog extractor yields the same number of records with no notes about errors.
      const cat = traceLoggingExtractor.extract(pe, { path: rel, bytes });
      assert.equal(cat.events.length, tl.events.length);
      assert.equal(cat.providers.length, tl.providers.length);
      assert.ok(cat.events.every((e) => e.kind === "tracelogging" && e.provenance.source === "tracelogging"));
      // provenance.offset is the file offset of the blob's type byte; blobRva is its RVA.
      for (const e of cat.events) {
        assert.equal(bytes[e.provenance.offset!], e.tracelogging!.blobType);
        assert.equal(pe.rvaToOffset(e.tracelogging!.blobRva!), e.provenance.offset);
      }
      if (tl.providers.length === 1)
        assert.ok(
          cat.events.every(
            (e) =>
              e.provider.guid === tl.providers[0]!.guid &&
              e.tracelogging!.providerStructRva === tl.providers[0]!.structRva,
          ),
        );
    });
  }

  it("IPMIDRV.sys has one provider and 156 events, OpenConsole 4 providers and 122 events", () => {
    const ipmi = info("pe/kernel/IPMIDRV.sys");
    assert.deepEqual([ipmi.providers.length, ipmi.events.length], [1, 156]);
    const oc = info("pe/user/OpenConsole.exe");
    assert.deepEqual([oc.providers.length, oc.events.length], [4, 122]);
  });

  it("Event3 blobs (win32kbase 17134) get the offset-based event id; Event4 blobs get 0", () => {
    const w = info("pe/kernel/win32kbase_10.0.17134.523.sys");
    assert.ok(w.events.every((e) => e.blobType === 3));
    for (const e of w.events) {
      const rel = e.blobRva + 1 - e.headerRva;
      assert.equal(e.id, rel & 0xffff);
      assert.equal(e.version, rel >>> 16);
    }
    assert.ok(info("pe/user/OpenConsole.exe").events.every((e) => e.id === 0 && e.version === 0));
  });

  it("marks name-derived GUIDs (OpenConsole's providers use them, IPMIDRV's does not)", () => {
    const oc = info("pe/user/OpenConsole.exe");
    for (const p of oc.providers) assert.equal(p.guidFromName, p.guid === guidFromProviderName(p.name));
    assert.ok(oc.providers.find((p) => p.name === "Microsoft.Windows.Console.Host")!.guidFromName);
    assert.equal(info("pe/kernel/IPMIDRV.sys").providers[0]!.guidFromName, false);
  });

  it("OpenConsole: structs with member counts, fixed and variable arrays nest as declared", () => {
    const oc = info("pe/user/OpenConsole.exe");
    const count = (fs: TlgField[]): number => fs.reduce((n, f) => n + 1 + count(f.fields ?? []), 0);
    let structs = 0;
    for (const e of oc.events)
      for (const f of e.fields)
        if (f.fields) {
          structs++;
          assert.ok(f.fields.length > 0);
        }
    assert.ok(structs > 0);
    assert.ok(oc.events.some((e) => e.fields.some((f) => f.array === "fixed" && (f.count ?? 0) > 0)));
    assert.ok(count(oc.events.flatMap((e) => e.fields)) > oc.events.length);
  });
});

describe("tracelogging: binaries without TraceLogging", () => {
  // conpty.dll (node-pty's build) has no ETW0 string at all and imports no EventRegister: the
  // project brief lists it with OpenConsole, but this build carries no TraceLogging metadata.
  for (const rel of ["pe/kernel/WinDivert64.sys", "pe/kernel/winebus.sys", "pe/user/conpty.dll"]) {
    it(rel, () => {
      const bytes = load(rel);
      assert.equal(countSignature(bytes), 0);
      const tl = readTraceLogging(parsePe(bytes));
      assert.deepEqual([tl.headers.length, tl.providers.length, tl.events.length, tl.errors], [0, 0, 0, []]);
    });
  }
});

describe("tracelogging: ipmidrv.etl carries the same metadata as IPMIDRV.sys", () => {
  it("every TraceLogging schema in the trace is byte-identical to an event blob, descriptor fields agree", () => {
    const sys = load("pe/kernel/IPMIDRV.sys");
    const tl = readTraceLogging(parsePe(sys));
    const provider = tl.providers[0]!;
    const pe = parsePe(sys);
    const etl = load("etl/ipmidrv.etl");
    const dv = new DataView(etl.buffer, etl.byteOffset, etl.byteLength);
    const metaOf = (rva: number, size: number) => Buffer.from(pe.bytesAt(rva, size));
    const byMeta = new Map(
      tl.events.map((e) => [metaOf(e.blobRva + 12, e.blobSize - 12).toString("hex"), e]),
    );
    const providerMeta = metaOf(provider.metadataRva, provider.blobSize - 17).toString("hex");
    const guid = Buffer.from(etl.subarray(0)).indexOf(
      Buffer.from(
        sys.subarray(pe.rvaToOffset(provider.blobRva + 1)!, pe.rvaToOffset(provider.blobRva + 17)!),
      ),
    );
    assert.ok(guid > 0, "provider GUID bytes occur in the trace");
    // EVENT_HEADER (80 bytes): ProviderId at +0x18, EVENT_DESCRIPTOR at +0x28; extended items follow
    // (u16 size, u16 type, u16 linkage, u16 data size): type 12 = provider traits, 11 = TL schema.
    const guidBytes = etl.subarray(guid, guid + 16);
    const seen = new Set<string>();
    let records = 0;
    for (
      let i = Buffer.from(etl).indexOf(guidBytes);
      i >= 0;
      i = Buffer.from(etl).indexOf(guidBytes, i + 1)
    ) {
      const h = i - 0x18;
      if (dv.getUint16(h + 2, true) !== 0xc013 || (dv.getUint16(h + 4, true) & 1) === 0) continue;
      records++;
      let o = h + 0x50;
      let schema: string | undefined;
      let traits: string | undefined;
      for (let k = 0; k < 8; k++) {
        const [size, type, link, len] = [0, 2, 4, 6].map((d) => dv.getUint16(o + d, true)) as [
          number,
          number,
          number,
          number,
        ];
        const data = Buffer.from(etl.subarray(o + 8, o + 8 + len)).toString("hex");
        if (type === 11) schema = data;
        if (type === 12) traits = data;
        o += size;
        if (link === 0) break;
      }
      assert.equal(traits, providerMeta);
      const e = byMeta.get(schema!);
      assert.ok(e, `schema at 0x${h.toString(16)} matches a blob`);
      const d = h + 0x28;
      assert.deepEqual(
        [dv.getUint8(d + 3), dv.getUint8(d + 4), dv.getUint8(d + 5), dv.getBigUint64(d + 8, true)],
        [e.channel, e.level, e.opcode, e.keyword],
        e.name,
      );
      seen.add(e.name);
    }
    assert.equal(records, 262);
    assert.equal(seen.size, 57);
  });
});

describe("tracelogging: built fixtures", () => {
  it("tlg_blobs.dll: types 2-6, two headers, custom field, nested structs, arrays, tags, provider structs", () => {
    const pe = parsePe(readFileSync(fixture("tracelogging/tlg_blobs.dll")));
    const tl = readTraceLogging(pe);
    assert.deepEqual(tl.errors, []);
    assert.deepEqual(
      tl.headers.map((h) => [h.section, h.complete]),
      [
        [".rdata", true],
        [".tlg2", true],
      ],
    );
    assert.deepEqual(
      tl.providers.map((p) => [p.name, p.blobType, p.guid, p.guidFromName, p.groupGuid]),
      [
        [
          "Fixture.Provider",
          4,
          "a6dabd09-831e-5336-c293-4d1280892f00",
          true,
          "4f50731a-89cf-4782-b3e0-dce8c90476ba",
        ],
        ["Fixture.Legacy", 2, guidFromProviderName("Fixture.Legacy"), true, undefined],
        ["Fixture.Second", 4, "04030201-0605-0807-090a-0b0c0d0e0f10", false, undefined],
      ],
    );
    assert.ok(tl.providers.every((p) => p.structs.length === 1 && p.structs[0]!.relocated));
    const [three, two, four, second] = tl.events;
    assert.deepEqual(
      tl.events.map((e) => [e.name, e.blobType, e.channel, e.level, e.opcode, e.task, e.keyword, e.tags]),
      [
        ["EventThree", 3, 11, 4, 1, undefined, 0x20n, 0x02400000],
        ["EventTwo", 5, 11, 2, 0, 7, 1n, 0],
        ["EventFour", 6, 11, 5, 0, undefined, 0x0000400000000000n, 0x208000],
        ["Second", 6, 11, 3, 2, undefined, 0n, 0],
      ],
    );
    assert.deepEqual(three!.fields, [
      { name: "u32", inType: 8, outType: 0 },
      { name: "str", inType: 1, outType: 2, tags: 5 },
      { name: "fix", inType: 6, outType: 0, array: "fixed", count: 4 },
      { name: "var", inType: 7, outType: 0, array: "variable" },
      {
        name: "S",
        inType: 24,
        outType: 2,
        fields: [
          { name: "in", inType: 24, outType: 1, fields: [{ name: "g", inType: 15, outType: 0 }] },
          { name: "hr", inType: 7, outType: 15 },
        ],
      },
      { name: "cus", inType: 1, outType: 0, custom: { protocol: 1, typeInfo: "aabbcc" } },
    ]);
    assert.deepEqual(two!.fields, [{ name: "b", inType: 13, outType: 3 }]);
    assert.deepEqual(four!.fields, [
      { name: "x", inType: 4, outType: 18 },
      { name: "sv", inType: 2, outType: 0, array: "variable" },
    ]);
    assert.equal(second!.headerRva, tl.headers[1]!.rva);
    // Catalog view: manifest spellings, SDK names kept in extra.
    const cat = traceLoggingExtractor.extract(pe, { path: "tlg_blobs.dll", bytes: pe.bytes });
    const ev = cat.events.find((e) => e.name === "EventThree")!;
    assert.equal(ev.provider.name, ""); // three providers: association is left to the analysis
    assert.deepEqual(
      ev.fields.map((f) => [f.name, f.inType, f.outType, f.count]),
      [
        ["u32", "win:UInt32", undefined, undefined],
        ["str", "win:UnicodeString", "xs:string", undefined],
        ["fix", "win:UInt16", undefined, 4],
        ["var", "win:Int32", undefined, undefined],
        ["S", "win:Struct", undefined, undefined],
        ["cus", "win:Binary", undefined, undefined],
      ],
    );
    assert.equal(ev.fields[4]!.fields![1]!.outType, "win:HResult");
    assert.equal(cat.events.find((e) => e.name === "EventFour")!.fields[0]!.outType, "xs:unsignedByte");
    assert.equal(cat.events.find((e) => e.name === "EventFour")!.keywords.mask, "0x400000000000");
  });

  it("rust_layout.dll: rust_win_etw metadata is recognised, not misread as typed blobs", () => {
    const tl = readTraceLogging(parsePe(readFileSync(fixture("tracelogging/rust_layout.dll"))));
    assert.deepEqual(tl.errors, []);
    assert.equal(tl.headers[0]!.layout, "rust");
    assert.ok(tl.notes.some((n) => n.includes("rust_win_etw")));
    assert.deepEqual(
      tl.events.map((e) => [e.name, e.fields.map((f) => [f.name, f.inType, f.outType])]),
      [
        ["ab", []],
        [
          "hello",
          [
            ["count", 8, 0],
            ["msg", 1, 2],
          ],
        ],
      ],
    );
    assert.deepEqual(
      tl.providers.map((p) => [p.name, p.guid, p.guidFromName]),
      [["RustProvider", guidFromProviderName("RustProvider"), true]],
    );
  });
});

describe("tracelogging: provider GUID from name", () => {
  it("reproduces the documented example and is case-insensitive", () => {
    // TraceLoggingProvider.h documentation example: "MyCompany.MyComponent" → {ce5fa4ea-ab00-5402-8b76-9f76ac858fb5}
    assert.equal(guidFromProviderName("MyCompany.MyComponent"), "ce5fa4ea-ab00-5402-8b76-9f76ac858fb5");
    assert.equal(
      guidFromProviderName("mycompany.mycomponent"),
      guidFromProviderName("MyCompany.MyComponent"),
    );
    assert.equal(formatGuid(new Uint8Array(16)).length, 36);
  });
});

describe("tracelogging: registered PE extractor", () => {
  it("the scanner's PE reader returns d3d11's TraceLogging provider and events", () => {
    assert.ok(peExtractors.includes(traceLoggingExtractor));
    const bytes = load("pe/user/d3d11_10.0.18363.900.dll");
    const result = peReader([traceLoggingExtractor]).read({ path: "d3d11.dll", bytes });
    assert.deepEqual(result.notes, []);
    assert.deepEqual(
      result.providers.map((p) => [p.kind, p.provider.name, p.provenance.source]),
      [["tracelogging", "Microsoft.Windows.Graphics.D3D11", "tracelogging"]],
    );
    assert.equal(result.events.length, 15);
    assert.equal(result.events[0]!.name, "ProcessInfo");
    assert.deepEqual(result.events[0]!.keywords, {
      mask: "0x200000000000",
      names: ["MICROSOFT_KEYWORD_TELEMETRY"],
    });
  });
});
