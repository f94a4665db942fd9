/**
 * WEVT_TEMPLATE (compiled manifest inside a binary) versus the manifest XML of the same provider,
 * event by event. The XML side is parsed by the manifest reader (`parseManifest`).
 *
 * Most XML files are rebuilt from Windows' registered provider data (TDH) by PerfView's manifest
 * generator, which writes some things differently from mc's input. Each such difference is checked
 * as the exact rule it follows (named in `PerfView rule:` comments), never skipped.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { CatalogEvent, Field } from "../../src/catalog/model.js";
import { deriveEventName } from "../../src/catalog/naming.js";
import { parseManifest } from "../../src/catalog/readers/manifest-events.js";
import { readWevtFromPe } from "../../src/catalog/readers/wevt.js";
import { canonicalInType, inTypeNumber } from "../../src/formats/intypes.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { findResources } from "../../src/formats/pe/resources.js";
import { parseCrim } from "../../src/formats/wevt/index.js";
import { corpus } from "../helpers/corpus.js";

const TDH = "manifests/tdh-reconstructed/";

interface Pair {
  binary: string;
  manifests: string[];
  /** true when the XML is mc's original input (symbols, channels, outTypes as written). */
  original?: boolean;
  /** Providers in the binary that have no XML counterpart in the corpus. */
  uncompared?: string[];
}

/**
 * Events whose XML symbol was not produced from the registered data: the collection's author named
 * Win32k's audit-API events (1000-1003: no task, no opcode, keyword AuditApiCalls) after the APIs
 * by hand. WEVT holds no such names, so the binary keeps the derived name (checked below).
 */
const HAND_NAMED: Record<string, number[]> = {
  [`${TDH}Win10-17134_Microsoft-Windows-Win32k.xml`]: [1000, 1001, 1002, 1003],
};

const PAIRS: Pair[] = [
  { binary: "pe/kernel/fltMgr.sys", manifests: [`${TDH}Win10-17134_Microsoft-Windows-FilterManager.xml`] },
  {
    binary: "pe/kernel/win32kbase_10.0.17134.523.sys",
    manifests: [`${TDH}Win10-17134_Microsoft-Windows-Win32k.xml`],
  },
  {
    binary: "pe/kernel/win32k_6.1.7601.17514.sys",
    manifests: [`${TDH}Win7-7600_Microsoft-Windows-Win32k.xml`],
  },
  {
    binary: "pe/kernel/dxgkrnl_6.1.7601.17514.sys",
    manifests: [`${TDH}Win7-7600_Microsoft-Windows-DxgKrnl.xml`],
  },
  {
    // The binary also holds Subsys-SMSS (43e63da5-...), which has no Win7 file in tdh-reconstructed/.
    binary: "pe/user/csrsrv_6.1.7601.17514.dll",
    manifests: [`${TDH}Win7-7600_Microsoft-Windows-Subsys-Csr.xml`],
    uncompared: ["43e63da5-41d1-4fbf-aded-1bbed98fdd1d"],
  },
  {
    // Different builds (binary 22000, manifests 18990): the comparison below is still exact.
    binary: "pe/user/csrsrv_10.0.22000.778.dll",
    manifests: [
      `${TDH}Win10-18990_Microsoft-Windows-Subsys-Csr.xml`,
      `${TDH}Win10-18990_Microsoft-Windows-Subsys-SMSS.xml`,
    ],
  },
  { binary: "pe/user/ipnathlp.dll", manifests: [`${TDH}Win10-17134_Microsoft-Windows-SharedAccess_NAT.xml`] },
  { binary: "pe/user/dxcompiler.dll", manifests: ["manifests/dxcetw.man"], original: true },
];

/** Per XML file: map names used on some field, and map names the XML defines. */
const mapUse = new Map<string, { used: Set<string>; defined: Set<string> }>();

function noteMapUse(man: string, xml: ReturnType<typeof parseManifest>) {
  const used = new Set<string>();
  const walk = (fs: Field[]) => {
    for (const f of fs) {
      if (f.map) used.add(f.map);
      walk(f.fields ?? []);
    }
  };
  for (const e of xml.events) walk(e.fields);
  mapUse.set(man, { used, defined: new Set(xml.providers.flatMap((p) => p.maps ?? []).map((m) => m.name)) });
}

const RESERVED_KEYWORD_BITS = 0xffff000000000000n;

