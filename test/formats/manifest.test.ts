import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  formatManifestRowW10,
  formatProviderTsvW10,
  W10_MANIFEST_COLUMNS,
} from "../../src/catalog/format-w10.js";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { deriveEventNames } from "../../src/catalog/naming.js";
import { manifestReader } from "../../src/catalog/readers/manifest.js";
import { parseManifest } from "../../src/catalog/readers/manifest-events.js";
import { decodeXmlBytes, stripDoctype } from "../../src/formats/manifest/index.js";
import { collectFiles } from "../../src/pipeline/files.js";
import { FormatError } from "../../src/util/errors.js";
import { unpackTarXz } from "../../src/util/tar-xz.js";
import { corpus } from "../helpers/corpus.js";

const enc = new TextEncoder();

/** `<event ...>` elements outside comments, counted on the raw text (independent of the parser). */
function countEventElements(xml: string): number {
  return (xml.replace(/<!--[\s\S]*?-->/g, "").match(/<event[\s/>]/g) ?? []).length;
}

const tmp = mkdtempSync(join(tmpdir(), "etw-manifests-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("manifest: all 2,417 TDH-rebuilt manifests parse; events = <event> elements; .NET XML skipped", () => {
  unpackTarXz(corpus("manifests/tdh-reconstructed-all.tar.xz"), tmp);
  const xmlFiles = collectFiles([tmp]).filter((p) => p.endsWith(".xml"));
  let manifests = 0;
  let events = 0;
  let elements = 0;
  let providers = 0;
  const skipped: string[] = [];
  const failures: string[] = [];
  for (const file of xmlFiles) {
    const bytes = readFileSync(file);
    const sniff = manifestReader.sniff(bytes, file);
    if (sniff !== "yes") {
      assert.deepEqual(sniff, { skip: "XML but not an instrumentation manifest" });
      skipped.push(file);
      continue;
    }
    manifests++;
    const text = decodeXmlBytes(bytes);
    const expected = countEventElements(text);
    elements += expected;
    try {
      const r = manifestReader.read({ path: file, bytes });
      events += r.events.length;
      providers += r.providers.length;
      if (r.events.length !== expected)
        failures.push(`${file}: ${r.events.length} events, ${expected} elements`);
      for (const e of r.events) {
        if (!e.name || !/^[0-9a-f-]{36}$/.test(e.provider.guid))
          failures.push(`${file}: event ${e.id} incomplete`);
      }
    } catch (err) {
      failures.push(`${file}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(failures.slice(0, 10), []);
  assert.equal(manifests, 2417);
  assert.equal(events, elements);
  assert.ok(events > 100_000, `only ${events} events`);
  assert.ok(providers >= manifests, `${providers} providers`);
  assert.equal(skipped.length, 2);
  for (const f of skipped) assert.match(readFileSync(f, "utf8"), /<doc>\s*<assembly>/);
});

test("manifest: dxcetw.man parses completely (tasks, channel, template, strings)", () => {
  const path = corpus("manifests/dxcetw.man");
  const bytes = readFileSync(path);
  assert.equal(manifestReader.sniff(bytes, path), "yes");
  const text = decodeXmlBytes(bytes);
  const r = parseManifest(text, path);
  assert.equal(r.providers.length, 1);
  const p = r.providers[0]!;
  assert.equal(p.provider.name, "Microsoft-Windows-DXCompiler-API");
  assert.equal(p.provider.guid, "5c65fe8c-9f96-4bfd-9a87-9f8ebd45da64");
  assert.equal(p.provider.symbol, "MICROSOFT_WINDOWS_DXCOMPILER_PROVIDER");
  assert.equal(p.resourceFile, "%INSTALL_PATH%\\dxcompiler.dll");
  assert.equal(r.events.length, countEventElements(text));
  assert.equal(p.tasks?.length, (text.match(/<task\s/g) ?? []).length);
  assert.deepEqual(
    p.channels?.map((c) => c.name),
    ["Microsoft-Windows-DXCompiler-API/Analytic"],
  );
  const withTemplate = r.events.filter((e) => e.fields.length > 0);
  assert.equal(withTemplate.length, (text.match(/template="OperationResultTemplate"/g) ?? []).length);
  for (const e of withTemplate) {
    assert.deepEqual(e.fields, [{ name: "errorCode", inType: "win:Int32", outType: "win:HResult" }]);
    assert.equal(e.opcode?.value, 2);
    assert.equal(e.opcode?.name, "win:Stop");
  }
  for (const e of r.events) {
    assert.equal(e.level?.value, 4);
    assert.equal(e.channel?.name, "Microsoft-Windows-DXCompiler-API/Analytic");
    assert.equal(e.name, e.symbol);
    // Each event's task value matches the <task> of the same name in the text.
    const m = new RegExp(`name="${e.task?.name}"\\s+value="(\\d+)"`).exec(text);
    assert.equal(e.task?.value, Number(m?.[1]));
  }
  assert.equal(r.events.find((e) => e.id === 9)?.name, "DXCompilerCompile_Stop");
  assert.deepEqual(r.notes, []);
});

test("manifest: DxcRuntime.man task-scoped opcode, length reference and string table", () => {
  const path = corpus("manifests/DxcRuntime.man");
  const text = decodeXmlBytes(readFileSync(path));
  const r = parseManifest(text, path);
  assert.equal(r.events.length, countEventElements(text));
  const stats = r.events.find((e) => e.symbol === "DxcTranslate_TranslateStats");
  assert.ok(stats);
  assert.equal(stats.opcode?.value, 100);
  const message = /id="Task\.DxcTranslate\.TranslateStats"\s+value="([^"]+)"/.exec(text)?.[1];
  assert.equal(stats.opcode?.message, message);
  const tplText = /<template tid="TranslateStatsTemplate">([\s\S]*?)<\/template>/.exec(text)![1]!;
  const names = [...tplText.matchAll(/name="(\w+)"/g)].map((m) => m[1]);
  assert.deepEqual(
    stats.fields.map((f) => f.name),
    names,
  );
  assert.equal(stats.fields.find((f) => f.name === "inputShader")?.length, "inputShaderSize");
  assert.equal(stats.fields.find((f) => f.name === "inputShader")?.inType, "win:Binary");
  const opcodes = r.providers[0]!.opcodes ?? [];
  assert.deepEqual(
    opcodes.map((o) => [o.name, o.value]),
    [["TranslateStats", 100]],
  );
});

test("manifest: structs, counts, maps, keywords and $(string.X) on a rebuilt manifest", () => {
  const path = corpus("manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-Kernel-EventTracing.xml");
  const text = decodeXmlBytes(readFileSync(path));
  const r = parseManifest(text, path);
  assert.equal(r.events.length, countEventElements(text));
  const p = r.providers[0]!;
  assert.equal(p.provenance.build, "10.0.17134");
  const map = p.maps?.find((m) => m.name === "StopReasonMap");
  assert.ok(map);
  assert.equal(map.kind, "value");
  assert.equal(
    map.entries.length,
    (/<valueMap name="StopReasonMap">([\s\S]*?)<\/valueMap>/.exec(text)![1]!.match(/<map /g) ?? []).length,
  );
  assert.equal(map.entries[0]?.message, "Logger mode incompatible with Append mode");
  const reg = r.events.find((e) => e.symbol === "ProviderRegister")!;
  assert.deepEqual(reg.keywords, {
    mask: "0x220",
    names: ["ETW_KEYWORD_PROVIDER", "ETW_KEYWORD_REGISTRATION"],
  });
  assert.equal(reg.task?.message, "Provider");
  assert.equal(reg.opcode?.value, 16);
  // Opcode named win:Start_8_1 (TDH rebuild artefact) keeps the value its suffix gives.
  assert.equal(r.events.find((e) => e.id === 21)?.opcode?.value, 1);
});

test("manifest: struct members and counts are nested fields", () => {
  const xml = `<?xml version="1.0"?>
<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events"
  xmlns:win="http://manifests.microsoft.com/win/2004/08/windows/events">
 <instrumentation><events>
  <provider name="P" guid="{11111111-2222-3333-4444-555555555555}" symbol="P">
   <channels><importChannel chid="SYS" name="System"/><channel chid="op" name="P/Operational" type="Operational"/></channels>
   <keywords><keyword name="K1" mask="0x1"/></keywords>
   <maps><bitMap name="Flags"><map value="0x1" message="$(string.f1)"/><map value="0x2" message="$(string.f2)"/></bitMap></maps>
   <templates><template tid="T">
     <data name="Count" inType="win:UInt16"/>
     <struct name="Items" count="Count"><data name="A" inType="win:UInt32" map="Flags"/><data name="B" inType="win:UnicodeString"/></struct>
     <data name="Blob" inType="win:Binary" length="16"/>
   </template></templates>
   <events>
    <event value="1" template="T" channel="SYS" level="win:Warning" keywords="K1 win:ResponseTime" message="$(string.e1)"/>
    <event value="2" channel="op"/>
    <event value="3" keywords="Nope"/>
    <event value="4" keywords="Nope K1"/>
   </events>
  </provider>
 </events></instrumentation>
 <localization>
  <resources culture="de-DE"><stringTable><string id="e1" value="Hallo &amp; tschuess"/></stringTable></resources>
  <resources culture="en-US"><stringTable><string id="e1" value="Hello &amp; bye %1"/><string id="f1" value="One"/><string id="f2" value="Two"/></stringTable></resources>
 </localization>
</instrumentationManifest>`;
  const r = parseManifest(xml, "x.man");
  const [e1, e2] = r.events;
  assert.equal(e1?.message, "Hello & bye %1");
  assert.deepEqual(e1?.channel, { value: 8, name: "System" });
  assert.equal(e2?.channel?.value, 16);
  assert.equal(e1?.keywords.mask, "0x1000000000001");
  assert.equal(e1?.level?.value, 3);
  assert.deepEqual(e1?.fields, [
    { name: "Count", inType: "win:UInt16" },
    {
      name: "Items",
      inType: "win:Struct",
      count: "Count",
      fields: [
        { name: "A", inType: "win:UInt32", map: "Flags" },
        { name: "B", inType: "win:UnicodeString" },
      ],
    },
    { name: "Blob", inType: "win:Binary", length: 16 },
  ]);
  assert.deepEqual(
    r.providers[0]?.maps?.[0]?.entries.map((m) => [m.value, m.message]),
    [
      [1, "One"],
      [2, "Two"],
    ],
  );
  assert.equal(r.providers[0]?.maps?.[0]?.kind, "bitmap");
  // No symbol, no task: the Windows10EtwEvents-style fallback name.
  assert.equal(e1?.name, "task_0");
  assert.equal(e2?.name, "task_02");
  assert.deepEqual(r.notes, ['provider "P": unknown keyword "Nope" in 2 event(s) (3, 4)']);
  assert.equal(r.events[3]?.keywords.mask, "0x1");
});

test("manifest: Windows component manifests (<assembly> root) carry the same instrumentation tree", () => {
  const xml = `<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity name="Microsoft-Windows-Example" version="10.0.1.0"/>
  <instrumentation xmlns:win="http://manifests.microsoft.com/win/2004/08/windows/events">
    <events xmlns="http://schemas.microsoft.com/win/2004/08/events">
      <provider name="Microsoft-Windows-Example" guid="{AAAAAAAA-0000-0000-0000-000000000001}" symbol="EX">
        <events><event value="7" symbol="Seven" level="win:Error" message="$(string.Seven)"/></events>
      </provider>
    </events>
  </instrumentation>
</assembly>`;
  const bytes = enc.encode(xml);
  assert.equal(manifestReader.sniff(bytes, "x.man"), "yes");
  const r = manifestReader.read({ path: "x.man", bytes });
  assert.deepEqual(
    r.events.map((e) => [e.provider.guid, e.id, e.name, e.level?.value, e.message]),
    [["aaaaaaaa-0000-0000-0000-000000000001", 7, "Seven", 2, "$(string.Seven)"]],
  );
  assert.ok(r.notes.some((n) => n.includes("not in the string table")));
  const plainAssembly = '<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><file name="a.dll"/></assembly>';
  assert.deepEqual(manifestReader.sniff(enc.encode(plainAssembly), "y.manifest"), {
    skip: "XML but not an instrumentation manifest",
  });
});

test("manifest: hostile DOCTYPEs (external entity, billion laughs) are never expanded", () => {
  const body = (
    msg: string,
  ) => `<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events">
 <instrumentation><events><provider name="P" guid="{11111111-2222-3333-4444-555555555555}">
  <events><event value="1" message="${msg}"/></events>
 </provider></events></instrumentation></instrumentationManifest>`;
  const xxe = `<?xml version="1.0"?>\n<!DOCTYPE m [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n${body("&xxe;")}`;
  const r1 = parseManifest(xxe, "xxe.man");
  assert.equal(r1.events[0]?.message, "&xxe;");
  assert.ok(r1.notes.some((n) => n.includes("DOCTYPE")));

  let lol = `<!ENTITY lol0 "lol">`;
  for (let i = 1; i <= 9; i++) lol += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`;
  const bomb = `<?xml version="1.0"?>\n<!DOCTYPE m [ ${lol} ]>\n${body("&lol9;")}`;
  // Never expanded: the entity reference stays as text (10^9 "lol"s would not fit in memory).
  const r2 = parseManifest(bomb, "bomb.man");
  assert.equal(r2.events[0]?.message, "&lol9;");
  assert.equal(stripDoctype(`<!DOCTYPE a [<!ENTITY x "]>">]><a/>`).text, "<a/>");
  assert.throws(() => stripDoctype("<!DOCTYPE a [ <a/>"), FormatError);
});

test("manifest: sniff by content; bad XML is a FormatError", () => {
  assert.equal(manifestReader.sniff(enc.encode("MZ\x90\x00"), "a.xml"), "no");
  assert.equal(manifestReader.sniff(enc.encode("#pragma namespace"), "a.mof"), "no");
  assert.deepEqual(manifestReader.sniff(enc.encode('<?xml version="1.0"?><doc/>'), "a.xml"), {
    skip: "XML but not an instrumentation manifest",
  });
  const evtx =
    '<?xml version="1.0"?>\n<Events><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"/></Events>';
  assert.deepEqual(manifestReader.sniff(enc.encode(evtx), "log.xml"), {
    skip: "XML but not an instrumentation manifest",
  });
  const commented = '<?xml version="1.0"?>\n<!-- (c) -->\n<!DOCTYPE x>\n<instrumentationManifest/>';
  assert.equal(manifestReader.sniff(enc.encode(commented), "c.man"), "yes");
  // UTF-16LE with BOM, as the message compiler tools often save manifests.
  const text = '<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events"/>';
  const u16 = new Uint8Array(2 + text.length * 2);
  u16.set([0xff, 0xfe]);
  for (let i = 0; i < text.length; i++) u16[2 + i * 2] = text.charCodeAt(i);
  assert.equal(manifestReader.sniff(u16, "a.man"), "yes");
  assert.deepEqual(manifestReader.read({ path: "a.man", bytes: u16 }).events, []);
  assert.throws(
    () => parseManifest('<instrumentationManifest><instrumentation><events><provider name="x"', "t.man"),
    FormatError,
  );
  assert.throws(() => parseManifest("<doc><member/></doc>", "d.xml"), /not an instrumentation manifest/);
  const deep = `<instrumentationManifest>${"<a>".repeat(100_000)}${"</a>".repeat(100_000)}</instrumentationManifest>`;
  assert.throws(() => parseManifest(deep, "deep.man"), /nested/);
  assert.throws(
    () =>
      parseManifest(
        text.replace(
          "/>",
          '><instrumentation><events><provider name="P"><events><event/></events></provider></events></instrumentation></instrumentationManifest>',
        ),
        "n.man",
      ),
    /without a value/,
  );
});

test("manifest: derived names follow the Windows10EtwEvents convention", () => {
  const task = { value: 1, name: "Session" };
  const opcode = { value: 1, name: "win:Start", message: "Start" };
  const ev = (id: number, version: number) => ({ id, version, task, opcode });
  assert.deepEqual(deriveEventNames([ev(2, 0), ev(10, 0), ev(10, 1), ev(2, 1)]), [
    "SessionStart",
    "SessionStart10",
    "SessionStart10_V1",
    "SessionStart_V1",
  ]);
  // Stripping the symbols from a rebuilt manifest (whose symbols are that catalog's names)
  // and deriving them again gives the same names.
  const path = corpus("manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-Kernel-EventTracing.xml");
  const text = decodeXmlBytes(readFileSync(path));
  const withSymbols = parseManifest(text, path).events;
  const derived = parseManifest(text.replace(/(<event\b[^>]*?)\ssymbol="[^"]*"/g, "$1"), path).events;
  assert.equal(derived.filter((e) => e.symbol).length, 0);
  assert.deepEqual(
    derived.map((e) => e.name),
    withSymbols.map((e) => e.name),
  );
});

/** Peer TSV rows keyed by "id/version". */
function peerRows(provider: string): Map<string, string[]> {
  const tsv = readFileSync(corpus(`peer-outputs/windows10etwevents/26H1/manifest/${provider}.tsv`), "utf8");
  const lines = tsv.split("\n").filter(Boolean);
  assert.deepEqual(lines[0]!.split("\t"), [...W10_MANIFEST_COLUMNS]);
  return new Map(
    lines.slice(1).map((l) => {
      const c = l.split("\t");
      return [`${c[1]}/${c[2]}`, c];
    }),
  );
}

test("manifest: Windows10EtwEvents rows match the peer catalog for events both describe", () => {
  const cases: Array<[string, string]> = [
    [
      "tdh-reconstructed/Win10-17134_Microsoft-Windows-Kernel-EventTracing.xml",
      "Microsoft-Windows-Kernel-EventTracing",
    ],
    ["tdh-reconstructed/Win10-18990_Microsoft-Windows-Subsys-SMSS.xml", "Microsoft-Windows-Subsys-SMSS"],
    ["tdh-reconstructed/Win10-17134_Microsoft-Windows-Win32k.xml", "Microsoft-Windows-Win32k"],
  ];
  for (const [file, provider] of cases) {
    const r = parseManifest(decodeXmlBytes(readFileSync(corpus(`manifests/${file}`))), file);
    const peer = peerRows(provider);
    let compared = 0;
    let identical = 0;
    for (const e of r.events) {
      const theirs = peer.get(`${e.id}/${e.version}`);
      if (!theirs) continue;
      compared++;
      // The peer leaves channel and message empty; the first 8 columns carry the conventions.
      if (formatManifestRowW10(e).slice(0, 8).join("\t") === theirs.slice(0, 8).join("\t")) identical++;
    }
    assert.ok(compared >= 5, `${provider}: only ${compared} shared events`);
    // Builds differ (17134/18990 vs 26H1), so some events changed; most rows must be identical.
    assert.ok(identical / compared >= 0.8, `${provider}: ${identical}/${compared} identical rows`);
  }
});

test("manifest: provider TSV has the peer header and sorts by id then version", () => {
  const path = corpus("manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-Kernel-EventTracing.xml");
  const r = parseManifest(decodeXmlBytes(readFileSync(path)), path);
  const reversed: CatalogEvent[] = [...r.events].reverse();
  const lines = formatProviderTsvW10(reversed).split("\n").slice(0, -1);
  assert.equal(lines[0], W10_MANIFEST_COLUMNS.join("\t"));
  assert.equal(lines.length, r.events.length + 1);
  const keys = lines.slice(1).map((l) => l.split("\t").slice(1, 3).map(Number));
  for (let i = 1; i < keys.length; i++) {
    const [a, b] = [keys[i - 1]!, keys[i]!];
    assert.ok(a[0]! < b[0]! || (a[0] === b[0] && a[1]! < b[1]!), `row ${i} out of order`);
  }
  assert.ok(lines.every((l) => l.split("\t").length === W10_MANIFEST_COLUMNS.length));
});