function readBinary(rel: string) {
  const bytes = new Uint8Array(readFileSync(corpus(rel)));
  const pe = parsePe(bytes);
  const leaf = findResources(pe, "WEVT_TEMPLATE")[0]!;
  const crimVersion = parseCrim(pe.bytesAt(leaf.rva, leaf.size)).majorVersion;
  return { pe, crimVersion, result: readWevtFromPe(pe, { path: rel, bytes }) };
}

/** Struct start indexes of a template's top-level struct properties, by field name. */
function structStarts(binary: string): Map<string, number[]> {
  const { pe } = readBinary(binary);
  const out = new Map<string, number[]>();
  for (const leaf of findResources(pe, "WEVT_TEMPLATE")) {
    const crim = parseCrim(pe.bytesAt(leaf.rva, leaf.size));
    for (const p of crim.providers)
      for (const t of p.templates)
        for (const prop of t.properties)
          if (prop.members) out.set(prop.name, [...(out.get(prop.name) ?? []), prop.members[0]!.index]);
  }
  return out;
}

function compareFields(
  where: string,
  xml: Field[],
  bin: Field[],
  original: boolean,
  starts: Map<string, number[]>,
) {
  assert.deepEqual(
    bin.map((f) => f.name),
    xml.map((f) => f.name),
    `${where}: field names`,
  );
  xml.forEach((x, i) => {
    const b = bin[i]!;
    const w = `${where} field ${x.name}`;
    if (b.inType === "win:Struct" && !original && x.inType !== "win:Struct") {
      // PerfView rule: TDH's EVENT_PROPERTY_INFO overlays StructStartIndex on InType, and the
      // generator prints a struct as <data> with that index as its in-type and no members.
      assert.ok(
        starts.get(b.name)?.includes(inTypeNumber(x.inType)!),
        `${w}: struct start index vs ${x.inType}`,
      );
      assert.ok((b.fields?.length ?? 0) > 0, `${w}: struct members`);
      return;
    }
    assert.equal(canonicalInType(b.inType), canonicalInType(x.inType), `${w}: inType`);
    // PerfView rule: the generator writes outType only for a few types; where it wrote one it
    // must match, and the original manifest's outTypes must match exactly.
    if (original || x.outType) assert.equal(b.outType, x.outType, `${w}: outType`);
    assert.equal(b.count, x.count, `${w}: count`);
    assert.equal(b.length, x.length, `${w}: length`);
    if (x.map || !b.map || original) assert.equal(b.map, x.map, `${w}: map`);
    else {
      // PerfView rule: a map= attribute is written on the first field that uses the map (and not
      // at all when TDH could not return the map); later fields using it carry no map=.
      const xmlMaps = mapUse.get(where.split(" event ")[0]!)!;
      assert.ok(xmlMaps.used.has(b.map) || !xmlMaps.defined.has(b.map), `${w}: map ${b.map} missing in XML`);
    }
    if (x.fields) compareFields(w, x.fields, b.fields ?? [], original, starts);
  });
}

function compareEvent(
  where: string,
  x: CatalogEvent,
  b: CatalogEvent,
  original: boolean,
  starts: Map<string, number[]>,
  handNamed: boolean,
) {
  assert.equal(b.level?.value ?? 0, x.level?.value ?? 0, `${where}: level`);
  // Level names: winmeta ones are compared by value above (PerfView writes "win:Always" for 0).
  if (x.level?.name && !x.level.name.startsWith("win:"))
    assert.equal(b.level?.name, x.level.name, `${where}: level name`);

  assert.equal(b.task?.value ?? 0, x.task?.value ?? 0, `${where}: task`);
  if (b.task) assert.equal(b.task.name, x.task?.name, `${where}: task name`);
  // PerfView rule: events without a task get an invented task "task_0".
  else assert.ok(x.task === undefined || x.task.name === "task_0", `${where}: task without entry`);

  assert.equal(b.opcode?.value ?? 0, x.opcode?.value ?? 0, `${where}: opcode`);
  // PerfView rule: opcode 0 (win:Info) is not written.
  if (x.opcode?.name) assert.equal(b.opcode?.name, x.opcode.name, `${where}: opcode name`);
  else if (!original) assert.equal(b.opcode?.value ?? 0, 0, `${where}: unnamed opcode`);

  // Keywords: provider keywords must be the same names and bits. PerfView rule: winmeta keywords
  // (bits 48..63, e.g. win:SQM) and mc's channel bits are not written, so the reserved bits are
  // checked against the binary's own keyword names instead.
  const own = (names: string[]) => names.filter((n) => !n.startsWith("win:")).sort();
  assert.deepEqual(own(b.keywords.names), own(x.keywords.names), `${where}: keyword names`);
  const bMask = BigInt(b.keywords.mask);
  assert.equal(
    bMask & ~RESERVED_KEYWORD_BITS,
    BigInt(x.keywords.mask) & ~RESERVED_KEYWORD_BITS,
    `${where}: keyword mask`,
  );
  if (original)
    assert.deepEqual([...b.keywords.names].sort(), [...x.keywords.names].sort(), `${where}: keywords`);

  if (x.channel) {
    assert.equal(b.channel?.value, x.channel.value, `${where}: channel`);
    assert.equal(b.channel?.name, x.channel.name, `${where}: channel name`);
  } else if (!original) {
    // PerfView rule: no channels are written; the binary's channel must then be one the event's
    // keyword mask announces (mc sets one reserved bit per channel), or none.
    if (b.channel)
      assert.notEqual(bMask & RESERVED_KEYWORD_BITS, 0n, `${where}: channel without keyword bit`);
  }
  compareFields(where, x.fields, b.fields, original, starts);

  // WEVT stores no symbols: the binary's name is the task/opcode-derived one. For rebuilt
  // manifests the XML symbol is that same derived name (with numeric de-duplication).
  if (original) assert.equal(b.name, deriveEventName(x), `${where}: derived name`);
  else if (handNamed) {
    assert.ok(!b.task && (b.opcode?.value ?? 0) === 0, `${where}: hand-named event has no task/opcode`);
    assert.equal(b.name, `task_0${b.id}`, `${where}: derived name of a hand-named event`);
    assert.notEqual(x.symbol, b.name);
  } else assert.equal(b.name, x.symbol ?? x.name, `${where}: name`);
}

for (const pair of PAIRS) {
  test(`wevt pairs: ${pair.binary} equals ${pair.manifests.map((m) => m.split("/").pop()).join(" + ")}`, () => {
    const { result, crimVersion } = readBinary(pair.binary);
    // CRIM 3.x (Windows 7 mc) has no PRVA table and these providers declare no name message, so
    // the file does not contain the provider name: that is the only note allowed.
    const unnamed = result.providers.filter((p) => p.provider.name === "");
    assert.equal(unnamed.length > 0, crimVersion < 5, "providers without a name only in CRIM 3.x");
    assert.deepEqual(
      result.notes,
      unnamed.map(
        (p) => `wevt-template: provider ${p.provider.guid} has no name in the file (no PRVA, no message)`,
      ),
    );
    const starts = structStarts(pair.binary);
    let compared = 0;
    for (const man of pair.manifests) {
      const xml = parseManifest(readFileSync(corpus(man), "utf8"), man);
      assert.equal(xml.providers.length, 1);
      noteMapUse(man, xml);
      const guid = xml.providers[0]!.provider.guid;
      const bin = result.events.filter((e) => e.provider.guid === guid);
      const binProvider = result.providers.find((p) => p.provider.guid === guid);
      assert.ok(binProvider, `provider ${guid} in the binary`);
      if (binProvider.provider.name) assert.equal(binProvider.provider.name, xml.providers[0]!.provider.name);
      const key = (e: CatalogEvent) => `${e.id}/v${e.version}`;
      assert.deepEqual(bin.map(key).sort(), xml.events.map(key).sort(), `${man}: same (id, version) set`);
      const byKey = new Map(bin.map((e) => [key(e), e]));
      // Maps defined on both sides have the same kind and values.
      for (const xm of xml.providers[0]!.maps ?? []) {
        const bm: { kind: string; entries: { value: number }[] } | undefined = binProvider.maps?.find(
          (m) => m.name === xm.name,
        );
        assert.ok(bm, `${man}: map ${xm.name} in the binary`);
        assert.equal(bm.kind, xm.kind, `${man}: map ${xm.name} kind`);
        assert.deepEqual(
          bm.entries.map((e) => e.value),
          xm.entries.map((e) => e.value),
          `${man}: map ${xm.name} values`,
        );
      }
      for (const x of xml.events) {
        const handNamed = HAND_NAMED[man]?.includes(x.id) ?? false;
        compareEvent(
          `${man} event ${key(x)}`,
          x,
          byKey.get(key(x))!,
          pair.original === true,
          starts,
          handNamed,
        );
        compared++;
      }
    }
    const uncompared = new Set(pair.uncompared ?? []);
    assert.ok([...uncompared].every((g) => result.providers.some((p) => p.provider.guid === g)));
    const expected = result.events.filter((e) => !uncompared.has(e.provider.guid)).length;
    assert.equal(compared, expected, "every event of the compared providers");
  });
}
